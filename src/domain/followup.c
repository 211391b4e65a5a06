/* followup.c — touches, cadence, sleeping accounts, segments, repurchase, agenda. */
#include "followup.h"
#include "../base/buf.h"
#include "../base/jsontext.h"
#include "../base/text.h"
#include "../base/timeutil.h"
#include "../base/xmalloc.h"
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
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

/* The day of a date text of len bytes (day_of's rule: its first 10 characters). */
static int64_t day_of_n(const char *s, size_t len)
{
	char d[DATE_STR_LEN];
	int64_t days;
	if (!s || len < 10)
		return -1;
	memcpy(d, s, 10);
	d[10] = '\0';
	return date_to_days(d, &days) ? -1 : days;
}

static int same_product(const struct order_fact *a, const struct order_fact *b)
{
	return a->product_len == b->product_len && !memcmp(a->product, b->product, a->product_len);
}

size_t followup_repurchase_facts(const struct order_fact *o, size_t n, int64_t today,
				 struct repurchase_item *out)
{
	size_t i = 0, nout = 0;
	int64_t *days = xcalloc(n + 1, sizeof *days);
	while (i < n) {
		size_t j = i, k = 0;
		for (; j < n && same_product(&o[j], &o[i]); j++)
			days[k++] = day_of_n(o[j].on, o[j].on_len);
		if (k >= 3 && o[i].product) {   /* a product that is no string: no item (json_pack) */
			int64_t *gaps = xcalloc(k, sizeof *gaps);
			for (size_t g = 1; g < k; g++)
				gaps[g - 1] = days[g] - days[g - 1];
			int64_t med = median(gaps, k - 1), expected = days[k - 1] + med;
			struct repurchase_item *r = &out[nout++];
			r->product = o[i].product;
			r->product_len = o[i].product_len;
			r->orders = (int64_t)k;
			r->median = med;
			date_from_days(days[k - 1], r->last_on);
			date_from_days(expected, r->expected_on);
			/* overdue by more than half the usual interval */
			r->overdue = (today - expected) * 2 > med;
			free(gaps);
		}
		i = j;
	}
	free(days);
	return nout;
}

/* The order facts of [[product, date], ...] as jansson holds them: a product or date that is
 * no string is NULL (compared as ""), strings compared up to a NUL as strcmp would. */
static struct order_fact *order_facts_of(json_t *orders, size_t *n)
{
	*n = json_array_size(orders);
	struct order_fact *o = xcalloc(*n + 1, sizeof *o);
	for (size_t i = 0; i < *n; i++) {
		json_t *e = json_array_get(orders, i);
		const char *p = json_string_value(json_array_get(e, 0));
		const char *on = json_string_value(json_array_get(e, 1));
		o[i].product = p;
		o[i].product_len = p ? strlen(p) : 0;
		o[i].on = on;
		o[i].on_len = on ? strlen(on) : 0;
	}
	return o;
}

static json_t *repurchase_json(const struct repurchase_item *r)
{
	return json_pack("{s:s%,s:I,s:I,s:s,s:s,s:b}", "product", r->product, r->product_len,
			 "orders", (json_int_t)r->orders, "median_interval_days",
			 (json_int_t)r->median, "last_on", r->last_on, "expected_on",
			 r->expected_on, "overdue", r->overdue);
}

json_t *followup_repurchase(json_t *orders, int64_t today)
{
	size_t n;
	struct order_fact *o = order_facts_of(orders, &n);
	struct repurchase_item *items = xcalloc(n + 1, sizeof *items);
	size_t m = followup_repurchase_facts(o, n, today, items);
	json_t *out = json_array();
	for (size_t i = 0; i < m; i++)
		json_array_append_new(out, repurchase_json(&items[i]));
	free(items);
	free(o);
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
 * last touch (or creation: since_day, its local_day) plus the cadence, shorter with an open
 * opportunity. */
static void next_touch_on(const struct rules *r, int64_t since_day, const char *planned,
			  int64_t open_opps, char next[DATE_STR_LEN])
{
	if (planned) {
		snprintf(next, DATE_STR_LEN, "%s", planned);
		return;
	}
	int cadence = open_opps > 0 ? r->cadence_open_days : r->cadence_idle_days;
	date_from_days(since_day + cadence, next);
}

static int is_sleeping(const struct rules *r, int64_t today, int64_t since_day)
{
	return today - since_day > r->sleeping_after_days;
}

/* An overdue forecast's warning message, as the warning says it: NULL when it is not valid
 * UTF-8 (cut at 299 bytes inside a character), which json_pack refused: no warning then. */
static const char *overdue_message(const struct repurchase_item *r, char msg[300])
{
	snprintf(msg, 300, "%.*s was expected to be reordered by %s.", (int)r->product_len,
		 r->product, r->expected_on);
	return text_utf8_valid(msg, strlen(msg)) ? msg : NULL;
}

int followup_account_derive(struct store *s, struct present_ctx *pc,
			    const struct account_facts *f, struct account_derived *d,
			    struct dm_err *e)
{
	memset(d, 0, sizeof *d);
	if (rules_of(s, pc, e))
		return e->code;
	int64_t today = pc->today_day;
	const char *since = f->last_touch_at ? f->last_touch_at : f->created_at;
	int64_t since_day = local_day(since);
	next_touch_on(&pc->rules, since_day, f->latest_next_touch, f->open_opps, d->next_touch_on);
	d->sleeping = is_sleeping(&pc->rules, today, since_day);
	/* the segment from the account's order facts; the orders themselves come only when a
	 * product may have the three a forecast needs (sqlbuild.c) */
	d->segment = followup_segment(f->order_count, f->first_order_on, today);
	if (f->norders < 3)
		return 0;   /* no forecast, no warning */
	d->items = xcalloc(f->norders, sizeof *d->items);
	d->nitems = followup_repurchase_facts(f->orders, f->norders, today, d->items);
	for (size_t i = 0; i < d->nitems; i++) {
		char msg[300];
		if (d->items[i].overdue && overdue_message(&d->items[i], msg))
			d->decline = 1;
	}
	return 0;
}

void followup_account_derived_release(struct account_derived *d)
{
	free(d->items);
	d->items = NULL;
	d->nitems = 0;
}

int followup_present_account(struct store *s, struct present_ctx *pc, json_t *rec,
			     struct dm_err *e)
{
	struct account_derived d;
	size_t n;
	struct order_fact *o = order_facts_of(json_object_get(rec, "_orders"), &n);
	const struct account_facts f = {
		.created_at = json_string_value(json_object_get(rec, "created_at")),
		.last_touch_at = json_string_value(json_object_get(rec, "last_touch_at")),
		.latest_next_touch = json_string_value(json_object_get(rec, "_latest_next_touch")),
		.first_order_on = json_string_value(json_object_get(rec, "_first_order_on")),
		.open_opps = int_of(rec, "_open_opps"),
		.order_count = int_of(rec, "_order_count"),
		.orders = o,
		.norders = n,
	};
	int rc = followup_account_derive(s, pc, &f, &d, e);
	if (rc) {
		free(o);
		return rc;
	}
	json_t *rp = json_array(), *warnings = json_array();
	for (size_t i = 0; i < d.nitems; i++) {
		json_t *r = repurchase_json(&d.items[i]);
		char msg[300];
		const char *m = d.items[i].overdue ? overdue_message(&d.items[i], msg) : NULL;
		if (m)
			json_array_append_new(warnings, json_pack("{s:s,s:s,s:O}", "code",
								  "repurchase_overdue", "message", m,
								  "product", json_object_get(r, "product")));
		json_array_append_new(rp, r);
	}
	json_object_set_new(rec, "next_touch_on", json_string(d.next_touch_on));
	json_object_set_new(rec, "sleeping", json_boolean(d.sleeping));
	json_object_set_new(rec, "segment", json_string(d.segment));
	if (d.decline)
		json_object_set_new(rec, "lifecycle", json_string("decline"));
	json_object_set_new(rec, "repurchase", rp);
	json_object_set_new(rec, "warnings", warnings);
	followup_account_derived_release(&d);
	free(o);
	return 0;
}

/* ---- an account of a list as text ----------------------------------------------------------------- */

/* The columns of the facts among kind_account's selected fields (store_row's order). lean: the
 * row holds only the fields the text writes or derives from (at->only), not the internal ones
 * the rules' own scans read (_latest_contact_ids, _won_opps: ≈ 6 % of a list's columns). */
static void account_layout_init(struct account_text *at, int lean)
{
	static const char *const names[AT_NFACTS] = {
		"id", "created_at", "last_touch_at", "lifecycle", "_latest_next_touch",
		"_first_order_on", "_open_opps", "_order_count", "_orders",
	};
	size_t col = 0, used = 0;
	memset(at, 0, sizeof *at);
	for (int i = 0; i < AT_NFACTS; i++)
		at->col[i] = -1;
	for (size_t i = 0; i < kind_account.nfields; i++) {
		const struct field *f = &kind_account.fields[i];
		int fact = -1;
		if (!model_is_selected(f))
			continue;
		for (int j = 0; j < AT_NFACTS; j++)
			if (!strcmp(f->name, names[j]))
				fact = j;
		if (lean && (f->flags & FF_INTERNAL) && fact < 0)
			continue;
		if (fact >= 0)
			at->col[fact] = (int)col;
		if (lean)
			at->only[col] = f->name;   /* the field's own name: model_query_selects */
		/* the fields' names are ASCII with nothing to escape (model.c), so ,"name": */
		size_t n = strlen(f->name) + 4;
		if (col >= STORE_ROW_MAX || used + n + AT_KEY_COPY > sizeof at->keys || n > 255)
			abort();   /* the model outgrew the table: a build-time fact */
		at->field[col] = f;
		at->how[col] = f->flags & FF_INTERNAL ? ATC_INTERNAL :
			       f->type == FT_INT || f->type == FT_REF ? ATC_INT :
			       f->type == FT_BOOL ? ATC_BOOL : f->type == FT_JSON ? ATC_JSON : ATC_TEXT;
		at->key_at[col] = (unsigned short)used;
		at->key_len[col] = (unsigned char)n;
		at->keys[used] = ',';
		at->keys[used + 1] = '"';
		memcpy(at->keys + used + 2, f->name, n - 4);
		at->keys[used + n - 2] = '"';
		at->keys[used + n - 1] = ':';
		used += n;
		col++;
	}
	at->ncols = col;
}

static struct account_text account_layout, account_list_layout;
static pthread_once_t account_layout_once = PTHREAD_ONCE_INIT;

static void account_layout_once_init(void)
{
	account_layout_init(&account_layout, 0);
	account_layout_init(&account_list_layout, 1);
}

const struct account_text *followup_account_layout(void)
{
	pthread_once(&account_layout_once, account_layout_once_init);
	return &account_layout;
}

const struct account_text *followup_account_list_layout(void)
{
	pthread_once(&account_layout_once, account_layout_once_init);
	return &account_list_layout;
}

/* Column c's key (followup_account_layout), with its comma unless it is the first. A key's
 * length is at most 255 (an unsigned char), and GCC inlines a copy of a length so bounded as
 * `rep movsq`, whose start-up cost was ≈ 40 % of this function's own time: the key is copied
 * as AT_KEY_COPY bytes, a few vector moves (the table holds that many past each key's start,
 * the buffer has the room, the bytes past the key are written over next). */
static inline void put_col_key(struct buf *b, const struct account_text *at, size_t c, int *first)
{
	size_t skip = (size_t)*first, n = (size_t)at->key_len[c] - skip;
	const char *k = at->keys + at->key_at[c] + skip;
	*first = 0;
	if (!b->cap && n <= AT_KEY_COPY && b->len + AT_KEY_COPY < b->alloc) {
		memcpy(b->data + b->len, k, AT_KEY_COPY);
		b->len += n;
		b->data[b->len] = '\0';
		return;
	}
	buf_put(b, k, n);
}

/* The text of a string column as json_string would hold it: json_string reads up to the first
 * NUL and refuses text that is not UTF-8 (the record then lacks the field: *len = SIZE_MAX). */
static size_t string_len(const struct store_value *v)
{
	if (text_utf8_valid(v->s, v->n))
		return v->n;
	size_t n = strlen(v->s);
	return n < v->n && text_utf8_valid(v->s, n) ? n : SIZE_MAX;
}

static const char *fact_text(const struct account_text *at, const struct store_row *r, int fact)
{
	int c = at->col[fact];
	if (c < 0 || (size_t)c >= r->n || r->v[c].null || string_len(&r->v[c]) == SIZE_MAX)
		return NULL;
	return r->v[c].s;
}

static int64_t fact_int(const struct account_text *at, const struct store_row *r, int fact)
{
	int c = at->col[fact];
	return c < 0 || (size_t)c >= r->n || r->v[c].null ? 0 : r->v[c].i;
}

static int put_json(struct buf *b, const json_t *v)
{
	if (jsontext_append(b, v) == 0)
		return 0;
	char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	int rc = t ? buf_puts(b, t) : -1;
	free(t);
	return rc;
}

#define PUT_LIT(b, lit) buf_put((b), (lit), sizeof(lit) - 1)
/* The key of a computed field (a literal: ASCII with nothing to escape), quoted, and its colon,
 * after a comma unless it is the first. */
#define PUT_KEY(b, lit, first) \
	do { \
		if (*(first)) \
			PUT_LIT(b, "\"" lit "\":"); \
		else \
			PUT_LIT(b, ",\"" lit "\":"); \
		*(first) = 0; \
	} while (0)

/* The orders' text when it is [["product","date"],...] as SQLite's json_group_array writes it
 * and jsontext_quick reads it (strings of valid UTF-8 without escapes): the facts point into
 * the text. NULL for anything else (then read as store_list reads it). "[]" is no facts. */
static struct order_fact *orders_quick(const char *t, size_t n, size_t *count)
{
	size_t i = 1, cap = 0, k = 0;
	struct order_fact *o = NULL;
	*count = 0;
	if (n < 2 || t[0] != '[')
		return NULL;
	if (n == 2 && t[1] == ']')
		return xcalloc(1, sizeof *o);
	for (;;) {
		const char *str[2];
		size_t len[2];
		if (i >= n || t[i++] != '[')
			goto no;
		for (int f = 0; f < 2; f++) {
			if (f && (i >= n || t[i++] != ','))
				goto no;
			if (i >= n || t[i++] != '"')
				goto no;
			size_t from = i;
			while (i < n && t[i] != '"') {
				if (t[i] == '\\' || (unsigned char)t[i] < 0x20)
					goto no;
				i++;
			}
			if (i >= n || !text_utf8_valid(t + from, i - from))
				goto no;
			str[f] = t + from;
			len[f] = i - from;
			i++;
		}
		if (i >= n || t[i++] != ']')
			goto no;
		if (k == cap) {
			cap = cap ? cap * 2 : 8;
			o = xrealloc(o, cap * sizeof *o);
		}
		o[k].product = str[0];
		o[k].product_len = len[0];
		o[k].on = str[1];
		o[k].on_len = len[1];
		k++;
		if (i < n && t[i] == ',') {
			i++;
			continue;
		}
		if (i + 1 == n && t[i] == ']')
			break;
		goto no;
	}
	*count = k;
	return o;
no:
	free(o);
	return NULL;
}

static int account_text(struct store *s, struct present_ctx *pc, const struct account_text *at,
			const struct store_row *r, struct buf *b, const struct field *want,
			json_t **want_value, struct dm_err *e)
{
	struct account_derived d;
	struct order_fact *orders = NULL;
	json_t *held = NULL;
	size_t norders = 0;
	int c = at->col[AT_ORDERS];
	if (r->n != at->ncols)
		return dm_fail(e, DM_EINTERNAL, NULL, "an account row of %zu columns", r->n);
	if (c >= 0 && !r->v[c].null && !(orders = orders_quick(r->v[c].s, r->v[c].n, &norders))) {
		held = jsontext_column(r->v[c].s, r->v[c].n);   /* as store_list reads it */
		orders = order_facts_of(held, &norders);   /* pointing into held */
	}
	const struct account_facts f = {
		.created_at = fact_text(at, r, AT_CREATED_AT),
		.last_touch_at = fact_text(at, r, AT_LAST_TOUCH_AT),
		.latest_next_touch = fact_text(at, r, AT_LATEST_NEXT_TOUCH),
		.first_order_on = fact_text(at, r, AT_FIRST_ORDER_ON),
		.open_opps = fact_int(at, r, AT_OPEN_OPPS),
		.order_count = fact_int(at, r, AT_ORDER_COUNT),
		.orders = orders,
		.norders = norders,
	};
	int rc = followup_account_derive(s, pc, &f, &d, e);
	if (rc) {
		free(orders);
		json_decref(held);
		return rc;
	}
	/* method_present's record: the selected fields in the kind's order but the internal ones,
	 * lifecycle as presented, then the computed ones in the order followup_present_account
	 * adds them */
	int first = 1;
	PUT_LIT(b, "{");
	for (size_t ci = 0; ci < at->ncols; ci++) {
		const struct field *fd = at->field[ci];
		const struct store_value *v = &r->v[ci];
		int how = at->how[ci];
		json_t *wv = NULL;
		int first_was = first;
		if (how == ATC_INTERNAL)
			continue;
		if ((int)ci == at->col[AT_LIFECYCLE] && d.decline) {
			put_col_key(b, at, ci, &first);
			PUT_LIT(b, "\"decline\"");
			if (fd == want)   /* the cursor compares the stored lifecycle */
				wv = v->null ? json_null() : json_stringn(v->s, v->n);
		} else if (v->null) {
			put_col_key(b, at, ci, &first);
			PUT_LIT(b, "null");
			if (fd == want)
				wv = json_null();
		} else if (how == ATC_INT) {
			put_col_key(b, at, ci, &first);
			jsontext_int(b, (long long)v->i);
			if (fd == want)
				wv = json_integer(v->i);
		} else if (how == ATC_BOOL) {
			put_col_key(b, at, ci, &first);
			if (v->i)
				PUT_LIT(b, "true");
			else
				PUT_LIT(b, "false");
			if (fd == want)
				wv = json_boolean(v->i);
		} else if (how == ATC_JSON) {
			put_col_key(b, at, ci, &first);
			if (jsontext_quick(v->s, v->n)) {
				buf_put(b, v->s, v->n);   /* its own compact text */
			} else {
				json_t *x = jsontext_column(v->s, v->n);
				put_json(b, x);
				json_decref(x);
			}
		} else {
			put_col_key(b, at, ci, &first);
			size_t mark = b->len, n = v->n;
			if (jsontext_string_checked(b, v->s, n)) {
				n = string_len(v);   /* not UTF-8, or a NUL: as json_string reads it */
				if (n == SIZE_MAX) {
					b->len = mark - (at->key_len[ci] - (size_t)first_was);
					b->data[b->len] = '\0';
					first = first_was;
					continue;   /* json_string refused it: no such field */
				}
				jsontext_string(b, v->s, n);
			}
			if (fd == want)
				wv = json_stringn(v->s, n);
		}
		if (wv)
			*want_value = wv;
	}
	PUT_KEY(b, "next_touch_on", &first);
	jsontext_string(b, d.next_touch_on, strlen(d.next_touch_on));
	PUT_KEY(b, "sleeping", &first);
	if (d.sleeping)
		PUT_LIT(b, "true");
	else
		PUT_LIT(b, "false");
	PUT_KEY(b, "segment", &first);
	jsontext_string(b, d.segment, strlen(d.segment));
	PUT_KEY(b, "repurchase", &first);
	PUT_LIT(b, "[");
	for (size_t i = 0; i < d.nitems; i++) {
		const struct repurchase_item *it = &d.items[i];
		if (i)
			PUT_LIT(b, ",");
		PUT_LIT(b, "{\"product\":");
		jsontext_string(b, it->product, it->product_len);
		PUT_LIT(b, ",\"orders\":");
		jsontext_int(b, (long long)it->orders);
		PUT_LIT(b, ",\"median_interval_days\":");
		jsontext_int(b, (long long)it->median);
		PUT_LIT(b, ",\"last_on\":");
		jsontext_string(b, it->last_on, strlen(it->last_on));
		PUT_LIT(b, ",\"expected_on\":");
		jsontext_string(b, it->expected_on, strlen(it->expected_on));
		if (it->overdue)
			PUT_LIT(b, ",\"overdue\":true}");
		else
			PUT_LIT(b, ",\"overdue\":false}");
	}
	PUT_LIT(b, "]");
	PUT_KEY(b, "warnings", &first);
	PUT_LIT(b, "[");
	int nw = 0;
	for (size_t i = 0; i < d.nitems; i++) {
		char msg[300];
		const char *m = d.items[i].overdue ? overdue_message(&d.items[i], msg) : NULL;
		if (!m)
			continue;
		if (nw++)
			PUT_LIT(b, ",");
		PUT_LIT(b, "{\"code\":\"repurchase_overdue\",\"message\":");
		jsontext_string(b, m, strlen(m));
		PUT_LIT(b, ",\"product\":");
		jsontext_string(b, d.items[i].product, d.items[i].product_len);
		PUT_LIT(b, "}");
	}
	PUT_LIT(b, "]}");
	followup_account_derived_release(&d);
	free(orders);
	json_decref(held);
	return 0;
}

/* ---- the accounts' texts, remembered ----------------------------------------------------------
 *
 * An account's text is a function of its row's values, the layout, the day and the follow-up
 * rules, nothing else (account_text reads no other table and nothing of the viewer): the same
 * inputs give the same bytes. A rep's list of 50 wrote them again at every request, ≈ 30 % of
 * its CPU at full scale (fix 58). The memo keeps the texts of up to MEMO_SETS × MEMO_WAYS
 * accounts, each with the exact inputs it was written from (the row's values byte for byte,
 * the layout, the day, the rules); a row whose inputs are all equal takes the remembered
 * text, any other is written as before and takes the slot. So nothing shown can be stale: a change of a column
 * (by the API, a trigger, an import or a hand-written UPDATE), of the day or of the rules is a
 * different key, whoever made it. The entries are shared by the threads, MEMO_LOCKS mutexes
 * over them (one memo per thread measured the same), in sets of MEMO_WAYS by the account's id
 * (hashed): a new text replaces its account's entry, else takes a free way, else one not used
 * since the set last had to evict (a clock). One entry per set (fix 58) lost the entry of
 * either of two accounts whose ids fell in the same set whenever the other was written: ≈ a
 * quarter of a manager's 5,000 accounts, read whole again at every list (fix 60). At most
 * MEMO_SETS × MEMO_WAYS entries of at most MEMO_ENTRY_MAX bytes (an account's key and text are
 * ≈ 1.3 KB; one with long notes is written each time instead): ≈ 20 MB when full, 64 MB at
 * most; a manager's lists of a hundred reps (≈ 5,000 accounts) fit. */
#define MEMO_SETS 4096
#define MEMO_WAYS 4
#define MEMO_LOCKS 64
#define MEMO_ENTRY_MAX 4096

struct memo_entry {
	int64_t id, today;
	int used;      /* read since its set last evicted (under its set's lock) */
	int64_t rev;   /* the row's revision (store_row), 0 when not known */
	const struct account_text *at;
	struct rules rules;
	size_t key_len, text_len;
	char data[];   /* the key (memo_key), then the text */
};

static struct memo_entry *memo_slot[MEMO_SETS * MEMO_WAYS];
static pthread_mutex_t memo_mu[MEMO_LOCKS] = { [0 ... MEMO_LOCKS - 1] = PTHREAD_MUTEX_INITIALIZER };
static __thread long memo_hit_count;   /* this thread's (for tests) */

/* The row's values as one key: per column a tag (n null, i integer, s text), then the integer
 * or the text's length and bytes. */
static void memo_key(const struct store_row *r, struct buf *k)
{
	for (size_t c = 0; c < r->n; c++) {
		const struct store_value *v = &r->v[c];
		if (v->null) {
			buf_put(k, "n", 1);
		} else if (!v->s) {
			buf_put(k, "i", 1);
			buf_put(k, (const char *)&v->i, sizeof v->i);
		} else {
			buf_put(k, "s", 1);
			buf_put(k, (const char *)&v->n, sizeof v->n);
			buf_put(k, v->s, v->n);
		}
	}
}

/* The set of account id: its first slot's index. */
static size_t memo_set(int64_t id)
{
	return (size_t)((uint64_t)id * 0x9E3779B97F4A7C15ULL >> 52) * MEMO_WAYS;   /* MEMO_SETS */
}

static pthread_mutex_t *memo_lock(size_t i)
{
	return &memo_mu[i / MEMO_WAYS % MEMO_LOCKS];
}

/* The entry of account id in the set from slot i on, or NULL. */
static struct memo_entry *memo_find(size_t i, int64_t id)
{
	for (size_t w = 0; w < MEMO_WAYS; w++)
		if (memo_slot[i + w] && memo_slot[i + w]->id == id)
			return memo_slot[i + w];
	return NULL;
}

/* Whether entry m was written with layout at, on pc's day, under pc's rules. */
static int memo_fits(const struct memo_entry *m, const struct account_text *at,
		     const struct present_ctx *pc)
{
	return m->at == at && m->today == pc->today_day &&
	       !memcmp(&m->rules, &pc->rules, sizeof m->rules);
}

/* Whether key (memo_key's) holds row r's values: read in place, no key written. */
static int memo_same(const char *key, size_t len, const struct store_row *r)
{
	const char *p = key, *end = key + len;
	for (size_t c = 0; c < r->n; c++) {
		const struct store_value *v = &r->v[c];
		if (p == end)
			return 0;
		if (v->null) {
			if (*p++ != 'n')
				return 0;
		} else if (!v->s) {
			if ((size_t)(end - p) < 1 + sizeof v->i || *p != 'i' ||
			    memcmp(p + 1, &v->i, sizeof v->i))
				return 0;
			p += 1 + sizeof v->i;
		} else {
			if ((size_t)(end - p) < 1 + sizeof v->n + v->n || *p != 's' ||
			    memcmp(p + 1, &v->n, sizeof v->n) || memcmp(p + 1 + sizeof v->n, v->s, v->n))
				return 0;
			p += 1 + sizeof v->n + v->n;
		}
	}
	return p == end;
}

/* The remembered text of row r's inputs appended to b: 1, else 0. */
static int memo_get(int64_t id, const struct account_text *at, const struct present_ctx *pc,
		    const struct store_row *r, struct buf *b)
{
	size_t i = memo_set(id);
	int hit = 0;
	pthread_mutex_lock(memo_lock(i));
	struct memo_entry *m = memo_find(i, id);
	if (m && memo_fits(m, at, pc) && memo_same(m->data, m->key_len, r)) {
		buf_put(b, m->data + m->key_len, m->text_len);
		hit = 1;
		m->used = 1;
		if (r->rev)   /* the same values at this revision: the text is this revision's */
			m->rev = r->rev;
	}
	pthread_mutex_unlock(memo_lock(i));
	memo_hit_count += hit;
	return hit;
}

static void memo_put(int64_t id, int64_t rev, const struct account_text *at,
		     const struct present_ctx *pc, const struct buf *key, const char *text,
		     size_t text_len)
{
	struct memo_entry *m = xmalloc(sizeof *m + key->len + text_len);
	m->id = id;
	m->used = 1;
	m->rev = rev;
	m->today = pc->today_day;
	m->at = at;
	m->rules = pc->rules;
	m->key_len = key->len;
	m->text_len = text_len;
	memcpy(m->data, key->data, key->len);
	memcpy(m->data + key->len, text, text_len);
	size_t i = memo_set(id), w, way = MEMO_WAYS;
	pthread_mutex_lock(memo_lock(i));
	for (w = 0; w < MEMO_WAYS && way == MEMO_WAYS; w++)   /* its own entry, else a free way */
		if (!memo_slot[i + w] || memo_slot[i + w]->id == id)
			way = w;
	for (int pass = 0; pass < 2 && way == MEMO_WAYS; pass++)   /* else one not used since */
		for (w = 0; w < MEMO_WAYS && way == MEMO_WAYS; w++)
			if (!memo_slot[i + w]->used)
				way = w;
			else
				memo_slot[i + w]->used = 0;
	struct memo_entry *old = memo_slot[i + way];
	memo_slot[i + way] = m;
	pthread_mutex_unlock(memo_lock(i));
	free(old);
}

int followup_account_text_known(struct store *s, struct present_ctx *pc,
				const struct account_text *at, int64_t id, int64_t rev, struct buf *b,
				int *known, struct dm_err *e)
{
	*known = 0;
	if (!rev || b->cap)
		return 0;
	if (rules_of(s, pc, e))
		return e->code;
	size_t i = memo_set(id);
	pthread_mutex_lock(memo_lock(i));
	struct memo_entry *m = memo_find(i, id);
	if (m && m->rev == rev && memo_fits(m, at, pc)) {
		buf_put(b, m->data + m->key_len, m->text_len);
		m->used = 1;
		*known = 1;
	}
	pthread_mutex_unlock(memo_lock(i));
	memo_hit_count += *known;
	return 0;
}

long followup_memo_hits(void)
{
	return memo_hit_count;
}

void followup_memo_clear(void)
{
	for (size_t i = 0; i < MEMO_SETS * MEMO_WAYS; i++) {
		pthread_mutex_lock(memo_lock(i));
		struct memo_entry *old = memo_slot[i];
		memo_slot[i] = NULL;
		pthread_mutex_unlock(memo_lock(i));
		free(old);
	}
}

int followup_account_text(struct store *s, struct present_ctx *pc, const struct account_text *at,
			  const struct store_row *r, struct buf *b, const struct field *want,
			  json_t **want_value, struct dm_err *e)
{
	int c = at->col[AT_ID];
	/* the memo for a whole text: not the one whose field's value is wanted (a page's last row,
	 * for the cursor; GET by id, for the version), nor into a capped buffer, which may cut it */
	if (want || b->cap || c < 0 || (size_t)c >= r->n || r->v[c].null || r->n != at->ncols)
		return account_text(s, pc, at, r, b, want, want_value, e);
	if (rules_of(s, pc, e))
		return e->code;
	int64_t id = r->v[c].i;
	if (memo_get(id, at, pc, r, b))
		return 0;
	size_t from = b->len;
	int rc = account_text(s, pc, at, r, b, NULL, NULL, e);
	if (!rc && b->len - from < MEMO_ENTRY_MAX) {
		struct buf key = BUF_INIT(0);
		buf_reserve(&key, 1024);
		memo_key(r, &key);
		if (key.len + (b->len - from) <= MEMO_ENTRY_MAX)
			memo_put(id, r->rev, at, pc, &key, b->data + from, b->len - from);
		buf_release(&key);
	}
	return rc;
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

/* One row of the page (store_agenda_accounts), found by id: its texts are offsets into
 * page_rows.text (-1: null) until the page is read, as the store's are valid during its call
 * only. */
struct page_row {
	int64_t id, contact_id;
	ptrdiff_t name, contact_name;
};

struct page_rows {
	struct page_row *rows;
	size_t n, alloc;
	struct buf text;
};

static ptrdiff_t page_text(struct page_rows *p, const char *t)
{
	if (!t)
		return -1;
	ptrdiff_t off = (ptrdiff_t)p->text.len;
	buf_append(&p->text, t, strlen(t) + 1);
	return off;
}

static void page_take(void *arg, int64_t id, const char *name, int64_t contact_id,
		      const char *contact_name)
{
	struct page_rows *p = arg;
	if (p->n == p->alloc) {
		p->alloc = p->alloc ? p->alloc * 2 : 64;
		p->rows = xrealloc(p->rows, p->alloc * sizeof *p->rows);
	}
	struct page_row *r = &p->rows[p->n++];
	r->id = id;
	r->contact_id = contact_id;
	r->name = page_text(p, name);
	r->contact_name = contact_id ? page_text(p, contact_name) : -1;
}

static int by_page_id(const void *a, const void *b)
{
	const struct page_row *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

static const struct page_row *page_get(const struct page_rows *p, int64_t id)
{
	struct page_row key = { .id = id };
	return p->n ? bsearch(&key, p->rows, p->n, sizeof *p->rows, by_page_id) : NULL;
}

/* The page's names and latest contacts, indexed by id. */
static int page_read(struct store *s, const struct viewer *v, const int64_t *ids, size_t n,
		     struct page_rows *p, struct dm_err *e)
{
	for (size_t i = 0; i < n; i += AGENDA_IDS_MAX) {
		struct agenda_cut cut = { .ids = ids + i,
					  .nids = n - i < AGENDA_IDS_MAX ? n - i : AGENDA_IDS_MAX };
		int rc = store_agenda_accounts(s, v, v->user_id, &cut, page_take, p, e);
		if (rc)
			return rc;
	}
	if (p->n > 1)
		qsort(p->rows, p->n, sizeof *p->rows, by_page_id);
	return 0;
}

/* A stored text as a JSON string, or null (none, or no valid UTF-8: what the objects this
 * replaced held for it). */
static void put_text(struct buf *b, const struct page_rows *p, ptrdiff_t off)
{
	const char *t = off < 0 ? NULL : p->text.data + off;
	if (!t || jsontext_string_checked(b, t, strlen(t)))
		PUT_LIT(b, "null");
}

/* {"account_id":…,"account_name":…,"contact":{"id":…,"name":…}|null,"next_touch_on":…,
 * "days_overdue":…,"reason":…}: the keys and values the jansson object this replaced held. */
static void follow_up_item(struct buf *b, const struct due_account *d, const struct page_rows *p)
{
	const struct page_row *row = page_get(p, d->id);
	char next[DATE_STR_LEN];
	if (d->planned)
		memcpy(next, d->next, sizeof next);
	else
		date_from_days(d->next_day, next);
	PUT_LIT(b, "{\"account_id\":");
	jsontext_int(b, d->id);
	PUT_LIT(b, ",\"account_name\":");
	put_text(b, p, row ? row->name : -1);
	PUT_LIT(b, ",\"contact\":");
	if (row && row->contact_id) {
		PUT_LIT(b, "{\"id\":");
		jsontext_int(b, row->contact_id);
		PUT_LIT(b, ",\"name\":");
		put_text(b, p, row->contact_name);
		PUT_LIT(b, "}");
	} else {
		PUT_LIT(b, "null");
	}
	PUT_LIT(b, ",\"next_touch_on\":");
	jsontext_string(b, next, strlen(next));
	PUT_LIT(b, ",\"days_overdue\":");
	jsontext_int(b, d->overdue);
	if (d->planned)
		PUT_LIT(b, ",\"reason\":\"planned\"}");
	else
		PUT_LIT(b, ",\"reason\":\"cadence\"}");
}

static void sleeping_item(struct buf *b, const struct quiet_account *q, const struct page_rows *p)
{
	const struct page_row *row = page_get(p, q->id);
	PUT_LIT(b, "{\"account_id\":");
	jsontext_int(b, q->id);
	PUT_LIT(b, ",\"account_name\":");
	put_text(b, p, row ? row->name : -1);
	PUT_LIT(b, ",\"last_touch_at\":");
	if (q->touched && !jsontext_string_checked(b, q->since, strlen(q->since)))
		PUT_LIT(b, "}");
	else
		PUT_LIT(b, "null}");
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
	char planned[DATE_STR_LEN + 1], due[TIME_STR_LEN], sleep[TIME_STR_LEN];
	const struct rules *r = a->r;
	int cadence = r->cadence_open_days < r->cadence_idle_days ? r->cadence_open_days :
								      r->cadence_idle_days;
	int64_t last_day;
	date_to_days("9999-12-31", &last_day);
	if (a->day < last_day)
		date_from_days(a->day + 1, planned);
	else   /* the last date there is: its next day would be written as year 0000 */
		memcpy(planned, "9999-12-31~", sizeof planned);
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
 * `want`. */
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
	since = since ? since : "";
	if (a->nquiet == a->aquiet) {
		a->aquiet = a->aquiet ? a->aquiet * 2 : 64;
		a->quiet = xrealloc(a->quiet, a->aquiet * sizeof *a->quiet);
	}
	struct quiet_account *q = &a->quiet[a->nquiet++];
	q->id = id;
	q->off = a->text.len;
	q->touched = touched;
	buf_append(&a->text, since, strlen(since) + 1);
	w->got++;
	return 0;
}

/* A cadence class's due accounts and its sleeping ones in one walk: both are in the class's key
 * order (the key is the since of an unplanned account), from the class's start (lo is before
 * every date but the first cadence's days), so the two walks read the same first entries; the
 * walk reads (-, max(hi, sleep)) and hands each entry to the walks that want it, until both
 * have their page. */
struct both_walk {
	struct due_walk due;
	struct quiet_walk quiet;
	const char *lo, *hi, *sleep;
	int due_done, quiet_done;
};

static int both_step(void *arg, int64_t id, const char *key, const char *since, int touched)
{
	struct both_walk *w = arg;
	if (!w->due_done && strcmp(key, w->hi) >= 0)
		w->due_done = 1;
	if (!w->due_done && strcmp(key, w->lo) >= 0)
		w->due_done = due_step(&w->due, id, key, since, touched);
	if (!w->quiet_done && strcmp(key, w->sleep) >= 0)
		w->quiet_done = 1;
	if (!w->quiet_done)
		w->quiet_done = quiet_step(&w->quiet, id, key, since, touched);
	return w->due_done && w->quiet_done;
}

/* A cadence class's due range [lo, hi) and its sleeping range (-, sleep) share their first
 * entries (a sleeping account is long overdue): counted as the three ranges between the
 * boundaries' order, each entry is stepped once, not twice (rep1: ≈ 1,370 entries for the
 * five counts where ≈ 1,810 were). Each of the three is wholly inside or outside either set. */
struct split {
	const char *b[3];   /* lo, hi and sleep in order (strcmp: SQLite's order of the text) */
};

static void split_init(struct split *sp, const char *lo, const char *hi, const char *sleep)
{
	const char *b[3] = { lo, hi, sleep }, *t;
	for (int i = 1; i < 3; i++)
		for (int k = i; k > 0 && strcmp(b[k - 1], b[k]) > 0; k--)
			t = b[k], b[k] = b[k - 1], b[k - 1] = t;
	memcpy(sp->b, b, sizeof b);
}

/* the three ranges: [-, b0), [b0, b1), [b1, b2) */
static void split_ranges(const struct split *sp, enum agenda_part part, struct agenda_range *r)
{
	for (int i = 0; i < 3; i++)
		r[i] = (struct agenda_range){ part, i ? sp->b[i - 1] : NULL, sp->b[i] };
}

/* the counts of [lo, hi) and of (-, sleep) from the three ranges' */
static void split_sums(const struct split *sp, const char *lo, const char *hi, const char *sleep,
		       const int64_t *c, int64_t *due, int64_t *quiet)
{
	*due = *quiet = 0;
	for (int i = 0; i < 3; i++) {
		if (i && strcmp(sp->b[i - 1], lo) >= 0 && strcmp(sp->b[i], hi) <= 0)
			*due += c[i];
		if (strcmp(sp->b[i], sleep) <= 0)
			*quiet += c[i];
	}
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
	const struct agenda_range ranges[4] = {
		{ AGENDA_PLANNED, NULL, planned_hi },
		{ AGENDA_OPEN, open_lo, open_hi },
		{ AGENDA_IDLE, idle_lo, idle_hi },
		{ AGENDA_QUIET_PLANNED, NULL, sleep },
	};
	/* each cadence class in the three ranges of its split; the planned ones' quiet is a
	 * range of its own index (migration 28), counted with them */
	struct split open, idle;
	struct agenda_range counted[8];
	counted[0] = ranges[0];
	split_init(&open, open_lo, open_hi, sleep);
	split_ranges(&open, AGENDA_OPEN, counted + 1);
	split_init(&idle, idle_lo, idle_hi, sleep);
	split_ranges(&idle, AGENDA_IDLE, counted + 4);
	counted[7] = ranges[3];
	int64_t counts[8], due[3], quiet[3];
	const struct agenda_range any = { AGENDA_ANY, NULL, NULL };
	int rc = store_agenda_count(s, v, v->user_id, &any, 1, counts, e);
	if (rc || !counts[0]) {   /* no account (a manager): one seek, not the counts' eight */
		*due_total = *quiet_total = 0;
		return rc;
	}
	rc = store_agenda_count(s, v, v->user_id, counted, 8, counts, e);
	if (rc)
		return rc;
	due[0] = counts[0];
	quiet[0] = counts[7];
	split_sums(&open, open_lo, open_hi, sleep, counts + 1, &due[1], &quiet[1]);
	split_sums(&idle, idle_lo, idle_hi, sleep, counts + 4, &due[2], &quiet[2]);
	/* the planned ones: due in their date's order, sleeping in their since's (an index of its
	 * own); the first `limit` of each hold the page's */
	if (!rc && limit && due[0]) {
		struct due_walk w = { .a = a, .planned = 1, .want = limit };
		rc = store_agenda_walk(s, v, v->user_id, &ranges[0], due_step, &w, e);
	}
	if (!rc && limit && quiet[0]) {
		struct quiet_walk w = { .a = a, .want = limit };
		rc = store_agenda_walk(s, v, v->user_id, &ranges[3], quiet_step, &w, e);
	}
	/* each cadence class: its due and sleeping ones in one walk of the key's order */
	for (int i = 1; i < 3 && !rc && limit; i++) {
		if (!due[i] && !quiet[i])
			continue;
		const struct agenda_range *d = &ranges[i];
		struct both_walk w = {
			.due = { .a = a, .want = limit, .cadence = i == 1 ? r->cadence_open_days :
									    r->cadence_idle_days },
			.quiet = { .a = a, .want = limit },
			.lo = d->lo, .hi = d->hi, .sleep = sleep,
			.due_done = !due[i], .quiet_done = !quiet[i] };
		struct agenda_range both = { d->part, NULL,
					     strcmp(d->hi, sleep) > 0 ? d->hi : sleep };
		rc = store_agenda_walk(s, v, v->user_id, &both, both_step, &w, e);
	}
	*due_total = due[0] + due[1] + due[2];
	*quiet_total = quiet[0] + quiet[1] + quiet[2];
	for (size_t i = 0; i < a->nquiet; i++)   /* the text may have moved */
		a->quiet[i].since = a->text.data + a->quiet[i].off;
	return rc;
}

int followup_agenda(struct store *s, const struct viewer *v, const char *date, size_t limit,
		    struct buf *out, struct dm_err *e)
{
	char today_s[DATE_STR_LEN];
	int64_t day, today;
	struct rules r;
	struct agenda_scan a = { .text = BUF_INIT(0) };
	struct page_rows page = { .text = BUF_INIT(0) };
	size_t i;
	int64_t *ids = NULL;
	struct buf warnings = BUF_INIT(0);
	if (date && date_to_days(date, &day))
		return dm_fail(e, DM_EPARAM, "date", "date must be YYYY-MM-DD");
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
	/* the ranges compare the date as text: only a date written as the store writes it */
	char canonical[DATE_STR_LEN];
	date_from_days(day, canonical);
	int64_t due_total = -1, quiet_total = -1;
	if (!rc && store_agenda_ranges(s) && !strcmp(canonical, date))
		rc = agenda_by_ranges(s, v, &a, limit, &due_total, &quiet_total, e);
	else if (!rc)
		rc = agenda_candidates(s, v, &a, e);
	if (!rc)
		rc = method_warnings_text(s, v, mine, 2, NULL, &warnings, NULL, e);
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
	if ((rc = page_read(s, v, ids, nf + nq, &page, e)))
		goto out;
	/* the answer as text: the objects, json_pack and the tree's text were a sixth of it */
	struct buf *b = out;
	buf_reserve(b, 1024 + (nf + nq) * 160);
	PUT_LIT(b, "{\"date\":");
	jsontext_string(b, date, strlen(date));
	PUT_LIT(b, ",\"follow_ups\":[");
	for (i = 0; i < nf; i++) {
		if (i)
			PUT_LIT(b, ",");
		follow_up_item(b, &a.due[i], &page);
	}
	PUT_LIT(b, "],\"follow_ups_total\":");
	jsontext_int(b, due_total >= 0 ? due_total : (int64_t)a.ndue);
	PUT_LIT(b, ",\"warnings\":");
	buf_put(b, warnings.data, warnings.len);
	PUT_LIT(b, ",\"sleeping\":[");
	for (i = 0; i < nq; i++) {
		if (i)
			PUT_LIT(b, ",");
		sleeping_item(b, &a.quiet[i], &page);
	}
	PUT_LIT(b, "],\"sleeping_total\":");
	jsontext_int(b, quiet_total >= 0 ? quiet_total : (int64_t)a.nquiet);
	PUT_LIT(b, "}");
out:
	buf_release(&warnings);
	free(page.rows);
	buf_release(&page.text);
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
