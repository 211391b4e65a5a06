/* routes.c — assembles the route table and authenticates requests for it. */
#include "api.h"
#include "../domain/auth.h"
#include "../base/xmalloc.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "../base/banned.h"

#define MAX_ROUTES 192

static struct route table[MAX_ROUTES];
static size_t ntable;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void build(void)
{
	ntable += api_system_routes(table + ntable, MAX_ROUTES - ntable);
	ntable += api_session_routes(table + ntable, MAX_ROUTES - ntable);
	ntable += api_resource_routes(table + ntable, MAX_ROUTES - ntable);
	ntable += api_method_routes(table + ntable, MAX_ROUTES - ntable);
	ntable += api_pool_routes(table + ntable, MAX_ROUTES - ntable);
	ntable += api_io_routes(table + ntable, MAX_ROUTES - ntable);
	ntable += api_analytics_routes(table + ntable, MAX_ROUTES - ntable);
}

const struct route *api_routes(size_t *n)
{
	pthread_once(&once, build);
	*n = ntable;
	return table;
}

size_t api_params(struct http_req *rq, struct kv *out)
{
	for (size_t i = 0; i < rq->nparams; i++) {
		out[i].key = rq->params[i].key;
		out[i].value = rq->params[i].value;
	}
	return rq->nparams;
}

void api_record(struct http_resp *rs, int status, json_t *rec)
{
	char etag[32];
	snprintf(etag, sizeof etag, "\"%lld\"",
		 (long long)json_integer_value(json_object_get(rec, "version")));
	http_add_header(rs, "ETag", etag);
	http_set_json(rs, status, rec);
}

void api_list(struct http_resp *rs, json_t *items, char *next)
{
	http_set_json(rs, 200, json_pack("{s:o,s:o}", "items", items, "next",
					 next ? json_string(next) : json_null()));
	free(next);
}

static int is_safe_method(const char *m)
{
	return !strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "OPTIONS");
}

void api_done(struct http_req *rq)
{
	store_snapshot_end(api_store(rq));
}

int api_authenticate(struct http_req *rq)
{
	struct auth_session as;
	const char *authz = http_header(rq, "Authorization");
	const char *token = NULL;
	int via_cookie = 0;
	if (authz && !strncasecmp(authz, "Bearer ", 7)) {
		token = authz + 7;
	} else if ((token = http_cookie(rq, "dm_session"))) {
		via_cookie = 1;
	} else {
		return dm_fail(&rq->err, DM_EAUTH, NULL, "sign in first");
	}
	/* The request's reads share one snapshot from here; api_done ends it. */
	store_snapshot_begin(api_store(rq));
	int rc = auth_session(api_store(rq), token, &as, &rq->err);
	if (rc)
		return rc;
	if (via_cookie && !is_safe_method(rq->method)) {
		const char *hdr = http_header(rq, "X-CSRF-Token");
		const char *cookie = http_cookie(rq, "dm_csrf");
		if (!hdr || !cookie || !auth_secret_equal(hdr, cookie) ||
		    !auth_secret_equal(hdr, as.csrf))
			return dm_fail(&rq->err, DM_ECSRF, NULL,
				       "send the dm_csrf cookie's value in the X-CSRF-Token header");
	}
	struct api_auth *a = xcalloc(1, sizeof *a);
	a->viewer = as.viewer;
	snprintf(a->token, sizeof a->token, "%s", token);
	rq->auth = a;
	return 0;
}
