/* followup.c — touches, cadence, sleeping accounts, segments, repurchase, agenda. */
#include "followup.h"
#include "../base/timeutil.h"
#include "../base/xmalloc.h"
#include <stdlib.h>
#include <string.h>
#include "../base/banned.h"

#define PAGE 500
#define BEGINNER_DAYS 180

static int64_t int_of(json_t *rec, const char *field)
{
	return json_integer_value(json_object_get(rec, field));
}

/* The day (since the epoch) of an instant in Asia/Shanghai, the users' calendar. */
static int64_t local_day(const char *ts)
{
	int64_t ms;
	if (!ts || time_parse(ts, &ms))
		return -1;
	ms += (int64_t)AGENDA_TZ_MINUTES * 60000;
	return ms >= 0 ? ms / 86400000LL : (ms - 86399999LL) / 86400000LL;
}

/* Days since the epoch of the date part of a date or RFC 3339 time; -1 when none. */
static int64_t day_of(const char *s)
{
	char d[DATE_STR_LEN];
	int64_t days;
	if (!s || strlen(s) < 10)
		return -1;
	memcpy(d, s, 10);
	d[10] = '\0';
	return date_to_days(d, &days) ? -1 : days;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* Median of n sorted values, rounded half up to a whole day. */
static int64_t median(int64_t *v, size_t n)
{
	qsort(v, n, sizeof *v, cmp_i64);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2] + 1) / 2;
}

json_t *followup_repurchase(json_t *orders, int64_t today)
{
	json_t *out = json_array();
	size_t n = json_array_size(orders), i = 0;
	int64_t *days = xcalloc(n + 1, sizeof *days);
	while (i < n) {
		const char *product = json_string_value(json_array_get(json_array_get(orders, i), 0));
		size_t j = i, k = 0;
		for (; j < n && !strcmp(json_string_value(json_array_get(json_array_get(orders, j), 0)) ?: "",
					product ?: ""); j++)
			days[k++] = day_of(json_string_value(json_array_get(json_array_get(orders, j), 1)));
		if (k >= 3) {
			int64_t *gaps = xcalloc(k, sizeof *gaps);
			for (size_t g = 1; g < k; g++)
				gaps[g - 1] = days[g] - days[g - 1];
			int64_t med = median(gaps, k - 1), expected = days[k - 1] + med;
			char last_on[DATE_STR_LEN], exp_on[DATE_STR_LEN];
			date_from_days(days[k - 1], last_on);
			date_from_days(expected, exp_on);
			/* overdue by more than half the usual interval */
			int overdue = (today - expected) * 2 > med;
			json_array_append_new(out, json_pack("{s:s,s:I,s:I,s:s,s:s,s:b}", "product", product,
				"orders", (json_int_t)k, "median_interval_days", (json_int_t)med, "last_on",
				last_on, "expected_on", exp_on, "overdue", overdue));
			free(gaps);
		}
		i = j;
	}
	free(days);
	return out;
}

const char *followup_segment(int64_t orders, const char *first_on, int64_t today)
{
	if (orders <= 0)
		return "prospect";
	return orders == 1 || today - day_of(first_on) <= BEGINNER_DAYS ? "beginner" : "habitual";
}

static int rules_of(struct store *s, struct present_ctx *pc, struct dm_err *e)
{
	if (pc->have_rules)
		return 0;
	int rc = settings_rules(s, &pc->rules, e);
	pc->have_rules = !rc;
	return rc;
}

/* The day an account's next touch is due: the latest activity's planned next touch, else its
 * last touch (or creation, `since`) plus the cadence, shorter with an open opportunity. */
static void next_touch_on(const struct rules *r, const char *since, const char *planned,
			  int64_t open_opps, char next[DATE_STR_LEN])
{
	if (planned) {
		snprintf(next, DATE_STR_LEN, "%s", planned);
		return;
	}
	int cadence = open_opps > 0 ? r->cadence_open_days : r->cadence_idle_days;
	date_from_days(local_day(since) + cadence, next);
}

static int is_sleeping(const struct rules *r, int64_t today, const char *since)
{
	return today - local_day(since) > r->sleeping_after_days;
}

int followup_present_account(struct store *s, struct present_ctx *pc, json_t *rec,
			     struct dm_err *e)
{
	char next[DATE_STR_LEN];
	int64_t today;
	if (rules_of(s, pc, e))
		return e->code;
	date_to_days(pc->today, &today);
	const char *last = json_string_value(json_object_get(rec, "last_touch_at"));
	const char *since = last ? last : json_string_value(json_object_get(rec, "created_at"));
	next_touch_on(&pc->rules, since, json_string_value(json_object_get(rec, "_latest_next_touch")),
		      int_of(rec, "_open_opps"), next);
	json_object_set_new(rec, "next_touch_on", json_string(next));
	json_object_set_new(rec, "sleeping", json_boolean(is_sleeping(&pc->rules, today, since)));
	/* the segment from the account's order facts; the orders themselves come only when a
	 * product may have the three a forecast needs (sqlbuild.c) */
	json_t *orders = json_object_get(rec, "_orders");
	json_object_set_new(rec, "segment", json_string(followup_segment(
		int_of(rec, "_order_count"), json_string_value(json_object_get(rec, "_first_order_on")),
		today)));
	json_t *rp = followup_repurchase(orders, today), *warnings = json_array(), *r;
	size_t i;
	json_array_foreach(rp, i, r) {
		if (!json_is_true(json_object_get(r, "overdue")))
			continue;
		char msg[300];
		snprintf(msg, sizeof msg, "%s was expected to be reordered by %s.",
			 json_string_value(json_object_get(r, "product")),
			 json_string_value(json_object_get(r, "expected_on")));
		json_array_append_new(warnings, json_pack("{s:s,s:s,s:O}", "code", "repurchase_overdue",
							  "message", msg, "product",
							  json_object_get(r, "product")));
	}
	if (json_array_size(warnings))
		json_object_set_new(rec, "lifecycle", json_string("decline"));
	json_object_set_new(rec, "repurchase", rp);
	json_object_set_new(rec, "warnings", warnings);
	return 0;
}

/* Every live account of kind account that q selects, presented for v. */
static int scan_accounts(struct store *s, const struct viewer *v, struct store_query *q,
			 json_t **out, struct dm_err *e)
{
	struct present_ctx pc;
	json_t *all = json_array();
	int rc = 0;
	present_ctx_init(&pc);
	q->kind = &kind_account;
	q->viewer = v;
	q->limit = PAGE;
	for (;;) {
		json_t *page = NULL, *a;
		size_t i, got;
		if ((rc = store_list(s, q, &page, e)))
			break;
		json_array_foreach(page, i, a) {
			/* the agenda reads two internal fields that presenting removes */
			json_t *ids = json_incref(json_object_get(a, "_latest_contact_ids"));
			json_t *planned = json_incref(json_object_get(a, "_latest_next_touch"));
			rc = method_present(s, v, &pc, &kind_account, a, e);
			json_object_set_new(a, "_latest_contact_ids", ids ? ids : json_null());
			json_object_set_new(a, "_latest_next_touch", planned ? planned : json_null());
			if (rc)
				break;
			json_array_append(all, a);
		}
		got = json_array_size(page);
		if (got) {
			q->after_id = int_of(json_array_get(page, got - 1), "id");
			json_decref(q->after_value);
			q->after_value = json_integer(q->after_id);
		}
		json_decref(page);
		if (rc || got < PAGE)
			break;
	}
	present_ctx_release(&pc);
	json_decref(q->after_value);
	q->after_value = NULL;
	if (rc)
		json_decref(all);
	else
		*out = all;
	return rc;
}

/* A due account before it becomes an item: sorted first, so that only the page is built. */
struct due_account {
	json_t *account;
	char next[DATE_STR_LEN];
	int64_t overdue, id;
};

/* A sleeping account: the longest quiet first. */
struct quiet_account {
	json_t *account;
	const char *since;
	int64_t id;
};

static int by_quiet(const void *a, const void *b)
{
	const struct quiet_account *x = a, *y = b;
	int c = strcmp(x->since, y->since);
	if (c)
		return c;
	return x->id < y->id ? -1 : 1;
}

static int by_overdue(const void *a, const void *b)
{
	const struct due_account *x = a, *y = b;
	if (x->overdue != y->overdue)
		return x->overdue > y->overdue ? -1 : 1;
	return x->id < y->id ? -1 : 1;
}

static json_t *follow_up_item(struct store *s, const struct due_account *d)
{
	json_t *a = d->account, *ids = NULL, *contact = NULL, *c = NULL;
	const char *text = json_string_value(json_object_get(a, "latest_contact_ids"));
	if (text)
		ids = json_loads(text, JSON_DECODE_ANY, NULL);
	/* The account is one the viewer sees (the agenda holds no other), and so is a contact of
	 * it: read the contact without the visibility predicate, whose "account visible" part
	 * built the set of all the viewer's accounts for every lookup (1,408 follow-ups × 2,000
	 * accounts: 1 s of a rep's agenda at full scale), and keep it only if it is still that
	 * account's. */
	if (json_array_size(ids) &&
	    !store_get(s, &kind_contact, NULL, json_integer_value(json_array_get(ids, 0)), 0, &c,
		       NULL) &&
	    json_equal(json_object_get(c, "account_id"), json_object_get(a, "id")))
		contact = json_pack("{s:O,s:O}", "id", json_object_get(c, "id"), "name",
				    json_object_get(c, "name"));
	json_decref(c);
	json_decref(ids);
	return json_pack("{s:O,s:O,s:o,s:s,s:I,s:s}", "account_id", json_object_get(a, "id"),
			 "account_name", json_object_get(a, "name"), "contact",
			 contact ? contact : json_null(), "next_touch_on", d->next, "days_overdue",
			 (json_int_t)d->overdue, "reason",
			 json_is_string(json_object_get(a, "latest_next_touch")) ? "planned" : "cadence");
}

/* The page's accounts get their names and latest contacts (the candidates are read from an
 * index without them). */
static int page_names(struct store *s, const struct viewer *v, json_t *const *accounts, size_t n,
		      struct dm_err *e)
{
	int64_t ids[AGENDA_IDS_MAX];
	for (size_t i = 0; i < n; i += AGENDA_IDS_MAX) {
		size_t m = n - i < AGENDA_IDS_MAX ? n - i : AGENDA_IDS_MAX, j, k;
		for (k = 0; k < m; k++)
			ids[k] = int_of(accounts[i + k], "id");
		struct agenda_cut cut = { .ids = ids, .nids = m };
		json_t *rows = NULL, *r;
		int rc = store_agenda_accounts(s, v, v->user_id, &cut, &rows, e);
		if (rc)
			return rc;
		for (k = 0; k < m; k++) {
			json_object_set_new(accounts[i + k], "name", json_null());
			json_object_set_new(accounts[i + k], "latest_contact_ids", json_null());
			json_array_foreach(rows, j, r)
				if (int_of(r, "id") == ids[k])
					json_object_update(accounts[i + k], r);
		}
		json_decref(rows);
	}
	return 0;
}

/* The instant day (UTC+8) begins, as the store's timestamps are written. */
static void day_start(int64_t day, char out[TIME_STR_LEN])
{
	time_format(day * 86400000LL - (int64_t)AGENDA_TZ_MINUTES * 60000, out);
}

/* The accounts the store selects: a superset of those due on `day` or sleeping `today` (one day
 * of slack on each cut-off); the rules below decide each one exactly. */
static int agenda_candidates(struct store *s, const struct viewer *v, const struct rules *r,
			     int64_t day, int64_t today, json_t **rows, struct dm_err *e)
{
	char planned[DATE_STR_LEN], due[TIME_STR_LEN], sleep[TIME_STR_LEN];
	int cadence = r->cadence_open_days < r->cadence_idle_days ? r->cadence_open_days :
								      r->cadence_idle_days;
	date_from_days(day + 1, planned);
	day_start(day - cadence + 2, due);
	day_start(today - r->sleeping_after_days + 1, sleep);
	struct agenda_cut cut = { .planned_before = planned, .due_before = due, .sleep_before = sleep };
	return store_agenda_accounts(s, v, v->user_id, &cut, rows, e);
}

int followup_agenda(struct store *s, const struct viewer *v, const char *date, size_t limit,
		    json_t **out, struct dm_err *e)
{
	char today_s[DATE_STR_LEN];
	int64_t day, today;
	struct rules r;
	json_t *accounts = NULL, *warnings = NULL;
	*out = NULL;
	if (date && date_to_days(date, &day))
		return dm_fail(e, DM_EPARAM, "date", "date must be YYYY-MM-DD");
	date_today_offset(AGENDA_TZ_MINUTES, today_s);
	date_to_days(today_s, &today);
	if (!date) {
		date = today_s;
		day = today;
	}
	struct kv mine[2];
	char id[24], page[24];
	snprintf(id, sizeof id, "%lld", (long long)v->user_id);
	snprintf(page, sizeof page, "%zu", limit < AGENDA_WARNINGS_MAX ? limit : AGENDA_WARNINGS_MAX);
	mine[0].key = "owner_id";
	mine[0].value = id;
	mine[1].key = "limit";
	mine[1].value = page;
	int rc = settings_rules(s, &r, e);
	if (!rc)
		rc = agenda_candidates(s, v, &r, day, today, &accounts, e);
	if (!rc)
		rc = method_warnings(s, v, mine, 2, &warnings, NULL, e);
	if (rc) {
		json_decref(accounts);
		return rc;
	}
	size_t i, n = 0;
	size_t nsleeping = 0;
	json_t *a, *sleeping = json_array();
	struct due_account *due = xcalloc(json_array_size(accounts) + 1, sizeof *due);
	struct quiet_account *quiet = xcalloc(json_array_size(accounts) + 1, sizeof *quiet);
	json_array_foreach(accounts, i, a) {
		const char *last = json_string_value(json_object_get(a, "last_touch_at"));
		const char *since = last ? last : json_string_value(json_object_get(a, "created_at"));
		char next[DATE_STR_LEN];
		int64_t next_day;
		next_touch_on(&r, since, json_string_value(json_object_get(a, "latest_next_touch")),
			      int_of(a, "open_opps"), next);
		if (strcmp(next, date) <= 0 && !date_to_days(next, &next_day)) {
			due[n].account = a;
			snprintf(due[n].next, sizeof due[n].next, "%s", next);
			due[n].overdue = day - next_day;
			due[n++].id = int_of(a, "id");
		}
		if (is_sleeping(&r, today, since)) {
			quiet[nsleeping].account = a;
			quiet[nsleeping].since = since;
			quiet[nsleeping++].id = int_of(a, "id");
		}
	}
	/* Only the page is built: a rep of a large company may have a thousand accounts due. */
	qsort(due, n, sizeof *due, by_overdue);
	qsort(quiet, nsleeping, sizeof *quiet, by_quiet);
	size_t nf = n < limit ? n : limit, nq = nsleeping < limit ? nsleeping : limit;
	json_t **shown = xcalloc(nf + nq + 1, sizeof *shown);
	for (i = 0; i < nf; i++)
		shown[i] = due[i].account;
	for (i = 0; i < nq; i++)
		shown[nf + i] = quiet[i].account;
	rc = page_names(s, v, shown, nf + nq, e);
	free(shown);
	if (rc) {
		free(due);
		free(quiet);
		json_decref(accounts);
		json_decref(warnings);
		json_decref(sleeping);
		return rc;
	}
	json_t *follow = json_array();
	for (i = 0; i < nf; i++)
		json_array_append_new(follow, follow_up_item(s, &due[i]));
	for (i = 0; i < nq; i++) {
		a = quiet[i].account;
		json_array_append_new(sleeping, json_pack("{s:O,s:O,s:O}", "account_id",
			json_object_get(a, "id"), "account_name", json_object_get(a, "name"),
			"last_touch_at", json_object_get(a, "last_touch_at")));
	}
	free(due);
	free(quiet);
	json_decref(accounts);
	*out = json_pack("{s:s,s:o,s:I,s:o,s:o,s:I}", "date", date, "follow_ups", follow,
			 "follow_ups_total", (json_int_t)n, "warnings", warnings, "sleeping", sleeping,
			 "sleeping_total", (json_int_t)nsleeping);
	return 0;
}

int followup_intervention(struct store *s, const struct viewer *v, json_t **items,
			  struct dm_err *e)
{
	struct rules r;
	struct store_query q;
	json_t *accounts = NULL;
	*items = NULL;
	if (v->role != ROLE_ADMIN && v->role != ROLE_MANAGER)
		return dm_fail(e, DM_EFORBIDDEN, NULL, "the intervention list is for managers");
	int rc = settings_rules(s, &r, e);
	if (rc)
		return rc;
	memset(&q, 0, sizeof q);
	q.filters[0].field = model_field(&kind_account, "touches");
	q.filters[0].value = json_integer(r.intervention_touches);
	q.filters[0].op = FILTER_GE;
	q.filters[1].field = model_field(&kind_account, "_won_opps");
	q.filters[1].value = json_integer(0);
	q.nfilters = 2;
	rc = scan_accounts(s, v, &q, &accounts, e);
	json_decref(q.filters[0].value);
	json_decref(q.filters[1].value);
	if (rc)
		return rc;
	json_t *out = json_array(), *a;
	size_t i;
	json_array_foreach(accounts, i, a) {
		json_t *u = NULL, *owner = json_object_get(a, "owner_id");
		if (json_is_integer(owner))
			store_get(s, &kind_user, NULL, json_integer_value(owner), 1, &u, NULL);
		json_array_append_new(out, json_pack("{s:O,s:O,s:O,s:o,s:O,s:O}", "account_id",
			json_object_get(a, "id"), "account_name", json_object_get(a, "name"),
			"owner_id", owner, "owner_name", u ? json_incref(json_object_get(u, "display_name"))
			: json_null(), "touches", json_object_get(a, "touches"), "last_touch_at",
			json_object_get(a, "last_touch_at")));
		json_decref(u);
	}
	json_decref(accounts);
	*items = out;
	return 0;
}
