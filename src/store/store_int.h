/* store_int.h — what a storage backend provides: one table of functions, mirroring store.h,
 * each taking the backend's own handle. store.c holds the public entry points. */
#ifndef DM_STORE_INT_H
#define DM_STORE_INT_H
#include "store.h"

struct store_ops {
	const char *name;
	int (*open)(struct store *s, const char *url, void **impl, struct dm_err *e);
	void (*close)(void *impl);
	int (*schema_version)(void *impl, int *version, struct dm_err *e);
	int (*migrate)(void *impl, struct dm_err *e);
	int (*write)(void *impl, store_write_fn fn, void *arg, struct dm_err *e);
	/* Optional (NULL: reads are not grouped): begin (on = 1) or end (0) the calling thread's
	 * read snapshot. */
	void (*snapshot)(void *impl, int on);
	int (*lock_try)(void *impl, const char *name, int *got, struct dm_err *e);
	int (*get)(void *impl, const struct kind *k, const struct viewer *v, int64_t id,
		   int include_archived, json_t **rec, struct dm_err *e);
	int (*list)(void *impl, const struct store_query *q, json_t **items, struct dm_err *e);
	/* may be NULL, both or neither: store_has_list_rows */
	int (*list_rows)(void *impl, const struct store_query *q, store_row_fn fn, void *arg,
			 struct dm_err *e);
	int (*get_row)(void *impl, const struct kind *k, const struct viewer *v, int64_t id,
		       int include_archived, store_row_fn fn, void *arg, struct dm_err *e);
	int (*insert)(void *impl, const struct kind *k, json_t *rec, int64_t actor, const char *at,
		      int64_t *id, struct dm_err *e);
	int (*update)(void *impl, const struct kind *k, int64_t id, json_t *changes,
		      int64_t actor, int *changed, struct dm_err *e);
	int (*set_archived)(void *impl, const struct kind *k, int64_t id, int archived,
			    int64_t actor, struct dm_err *e);
	int (*audit_list)(void *impl, const struct kind *k, int64_t id, int64_t after, int limit,
			  json_t **items, struct dm_err *e);
	int (*in_scope)(void *impl, const struct viewer *v, int64_t user_id, int *yes,
			struct dm_err *e);
	int (*cred_get)(void *impl, const char *username, struct store_cred *out,
			struct dm_err *e);
	int (*cred_set)(void *impl, int64_t user_id, const char *hash, struct dm_err *e);
	int (*session_put)(void *impl, const char *token_hash, int64_t user_id, const char *csrf,
			   int64_t now_ms, struct dm_err *e);
	int (*session_get)(void *impl, const char *token_hash, struct store_session *out,
			   struct dm_err *e);
	int (*session_seen)(void *impl, const char *token_hash, int64_t now_ms, struct dm_err *e);
	int (*session_delete)(void *impl, const char *token_hash, struct dm_err *e);
	int (*session_delete_user)(void *impl, int64_t user_id, struct dm_err *e);
	int (*session_expire)(void *impl, int64_t idle_before, int64_t absolute_before,
			      struct dm_err *e);
	int (*setting_get)(void *impl, const char *key, json_t **value, struct dm_err *e);
	int (*setting_put)(void *impl, const char *key, json_t *value, int64_t actor,
			   struct dm_err *e);
	int (*opportunity_backdate)(void *impl, int64_t opp, const char *at, struct dm_err *e);
	int (*stage_add)(void *impl, int64_t opp, const char *from, const char *to, int64_t by,
			 const char *at, struct dm_err *e);
	int (*stage_list)(void *impl, int64_t opp, json_t **items, struct dm_err *e);
	int (*link_add)(void *impl, int64_t opp, int64_t from, int64_t to, const char *kind,
			int64_t *id, struct dm_err *e);
	int (*link_list)(void *impl, int64_t opp, json_t **items, struct dm_err *e);
	int (*team_put)(void *impl, int64_t account, int64_t user, const char *access,
			int sensitive, int64_t actor, struct dm_err *e);
	int (*team_delete)(void *impl, int64_t account, int64_t user, int64_t actor,
			   struct dm_err *e);
	int (*team_list)(void *impl, int64_t account, json_t **items, struct dm_err *e);
	int (*account_access)(void *impl, const struct viewer *v, int64_t account,
			      struct account_access *out, struct dm_err *e);
	int (*find_name)(void *impl, const struct kind *k, const char *name, int64_t *id,
			 struct dm_err *e);
	int (*owner_add)(void *impl, int64_t account, int64_t from, int64_t to, const char *reason,
			 const char *note, int64_t by, int64_t sweep, struct dm_err *e);
	int (*owner_list)(void *impl, int64_t account, json_t **items, struct dm_err *e);
	int (*count_owned)(void *impl, int64_t user, int64_t *n, struct dm_err *e);
	int (*reclaim_candidates)(void *impl, json_t *protect, const char *touch_before,
				  const char *deal_before, json_t **items, struct dm_err *e);
	int (*agenda_candidates)(void *impl, const struct viewer *v, int64_t owner,
				 const struct agenda_cut *cut, agenda_row_fn fn, void *arg,
				 struct dm_err *e);
	int (*agenda_accounts)(void *impl, const struct viewer *v, int64_t owner,
			       const struct agenda_cut *cut, agenda_page_fn fn, void *arg,
			       struct dm_err *e);
	/* NULL when the store has no agenda ranges (store_agenda_ranges) */
	int (*agenda_count)(void *impl, const struct viewer *v, int64_t owner,
			    const struct agenda_range *r, size_t n, int64_t *counts,
			    struct dm_err *e);
	int (*agenda_walk)(void *impl, const struct viewer *v, int64_t owner,
			   const struct agenda_range *r, agenda_key_fn fn, void *arg,
			   struct dm_err *e);
	int (*sweep_add)(void *impl, const char *as_of, int64_t by, int64_t *id, struct dm_err *e);
	int (*sweep_done)(void *impl, int64_t id, int64_t moved, struct dm_err *e);
	int (*team_in_reach)(void *impl, const struct viewer *v, int64_t team, int *yes,
			     struct dm_err *e);
	int (*analytics)(void *impl, const char *name, const struct an_params *p, json_t **rows,
			 struct dm_err *e);
	/* NULL: store_funnel runs the named queries */
	int (*funnel)(void *impl, const struct an_params *p, struct funnel_sums *out,
		      struct dm_err *e);
	int (*throttle_get)(void *impl, const char *key, int64_t *fails, int64_t *since_ms,
			    struct dm_err *e);
	int (*throttle_fail)(void *impl, const char *key, int64_t now_ms, int64_t window_ms,
			     struct dm_err *e);
	int (*throttle_clear)(void *impl, const char *key, struct dm_err *e);
	int (*job_add)(void *impl, const char *object, int64_t user_id, int64_t bytes_total,
		       int64_t *id, struct dm_err *e);
	int (*job_set)(void *impl, int64_t id, const char *state, int64_t rows, int64_t bytes,
		       json_t *report, const char *error, struct dm_err *e);
	int (*job_get)(void *impl, int64_t id, json_t **job, struct dm_err *e);
	int (*count)(void *impl, const struct kind *k, int64_t *n, struct dm_err *e);
	int (*import_insert)(void *impl, const struct kind *k, json_t *rec, int64_t actor,
			     const char *audit, size_t audit_len, int64_t *id, struct dm_err *e);
	int (*backup)(void *impl, const char *path, struct dm_err *e);
	/* Optional (NULL: nothing is deferred): store_bulk_begin (on = 1) and store_bulk_end. */
	int (*bulk)(void *impl, const struct kind *k, int on, struct dm_err *e);
	/* Optional (NULL: nothing to do): store_bulk_memory. */
	int (*bulk_memory)(void *impl, int64_t bytes, struct dm_err *e);
};

struct store {
	const struct store_ops *ops;
	void *impl;
};

extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_pg_ops;
/* How often a SQLite store read the sign-in generation by SQL, not from the writer's last
 * commit (sqlite.c, gen_known): for tests. */
long store_sqlite_gen_reads(void);
/* Number of migrations the SQLite backend knows. */
int store_sqlite_latest(void);
/* For tests: the WAL's sizes in pages at which the checkpoint thread, and past it the writer,
 * checkpoint (sqlite.c CKPT_FRAMES, CKPT_FRAMES_WRITER); 0 for either restores its default.
 * Set before a store opens. */
void store_sqlite_checkpoint_pages(int thread, int writer);
/* store_file_check and store_file_restore for SQLite files. */
int store_sqlite_file_check(const char *path, int *version, struct dm_err *e);
int store_sqlite_file_restore(const char *path, const char *from, struct dm_err *e);

#endif
