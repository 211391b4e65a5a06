/* test_model.c — unit tests of src/model: the field tables and model_check() for every kind. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "model/model.h"

/* ---- helpers --------------------------------------------------------------------------------- */

static json_t *parse(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	if (!j)
		fail_msg("bad JSON in test: %s: %s", text, je.text);
	return j;
}

/* model_check on a JSON text; returns the code and leaves the detail in *e. *out is set on
 * success (caller decrefs) and must be NULL on failure. */
static int check(const struct kind *k, enum check_mode mode, const char *text, json_t **out,
		 struct dm_err *e)
{
	json_t *body = parse(text);
	json_t *o = (json_t *)0x1;
	dm_err_clear(e);
	int rc = model_check(k, body, mode, &o, e);
	json_decref(body);
	if (rc) {
		assert_null(o);
		assert_int_equal(e->code, rc);
	} else {
		assert_non_null(o);
	}
	if (out)
		*out = o;
	else
		json_decref(o);
	return rc;
}

/* Expect failure code with field named. */
static void expect_fail(const struct kind *k, enum check_mode mode, const char *text,
			enum dm_code code, const char *field)
{
	struct dm_err e;
	int rc = check(k, mode, text, NULL, &e);
	if (rc != (int)code)
		fail_msg("%s %s: %s: expected %s, got %s (%s: %s)", k->name,
			 mode == CHECK_CREATE ? "create" : "patch", text, dm_code_name(code),
			 dm_code_name(rc), e.field, e.message);
	if (field && strcmp(e.field, field))
		fail_msg("%s: %s: expected field \"%s\", got \"%s\" (%s)", k->name, text, field, e.field,
			 e.message);
	assert_true(e.message[0] != '\0');
}

static json_t *expect_ok(const struct kind *k, enum check_mode mode, const char *text)
{
	struct dm_err e;
	json_t *out = NULL;
	int rc = check(k, mode, text, &out, &e);
	if (rc)
		fail_msg("%s %s: %s: refused: %s %s: %s", k->name,
			 mode == CHECK_CREATE ? "create" : "patch", text, dm_code_name(rc), e.field,
			 e.message);
	return out;
}

static void assert_json(json_t *got, const char *want_text)
{
	json_t *want = json_loads(want_text, JSON_DECODE_ANY, NULL);
	assert_non_null(want);
	if (!json_equal(got, want)) {
		char *g = json_dumps(got, JSON_ENCODE_ANY | JSON_SORT_KEYS);
		fail_msg("expected %s, got %s", want_text, g ? g : "(null)");
	}
	json_decref(want);
}

static char *repeat(const char *unit, size_t times)
{
	size_t n = strlen(unit);
	char *s = malloc(n * times + 1);
	for (size_t i = 0; i < times; i++)
		memcpy(s + i * n, unit, n);
	s[n * times] = '\0';
	return s;
}

/* ---- lookups --------------------------------------------------------------------------------- */

static void lookups(void **state)
{
	assert_ptr_equal(model_kind("account"), &kind_account);
	assert_ptr_equal(model_kind("activity"), &kind_activity);
	assert_null(model_kind("accounts"));
	assert_ptr_equal(model_kind_by_plural("opportunities"), &kind_opportunity);
	assert_null(model_kind_by_plural("opportunity"));
	assert_non_null(model_field(&kind_contact, "reports_to_id"));
	assert_null(model_field(&kind_contact, "owner_id"));
	assert_int_equal(model_enum_index(model_stages, "interest"), 0);
	assert_int_equal(model_enum_index(model_stages, "lost"), 7);
	assert_int_equal(model_enum_index(model_stages, "Lost"), -1);
	enum role r = ROLE_PARTNER;
	assert_int_equal(model_role_parse("manager", &r), 0);
	assert_int_equal(r, ROLE_MANAGER);
	assert_int_equal(model_role_parse("boss", &r), -1);
	assert_string_equal(model_role_name(ROLE_REP), "rep");
	/* every kind is listed once, and every field name is unique within its kind */
	int n = 0;
	for (int i = 0; model_kinds[i]; i++, n++)
		for (size_t a = 0; a < model_kinds[i]->nfields; a++)
			for (size_t b = a + 1; b < model_kinds[i]->nfields; b++)
				assert_string_not_equal(model_kinds[i]->fields[a].name,
							model_kinds[i]->fields[b].name);
	assert_int_equal(n, 10);
	assert_false(model_is_column(model_field(&kind_account, "touches")));
	assert_false(model_is_column(model_field(&kind_user, "password")));
	assert_true(model_is_column(model_field(&kind_account, "name")));
}

/* ---- generic rules, over every kind ---------------------------------------------------------- */

static void not_an_object(void **state)
{
	json_t *o = NULL;
	struct dm_err e;
	dm_err_clear(&e);
	json_t *arr = json_array();
	assert_int_equal(model_check(&kind_account, arr, CHECK_CREATE, &o, &e), DM_EJSON);
	assert_null(o);
	json_decref(arr);
	assert_int_equal(model_check(&kind_account, NULL, CHECK_PATCH, &o, &e), DM_EJSON);
}

static void unknown_fields(void **state)
{
	for (int i = 0; model_kinds[i]; i++) {
		expect_fail(model_kinds[i], CHECK_CREATE, "{\"no_such_field\": 1}", DM_EUNKNOWN,
			    "no_such_field");
		expect_fail(model_kinds[i], CHECK_PATCH, "{\"no_such_field\": null}", DM_EUNKNOWN,
			    "no_such_field");
	}
	expect_fail(&kind_account, CHECK_CREATE, "{\"name\": \"A\", \"Name\": \"B\"}", DM_EUNKNOWN,
		    "Name");
	expect_fail(&kind_account, CHECK_PATCH, "{\"segments\": \"x\"}", DM_EUNKNOWN, "segments");
	expect_fail(&kind_account, CHECK_PATCH, "{\"_orders\": 1}", DM_EUNKNOWN, "_orders");
	expect_fail(&kind_contact, CHECK_PATCH, "{\"owner_id\": 1}", DM_EUNKNOWN, "owner_id");
	expect_fail(&kind_account, CHECK_PATCH, "{\"name_key\": \"x\"}", DM_EUNKNOWN, "name_key");
	expect_fail(&kind_user, CHECK_PATCH, "{\"password_hash\": \"x\"}", DM_EUNKNOWN,
		    "password_hash");
}

static void read_only_fields(void **state)
{
	/* every read-only field of every kind is refused, in both modes, whatever its value */
	for (int i = 0; model_kinds[i]; i++) {
		const struct kind *k = model_kinds[i];
		for (size_t j = 0; j < k->nfields; j++) {
			const struct field *f = &k->fields[j];
			if (!(f->flags & FF_READONLY) || (f->flags & FF_INTERNAL))
				continue;
			char body[128];
			snprintf(body, sizeof body, "{\"%s\": 1}", f->name);
			expect_fail(k, CHECK_CREATE, body, DM_EREADONLY, f->name);
			expect_fail(k, CHECK_PATCH, body, DM_EREADONLY, f->name);
			snprintf(body, sizeof body, "{\"%s\": null}", f->name);
			expect_fail(k, CHECK_PATCH, body, DM_EREADONLY, f->name);
		}
	}
	expect_fail(&kind_account, CHECK_CREATE, "{\"name\": \"A\", \"id\": 5}", DM_EREADONLY, "id");
	expect_fail(&kind_account, CHECK_PATCH, "{\"version\": 3}", DM_EREADONLY, "version");
	expect_fail(&kind_account, CHECK_PATCH, "{\"touches\": 12}", DM_EREADONLY, "touches");
	expect_fail(&kind_account, CHECK_PATCH, "{\"last_touch_at\": \"2026-01-01\"}", DM_EREADONLY,
		    "last_touch_at");
	expect_fail(&kind_account, CHECK_PATCH, "{\"archived_at\": null}", DM_EREADONLY,
		    "archived_at");
	expect_fail(&kind_activity, CHECK_CREATE,
		    "{\"account_id\": 1, \"channel\": \"phone\", \"user_id\": 2}", DM_EREADONLY,
		    "user_id");
}

static void create_only_fields(void **state)
{
	expect_fail(&kind_contact, CHECK_PATCH, "{\"account_id\": 2}", DM_EREADONLY, "account_id");
	expect_fail(&kind_contact, CHECK_PATCH, "{\"name\": \"x\", \"account_id\": 2}", DM_EREADONLY,
		    "account_id");
	expect_fail(&kind_opportunity, CHECK_PATCH, "{\"account_id\": 2}", DM_EREADONLY,
		    "account_id");
	expect_fail(&kind_activity, CHECK_PATCH, "{\"account_id\": 2}", DM_EREADONLY, "account_id");
	json_t *o = expect_ok(&kind_contact, CHECK_CREATE, "{\"account_id\": 2, \"name\": \"王总\"}");
	assert_int_equal(json_integer_value(json_object_get(o, "account_id")), 2);
	json_decref(o);
}

static void required_fields(void **state)
{
	expect_fail(&kind_account, CHECK_CREATE, "{}", DM_EREQUIRED, "name");
	expect_fail(&kind_account, CHECK_CREATE, "{\"industry\": \"印刷\"}", DM_EREQUIRED, "name");
	expect_fail(&kind_account, CHECK_CREATE, "{\"name\": null}", DM_EREQUIRED, "name");
	expect_fail(&kind_team, CHECK_CREATE, "{\"parent_id\": 1}", DM_EREQUIRED, "name");
	expect_fail(&kind_user, CHECK_CREATE, "{\"role\": \"rep\"}", DM_EREQUIRED, "username");
	expect_fail(&kind_user, CHECK_CREATE, "{\"username\": \"li\"}", DM_EREQUIRED, "role");
	expect_fail(&kind_contact, CHECK_CREATE, "{\"name\": \"王总\"}", DM_EREQUIRED, "account_id");
	expect_fail(&kind_contact, CHECK_CREATE, "{\"account_id\": 1}", DM_EREQUIRED, "name");
	expect_fail(&kind_opportunity, CHECK_CREATE, "{\"account_id\": 1}", DM_EREQUIRED, "name");
	expect_fail(&kind_opportunity, CHECK_CREATE, "{\"name\": \"x\"}", DM_EREQUIRED, "account_id");
	expect_fail(&kind_activity, CHECK_CREATE, "{\"account_id\": 1}", DM_EREQUIRED, "channel");
	expect_fail(&kind_activity, CHECK_CREATE, "{\"channel\": \"visit\"}", DM_EREQUIRED,
		    "account_id");
	expect_fail(&kind_activity, CHECK_CREATE, "{\"channel\": null, \"account_id\": 1}",
		    DM_EREQUIRED, "channel");
	/* generic: each required field left out of an otherwise empty create names itself */
	for (int i = 0; model_kinds[i]; i++) {
		const struct kind *k = model_kinds[i];
		struct dm_err e;
		int rc = check(k, CHECK_CREATE, "{}", NULL, &e);
		int any = 0;
		for (size_t j = 0; j < k->nfields; j++)
			if (k->fields[j].flags & FF_REQUIRED) {
				if (!any)
					assert_string_equal(e.field, k->fields[j].name);
				any = 1;
			}
		assert_int_equal(rc, any ? DM_EREQUIRED : 0);
	}
	/* a patch need not repeat required fields, but may not null them or empty them */
	json_t *o = expect_ok(&kind_account, CHECK_PATCH, "{}");
	assert_int_equal(json_object_size(o), 0);
	json_decref(o);
	expect_fail(&kind_account, CHECK_PATCH, "{\"name\": null}", DM_EINVAL, "name");
	expect_fail(&kind_account, CHECK_PATCH, "{\"name\": \"\"}", DM_EINVAL, "name");
	expect_fail(&kind_account, CHECK_CREATE, "{\"name\": \"\"}", DM_EINVAL, "name");
}

static void not_null_fields(void **state)
{
	expect_fail(&kind_account, CHECK_PATCH, "{\"importance\": null}", DM_EINVAL, "importance");
	expect_fail(&kind_account, CHECK_CREATE, "{\"name\": \"A\", \"lifecycle\": null}", DM_EINVAL,
		    "lifecycle");
	expect_fail(&kind_account, CHECK_PATCH, "{\"installed_base\": null}", DM_EINVAL,
		    "installed_base");
	expect_fail(&kind_opportunity, CHECK_PATCH, "{\"amount\": null}", DM_EINVAL, "amount");
	expect_fail(&kind_activity, CHECK_PATCH, "{\"effective\": null}", DM_EINVAL, "effective");
	expect_fail(&kind_activity, CHECK_PATCH, "{\"occurred_at\": null}", DM_EINVAL, "occurred_at");
	expect_fail(&kind_user, CHECK_PATCH, "{\"role\": null}", DM_EINVAL, "role");
	/* nullable fields may be cleared, and the null is kept as a change */
	json_t *o = expect_ok(&kind_account, CHECK_PATCH,
			      "{\"industry\": null, \"owner_id\": null, \"first_deal_on\": null}");
	assert_int_equal(json_object_size(o), 3);
	assert_true(json_is_null(json_object_get(o, "industry")));
	assert_true(json_is_null(json_object_get(o, "owner_id")));
	json_decref(o);
	o = expect_ok(&kind_contact, CHECK_PATCH, "{\"reports_to_id\": null, \"rank\": null}");
	assert_true(json_is_null(json_object_get(o, "reports_to_id")));
	json_decref(o);
}

/* ---- types and values ------------------------------------------------------------------------ */

static void wrong_types(void **state)
{
	expect_fail(&kind_account, CHECK_CREATE, "{\"name\": 42}", DM_EINVAL, "name");
	expect_fail(&kind_account, CHECK_CREATE, "{\"name\": [\"A\"]}", DM_EINVAL, "name");
	expect_fail(&kind_account, CHECK_PATCH, "{\"name\": true}", DM_EINVAL, "name");
	expect_fail(&kind_account, CHECK_PATCH, "{\"owner_id\": \"7\"}", DM_EINVAL, "owner_id");
	expect_fail(&kind_account, CHECK_PATCH, "{\"owner_id\": 7.0}", DM_EINVAL, "owner_id");
	expect_fail(&kind_account, CHECK_PATCH, "{\"owner_id\": 0}", DM_EINVAL, "owner_id");
	expect_fail(&kind_account, CHECK_PATCH, "{\"owner_id\": -3}", DM_EINVAL, "owner_id");
	expect_fail(&kind_account, CHECK_PATCH, "{\"owner_id\": 9007199254740992}", DM_EINVAL,
		    "owner_id");
	expect_fail(&kind_opportunity, CHECK_PATCH, "{\"amount\": -1}", DM_EINVAL, "amount");
	expect_fail(&kind_opportunity, CHECK_PATCH, "{\"amount\": 12.5}", DM_EINVAL, "amount");
	expect_fail(&kind_opportunity, CHECK_PATCH, "{\"amount\": \"100\"}", DM_EINVAL, "amount");
	expect_fail(&kind_opportunity, CHECK_PATCH, "{\"amount\": 9007199254740992}", DM_EINVAL,
		    "amount");
	json_t *o = expect_ok(&kind_opportunity, CHECK_PATCH, "{\"amount\": 9007199254740991}");
	assert_int_equal(json_integer_value(json_object_get(o, "amount")), 9007199254740991LL);
	json_decref(o);
	o = expect_ok(&kind_opportunity, CHECK_PATCH, "{\"amount\": 0}");
	json_decref(o);
	expect_fail(&kind_activity, CHECK_PATCH, "{\"effective\": \"true\"}", DM_EINVAL, "effective");
	expect_fail(&kind_activity, CHECK_PATCH, "{\"effective\": 1}", DM_EINVAL, "effective");
	expect_fail(&kind_user, CHECK_PATCH, "{\"active\": 0}", DM_EINVAL, "active");
	expect_fail(&kind_account, CHECK_PATCH, "{\"importance\": 1}", DM_EINVAL, "importance");
	expect_fail(&kind_account, CHECK_PATCH, "{\"first_deal_on\": 20260101}", DM_EINVAL,
		    "first_deal_on");
	expect_fail(&kind_activity, CHECK_PATCH, "{\"occurred_at\": 1700000000000}", DM_EINVAL,
		    "occurred_at");
	expect_fail(&kind_account, CHECK_PATCH, "{\"installed_base\": {}}", DM_EINVAL,
		    "installed_base");
	expect_fail(&kind_activity, CHECK_PATCH, "{\"contact_ids\": 3}", DM_EINVAL, "contact_ids");
	/* the first bad field is named, and a later good one does not hide it */
	expect_fail(&kind_account, CHECK_PATCH, "{\"name\": \"ok\", \"phone\": 12345}", DM_EINVAL,
		    "phone");
}

static void enums(void **state)
{
	expect_fail(&kind_account, CHECK_PATCH, "{\"importance\": \"D\"}", DM_EINVAL, "importance");
	expect_fail(&kind_account, CHECK_PATCH, "{\"importance\": \"a\"}", DM_EINVAL, "importance");
	expect_fail(&kind_account, CHECK_PATCH, "{\"importance\": \"vvip\"}", DM_EINVAL, "importance");
	expect_fail(&kind_account, CHECK_PATCH, "{\"lifecycle\": \"dead\"}", DM_EINVAL, "lifecycle");
	expect_fail(&kind_opportunity, CHECK_PATCH, "{\"stage\": \"closed\"}", DM_EINVAL, "stage");
	expect_fail(&kind_opportunity, CHECK_PATCH, "{\"stage\": \"\"}", DM_EINVAL, "stage");
	expect_fail(&kind_activity, CHECK_PATCH, "{\"channel\": \"fax\"}", DM_EINVAL, "channel");
	expect_fail(&kind_contact, CHECK_PATCH, "{\"rank\": \"ceo\"}", DM_EINVAL, "rank");
	expect_fail(&kind_user, CHECK_PATCH, "{\"role\": \"root\"}", DM_EINVAL, "role");
	expect_fail(&kind_user, CHECK_PATCH, "{\"locale\": \"zh_CN\"}", DM_EINVAL, "locale");
	struct dm_err e;
	check(&kind_opportunity, CHECK_PATCH, "{\"stage\": \"closed\"}", NULL, &e);
	assert_non_null(strstr(e.message, "interest"));   /* the message lists the allowed values */
	assert_non_null(strstr(e.message, "lost"));
	for (int i = 0; model_stages[i]; i++) {
		char body[64];
		snprintf(body, sizeof body, "{\"stage\": \"%s\"}", model_stages[i]);
		json_decref(expect_ok(&kind_opportunity, CHECK_PATCH, body));
	}
	for (int i = 0; model_channels[i]; i++) {
		char body[64];
		snprintf(body, sizeof body, "{\"channel\": \"%s\"}", model_channels[i]);
		json_decref(expect_ok(&kind_activity, CHECK_PATCH, body));
	}
	json_decref(expect_ok(&kind_account, CHECK_PATCH, "{\"importance\": \"VVIP\"}"));
	json_decref(expect_ok(&kind_user, CHECK_PATCH, "{\"locale\": \"en\"}"));
}

static void dates_and_times(void **state)
{
	json_t *o = expect_ok(&kind_account, CHECK_PATCH, "{\"first_deal_on\": \"2024-02-29\"}");
	assert_string_equal(json_string_value(json_object_get(o, "first_deal_on")), "2024-02-29");
	json_decref(o);
	expect_fail(&kind_account, CHECK_PATCH, "{\"first_deal_on\": \"2025-02-29\"}", DM_EINVAL,
		    "first_deal_on");
	expect_fail(&kind_account, CHECK_PATCH, "{\"first_deal_on\": \"2026-13-01\"}", DM_EINVAL,
		    "first_deal_on");
	expect_fail(&kind_account, CHECK_PATCH, "{\"first_deal_on\": \"2026-11-25T00:00:00Z\"}",
		    DM_EINVAL, "first_deal_on");
	expect_fail(&kind_user, CHECK_PATCH, "{\"hired_on\": \"25/11/2026\"}", DM_EINVAL, "hired_on");
	expect_fail(&kind_opportunity, CHECK_PATCH, "{\"expected_close_on\": \"\"}", DM_EINVAL,
		    "expected_close_on");
	expect_fail(&kind_activity, CHECK_PATCH, "{\"next_touch_on\": \"2026-02-30\"}", DM_EINVAL,
		    "next_touch_on");
	expect_fail(&kind_activity, CHECK_PATCH, "{\"occurred_at\": \"yesterday\"}", DM_EINVAL,
		    "occurred_at");
	expect_fail(&kind_activity, CHECK_PATCH, "{\"occurred_at\": \"2026-11-25T09:30:00\"}",
		    DM_EINVAL, "occurred_at");
	expect_fail(&kind_activity, CHECK_PATCH, "{\"occurred_at\": \"2026-02-30T09:30:00Z\"}",
		    DM_EINVAL, "occurred_at");
}

static void times_normalised_to_utc(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "2026-11-25T09:30:00+08:00", "2026-11-25T01:30:00.000Z" },
		{ "2026-11-25T09:30:00.5+08:00", "2026-11-25T01:30:00.500Z" },
		{ "2026-11-25T01:30:00Z", "2026-11-25T01:30:00.000Z" },
		{ "2026-01-01T02:00:00+08:00", "2025-12-31T18:00:00.000Z" },
		{ "2026-11-25T20:37:19.123456Z", "2026-11-25T20:37:19.123Z" },
		{ "2026-11-25T09:30:00-05:00", "2026-11-25T14:30:00.000Z" },
		{ "2026-11-25", "2026-11-25T00:00:00.000Z" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char body[128];
		snprintf(body, sizeof body,
			 "{\"account_id\": 1, \"channel\": \"visit\", \"occurred_at\": \"%s\"}",
			 cases[i].in);
		json_t *o = expect_ok(&kind_activity, CHECK_CREATE, body);
		assert_string_equal(json_string_value(json_object_get(o, "occurred_at")), cases[i].out);
		json_decref(o);
		snprintf(body, sizeof body, "{\"occurred_at\": \"%s\"}", cases[i].in);
		o = expect_ok(&kind_activity, CHECK_PATCH, body);
		assert_string_equal(json_string_value(json_object_get(o, "occurred_at")), cases[i].out);
		json_decref(o);
	}
}

/* ---- defaults -------------------------------------------------------------------------------- */

static void defaults_on_create(void **state)
{
	json_t *o = expect_ok(&kind_account, CHECK_CREATE, "{\"name\": \"北京印刷厂\"}");
	assert_json(o, "{\"name\": \"北京印刷厂\", \"importance\": \"C\", \"lifecycle\": \"acquire\","
		       " \"installed_base\": []}");
	json_decref(o);

	o = expect_ok(&kind_opportunity, CHECK_CREATE, "{\"account_id\": 3, \"name\": \"二期\"}");
	assert_json(o, "{\"account_id\": 3, \"name\": \"二期\", \"amount\": 0, \"currency\": \"CNY\","
		       " \"stage\": \"interest\", \"competitors\": [], \"purchase_criteria\": []}");
	json_decref(o);

	o = expect_ok(&kind_activity, CHECK_CREATE, "{\"account_id\": 3, \"channel\": \"phone\"}");
	assert_json(o, "{\"account_id\": 3, \"channel\": \"phone\", \"effective\": true,"
		       " \"contact_ids\": []}");
	json_decref(o);

	o = expect_ok(&kind_user, CHECK_CREATE, "{\"username\": \"li\", \"role\": \"rep\"}");
	assert_json(o, "{\"username\": \"li\", \"role\": \"rep\", \"active\": true,"
		       " \"locale\": \"zh-CN\"}");
	json_decref(o);

	o = expect_ok(&kind_contact, CHECK_CREATE, "{\"account_id\": 3, \"name\": \"李\"}");
	assert_json(o, "{\"account_id\": 3, \"name\": \"李\", \"portrait\": {}}");
	json_decref(o);

	/* given values win over defaults */
	o = expect_ok(&kind_account, CHECK_CREATE,
		      "{\"name\": \"A\", \"importance\": \"VVIP\", \"lifecycle\": \"grow\","
		      " \"installed_base\": [{\"brand\": \"海德堡\"}]}");
	assert_json(o, "{\"name\": \"A\", \"importance\": \"VVIP\", \"lifecycle\": \"grow\","
		       " \"installed_base\": [{\"brand\": \"海德堡\"}]}");
	json_decref(o);
	o = expect_ok(&kind_activity, CHECK_CREATE,
		      "{\"account_id\": 3, \"channel\": \"phone\", \"effective\": false}");
	assert_true(json_is_false(json_object_get(o, "effective")));
	json_decref(o);
}

static void no_defaults_on_patch(void **state)
{
	json_t *o = expect_ok(&kind_account, CHECK_PATCH, "{\"notes\": \"回访\"}");
	assert_json(o, "{\"notes\": \"回访\"}");
	json_decref(o);
	o = expect_ok(&kind_opportunity, CHECK_PATCH, "{\"name\": \"x\"}");
	assert_json(o, "{\"name\": \"x\"}");
	json_decref(o);
	o = expect_ok(&kind_activity, CHECK_PATCH, "{\"summary\": \"s\"}");
	assert_json(o, "{\"summary\": \"s\"}");
	json_decref(o);
}

/* ---- text lengths ---------------------------------------------------------------------------- */

static void text_too_long(void **state)
{
	char *ok = repeat("字", 200);     /* 200 code points, 600 bytes: fits */
	char *bad = repeat("a", 201);
	char *body = malloc(2000);
	snprintf(body, 2000, "{\"name\": \"%s\"}", ok);
	json_t *o = expect_ok(&kind_account, CHECK_CREATE, body);
	assert_string_equal(json_string_value(json_object_get(o, "name")), ok);
	json_decref(o);
	snprintf(body, 2000, "{\"name\": \"%s\"}", bad);
	expect_fail(&kind_account, CHECK_CREATE, body, DM_EINVAL, "name");
	expect_fail(&kind_account, CHECK_PATCH, body, DM_EINVAL, "name");
	free(ok);
	free(bad);

	bad = repeat("x", 65);
	snprintf(body, 2000, "{\"phone\": \"%s\"}", bad);
	expect_fail(&kind_account, CHECK_PATCH, body, DM_EINVAL, "phone");
	snprintf(body, 2000, "{\"username\": \"%s\", \"role\": \"rep\"}", bad);
	expect_fail(&kind_user, CHECK_CREATE, body, DM_EINVAL, "username");
	free(bad);
	bad = repeat("x", 255);
	snprintf(body, 2000, "{\"email\": \"%s\"}", bad);
	expect_fail(&kind_contact, CHECK_PATCH, body, DM_EINVAL, "email");
	free(bad);
	free(body);

	char *notes = repeat("注", 20000);
	body = malloc(strlen(notes) + 64);
	snprintf(body, strlen(notes) + 64, "{\"notes\": \"%s\"}", notes);
	json_decref(expect_ok(&kind_account, CHECK_PATCH, body));
	free(body);
	free(notes);
	notes = repeat("n", 20001);
	body = malloc(strlen(notes) + 64);
	snprintf(body, strlen(notes) + 64, "{\"notes\": \"%s\"}", notes);
	expect_fail(&kind_account, CHECK_PATCH, body, DM_EINVAL, "notes");
	free(body);
	free(notes);
}

static void currency_length(void **state)
{
	json_decref(expect_ok(&kind_opportunity, CHECK_PATCH, "{\"currency\": \"USD\"}"));
	expect_fail(&kind_opportunity, CHECK_PATCH, "{\"currency\": \"US\"}", DM_EINVAL, "currency");
	expect_fail(&kind_opportunity, CHECK_PATCH, "{\"currency\": \"USDT\"}", DM_EINVAL,
		    "currency");
	expect_fail(&kind_opportunity, CHECK_PATCH, "{\"currency\": \"\"}", DM_EINVAL, "currency");
	expect_fail(&kind_opportunity, CHECK_PATCH, "{\"currency\": null}", DM_EINVAL, "currency");
}

/* The field's own contract (model.c, and the OpenAPI text made from it): "ISO 4217 code, three
 * capital letters". Only the length is checked today. */
static void currency_three_capital_letters(void **state)
{
	expect_fail(&kind_opportunity, CHECK_PATCH, "{\"currency\": \"usd\"}", DM_EINVAL, "currency");
	expect_fail(&kind_opportunity, CHECK_PATCH, "{\"currency\": \"1$2\"}", DM_EINVAL, "currency");
	expect_fail(&kind_opportunity, CHECK_PATCH, "{\"currency\": \"人民币\"}", DM_EINVAL,
		    "currency");
}

/* ---- JSON-valued fields ---------------------------------------------------------------------- */

static void installed_base(void **state)
{
	json_t *o = expect_ok(&kind_account, CHECK_PATCH,
			      "{\"installed_base\": [{\"brand\": \"海德堡\", \"product\": \"SM52\","
			      " \"quantity\": 2, \"years\": 3.5}, {\"brand\": \"小森\"},"
			      " {\"brand\": \"B\", \"quantity\": 0, \"years\": 0}]}");
	assert_int_equal(json_array_size(json_object_get(o, "installed_base")), 3);
	json_decref(o);
	json_decref(expect_ok(&kind_account, CHECK_PATCH, "{\"installed_base\": []}"));
	expect_fail(&kind_account, CHECK_PATCH, "{\"installed_base\": \"x\"}", DM_EINVAL,
		    "installed_base");
	expect_fail(&kind_account, CHECK_PATCH, "{\"installed_base\": [\"海德堡\"]}", DM_EINVAL,
		    "installed_base");
	expect_fail(&kind_account, CHECK_PATCH, "{\"installed_base\": [[]]}", DM_EINVAL,
		    "installed_base");
	expect_fail(&kind_account, CHECK_PATCH, "{\"installed_base\": [{\"product\": \"SM52\"}]}",
		    DM_EINVAL, "installed_base.brand");
	expect_fail(&kind_account, CHECK_PATCH, "{\"installed_base\": [{\"brand\": \"\"}]}",
		    DM_EINVAL, "installed_base.brand");
	expect_fail(&kind_account, CHECK_PATCH, "{\"installed_base\": [{\"brand\": 5}]}",
		    DM_EINVAL, "installed_base.brand");
	expect_fail(&kind_account, CHECK_PATCH,
		    "{\"installed_base\": [{\"brand\": \"B\", \"colour\": \"red\"}]}", DM_EINVAL,
		    "installed_base");
	expect_fail(&kind_account, CHECK_PATCH,
		    "{\"installed_base\": [{\"brand\": \"B\", \"product\": 7}]}", DM_EINVAL,
		    "installed_base.product");
	expect_fail(&kind_account, CHECK_PATCH,
		    "{\"installed_base\": [{\"brand\": \"B\", \"quantity\": -1}]}", DM_EINVAL,
		    "installed_base.quantity");
	expect_fail(&kind_account, CHECK_PATCH,
		    "{\"installed_base\": [{\"brand\": \"B\", \"quantity\": 1.5}]}", DM_EINVAL,
		    "installed_base.quantity");
	expect_fail(&kind_account, CHECK_PATCH,
		    "{\"installed_base\": [{\"brand\": \"B\", \"quantity\": \"2\"}]}", DM_EINVAL,
		    "installed_base.quantity");
	expect_fail(&kind_account, CHECK_PATCH,
		    "{\"installed_base\": [{\"brand\": \"B\", \"years\": -0.5}]}", DM_EINVAL,
		    "installed_base.years");
	expect_fail(&kind_account, CHECK_PATCH,
		    "{\"installed_base\": [{\"brand\": \"B\", \"years\": 201}]}", DM_EINVAL,
		    "installed_base.years");
	/* a bad item after good ones */
	expect_fail(&kind_account, CHECK_PATCH,
		    "{\"installed_base\": [{\"brand\": \"A\"}, {\"brand\": \"B\"}, 3]}", DM_EINVAL,
		    "installed_base");
	/* at most 200 items */
	json_t *body = json_object(), *list = json_array();
	for (int i = 0; i < 201; i++)
		json_array_append_new(list, json_pack("{s:s}", "brand", "B"));
	json_object_set_new(body, "installed_base", list);
	struct dm_err e;
	json_t *out = NULL;
	dm_err_clear(&e);
	assert_int_equal(model_check(&kind_account, body, CHECK_PATCH, &out, &e), DM_EINVAL);
	assert_string_equal(e.field, "installed_base");
	json_array_remove(list, 0);
	assert_int_equal(model_check(&kind_account, body, CHECK_PATCH, &out, &e), 0);
	json_decref(out);
	json_decref(body);
}

static void purchase_criteria_and_competitors(void **state)
{
	json_decref(expect_ok(&kind_opportunity, CHECK_PATCH,
			      "{\"purchase_criteria\": [{\"criterion\": \"价格\", \"weight\": 40,"
			      " \"ours\": 60, \"theirs\": 80.5}, {\"criterion\": \"交期\"}]}"));
	expect_fail(&kind_opportunity, CHECK_PATCH, "{\"purchase_criteria\": {}}", DM_EINVAL,
		    "purchase_criteria");
	expect_fail(&kind_opportunity, CHECK_PATCH, "{\"purchase_criteria\": [\"价格\"]}", DM_EINVAL,
		    "purchase_criteria");
	expect_fail(&kind_opportunity, CHECK_PATCH, "{\"purchase_criteria\": [{\"weight\": 3}]}",
		    DM_EINVAL, "purchase_criteria.criterion");
	expect_fail(&kind_opportunity, CHECK_PATCH,
		    "{\"purchase_criteria\": [{\"criterion\": \"价格\", \"weight\": 101}]}", DM_EINVAL,
		    "purchase_criteria");
	expect_fail(&kind_opportunity, CHECK_PATCH,
		    "{\"purchase_criteria\": [{\"criterion\": \"价格\", \"ours\": -1}]}", DM_EINVAL,
		    "purchase_criteria");
	expect_fail(&kind_opportunity, CHECK_PATCH,
		    "{\"purchase_criteria\": [{\"criterion\": \"价格\", \"theirs\": \"high\"}]}",
		    DM_EINVAL, "purchase_criteria");
	expect_fail(&kind_opportunity, CHECK_PATCH,
		    "{\"purchase_criteria\": [{\"criterion\": \"价格\", \"score\": 1}]}", DM_EINVAL,
		    "purchase_criteria");

	json_decref(expect_ok(&kind_opportunity, CHECK_PATCH,
			      "{\"competitors\": [\"海德堡\", \"小森\"]}"));
	expect_fail(&kind_opportunity, CHECK_PATCH, "{\"competitors\": \"海德堡\"}", DM_EINVAL,
		    "competitors");
	expect_fail(&kind_opportunity, CHECK_PATCH, "{\"competitors\": [\"A\", 2]}", DM_EINVAL,
		    "competitors");
	expect_fail(&kind_opportunity, CHECK_PATCH, "{\"competitors\": [\"A\", \"\"]}", DM_EINVAL,
		    "competitors");
	expect_fail(&kind_opportunity, CHECK_PATCH, "{\"competitors\": [null]}", DM_EINVAL,
		    "competitors");
}

static void assessment(void **state)
{
	json_t *o = expect_ok(&kind_opportunity, CHECK_PATCH,
			      "{\"assessment\": {\"deal_size\": 5, \"regional_influence\": 1,"
			      " \"cost_to_win\": 3, \"opportunity_cost\": 2,"
			      " \"competitive_strength\": 4, \"unique_value\": 4, \"relationship\": 1}}");
	assert_int_equal(json_object_size(json_object_get(o, "assessment")), 7);
	json_decref(o);
	json_decref(expect_ok(&kind_opportunity, CHECK_PATCH, "{\"assessment\": {}}"));
	json_decref(expect_ok(&kind_opportunity, CHECK_PATCH, "{\"assessment\": null}"));
	expect_fail(&kind_opportunity, CHECK_PATCH, "{\"assessment\": [1, 2]}", DM_EINVAL,
		    "assessment");
	expect_fail(&kind_opportunity, CHECK_PATCH, "{\"assessment\": {\"deal_size\": 6}}", DM_EINVAL,
		    "assessment.deal_size");
	expect_fail(&kind_opportunity, CHECK_PATCH, "{\"assessment\": {\"deal_size\": 0}}", DM_EINVAL,
		    "assessment.deal_size");
	expect_fail(&kind_opportunity, CHECK_PATCH, "{\"assessment\": {\"deal_size\": 3.5}}",
		    DM_EINVAL, "assessment.deal_size");
	expect_fail(&kind_opportunity, CHECK_PATCH, "{\"assessment\": {\"deal_size\": \"5\"}}",
		    DM_EINVAL, "assessment.deal_size");
	expect_fail(&kind_opportunity, CHECK_PATCH, "{\"assessment\": {\"luck\": 5}}", DM_EINVAL,
		    "assessment");
	struct dm_err e;
	check(&kind_opportunity, CHECK_PATCH, "{\"assessment\": {\"relationship\": 9}}", NULL, &e);
	assert_non_null(strstr(e.message, "relationship"));
}

static void contact_ids(void **state)
{
	json_t *o = expect_ok(&kind_activity, CHECK_PATCH, "{\"contact_ids\": [3, 1, 2]}");
	assert_json(json_object_get(o, "contact_ids"), "[3, 1, 2]");
	json_decref(o);
	json_decref(expect_ok(&kind_activity, CHECK_PATCH, "{\"contact_ids\": []}"));
	expect_fail(&kind_activity, CHECK_PATCH, "{\"contact_ids\": [1, 2, 1]}", DM_EINVAL,
		    "contact_ids");
	expect_fail(&kind_activity, CHECK_PATCH, "{\"contact_ids\": [0]}", DM_EINVAL, "contact_ids");
	expect_fail(&kind_activity, CHECK_PATCH, "{\"contact_ids\": [-4]}", DM_EINVAL, "contact_ids");
	expect_fail(&kind_activity, CHECK_PATCH, "{\"contact_ids\": [\"3\"]}", DM_EINVAL,
		    "contact_ids");
	expect_fail(&kind_activity, CHECK_PATCH, "{\"contact_ids\": [1.0]}", DM_EINVAL,
		    "contact_ids");
	expect_fail(&kind_activity, CHECK_PATCH, "{\"contact_ids\": [null]}", DM_EINVAL,
		    "contact_ids");
	expect_fail(&kind_activity, CHECK_PATCH, "{\"contact_ids\": {\"1\": 1}}", DM_EINVAL,
		    "contact_ids");
	expect_fail(&kind_activity, CHECK_PATCH, "{\"contact_ids\": null}", DM_EINVAL,
		    "contact_ids");
	json_t *body = json_object(), *list = json_array();
	for (int i = 1; i <= 101; i++)
		json_array_append_new(list, json_integer(i));
	json_object_set_new(body, "contact_ids", list);
	struct dm_err e;
	json_t *out = NULL;
	dm_err_clear(&e);
	assert_int_equal(model_check(&kind_activity, body, CHECK_PATCH, &out, &e), DM_EINVAL);
	assert_string_equal(e.field, "contact_ids");
	json_array_remove(list, 100);
	assert_int_equal(model_check(&kind_activity, body, CHECK_PATCH, &out, &e), 0);
	json_decref(out);
	json_decref(body);
}

/* ---- the output is a new object, independent of the body -------------------------------------- */

static void output_is_a_new_object(void **state)
{
	json_t *body = parse("{\"name\": \"A\", \"industry\": \"印刷\"}");
	json_t *out = NULL;
	struct dm_err e;
	dm_err_clear(&e);
	assert_int_equal(model_check(&kind_account, body, CHECK_CREATE, &out, &e), 0);
	assert_ptr_not_equal(out, body);
	json_object_set_new(out, "name", json_string("changed"));
	assert_string_equal(json_string_value(json_object_get(body, "name")), "A");
	assert_int_equal(json_object_size(body), 2);   /* defaults were not added to the body */
	json_decref(out);
	json_decref(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lookups),
		cmocka_unit_test(not_an_object),
		cmocka_unit_test(unknown_fields),
		cmocka_unit_test(read_only_fields),
		cmocka_unit_test(create_only_fields),
		cmocka_unit_test(required_fields),
		cmocka_unit_test(not_null_fields),
		cmocka_unit_test(wrong_types),
		cmocka_unit_test(enums),
		cmocka_unit_test(dates_and_times),
		cmocka_unit_test(times_normalised_to_utc),
		cmocka_unit_test(defaults_on_create),
		cmocka_unit_test(no_defaults_on_patch),
		cmocka_unit_test(text_too_long),
		cmocka_unit_test(currency_length),
		cmocka_unit_test(currency_three_capital_letters),
		cmocka_unit_test(installed_base),
		cmocka_unit_test(purchase_criteria_and_competitors),
		cmocka_unit_test(assessment),
		cmocka_unit_test(contact_ids),
		cmocka_unit_test(output_is_a_new_object),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
