/* store.c — the public store calls: pick a backend by URL, then dispatch through its table. */
#include "store_int.h"
#include "../base/xmalloc.h"
#include <stdlib.h>
#include <string.h>
#include "../base/banned.h"

int store_open(const char *url, struct store **out, struct dm_err *e)
{
	*out = NULL;
	struct store *s = xcalloc(1, sizeof *s);
	s->ops = store_url_is_pg(url) ? &store_pg_ops : &store_sqlite_ops;
	int rc = s->ops->open(s, url, &s->impl, e);
	if (rc) {
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

int store_url_is_pg(const char *url)
{
	return !strncmp(url, "postgres://", 11) || !strncmp(url, "postgresql://", 13);
}

const char *store_backend(struct store *s)
{
	return s->ops->name;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	s->ops->close(s->impl);
	free(s);
}

int store_schema_latest(void)
{
	return store_sqlite_latest();
}

int store_schema_version(struct store *s, int *version, struct dm_err *e)
{
	return s->ops->schema_version(s->impl, version, e);
}

int store_migrate(struct store *s, struct dm_err *e)
{
	return s->ops->migrate(s->impl, e);
}

int store_bulk_begin(struct store *s, const struct kind *k, struct dm_err *e)
{
	return s->ops->bulk ? s->ops->bulk(s->impl, k, 1, e) : 0;
}

int store_bulk_end(struct store *s, const struct kind *k, struct dm_err *e)
{
	return s->ops->bulk ? s->ops->bulk(s->impl, k, 0, e) : 0;
}

int store_bulk_memory(struct store *s, int64_t bytes, struct dm_err *e)
{
	return s->ops->bulk_memory ? s->ops->bulk_memory(s->impl, bytes, e) : 0;
}

void store_snapshot_begin(struct store *s)
{
	if (s->ops->snapshot)
		s->ops->snapshot(s->impl, 1);
}

void store_snapshot_end(struct store *s)
{
	if (s->ops->snapshot)
		s->ops->snapshot(s->impl, 0);
}

int store_write(struct store *s, store_write_fn fn, void *arg, struct dm_err *e)
{
	store_snapshot_end(s);
	return s->ops->write(s->impl, fn, arg, e);
}

int store_lock_try(struct store *s, const char *name, int *got, struct dm_err *e)
{
	return s->ops->lock_try(s->impl, name, got, e);
}

int store_get(struct store *s, const struct kind *k, const struct viewer *v, int64_t id,
	      int include_archived, json_t **rec, struct dm_err *e)
{
	return s->ops->get(s->impl, k, v, id, include_archived, rec, e);
}

int store_list(struct store *s, const struct store_query *q, json_t **items, struct dm_err *e)
{
	return s->ops->list(s->impl, q, items, e);
}

int store_has_list_rows(struct store *s)
{
	return s->ops->list_rows != NULL && s->ops->get_row != NULL;
}

int store_list_rows(struct store *s, const struct store_query *q, store_row_fn fn, void *arg,
		    struct dm_err *e)
{
	if (!s->ops->list_rows)
		return dm_fail(e, DM_EINTERNAL, NULL, "this store has no list_rows");
	return s->ops->list_rows(s->impl, q, fn, arg, e);
}

int store_get_row(struct store *s, const struct kind *k, const struct viewer *v, int64_t id,
		  int include_archived, store_row_fn fn, void *arg, struct dm_err *e)
{
	if (!s->ops->get_row)
		return dm_fail(e, DM_EINTERNAL, NULL, "this store has no get_row");
	return s->ops->get_row(s->impl, k, v, id, include_archived, fn, arg, e);
}

int store_insert(struct store *s, const struct kind *k, json_t *rec, int64_t actor,
		 int64_t *id, struct dm_err *e)
{
	return s->ops->insert(s->impl, k, rec, actor, NULL, id, e);
}

int store_insert_at(struct store *s, const struct kind *k, json_t *rec, int64_t actor,
		    const char *at, int64_t *id, struct dm_err *e)
{
	return s->ops->insert(s->impl, k, rec, actor, at, id, e);
}

int store_update(struct store *s, const struct kind *k, int64_t id, json_t *changes,
		 int64_t actor, int *changed, struct dm_err *e)
{
	return s->ops->update(s->impl, k, id, changes, actor, changed, e);
}

int store_set_archived(struct store *s, const struct kind *k, int64_t id, int archived,
		       int64_t actor, struct dm_err *e)
{
	return s->ops->set_archived(s->impl, k, id, archived, actor, e);
}

int store_audit_list(struct store *s, const struct kind *k, int64_t id, int64_t after, int limit,
		     json_t **items, struct dm_err *e)
{
	return s->ops->audit_list(s->impl, k, id, after, limit, items, e);
}

int store_in_scope(struct store *s, const struct viewer *v, int64_t user_id, int *yes,
		   struct dm_err *e)
{
	return s->ops->in_scope(s->impl, v, user_id, yes, e);
}

int store_cred_get(struct store *s, const char *username, struct store_cred *out,
		   struct dm_err *e)
{
	return s->ops->cred_get(s->impl, username, out, e);
}

int store_cred_set(struct store *s, int64_t user_id, const char *hash, struct dm_err *e)
{
	return s->ops->cred_set(s->impl, user_id, hash, e);
}

int store_session_put(struct store *s, const char *token_hash, int64_t user_id,
		      const char *csrf, int64_t now_ms, struct dm_err *e)
{
	return s->ops->session_put(s->impl, token_hash, user_id, csrf, now_ms, e);
}

int store_session_get(struct store *s, const char *token_hash, struct store_session *out,
		      struct dm_err *e)
{
	return s->ops->session_get(s->impl, token_hash, out, e);
}

int store_session_seen(struct store *s, const char *token_hash, int64_t now_ms,
		       struct dm_err *e)
{
	return s->ops->session_seen(s->impl, token_hash, now_ms, e);
}

int store_session_delete(struct store *s, const char *token_hash, struct dm_err *e)
{
	return s->ops->session_delete(s->impl, token_hash, e);
}

int store_session_delete_user(struct store *s, int64_t user_id, struct dm_err *e)
{
	return s->ops->session_delete_user(s->impl, user_id, e);
}

int store_session_expire(struct store *s, int64_t idle_before, int64_t absolute_before,
			 struct dm_err *e)
{
	return s->ops->session_expire(s->impl, idle_before, absolute_before, e);
}

int store_throttle_get(struct store *s, const char *key, int64_t *fails, int64_t *since_ms,
		       struct dm_err *e)
{
	return s->ops->throttle_get(s->impl, key, fails, since_ms, e);
}

int store_throttle_fail(struct store *s, const char *key, int64_t now_ms, int64_t window_ms,
			struct dm_err *e)
{
	return s->ops->throttle_fail(s->impl, key, now_ms, window_ms, e);
}

int store_throttle_clear(struct store *s, const char *key, struct dm_err *e)
{
	return s->ops->throttle_clear(s->impl, key, e);
}

int store_job_add(struct store *s, const char *object, int64_t user_id, int64_t bytes_total,
		  int64_t *id, struct dm_err *e)
{
	return s->ops->job_add(s->impl, object, user_id, bytes_total, id, e);
}

int store_job_set(struct store *s, int64_t id, const char *state, int64_t rows, int64_t bytes,
		  json_t *report, const char *error, struct dm_err *e)
{
	return s->ops->job_set(s->impl, id, state, rows, bytes, report, error, e);
}

int store_job_get(struct store *s, int64_t id, json_t **job, struct dm_err *e)
{
	return s->ops->job_get(s->impl, id, job, e);
}

int store_count(struct store *s, const struct kind *k, int64_t *n, struct dm_err *e)
{
	return s->ops->count(s->impl, k, n, e);
}

int store_setting_get(struct store *s, const char *key, json_t **value, struct dm_err *e)
{
	return s->ops->setting_get(s->impl, key, value, e);
}

int store_setting_put(struct store *s, const char *key, json_t *value, int64_t actor,
		      struct dm_err *e)
{
	return s->ops->setting_put(s->impl, key, value, actor, e);
}

int store_stage_add(struct store *s, int64_t opportunity, const char *from, const char *to,
		    int64_t by, const char *at, struct dm_err *e)
{
	return s->ops->stage_add(s->impl, opportunity, from, to, by, at, e);
}

int store_opportunity_backdate(struct store *s, int64_t opportunity, const char *at,
			       struct dm_err *e)
{
	return s->ops->opportunity_backdate(s->impl, opportunity, at, e);
}

int store_stage_list(struct store *s, int64_t opportunity, json_t **items, struct dm_err *e)
{
	return s->ops->stage_list(s->impl, opportunity, items, e);
}

int store_link_add(struct store *s, int64_t opportunity, int64_t from, int64_t to,
		   const char *kind, int64_t *id, struct dm_err *e)
{
	return s->ops->link_add(s->impl, opportunity, from, to, kind, id, e);
}

int store_link_list(struct store *s, int64_t opportunity, json_t **items, struct dm_err *e)
{
	return s->ops->link_list(s->impl, opportunity, items, e);
}

int store_team_put(struct store *s, int64_t account, int64_t user, const char *access,
		   int sensitive, int64_t actor, struct dm_err *e)
{
	return s->ops->team_put(s->impl, account, user, access, sensitive, actor, e);
}

int store_team_delete(struct store *s, int64_t account, int64_t user, int64_t actor,
		      struct dm_err *e)
{
	return s->ops->team_delete(s->impl, account, user, actor, e);
}

int store_team_list(struct store *s, int64_t account, json_t **items, struct dm_err *e)
{
	return s->ops->team_list(s->impl, account, items, e);
}

int store_account_access(struct store *s, const struct viewer *v, int64_t account,
			 struct account_access *out, struct dm_err *e)
{
	return s->ops->account_access(s->impl, v, account, out, e);
}

int store_owner_add(struct store *s, int64_t account, int64_t from, int64_t to, const char *reason,
		    const char *note, int64_t by, int64_t sweep, struct dm_err *e)
{
	return s->ops->owner_add(s->impl, account, from, to, reason, note, by, sweep, e);
}

int store_owner_list(struct store *s, int64_t account, json_t **items, struct dm_err *e)
{
	return s->ops->owner_list(s->impl, account, items, e);
}

int store_count_owned(struct store *s, int64_t user, int64_t *n, struct dm_err *e)
{
	return s->ops->count_owned(s->impl, user, n, e);
}

int store_reclaim_candidates(struct store *s, json_t *protect, const char *touch_before,
			     const char *deal_before, json_t **items, struct dm_err *e)
{
	return s->ops->reclaim_candidates(s->impl, protect, touch_before, deal_before, items, e);
}

int store_agenda_candidates(struct store *s, const struct viewer *v, int64_t owner,
			    const struct agenda_cut *cut, agenda_row_fn fn, void *arg,
			    struct dm_err *e)
{
	return s->ops->agenda_candidates(s->impl, v, owner, cut, fn, arg, e);
}

int store_agenda_ranges(struct store *s)
{
	return s->ops->agenda_count && s->ops->agenda_walk;
}

int store_agenda_count(struct store *s, const struct viewer *v, int64_t owner,
		       const struct agenda_range *r, size_t n, int64_t *counts, struct dm_err *e)
{
	return s->ops->agenda_count(s->impl, v, owner, r, n, counts, e);
}

int store_agenda_walk(struct store *s, const struct viewer *v, int64_t owner,
		      const struct agenda_range *r, agenda_key_fn fn, void *arg,
		      struct dm_err *e)
{
	return s->ops->agenda_walk(s->impl, v, owner, r, fn, arg, e);
}

int store_agenda_accounts(struct store *s, const struct viewer *v, int64_t owner,
			  const struct agenda_cut *cut, agenda_page_fn fn, void *arg,
			  struct dm_err *e)
{
	return s->ops->agenda_accounts(s->impl, v, owner, cut, fn, arg, e);
}

int store_sweep_add(struct store *s, const char *as_of, int64_t by, int64_t *id,
		    struct dm_err *e)
{
	return s->ops->sweep_add(s->impl, as_of, by, id, e);
}

int store_sweep_done(struct store *s, int64_t id, int64_t moved, struct dm_err *e)
{
	return s->ops->sweep_done(s->impl, id, moved, e);
}

int store_find_name(struct store *s, const struct kind *k, const char *name, int64_t *id,
		    struct dm_err *e)
{
	return s->ops->find_name(s->impl, k, name, id, e);
}

int store_import_insert(struct store *s, const struct kind *k, json_t *rec, int64_t actor,
			const char *audit, size_t audit_len, int64_t *id, struct dm_err *e)
{
	return s->ops->import_insert(s->impl, k, rec, actor, audit, audit_len, id, e);
}

int store_backup(struct store *s, const char *path, struct dm_err *e)
{
	return s->ops->backup(s->impl, path, e);
}

int store_file_check(const char *path, int *version, struct dm_err *e)
{
	return store_sqlite_file_check(path, version, e);
}

int store_file_restore(const char *url, const char *path, struct dm_err *e)
{
	if (store_url_is_pg(url))
		return dm_fail(e, DM_EPARAM, "db", "dealmap restores SQLite files only: restore a "
			       "PostgreSQL backup (dealmap backup writes pg_dump's custom format) with "
			       "pg_restore --clean --if-exists --no-owner --dbname URL FILE, then run "
			       "dealmap init --db URL to migrate it");
	return store_sqlite_file_restore(strncmp(url, "sqlite:", 7) ? url : url + 7, path, e);
}

int store_team_in_reach(struct store *s, const struct viewer *v, int64_t team, int *yes,
			struct dm_err *e)
{
	return s->ops->team_in_reach(s->impl, v, team, yes, e);
}

int store_analytics(struct store *s, const char *name, const struct an_params *p, json_t **rows,
		    struct dm_err *e)
{
	return s->ops->analytics(s->impl, name, p, rows, e);
}

static json_t *row_for(json_t *rows, const char *key, const char *value)
{
	size_t i;
	json_t *r;
	json_array_foreach(rows, i, r) {
		const char *v = json_string_value(json_object_get(r, key));
		if (v && !strcmp(v, value))
			return r;
	}
	return NULL;
}

static int64_t int_of(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static void closed_of(json_t *rows, const char *stage, struct funnel_closed *c)
{
	json_t *r = row_for(rows, "stage", stage), *avg = json_object_get(r, "avg_cycle_days");
	c->count = int_of(r, "count");
	c->amount = int_of(r, "amount");
	c->has_cycle = json_is_number(avg);
	c->avg_cycle_days = json_number_value(avg);
}

/* The funnel from its four named queries' rows (PostgreSQL) */
static int funnel_by_queries(struct store *s, const struct an_params *p, struct funnel_sums *out,
			     struct dm_err *e)
{
	json_t *open = NULL, *closed = NULL, *reach = NULL, *days = NULL, *r;
	size_t i;
	int rc;
	if ((rc = store_analytics(s, "funnel_open", p, &open, e)) ||
	    (rc = store_analytics(s, "funnel_closed", p, &closed, e)) ||
	    (rc = store_analytics(s, "funnel_reach", p, &reach, e)) ||
	    (rc = store_analytics(s, "stage_days", p, &days, e)))
		goto out;
	for (int k = 0; k < FUNNEL_STAGES; k++) {
		r = row_for(open, "stage", model_stages[k]);
		out->open[k].count = int_of(r, "count");
		out->open[k].amount = int_of(r, "amount");
		out->open[k].weighted = int_of(r, "weighted_amount");
		r = row_for(days, "stage", model_stages[k]);
		json_t *avg = json_object_get(r, "avg_days");
		out->stays[k].stays = int_of(r, "stays");
		out->stays[k].has_avg = json_is_number(avg);
		out->stays[k].avg_days = json_number_value(avg);
	}
	closed_of(closed, "won", &out->won);
	closed_of(closed, "lost", &out->lost);
	json_array_foreach(reach, i, r) {
		int64_t rank = int_of(r, "rank");
		if (rank >= 0)
			out->reach[rank < 7 ? rank : 7] += int_of(r, "n");
	}
out:
	json_decref(open);
	json_decref(closed);
	json_decref(reach);
	json_decref(days);
	return rc;
}

int store_funnel(struct store *s, const struct an_params *p, struct funnel_sums *out,
		 struct dm_err *e)
{
	memset(out, 0, sizeof *out);
	if (s->ops->funnel)
		return s->ops->funnel(s->impl, p, out, e);
	return funnel_by_queries(s, p, out, e);
}
