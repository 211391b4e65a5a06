/* model.c — field tables of every kind, and the one validator that reads them. */
#include "model.h"
#include "../base/text.h"
#include "../base/timeutil.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../base/banned.h"

const char *const model_roles[] = { "admin", "manager", "rep", "partner", NULL };
const char *const model_locales[] = { "zh-CN", "en", NULL };
const char *const model_importance[] = { "A", "B", "C", "VVIP", NULL };
const char *const model_lifecycles[] = { "acquire", "grow", "mature", "decline", "lost", NULL };
const char *const model_ranks[] = { "executive", "director", "manager", "staff", NULL };
const char *const model_stages[] = { "interest", "brewing", "design", "compare", "commit",
				     "use", "won", "lost", NULL };
const char *const model_cute_roles[] = { "decision_maker", "user", "technical_gatekeeper", "coach",
					 NULL };
const char *const model_attitudes[] = { "coach", "supporter", "neutral", "non_supporter", "opponent",
					NULL };
const char *const model_buyer_tags[] = { "initiator", "purchaser", "operator", NULL };
const char *const model_portrait_blocks[] = { "basic", "background", "needs", "relations", "deep",
					      "extended", NULL };
const char *const model_channels[] = { "phone", "wechat", "sms", "visit", "invite", "email",
				       "meeting", "quote", "demo", "other", NULL };

#define INT64_BIG 9007199254740991LL   /* 2^53-1: integers every JSON client reads exactly */
#define SHORT 200
#define MEDIUM 1000
#define LONG 20000

/* ---- checks of the JSON-valued fields ------------------------------------------------------ */

static int check_text_value(const char *field, json_t *v, size_t max, int required,
			    struct dm_err *e)
{
	if (!json_is_string(v))
		return dm_fail(e, DM_EINVAL, field, "%s must be a string", field);
	if (text_utf8_len(json_string_value(v)) > max)
		return dm_fail(e, DM_EINVAL, field, "%s is longer than %zu characters", field, max);
	if (required) {
		char *key = text_name_key(json_string_value(v));   /* blank = only white space */
		int blank = key[0] == '\0';
		free(key);
		if (blank)
			return dm_fail(e, DM_EINVAL, field, "%s must not be empty", field);
	}
	return 0;
}

static int check_number(const char *field, json_t *v, double min, double max, struct dm_err *e)
{
	if (!json_is_number(v) || json_number_value(v) < min || json_number_value(v) > max)
		return dm_fail(e, DM_EINVAL, field, "%s must be a number from %g to %g", field, min,
			       max);
	return 0;
}

/* Check that every key of object o is one of keys[]. */
static int check_keys(const char *field, json_t *o, const char *const *keys, struct dm_err *e)
{
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v) {
		if (model_enum_index(keys, k) < 0)
			return dm_fail(e, DM_EINVAL, field, "%s has an unknown member \"%.60s\"", field, k);
	}
	return 0;
}

static int check_list(const struct field *f, json_t *v, size_t max_items, struct dm_err *e)
{
	if (!json_is_array(v))
		return dm_fail(e, DM_EINVAL, f->name, "%s must be a list", f->name);
	if (json_array_size(v) > max_items)
		return dm_fail(e, DM_EINVAL, f->name, "%s has more than %zu items", f->name, max_items);
	return 0;
}

static int check_installed_base(const struct field *f, json_t *v, struct dm_err *e)
{
	static const char *const keys[] = { "brand", "product", "quantity", "years", NULL };
	size_t i;
	json_t *it;
	if (check_list(f, v, 200, e))
		return e->code;
	json_array_foreach(v, i, it) {
		if (!json_is_object(it))
			return dm_fail(e, DM_EINVAL, f->name, "installed_base items must be objects");
		if (check_keys(f->name, it, keys, e) ||
		    check_text_value("installed_base.brand", json_object_get(it, "brand"), SHORT, 1, e))
			return e->code;
		json_t *p = json_object_get(it, "product");
		if (p && check_text_value("installed_base.product", p, SHORT, 0, e))
			return e->code;
		json_t *q = json_object_get(it, "quantity"), *y = json_object_get(it, "years");
		if (q && (!json_is_integer(q) || json_integer_value(q) < 0))
			return dm_fail(e, DM_EINVAL, "installed_base.quantity",
				       "installed_base.quantity must be a whole number >= 0");
		if (y && check_number("installed_base.years", y, 0, 200, e))
			return e->code;
	}
	return 0;
}

static int check_string_list(const struct field *f, json_t *v, struct dm_err *e)
{
	size_t i;
	json_t *it;
	if (check_list(f, v, 50, e))
		return e->code;
	json_array_foreach(v, i, it) {
		if (check_text_value(f->name, it, SHORT, 1, e))
			return e->code;
	}
	return 0;
}

static int check_criteria(const struct field *f, json_t *v, struct dm_err *e)
{
	static const char *const keys[] = { "criterion", "weight", "ours", "theirs", NULL };
	size_t i;
	json_t *it;
	if (check_list(f, v, 50, e))
		return e->code;
	json_array_foreach(v, i, it) {
		if (!json_is_object(it))
			return dm_fail(e, DM_EINVAL, f->name, "purchase_criteria items must be objects");
		if (check_keys(f->name, it, keys, e) ||
		    check_text_value("purchase_criteria.criterion", json_object_get(it, "criterion"),
				     SHORT, 1, e))
			return e->code;
		for (int k = 1; k < 4; k++) {
			json_t *n = json_object_get(it, keys[k]);
			if (n && check_number(f->name, n, 0, 100, e))
				return e->code;
		}
	}
	return 0;
}

static int check_assessment(const struct field *f, json_t *v, struct dm_err *e)
{
	static const char *const keys[] = { "deal_size", "regional_influence", "cost_to_win",
					    "opportunity_cost", "competitive_strength",
					    "unique_value", "relationship", NULL };
	const char *k;
	json_t *s;
	char name[80];
	if (!json_is_object(v))
		return dm_fail(e, DM_EINVAL, f->name, "assessment must be an object");
	if (check_keys(f->name, v, keys, e))
		return e->code;
	json_object_foreach(v, k, s) {
		if (!json_is_integer(s) || json_integer_value(s) < 1 || json_integer_value(s) > 5) {
			snprintf(name, sizeof name, "assessment.%s", k);
			return dm_fail(e, DM_EINVAL, name, "%s must be a whole number 1-5", name);
		}
	}
	return 0;
}

static int check_id_list(const struct field *f, json_t *v, struct dm_err *e)
{
	size_t i, j;
	json_t *it;
	if (check_list(f, v, 100, e))
		return e->code;
	json_array_foreach(v, i, it) {
		if (!json_is_integer(it) || json_integer_value(it) < 1)
			return dm_fail(e, DM_EINVAL, f->name, "%s must be a list of ids", f->name);
		for (j = 0; j < i; j++)
			if (json_integer_value(json_array_get(v, j)) == json_integer_value(it))
				return dm_fail(e, DM_EINVAL, f->name, "%s lists an id twice", f->name);
	}
	return 0;
}

static int check_currency(const struct field *f, json_t *v, struct dm_err *e)
{
	const char *c = json_string_value(v);
	for (int i = 0; i < 3; i++)
		if (c[i] < 'A' || c[i] > 'Z')
			return dm_fail(e, DM_EINVAL, f->name, "currency must be an ISO 4217 code of three "
				       "capital letters, like CNY");
	return 0;
}

/* {text, tags[]}: the needs of a stakeholder (SPEC §4, dimension 5). */
static int check_needs(const struct field *f, json_t *v, struct dm_err *e)
{
	static const char *const keys[] = { "text", "tags", NULL };
	size_t i;
	json_t *t, *tags;
	if (!json_is_object(v))
		return dm_fail(e, DM_EINVAL, f->name, "%s must be an object {text, tags}", f->name);
	if (check_keys(f->name, v, keys, e))
		return e->code;
	if ((t = json_object_get(v, "text")) && check_text_value(f->name, t, LONG, 0, e))
		return e->code;
	if ((tags = json_object_get(v, "tags"))) {
		if (!json_is_array(tags) || json_array_size(tags) > 30)
			return dm_fail(e, DM_EINVAL, f->name, "%s.tags must be a list", f->name);
		json_array_foreach(tags, i, t) {
			if (check_text_value(f->name, t, 60, 1, e))
				return e->code;
		}
	}
	return 0;
}

static int check_buyer_tags(const struct field *f, json_t *v, struct dm_err *e)
{
	size_t i;
	json_t *t;
	if (check_list(f, v, 3, e))
		return e->code;
	json_array_foreach(v, i, t) {
		if (!json_is_string(t) || model_enum_index(model_buyer_tags, json_string_value(t)) < 0)
			return dm_fail(e, DM_EINVAL, f->name, "tags must be among initiator, purchaser, operator");
	}
	return 0;
}

/* {basic, background, needs, relations, deep, extended}: each an object of text fields. */
static int check_portrait(const struct field *f, json_t *v, struct dm_err *e)
{
	const char *block, *key;
	json_t *b, *val;
	char name[96];
	if (!json_is_object(v))
		return dm_fail(e, DM_EINVAL, f->name, "portrait must be an object of blocks");
	if (check_keys(f->name, v, model_portrait_blocks, e))
		return e->code;
	json_object_foreach(v, block, b) {
		snprintf(name, sizeof name, "portrait.%s", block);
		if (!json_is_object(b) || json_object_size(b) > 50)
			return dm_fail(e, DM_EINVAL, name, "%s must be an object of text fields", name);
		json_object_foreach(b, key, val) {
			if (strlen(key) > 60 || check_text_value(name, val, 2000, 0, e))
				return dm_fail(e, DM_EINVAL, name, "%s must hold text fields (names up to 60, "
					       "values up to 2000 characters)", name);
		}
	}
	return 0;
}

/* ---- the field tables ---------------------------------------------------------------------- */

#define SYSTEM_FIELDS                                                                         \
	{ "id", FT_INT, FF_READONLY | FF_SORT, 0, 0, NULL, NULL, NULL, NULL, "Identifier." },  \
	{ "created_at", FT_TIME, FF_READONLY | FF_SORT, 0, 0, NULL, NULL, NULL, NULL,          \
	  "When the record was created (RFC 3339, UTC)." },                                    \
	{ "updated_at", FT_TIME, FF_READONLY | FF_SORT, 0, 0, NULL, NULL, NULL, NULL,          \
	  "When the record last changed (RFC 3339, UTC)." },                                   \
	{ "version", FT_INT, FF_READONLY, 0, 0, NULL, NULL, NULL, NULL,                        \
	  "Starts at 1, +1 on every change; send it back in If-Match." },                      \
	{ "archived_at", FT_TIME, FF_READONLY, 0, 0, NULL, NULL, NULL, NULL,                   \
	  "Set when archived (deleted); null while live." }

#define TEXT(n, fl, len, doc) { n, FT_TEXT, fl, 0, len, NULL, NULL, NULL, NULL, doc }
#define ENUM(n, fl, vals, d, doc) { n, FT_ENUM, fl, 0, 0, vals, NULL, d, NULL, doc }
#define REF(n, fl, kind, doc) { n, FT_REF, fl, 1, INT64_BIG, NULL, kind, NULL, NULL, doc }
#define DATE(n, fl, doc) { n, FT_DATE, fl, 0, 0, NULL, NULL, NULL, NULL, doc }
#define JSONF(n, fl, chk, d, doc, sch) { n, FT_JSON, fl, 0, 0, NULL, NULL, d, chk, doc, sch }

static const struct field user_fields[] = {
	SYSTEM_FIELDS,
	{ "username", FT_TEXT, FF_REQUIRED | FF_SORT | FF_FILTER, 0, 64, NULL, NULL, NULL, NULL,
	  "Sign-in name: 2-64 of a-z 0-9 . _ @ - (stored lower-case, unique)." },
	TEXT("display_name", FF_SORT, SHORT, "Name shown to colleagues."),
	ENUM("role", FF_REQUIRED | FF_FILTER | FF_NOTNULL, model_roles, NULL,
	     "admin | manager | rep | partner."),
	REF("team_id", FF_FILTER, "team", "The user's team; managers see their team's records."),
	DATE("hired_on", 0, "Hiring date (for ramp time)."),
	{ "active", FT_BOOL, FF_FILTER | FF_NOTNULL, 0, 0, NULL, NULL, "true", NULL,
	  "Inactive users cannot sign in; deactivating ends their sessions." },
	ENUM("locale", FF_NOTNULL, model_locales, "\"zh-CN\"", "zh-CN | en."),
	{ "password", FT_TEXT, FF_WRITEONLY, 0, 256, NULL, NULL, NULL, NULL,
	  "Write-only. At least 8 characters and not a common password." },
};

static const struct field team_fields[] = {
	SYSTEM_FIELDS,
	TEXT("name", FF_REQUIRED | FF_SORT, SHORT, "Team (territory) name."),
	REF("parent_id", FF_FILTER, "team", "Parent team; teams form a tree."),
	REF("manager_id", FF_FILTER, "user", "The team's manager."),
};

static const char *const segments[] = { "habitual", "beginner", "prospect", NULL };
const char *const model_lead_statuses[] = { "new", "working", "converted", "disqualified", NULL };

static const struct field account_fields[] = {
	SYSTEM_FIELDS,
	TEXT("name", FF_REQUIRED | FF_SORT, SHORT,
	     "Customer company name; unique among live accounts, case- and width-insensitively."),
	TEXT("industry", FF_FILTER | FF_SORT, SHORT, "Industry."),
	TEXT("scale", 0, SHORT, "Company size."),
	TEXT("nature", 0, SHORT, "Ownership nature (state-owned, private, foreign...)."),
	TEXT("address", 0, MEDIUM, "Address."),
	TEXT("website", 0, MEDIUM, "Website."),
	TEXT("phone", 0, 64, "Switchboard phone."),
	TEXT("source", FF_FILTER, SHORT, "Where the account came from."),
	REF("owner_id", FF_FILTER | FF_SORT, "user", "Owning rep; null = in the public pool."),
	ENUM("importance", FF_FILTER | FF_SORT | FF_NOTNULL, model_importance, "\"C\"",
	     "A | B | C | VVIP."),
	ENUM("lifecycle", FF_FILTER | FF_SORT | FF_NOTNULL, model_lifecycles, "\"acquire\"",
	     "acquire | grow | mature | decline | lost."),
	DATE("first_deal_on", FF_SORT, "Date of the first deal."),
	JSONF("installed_base", FF_NOTNULL, check_installed_base, "[]",
	      "Products of ours or competitors in use: [{brand, product, quantity, years}].",
	      "{\"type\":\"array\",\"maxItems\":200,\"items\":{\"type\":\"object\","
	      "\"required\":[\"brand\"],\"properties\":{\"brand\":{\"type\":\"string\"},"
	      "\"product\":{\"type\":\"string\"},\"quantity\":{\"type\":\"integer\","
	      "\"minimum\":0},\"years\":{\"type\":\"number\",\"minimum\":0}}}}"),
	TEXT("notes", 0, LONG, "Free notes."),
	{ "touches", FT_INT, FF_READONLY | FF_DERIVED | FF_SORT, 0, 0, NULL, NULL, NULL, NULL,
	  "Derived: number of live effective activities on the account." },
	{ "last_touch_at", FT_TIME, FF_READONLY | FF_DERIVED | FF_SORT, 0, 0, NULL, NULL, NULL,
	  NULL, "Derived: occurred_at of the latest live effective activity, or null." },
	{ "pool_reason", FT_TEXT, FF_READONLY, 0, MEDIUM, NULL, NULL, NULL, NULL,
	  "Why the account is in the public pool (parked, reclaimed), while it is." },
	{ "pooled_at", FT_TIME, FF_READONLY, 0, 0, NULL, NULL, NULL, NULL,
	  "When the account went to the pool, while it is there." },
	{ "assigned_at", FT_TIME, FF_READONLY | FF_SORT, 0, 0, NULL, NULL, NULL, NULL,
	  "When the current owner got the account (created, claimed, assigned, converted)." },
	{ "next_touch_on", FT_DATE, FF_READONLY | FF_COMPUTED, 0, 0, NULL, NULL, NULL, NULL,
	  "Computed: the latest activity's next_touch_on, else the last touch (or creation) plus "
	  "the cadence: cadence_open_days with an open opportunity, cadence_idle_days without." },
	{ "sleeping", FT_BOOL, FF_READONLY | FF_COMPUTED, 0, 0, NULL, NULL, NULL, NULL,
	  "Computed: no effective follow-up for sleeping_after_days (90)." },
	{ "segment", FT_ENUM, FF_READONLY | FF_COMPUTED, 0, 0, segments, NULL, NULL, NULL,
	  "Computed (SPEC §7): habitual (2+ orders, the first more than 180 days ago), beginner "
	  "(one order, or the first within 180 days), prospect (no order)." },
	{ "repurchase", FT_JSON, FF_READONLY | FF_COMPUTED, 0, 0, NULL, NULL, NULL, NULL,
	  "Computed, per product with 3+ orders: {product, orders, median_interval_days, last_on, "
	  "expected_on (last + median), overdue (past expected_on by more than half the median)}.",
	  "{\"type\":\"array\",\"items\":{\"type\":\"object\"}}" },
	{ "warnings", FT_JSON, FF_READONLY | FF_COMPUTED, 0, 0, NULL, NULL, NULL, NULL,
	  "Computed: repurchase_overdue when a product's repurchase is overdue (the lifecycle then "
	  "answers decline until the next order).",
	  "{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
	  "\"code\":{\"type\":\"string\"},\"message\":{\"type\":\"string\"}}}}" },
	{ "_latest_next_touch", FT_DATE, FF_READONLY | FF_DERIVED | FF_INTERNAL },
	{ "_latest_contact_ids", FT_JSON, FF_READONLY | FF_DERIVED | FF_INTERNAL },
	{ "_open_opps", FT_INT, FF_READONLY | FF_DERIVED | FF_INTERNAL },
	{ "_won_opps", FT_INT, FF_READONLY | FF_DERIVED | FF_INTERNAL },
	{ "_orders", FT_JSON, FF_READONLY | FF_DERIVED | FF_INTERNAL },
	{ "_order_count", FT_INT, FF_READONLY | FF_DERIVED | FF_INTERNAL },
	{ "_first_order_on", FT_DATE, FF_READONLY | FF_DERIVED | FF_INTERNAL },
};

static const char *const relationship_levels[] = { "none", "doctor", "teacher", "friend",
						   "brother", NULL };
static const char *const phases[] = { "confirm_needs", "evaluate", "resolve_concerns", "implement",
				      "closed", NULL };
static const char *const recommendations[] = { "pursue", "share", "qualify", "drop", NULL };

static const struct field contact_fields[] = {
	SYSTEM_FIELDS,
	REF("account_id", FF_REQUIRED | FF_FILTER | FF_CREATEONLY, "account", "The contact's company."),
	TEXT("name", FF_REQUIRED | FF_SORT, SHORT, "Person's name."),
	TEXT("title", 0, SHORT, "Job title."),
	TEXT("department", FF_FILTER, SHORT, "Department."),
	ENUM("rank", FF_FILTER, model_ranks, NULL, "executive | director | manager | staff."),
	REF("reports_to_id", FF_FILTER, "contact",
	    "Another contact of the same account this one reports to (the org chart)."),
	TEXT("faction", FF_FILTER, SHORT, "Free-text faction tag."),
	TEXT("phone", 0, 64, "Phone."),
	TEXT("email", 0, 254, "E-mail."),
	TEXT("wechat", 0, 64, "WeChat id."),
	JSONF("portrait", FF_NOTNULL, check_portrait, "{}",
	      "Six blocks (SPEC §5): basic, background, needs, relations, deep, extended; each an "
	      "object of text fields. deep and extended of a VVIP account are sensitive: absent for "
	      "callers without need to know.",
	      "{\"type\":\"object\",\"properties\":{\"basic\":{\"type\":\"object\"},"
	      "\"background\":{\"type\":\"object\"},\"needs\":{\"type\":\"object\"},"
	      "\"relations\":{\"type\":\"object\"},\"deep\":{\"type\":\"object\"},"
	      "\"extended\":{\"type\":\"object\"}}}"),
	{ "relationship_level", FT_ENUM, FF_READONLY | FF_COMPUTED, 0, 0, relationship_levels, NULL,
	  NULL, NULL, "Computed: none | doctor (basic + background) | teacher (+ needs + relations) | "
	  "friend (+ deep) | brother (+ extended); a block counts when it has a non-empty field." },
};

static const struct field opportunity_fields[] = {
	SYSTEM_FIELDS,
	REF("account_id", FF_REQUIRED | FF_FILTER | FF_CREATEONLY, "account", "The customer."),
	TEXT("name", FF_REQUIRED | FF_SORT, SHORT, "Deal name."),
	REF("owner_id", FF_FILTER | FF_SORT, "user", "Owning rep (defaults to the creator)."),
	{ "amount", FT_INT, FF_SORT | FF_NOTNULL, 0, INT64_BIG, NULL, NULL, "0", NULL,
	  "Amount in minor currency units (fen, cents)." },
	{ "currency", FT_TEXT, FF_NOTNULL, 3, 3, NULL, NULL, "\"CNY\"", check_currency,
	  "ISO 4217 code, three capital letters." },
	ENUM("stage", FF_FILTER | FF_SORT | FF_NOTNULL, model_stages, "\"interest\"",
	     "interest | brewing | design | compare | commit | use | won | lost."),
	DATE("expected_close_on", FF_SORT, "Expected close date."),
	JSONF("competitors", FF_NOTNULL, check_string_list, "[]", "Competitor names.",
	      "{\"type\":\"array\",\"maxItems\":50,\"items\":{\"type\":\"string\"}}"),
	JSONF("purchase_criteria", FF_NOTNULL, check_criteria, "[]",
	      "[{criterion, weight, ours, theirs}].",
	      "{\"type\":\"array\",\"maxItems\":50,\"items\":{\"type\":\"object\","
	      "\"required\":[\"criterion\"],\"properties\":{\"criterion\":{\"type\":"
	      "\"string\"},\"weight\":{\"type\":\"number\"},\"ours\":{\"type\":\"number\"},"
	      "\"theirs\":{\"type\":\"number\"}}}}"),
	JSONF("assessment", 0, check_assessment, NULL,
	      "Sub-scores 1-5: deal_size, regional_influence, cost_to_win, opportunity_cost, "
	      "competitive_strength, unique_value, relationship.",
	      "{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\","
	      "\"minimum\":1,\"maximum\":5}}"),
	TEXT("lost_reason", 0, MEDIUM, "Why the deal was lost (required to move to lost)."),
	{ "win_rate", FT_INT, FF_READONLY | FF_COMPUTED, 0, 100, NULL, NULL, NULL, NULL,
	  "Computed: the stage's win rate in percent, from the current settings." },
	{ "weighted_amount", FT_INT, FF_READONLY | FF_COMPUTED, 0, 0, NULL, NULL, NULL, NULL,
	  "Computed: amount x win_rate / 100, rounded to the unit." },
	{ "phase", FT_ENUM, FF_READONLY | FF_COMPUTED, 0, 0, phases, NULL, NULL, NULL,
	  "Computed: the buyer's phase of the stage." },
	{ "worth", FT_JSON, FF_READONLY | FF_COMPUTED, 0, 0, NULL, NULL, NULL, NULL,
	  "Computed: worth winning? The mean of deal_size, regional_influence, 6 - cost_to_win, "
	  "6 - opportunity_cost (two decimals), or null until all four are scored.",
	  "{\"type\":\"number\",\"nullable\":true}" },
	{ "winnable", FT_JSON, FF_READONLY | FF_COMPUTED, 0, 0, NULL, NULL, NULL, NULL,
	  "Computed: can we win? The mean of competitive_strength, unique_value, relationship "
	  "(two decimals), or null until all three are scored.",
	  "{\"type\":\"number\",\"nullable\":true}" },
	{ "recommendation", FT_ENUM, FF_READONLY | FF_COMPUTED, 0, 0, recommendations, NULL, NULL,
	  NULL, "Computed (SPEC §3.3): pursue (both >= 3.5), share (worth >= 3.5, winnable < 3.5), "
	  "drop (both < 2.5), otherwise qualify; null until both are known." },
	{ "warnings", FT_JSON, FF_READONLY | FF_COMPUTED, 0, 0, NULL, NULL, NULL, NULL,
	  "Computed stage-behaviour warnings (SPEC §3.2): quote_before_needs, no_decision_maker, "
	  "no_coach, opponent_late, neglect_after_signature, overdue_close.",
	  "{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
	  "\"code\":{\"type\":\"string\"},\"message\":{\"type\":\"string\"}}}}" },
	{ "_quotes", FT_INT, FF_READONLY | FF_DERIVED | FF_INTERNAL },
	{ "_decision_makers", FT_INT, FF_READONLY | FF_DERIVED | FF_INTERNAL },
	{ "_coaches", FT_INT, FF_READONLY | FF_DERIVED | FF_INTERNAL },
	{ "_opponents", FT_INT, FF_READONLY | FF_DERIVED | FF_INTERNAL },
	{ "_account_last_touch", FT_TIME, FF_READONLY | FF_DERIVED | FF_INTERNAL },
	{ "_account_owner", FT_INT, FF_READONLY | FF_DERIVED | FF_INTERNAL },
};

static const struct field activity_fields[] = {
	SYSTEM_FIELDS,
	REF("account_id", FF_REQUIRED | FF_FILTER | FF_CREATEONLY, "account", "The account followed up."),
	JSONF("contact_ids", FF_NOTNULL, check_id_list, "[]",
	      "Contacts of the same account involved.",
	      "{\"type\":\"array\",\"maxItems\":100,\"items\":{\"type\":\"integer\"}}"),
	REF("opportunity_id", FF_FILTER, "opportunity", "An opportunity of the same account."),
	ENUM("channel", FF_REQUIRED | FF_FILTER | FF_NOTNULL, model_channels, NULL,
	     "phone | wechat | sms | visit | invite | email | meeting | quote | demo | other."),
	{ "occurred_at", FT_TIME, FF_SORT | FF_NOTNULL, 0, 0, NULL, NULL, NULL, NULL,
	  "When it happened (defaults to now)." },
	{ "effective", FT_BOOL, FF_FILTER | FF_NOTNULL, 0, 0, NULL, NULL, "true", NULL,
	  "Only effective follow-ups count as touches." },
	TEXT("summary", 0, LONG, "What was said and agreed."),
	DATE("next_touch_on", FF_SORT, "When to follow up next."),
	{ "user_id", FT_REF, FF_READONLY | FF_FILTER, 1, INT64_BIG, NULL, "user", NULL, NULL,
	  "Who logged it." },
};

static const struct field stakeholder_fields[] = {
	SYSTEM_FIELDS,
	REF("opportunity_id", FF_READONLY | FF_FILTER, "opportunity", "The opportunity (from the path)."),
	REF("contact_id", FF_REQUIRED | FF_CREATEONLY | FF_FILTER, "contact",
	    "A contact of the opportunity's account; one stakeholder per contact."),
	ENUM("role", FF_FILTER, model_cute_roles, NULL,
	     "CUTE role: decision_maker | user | technical_gatekeeper | coach."),
	JSONF("tags", FF_NOTNULL, check_buyer_tags, "[]", "Traditional tags: initiator, purchaser, operator.",
	      "{\"type\":\"array\",\"items\":{\"type\":\"string\",\"enum\":[\"initiator\","
	      "\"purchaser\",\"operator\"]}}"),
	ENUM("attitude", FF_FILTER | FF_NOTNULL, model_attitudes, "\"neutral\"",
	     "Toward us: coach (+2) | supporter (+1) | neutral (0) | non_supporter (-1) | opponent (-2)."),
	{ "influence", FT_INT, FF_SORT | FF_NOTNULL, 1, 5, NULL, NULL, "3", NULL,
	  "Influence on this purchase, 1-5." },
	JSONF("company_needs", 0, check_needs, NULL, "Company needs: {text, tags} (cost, efficiency...).",
	      "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"},"
	      "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}}}"),
	JSONF("personal_needs", 0, check_needs, NULL,
	      "Personal needs: {text, tags} (recognition, promotion, security...).",
	      "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"},"
	      "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}}}"),
};

static const struct field lead_fields[] = {
	SYSTEM_FIELDS,
	TEXT("company", FF_REQUIRED | FF_SORT, SHORT, "Company name; matched to accounts on conversion."),
	TEXT("contact_name", 0, SHORT, "The person to call."),
	TEXT("phone", 0, 64, "Phone."),
	TEXT("email", 0, 254, "E-mail."),
	TEXT("source", FF_FILTER | FF_SORT, SHORT, "Where the lead came from; picks the distribution rule."),
	REF("assignee_id", FF_FILTER | FF_SORT, "user",
	    "The rep or partner working it; set by the source's rule when omitted."),
	ENUM("status", FF_FILTER | FF_SORT | FF_NOTNULL, model_lead_statuses, "\"new\"",
	     "new | working | converted | disqualified (converted is set by /convert)."),
	TEXT("notes", 0, LONG, "Notes."),
	REF("converted_account_id", FF_READONLY | FF_FILTER, "account", "The account it became."),
	REF("converted_contact_id", FF_READONLY, "contact", "The contact it became."),
	REF("converted_opportunity_id", FF_READONLY, "opportunity", "The opportunity it opened."),
};

static const struct field order_fields[] = {
	SYSTEM_FIELDS,
	REF("account_id", FF_REQUIRED | FF_FILTER | FF_CREATEONLY, "account", "The buying account."),
	TEXT("product", FF_REQUIRED | FF_FILTER | FF_SORT, SHORT, "What was bought."),
	{ "quantity", FT_INT, FF_NOTNULL, 0, INT64_BIG, NULL, NULL, "1", NULL, "How many." },
	{ "amount", FT_INT, FF_SORT | FF_NOTNULL, 0, INT64_BIG, NULL, NULL, "0", NULL,
	  "Amount in minor currency units." },
	DATE("ordered_on", FF_REQUIRED | FF_SORT, "Order date."),
	DATE("paid_on", FF_SORT, "Payment date."),
};

/* "2026-Q4" or "2026-11". */
static int check_period(const struct field *f, json_t *v, struct dm_err *e)
{
	const char *p = json_string_value(v);
	int ok = strlen(p) == 7 && p[4] == '-';
	for (int i = 0; ok && i < 4; i++)
		ok = p[i] >= '0' && p[i] <= '9';
	if (ok && p[5] == 'Q')
		ok = p[6] >= '1' && p[6] <= '4';
	else if (ok)
		ok = p[5] >= '0' && p[5] <= '1' && p[6] >= '0' && p[6] <= '9' &&
		     (p[5] - '0') * 10 + (p[6] - '0') >= 1 && (p[5] - '0') * 10 + (p[6] - '0') <= 12;
	if (!ok)
		return dm_fail(e, DM_EINVAL, f->name, "period must be a quarter like 2026-Q4 or a month "
			       "like 2026-11");
	return 0;
}

static const struct field quota_fields[] = {
	SYSTEM_FIELDS,
	REF("user_id", FF_FILTER | FF_CREATEONLY, "user", "The rep or manager the quota is for (or team_id)."),
	REF("team_id", FF_FILTER | FF_CREATEONLY, "team", "The team the quota is for (or user_id)."),
	{ "period", FT_TEXT, FF_REQUIRED | FF_FILTER | FF_SORT | FF_CREATEONLY, 7, 7, NULL, NULL,
	  NULL, check_period, "A quarter (2026-Q4) or a month (2026-11)." },
	{ "amount", FT_INT, FF_REQUIRED | FF_SORT | FF_NOTNULL, 0, INT64_BIG, NULL, NULL, NULL, NULL,
	  "Target won amount in the period, minor currency units." },
};

#define KIND(var, nm, pl, ti, vis, fl, sf, doc)                                                \
	const struct kind var = { nm, pl, ti, var##_fields_, sizeof var##_fields_ / sizeof var##_fields_[0], \
				  vis, fl, sf, doc }

#define kind_user_fields_ user_fields
#define kind_team_fields_ team_fields
#define kind_account_fields_ account_fields
#define kind_contact_fields_ contact_fields
#define kind_opportunity_fields_ opportunity_fields
#define kind_activity_fields_ activity_fields
#define kind_stakeholder_fields_ stakeholder_fields
#define kind_lead_fields_ lead_fields
#define kind_order_fields_ order_fields
#define kind_quota_fields_ quota_fields

KIND(kind_user, "user", "users", "User", VIS_DIRECTORY, KF_NAME_KEY, "display_name",
     "A person who signs in: admin, manager, rep or partner.");
KIND(kind_team, "team", "teams", "Team", VIS_DIRECTORY, KF_NAME_KEY, "name",
     "A team (territory); teams form a tree.");
KIND(kind_account, "account", "accounts", "Account", VIS_OWNER, KF_NAME_KEY | KF_UNIQUE_NAME,
     "name", "A customer company (客户).");
KIND(kind_contact, "contact", "contacts", "Contact", VIS_ACCOUNT, KF_NAME_KEY, "name",
     "A person at a customer (联系人).");
KIND(kind_opportunity, "opportunity", "opportunities", "Opportunity", VIS_ACCOUNT_OR_OWNER,
     KF_NAME_KEY, "name", "A deal in the funnel (商机).");
KIND(kind_activity, "activity", "activities", "Activity", VIS_ACCOUNT, 0, NULL,
     "A follow-up (跟进记录).");

KIND(kind_stakeholder, "stakeholder", "stakeholders", "Stakeholder", VIS_OPPORTUNITY, KF_NESTED, NULL,
     "A contact's part in one opportunity: the buyer map's five dimensions (SPEC §4).");

KIND(kind_lead, "lead", "leads", "Lead", VIS_LEAD, KF_NAME_KEY, "company",
     "A lead (线索): a company and person to qualify, assigned to a rep or a partner.");
KIND(kind_order, "order", "orders", "Order", VIS_ACCOUNT, 0, NULL,
     "A purchase (购买记录): the account's purchase trajectory.");

KIND(kind_quota, "quota", "quotas", "Quota", VIS_QUOTA, 0, NULL,
     "A sales target for a user or a team in a period.");

const struct kind *const model_kinds[] = { &kind_user, &kind_team, &kind_account, &kind_contact,
					   &kind_opportunity, &kind_activity, &kind_stakeholder,
					   &kind_lead, &kind_order, &kind_quota, NULL };

/* ---- lookups -------------------------------------------------------------------------------- */

const struct kind *model_kind(const char *name)
{
	for (int i = 0; model_kinds[i]; i++)
		if (!strcmp(model_kinds[i]->name, name))
			return model_kinds[i];
	return NULL;
}

const struct kind *model_kind_by_plural(const char *plural)
{
	for (int i = 0; model_kinds[i]; i++)
		if (!strcmp(model_kinds[i]->plural, plural))
			return model_kinds[i];
	return NULL;
}

const struct field *model_field(const struct kind *k, const char *name)
{
	for (size_t i = 0; i < k->nfields; i++)
		if (!strcmp(k->fields[i].name, name))
			return &k->fields[i];
	return NULL;
}

int model_enum_index(const char *const *values, const char *s)
{
	for (int i = 0; values[i]; i++)
		if (!strcmp(values[i], s))
			return i;
	return -1;
}

int model_role_parse(const char *s, enum role *out)
{
	int i = model_enum_index(model_roles, s);
	if (i < 0)
		return -1;
	*out = (enum role)i;
	return 0;
}

const char *model_role_name(enum role r)
{
	return model_roles[r];
}

int model_is_column(const struct field *f)
{
	return !(f->flags & (FF_DERIVED | FF_WRITEONLY | FF_COMPUTED));
}

int model_is_selected(const struct field *f)
{
	return !(f->flags & (FF_WRITEONLY | FF_COMPUTED));
}

int model_query_selects(const struct field *f, const char *const *only)
{
	if (!model_is_selected(f))
		return 0;
	if (!only)
		return 1;
	/* only of the fields' own names (followup_account_list_layout): found by address, without
	 * a string compare for each of the kind's fields and each name */
	for (const char *const *o = only; *o; o++)
		if (*o == f->name)
			return 1;
	for (; *only; only++)
		if (!strcmp(*only, f->name))
			return 1;
	return 0;
}

json_t *model_record_inserted(const struct kind *k, json_t *rec, int64_t id, const char *at)
{
	json_t *o = json_object();
	for (size_t i = 0; i < k->nfields; i++) {
		const struct field *f = &k->fields[i];
		json_t *v;
		if (!model_is_selected(f))
			continue;
		if (!model_is_column(f)) {
			json_decref(o);
			return NULL;
		}
		if (!strcmp(f->name, "id"))
			v = json_integer(id);
		else if (!strcmp(f->name, "created_at") || !strcmp(f->name, "updated_at"))
			v = json_string(at);
		else if (!strcmp(f->name, "version"))
			v = json_integer(1);
		else if (!strcmp(f->name, "archived_at") || !(v = json_object_get(rec, f->name)))
			v = json_null();
		else if (f->type == FT_BOOL)   /* stored as 0/1, read back as a boolean */
			v = json_boolean(json_is_true(v));
		else
			v = json_is_object(v) || json_is_array(v) ? json_deep_copy(v) : json_incref(v);
		/* the field's name: static, valid UTF-8 */
		json_object_set_new_nocheck(o, f->name, v);
	}
	return o;
}

/* ---- validation ---------------------------------------------------------------------------- */

static int check_value(const struct field *f, json_t *v, struct dm_err *e)
{
	int64_t ms;
	switch (f->type) {
	case FT_TEXT:
		if (check_text_value(f->name, v, (size_t)f->max, (f->flags & FF_REQUIRED) != 0, e))
			return e->code;
		if (f->min && text_utf8_len(json_string_value(v)) < (size_t)f->min)
			return dm_fail(e, DM_EINVAL, f->name, "%s must be at least %lld characters",
				       f->name, (long long)f->min);
		return f->check ? f->check(f, v, e) : 0;
	case FT_INT:
	case FT_REF:
		if (!json_is_integer(v))
			return dm_fail(e, DM_EINVAL, f->name, "%s must be a whole number", f->name);
		if (json_integer_value(v) < f->min || (f->max && json_integer_value(v) > f->max))
			return dm_fail(e, DM_EINVAL, f->name, "%s must be from %lld to %lld", f->name,
				       (long long)f->min, (long long)f->max);
		return 0;
	case FT_BOOL:
		if (!json_is_boolean(v))
			return dm_fail(e, DM_EINVAL, f->name, "%s must be true or false", f->name);
		return 0;
	case FT_DATE:
		if (!json_is_string(v) || !date_valid(json_string_value(v)))
			return dm_fail(e, DM_EINVAL, f->name, "%s must be a date YYYY-MM-DD", f->name);
		return 0;
	case FT_TIME:
		if (!json_is_string(v) || time_parse(json_string_value(v), &ms))
			return dm_fail(e, DM_EINVAL, f->name,
				       "%s must be an RFC 3339 time like 2026-11-25T09:30:00+08:00",
				       f->name);
		return 0;
	case FT_ENUM:
		if (!json_is_string(v) || model_enum_index(f->values, json_string_value(v)) < 0) {
			char list[300] = "";
			size_t n = 0;
			for (int i = 0; f->values[i] && n < sizeof list - 40; i++)
				n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "",
						      f->values[i]);
			return dm_fail(e, DM_EINVAL, f->name, "%s must be one of: %s", f->name, list);
		}
		return 0;
	case FT_JSON:
		return f->check ? f->check(f, v, e) : 0;
	}
	return dm_fail(e, DM_EINTERNAL, f->name, "unhandled field type");
}

/* The stored form of a valid value: times normalised to UTC, text trimmed of nothing. */
static json_t *normalise(const struct field *f, json_t *v)
{
	if (f->type == FT_TIME && json_is_string(v)) {
		int64_t ms;
		char ts[TIME_STR_LEN];
		time_parse(json_string_value(v), &ms);
		time_format(ms, ts);
		return json_string(ts);
	}
	return json_incref(v);
}

/* The parsed defaults of every field, parsed once (imports apply them to every row). */
#define MAX_KINDS 32
#define MAX_FIELDS 64
static json_t *defaults[MAX_KINDS][MAX_FIELDS];
static pthread_once_t defaults_once = PTHREAD_ONCE_INIT;

static void parse_defaults(void)
{
	for (int i = 0; model_kinds[i] && i < MAX_KINDS; i++)
		for (size_t f = 0; f < model_kinds[i]->nfields && f < MAX_FIELDS; f++)
			if (model_kinds[i]->fields[f].dflt)
				defaults[i][f] = json_loads(model_kinds[i]->fields[f].dflt, JSON_DECODE_ANY,
							    NULL);
}

/* A new value of field f's default: scalars are shared (never changed in place), lists and
 * objects copied. */
static json_t *default_of(const struct kind *k, const struct field *f)
{
	pthread_once(&defaults_once, parse_defaults);
	for (int i = 0; model_kinds[i] && i < MAX_KINDS; i++) {
		if (model_kinds[i] != k)
			continue;
		json_t *d = defaults[i][f - k->fields];
		return json_is_object(d) || json_is_array(d) ? json_deep_copy(d) : json_incref(d);
	}
	return json_loads(f->dflt, JSON_DECODE_ANY, NULL);
}

int model_check(const struct kind *k, json_t *body, enum check_mode mode, json_t **out,
		struct dm_err *e)
{
	const char *key;
	json_t *v;
	*out = NULL;
	if (!json_is_object(body))
		return dm_fail(e, DM_EJSON, NULL, "the body must be a JSON object");
	json_object_foreach(body, key, v) {
		const struct field *f = model_field(k, key);
		if (!f || (f->flags & FF_INTERNAL))
			return dm_fail(e, DM_EUNKNOWN, key, "%s has no field \"%.60s\"", k->name, key);
		if ((f->flags & FF_READONLY) || (mode == CHECK_PATCH && (f->flags & FF_CREATEONLY)))
			return dm_fail(e, DM_EREADONLY, key, "%s cannot be set%s", key,
				       f->flags & FF_CREATEONLY ? " after creation" : "");
		if (json_is_null(v)) {
			if (f->flags & (FF_REQUIRED | FF_NOTNULL))
				return dm_fail(e, mode == CHECK_CREATE && (f->flags & FF_REQUIRED) ?
						   DM_EREQUIRED : DM_EINVAL, key,
					       "%s cannot be null", key);
			continue;
		}
		if (check_value(f, v, e))
			return e->code;
	}
	json_t *o = json_object();
	for (size_t i = 0; i < k->nfields; i++) {
		const struct field *f = &k->fields[i];
		json_t *given = json_object_get(body, f->name);
		if (given) {
			json_object_set_new(o, f->name, normalise(f, given));
		} else if (mode == CHECK_CREATE && (f->flags & FF_REQUIRED)) {
			json_decref(o);
			return dm_fail(e, DM_EREQUIRED, f->name, "%s is required", f->name);
		} else if (mode == CHECK_CREATE && f->dflt) {
			json_object_set_new(o, f->name, default_of(k, f));
		}
	}
	*out = o;
	return 0;
}
