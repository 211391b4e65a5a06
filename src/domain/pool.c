/* pool.c — parking, claiming, assigning, reclaiming: every owner change goes through here and
 * is recorded in the ownership history in the same transaction. */
#include "pool.h"
#include "followup.h"
#include "method.h"
#include "settings.h"
#include "../base/text.h"
#include "../base/timeutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../base/banned.h"

static const char *const basic_pool_fields[] = { "id", "name", "industry", "importance",
						 "touches", "last_touch_at", "pool_reason",
						 "pooled_at", NULL };

static int64_t int_of(json_t *rec, const char *field)
{
	return json_integer_value(json_object_get(rec, field));
}

static int never_parked(const struct rules *r, json_t *acc)
{
	int i = model_enum_index(model_importance, json_string_value(json_object_get(acc, "importance")) ?: "");
	return i >= 0 && (r->never_park & (1u << i));
}

/* Move an account to a new owner (0 = the pool) and record why. */
static int move(struct store *s, json_t *acc, int64_t to, const char *reason, const char *note,
		const char *pool_reason, int64_t by, int64_t sweep, struct dm_err *e)
{
	char now[TIME_STR_LEN];
	int changed, rc;
	time_format(time_now_ms(), now);
	json_t *ch = json_pack("{s:o,s:o,s:o}", "owner_id", to ? json_integer(to) : json_null(),
			       "pool_reason", to ? json_null() : json_string(pool_reason ?: reason),
			       "pooled_at", to ? json_null() : json_string(now));
	if (to)
		json_object_set_new(ch, "assigned_at", json_string(now));
	rc = store_update(s, &kind_account, int_of(acc, "id"), ch, by, &changed, e);
	json_decref(ch);
	return rc ? rc : store_owner_add(s, int_of(acc, "id"), int_of(acc, "owner_id"), to, reason,
					 note, by, sweep, e);
}

/* The account as v now sees it, or the bare facts when v no longer sees it. */
static int answer(struct store *s, const struct viewer *v, int64_t id, json_t **out,
		  struct dm_err *e)
{
	int rc = rec_get(s, &kind_account, v, id, out, e);
	if (rc != DM_ENOTFOUND)
		return rc;
	json_t *acc = NULL;
	if ((rc = store_get(s, &kind_account, NULL, id, 0, &acc, e)))
		return rc;
	*out = json_pack("{s:I,s:O,s:O,s:O}", "id", (json_int_t)id, "owner_id",
			 json_object_get(acc, "owner_id"), "pool_reason",
			 json_object_get(acc, "pool_reason"), "pooled_at",
			 json_object_get(acc, "pooled_at"));
	json_decref(acc);
	return 0;
}

struct pool_tx {
	const struct viewer *v;
	int64_t account, target;
	const char *reason;
	struct dm_err *e;
};

/* ---- park ----------------------------------------------------------------------------------------- */

/* Where a parked account goes: the pool, or (setting park_to = manager) the manager of the
 * owner's team, or of the nearest team above it that has one. */
static int park_destination(struct store *s, const struct rules *r, int64_t owner, int64_t *to,
			    struct dm_err *e)
{
	json_t *u = NULL;
	*to = 0;
	if (!r->park_to_manager)
		return 0;
	int rc = store_get(s, &kind_user, NULL, owner, 1, &u, e);
	int64_t team = rc ? 0 : int_of(u, "team_id");
	json_decref(u);
	for (int depth = 0; !rc && team && depth < 1000; depth++) {
		json_t *t = NULL;
		if (store_get(s, &kind_team, NULL, team, 0, &t, NULL))
			break;
		int64_t mgr = int_of(t, "manager_id");
		team = int_of(t, "parent_id");
		json_decref(t);
		if (mgr && mgr != owner) {
			*to = mgr;
			break;
		}
	}
	return rc;
}

static int park_tx(struct store *s, void *arg)
{
	struct pool_tx *p = arg;
	struct rules r;
	json_t *acc = NULL;
	int rc;
	if ((rc = settings_rules(s, &r, p->e)) ||
	    (rc = store_get(s, &kind_account, p->v, p->account, 0, &acc, p->e)))
		return rc;
	struct present_ctx pc;
	present_ctx_init(&pc);
	rc = method_present(s, p->v, &pc, &kind_account, acc, p->e);
	present_ctx_release(&pc);
	int64_t owner = int_of(acc, "owner_id"), touches = int_of(acc, "touches"), to = 0;
	if (rc)
		goto out;
	if (!owner) {
		rc = dm_fail(p->e, DM_ECONFLICT, NULL, "the account is in the pool already");
	} else if (never_parked(&r, acc)) {
		rc = dm_fail(p->e, DM_ECONFLICT, "importance", "%s accounts are never parked",
			     json_string_value(json_object_get(acc, "importance")));
		p->e->code_name = "never_park";
	} else if (p->v->role == ROLE_REP && owner != p->v->user_id) {
		rc = dm_fail(p->e, DM_EFORBIDDEN, NULL, "only the owner or a manager parks an account");
	} else if (p->v->role == ROLE_REP && touches < r.park_min_touches) {
		rc = dm_fail(p->e, DM_ECONFLICT, NULL, "%lld of %d follow-ups done: keep following up "
			     "before giving up", (long long)touches, r.park_min_touches);
		p->e->code_name = "twelve_touch_rule";
		snprintf(p->e->detail, sizeof p->e->detail, "{\"touches\": %lld, \"required\": %d}",
			 (long long)touches, r.park_min_touches);
	} else if (p->v->role == ROLE_PARTNER) {
		rc = dm_fail(p->e, DM_EFORBIDDEN, NULL, "partners do not park accounts");
	} else if (!(rc = method_require_write(s, p->v, p->account, p->e)) &&
		   !(rc = park_destination(s, &r, owner, &to, p->e))) {
		char why[1100];
		snprintf(why, sizeof why, "parked: %s", p->reason);
		rc = move(s, acc, to, "parked", p->reason, why, p->v->user_id, 0, p->e);
	}
out:
	json_decref(acc);
	return rc;
}

static int text_arg(json_t *body, const char *name, int required, const char **out,
		    struct dm_err *e)
{
	const char *k;
	json_t *v;
	*out = NULL;
	json_object_foreach(body, k, v) {
		if (strcmp(k, name))
			return dm_fail(e, DM_EUNKNOWN, k, "the body has only %s", name);
	}
	v = json_object_get(body, name);
	if (!v && required)
		return dm_fail(e, DM_EREQUIRED, name, "%s is required", name);
	if (v && (!json_is_string(v) || text_utf8_len(json_string_value(v)) > 1000))
		return dm_fail(e, DM_EINVAL, name, "%s must be text up to 1000 characters", name);
	if (v) {
		char *key = text_name_key(json_string_value(v));
		int blank = !*key;
		free(key);
		if (blank && required)
			return dm_fail(e, DM_EREQUIRED, name, "%s must say something", name);
		*out = json_string_value(v);
	}
	return 0;
}

int pool_park(struct store *s, const struct viewer *v, int64_t account, json_t *body,
	      json_t **out, struct dm_err *e)
{
	struct pool_tx p = { v, account, 0, NULL, e };
	*out = NULL;
	int rc = text_arg(body, "reason", 1, &p.reason, e);
	if (!rc)
		rc = store_write(s, park_tx, &p, e);
	return rc ? rc : answer(s, v, account, out, e);
}

/* ---- claim ---------------------------------------------------------------------------------------- */

static int claim_tx(struct store *s, void *arg)
{
	struct pool_tx *p = arg;
	struct rules r;
	json_t *acc = NULL, *hist = NULL;
	int64_t owned = 0;
	int rc;
	if (p->v->role == ROLE_PARTNER)
		return dm_fail(p->e, DM_EFORBIDDEN, NULL, "partners do not claim accounts");
	if ((rc = settings_rules(s, &r, p->e)) ||
	    (rc = store_get(s, &kind_account, NULL, p->account, 0, &acc, p->e)))
		return rc;
	int64_t owner = int_of(acc, "owner_id");
	if (owner) {
		/* Taken: say so to whoever could have seen it in the pool a moment ago (it was
		 * claimed from there), or who sees it now; anyone else learns nothing. */
		json_t *seen = NULL;
		int visible = !store_get(s, &kind_account, p->v, p->account, 0, &seen, NULL);
		json_decref(seen);
		if (!visible && !(rc = store_owner_list(s, p->account, &hist, p->e))) {
			json_t *last = json_array_get(hist, json_array_size(hist) - 1);
			visible = last && !strcmp(json_string_value(json_object_get(last, "reason")) ?: "",
						  "claimed");
		}
		if (!rc && visible) {
			rc = dm_fail(p->e, DM_ECONFLICT, NULL, owner == p->v->user_id ?
				     "you own this account already" : "someone claimed it first");
			p->e->code_name = "already_claimed";
		} else if (!rc) {
			rc = dm_fail(p->e, DM_ENOTFOUND, NULL, "account %lld not found",
				     (long long)p->account);
		}
	} else if (!(rc = store_count_owned(s, p->v->user_id, &owned, p->e)) &&
		   owned >= r.holding_limit) {
		rc = dm_fail(p->e, DM_ECONFLICT, NULL, "you hold %lld accounts; the limit is %d",
			     (long long)owned, r.holding_limit);
		p->e->code_name = "holding_limit";
		snprintf(p->e->detail, sizeof p->e->detail, "{\"owned\": %lld, \"limit\": %d}",
			 (long long)owned, r.holding_limit);
	} else if (!rc) {
		rc = move(s, acc, p->v->user_id, "claimed", NULL, NULL, p->v->user_id, 0, p->e);
	}
	json_decref(hist);
	json_decref(acc);
	return rc;
}

int pool_claim(struct store *s, const struct viewer *v, int64_t account, json_t **out,
	       struct dm_err *e)
{
	struct pool_tx p = { v, account, 0, NULL, e };
	*out = NULL;
	int rc = store_write(s, claim_tx, &p, e);
	return rc ? rc : answer(s, v, account, out, e);
}

/* ---- assign --------------------------------------------------------------------------------------- */

static int assign_tx(struct store *s, void *arg)
{
	struct pool_tx *p = arg;
	json_t *acc = NULL, *u = NULL, *seen = NULL;
	int rc, yes = 0;
	if ((rc = store_get(s, &kind_account, NULL, p->account, 0, &acc, p->e)))
		return rc;
	int64_t owner = int_of(acc, "owner_id");
	/* A pool account is anyone's to assign; an owned one only within the caller's reach. */
	if (owner && (rc = store_get(s, &kind_account, p->v, p->account, 0, &seen, p->e)))
		goto out;
	rc = store_get(s, &kind_user, NULL, p->target, 0, &u, p->e);
	if (rc == DM_ENOTFOUND)
		rc = dm_fail(p->e, DM_ENOTFOUND, "user_id", "user %lld not found", (long long)p->target);
	else if (!rc && !json_is_true(json_object_get(u, "active")))
		rc = dm_fail(p->e, DM_EINVAL, "user_id", "user %lld is inactive", (long long)p->target);
	else if (!rc && !strcmp(json_string_value(json_object_get(u, "role")), "partner"))
		rc = dm_fail(p->e, DM_EINVAL, "user_id", "accounts are owned by reps and managers");
	else if (!rc && !(rc = store_in_scope(s, p->v, p->target, &yes, p->e)) && !yes)
		rc = dm_fail(p->e, DM_EFORBIDDEN, "user_id", "user %lld is not in your teams",
			     (long long)p->target);
	else if (!rc && owner == p->target)
		rc = dm_fail(p->e, DM_ECONFLICT, "user_id", "the account is theirs already");
	if (!rc)
		rc = move(s, acc, p->target, owner ? "reassigned" : "assigned", NULL, NULL,
			  p->v->user_id, 0, p->e);
out:
	json_decref(seen);
	json_decref(u);
	json_decref(acc);
	return rc;
}

int pool_assign(struct store *s, const struct viewer *v, int64_t account, json_t *body,
		json_t **out, struct dm_err *e)
{
	const char *k;
	json_t *val;
	*out = NULL;
	if (v->role != ROLE_ADMIN && v->role != ROLE_MANAGER) {
		/* forbidden for what they can see (their accounts, the pool); not found otherwise */
		json_t *acc = NULL;
		int rc = rec_get(s, &kind_account, v, account, &acc, e);
		if (rc == DM_ENOTFOUND && v->role == ROLE_REP &&
		    !store_get(s, &kind_account, NULL, account, 0, &acc, NULL) &&
		    json_is_null(json_object_get(acc, "owner_id")))
			rc = 0;
		json_decref(acc);
		return rc ? rc : dm_fail(e, DM_EFORBIDDEN, NULL, "only managers and admins assign");
	}
	json_object_foreach(body, k, val) {
		if (strcmp(k, "user_id"))
			return dm_fail(e, DM_EUNKNOWN, k, "the body has only user_id");
	}
	json_t *user = json_object_get(body, "user_id");
	if (!user)
		return dm_fail(e, DM_EREQUIRED, "user_id", "user_id is required");
	if (!json_is_integer(user) || json_integer_value(user) < 1)
		return dm_fail(e, DM_EINVAL, "user_id", "user_id must be a user id");
	struct pool_tx p = { v, account, json_integer_value(user), NULL, e };
	int rc = store_write(s, assign_tx, &p, e);
	return rc ? rc : answer(s, v, account, out, e);
}

/* ---- reading -------------------------------------------------------------------------------------- */

int pool_list(struct store *s, const struct viewer *v, const struct kv *params, size_t n,
	      json_t **items, char **next, struct dm_err *e)
{
	int rc;
	*items = NULL;
	*next = NULL;
	if (v->role == ROLE_PARTNER)
		return dm_fail(e, DM_EFORBIDDEN, NULL, "the pool is for the sales team");
	if ((rc = rec_list_pool(s, v, params, n, items, next, e)) || v->role != ROLE_REP)
		return rc;
	size_t i;
	json_t *a;
	json_array_foreach(*items, i, a) {
		/* Until claimed, a rep sees what it takes to decide: no contacts' details, no notes. */
		json_t *slim = json_object();
		for (int f = 0; basic_pool_fields[f]; f++)
			json_object_set(slim, basic_pool_fields[f], json_object_get(a, basic_pool_fields[f]));
		json_array_set_new(*items, i, slim);
	}
	return 0;
}

int pool_owners(struct store *s, const struct viewer *v, int64_t account, json_t **items,
		struct dm_err *e)
{
	int rc = rec_visible(s, &kind_account, v, account, e);
	return rc ? rc : store_owner_list(s, account, items, e);
}

/* ---- the reclaim sweep ---------------------------------------------------------------------------- */

struct sweep_tx {
	const struct viewer *v;
	char as_of[DATE_STR_LEN];
	int daily;        /* the daily sweep: once per day, by one server at a time */
	int skipped;      /* daily: another server swept today, or sweeps now */
	json_t *moved;
	int64_t id;
	struct dm_err *e;
};

/* The daily sweep runs once a day on exactly one server: under the store's "sweep" lock, and
 * only when no server has swept today (checked inside the transaction, not before it). */
static int sweep_due(struct store *s, struct sweep_tx *w)
{
	json_t *last = NULL;
	int got = 0;
	int rc = store_lock_try(s, "sweep", &got, w->e);
	if (!rc && got)
		rc = store_setting_get(s, "last_sweep_on", &last, w->e);
	w->skipped = !rc && (!got || (json_is_string(last) &&
				      !strcmp(json_string_value(last), w->as_of)));
	json_decref(last);
	return rc;
}

/* "YYYY-MM-DDT00:00:00.000Z" of as_of minus days. */
static void cutoff(const char *as_of, int days, char out[TIME_STR_LEN])
{
	int64_t d;
	date_to_days(as_of, &d);
	time_format((d - days) * 86400000LL, out);
}

static int sweep_tx_run(struct store *s, void *arg)
{
	struct sweep_tx *w = arg;
	struct rules r;
	char touch_before[TIME_STR_LEN], deal_before[TIME_STR_LEN], why[200];
	json_t *candidates = NULL, *protect, *c;
	size_t i;
	int rc = w->daily ? sweep_due(s, w) : 0;
	if (rc || w->skipped)
		return rc;
	protect = json_array();
	rc = settings_rules(s, &r, w->e);
	for (int l = 0; model_importance[l]; l++)
		if (r.never_park & (1u << l))
			json_array_append_new(protect, json_string(model_importance[l]));
	cutoff(w->as_of, r.reclaim_after_days, touch_before);
	cutoff(w->as_of, r.reclaim_no_deal_days, deal_before);
	if (!rc)
		rc = store_sweep_add(s, w->as_of, w->v->user_id, &w->id, w->e);
	if (!rc)
		rc = store_reclaim_candidates(s, protect, touch_before, deal_before, &candidates, w->e);
	json_array_foreach(candidates, i, c) {
		const char *reason = json_string_value(json_object_get(c, "why"));
		json_t *acc = NULL;
		if (rc || (rc = store_get(s, &kind_account, NULL, int_of(c, "id"), 0, &acc, w->e)))
			break;
		if (!strcmp(reason, "no_follow_up"))
			snprintf(why, sizeof why, "reclaimed: no effective follow-up by the owner for %d days",
				 r.reclaim_after_days);
		else
			snprintf(why, sizeof why, "reclaimed: no won opportunity in %d days since assigned",
				 r.reclaim_no_deal_days);
		rc = move(s, acc, 0, "reclaimed", reason, why, w->v->user_id, w->id, w->e);
		json_decref(acc);
		json_array_append_new(w->moved, json_pack("{s:O,s:O,s:s}", "account_id",
							  json_object_get(c, "id"), "from",
							  json_object_get(c, "owner_id"), "why", reason));
	}
	if (!rc)
		rc = store_sweep_done(s, w->id, (int64_t)json_array_size(w->moved), w->e);
	if (!rc) {
		json_t *day = json_string(w->as_of);
		rc = store_setting_put(s, "last_sweep_on", day, w->v->user_id, w->e);
		json_decref(day);
	}
	json_decref(candidates);
	json_decref(protect);
	return rc;
}

static int sweep(struct store *s, const struct viewer *v, const char *as_of, int daily,
		 json_t **out, struct dm_err *e)
{
	struct sweep_tx w;
	int64_t d;
	*out = NULL;
	if (v->role != ROLE_ADMIN)
		return dm_fail(e, DM_EFORBIDDEN, NULL, "only an admin runs the sweep");
	if (as_of && date_to_days(as_of, &d))
		return dm_fail(e, DM_EINVAL, "as_of", "as_of must be a date YYYY-MM-DD");
	memset(&w, 0, sizeof w);
	w.v = v;
	w.e = e;
	w.daily = daily;
	if (as_of)
		snprintf(w.as_of, sizeof w.as_of, "%s", as_of);
	else
		date_today_offset(AGENDA_TZ_MINUTES, w.as_of);
	w.moved = json_array();
	int rc = store_write(s, sweep_tx_run, &w, e);
	if (rc || w.skipped) {
		json_decref(w.moved);
		return rc;
	}
	*out = json_pack("{s:I,s:s,s:o}", "sweep_id", (json_int_t)w.id, "as_of", w.as_of,
			 "moved", w.moved);
	return 0;
}

int pool_sweep(struct store *s, const struct viewer *v, const char *as_of, json_t **out,
	       struct dm_err *e)
{
	return sweep(s, v, as_of, 0, out, e);
}

int pool_sweep_daily(struct store *s, struct dm_err *e)
{
	char today[DATE_STR_LEN];
	json_t *last = NULL, *out = NULL;
	date_today_offset(AGENDA_TZ_MINUTES, today);
	int rc = store_setting_get(s, "last_sweep_on", &last, e);
	if (!rc && !(json_is_string(last) && !strcmp(json_string_value(last), today)))
		rc = sweep(s, &viewer_system, today, 1, &out, e);
	json_decref(last);
	json_decref(out);
	return rc;
}
