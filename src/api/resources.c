/* resources.c — the six endpoints every kind has: list, create, read, change, archive,
 * restore. One worker per verb serves all kinds; the route's data says which kind. */
#include "api.h"
#include "../base/buf.h"
#include "../base/jsontext.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "../base/banned.h"

static const struct kind *kind_of(struct http_req *rq)
{
	return rq->route_data;
}

/* The list's answer written as text where the rules can (rec_list_text: accounts), the same
 * bytes api_list writes. */
static int list_text_h(struct http_req *rq, struct http_resp *rs, struct kv *params, size_t n,
		       int *done)
{
	struct buf b = BUF_INIT(0);
	char *next;
	buf_append(&b, "{\"items\":", 9);
	int rc = rec_list_text(api_store(rq), kind_of(rq), api_viewer(rq), params, n, 0, &b, &next,
			       done, &rq->err);
	if (rc || !*done) {
		buf_release(&b);
		return rc;
	}
	buf_append(&b, ",\"next\":", 8);
	if (next)
		jsontext_string(&b, next, strlen(next));
	else
		buf_append(&b, "null", 4);
	buf_append(&b, "}", 1);
	free(next);
	size_t len;
	char *text = buf_detach(&b, &len);
	http_set_json_text(rs, 200, text, len);
	return 0;
}

static int list_h(struct http_req *rq, struct http_resp *rs)
{
	struct kv params[HTTP_MAX_PARAMS];
	size_t n = api_params(rq, params);
	json_t *items;
	char *next;
	int done;
	int rc = list_text_h(rq, rs, params, n, &done);
	if (done)
		return rc;
	rc = rec_list(api_store(rq), kind_of(rq), api_viewer(rq), params, n, &items, &next,
		      &rq->err);
	if (!rc)
		api_list(rs, items, next);
	return rc;
}

static int create_h(struct http_req *rq, struct http_resp *rs)
{
	json_t *body, *rec;
	int rc = http_json_body(rq, &body);
	if (rc)
		return rc;
	rc = rec_create(api_store(rq), kind_of(rq), api_viewer(rq), body, &rec, &rq->err);
	json_decref(body);
	if (!rc)
		api_record(rs, 201, rec);
	return rc;
}

/* The record's answer written as text where the rules can (rec_get_text: accounts), the same
 * bytes and ETag api_record gives. */
static int get_text_h(struct http_req *rq, struct http_resp *rs, int *done)
{
	struct buf b = BUF_INIT(0);
	int64_t version;
	int rc = rec_get_text(api_store(rq), kind_of(rq), api_viewer(rq), rq->ids[0], &b, &version,
			      done, &rq->err);
	if (rc || !*done) {
		buf_release(&b);
		return rc;
	}
	char etag[32];
	snprintf(etag, sizeof etag, "\"%lld\"", (long long)version);
	http_add_header(rs, "ETag", etag);
	size_t len;
	char *text = buf_detach(&b, &len);
	http_set_json_text(rs, 200, text, len);
	return 0;
}

static int get_h(struct http_req *rq, struct http_resp *rs)
{
	json_t *rec;
	int done;
	int rc = get_text_h(rq, rs, &done);
	if (done)
		return rc;
	rc = rec_get(api_store(rq), kind_of(rq), api_viewer(rq), rq->ids[0], &rec, &rq->err);
	if (!rc)
		api_record(rs, 200, rec);
	return rc;
}

/* If-Match: a version number, optionally quoted or weak (W/"3"); "*" or absent = any. */
static int if_match(struct http_req *rq, int64_t *out)
{
	const char *h = http_header(rq, "If-Match");
	*out = -1;
	if (!h || !strcmp(h, "*"))
		return 0;
	if (!strncmp(h, "W/", 2))
		h += 2;
	size_t n = strlen(h);
	if (n >= 2 && h[0] == '"' && h[n - 1] == '"') {
		h++;
		n -= 2;
	}
	int64_t v = 0;
	if (n == 0 || n > 15)
		goto bad;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)h[i]))
			goto bad;
		v = v * 10 + (h[i] - '0');
	}
	*out = v;
	return 0;
bad:
	return dm_fail(&rq->err, DM_EPARAM, "If-Match", "If-Match must be the record's version");
}

static int patch_h(struct http_req *rq, struct http_resp *rs)
{
	json_t *body, *rec;
	int64_t version;
	int rc = if_match(rq, &version);
	if (rc || (rc = http_json_body(rq, &body)))
		return rc;
	rc = rec_update(api_store(rq), kind_of(rq), api_viewer(rq), rq->ids[0], body, version, &rec,
			&rq->err);
	json_decref(body);
	if (!rc)
		api_record(rs, 200, rec);
	return rc;
}

static int delete_h(struct http_req *rq, struct http_resp *rs)
{
	json_t *rec;
	int rc = rec_archive(api_store(rq), kind_of(rq), api_viewer(rq), rq->ids[0], &rec, &rq->err);
	if (!rc)
		api_record(rs, 200, rec);
	return rc;
}

static int restore_h(struct http_req *rq, struct http_resp *rs)
{
	json_t *rec;
	int rc = rec_restore(api_store(rq), kind_of(rq), api_viewer(rq), rq->ids[0], &rec, &rq->err);
	if (!rc)
		api_record(rs, 200, rec);
	return rc;
}

/* Paths are built once and live as long as the process. */
static char paths[16][3][96];

size_t api_resource_routes(struct route *out, size_t max)
{
	size_t n = 0;
	for (int i = 0; model_kinds[i]; i++) {
		const struct kind *k = model_kinds[i];
		if (k->flags & KF_NESTED)
			continue;
		char *coll = paths[i][0], *item = paths[i][1], *restore = paths[i][2];
		snprintf(coll, sizeof paths[i][0], "/api/v1/%s", k->plural);
		snprintf(item, sizeof paths[i][1], "/api/v1/%s/{id}", k->plural);
		snprintf(restore, sizeof paths[i][2], "/api/v1/%s/{id}/restore", k->plural);
		const struct route group[] = {
			{ "GET", coll, list_h, ROUTE_LIST, k, "List (visible, live; filters, sort, cursor)",
			  k->plural, NULL, k->title, 0, NULL },
			{ "POST", coll, create_h, 0, k, "Create", k->plural, k->title, k->title, 1, NULL },
			{ "GET", item, get_h, 0, k, "Read one", k->plural, NULL, k->title, 0, NULL },
			{ "PATCH", item, patch_h, 0, k, "Change some fields (If-Match: version)", k->plural,
			  k->title, k->title, 0, NULL },
			{ "DELETE", item, delete_h, 0, k, "Archive (never hard-deleted)", k->plural, NULL,
			  k->title, 0, NULL },
			{ "POST", restore, restore_h, 0, k, "Restore an archived record (admin)", k->plural,
			  NULL, k->title, 0, NULL },
		};
		for (size_t g = 0; g < sizeof group / sizeof group[0] && n < max; g++)
			out[n++] = group[g];
	}
	return n;
}
