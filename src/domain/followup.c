/* followup.c — touches, cadence, sleeping accounts, segments, repurchase, agenda. */
#include "followup.h"
#include "../base/buf.h"
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

/* A due account before it becomes an item: sorted first, so that only the page is built. next
 * is the planned date as written (its first 10 characters); empty for a cadence's, which is
 * formatted from next_day for the page only. */
struct due_account {
	int64_t id, overdue, next_day;
	char next[DATE_STR_LEN];
	int planned;
};

/* A sleeping account: the longest quiet first. since (its last touch, else its creation) is an
 * offset into agenda_scan.text until the scan ends, then a pointer. */
struct quiet_account {
	int64_t id;
	size_t off;
	const char *since;
	int touched;
};

/* The agenda's candidates as they stream from the store: each decided by the rules at once and
 * kept as a few C values (no JSON per candidate: a rep of a large company has ≈ 1,400). */
struct agenda_scan {
	const struct rules *r;
	const char *date;
	int64_t day, today, first_day;
	struct due_account *due;
	size_t ndue, adue;
	struct quiet_account *quiet;
	size_t nquiet, aquiet;
	struct buf text;
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

#define SORT_ELEM_MAX 64
_Static_assert(sizeof(struct due_account) <= SORT_ELEM_MAX, "sort_first's buffer");
_Static_assert(sizeof(struct quiet_account) <= SORT_ELEM_MAX, "sort_first's buffer");

static void swap_elem(char *a, char *b, size_t size)
{
	char t[SORT_ELEM_MAX];
	memcpy(t, a, size);
	memcpy(a, b, size);
	memcpy(b, t, size);
}

/* Restore the max-heap (by cmp) of b[0..n) below i. */
static void sift_down(char *b, size_t i, size_t n, size_t size,
		      int (*cmp)(const void *, const void *))
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		if (l < n && cmp(b + l * size, b + m * size) > 0)
			m = l;
		if (l + 1 < n && cmp(b + (l + 1) * size, b + m * size) > 0)
			m = l + 1;
		if (m == i)
			return;
		swap_elem(b + i * size, b + m * size, size);
		i = m;
	}
}

/* The first k of n elements by cmp (a total order), sorted, at the front; the rest after them in
 * no order. A heap of the k best so far: a page of 20 out of 1,400 due accounts compares each
 * once against the heap's worst, where sorting them all was a tenth of the agenda's CPU. */
static void sort_first(void *base, size_t n, size_t size, size_t k,
		       int (*cmp)(const void *, const void *))
{
	char *b = base;
	if (k < n && k > 0) {
		for (size_t i = k / 2; i-- > 0;)
			sift_down(b, i, k, size, cmp);
		for (size_t i = k; i < n; i++) {
			if (cmp(b + i * size, b) < 0) {
				swap_elem(b, b + i * size, size);
				sift_down(b, 0, k, size, cmp);
			}
		}
	}
	size_t m = k < n ? k : n;
	if (m > 1)   /* base is NULL for an empty list: qsort's pointer must not be (UBSan) */
		qsort(base, m, size, cmp);
}

/* followup_present_account's rules (next_touch_on, is_sleeping) on one candidate, in days: the
 * due date is formatted only for the page (snprintf for every candidate was a fifth of the
 * agenda). A cadence's day compares as its date would: date_from_days writes years 1-9999 as
 * YYYY, so the day order is the text order, and earlier days were never a valid date. */
static void agenda_take(void *arg, const struct agenda_row *row)
{
	struct agenda_scan *a = arg;
	const struct rules *r = a->r;
	const char *since = row->last_touch_at ? row->last_touch_at : row->created_at;
	int64_t since_day = local_day(since), next_day = 0;
	char next[DATE_STR_LEN] = "";
	int due;
	if (row->latest_next_touch) {
		size_t len = strnlen(row->latest_next_touch, DATE_STR_LEN - 1);
		memcpy(next, row->latest_next_touch, len);
		next[len] = '\0';
		due = strcmp(next, a->date) <= 0 && !date_to_days(next, &next_day);
	} else {
		next_day = since_day + (row->open_opps > 0 ? r->cadence_open_days :
							      r->cadence_idle_days);
		due = next_day <= a->day && next_day >= a->first_day;
	}
	if (due) {
		if (a->ndue == a->adue) {
			a->adue = a->adue ? a->adue * 2 : 256;
			a->due = xrealloc(a->due, a->adue * sizeof *a->due);
		}
		struct due_account *d = &a->due[a->ndue++];
		d->id = row->id;
		d->overdue = a->day - next_day;
		d->next_day = next_day;
		memcpy(d->next, next, sizeof d->next);
		d->planned = row->latest_next_touch != NULL;
	}
	if (a->today - since_day > r->sleeping_after_days) {
		if (a->nquiet == a->aquiet) {
			a->aquiet = a->aquiet ? a->aquiet * 2 : 256;
			a->quiet = xrealloc(a->quiet, a->aquiet * sizeof *a->quiet);
		}
		struct quiet_account *q = &a->quiet[a->nquiet++];
		q->id = row->id;
		q->off = a->text.len;
		q->touched = row->last_touch_at != NULL;
		since = since ? since : "";
		buf_append(&a->text, since, strlen(since) + 1);
	}
}

/* One row of the page (store_agenda_accounts), found by id. */
struct page_row {
	int64_t id;
	json_t *row;
};

static int by_page_id(const void *a, const void *b)
{
	const struct page_row *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

static json_t *page_get(const struct page_row *page, size_t n, int64_t id)
{
	struct page_row key = { .id = id };
	const struct page_row *p = bsearch(&key, page, n, sizeof *page, by_page_id);
	return p ? p->row : NULL;
}

/* field of the page's row of id as a new reference; null when the page has no such row */
static json_t *page_field(const struct page_row *page, size_t n, int64_t id, const char *field)
{
	json_t *v = json_object_get(page_get(page, n, id), field);
	return v ? json_incref(v) : json_null();
}

/* The page's names and latest contacts: rows (all chunks together) indexed by id in *page. */
static int page_read(struct store *s, const struct viewer *v, const int64_t *ids, size_t n,
		     json_t *rows, struct page_row **page, size_t *npage, struct dm_err *e)
{
	for (size_t i = 0; i < n; i += AGENDA_IDS_MAX) {
		struct agenda_cut cut = { .ids = ids + i,
					  .nids = n - i < AGENDA_IDS_MAX ? n - i : AGENDA_IDS_MAX };
		json_t *chunk = NULL;
		int rc = store_agenda_accounts(s, v, v->user_id, &cut, &chunk, e);
		if (rc)
			return rc;
		json_array_extend(rows, chunk);
		json_decref(chunk);
	}
	size_t j;
	json_t *r;
	*npage = json_array_size(rows);
	*page = xcalloc(*npage + 1, sizeof **page);
	json_array_foreach(rows, j, r) {
		(*page)[j].id = int_of(r, "id");
		(*page)[j].row = r;
	}
	qsort(*page, *npage, sizeof **page, by_page_id);
	return 0;
}

static json_t *follow_up_item(const struct due_account *d, const struct page_row *page, size_t n)
{
	json_t *row = page_get(page, n, d->id), *contact = json_null();
	char next[DATE_STR_LEN];
	if (d->planned)
		memcpy(next, d->next, sizeof next);
	else
		date_from_days(d->next_day, next);
	if (json_is_integer(json_object_get(row, "contact_id")))
		contact = json_pack("{s:O,s:O}", "id", json_object_get(row, "contact_id"), "name",
				    json_object_get(row, "contact_name"));
	return json_pack("{s:I,s:o,s:o,s:s,s:I,s:s}", "account_id", (json_int_t)d->id,
			 "account_name", page_field(page, n, d->id, "name"), "contact", contact,
			 "next_touch_on", next, "days_overdue", (json_int_t)d->overdue, "reason",
			 d->planned ? "planned" : "cadence");
}

/* The instant day (UTC+8) begins, as the store's timestamps are written. */
static void day_start(int64_t day, char out[TIME_STR_LEN])
{
	time_format(day * 86400000LL - (int64_t)AGENDA_TZ_MINUTES * 60000, out);
}

/* The accounts the store selects: a superset of those due on `day` or sleeping `today` (one day
 * of slack on each cut-off); agenda_take decides each one exactly. */
static int agenda_candidates(struct store *s, const struct viewer *v, struct agenda_scan *a,
			     struct dm_err *e)
{
	char planned[DATE_STR_LEN], due[TIME_STR_LEN], sleep[TIME_STR_LEN];
	const struct rules *r = a->r;
	int cadence = r->cadence_open_days < r->cadence_idle_days ? r->cadence_open_days :
								      r->cadence_idle_days;
	date_from_days(a->day + 1, planned);
	day_start(a->day - cadence + 2, due);
	day_start(a->today - r->sleeping_after_days + 1, sleep);
	struct agenda_cut cut = { .planned_before = planned, .due_before = due, .sleep_before = sleep };
	int rc = store_agenda_candidates(s, v, v->user_id, &cut, agenda_take, a, e);
	for (size_t i = 0; i < a->nquiet; i++)
		a->quiet[i].since = a->text.data + a->quiet[i].off;
	return rc;
}

/* ---- the agenda by ranges (SQLite: store_agenda_ranges) ----
 * Within a class of accounts_owner_due the due day is the key's day plus a constant (the
 * cadence of the class; none for a plan), so the due accounts are a range of each class's key
 * and the sleeping ones a range of the last touch: counted by the store, and only each range's
 * first entries read. The page is the same as agenda_take's over every candidate: each class's
 * first `limit` by (due day, id) hold the page's, and sort_first merges them. */

/* A class's due accounts in key order: a plan's key is its date (the index's order is the due
 * day's, then the id's); a cadence's is an instant, whose order is the day's but not the id's
 * within a day, so the walk reads on to the end of the day of its `want`-th. */
struct due_walk {
	struct agenda_scan *a;
	int planned;
	int64_t cadence, last_day;
	size_t want, got;
};

static int due_step(void *arg, int64_t id, const char *key, const char *since, int touched)
{
	struct due_walk *w = arg;
	struct agenda_scan *a = w->a;
	int64_t next_day;
	(void)since;
	(void)touched;
	if (w->got >= w->want && w->planned)
		return 1;
	if (w->planned) {
		if (date_to_days(key, &next_day))
			return 0;   /* never stored (model.c checks a date): agenda_take skips it too */
	} else {
		next_day = local_day(key) + w->cadence;
	}
	if (w->got >= w->want && next_day > w->last_day)
		return 1;
	if (a->ndue == a->adue) {
		a->adue = a->adue ? a->adue * 2 : 64;
		a->due = xrealloc(a->due, a->adue * sizeof *a->due);
	}
	struct due_account *d = &a->due[a->ndue++];
	memset(d, 0, sizeof *d);
	d->id = id;
	d->overdue = a->day - next_day;
	d->next_day = next_day;
	d->planned = w->planned;
	if (w->planned) {
		size_t len = strnlen(key, DATE_STR_LEN - 1);
		memcpy(d->next, key, len);
	}
	if (++w->got == w->want)
		w->last_day = next_day;
	return 0;
}

/* Sleeping accounts in the order of their last touch (else creation), then id: the first
 * `want` (all, for the planned ones, which come in no order). */
struct quiet_walk {
	struct agenda_scan *a;
	size_t want, got;
};

static int quiet_step(void *arg, int64_t id, const char *key, const char *since, int touched)
{
	struct quiet_walk *w = arg;
	struct agenda_scan *a = w->a;
	(void)key;
	if (w->got >= w->want)
		return 1;
	if (a->nquiet == a->aquiet) {
		a->aquiet = a->aquiet ? a->aquiet * 2 : 64;
		a->quiet = xrealloc(a->quiet, a->aquiet * sizeof *a->quiet);
	}
	struct quiet_account *q = &a->quiet[a->nquiet++];
	q->id = id;
	q->off = a->text.len;
	q->touched = touched;
	since = since ? since : "";
	buf_append(&a->text, since, strlen(since) + 1);
	w->got++;
	return 0;
}

static int agenda_by_ranges(struct store *s, const struct viewer *v, struct agenda_scan *a,
			    size_t limit, int64_t *due_total, int64_t *quiet_total,
			    struct dm_err *e)
{
	const struct rules *r = a->r;
	char planned_hi[DATE_STR_LEN + 1], open_lo[TIME_STR_LEN], open_hi[TIME_STR_LEN];
	char idle_lo[TIME_STR_LEN], idle_hi[TIME_STR_LEN], sleep[TIME_STR_LEN];
	/* a plan is due on its date or after it: keys up to the date, which "~" follows */
	snprintf(planned_hi, sizeof planned_hi, "%s~", a->date);
	/* a cadence's due day d = since's day + cadence, within [first_day, day] */
	day_start(a->first_day - r->cadence_open_days, open_lo);
	day_start(a->day - r->cadence_open_days + 1, open_hi);
	day_start(a->first_day - r->cadence_idle_days, idle_lo);
	day_start(a->day - r->cadence_idle_days + 1, idle_hi);
	/* sleeping: today - since's day > sleeping_after_days */
	day_start(a->today - r->sleeping_after_days, sleep);
	const struct agenda_range ranges[6] = {
		{ AGENDA_PLANNED, NULL, planned_hi },
		{ AGENDA_OPEN, open_lo, open_hi },
		{ AGENDA_IDLE, idle_lo, idle_hi },
		{ AGENDA_OPEN, NULL, sleep },
		{ AGENDA_IDLE, NULL, sleep },
		{ AGENDA_QUIET_PLANNED, NULL, sleep },
	};
	/* the planned ones' quiet is a filter, not a range: walked whole once (when there is a
	 * planned account at all: a seek in the counts' statement), counted here */
	const struct agenda_range counted[6] = { ranges[0], ranges[1], ranges[2], ranges[3],
		ranges[4], { AGENDA_PLANNED | AGENDA_ANY, NULL, "~" } };
	int64_t counts[6];
	const struct agenda_range any = { AGENDA_ANY, NULL, NULL };
	int rc = store_agenda_count(s, v, v->user_id, &any, 1, counts, e);
	if (rc || !counts[0]) {   /* no account: nothing due, nothing sleeping */
		*due_total = *quiet_total = 0;
		return rc;
	}
	rc = store_agenda_count(s, v, v->user_id, counted, 6, counts, e);
	if (rc)
		return rc;
	struct quiet_walk planned = { .a = a, .want = SIZE_MAX };
	if (counts[5] &&
	    (rc = store_agenda_walk(s, v, v->user_id, &ranges[5], quiet_step, &planned, e)))
		return rc;
	counts[5] = (int64_t)planned.got;
	if (!limit)   /* nothing of them on the page */
		a->nquiet = 0;
	*due_total = counts[0] + counts[1] + counts[2];
	*quiet_total = counts[3] + counts[4] + counts[5];
	for (int i = 0; i < 3 && !rc && limit; i++) {
		if (!counts[i])
			continue;
		struct due_walk w = { .a = a, .planned = i == 0, .want = limit,
				      .cadence = i == 1 ? r->cadence_open_days :
							  r->cadence_idle_days };
		rc = store_agenda_walk(s, v, v->user_id, &ranges[i], due_step, &w, e);
	}
	for (int i = 3; i < 5 && !rc && limit; i++) {
		if (!counts[i])
			continue;
		struct quiet_walk w = { .a = a, .want = limit };
		rc = store_agenda_walk(s, v, v->user_id, &ranges[i], quiet_step, &w, e);
	}
	for (size_t i = 0; i < a->nquiet; i++)
		a->quiet[i].since = a->text.data + a->quiet[i].off;
	return rc;
}

int followup_agenda(struct store *s, const struct viewer *v, const char *date, size_t limit,
		    json_t **out, struct dm_err *e)
{
	char today_s[DATE_STR_LEN];
	int64_t day, today;
	struct rules r;
	struct agenda_scan a = { .text = BUF_INIT(0) };
	struct page_row *page = NULL;
	size_t npage = 0, i;
	int64_t *ids = NULL;
	json_t *warnings = NULL, *rows = json_array();
	*out = NULL;
	if (date && date_to_days(date, &day)) {
		json_decref(rows);
		return dm_fail(e, DM_EPARAM, "date", "date must be YYYY-MM-DD");
	}
	date_today_offset(AGENDA_TZ_MINUTES, today_s);
	date_to_days(today_s, &today);
	if (!date) {
		date = today_s;
		day = today;
	}
	struct kv mine[2];
	char id[24], wanted[24];
	snprintf(id, sizeof id, "%lld", (long long)v->user_id);
	snprintf(wanted, sizeof wanted, "%zu",
		 limit < AGENDA_WARNINGS_MAX ? limit : AGENDA_WARNINGS_MAX);
	mine[0].key = "owner_id";
	mine[0].value = id;
	mine[1].key = "limit";
	mine[1].value = wanted;
	a.r = &r;
	a.date = date;
	a.day = day;
	a.today = today;
	date_to_days("0001-01-01", &a.first_day);
	int rc = settings_rules(s, &r, e);
	/* the ranges compare the date as text: only a date written as the store writes it, and
	 * not the last one (agenda_candidates' cut for plans, its next day, wraps to year 0000
	 * there, so that only sleeping plans are due: kept as it answers) */
	char canonical[DATE_STR_LEN], last[DATE_STR_LEN];
	date_from_days(day, canonical);
	date_from_days(day + 1, last);
	int64_t due_total = -1, quiet_total = -1;
	if (!rc && store_agenda_ranges(s) && !strcmp(canonical, date) && strcmp(last, date) > 0)
		rc = agenda_by_ranges(s, v, &a, limit, &due_total, &quiet_total, e);
	else if (!rc)
		rc = agenda_candidates(s, v, &a, e);
	if (!rc)
		rc = method_warnings(s, v, mine, 2, &warnings, NULL, e);
	if (rc)
		goto out;
	/* Only the page is built: a rep of a large company may have a thousand accounts due. */
	size_t nf = a.ndue < limit ? a.ndue : limit, nq = a.nquiet < limit ? a.nquiet : limit;
	sort_first(a.due, a.ndue, sizeof *a.due, nf, by_overdue);
	sort_first(a.quiet, a.nquiet, sizeof *a.quiet, nq, by_quiet);
	ids = xcalloc(nf + nq + 1, sizeof *ids);
	for (i = 0; i < nf; i++)
		ids[i] = a.due[i].id;
	for (i = 0; i < nq; i++)
		ids[nf + i] = a.quiet[i].id;
	if ((rc = page_read(s, v, ids, nf + nq, rows, &page, &npage, e)))
		goto out;
	json_t *follow = json_array(), *sleeping = json_array();
	for (i = 0; i < nf; i++)
		json_array_append_new(follow, follow_up_item(&a.due[i], page, npage));
	for (i = 0; i < nq; i++) {
		const struct quiet_account *q = &a.quiet[i];
		json_array_append_new(sleeping, json_pack("{s:I,s:o,s:o}", "account_id",
			(json_int_t)q->id, "account_name", page_field(page, npage, q->id, "name"),
			"last_touch_at", q->touched ? json_string(q->since) : json_null()));
	}
	*out = json_pack("{s:s,s:o,s:I,s:O,s:o,s:I}", "date", date, "follow_ups", follow,
			 "follow_ups_total", (json_int_t)(due_total >= 0 ? due_total :
							  (int64_t)a.ndue), "warnings", warnings,
			 "sleeping", sleeping, "sleeping_total",
			 (json_int_t)(quiet_total >= 0 ? quiet_total : (int64_t)a.nquiet));
out:
	json_decref(warnings);
	json_decref(rows);
	free(page);
	free(ids);
	free(a.due);
	free(a.quiet);
	buf_release(&a.text);
	return rc;
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
