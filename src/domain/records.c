/* records.c — the record life cycle shared by every kind, and the rules particular to each. */
#include "records.h"
#include "auth.h"
#include "method.h"
#include "followup.h"
#include "leads.h"
#include "../base/text.h"
#include "../base/timeutil.h"
#include "../base/xmalloc.h"
#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include "../base/banned.h"

const struct viewer viewer_system = { 0, ROLE_ADMIN, 0 };

#define CHAIN_MAX 1000   /* longest reports_to / parent chain walked before calling it a cycle */

/* One write in flight: what the caller asked, and what the rules found. */
struct wctx {
	const struct kind *k;
	const struct viewer *v;
	int64_t id;           /* 0 on create */
	int64_t if_match;
	json_t *changes;      /* validated fields to write */
	json_t *cur;          /* the stored record (update, archive, restore) */
	const char *pw_hash;  /* users: a new password's hash */
	int archive;          /* archive/restore: 1 or 0 */
	json_t *out;
	struct dm_err *e;
	struct rec_batch *batch;   /* a bulk load (rec_create_tx), or NULL */
	char at[TIME_STR_LEN];     /* create of an activity: its created_at, or "" */
};

struct kind_rules {
	const struct kind *k;
	int admin_writes;     /* only admins create, change, archive */
	/* Inside the write transaction: check and complete c->changes against next (the record as
	 * it will be). Return 0 or an error. Also run with no changes before archiving. */
	int (*check)(struct store *s, struct wctx *c, json_t *next);
	/* Inside the write transaction, after the row is written (may be NULL). */
	int (*after)(struct store *s, struct wctx *c, json_t *next);
};

static int64_t int_of(json_t *rec, const char *field)
{
	return json_integer_value(json_object_get(rec, field));
}

static int changing(struct wctx *c, const char *field)
{
	json_t *v = json_object_get(c->changes, field);
	return v && (!c->cur || !json_equal(v, json_object_get(c->cur, field)));
}

/* The record of kind k named by field must exist and be visible to the caller. */
static int parent_visible(struct store *s, struct wctx *c, const struct kind *k, const char *field,
			  int64_t id, json_t **rec)
{
	json_t *r = NULL;
	int rc = store_get(s, k, c->v, id, 0, &r, c->e);
	if (rc == DM_ENOTFOUND)
		return dm_fail(c->e, DM_ENOTFOUND, field, "%s %lld not found", k->name, (long long)id);
	if (rec)
		*rec = r;
	else
		json_decref(r);
	return rc;
}

/* ---- owners ---------------------------------------------------------------------------------- */

/* A bulk load checks each owner once: the transaction holds the users still. */
static int owner_known(struct wctx *c, int64_t owner, int add)
{
	struct rec_batch *b = c->batch;
	if (!b)
		return 0;
	for (int i = 0; i < b->nowners; i++)
		if (b->owners[i] == owner)
			return 1;
	if (add && b->nowners < (int)(sizeof b->owners / sizeof b->owners[0]))
		b->owners[b->nowners++] = owner;
	return 0;
}

static int owner_assignable(struct store *s, struct wctx *c, int64_t owner)
{
	json_t *u = NULL;
	if (owner_known(c, owner, 0))
		return 0;
	int rc = store_get(s, &kind_user, NULL, owner, 0, &u, c->e);
	if (rc == DM_ENOTFOUND)
		return dm_fail(c->e, DM_ENOTFOUND, "owner_id", "user %lld not found", (long long)owner);
	if (rc)
		return rc;
	int active = json_is_true(json_object_get(u, "active"));
	json_decref(u);
	if (!active)
		return dm_fail(c->e, DM_EINVAL, "owner_id", "user %lld is inactive", (long long)owner);
	int yes = c->v->role == ROLE_ADMIN || owner == c->v->user_id;
	if (!yes && c->v->role == ROLE_MANAGER && (rc = store_in_scope(s, c->v, owner, &yes, c->e)))
		return rc;
	if (yes)
		owner_known(c, owner, 1);
	if (!yes)
		return dm_fail(c->e, DM_EFORBIDDEN, "owner_id",
			       c->v->role == ROLE_MANAGER ?
				       "owner_id must be you or a member of your teams" :
				       "reps own what they create; ask a manager to reassign");
	return 0;
}

/* Owner rules of accounts and opportunities: reps own what they create and cannot hand it over;
 * managers assign within their teams; admins to anyone. An absent owner means the caller. */
static int check_owner(struct store *s, struct wctx *c, json_t *next)
{
	json_t *o = json_object_get(c->changes, "owner_id");
	if (!c->cur && !o) {
		if (c->v->user_id == 0)
			return 0;   /* the command line creates without an owner unless told */
		json_object_set_new(c->changes, "owner_id", json_integer(c->v->user_id));
		json_object_set_new(next, "owner_id", json_integer(c->v->user_id));
		return 0;
	}
	if (!changing(c, "owner_id"))
		return 0;
	if (json_is_null(o)) {
		if (c->v->role == ROLE_ADMIN || c->v->role == ROLE_MANAGER)
			return 0;
		return dm_fail(c->e, DM_EFORBIDDEN, "owner_id", "only managers can leave a record unowned");
	}
	return owner_assignable(s, c, json_integer_value(o));
}

/* ---- per kind -------------------------------------------------------------------------------- */

static int check_account(struct store *s, struct wctx *c, json_t *next)
{
	int rc;
	if (c->cur && ((rc = method_require_write(s, c->v, c->id, c->e)) ||
		       (rc = method_check_importance(s, c->v, c->cur, next, c->e))))
		return rc;
	if ((rc = check_owner(s, c, next)))
		return rc;
	json_t *owner = json_object_get(c->changes, "owner_id");
	if (changing(c, "owner_id") || (!c->cur && json_is_integer(owner))) {
		/* a new owner: the clock of the reclaim rules starts again */
		char now[TIME_STR_LEN];
		time_format(time_now_ms(), now);
		json_object_set_new(c->changes, "assigned_at",
				    json_is_integer(owner) ? json_string(now) : json_null());
		json_object_set_new(c->changes, "pool_reason", json_is_integer(owner) ? json_null() :
				    json_string("left without an owner"));
		json_object_set_new(c->changes, "pooled_at",
				    json_is_integer(owner) ? json_null() : json_string(now));
	}
	return 0;
}

static int after_account(struct store *s, struct wctx *c, json_t *next)
{
	int64_t from = c->cur ? int_of(c->cur, "owner_id") : 0, to = int_of(next, "owner_id");
	if (from == to)
		return 0;
	/* "created": the first owner of a new account, which never was in the pool */
	return store_owner_add(s, c->id, from, to, from ? "reassigned" : "assigned",
			       c->cur ? NULL : "created", c->v->user_id, 0, c->e);
}

static int check_order(struct store *s, struct wctx *c, json_t *next)
{
	int rc;
	int64_t account = int_of(next, "account_id");
	if (!c->cur && (rc = parent_visible(s, c, &kind_account, "account_id", account, NULL)))
		return rc;
	return method_require_write(s, c->v, account, c->e);
}

/* Quotas: set by admins and managers, for one user or one team within their reach. */
static int check_quota(struct store *s, struct wctx *c, json_t *next)
{
	int rc, yes = 0;
	json_t *u = json_object_get(next, "user_id"), *t = json_object_get(next, "team_id");
	if (c->v->role != ROLE_ADMIN && c->v->role != ROLE_MANAGER)
		return dm_fail(c->e, DM_EFORBIDDEN, NULL, "quotas are set by managers and admins");
	if (c->cur)
		return 0;
	if (json_is_integer(u) == json_is_integer(t))
		return dm_fail(c->e, DM_EINVAL, "user_id", "a quota is for one user_id or one team_id");
	if (json_is_integer(u)) {
		if ((rc = parent_visible(s, c, &kind_user, "user_id", json_integer_value(u), NULL)))
			return rc;
		if (c->v->role != ROLE_ADMIN &&
		    !(rc = store_in_scope(s, c->v, json_integer_value(u), &yes, c->e)) && !yes)
			rc = dm_fail(c->e, DM_EFORBIDDEN, "user_id", "that user is not in your teams");
		return rc;
	}
	if ((rc = store_team_in_reach(s, c->v, json_integer_value(t), &yes, c->e)))
		return rc;
	return yes ? 0 : dm_fail(c->e, DM_ENOTFOUND, "team_id", "team %lld not found",
				 (long long)json_integer_value(t));
}

/* Leads: the rules pick an assignee when none is named; reps and partners work their own. */
static int check_lead(struct store *s, struct wctx *c, json_t *next)
{
	int rc;
	json_t *a = json_object_get(c->changes, "assignee_id");
	if (c->cur && json_is_string(json_object_get(c->changes, "status")) &&
	    !strcmp(json_string_value(json_object_get(c->changes, "status")), "converted") &&
	    strcmp(json_string_value(json_object_get(c->cur, "status")), "converted"))
		return dm_fail(c->e, DM_EINVAL, "status", "convert a lead with POST /leads/{id}/convert");
	if (!c->cur && !a) {
		int64_t who = 0;
		if ((rc = leads_distribute(s, c->v, next, &who, c->e)))
			return rc;
		json_object_set_new(c->changes, "assignee_id", who ? json_integer(who) : json_null());
		return 0;
	}
	if (!changing(c, "assignee_id") || json_is_null(a))
		return json_is_null(a) && (c->v->role == ROLE_REP || c->v->role == ROLE_PARTNER) ?
			dm_fail(c->e, DM_EFORBIDDEN, "assignee_id", "ask a manager to reassign the lead") : 0;
	int64_t who = json_integer_value(a);
	json_t *u = NULL;
	rc = store_get(s, &kind_user, NULL, who, 0, &u, c->e);
	int active = !rc && json_is_true(json_object_get(u, "active"));
	int partner = !rc && !strcmp(json_string_value(json_object_get(u, "role")), "partner");
	json_decref(u);
	if (rc == DM_ENOTFOUND || (!rc && !active))
		return dm_fail(c->e, DM_ENOTFOUND, "assignee_id", "no active user %lld", (long long)who);
	if (rc || c->v->role == ROLE_ADMIN || who == c->v->user_id)
		return rc;
	int yes = 0;
	if (c->v->role == ROLE_MANAGER && (partner || ((rc = store_in_scope(s, c->v, who, &yes, c->e)) == 0 && yes)))
		return rc;
	return rc ? rc : dm_fail(c->e, DM_EFORBIDDEN, "assignee_id",
				 "you may assign leads to yourself only");
}

static int check_contact(struct store *s, struct wctx *c, json_t *next)
{
	int rc;
	int64_t account = int_of(next, "account_id");
	if (!c->cur && (rc = parent_visible(s, c, &kind_account, "account_id", account, NULL)))
		return rc;
	if ((rc = method_require_write(s, c->v, account, c->e)) ||
	    (rc = method_check_contact_portrait(s, c->v, c->cur, c->changes, next, c->e)))
		return rc;
	if (!changing(c, "reports_to_id") || json_is_null(json_object_get(next, "reports_to_id")))
		return 0;
	int64_t boss = int_of(next, "reports_to_id");
	for (int depth = 0; boss && depth < CHAIN_MAX; depth++) {
		json_t *b = NULL;
		if (c->id && boss == c->id)
			return dm_fail(c->e, DM_EINVAL, "reports_to_id",
				       "reports_to_id would make a loop in the org chart");
		rc = store_get(s, &kind_contact, NULL, boss, 0, &b, c->e);
		if (rc == DM_ENOTFOUND || (!rc && int_of(b, "account_id") != account)) {
			json_decref(b);
			return dm_fail(c->e, DM_EINVAL, "reports_to_id",
				       "reports_to_id must be a contact of the same account");
		}
		if (rc)
			return rc;
		json_t *up = json_object_get(b, "reports_to_id");
		boss = json_is_integer(up) ? json_integer_value(up) : 0;
		json_decref(b);
	}
	return 0;
}

static int check_opportunity(struct store *s, struct wctx *c, json_t *next)
{
	int rc;
	if (!c->cur && (rc = parent_visible(s, c, &kind_account, "account_id",
					     int_of(next, "account_id"), NULL)))
		return rc;
	if ((rc = method_check_opportunity(s, c->v, c->cur, next, c->e)))
		return rc;
	return check_owner(s, c, next);
}

static int after_opportunity(struct store *s, struct wctx *c, json_t *next)
{
	return method_after_opportunity(s, c->v, c->id, c->cur, next, c->e);
}

static int check_stakeholder(struct store *s, struct wctx *c, json_t *next)
{
	return method_check_stakeholder(s, c->v, c->cur, next, c->e);
}

static int check_activity(struct store *s, struct wctx *c, json_t *next)
{
	int rc;
	int64_t account = int_of(next, "account_id");
	/* For everyone but admins, method_require_write's access check answers a live account
	 * the caller cannot see with the same 404 as parent_visible, without reading the whole
	 * account (a third of this check's time under POST /activities). */
	if (!c->cur && c->v->role == ROLE_ADMIN &&
	    (rc = parent_visible(s, c, &kind_account, "account_id", account, NULL)))
		return rc;
	if ((rc = method_require_write(s, c->v, account, c->e)))
		return rc;
	if (!c->cur) {
		if (c->v->user_id)
			json_object_set_new(c->changes, "user_id", json_integer(c->v->user_id));
		if (!json_object_get(c->changes, "occurred_at")) {
			char now[TIME_STR_LEN];
			time_format(time_now_ms(), now);
			json_object_set_new(c->changes, "occurred_at", json_string(now));
		}
	}
	json_t *opp = json_object_get(next, "opportunity_id");
	if (changing(c, "opportunity_id") && json_is_integer(opp)) {
		json_t *o = NULL;
		if ((rc = parent_visible(s, c, &kind_opportunity, "opportunity_id",
					 json_integer_value(opp), &o)))
			return rc;
		int same = int_of(o, "account_id") == account;
		json_decref(o);
		if (!same)
			return dm_fail(c->e, DM_EINVAL, "opportunity_id",
				       "opportunity_id must be an opportunity of the same account");
	}
	if (changing(c, "contact_ids")) {
		size_t i;
		json_t *id;
		json_array_foreach(json_object_get(next, "contact_ids"), i, id) {
			json_t *ct = NULL;
			rc = store_get(s, &kind_contact, NULL, json_integer_value(id), 0, &ct, c->e);
			int same = !rc && int_of(ct, "account_id") == account;
			json_decref(ct);
			if (rc && rc != DM_ENOTFOUND)
				return rc;
			if (!same)
				return dm_fail(c->e, DM_EINVAL, "contact_ids",
					       "contact %lld is not a contact of this account",
					       (long long)json_integer_value(id));
		}
	}
	return 0;
}

static int username_valid(const char *u)
{
	size_t n = strlen(u);
	if (n < 2 || n > 64)
		return 0;
	for (; *u; u++)
		if (!(islower((unsigned char)*u) || isdigit((unsigned char)*u) || strchr("._@-", *u)))
			return 0;
	return 1;
}

static int check_user(struct store *s, struct wctx *c, json_t *next)
{
	int rc;
	json_t *u = json_object_get(c->changes, "username");
	if (u) {
		char *lower = xstrdup(json_string_value(u));
		for (char *p = lower; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		json_object_set_new(c->changes, "username", json_string(lower));
		int ok = username_valid(lower);
		free(lower);
		if (!ok)
			return dm_fail(c->e, DM_EINVAL, "username",
				       "username must be 2-64 of a-z 0-9 . _ @ -");
	}
	json_t *team = json_object_get(next, "team_id");
	if (changing(c, "team_id") && json_is_integer(team) &&
	    (rc = parent_visible(s, c, &kind_team, "team_id", json_integer_value(team), NULL)))
		return rc;
	if (c->cur && c->id == c->v->user_id && c->v->role == ROLE_ADMIN &&
	    (!json_is_true(json_object_get(next, "active")) ||
	     strcmp(json_string_value(json_object_get(next, "role")), "admin")))
		return dm_fail(c->e, DM_ECONFLICT, "role",
			       "you cannot take away your own admin access");
	return 0;
}

static int check_team(struct store *s, struct wctx *c, json_t *next)
{
	int rc;
	json_t *mgr = json_object_get(next, "manager_id");
	if (changing(c, "manager_id") && json_is_integer(mgr) &&
	    (rc = parent_visible(s, c, &kind_user, "manager_id", json_integer_value(mgr), NULL)))
		return rc;
	json_t *parent = json_object_get(next, "parent_id");
	if (!changing(c, "parent_id") || !json_is_integer(parent))
		return 0;
	int64_t up = json_integer_value(parent);
	for (int depth = 0; up && depth < CHAIN_MAX; depth++) {
		json_t *t = NULL;
		if (c->id && up == c->id)
			return dm_fail(c->e, DM_EINVAL, "parent_id", "parent_id would make a loop");
		rc = store_get(s, &kind_team, NULL, up, 0, &t, c->e);
		if (rc == DM_ENOTFOUND)
			return dm_fail(c->e, DM_ENOTFOUND, "parent_id", "team %lld not found",
				       (long long)up);
		if (rc)
			return rc;
		json_t *p = json_object_get(t, "parent_id");
		up = json_is_integer(p) ? json_integer_value(p) : 0;
		json_decref(t);
	}
	return 0;
}

static const struct kind_rules rules[] = {
	{ &kind_user, 1, check_user, NULL },
	{ &kind_team, 1, check_team, NULL },
	{ &kind_account, 0, check_account, after_account },
	{ &kind_contact, 0, check_contact, NULL },
	{ &kind_opportunity, 0, check_opportunity, after_opportunity },
	{ &kind_activity, 0, check_activity, NULL },
	{ &kind_stakeholder, 0, check_stakeholder, NULL },
	{ &kind_lead, 0, check_lead, NULL },
	{ &kind_order, 0, check_order, NULL },
	{ &kind_quota, 0, check_quota, NULL },
};

static const struct kind_rules *rules_of(const struct kind *k)
{
	for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
		if (rules[i].k == k)
			return &rules[i];
	return NULL;
}

/* May v write records of k at all? Users may also edit their own display name and locale. */
static int may_write(const struct kind *k, const struct viewer *v, int64_t id, json_t *changes,
		     struct dm_err *e)
{
	const struct kind_rules *r = rules_of(k);
	if (v->role == ROLE_ADMIN)
		return 0;
	if (r->admin_writes) {
		if (k == &kind_user && id && id == v->user_id && changes) {
			const char *key;
			json_t *val;
			json_object_foreach(changes, key, val) {
				if (strcmp(key, "display_name") && strcmp(key, "locale"))
					return dm_fail(e, DM_EFORBIDDEN, key,
						       "only an admin can change %s", key);
			}
			return 0;
		}
		return dm_fail(e, DM_EFORBIDDEN, NULL, "only an admin can change %s records", k->name);
	}
	if (v->role == ROLE_PARTNER && k != &kind_lead)
		return dm_fail(e, DM_EFORBIDDEN, NULL, "partners cannot change %s records", k->name);
	return 0;
}

/* ---- the write transactions ------------------------------------------------------------------ */

/* Is changes still made of exactly the values vals (in order), as when its audit text was
 * made? The rules complete changes by setting keys (a new value, a new pointer) or take from
 * it (json_object_del); none changes a value in place. */
static int changes_as_made(json_t *changes, json_t *const *vals, size_t n)
{
	const char *key;
	json_t *v;
	size_t i = 0;
	if (json_object_size(changes) != n)
		return 0;
	json_object_foreach(changes, key, v)
		if (vals[i++] != v)
			return 0;
	return 1;
}

static int create_tx(struct store *s, void *arg)
{
	struct wctx *c = arg;
	const struct kind_rules *r = rules_of(c->k);
	/* The record as it will be: on create, the changes themselves, which the checks only
	 * complete (an owner, the clock of the reclaim rules, a lead's assignee) and never take
	 * from, so a bulk load, where the copy was 7 % of the writer's time, passes them as they
	 * are. (One-by-one creates keep the copy: cheap there, and no check need ever wonder.) */
	json_t *next = c->batch ? json_incref(c->changes) : json_deep_copy(c->changes);
	int rc = r->check(s, c, next);
	if (!rc && c->batch) {
		const struct rec_batch *b = c->batch;
		int made = b->audit && changes_as_made(c->changes, b->audit_vals, b->audit_nvals);
		rc = store_import_insert(s, c->k, c->changes, c->v->user_id, made ? b->audit : NULL,
					 made ? b->audit_len : 0, &c->id, c->e);
	} else if (!rc && c->k == &kind_activity) {
		/* Stamped with a time known here, so the answer is built from what was inserted
		 * (rec_create_in) instead of read back: a new read snapshot and a statement. */
		time_format(time_now_ms(), c->at);
		rc = store_insert_at(s, c->k, c->changes, c->v->user_id, c->at, &c->id, c->e);
	} else if (!rc)
		rc = store_insert(s, c->k, c->changes, c->v->user_id, &c->id, c->e);
	if (!rc && r->after)
		rc = r->after(s, c, c->changes);
	if (!rc && c->pw_hash)
		rc = store_cred_set(s, c->id, c->pw_hash, c->e);
	/* The stored record is read back after the commit, on the caller's thread (rec_create_in):
	 * the writer thread, which every write waits for, does less. (An activity's is built from
	 * the values inserted, above.) */
	json_decref(next);
	return rc;
}

static int update_tx(struct store *s, void *arg)
{
	struct wctx *c = arg;
	int rc, changed = 0;
	if ((rc = store_get(s, c->k, c->v, c->id, 0, &c->cur, c->e)))
		return rc;
	if (c->if_match >= 0 && int_of(c->cur, "version") != c->if_match)
		return dm_fail(c->e, DM_ESTALE, NULL, "%s %lld is at version %lld, not %lld", c->k->name,
			       (long long)c->id, (long long)int_of(c->cur, "version"),
			       (long long)c->if_match);
	const struct kind_rules *r = rules_of(c->k);
	json_t *next = json_deep_copy(c->cur);
	json_object_update(next, c->changes);
	if (!(rc = r->check(s, c, next)) &&
	    !(rc = store_update(s, c->k, c->id, c->changes, c->v->user_id, &changed, c->e)) &&
	    r->after) {
		json_object_update(next, c->changes);   /* the check may have completed changes */
		rc = r->after(s, c, next);
	}
	json_decref(next);
	if (rc)
		return rc;
	if (c->pw_hash && (rc = store_cred_set(s, c->id, c->pw_hash, c->e)))
		return rc;
	/* A deactivated user, or one whose password changed, is signed out everywhere. */
	if (c->k == &kind_user && (c->pw_hash || json_is_false(json_object_get(c->changes, "active"))) &&
	    (rc = auth_end_user_sessions(s, c->id, c->e)))
		return rc;
	return store_get(s, c->k, NULL, c->id, 1, &c->out, c->e);
}

static int archive_tx(struct store *s, void *arg)
{
	struct wctx *c = arg;
	int rc;
	/* Restoring needs the archived record; only admins restore, and they see everything. */
	if ((rc = store_get(s, c->k, c->v, c->id, !c->archive, &c->cur, c->e)))
		return rc;
	int archived = !json_is_null(json_object_get(c->cur, "archived_at"));
	if (archived != c->archive) {
		/* The same write rights as a change of the record (account team read-only: no). */
		json_t *next = json_deep_copy(c->cur);
		c->changes = json_object();
		rc = rules_of(c->k)->check(s, c, next);
		json_decref(next);
		json_decref(c->changes);
		c->changes = NULL;
		if (rc)
			return rc;
		if (c->k == &kind_user && c->archive && c->id == c->v->user_id)
			return dm_fail(c->e, DM_ECONFLICT, NULL, "you cannot archive yourself");
		if ((rc = store_set_archived(s, c->k, c->id, c->archive, c->v->user_id, c->e)))
			return rc;
		if (c->k == &kind_user && c->archive && (rc = auth_end_user_sessions(s, c->id, c->e)))
			return rc;
	}
	return store_get(s, c->k, NULL, c->id, 1, &c->out, c->e);
}

/* An account name taken by a record the caller may not see: say it is taken, not by what. */
static void hide_invisible_duplicate(struct store *s, const struct kind *k, const struct viewer *v,
				     struct dm_err *e)
{
	json_t *r = NULL;
	if (e->code != DM_EDUPLICATE || !e->existing_id)
		return;
	if (store_get(s, k, v, e->existing_id, 0, &r, NULL) != 0)
		e->existing_id = 0;
	json_decref(r);
}

/* Users: take the write-only password out of the changes, check and hash it. */
static int take_password(const struct kind *k, json_t *changes, json_t *cur, char hash[128],
			 const char **out, struct dm_err *e)
{
	*out = NULL;
	if (k != &kind_user)
		return 0;
	json_t *pw = json_object_get(changes, "password");
	if (!pw)
		return 0;
	json_t *u = json_object_get(changes, "username");
	json_t *d = json_object_get(changes, "display_name");
	if (!u && cur)
		u = json_object_get(cur, "username");
	if (!d && cur)
		d = json_object_get(cur, "display_name");
	int rc = auth_password_check(json_string_value(pw), json_string_value(u),
				     json_string_value(d), e);
	if (!rc)
		rc = auth_password_hash(json_string_value(pw), hash, e);
	json_object_del(changes, "password");
	if (!rc)
		*out = hash;
	return rc;
}

/* Hand a record out to v: computed fields added, what v may not see removed. Takes rec. */
static int present(struct store *s, const struct kind *k, const struct viewer *v, json_t *rec,
		   json_t **out, struct dm_err *e)
{
	struct present_ctx pc;
	present_ctx_init(&pc);
	int rc = method_present(s, v, &pc, k, rec, e);
	present_ctx_release(&pc);
	if (rc)
		json_decref(rec);
	else
		*out = rec;
	return rc;
}

int rec_create(struct store *s, const struct kind *k, const struct viewer *v, json_t *body,
	       json_t **out, struct dm_err *e)
{
	return rec_create_in(s, k, v, NULL, 0, body, out, e);
}

int rec_create_in(struct store *s, const struct kind *k, const struct viewer *v,
		  const char *parent_field, int64_t parent_id, json_t *body, json_t **out,
		  struct dm_err *e)
{
	char hash[128];
	struct wctx c = { k, v, 0, -1, NULL, NULL, NULL, 0, NULL, e };
	int rc;
	*out = NULL;
	if ((rc = may_write(k, v, 0, NULL, e)) || (rc = model_check(k, body, CHECK_CREATE, &c.changes, e)))
		return rc;
	if (parent_field)
		json_object_set_new(c.changes, parent_field, json_integer(parent_id));
	if (k == &kind_user && !json_object_get(c.changes, "password") && v != &viewer_system) {
		rc = dm_fail(e, DM_EREQUIRED, "password", "password is required");
		goto out;
	}
	if ((rc = take_password(k, c.changes, NULL, hash, &c.pw_hash, e)))
		goto out;
	rc = store_write(s, create_tx, &c, e);
	if (rc == DM_EDUPLICATE)
		hide_invisible_duplicate(s, k, v, e);
	if (!rc && c.at[0])
		c.out = model_record_inserted(k, c.changes, c.id, c.at);
	if (!rc && !c.out)
		rc = store_get(s, k, NULL, c.id, 0, &c.out, e);
	if (!rc)
		rc = present(s, k, v, c.out, out, e);
	else
		json_decref(c.out);
out:
	json_decref(c.changes);
	return rc;
}

int rec_create_check(const struct kind *k, const struct viewer *v, json_t *body, json_t **changes,
		     struct dm_err *e)
{
	int rc;
	*changes = NULL;
	if ((rc = may_write(k, v, 0, NULL, e)) || (rc = model_check(k, body, CHECK_CREATE, changes, e)))
		return rc;
	if (k == &kind_user && !json_object_get(*changes, "password") && v != &viewer_system) {
		json_decref(*changes);
		*changes = NULL;
		return dm_fail(e, DM_EREQUIRED, "password", "password is required");
	}
	return 0;
}

int rec_create_checked_tx(struct store *s, const struct kind *k, const struct viewer *v,
			  json_t *changes, struct rec_batch *batch, int64_t *id, struct dm_err *e)
{
	char hash[128];
	struct wctx c = { k, v, 0, -1, changes, NULL, NULL, 0, NULL, e, batch };
	int rc;
	*id = 0;
	if (!(rc = take_password(k, c.changes, NULL, hash, &c.pw_hash, e)) && !(rc = create_tx(s, &c)))
		*id = c.id;
	json_decref(c.out);
	return rc;
}

int rec_create_tx(struct store *s, const struct kind *k, const struct viewer *v, json_t *body,
		  struct rec_batch *batch, int64_t *id, struct dm_err *e)
{
	json_t *changes = NULL;
	*id = 0;
	int rc = rec_create_check(k, v, body, &changes, e);
	if (!rc)
		rc = rec_create_checked_tx(s, k, v, changes, batch, id, e);
	json_decref(changes);
	return rc;
}

int rec_visible(struct store *s, const struct kind *k, const struct viewer *v, int64_t id,
		struct dm_err *e)
{
	json_t *rec = NULL;
	int rc = store_get(s, k, v, id, v->role == ROLE_ADMIN, &rec, e);
	json_decref(rec);
	return rc;
}

int rec_get(struct store *s, const struct kind *k, const struct viewer *v, int64_t id,
	    json_t **out, struct dm_err *e)
{
	json_t *rec = NULL;
	int rc = store_get(s, k, v, id, v->role == ROLE_ADMIN, &rec, e);
	return rc ? rc : present(s, k, v, rec, out, e);
}

/* ---- a record as text ------------------------------------------------------------------------ */

struct get_text {
	struct store *s;
	struct buf *out;
	json_t *version;
	struct dm_err *e;
};

static int get_text_row(void *arg, const struct store_row *r)
{
	struct get_text *gt = arg;
	struct present_ctx pc;
	present_ctx_init(&pc);
	int rc = followup_account_text(gt->s, &pc, followup_account_layout(), r, gt->out,
				       model_field(&kind_account, "version"), &gt->version, gt->e);
	present_ctx_release(&pc);
	return rc;
}

int rec_get_text(struct store *s, const struct kind *k, const struct viewer *v, int64_t id,
		 struct buf *out, int64_t *version, int *done, struct dm_err *e)
{
	/* accounts only, as rec_list_text */
	*done = 0;
	*version = 0;
	if (k != &kind_account || !store_has_list_rows(s))
		return 0;
	*done = 1;
	struct get_text gt = { s, out, NULL, e };
	size_t from = out->len;
	buf_reserve(out, 1024);
	int rc = store_get_row(s, k, v, id, v->role == ROLE_ADMIN, get_text_row, &gt, e);
	if (rc) {
		out->len = from;
		if (out->data)
			out->data[from] = '\0';
	} else {
		*version = json_integer_value(gt.version);
	}
	json_decref(gt.version);
	return rc;
}

int rec_update(struct store *s, const struct kind *k, const struct viewer *v, int64_t id,
	       json_t *body, int64_t if_match, json_t **out, struct dm_err *e)
{
	char hash[128];
	struct wctx c = { k, v, id, if_match, NULL, NULL, NULL, 0, NULL, e };
	json_t *cur = NULL;
	int rc;
	*out = NULL;
	/* Visibility first: a record the caller may not see is 404 whatever the body says. */
	if ((rc = store_get(s, k, v, id, 0, &cur, e)))
		return rc;
	if ((rc = model_check(k, body, CHECK_PATCH, &c.changes, e)) ||
	    (rc = may_write(k, v, id, c.changes, e)) ||
	    (rc = take_password(k, c.changes, cur, hash, &c.pw_hash, e)))
		goto out;
	rc = store_write(s, update_tx, &c, e);
	if (rc == DM_EDUPLICATE)
		hide_invisible_duplicate(s, k, v, e);
	if (!rc) {
		rc = present(s, k, v, c.out, out, e);
		c.out = NULL;
	}
out:
	json_decref(cur);
	json_decref(c.cur);
	json_decref(c.out);
	json_decref(c.changes);
	return rc;
}

static int set_archived(struct store *s, const struct kind *k, const struct viewer *v, int64_t id,
			int archive, json_t **out, struct dm_err *e)
{
	struct wctx c = { k, v, id, -1, NULL, NULL, NULL, archive, NULL, e };
	json_t *cur = NULL;
	int rc;
	*out = NULL;
	if ((rc = store_get(s, k, v, id, !archive, &cur, e)))
		return rc;
	json_decref(cur);
	if ((rc = may_write(k, v, 0, NULL, e)))
		return rc;
	if (!archive && v->role != ROLE_ADMIN)
		return dm_fail(e, DM_EFORBIDDEN, NULL, "only an admin can restore records");
	rc = store_write(s, archive_tx, &c, e);
	if (rc == DM_EDUPLICATE)
		hide_invisible_duplicate(s, k, v, e);
	json_decref(c.cur);
	if (!rc)
		rc = present(s, k, v, c.out, out, e);
	else
		json_decref(c.out);
	return rc;
}

int rec_archive(struct store *s, const struct kind *k, const struct viewer *v, int64_t id,
		json_t **out, struct dm_err *e)
{
	return set_archived(s, k, v, id, 1, out, e);
}

int rec_restore(struct store *s, const struct kind *k, const struct viewer *v, int64_t id,
		json_t **out, struct dm_err *e)
{
	*out = NULL;
	if (v->role != ROLE_ADMIN) {
		/* Archived records are invisible to non-admins: not found, not forbidden. */
		json_t *cur = NULL;
		int rc = store_get(s, k, v, id, 0, &cur, e);
		json_decref(cur);
		if (rc)
			return dm_fail(e, DM_ENOTFOUND, NULL, "%s %lld not found", k->name, (long long)id);
		return dm_fail(e, DM_EFORBIDDEN, NULL, "only an admin can restore records");
	}
	return set_archived(s, k, v, id, 0, out, e);
}

/* ---- lists ------------------------------------------------------------------------------------- */

/* A query-parameter value typed as field f would store it; NULL when it does not fit. */
static json_t *filter_value(const struct field *f, const char *s)
{
	int64_t n;
	if (!strcmp(s, "null") && !(f->flags & (FF_REQUIRED | FF_NOTNULL)))
		return json_null();
	switch (f->type) {
	case FT_INT:
	case FT_REF:
		return text_parse_int(s, f->min, f->max ? f->max : INT64_MAX, &n) ? NULL : json_integer(n);
	case FT_BOOL:
		return !strcmp(s, "true") ? json_true() : !strcmp(s, "false") ? json_false() : NULL;
	case FT_ENUM:
		return model_enum_index(f->values, s) >= 0 ? json_string(s) : NULL;
	case FT_DATE:
		return date_valid(s) ? json_string(s) : NULL;
	case FT_TEXT:
		return text_utf8_len(s) <= (size_t)f->max ? json_string(s) : NULL;
	default:
		return NULL;
	}
}

/* The cursor after the page's last record: its stored sort value (as the store compares it:
 * the stored lifecycle, not the "decline" the rules may show) and its id. */
static char *cursor_encode(const struct field *sort, int desc, json_t *value, int64_t id)
{
	json_t *c = json_pack("[s,b,O,I]", sort->name, desc, value ? value : json_null(),
			      (json_int_t)id);
	char *raw = json_dumps(c, JSON_COMPACT);
	json_decref(c);
	size_t n = sodium_base64_ENCODED_LEN(strlen(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *out = xmalloc(n);
	sodium_bin2base64(out, n, (const unsigned char *)raw, strlen(raw),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	free(raw);
	return out;
}

/* Decode a cursor made by cursor_encode for this sort; -1 when it is not one. */
static int cursor_decode(const char *s, const struct field *sort, int desc, json_t **value,
			 int64_t *id)
{
	size_t len = strlen(s), n = 0;
	if (len == 0 || len > 4096)
		return -1;
	unsigned char *raw = xmalloc(len);
	int rc = sodium_base642bin(raw, len, s, len, NULL, &n, NULL,
				   sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	json_t *c = rc ? NULL : json_loadb((const char *)raw, n, JSON_REJECT_DUPLICATES, NULL);
	free(raw);
	json_t *v = json_array_get(c, 2), *i = json_array_get(c, 3);
	rc = -1;
	if (json_is_array(c) && json_array_size(c) == 4 &&
	    !strcmp(json_string_value(json_array_get(c, 0)) ?: "", sort->name) &&
	    json_is_boolean(json_array_get(c, 1)) && json_is_true(json_array_get(c, 1)) == desc &&
	    json_is_integer(i) && json_integer_value(i) > 0 &&
	    (json_is_null(v) || json_is_string(v) || json_is_integer(v) || json_is_boolean(v))) {
		*value = json_incref(v);
		*id = json_integer_value(i);
		rc = 0;
	}
	json_decref(c);
	return rc;
}

static const char *param(const struct kv *p, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(p[i].key, key))
			return p[i].value;
	return NULL;
}

static int parse_limit(const struct kv *p, size_t n, int *limit, struct dm_err *e)
{
	const char *l = param(p, n, "limit");
	int64_t v = LIST_DEFAULT_LIMIT;
	if (l && text_parse_int(l, 1, LIST_MAX_LIMIT, &v))
		return dm_fail(e, DM_EPARAM, "limit", "limit must be a whole number from 1 to %d",
			       LIST_MAX_LIMIT);
	*limit = (int)v;
	return 0;
}

/* Every parameter must be known, valid UTF-8, and given once. */
static int check_params(const struct kv *p, size_t n, struct dm_err *e)
{
	for (size_t i = 0; i < n; i++) {
		if (!text_utf8_valid(p[i].key, strlen(p[i].key)))
			return dm_fail(e, DM_EPARAM, NULL, "query parameter names must be UTF-8");
		if (!text_utf8_valid(p[i].value, strlen(p[i].value)))
			return dm_fail(e, DM_EPARAM, p[i].key, "%.60s must be UTF-8", p[i].key);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(p[i].key, p[j].key))
				return dm_fail(e, DM_EPARAM, p[i].key, "%.60s is given twice", p[i].key);
	}
	return 0;
}

struct list_parse {
	struct store_query q;
	char *name_key;
	char since[TIME_STR_LEN];
};

static void list_parse_release(struct list_parse *lp)
{
	for (int i = 0; i < lp->q.nfilters; i++)
		json_decref(lp->q.filters[i].value);
	json_decref(lp->q.after_value);
	free(lp->name_key);
}

static int parse_list(const struct kind *k, const struct viewer *v, const struct kv *p, size_t n,
		      struct list_parse *lp, struct dm_err *e)
{
	struct store_query *q = &lp->q;
	const char *sort = param(p, n, "sort"), *cursor = param(p, n, "cursor");
	int rc;
	q->kind = k;
	q->viewer = v;
	if ((rc = check_params(p, n, e)) || (rc = parse_limit(p, n, &q->limit, e)))
		return rc;
	if (sort) {
		q->desc = sort[0] == '-';
		q->sort = model_field(k, sort + q->desc);
		if (!q->sort || !(q->sort->flags & FF_SORT))
			return dm_fail(e, DM_EPARAM, "sort", "cannot sort %s by \"%.60s\"", k->plural, sort);
	}
	const struct field *sf = q->sort ? q->sort : model_field(k, "id");
	if (cursor && cursor_decode(cursor, sf, q->desc, &q->after_value, &q->after_id))
		return dm_fail(e, DM_EPARAM, "cursor",
			       "cursor is not one this list gave (or the sort changed)");
	for (size_t i = 0; i < n; i++) {
		const char *key = p[i].key, *val = p[i].value;
		if (!strcmp(key, "limit") || !strcmp(key, "sort") || !strcmp(key, "cursor"))
			continue;
		if (!strcmp(key, "archived")) {
			if (strcmp(val, "true") && strcmp(val, "false"))
				return dm_fail(e, DM_EPARAM, key, "archived must be true or false");
			q->archived = !strcmp(val, "true");
			if (q->archived && v->role != ROLE_ADMIN)
				return dm_fail(e, DM_EFORBIDDEN, key, "only admins list archived records");
		} else if (!strcmp(key, "name") && (k->flags & KF_NAME_KEY)) {
			lp->name_key = text_name_key(val);
			q->name_sub = lp->name_key;
		} else if (!strcmp(key, "updated_since")) {
			int64_t ms;
			if (time_parse(val, &ms))
				return dm_fail(e, DM_EPARAM, key, "updated_since must be an RFC 3339 time");
			time_format(ms, lp->since);
			q->updated_since = lp->since;
		} else {
			const struct field *f = model_field(k, key);
			if (!f || !(f->flags & FF_FILTER))
				return dm_fail(e, DM_EPARAM, key, "%s cannot be filtered by \"%.60s\"",
					       k->plural, key);
			json_t *fv = filter_value(f, val);
			if (!fv)
				return dm_fail(e, DM_EPARAM, key, "\"%.60s\" is not a valid %s", val, key);
			if (q->nfilters == (int)(sizeof q->filters / sizeof q->filters[0])) {
				json_decref(fv);
				return dm_fail(e, DM_EPARAM, key, "too many filters");
			}
			q->filters[q->nfilters].field = f;
			q->filters[q->nfilters++].value = fv;
		}
	}
	return 0;
}

static int list_worker(struct store *s, const struct kind *k, const struct viewer *v,
		       const struct kv *params, size_t nparams, int pool, json_t **items,
		       char **next, struct dm_err *e)
{
	struct list_parse lp;
	int rc;
	memset(&lp, 0, sizeof lp);
	*items = NULL;
	*next = NULL;
	if ((rc = parse_list(k, v, params, nparams, &lp, e)))
		goto out;
	lp.q.pool = pool;
	int limit = lp.q.limit;
	lp.q.limit = limit + 1;   /* one more tells whether there is a next page */
	if ((rc = store_list(s, &lp.q, items, e)))
		goto out;
	const struct field *sf = lp.q.sort ? lp.q.sort : model_field(k, "id");
	json_t *last = json_array_size(*items) > (size_t)limit ?
		json_array_get(*items, (size_t)limit - 1) : NULL;
	json_t *last_value = last ? json_incref(json_object_get(last, sf->name)) : NULL;
	int64_t last_id = last ? int_of(last, "id") : 0;
	struct present_ctx pc;
	present_ctx_init(&pc);
	size_t i;
	json_t *it;
	json_array_foreach(*items, i, it) {
		if ((rc = method_present(s, v, &pc, k, it, e)))
			break;
	}
	present_ctx_release(&pc);
	if (rc) {
		json_decref(last_value);
		json_decref(*items);
		*items = NULL;
		goto out;
	}
	if (last) {
		json_array_remove(*items, (size_t)limit);
		*next = cursor_encode(sf, lp.q.desc, last_value, last_id);
	}
	json_decref(last_value);
out:
	list_parse_release(&lp);
	return rc;
}

/* ---- a list as text ---------------------------------------------------------------------------- */

struct list_text {
	struct store *s;
	struct present_ctx pc;
	const struct account_text *at;
	struct buf *out;
	int limit, n, more;
	const struct field *sort;
	int has_last;            /* the page's last item: its sort value and id, for the cursor */
	json_t *last_value;
	int64_t last_id;
	struct dm_err *e;
};

static int list_text_row(void *arg, const struct store_row *r)
{
	struct list_text *lt = arg;
	json_t *sv = NULL;
	if (lt->n == lt->limit) {
		lt->more = 1;   /* the one more that tells there is a next page */
		return 1;
	}
	if (lt->n)
		buf_put(lt->out, ",", 1);
	int last = lt->n == lt->limit - 1;
	int rc = followup_account_text(lt->s, &lt->pc, lt->at, r, lt->out, last ? lt->sort : NULL,
				       &sv, lt->e);
	if (rc) {
		json_decref(sv);
		return rc;
	}
	if (last) {
		int c = lt->at->col[AT_ID];
		lt->has_last = 1;
		lt->last_id = c >= 0 ? r->v[c].i : 0;
		if (strcmp(lt->sort->name, "id")) {
			lt->last_value = sv;
		} else {
			json_decref(sv);
			lt->last_value = json_integer(lt->last_id);
		}
	}
	lt->n++;
	return 0;
}

/* A row known by its id and revision (store_query's probe): its remembered text, when the memo
 * holds it; not for the one more, nor the page's last item (its sort value is the cursor's). */
static int list_text_probe(void *arg, int64_t id, int64_t rev)
{
	struct list_text *lt = arg;
	if (lt->n == lt->limit) {
		lt->more = 1;
		return 1;
	}
	if (lt->n == lt->limit - 1)
		return 0;
	size_t from = lt->out->len;
	int known;
	if (lt->n)
		buf_put(lt->out, ",", 1);
	int rc = followup_account_text_known(lt->s, &lt->pc, lt->at, id, rev, lt->out, &known,
					     lt->e);
	if (rc || !known) {
		lt->out->len = from;
		lt->out->data[from] = '\0';
		return rc;
	}
	lt->n++;
	return STORE_PROBE_HAVE;
}

int rec_list_text(struct store *s, const struct kind *k, const struct viewer *v,
		  const struct kv *params, size_t nparams, int pool, struct buf *out, char **next,
		  int *done, struct dm_err *e)
{
	struct list_parse lp;
	struct list_text lt;
	int rc;
	*next = NULL;
	*done = 0;
	/* accounts only: their presentation depends on the row alone, not on the viewer; on
	 * PostgreSQL (no store_list_rows) the tree path */
	if (k != &kind_account || !store_has_list_rows(s))
		return 0;
	*done = 1;
	memset(&lp, 0, sizeof lp);
	memset(&lt, 0, sizeof lt);
	if ((rc = parse_list(k, v, params, nparams, &lp, e)))
		goto out;
	lp.q.pool = pool;
	lt.s = s;
	lt.out = out;
	lt.limit = lp.q.limit;
	lt.sort = lp.q.sort ? lp.q.sort : model_field(k, "id");
	lt.e = e;
	present_ctx_init(&lt.pc);
	lt.at = followup_account_list_layout();
	lp.q.only = lt.at->only;   /* the row without the fields the text never reads */
	lp.q.limit = lt.limit + 1;   /* one more tells whether there is a next page */
	lp.q.probe = list_text_probe;
	size_t from = out->len;
	buf_reserve(out, (size_t)lt.limit * 1024 + 64);   /* ≈ 700 bytes an account */
	buf_append(out, "[", 1);
	rc = store_list_rows(s, &lp.q, list_text_row, &lt, e);
	if (rc > 0)
		rc = 0;   /* stopped at the one more */
	present_ctx_release(&lt.pc);
	if (rc) {
		out->len = from;
		if (out->data)
			out->data[from] = '\0';
	} else {
		buf_append(out, "]", 1);
		if (lt.more && lt.has_last)
			*next = cursor_encode(lt.sort, lp.q.desc, lt.last_value, lt.last_id);
	}
	json_decref(lt.last_value);
out:
	list_parse_release(&lp);
	return rc;
}

int rec_list(struct store *s, const struct kind *k, const struct viewer *v,
	     const struct kv *params, size_t nparams, json_t **items, char **next,
	     struct dm_err *e)
{
	return list_worker(s, k, v, params, nparams, 0, items, next, e);
}

int rec_list_pool(struct store *s, const struct viewer *v, const struct kv *params,
		  size_t nparams, json_t **items, char **next, struct dm_err *e)
{
	return list_worker(s, &kind_account, v, params, nparams, 1, items, next, e);
}

int rec_audit(struct store *s, const struct viewer *v, const struct kv *params, size_t nparams,
	      json_t **items, char **next, struct dm_err *e)
{
	const char *object = param(params, nparams, "object"), *id_s = param(params, nparams, "id");
	const char *cursor = param(params, nparams, "cursor");
	int64_t id, after = 0;
	int limit, rc;
	*items = NULL;
	*next = NULL;
	if (v->role != ROLE_ADMIN && v->role != ROLE_MANAGER)
		return dm_fail(e, DM_EFORBIDDEN, NULL, "only admins and managers read the audit trail");
	if ((rc = check_params(params, nparams, e)) || (rc = parse_limit(params, nparams, &limit, e)))
		return rc;
	for (size_t i = 0; i < nparams; i++)
		if (strcmp(params[i].key, "object") && strcmp(params[i].key, "id") &&
		    strcmp(params[i].key, "limit") && strcmp(params[i].key, "cursor"))
			return dm_fail(e, DM_EPARAM, params[i].key, "unknown parameter %.60s",
				       params[i].key);
	const struct kind *k = object ? model_kind(object) : NULL;
	if (!k)
		return dm_fail(e, DM_EPARAM, "object", "object must be one of: user, team, account, "
			       "contact, opportunity, activity");
	if (!id_s || text_parse_int(id_s, 1, INT64_MAX, &id))
		return dm_fail(e, DM_EPARAM, "id", "id must be a record id");
	if (cursor && text_parse_int(cursor, 0, INT64_MAX, &after))
		return dm_fail(e, DM_EPARAM, "cursor", "cursor is not one this list gave");
	json_t *rec = NULL;
	if ((rc = rec_get(s, k, v, id, &rec, e)))
		return rc;
	if (!(rc = store_audit_list(s, k, id, after, limit + 1, items, e)))
		rc = method_present_audit(s, v, k, rec, *items, e);
	json_decref(rec);
	if (rc) {
		json_decref(*items);
		*items = NULL;
		return rc;
	}
	if (json_array_size(*items) > (size_t)limit) {
		json_array_remove(*items, (size_t)limit);
		*next = xasprintf("%lld", (long long)int_of(json_array_get(*items, (size_t)limit - 1), "id"));
	}
	return 0;
}
