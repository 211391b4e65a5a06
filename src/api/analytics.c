/* analytics.c — GET /api/v1/analytics/{report}. */
#include "api.h"
#include "../domain/analytics.h"
#include "../base/banned.h"

static int report_h(struct http_req *rq, struct http_resp *rs)
{
	struct kv params[HTTP_MAX_PARAMS];
	size_t n = api_params(rq, params);
	struct buf out = BUF_INIT(0);
	int rc = analytics_text(api_store(rq), api_viewer(rq), rq->route_data, params, n, &out,
				&rq->err);
	if (rc) {
		buf_release(&out);
		return rc;
	}
	rs->status = 200;
	rs->content_type = "application/json; charset=utf-8";
	rs->body = buf_detach(&out, &rs->body_len);
	return 0;
}

static const char *const query[] = {
	"scope:me | team:<id> (the team and its sub-teams) | company (admins); a scope you may not "
	"see answers 404",
	"from:First day of the period, YYYY-MM-DD in UTC+8 (default: 1 January of this year)",
	"to:Last day of the period, inclusive (default: today)", NULL
};

size_t api_analytics_routes(struct route *out, size_t max)
{
	static const struct route group[] = {
		{ "GET", "/api/v1/analytics/funnel", report_h, 0, "funnel", "The funnel", "analytics",
		  NULL, "AnalyticsFunnel", 0, query },
		{ "GET", "/api/v1/analytics/forecast", report_h, 0, "forecast",
		  "Forecast by close month, won by month, quotas and attainment", "analytics", NULL,
		  "AnalyticsForecast", 0, query },
		{ "GET", "/api/v1/analytics/activity", report_h, 0, "activity",
		  "Follow-up activity: touches per rep per week, channels, sleeping, intervention",
		  "analytics", NULL, "AnalyticsActivity", 0, query },
		{ "GET", "/api/v1/analytics/pool", report_h, 0, "pool", "The public pool's size and flows",
		  "analytics", NULL, "AnalyticsPool", 0, query },
		{ "GET", "/api/v1/analytics/segments", report_h, 0, "segments",
		  "Segments' shares of accounts, revenue and follow-ups", "analytics", NULL,
		  "AnalyticsSegments", 0, query },
		{ "GET", "/api/v1/analytics/reps", report_h, 0, "reps",
		  "One row per rep: process figures beside results", "analytics", NULL,
		  "AnalyticsReps", 0, query },
	};
	size_t n = 0;
	for (; n < sizeof group / sizeof group[0] && n < max; n++)
		out[n] = group[n];   /* data: the report's name */
	return n;
}
