/* analytics.h — dashboards (SPEC §8): funnel, forecast, activity, pool, segments, reps. Every
 * figure is computed by the server from the records of a scope the caller may see; the exact
 * definition of each is in the OpenAPI document (api/openapi.c) and docs/ANALYTICS.md. */
#ifndef DM_ANALYTICS_H
#define DM_ANALYTICS_H
#include <jansson.h>
#include "../base/buf.h"
#include "../base/err.h"
#include "../store/store.h"
#include "records.h"

/* which: funnel | forecast | activity | pool | segments | reps. params: scope (me |
 * team:<id> | company; a scope the caller may not see is DM_ENOTFOUND), from, to (dates, UTC+8;
 * default: the first of January to today). The answer, a JSON object, is appended to out as
 * compact text (what json_dumps(JSON_COMPACT) writes of it); on failure out holds a partial text
 * the caller drops. */
int analytics_text(struct store *s, const struct viewer *v, const char *which,
		   const struct kv *params, size_t n, struct buf *out, struct dm_err *e);

#endif
