/* settings.c — stage definitions (SPEC §3.1) and their admin overrides. */
#include "settings.h"
#include "../base/text.h"
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../base/banned.h"

struct stage_default {
	const char *key, *zh, *en, *phase, *exit_zh, *exit_en;
	int win_rate;
};

static const struct stage_default defaults[] = {
	{ "interest", "兴趣（客户分析）", "Interest", "confirm_needs",
	  "发起者口头或书面提出购买要求", "The initiator asks, orally or in writing, to buy", 5 },
	{ "brewing", "酝酿（建立信任）", "Brewing", "confirm_needs",
	  "决策者同意购买，确定预算和时间", "The decision maker agrees to buy, sets budget and time", 10 },
	{ "design", "设计（挖掘需求）", "Design", "evaluate",
	  "设计者完成方案和规格，邀请供应商",
	  "The designer finishes the plan and specs and invites suppliers", 20 },
	{ "compare", "比较（呈现价值）", "Compare", "evaluate",
	  "供应商已提案报价，开始谈判", "Suppliers have proposed and quoted; negotiation starts", 30 },
	{ "commit", "承诺（赢取承诺）", "Commit", "resolve_concerns",
	  "客户选定供应商并签约", "The customer picks a supplier and signs", 50 },
	{ "use", "使用（回收货款）", "Use", "implement",
	  "客户付款，货物交付并投入使用", "The customer pays; goods delivered and in use", 80 },
	{ "won", "赢单", "Won", "closed", "已成交", "Closed", 100 },
	{ "lost", "丢单", "Lost", "closed", "已丢单，记录原因", "Closed, with lost_reason", 0 },
};

#define NSTAGES (sizeof defaults / sizeof defaults[0])

static json_t *default_stage(const struct stage_default *d)
{
	return json_pack("{s:s,s:{s:s,s:s},s:i,s:s,s:{s:s,s:s}}", "key", d->key, "label", "zh-CN",
			 d->zh, "en", d->en, "win_rate", d->win_rate, "phase", d->phase,
			 "exit_criterion", "zh-CN", d->exit_zh, "en", d->exit_en);
}

int settings_stages(struct store *s, json_t **stages, struct dm_err *e)
{
	json_t *over = NULL;
	int rc = store_setting_get(s, "stages", &over, e);
	*stages = NULL;
	if (rc)
		return rc;
	json_t *arr = json_array();
	for (size_t i = 0; i < NSTAGES; i++) {
		json_t *st = default_stage(&defaults[i]);
		json_t *o = json_object_get(over, defaults[i].key);
		const char *k;
		json_t *v;
		json_object_foreach(o, k, v) {
			json_t *cur = json_object_get(st, k);
			if (json_is_object(cur) && json_is_object(v))
				json_object_update(cur, v);   /* one language changed, the other kept */
			else if (cur)
				json_object_set(st, k, v);
		}
		json_array_append_new(arr, st);
	}
	json_decref(over);
	*stages = arr;
	return 0;
}

int settings_win_rates(struct store *s, struct stage_rate *out, size_t max, size_t *n,
		       struct dm_err *e)
{
	json_t *over = NULL;
	int rc = store_setting_get(s, "stages", &over, e);
	*n = 0;
	if (rc)
		return rc;
	for (size_t i = 0; i < NSTAGES && *n < max; i++) {
		/* settings_stages' overlay of win_rate: the admin's value as it is */
		json_t *w = json_object_get(json_object_get(over, defaults[i].key), "win_rate");
		out[*n].key = defaults[i].key;
		out[(*n)++].win_rate = w ? json_integer_value(w) : defaults[i].win_rate;
	}
	json_decref(over);
	return 0;
}

const char *settings_phase(const char *key)
{
	for (size_t i = 0; i < NSTAGES; i++)
		if (!strcmp(defaults[i].key, key))
			return defaults[i].phase;
	return NULL;
}

const char *settings_stage_key(size_t i)
{
	return i < NSTAGES ? defaults[i].key : NULL;
}

json_t *settings_stage(json_t *stages, const char *key)
{
	size_t i;
	json_t *st;
	json_array_foreach(stages, i, st) {
		if (!strcmp(json_string_value(json_object_get(st, "key")), key))
			return st;
	}
	return NULL;
}

/* label and exit_criterion: {"zh-CN": text, "en": text}, either or both. */
static int check_texts(json_t *v, const char *field, struct dm_err *e)
{
	const char *k;
	json_t *t;
	if (!json_is_object(v) || !json_object_size(v))
		return dm_fail(e, DM_EINVAL, field, "%s must be an object {\"zh-CN\": ..., \"en\": ...}",
			       field);
	json_object_foreach(v, k, t) {
		if (strcmp(k, "zh-CN") && strcmp(k, "en"))
			return dm_fail(e, DM_EINVAL, field, "%s has languages zh-CN and en only", field);
		if (!json_is_string(t) || !json_string_length(t) ||
		    text_utf8_len(json_string_value(t)) > 200)
			return dm_fail(e, DM_EINVAL, field, "%s.%s must be text of 1-200 characters",
				       field, k);
	}
	return 0;
}

struct stage_patch {
	const char *key;
	json_t *changes;
	int64_t actor;
	struct dm_err *e;
};

static int stage_patch_tx(struct store *s, void *arg)
{
	struct stage_patch *p = arg;
	json_t *over = NULL;
	int rc = store_setting_get(s, "stages", &over, p->e);
	if (rc)
		return rc;
	if (!json_is_object(over)) {
		json_decref(over);
		over = json_object();
	}
	json_t *mine = json_object_get(over, p->key);
	if (!json_is_object(mine)) {
		mine = json_object();
		json_object_set_new(over, p->key, mine);
	}
	const char *k;
	json_t *v;
	json_object_foreach(p->changes, k, v) {
		json_t *cur = json_object_get(mine, k);
		if (json_is_object(v) && json_is_object(cur))
			json_object_update(cur, v);   /* change one language, keep the other */
		else
			json_object_set(mine, k, v);
	}
	rc = store_setting_put(s, "stages", over, p->actor, p->e);
	json_decref(over);
	return rc;
}

int settings_stage_patch(struct store *s, const struct viewer *v, const char *key, json_t *body,
			 json_t **out, struct dm_err *e)
{
	const char *k;
	json_t *val;
	*out = NULL;
	if (model_enum_index(model_stages, key) < 0)
		return dm_fail(e, DM_ENOTFOUND, NULL, "no stage %.40s", key);
	if (v->role != ROLE_ADMIN)
		return dm_fail(e, DM_EFORBIDDEN, NULL, "only an admin changes the stages");
	json_object_foreach(body, k, val) {
		int rc = 0;
		if (!strcmp(k, "win_rate")) {
			if (!json_is_integer(val) || json_integer_value(val) < 0 ||
			    json_integer_value(val) > 100)
				rc = dm_fail(e, DM_EINVAL, k, "win_rate must be a whole number 0-100");
		} else if (!strcmp(k, "label") || !strcmp(k, "exit_criterion")) {
			rc = check_texts(val, k, e);
		} else if (!strcmp(k, "key") || !strcmp(k, "phase")) {
			rc = dm_fail(e, DM_EREADONLY, k, "%s cannot be changed", k);
		} else {
			rc = dm_fail(e, DM_EUNKNOWN, k, "a stage has no field %.60s", k);
		}
		if (rc)
			return rc;
	}
	struct stage_patch p = { key, body, v->user_id, e };
	int rc = store_write(s, stage_patch_tx, &p, e);
	json_t *stages = NULL;
	if (!rc && !(rc = settings_stages(s, &stages, e)))
		*out = json_incref(settings_stage(stages, key));
	json_decref(stages);
	return rc;
}

/* ---- the follow-up and pool rules ------------------------------------------------------------------ */

struct number_setting {
	const char *name;
	int dflt, min, max;
	size_t offset;
};

#define NUM(n, d, lo, hi) { #n, d, lo, hi, offsetof(struct rules, n) }
static const struct number_setting numbers[] = {
	NUM(park_min_touches, 12, 0, 1000),
	NUM(holding_limit, 500, 1, 1000000),
	NUM(reclaim_after_days, 90, 1, 3650),
	NUM(reclaim_no_deal_days, 365, 1, 3650),
	NUM(sleeping_after_days, 90, 1, 3650),
	NUM(intervention_touches, 10, 1, 1000),
	NUM(cadence_open_days, 14, 1, 365),
	NUM(cadence_idle_days, 30, 1, 365),
};
#define NNUMBERS (sizeof numbers / sizeof numbers[0])

static json_t *rules_json(const struct rules *r)
{
	json_t *o = json_object(), *np = json_array();
	for (size_t i = 0; i < NNUMBERS; i++)
		json_object_set_new(o, numbers[i].name,
				    json_integer(*(const int *)((const char *)r + numbers[i].offset)));
	for (int i = 0; model_importance[i]; i++)
		if (r->never_park & (1u << i))
			json_array_append_new(np, json_string(model_importance[i]));
	json_object_set_new(o, "never_park", np);
	json_object_set_new(o, "park_to", json_string(r->park_to_manager ? "manager" : "pool"));
	return o;
}

/* Apply the values of o to r; on a bad one fill e and return its code (r half-applied). */
static int rules_apply(struct rules *r, json_t *o, struct dm_err *e)
{
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v) {
		size_t i;
		for (i = 0; i < NNUMBERS && strcmp(numbers[i].name, k); i++)
			;
		if (i < NNUMBERS) {
			if (!json_is_integer(v) || json_integer_value(v) < numbers[i].min ||
			    json_integer_value(v) > numbers[i].max)
				return dm_fail(e, DM_EINVAL, k, "%s must be a whole number from %d to %d", k,
					       numbers[i].min, numbers[i].max);
			*(int *)((char *)r + numbers[i].offset) = (int)json_integer_value(v);
		} else if (!strcmp(k, "never_park")) {
			size_t j;
			json_t *lvl;
			if (!json_is_array(v))
				return dm_fail(e, DM_EINVAL, k, "never_park must be a list of importance levels");
			r->never_park = 0;
			json_array_foreach(v, j, lvl) {
				int idx = json_is_string(lvl) ?
					model_enum_index(model_importance, json_string_value(lvl)) : -1;
				if (idx < 0)
					return dm_fail(e, DM_EINVAL, k, "never_park levels are A, B, C, VVIP");
				r->never_park |= 1u << idx;
			}
		} else if (!strcmp(k, "park_to")) {
			const char *t = json_string_value(v);
			if (!t || (strcmp(t, "pool") && strcmp(t, "manager")))
				return dm_fail(e, DM_EINVAL, k, "park_to must be pool or manager");
			r->park_to_manager = !strcmp(t, "manager");
		} else {
			return dm_fail(e, DM_EUNKNOWN, k, "there is no setting %.60s", k);
		}
	}
	return 0;
}

static void rules_default(struct rules *r)
{
	memset(r, 0, sizeof *r);
	for (size_t i = 0; i < NNUMBERS; i++)
		*(int *)((char *)r + numbers[i].offset) = numbers[i].dflt;
	r->never_park = 1u << model_enum_index(model_importance, "VVIP");
}

int settings_rules(struct store *s, struct rules *r, struct dm_err *e)
{
	json_t *over = NULL;
	int rc = store_setting_get(s, "rules", &over, e);
	rules_default(r);
	if (!rc && over && rules_apply(r, over, e)) {
		rules_default(r);   /* a stored value this binary does not accept: the defaults */
		rc = 0;
	}
	json_decref(over);
	return rc;
}

int settings_get(struct store *s, json_t **out, struct dm_err *e)
{
	struct rules r;
	int rc = settings_rules(s, &r, e);
	*out = rc ? NULL : rules_json(&r);
	return rc;
}

struct rules_patch {
	json_t *body;
	int64_t actor;
	struct dm_err *e;
};

static int rules_patch_tx(struct store *s, void *arg)
{
	struct rules_patch *p = arg;
	struct rules r;
	int rc = settings_rules(s, &r, p->e);
	if (rc || (rc = rules_apply(&r, p->body, p->e)))
		return rc;
	json_t *all = rules_json(&r);
	rc = store_setting_put(s, "rules", all, p->actor, p->e);
	json_decref(all);
	return rc;
}

int settings_patch(struct store *s, const struct viewer *v, json_t *body, json_t **out,
		   struct dm_err *e)
{
	*out = NULL;
	if (v->role != ROLE_ADMIN)
		return dm_fail(e, DM_EFORBIDDEN, NULL, "only an admin changes the settings");
	struct rules_patch p = { body, v->user_id, e };
	int rc = store_write(s, rules_patch_tx, &p, e);
	return rc ? rc : settings_get(s, out, e);
}

/* ---- lead distribution rules -------------------------------------------------------------------- */

int settings_lead_rules(struct store *s, json_t **rules, struct dm_err *e)
{
	int rc = store_setting_get(s, "lead_rules", rules, e);
	if (!rc && !*rules)
		*rules = json_array();
	return rc;
}

static int check_lead_rule(struct store *s, json_t *r, size_t i, struct dm_err *e)
{
	static const char *const keys[] = { "source", "assign", "user_id", "team_id", NULL };
	char field[48];
	const char *k, *assign = json_string_value(json_object_get(r, "assign"));
	json_t *v, *rec = NULL;
	snprintf(field, sizeof field, "rules[%zu]", i);
	if (!json_is_object(r))
		return dm_fail(e, DM_EINVAL, field, "%s must be an object", field);
	json_object_foreach(r, k, v) {
		if (model_enum_index(keys, k) < 0)
			return dm_fail(e, DM_EINVAL, field, "%s has no field %.40s", field, k);
	}
	v = json_object_get(r, "source");
	if (!json_is_string(v) || !json_string_length(v) || text_utf8_len(json_string_value(v)) > 200)
		return dm_fail(e, DM_EINVAL, field, "%s.source must be text (or \"*\")", field);
	if (!assign || (strcmp(assign, "user") && strcmp(assign, "team") && strcmp(assign, "partners")))
		return dm_fail(e, DM_EINVAL, field, "%s.assign must be user, team or partners", field);
	if (!strcmp(assign, "partners"))
		return 0;
	const char *ref = !strcmp(assign, "user") ? "user_id" : "team_id";
	json_t *id = json_object_get(r, ref);
	int rc = json_is_integer(id) ?
		store_get(s, !strcmp(assign, "user") ? &kind_user : &kind_team, NULL,
			  json_integer_value(id), 0, &rec, e) : DM_ENOTFOUND;
	int ok = !rc && (strcmp(assign, "user") || json_is_true(json_object_get(rec, "active")));
	json_decref(rec);
	if (rc && rc != DM_ENOTFOUND)
		return rc;
	if (!ok)
		return dm_fail(e, DM_EINVAL, field, "%s.%s must name an existing (active) %s", field, ref,
			       assign);
	return 0;
}

struct lead_rules_put {
	json_t *rules;
	int64_t actor;
	struct dm_err *e;
};

static int lead_rules_tx(struct store *s, void *arg)
{
	struct lead_rules_put *p = arg;
	size_t i, j;
	json_t *r;
	json_array_foreach(p->rules, i, r) {
		int rc = check_lead_rule(s, r, i, p->e);
		if (rc)
			return rc;
		for (j = 0; j < i; j++)
			if (json_equal(json_object_get(json_array_get(p->rules, j), "source"),
				       json_object_get(r, "source")))
				return dm_fail(p->e, DM_EINVAL, "rules", "source %s has two rules",
					       json_string_value(json_object_get(r, "source")));
	}
	return store_setting_put(s, "lead_rules", p->rules, p->actor, p->e);
}

int settings_lead_rules_put(struct store *s, const struct viewer *v, json_t *body, json_t **out,
			    struct dm_err *e)
{
	const char *k;
	json_t *val;
	*out = NULL;
	if (v->role != ROLE_ADMIN)
		return dm_fail(e, DM_EFORBIDDEN, NULL, "only an admin changes the lead rules");
	json_object_foreach(body, k, val) {
		if (strcmp(k, "rules"))
			return dm_fail(e, DM_EUNKNOWN, k, "the body is {\"rules\": [...]}");
	}
	json_t *rules = json_object_get(body, "rules");
	if (!json_is_array(rules) || json_array_size(rules) > 200)
		return dm_fail(e, DM_EINVAL, "rules", "rules must be a list of at most 200 rules");
	struct lead_rules_put p = { rules, v->user_id, e };
	int rc = store_write(s, lead_rules_tx, &p, e);
	if (!rc)
		*out = json_pack("{s:O}", "rules", rules);
	return rc;
}
