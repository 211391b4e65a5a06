/* system.c — health, the API document, the audit trail, and the placeholder home page. */
#include "api.h"
#include "assets.h"
#include <string.h>
#include "../base/banned.h"

static int health_h(struct http_req *rq, struct http_resp *rs)
{
	(void)rq;
	http_set_json(rs, 200, json_pack("{s:s}", "status", "ok"));
	return 0;
}

static int openapi_h(struct http_req *rq, struct http_resp *rs)
{
	size_t n;
	const struct route *r = api_routes(&n);
	(void)rq;
	http_set_json(rs, 200, api_openapi(r, n));
	return 0;
}

static int audit_h(struct http_req *rq, struct http_resp *rs)
{
	struct kv params[HTTP_MAX_PARAMS];
	size_t n = api_params(rq, params);
	json_t *items;
	char *next;
	int rc = rec_audit(api_store(rq), api_viewer(rq), params, n, &items, &next, &rq->err);
	if (!rc)
		api_list(rs, items, next);
	return rc;
}

static const char home_page[] =
	"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>dealmap</title>"
	"</head><body><h1>dealmap</h1><p>The sales management system for big B2B orders.</p>"
	"<p>The web interface is on its way. The JSON API lives under <code>/api/v1</code>; "
	"its OpenAPI 3 description is at <a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a>"
	" and its conventions in <code>docs/API.md</code>.</p>"
	"<p>Sign in with <code>POST /api/v1/auth/login</code>.</p></body></html>";

static const struct asset *find_asset(const char *path)
{
	for (const struct asset *a = assets; a->path; a++)
		if (!strcmp(a->path, path))
			return a;
	return NULL;
}

static void send_asset(struct http_req *rq, struct http_resp *rs, const struct asset *a)
{
	const char *ae = http_header(rq, "Accept-Encoding");
	rs->status = 200;
	rs->content_type = a->type;
	if (a->gz && ae && strstr(ae, "gzip")) {
		rs->static_body = a->gz;
		rs->body_len = a->gz_len;
		http_add_header(rs, "Content-Encoding", "gzip");
	} else {
		rs->static_body = a->data;
		rs->body_len = a->len;
	}
	http_add_header(rs, "Vary", "Accept-Encoding");
	/* Vite names built files by content hash: they never change under one name. */
	http_add_header(rs, "Cache-Control", !strncmp(a->path, "/assets/", 8) ?
			"public, max-age=31536000, immutable" : "no-cache");
}

/* The web app: its files by path, and index.html for every other page (client-side routes). */
static int web_h(struct http_req *rq, struct http_resp *rs)
{
	const struct asset *a = find_asset(rq->path), *index = find_asset("/index.html");
	if (!a && !strncmp(rq->path, "/assets/", 8))
		return dm_fail(&rq->err, DM_ENOTFOUND, NULL, "no such file");
	if (!a)
		a = index;
	if (a) {
		send_asset(rq, rs, a);
		return 0;
	}
	/* not built: a plain page that says where the API is */
	rs->status = strcmp(rq->path, "/") ? 404 : 200;
	rs->static_body = home_page;
	rs->body_len = strlen(home_page);
	rs->content_type = "text/html; charset=utf-8";
	return 0;
}

int api_web(struct http_req *rq, struct http_resp *rs)
{
	return web_h(rq, rs);
}

static const char *const audit_query[] = {
	"object:The kind of record: user, team, account, contact, opportunity, activity",
	"id:The record's id", "limit:Page size 1-500 (default 50)",
	"cursor:The next value of the previous page", NULL
};

size_t api_system_routes(struct route *out, size_t max)
{
	static const struct route group[] = {
		{ "GET", "/api/v1/health", health_h, ROUTE_PUBLIC, NULL, "Liveness (no sign-in)",
		  "system", NULL, "Health", 0, NULL },
		{ "GET", "/api/v1/openapi.json", openapi_h, ROUTE_PUBLIC, NULL, "This document",
		  "system", NULL, NULL, 0, NULL },
		{ "GET", "/api/v1/audit", audit_h, ROUTE_LIST, NULL,
		  "Every change to one record: who, when, field, old and new value (admins; managers "
		  "for records they see)", "audit", NULL, "AuditEntry", 0, audit_query },
	};
	size_t n = 0;
	for (; n < sizeof group / sizeof group[0] && n < max; n++)
		out[n] = group[n];
	return n;
}
