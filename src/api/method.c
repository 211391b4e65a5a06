/* method.c — endpoints of the sales method: stages, stage history, warnings, the buyer map
 * (stakeholders, links, the map), and account teams. */
#include "api.h"
#include "../domain/method.h"
#include "../domain/settings.h"
#include "../base/buf.h"
#include <stdlib.h>
#include <string.h>
#include "../base/banned.h"

static int stages_h(struct http_req *rq, struct http_resp *rs)
{
	json_t *stages;
	int rc = settings_stages(api_store(rq), &stages, &rq->err);
	if (!rc)
		api_list(rs, stages, NULL);
	return rc;
}

static int stage_patch_h(struct http_req *rq, struct http_resp *rs)
{
	json_t *body, *out;
	int rc = http_json_body(rq, &body);
	if (rc)
		return rc;
	rc = settings_stage_patch(api_store(rq), api_viewer(rq), rq->key, body, &out, &rq->err);
	json_decref(body);
	if (!rc)
		http_set_json(rs, 200, out);
	return rc;
}

static int history_h(struct http_req *rq, struct http_resp *rs)
{
	json_t *items;
	int rc = method_history(api_store(rq), api_viewer(rq), rq->ids[0], &items, &rq->err);
	if (!rc)
		api_list(rs, items, NULL);
	return rc;
}

static int warnings_h(struct http_req *rq, struct http_resp *rs)
{
	struct kv params[HTTP_MAX_PARAMS];
	size_t n = api_params(rq, params);
	json_t *items;
	char *next;
	int rc = method_warnings(api_store(rq), api_viewer(rq), params, n, &items, &next, &rq->err);
	if (!rc)
		api_list(rs, items, next);
	return rc;
}

static int map_h(struct http_req *rq, struct http_resp *rs)
{
	json_t *map;
	int rc = method_map(api_store(rq), api_viewer(rq), rq->ids[0], &map, &rq->err);
	if (!rc)
		http_set_json(rs, 200, map);
	return rc;
}

/* ---- stakeholders under /opportunities/{id} -------------------------------------------------- */

static int stakeholders_h(struct http_req *rq, struct http_resp *rs)
{
	struct kv params[HTTP_MAX_PARAMS + 1];
	char id[24];
	json_t *items;
	char *next;
	int rc = rec_visible(api_store(rq), &kind_opportunity, api_viewer(rq), rq->ids[0], &rq->err);
	if (rc)
		return rc;
	size_t n = api_params(rq, params);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(params[i].key, "opportunity_id"))
			return dm_fail(&rq->err, DM_EPARAM, "opportunity_id",
				       "the opportunity is given by the path");
	snprintf(id, sizeof id, "%lld", (long long)rq->ids[0]);
	params[n].key = "opportunity_id";
	params[n++].value = id;
	rc = rec_list(api_store(rq), &kind_stakeholder, api_viewer(rq), params, n, &items, &next,
		      &rq->err);
	if (!rc)
		api_list(rs, items, next);
	return rc;
}

static int stakeholder_create_h(struct http_req *rq, struct http_resp *rs)
{
	json_t *body, *rec;
	int rc = rec_visible(api_store(rq), &kind_opportunity, api_viewer(rq), rq->ids[0], &rq->err);
	if (rc)
		return rc;
	if ((rc = http_json_body(rq, &body)))
		return rc;
	rc = rec_create_in(api_store(rq), &kind_stakeholder, api_viewer(rq), "opportunity_id",
			   rq->ids[0], body, &rec, &rq->err);
	json_decref(body);
	if (!rc)
		api_record(rs, 201, rec);
	return rc;
}

/* The stakeholder of the path, which must belong to the path's opportunity. */
static int path_stakeholder(struct http_req *rq, json_t **rec)
{
	int rc = rec_get(api_store(rq), &kind_stakeholder, api_viewer(rq), rq->ids[1], rec, &rq->err);
	if (!rc && json_integer_value(json_object_get(*rec, "opportunity_id")) != rq->ids[0]) {
		json_decref(*rec);
		*rec = NULL;
		rc = dm_fail(&rq->err, DM_ENOTFOUND, NULL, "stakeholder %lld not found",
			     (long long)rq->ids[1]);
	}
	return rc;
}

static int stakeholder_get_h(struct http_req *rq, struct http_resp *rs)
{
	json_t *rec;
	int rc = path_stakeholder(rq, &rec);
	if (!rc)
		api_record(rs, 200, rec);
	return rc;
}

static int stakeholder_patch_h(struct http_req *rq, struct http_resp *rs)
{
	json_t *rec, *body;
	int64_t version = -1;
	const char *im = http_header(rq, "If-Match");
	int rc = path_stakeholder(rq, &rec);
	if (rc)
		return rc;
	json_decref(rec);
	if (im && strcmp(im, "*")) {
		const char *p = im + (!strncmp(im, "W/", 2) ? 2 : 0);
		if (*p == '"')
			p++;
		char *end;
		version = strtoll(p, &end, 10);
		if (end == p || (*end && strcmp(end, "\"")))
			return dm_fail(&rq->err, DM_EPARAM, "If-Match",
				       "If-Match must be the record's version");
	}
	if ((rc = http_json_body(rq, &body)))
		return rc;
	rc = rec_update(api_store(rq), &kind_stakeholder, api_viewer(rq), rq->ids[1], body, version,
			&rec, &rq->err);
	json_decref(body);
	if (!rc)
		api_record(rs, 200, rec);
	return rc;
}

static int stakeholder_delete_h(struct http_req *rq, struct http_resp *rs)
{
	json_t *rec;
	int rc = path_stakeholder(rq, &rec);
	if (rc)
		return rc;
	json_decref(rec);
	rc = rec_archive(api_store(rq), &kind_stakeholder, api_viewer(rq), rq->ids[1], &rec, &rq->err);
	if (!rc)
		api_record(rs, 200, rec);
	return rc;
}

static int link_h(struct http_req *rq, struct http_resp *rs)
{
	json_t *body, *out;
	int rc = http_json_body(rq, &body);
	if (rc)
		return rc;
	rc = method_link_add(api_store(rq), api_viewer(rq), rq->ids[0], rq->ids[1], body, &out,
			     &rq->err);
	json_decref(body);
	if (!rc)
		http_set_json(rs, 201, out);
	return rc;
}

/* ---- account teams ------------------------------------------------------------------------------ */

static int team_list_h(struct http_req *rq, struct http_resp *rs)
{
	json_t *items;
	int rc = method_team_list(api_store(rq), api_viewer(rq), rq->ids[0], &items, &rq->err);
	if (!rc)
		api_list(rs, items, NULL);
	return rc;
}

static int team_put_h(struct http_req *rq, struct http_resp *rs)
{
	json_t *body, *out;
	int rc = http_json_body(rq, &body);
	if (rc)
		return rc;
	rc = method_team_put(api_store(rq), api_viewer(rq), rq->ids[0], body, &out, &rq->err);
	json_decref(body);
	if (!rc)
		http_set_json(rs, 201, out);
	return rc;
}

static int team_delete_h(struct http_req *rq, struct http_resp *rs)
{
	int rc = method_team_remove(api_store(rq), api_viewer(rq), rq->ids[0], rq->ids[1], &rq->err);
	if (!rc)
		http_set_json(rs, 200, json_pack("{s:b}", "ok", 1));
	return rc;
}

static const char *const warning_query[] = {
	"code:Only this warning: quote_before_needs, no_decision_maker, no_coach, opponent_late, "
	"neglect_after_signature, overdue_close",
	"owner_id:Only opportunities of this owner", "limit:Page size, 1-500 (default 500)",
	"cursor:The next of the previous page (a page may hold fewer than limit warnings, or none, "
	"with a next: one request examines at most 2,000 opportunities; follow next until null)", NULL
};

size_t api_method_routes(struct route *out, size_t max)
{
	static const struct route group[] = {
		{ "GET", "/api/v1/settings/stages", stages_h, 0, NULL,
		  "The funnel stages in order, with labels, win rates, phases and exit criteria",
		  "settings", NULL, "Stage", 0, NULL },
		{ "PATCH", "/api/v1/settings/stages/{key}", stage_patch_h, 0, NULL,
		  "Change a stage's label, win_rate or exit_criterion (admin)", "settings",
		  "StagePatch", "Stage", 0, NULL },
		{ "GET", "/api/v1/opportunities/{id}/history", history_h, 0, NULL,
		  "Every stage change of the opportunity: from, to, at, by", "opportunities", NULL,
		  "StageChange", 0, NULL },
		{ "GET", "/api/v1/opportunities/{id}/map", map_h, 0, NULL,
		  "The buyer map: org chart with stakeholders, coverage, decision makers' attitude, "
		  "opponents, next moves, links", "buyer map", NULL, "BuyerMap", 0, NULL },
		{ "GET", "/api/v1/opportunities/{id}/stakeholders", stakeholders_h, ROUTE_LIST, NULL,
		  "The stakeholders of an opportunity", "buyer map", NULL, "Stakeholder", 0, NULL },
		{ "POST", "/api/v1/opportunities/{id}/stakeholders", stakeholder_create_h, 0, NULL,
		  "Add a contact of the account as a stakeholder (one per contact)", "buyer map",
		  "Stakeholder", "Stakeholder", 1, NULL },
		{ "GET", "/api/v1/opportunities/{id}/stakeholders/{sid}", stakeholder_get_h, 0, NULL,
		  "One stakeholder", "buyer map", NULL, "Stakeholder", 0, NULL },
		{ "PATCH", "/api/v1/opportunities/{id}/stakeholders/{sid}", stakeholder_patch_h, 0, NULL,
		  "Change a stakeholder (If-Match: version)", "buyer map", "Stakeholder",
		  "Stakeholder", 0, NULL },
		{ "DELETE", "/api/v1/opportunities/{id}/stakeholders/{sid}", stakeholder_delete_h, 0,
		  NULL, "Archive a stakeholder", "buyer map", NULL, "Stakeholder", 0, NULL },
		{ "POST", "/api/v1/opportunities/{id}/stakeholders/{sid}/links", link_h, 0, NULL,
		  "Link two stakeholders as ally or rival", "buyer map", "LinkInput", "Link", 1, NULL },
		{ "GET", "/api/v1/warnings", warnings_h, ROUTE_LIST, NULL,
		  "Stage-behaviour warnings over every opportunity you see", "opportunities", NULL,
		  "WarningItem", 0, warning_query },
		{ "GET", "/api/v1/accounts/{id}/team", team_list_h, ROUTE_LIST, NULL,
		  "The account team: colleagues the account is shared with", "accounts", NULL,
		  "TeamMember", 0, NULL },
		{ "POST", "/api/v1/accounts/{id}/team", team_put_h, 0, NULL,
		  "Share the account with a colleague, or change their access (owner, managers, admins)",
		  "accounts", "TeamMember", "TeamMember", 1, NULL },
		{ "DELETE", "/api/v1/accounts/{id}/team/{uid}", team_delete_h, 0, NULL,
		  "Stop sharing the account with a colleague", "accounts", NULL, "Ok", 0, NULL },
	};
	size_t n = 0;
	for (; n < sizeof group / sizeof group[0] && n < max; n++)
		out[n] = group[n];
	return n;
}
