/* settings.c — stage definitions (SPEC §3.1) and their admin overrides. */
#include "settings.h"
#include "../base/text.h"
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
	int rc = store_write(s, stage_patch_tx, &p);
	json_t *stages = NULL;
	if (!rc && !(rc = settings_stages(s, &stages, e)))
		*out = json_incref(settings_stage(stages, key));
	json_decref(stages);
	return rc;
}
