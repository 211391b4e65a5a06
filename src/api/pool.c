/* pool.c — endpoints of follow-up discipline and the pool: park, claim, assign, owners, the
 * pool list, the agenda, the intervention list, the sweep, settings and lead rules, convert. */
#include "api.h"
#include "../domain/followup.h"
#include "../domain/leads.h"
#include "../domain/pool.h"
#include "../domain/settings.h"
#include "../base/text.h"
#include <string.h>
#include "../base/banned.h"

/* Handlers of the shape "optional JSON body, call, answer the object". */
typedef int (*body_call)(struct store *s, const struct viewer *v, int64_t id, json_t *body,
			 json_t **out, struct dm_err *e);

static int with_body(struct http_req *rq, struct http_resp *rs, body_call call, int status)
{
	json_t *body = NULL, *out;
	int rc = rq->body_len ? http_json_body(rq, &body) : 0;
	if (rc)
		return rc;
	if (!body)
		body = json_object();
	rc = call(api_store(rq), api_viewer(rq), rq->ids[0], body, &out, &rq->err);
	json_decref(body);
	if (!rc)
		http_set_json(rs, status, out);
	return rc;
}

static int park_h(struct http_req *rq, struct http_resp *rs)
{
	return with_body(rq, rs, pool_park, 200);
}

static int assign_h(struct http_req *rq, struct http_resp *rs)
{
	return with_body(rq, rs, pool_assign, 200);
}

static int convert_h(struct http_req *rq, struct http_resp *rs)
{
	return with_body(rq, rs, leads_convert, 200);
}

static int claim_h(struct http_req *rq, struct http_resp *rs)
{
	json_t *out;
	int rc = pool_claim(api_store(rq), api_viewer(rq), rq->ids[0], &out, &rq->err);
	if (!rc)
		http_set_json(rs, 200, out);
	return rc;
}

static int owners_h(struct http_req *rq, struct http_resp *rs)
{
	json_t *items;
	int rc = pool_owners(api_store(rq), api_viewer(rq), rq->ids[0], &items, &rq->err);
	if (!rc)
		api_list(rs, items, NULL);
	return rc;
}

static int pool_h(struct http_req *rq, struct http_resp *rs)
{
	struct kv params[HTTP_MAX_PARAMS];
	size_t n = api_params(rq, params);
	json_t *items;
	char *next;
	int rc = pool_list(api_store(rq), api_viewer(rq), params, n, &items, &next, &rq->err);
	if (!rc)
		api_list(rs, items, next);
	return rc;
}

static const char *const agenda_query[] = {
	"date:The agenda's day, YYYY-MM-DD (default today in Asia/Shanghai)",
	"limit:Items of each list, 1-1000 (default 20; warnings at most 500): the most overdue "
	"follow-ups, the longest quiet sleeping accounts; follow_ups_total and sleeping_total count "
	"them all", NULL
};

static int agenda_h(struct http_req *rq, struct http_resp *rs)
{
	const char *date = NULL;
	int64_t limit = AGENDA_LIMIT_DEFAULT;
	for (size_t i = 0; i < rq->nparams; i++) {
		const char *k = rq->params[i].key, *val = rq->params[i].value;
		if (!strcmp(k, "date")) {
			date = val;
		} else if (!strcmp(k, "limit")) {
			if (text_parse_int(val, 1, AGENDA_LIMIT_MAX, &limit))
				return dm_fail(&rq->err, DM_EPARAM, "limit",
					       "limit must be an integer from 1 to %d", AGENDA_LIMIT_MAX);
		} else {
			return dm_fail(&rq->err, DM_EPARAM, k, "the agenda takes date and limit only");
		}
	}
	struct buf out = BUF_INIT(0);
	int rc = followup_agenda(api_store(rq), api_viewer(rq), date, (size_t)limit, &out,
				 &rq->err);
	if (!rc) {
		size_t len;
		char *text = buf_detach(&out, &len);
		http_set_json_text(rs, 200, text, len);
	}
	buf_release(&out);
	return rc;
}

static int intervention_h(struct http_req *rq, struct http_resp *rs)
{
	json_t *items;
	if (rq->nparams)
		return dm_fail(&rq->err, DM_EPARAM, rq->params[0].key, "no parameters here");
	int rc = followup_intervention(api_store(rq), api_viewer(rq), &items, &rq->err);
	if (!rc)
		api_list(rs, items, NULL);
	return rc;
}

static int sweep_h(struct http_req *rq, struct http_resp *rs)
{
	json_t *body = NULL, *out;
	int rc = rq->body_len ? http_json_body(rq, &body) : 0;
	const char *key;
	json_t *v;
	if (rc)
		return rc;
	json_object_foreach(body, key, v) {
		if (strcmp(key, "as_of"))
			rc = dm_fail(&rq->err, DM_EUNKNOWN, key, "the body has only as_of");
		else if (!json_is_string(v))
			rc = dm_fail(&rq->err, DM_EINVAL, key, "as_of must be a date YYYY-MM-DD");
	}
	if (!rc)
		rc = pool_sweep(api_store(rq), api_viewer(rq),
				json_string_value(json_object_get(body, "as_of")), &out, &rq->err);
	json_decref(body);
	if (!rc)
		http_set_json(rs, 200, out);
	return rc;
}

static int settings_get_h(struct http_req *rq, struct http_resp *rs)
{
	json_t *out;
	int rc = settings_get(api_store(rq), &out, &rq->err);
	if (!rc)
		http_set_json(rs, 200, out);
	return rc;
}

static int settings_patch_h(struct http_req *rq, struct http_resp *rs)
{
	json_t *body, *out;
	int rc = http_json_body(rq, &body);
	if (rc)
		return rc;
	rc = settings_patch(api_store(rq), api_viewer(rq), body, &out, &rq->err);
	json_decref(body);
	if (!rc)
		http_set_json(rs, 200, out);
	return rc;
}

static int lead_rules_get_h(struct http_req *rq, struct http_resp *rs)
{
	json_t *rules;
	int rc = settings_lead_rules(api_store(rq), &rules, &rq->err);
	if (!rc)
		http_set_json(rs, 200, json_pack("{s:o}", "rules", rules));
	return rc;
}

static int lead_rules_put_h(struct http_req *rq, struct http_resp *rs)
{
	json_t *body, *out;
	int rc = http_json_body(rq, &body);
	if (rc)
		return rc;
	rc = settings_lead_rules_put(api_store(rq), api_viewer(rq), body, &out, &rq->err);
	json_decref(body);
	if (!rc)
		http_set_json(rs, 200, out);
	return rc;
}

size_t api_pool_routes(struct route *out, size_t max)
{
	static const struct route group[] = {
		{ "POST", "/api/v1/accounts/{id}/park", park_h, 0, NULL,
		  "Park (挂起) an account: to the pool, or to the manager (setting park_to). Reps need "
		  "park_min_touches effective follow-ups (409 twelve_touch_rule); never-park levels "
		  "refuse (409 never_park)", "pool", "ParkInput", "Account", 0, NULL },
		{ "POST", "/api/v1/accounts/{id}/claim", claim_h, 0, NULL,
		  "Claim a pool account (409 already_claimed, 409 holding_limit)", "pool", NULL,
		  "Account", 0, NULL },
		{ "POST", "/api/v1/accounts/{id}/assign", assign_h, 0, NULL,
		  "Assign or reassign an account to a user of your teams (managers, admins)", "pool",
		  "AssignInput", "Account", 0, NULL },
		{ "GET", "/api/v1/accounts/{id}/owners", owners_h, ROUTE_LIST, NULL,
		  "Every owner change: from, to, reason (assigned, claimed, parked, reclaimed, "
		  "reassigned, converted), by, at", "pool", NULL, "OwnerChange", 0, NULL },
		{ "GET", "/api/v1/pool", pool_h, ROUTE_LIST, &kind_account,
		  "The public pool (公海): accounts without an owner; reps see the basic fields",
		  "pool", NULL, "Account", 0, NULL },
		{ "POST", "/api/v1/admin/sweep", sweep_h, 0, NULL,
		  "Reclaim neglected accounts to the pool as of a date (admin); idempotent", "pool",
		  "SweepInput", "SweepResult", 0, NULL },
		{ "GET", "/api/v1/me/agenda", agenda_h, 0, NULL,
		  "My day: overdue and due follow-ups, warnings on my opportunities, my sleeping "
		  "accounts", "follow-up", NULL, "Agenda", 0, agenda_query },
		{ "GET", "/api/v1/intervention", intervention_h, ROUTE_LIST, NULL,
		  "Accounts with intervention_touches or more and no won opportunity (managers)",
		  "follow-up", NULL, "InterventionItem", 0, NULL },
		{ "GET", "/api/v1/settings", settings_get_h, 0, NULL,
		  "The follow-up and pool rules' numbers", "settings", NULL, "Settings", 0, NULL },
		{ "PATCH", "/api/v1/settings", settings_patch_h, 0, NULL,
		  "Change the rules' numbers (admin)", "settings", "Settings", "Settings", 0, NULL },
		{ "GET", "/api/v1/settings/lead-rules", lead_rules_get_h, 0, NULL,
		  "Lead distribution rules per source", "settings", NULL, "LeadRules", 0, NULL },
		{ "PUT", "/api/v1/settings/lead-rules", lead_rules_put_h, 0, NULL,
		  "Replace the lead distribution rules (admin)", "settings", "LeadRules", "LeadRules",
		  0, NULL },
		{ "POST", "/api/v1/leads/{id}/convert", convert_h, 0, NULL,
		  "Convert a lead into an account (or link the existing one), a contact and optionally "
		  "an opportunity", "leads", "ConvertInput", "ConvertResult", 0, NULL },
	};
	size_t n = 0;
	for (; n < sizeof group / sizeof group[0] && n < max; n++)
		out[n] = group[n];
	return n;
}
