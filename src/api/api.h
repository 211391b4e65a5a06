/* api.h — the JSON API of SPEC §9: route tables of thin handlers that parse, call the domain,
 * and render. Never touches the store directly except to hand it to the domain. */
#ifndef DM_API_H
#define DM_API_H
#include <jansson.h>
#include "../domain/records.h"
#include "../http/http.h"
#include "../model/model.h"
#include "../store/store.h"

struct app {
	struct store *store;
};

/* What the authenticate hook leaves in rq->auth. */
struct api_auth {
	struct viewer viewer;
	char token[65];
};

/* The full route table (built once; valid for the process). */
const struct route *api_routes(size_t *n);
/* The http_config.authenticate hook: bearer token, or session cookie plus CSRF header. */
int api_authenticate(struct http_req *rq);
/* The http_config.done hook: ends the request's read snapshot (store_snapshot_begin). */
void api_done(struct http_req *rq);

/* Helpers shared by the handlers. */
static inline struct store *api_store(struct http_req *rq)
{
	return ((struct app *)rq->app)->store;
}
static inline const struct viewer *api_viewer(struct http_req *rq)
{
	return &((struct api_auth *)rq->auth)->viewer;
}
/* The query parameters as domain key/values (array of HTTP_MAX_PARAMS). */
size_t api_params(struct http_req *rq, struct kv *out);
/* Render a record with its ETag. */
void api_record(struct http_resp *rs, int status, json_t *rec);
/* Render {items, next}. Takes items; frees next. */
void api_list(struct http_resp *rs, json_t *items, char *next);

/* Route groups, each appended to the table by api_routes(). */
size_t api_resource_routes(struct route *out, size_t max);
size_t api_session_routes(struct route *out, size_t max);
size_t api_system_routes(struct route *out, size_t max);
size_t api_method_routes(struct route *out, size_t max);
size_t api_pool_routes(struct route *out, size_t max);
size_t api_io_routes(struct route *out, size_t max);
size_t api_analytics_routes(struct route *out, size_t max);

/* The http_config.fallback: the web app's files, and index.html for its client-side routes. */
int api_web(struct http_req *rq, struct http_resp *rs);

/* The OpenAPI 3 document for the given routes (new reference). */
json_t *api_openapi(const struct route *routes, size_t n);

#endif
