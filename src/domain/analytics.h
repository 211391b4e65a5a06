/* analytics.h — dashboards (SPEC §8): funnel, forecast, activity, pool, segments, reps. Every
 * figure is computed by the server from the records of a scope the caller may see; the exact
 * definition of each is in the OpenAPI document (api/openapi.c) and docs/ANALYTICS.md. */
#ifndef DM_ANALYTICS_H
#define DM_ANALYTICS_H
#include <jansson.h>
#include "../base/err.h"
#include "../store/store.h"
#include "records.h"

/* which: funnel | forecast | activity | pool | segments | reps. params: scope (me |
 * team:<id> | company; a scope the caller may not see is DM_ENOTFOUND), from, to (dates, UTC+8;
 * default: the first of January to today). */
int analytics_run(struct store *s, const struct viewer *v, const char *which,
		  const struct kv *params, size_t n, json_t **out, struct dm_err *e);

#endif
