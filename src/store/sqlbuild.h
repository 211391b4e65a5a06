/* sqlbuild.h — the SQL both backends build: a query under construction (text and bound values),
 * the visibility predicates, the records' select lists, the list query, inserts and updates, the
 * sweep's candidates and the named analytics queries. Private to src/store/.
 *
 * One builder speaks two dialects. The SQL is written once in the subset SQLite and PostgreSQL
 * share (COALESCE, TRUE/FALSE, aliased subqueries); where they differ (placeholders ? and $n,
 * JSON and date functions, substring search) the builder asks q->dialect. Values are never
 * written into the text: each qb_int/qb_text appends a placeholder and records the value. */
#ifndef DM_SQLBUILD_H
#define DM_SQLBUILD_H
#include "store.h"
#include "../base/buf.h"

#define QB_MAX_BINDS 256

enum sql_dialect { SQL_SQLITE, SQL_PG };
enum qb_type { QB_NULL, QB_INT, QB_REAL, QB_TEXT };

struct qb {
	struct buf sql;
	enum sql_dialect dialect;
	struct {
		enum qb_type type;
		int64_t i;
		double d;
		const char *s;   /* not owned unless listed in owned[] */
	} b[QB_MAX_BINDS];
	int n;
	int values_only;            /* bind values without writing placeholders (prepared text) */
	int point;                  /* the query reads one row by id: a parent's visibility is
				     * tested for that parent (EXISTS), not as the set of every
				     * parent the viewer sees (built per statement: 127 ms for a
				     * manager's contact at 200,000 accounts) */
	char *owned[QB_MAX_BINDS];  /* strings the builder must free */
	int nowned;
};

void qb_init(struct qb *q, enum sql_dialect d);
void qb_release(struct qb *q);
void qb_sql(struct qb *q, const char *s);
/* Append a placeholder bound to v (qb_text: s NULL binds NULL; the caller keeps s alive). */
void qb_int(struct qb *q, int64_t v);
void qb_text(struct qb *q, const char *s);
/* Bind a JSON value as stored: booleans as 0/1, objects and arrays as their JSON text. */
void qb_json(struct qb *q, json_t *v);
/* s (malloc'ed) now belongs to q, freed by qb_release; returns s. */
const char *qb_keep(struct qb *q, char *s);
/* id, or NULL for 0 */
void qb_id_or_null(struct qb *q, int64_t id);

/* "col is a user whose records v sees" */
void vis_owner(struct qb *q, const struct viewer *v, const char *col);
/* The teams within a manager's reach, as a parenthesised subquery (none for other roles). */
void vis_teams(struct qb *q, const struct viewer *v);
/* The visibility predicate of kind k over table alias t (v NULL: TRUE). */
void vis_clause(struct qb *q, const struct kind *k, const struct viewer *v);

/* The expression field f reads from over alias t (a column, or a derived subquery). */
void field_expr(struct qb *q, const struct kind *k, const struct field *f);
/* "SELECT <every selected field of k, in field order> FROM <table> t" */
void select_list(struct qb *q, const struct kind *k);
/* select_list of the fields model_query_selects(f, only) keeps. */
void select_only(struct qb *q, const struct kind *k, const char *const *only);
/* The whole list query of sqy: the page's ids first (filters, visibility, name search, keyset
 * cursor, order, limit), then the columns of those rows only, in the same order. */
void sql_list(struct qb *q, const struct store_query *sqy);
/* SQLite's accounts (migration 29): the ids and revisions of sql_list's rows, in its order
 * (sqlite.c list_keyed) */
void sql_list_keys(struct qb *q, const struct store_query *sqy);
/* SQLite's accounts: the columns of one of sql_list's rows and its revision, by the id bound
 * last (a list's keys already tell that the viewer sees it) */
void sql_row_by_id(struct qb *q, const struct store_query *sqy);
/* s as one FTS5 string ("..." with inner quotes doubled): a substring, not query syntax. */
char *sql_fts_phrase(const char *s);
/* INSERT of rec into k's table with the stamps (now) and name key (NULL when k has none);
 * PostgreSQL: ... ON CONFLICT DO NOTHING RETURNING id, so a taken unique value returns no row
 * instead of aborting the transaction. */
void sql_insert(struct qb *q, const struct kind *k, json_t *rec, const char *now,
		const char *key);
/* UPDATE of the fields of changes that differ from cur; *n = how many (0: nothing to write). */
void sql_update(struct qb *q, const struct kind *k, int64_t id, json_t *cur, json_t *changes,
		const char *key, const char *now, int *n);
/* The bulk-load INSERT of every writable column of k (placeholders in the order of
 * sql_import_bind), built once per kind and dialect; never freed. */
const char *sql_import(const struct kind *k, enum sql_dialect d);
/* One audit row; on a q that holds one already, one more row of the same INSERT. */
void sql_audit(struct qb *q, const char *object, int64_t id, int64_t actor, const char *at,
	       const char *action, const char *field, json_t *old_v, json_t *new_v);
/* What a create's one audit row holds (action "create", no field): the new record's fields
 * that are set, a write-only one (a password) left out; NULL if none is. A new reference. */
json_t *sql_audit_created(const struct kind *k, json_t *rec);
/* The sweep's candidates (store_reclaim_candidates). */
void sql_reclaim(struct qb *q, json_t *protect, const char *touch_before,
		 const char *deal_before);
/* The agenda's candidate accounts of owner (store_agenda_accounts). */
void sql_agenda_accounts(struct qb *q, const struct viewer *v, int64_t owner,
			 const struct agenda_cut *cut);
/* Migration 25's accounts_owner_due (SQLite): an account's agenda class and the key its due
 * day follows from (sqlite_schema.c says how), over the columns of alias T ("" or "t."). The
 * index and the queries must spell them alike for SQLite to match them. */
#define AGENDA_CLASS(T) "(CASE WHEN " T "latest_next_touch IS NOT NULL THEN 0 WHEN " T \
	"open_opps > 0 THEN 1 ELSE 2 END)"
#define AGENDA_KEY(T) "COALESCE(" T "latest_next_touch, " T "touched_at, " T "created_at)"
/* Migration 28's accounts_owner_quiet_plan (SQLite): the owner's planned live accounts by their
 * "since" (the last touch, else the creation), then id; the plain columns after them are the
 * ones the agenda's query names, so that SQLite 3.40 calls it covering. */
#define QUIET_PLANNED_SINCE(T) "COALESCE(" T "touched_at, " T "created_at)"
#define QUIET_PLANNED_COLUMNS "(owner_id, " QUIET_PLANNED_SINCE("") ", id, touched_at, " \
	"created_at, latest_next_touch, archived_at)"
/* One range of a rep's agenda (store_agenda_count, store_agenda_walk): count(*) when count is
 * 1, 1 when any (none: no row) when 2, else id, key, since and whether touched, in the key's
 * order then id's. */
void sql_agenda_range(struct qb *q, const struct viewer *v, int64_t owner,
		      const struct agenda_range *r, int count);
/* The named analytics query; DM_EINVAL (e filled) for an unknown name. */
int sql_analytics(struct qb *q, const char *name, const struct an_params *p, struct dm_err *e);

/* The funnel as statements of fixed text (SQLite: store_funnel), the same rows the named funnel
 * queries sum. The scope's one key of the funnel's tables (the owner, the company's -1, a team's
 * -1 - id). */
int64_t sql_funnel_key(const struct an_params *p);
/* The period as signed ranges of days, months or years of those tables (the cover the named
 * queries read: sqlbuild.c cover_range), lo and hi as the tables' text; the count (at most max;
 * 7 at most are needed). */
struct an_range {
	int sign;      /* +1 or -1 */
	int level;     /* 0 day, 1 month, 2 year: the table and its twins agg_x, agg_x_m, agg_x_y */
	char lo[11], hi[11];
};
int sql_funnel_ranges(const struct an_params *p, struct an_range *out, int max);
/* The open sums of key ?1: (stage, cents, n, amount) of agg_open. */
extern const char sql_funnel_open[];
/* The period sums of key ?1 over [?2, ?3] at a level: (0, stage, n, amount, cycle_ms) of
 * agg_closed, (1, rank, n, 0, 0) of agg_reach, (2, stage, n, stay_ms, 0) of agg_stays. */
extern const char *const sql_funnel_range[3];

/* SELECT id of the live record holding rec's unique value (users: username; others: key). */
void sql_holder(struct qb *q, const struct kind *k, json_t *rec, const char *key);
/* Fill e with the DM_EDUPLICATE answer for kind k (other: the holder's id, or 0). */
int sql_duplicate(const struct kind *k, int64_t other, struct dm_err *e);
/* Sign-in throttling (store_throttle_*): the failures of key and the start of their window;
 * count one more at now (a window older than window_ms restarts, and old keys are dropped); forget
 * key. */
void sql_throttle_get(struct qb *q, const char *key);
void sql_throttle_prune(struct qb *q, int64_t now_ms, int64_t window_ms);
void sql_throttle_fail(struct qb *q, const char *key, int64_t now_ms, int64_t window_ms);
void sql_throttle_clear(struct qb *q, const char *key);
/* Jobs (store_job_*): a new running import job (returns its id as column "id"); its state,
 * progress, report and error; the job as a row. job_from_row turns that row's report text into
 * JSON (in place). */
void sql_job_add(struct qb *q, const char *object, int64_t user_id, int64_t bytes_total,
		 const char *now);
void sql_job_set(struct qb *q, int64_t id, const char *state, int64_t rows, int64_t bytes,
		 json_t *report, const char *error, const char *now);
void sql_job_get(struct qb *q, int64_t id);
void job_from_row(json_t *row);
/* The small statements of the rules, one per store call of the same name (store.h): the same
 * text on both stores but for sql_link_add (PostgreSQL: ON CONFLICT DO NOTHING RETURNING id).
 * sql_sweep_add returns the new id as column "id". */
void sql_session_put(struct qb *q, const char *token_hash, int64_t user_id, const char *csrf,
		     int64_t now_ms);
void sql_session_seen(struct qb *q, const char *token_hash, int64_t now_ms);
void sql_session_expire(struct qb *q, int64_t idle_before, int64_t absolute_before);
void sql_setting_put(struct qb *q, const char *key, json_t *value, const char *now);
void sql_backdate_opportunity(struct qb *q, int64_t opp, const char *at);
void sql_backdate_history(struct qb *q, int64_t opp, const char *at);
void sql_stage_add(struct qb *q, int64_t opp, const char *from, const char *to, int64_t by,
		   const char *now);
void sql_stage_list(struct qb *q, int64_t opp);
void sql_link_add(struct qb *q, int64_t opp, int64_t from, int64_t to, const char *kind,
		  const char *now);
void sql_link_list(struct qb *q, int64_t opp);
void sql_team_put(struct qb *q, int64_t account, int64_t user, const char *access, int sensitive,
		  int64_t actor, const char *now);
void sql_team_delete(struct qb *q, int64_t account, int64_t user);
void sql_team_list(struct qb *q, int64_t account);
/* A row {owner_side, access, sensitive} (none: not visible); account_access_of reads it. */
void sql_account_access(struct qb *q, const struct viewer *v, int64_t account);
void account_access_of(json_t *rows, struct account_access *out);
/* The same from the row's values: access NULL when it is not text (no team membership). */
void account_access_from(int owner_side, const char *access, int64_t sensitive,
			 struct account_access *out);
/* The rows of sql_team_list with sensitive as a boolean (in place). */
void team_list_of(json_t *rows);
/* The owner_history INSERT's head, before its eight values (sql_owner_add; SQLite's bound
 * statement, sq_owner_add). */
#define SQL_OWNER_ADD "INSERT INTO owner_history (account_id, from_id, to_id, reason, note, " \
		      "by_id, at, sweep_id) VALUES "
void sql_owner_add(struct qb *q, int64_t account, int64_t from, int64_t to, const char *reason,
		   const char *note, int64_t by, int64_t sweep, const char *now);
void sql_owner_list(struct qb *q, int64_t account);
void sql_sweep_add(struct qb *q, const char *as_of, int64_t by, const char *now);
void sql_sweep_done(struct qb *q, int64_t id, int64_t moved);
void sql_audit_list(struct qb *q, const struct kind *k, int64_t id, int64_t after, int limit);
void sql_set_archived(struct qb *q, const struct kind *k, int64_t id, int archived,
		      const char *now);
void sql_team_in_reach(struct qb *q, const struct viewer *v, int64_t team);
/* The name key of rec (NULL when k has none; caller frees). */
char *name_key_of(const struct kind *k, json_t *rec);
/* 1 when field f of the import INSERT is a column sql_import lists. */
int sql_import_column(const struct field *f);

#endif
