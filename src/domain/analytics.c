/* analytics.c — the figures a manager steers by (SPEC §8), over exactly the records of a scope
 * the caller may see. The store runs one aggregate query per figure (store_analytics); this file
 * checks the scope, fixes the period, and turns the aggregates into the documented figures. */
#include "analytics.h"
#include "followup.h"
#include "settings.h"
#include "../base/jsontext.h"
#include "../base/timeutil.h"
#include "../base/xmalloc.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../base/banned.h"

#define TZ_MS (8LL * 3600 * 1000)   /* periods, days, weeks and months are those of UTC+8 */
#define MAX_SPAN_DAYS 3700

/* A NUL-terminated string as a JSON string (stage names, days, the scope as asked). */
static int jsontext_str(struct buf *b, const char *s)
{
	return jsontext_string(b, s, strlen(s));
}

static int64_t int_of(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static json_t *ratio(int64_t num, int64_t den)
{
	return den ? json_real(round((double)num / (double)den * 10000.0) / 10000.0) : json_null();
}

/* ---- scope and period ------------------------------------------------------------------------ */

static const char *param(const struct kv *p, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(p[i].key, key))
			return p[i].value;
	return NULL;
}

static int parse_scope(struct store *s, const struct viewer *v, const char *scope,
		       struct an_params *ap, struct dm_err *e)
{
	if (!scope || !strcmp(scope, "me")) {
		ap->scope = SCOPE_ME;
		ap->user_id = v->user_id;
		return 0;
	}
	if (!strcmp(scope, "company")) {
		if (v->role != ROLE_ADMIN)
			return dm_fail(e, DM_ENOTFOUND, "scope", "no such scope");
		ap->scope = SCOPE_COMPANY;
		return 0;
	}
	char *end;
	if (strncmp(scope, "team:", 5))
		return dm_fail(e, DM_EPARAM, "scope", "scope must be me, team:<id> or company");
	long long id = strtoll(scope + 5, &end, 10);
	if (*end || end == scope + 5 || id < 1)
		return dm_fail(e, DM_EPARAM, "scope", "scope must be me, team:<id> or company");
	int yes = 0;
	int rc = store_team_in_reach(s, v, id, &yes, e);
	if (!rc && !yes)
		rc = dm_fail(e, DM_ENOTFOUND, "scope", "no such team");
	ap->scope = SCOPE_TEAM;
	ap->team_id = id;
	return rc;
}

/* The team scope's subtree resolved once for the report's queries (each walked it again: 40 us
 * a query at full scale). *ids is the caller's to free; left NULL (the queries walk the tree
 * themselves) for a subtree larger than the queries take as values. */
static int resolve_teams(struct store *s, struct an_params *ap, int64_t **ids, struct dm_err *e)
{
	json_t *rows = NULL, *r;
	size_t i;
	*ids = NULL;
	if (ap->scope != SCOPE_TEAM)
		return 0;
	int rc = store_analytics(s, "team_subtree", ap, &rows, e);
	if (!rc && json_array_size(rows) && json_array_size(rows) <= AN_MAX_TEAMS) {
		*ids = xcalloc(json_array_size(rows), sizeof **ids);
		json_array_foreach(rows, i, r)
			(*ids)[i] = int_of(r, "id");
		ap->teams = *ids;
		ap->nteams = json_array_size(rows);
	}
	json_decref(rows);
	return rc;
}

static void instant(int64_t day, char out[TIME_STR_LEN])
{
	time_format(day * 86400000LL - TZ_MS, out);
}

/* from/to dates (default: the first of January of this year to today, UTC+8). */
static int parse_period(const struct kv *p, size_t n, struct an_params *ap, struct dm_err *e)
{
	const char *from = param(p, n, "from"), *to = param(p, n, "to");
	int64_t f, t;
	char today[DATE_STR_LEN];
	date_today_offset(480, today);
	if (to && date_to_days(to, &t))
		return dm_fail(e, DM_EPARAM, "to", "to must be a date YYYY-MM-DD");
	if (!to)
		date_to_days(today, &t);
	if (from && date_to_days(from, &f))
		return dm_fail(e, DM_EPARAM, "from", "from must be a date YYYY-MM-DD");
	if (!from) {
		char jan[DATE_STR_LEN];
		date_from_days(t, jan);
		memcpy(jan + 4, "-01-01", 7);
		date_to_days(jan, &f);
	}
	if (f > t)
		return dm_fail(e, DM_EPARAM, "from", "from must not be after to");
	if (t - f > MAX_SPAN_DAYS)
		return dm_fail(e, DM_EPARAM, "from", "the period may span ten years at most");
	date_from_days(f, ap->from_day);
	date_from_days(t, ap->to_day);
	instant(f, ap->from);
	instant(t + 1, ap->to);
	return 0;
}

static int check_params(const struct kv *p, size_t n, struct dm_err *e)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(p[i].key, "scope") && strcmp(p[i].key, "from") && strcmp(p[i].key, "to"))
			return dm_fail(e, DM_EPARAM, p[i].key, "analytics take scope, from and to only");
		for (size_t j = 0; j < i; j++)
			if (!strcmp(p[i].key, p[j].key))
				return dm_fail(e, DM_EPARAM, p[i].key, "%s is given twice", p[i].key);
	}
	return 0;
}

/* The stages' win rates for the weighted queries (the settings' stages' keys and rates; the keys
 * are static text). NULL with e set on failure; the caller frees the array. */
static struct an_rate *stage_rates(struct store *s, size_t *n, struct dm_err *e)
{
	struct stage_rate sr[16];
	size_t m;
	*n = 0;
	if (settings_win_rates(s, sr, sizeof sr / sizeof sr[0], &m, e))
		return NULL;
	struct an_rate *r = xcalloc(m + 1, sizeof *r);
	for (size_t i = 0; i < m; i++) {
		r[i].stage = sr[i].key;
		r[i].rate = sr[i].win_rate;
	}
	*n = m;
	return r;
}

/* ---- funnel ---------------------------------------------------------------------------------- */

/* The funnel is written as JSON text straight from its sums (store_funnel): the same text the
 * tree of objects gave through json_dumps (keys in this order, reals as jansson writes them), at
 * a fraction of the cost (the tree's objects, then serialising it, were a quarter of the team
 * funnel's CPU). */
static void put_ratio(struct buf *b, int64_t num, int64_t den)
{
	if (den)
		jsontext_real(b, round((double)num / (double)den * 10000.0) / 10000.0);
	else
		jsontext_raw(b, "null");
}

static void put_days2(struct buf *b, int has, double v)
{
	if (has)
		jsontext_real(b, round(v * 100.0) / 100.0);
	else
		jsontext_raw(b, "null");
}

static void put_int(struct buf *b, const char *key, int64_t v)
{
	jsontext_raw(b, key);
	jsontext_int(b, v);
}

static int funnel_text(struct store *s, const struct an_params *ap, struct buf *b,
		       struct dm_err *e)
{
	struct funnel_sums f;
	int64_t tc = 0, ta = 0, tw = 0;
	int rc = store_funnel(s, ap, &f, e);
	if (rc)
		return rc;
	jsontext_raw(b, ",\"stages\":[");
	for (int i = 0; i < FUNNEL_STAGES; i++) {
		tc += f.open[i].count;
		ta += f.open[i].amount;
		tw += f.open[i].weighted;
		jsontext_raw(b, i ? ",{\"stage\":" : "{\"stage\":");
		jsontext_str(b, model_stages[i]);
		put_int(b, ",\"count\":", f.open[i].count);
		put_int(b, ",\"amount\":", f.open[i].amount);
		put_int(b, ",\"weighted_amount\":", f.open[i].weighted);
		jsontext_raw(b, "}");
	}
	put_int(b, "],\"open\":{\"count\":", tc);
	put_int(b, ",\"amount\":", ta);
	put_int(b, ",\"weighted_amount\":", tw);
	put_int(b, "},\"won\":{\"count\":", f.won.count);
	put_int(b, ",\"amount\":", f.won.amount);
	put_int(b, "},\"lost\":{\"count\":", f.lost.count);
	put_int(b, ",\"amount\":", f.lost.amount);
	jsontext_raw(b, "},\"win_rate\":");
	put_ratio(b, f.won.count, f.won.count + f.lost.count);
	/* reached[r]: opportunities of the cohort whose furthest stage is at least rank r */
	int64_t reached[9] = { 0 };
	for (int rank = 1; rank <= 7; rank++)
		for (int k = 1; k <= rank; k++)
			reached[k] += f.reach[rank];
	jsontext_raw(b, ",\"conversion\":[");
	for (int k = 1; k <= 6; k++) {
		jsontext_raw(b, k > 1 ? ",{\"from\":" : "{\"from\":");
		jsontext_str(b, model_stages[k - 1]);
		jsontext_raw(b, ",\"to\":");
		jsontext_str(b, model_stages[k]);
		put_int(b, ",\"reached_from\":", reached[k]);
		put_int(b, ",\"reached_to\":", reached[k + 1]);
		jsontext_raw(b, ",\"rate\":");
		put_ratio(b, reached[k + 1], reached[k]);
		jsontext_raw(b, "}");
	}
	jsontext_raw(b, "],\"avg_days_in_stage\":[");
	for (int i = 0; i < FUNNEL_STAGES; i++) {
		jsontext_raw(b, i ? ",{\"stage\":" : "{\"stage\":");
		jsontext_str(b, model_stages[i]);
		put_int(b, ",\"stays\":", f.stays[i].stays);
		jsontext_raw(b, ",\"avg_days\":");
		put_days2(b, f.stays[i].has_avg, f.stays[i].avg_days);
		jsontext_raw(b, "}");
	}
	jsontext_raw(b, "],\"avg_cycle_days\":");
	put_days2(b, f.won.has_cycle, f.won.avg_cycle_days);
	return 0;
}

/* ---- forecast and quotas ----------------------------------------------------------------------- */

/* The first and last day of a quota period "2026-Q4" / "2026-11". */
static void period_days(const char *period, int64_t *first, int64_t *last)
{
	char d[32];
	int y = atoi(period), m0, m1;
	if (period[5] == 'Q') {
		m0 = (period[6] - '1') * 3 + 1;
		m1 = m0 + 2;
	} else {
		m0 = m1 = atoi(period + 5);
	}
	snprintf(d, sizeof d, "%04d-%02d-01", y % 10000, m0 % 100);
	date_to_days(d, first);
	if (m1 == 12)
		snprintf(d, sizeof d, "%04d-01-01", (y + 1) % 10000);
	else
		snprintf(d, sizeof d, "%04d-%02d-01", y % 10000, (m1 + 1) % 100);
	date_to_days(d, last);
	(*last)--;
}

/* The scope's quotas overlapping the period, each with what was won in its own period. */
static int quotas(struct store *s, const struct an_params *ap, json_t **out, struct dm_err *e)
{
	json_t *rows = NULL, *q;
	int64_t f, t;
	size_t i;
	int rc = store_analytics(s, "quotas", ap, &rows, e);
	if (rc)
		return rc;
	date_to_days(ap->from_day, &f);
	date_to_days(ap->to_day, &t);
	*out = json_array();
	json_array_foreach(rows, i, q) {
		int64_t first, last;
		period_days(json_string_value(json_object_get(q, "period")), &first, &last);
		if (last < f || first > t)
			continue;
		struct an_params qp = *ap;
		qp.scope = json_is_integer(json_object_get(q, "user_id")) ? SCOPE_ME : SCOPE_TEAM;
		qp.user_id = int_of(q, "user_id");
		qp.team_id = int_of(q, "team_id");
		qp.teams = NULL;   /* the quota's team: its own subtree, walked by the query */
		qp.nteams = 0;
		instant(first, qp.from);
		instant(last + 1, qp.to);
		date_from_days(first, qp.from_day);
		date_from_days(last, qp.to_day);
		json_t *won = NULL;
		if ((rc = store_analytics(s, "won_total", &qp, &won, e)))
			break;
		int64_t amount = int_of(json_array_get(won, 0), "amount");
		json_decref(won);
		json_t *item = json_deep_copy(q);
		json_object_set_new(item, "won", json_integer(amount));
		json_object_set_new(item, "attainment", ratio(amount, int_of(q, "amount")));
		json_array_append_new(*out, item);
	}
	json_decref(rows);
	if (rc) {
		json_decref(*out);
		*out = NULL;
	}
	return rc;
}

static int forecast(struct store *s, struct an_params *ap, json_t *out, struct dm_err *e)
{
	json_t *open = NULL, *won = NULL, *q = NULL;
	int rc;
	if (!(rc = store_analytics(s, "open_by_month", ap, &open, e)) &&
	    !(rc = store_analytics(s, "won_by_month", ap, &won, e)) &&
	    !(rc = quotas(s, ap, &q, e))) {
		json_object_set_new(out, "by_close_month", open);
		json_object_set_new(out, "won_by_month", won);
		json_object_set_new(out, "quotas", q);
		return 0;
	}
	json_decref(open);
	json_decref(won);
	return rc;
}

/* ---- activity ---------------------------------------------------------------------------------- */

/* "2026-W47" of a day number. */
static void iso_week(int64_t day, char out[32])
{
	int64_t wd = ((day % 7) + 7 + 3) % 7 + 1;   /* 1970-01-01 was a Thursday: Monday = 1 */
	int64_t thursday = day - wd + 4, jan1;
	char d[DATE_STR_LEN];
	date_from_days(thursday, d);
	memcpy(d + 4, "-01-01", 7);
	date_to_days(d, &jan1);
	d[4] = '\0';
	int week = (int)((thursday - jan1) / 7 + 1) % 100;
	snprintf(out, 32, "%.4s-W%02d", d, week);
}

static int activity(struct store *s, struct an_params *ap, json_t *out, struct dm_err *e)
{
	struct rules r;
	json_t *days = NULL, *totals = NULL, *channels = NULL, *sleeping = NULL, *inter = NULL;
	int rc = settings_rules(s, &r, e);
	int64_t today;
	char td[DATE_STR_LEN];
	date_today_offset(480, td);
	date_to_days(td, &today);
	instant(today - r.sleeping_after_days, ap->cutoff);
	ap->n = r.intervention_touches;
	if (rc || (rc = store_analytics(s, "touches_week", ap, &days, e)) ||
	    (rc = store_analytics(s, "activity_totals", ap, &totals, e)) ||
	    (rc = store_analytics(s, "by_channel", ap, &channels, e)) ||
	    (rc = store_analytics(s, "sleeping", ap, &sleeping, e)) ||
	    (rc = store_analytics(s, "intervention", ap, &inter, e)))
		goto out;
	/* one row per rep and week, by its Monday, ordered by user, then week */
	json_t *weeks = json_array(), *row;
	size_t i;
	json_array_foreach(days, i, row) {
		int64_t d;
		char w[32];
		date_to_days(json_string_value(json_object_get(row, "monday")), &d);
		iso_week(d, w);
		json_array_append_new(weeks, json_pack("{s:I,s:s,s:I}", "user_id",
			(json_int_t)int_of(row, "user_id"), "week", w, "touches",
			(json_int_t)int_of(row, "touches")));
	}
	json_t *t = json_array_get(totals, 0);
	json_object_set_new(out, "touches_per_rep_week", weeks);
	json_object_set_new(out, "activities", json_integer(int_of(t, "activities")));
	json_object_set_new(out, "effective", json_integer(int_of(t, "effective")));
	json_object_set_new(out, "effective_share", ratio(int_of(t, "effective"), int_of(t, "activities")));
	json_object_set_new(out, "accounts_touched", json_integer(int_of(t, "accounts_touched")));
	json_object_set_new(out, "by_channel", json_incref(channels));
	json_object_set_new(out, "sleeping_accounts",
			    json_integer(int_of(json_array_get(sleeping, 0), "n")));
	json_object_set_new(out, "intervention", json_integer(int_of(json_array_get(inter, 0), "n")));
out:
	json_decref(days);
	json_decref(totals);
	json_decref(channels);
	json_decref(sleeping);
	json_decref(inter);
	return rc;
}

/* ---- pool and segments --------------------------------------------------------------------------- */

static int pool(struct store *s, struct an_params *ap, json_t *out, struct dm_err *e)
{
	json_t *size = NULL, *flows = NULL, *f;
	int rc;
	if ((rc = store_analytics(s, "pool_size", ap, &size, e)) ||
	    (rc = store_analytics(s, "pool_flows", ap, &flows, e))) {
		json_decref(size);
		return rc;
	}
	json_t *in = json_array(), *outflow = json_array();
	int64_t tin = 0, tout = 0;
	size_t i;
	json_array_foreach(flows, i, f) {
		int inward = !strcmp(json_string_value(json_object_get(f, "direction")), "in");
		json_array_append_new(inward ? in : outflow, json_pack("{s:O,s:O}", "reason",
			json_object_get(f, "reason"), "n", json_object_get(f, "n")));
		*(inward ? &tin : &tout) += int_of(f, "n");
	}
	json_object_set_new(out, "pool_size", json_integer(int_of(json_array_get(size, 0), "n")));
	json_object_set_new(out, "inflow", in);
	json_object_set_new(out, "outflow", outflow);
	json_object_set_new(out, "inflow_total", json_integer(tin));
	json_object_set_new(out, "outflow_total", json_integer(tout));
	json_decref(size);
	json_decref(flows);
	return 0;
}

static int segments(struct store *s, struct an_params *ap, json_t *out, struct dm_err *e)
{
	static const char *const names[] = { "habitual", "beginner", "prospect", NULL };
	int64_t today, acc[3] = { 0 }, rev[3] = { 0 }, tch[3] = { 0 }, ta = 0, tr = 0, tt = 0;
	char td[DATE_STR_LEN];
	json_t *rows = NULL, *r;
	size_t i;
	date_today_offset(480, td);
	date_to_days(td, &today);
	/* a first order on or after this day makes a beginner (followup_segment's rule) */
	time_format((today - 180) * 86400000LL, ap->cutoff);
	int rc = store_analytics(s, "segments", ap, &rows, e);
	if (rc)
		return rc;
	json_array_foreach(rows, i, r) {
		int64_t bucket = int_of(r, "orders_bucket");
		int seg = bucket == 0 ? 2 : bucket == 1 || int_of(r, "first_recent") ? 1 : 0;
		acc[seg] += int_of(r, "accounts");
		rev[seg] += int_of(r, "revenue");
		tch[seg] += int_of(r, "touches");
	}
	for (int k = 0; k < 3; k++) {
		ta += acc[k];
		tr += rev[k];
		tt += tch[k];
	}
	json_t *list = json_array();
	for (int k = 0; names[k]; k++)
		json_array_append_new(list, json_pack("{s:s,s:I,s:o,s:I,s:o,s:I,s:o}", "segment", names[k],
			"accounts", (json_int_t)acc[k], "account_share", ratio(acc[k], ta), "revenue",
			(json_int_t)rev[k], "revenue_share", ratio(rev[k], tr), "touches",
			(json_int_t)tch[k], "touch_share", ratio(tch[k], tt)));
	json_object_set_new(out, "segments", list);
	json_decref(rows);
	return 0;
}

/* ---- reps -------------------------------------------------------------------------------------- */

static int reps(struct store *s, struct an_params *ap, json_t *out, struct dm_err *e)
{
	json_t *rows = NULL, *q = NULL, *r, *qq;
	size_t i, j;
	int rc;
	if ((rc = store_analytics(s, "reps", ap, &rows, e)) || (rc = quotas(s, ap, &q, e))) {
		json_decref(rows);
		return rc;
	}
	json_array_foreach(rows, i, r) {
		int64_t quota = 0, won = int_of(r, "won_amount"), wc = int_of(r, "won_count");
		int have_quota = 0;
		json_array_foreach(q, j, qq) {
			if (int_of(qq, "user_id") == int_of(r, "user_id")) {
				quota += int_of(qq, "amount");
				have_quota = 1;
			}
		}
		json_object_set_new(r, "win_rate", ratio(wc, wc + int_of(r, "lost_count")));
		json_object_set_new(r, "quota", have_quota ? json_integer(quota) : json_null());
		json_object_set_new(r, "quota_attainment", have_quota ? ratio(won, quota) : json_null());
		const char *hired = json_string_value(json_object_get(r, "hired_on"));
		const char *first = json_string_value(json_object_get(r, "first_won_at"));
		int64_t h, w;
		if (hired && first && !date_to_days(hired, &h)) {
			int64_t ms;
			time_parse(first, &ms);
			w = (ms + TZ_MS) / 86400000LL;
			json_object_set_new(r, "ramp_days", json_integer(w - h));
		} else {
			json_object_set_new(r, "ramp_days", json_null());
		}
		json_object_del(r, "first_won_at");
	}
	json_object_set_new(out, "items", rows);
	json_decref(q);
	return 0;
}

/* ---- the entry point ----------------------------------------------------------------------------- */

/* subtree: the report's queries read a team scope's subtree (resolved once for them); the
 * funnel's read the team's own key, which holds its subtree's sums (migration 22). The funnel
 * writes its text itself (run NULL); the others fill the answer's object. */
static const struct {
	const char *name;
	int (*run)(struct store *s, struct an_params *ap, json_t *out, struct dm_err *e);
	int subtree;
} reports[] = {
	{ "funnel", NULL, 0 }, { "forecast", forecast, 1 }, { "activity", activity, 1 },
	{ "pool", pool, 1 }, { "segments", segments, 1 }, { "reps", reps, 1 },
};

static json_t *header(const struct an_params *ap, const char *scope)
{
	return json_pack("{s:s,s:s,s:s}", "scope", scope ? scope : "me", "from", ap->from_day, "to",
			 ap->to_day);
}

/* o as compact text (jsontext, or jansson for what it declines) */
static int tree_text(json_t *o, struct buf *out)
{
	if (!jsontext_append(out, o))
		return 0;
	buf_reset(out);
	char *t = json_dumps(o, JSON_COMPACT);
	int rc = t ? buf_puts(out, t) : -1;
	free(t);
	return rc;
}

int analytics_text(struct store *s, const struct viewer *v, const char *which,
		   const struct kv *params, size_t n, struct buf *out, struct dm_err *e)
{
	struct an_params ap;
	int rc;
	memset(&ap, 0, sizeof ap);
	for (size_t i = 0; i < sizeof reports / sizeof reports[0]; i++) {
		if (strcmp(reports[i].name, which))
			continue;
		if (v->role == ROLE_PARTNER)
			return dm_fail(e, DM_EFORBIDDEN, NULL, "analytics are for the sales team");
		const char *scope = param(params, n, "scope");
		if ((rc = check_params(params, n, e)) || (rc = parse_scope(s, v, scope, &ap, e)) ||
		    (rc = parse_period(params, n, &ap, e)))
			return rc;
		int64_t *teams = NULL;
		if (reports[i].subtree && (rc = resolve_teams(s, &ap, &teams, e)))
			return rc;
		struct an_rate *rates = stage_rates(s, &ap.nrates, e);
		if (!rates) {
			free(teams);
			return e->code;
		}
		ap.rates = rates;
		if (!reports[i].run) {   /* the funnel: {"scope", "from", "to", then its figures} */
			jsontext_raw(out, "{\"scope\":");
			jsontext_str(out, scope ? scope : "me");
			jsontext_raw(out, ",\"from\":");
			jsontext_str(out, ap.from_day);
			jsontext_raw(out, ",\"to\":");
			jsontext_str(out, ap.to_day);
			if (!(rc = funnel_text(s, &ap, out, e)))
				jsontext_raw(out, "}");
		} else {
			json_t *o = header(&ap, scope);
			if (!(rc = reports[i].run(s, &ap, o, e)) && tree_text(o, out))
				rc = dm_fail(e, DM_EINTERNAL, NULL, "the report cannot be written");
			json_decref(o);
		}
		free(rates);
		free(teams);
		return rc;
	}
	return dm_fail(e, DM_ENOTFOUND, NULL, "no report %.40s", which);
}
