/* store.h — the persistence interface. Everything above this line speaks records (jansson
 * objects validated by model.h) and viewers; everything below speaks SQL. Backends (SQLite now,
 * PostgreSQL later) plug in behind the table of functions in store_int.h.
 *
 * Visibility is a parameter of every query that returns business rows: a record the viewer may
 * not see is simply not found (DM_ENOTFOUND), never filtered afterwards.
 *
 * Threads: any thread may call any function. Reads use a connection private to the calling
 * thread. Writes happen only inside store_write(): the callback runs on the store's writer
 * thread inside a transaction shared with other concurrent writes (group commit: one fsync
 * answers many requests), under a savepoint of its own, so a failing callback undoes only its
 * own changes. Store calls made inside the callback see its uncommitted changes. */
#ifndef DM_STORE_H
#define DM_STORE_H
#include <jansson.h>
#include <stdint.h>
#include "../base/err.h"
#include "../model/model.h"

#define TIME_STR_LEN_ 25   /* as TIME_STR_LEN of base/timeutil.h */

struct store;

/* Open the store named by url: a file path (SQLite, also "sqlite:PATH"), or a libpq URI
 * "postgres://user:pass@host:port/dbname" or "postgresql://..." (PostgreSQL; several servers
 * may share one database). Does not migrate. */
int store_open(const char *url, struct store **out, struct dm_err *e);
void store_close(struct store *s);
/* 1 when url names a PostgreSQL database. */
int store_url_is_pg(const char *url);
/* The backend's name: "sqlite" or "postgres". */
const char *store_backend(struct store *s);

/* Schema: the number of migrations this binary knows, and the database's own number. */
int store_schema_latest(void);
int store_schema_version(struct store *s, int *version, struct dm_err *e);
/* Apply every pending migration. A database newer than the binary answers DM_ESCHEMA. */
int store_migrate(struct store *s, struct dm_err *e);

/* One snapshot for the reads of a request: between store_snapshot_begin and store_snapshot_end,
 * the calling thread's reads see one consistent state of the database and share one read
 * transaction (on SQLite a read transaction costs file-lock system calls, so a GET that runs
 * three statements paid for three). store_write ends the calling thread's snapshot first, so a
 * request always reads its own writes. Ending a snapshot that was not begun does nothing.
 * PostgreSQL: both do nothing (a read takes a pooled connection per statement, none is held for
 * a request; each statement reads its own snapshot). */
void store_snapshot_begin(struct store *s);
void store_snapshot_end(struct store *s);

/* Run fn(s, arg) inside a durable write transaction (see above). Returns fn's result; when
 * fn returns non-zero its changes are rolled back. When the storage refuses the write (disk
 * full, read-only database, I/O error) or the commit fails, nothing of it is kept and the answer
 * is DM_EUNAVAILABLE with e naming the cause, even if fn itself succeeded; e may be NULL. */
typedef int (*store_write_fn)(struct store *s, void *arg);
int store_write(struct store *s, store_write_fn fn, void *arg, struct dm_err *e);
/* Inside store_write only: take the singleton lock `name` ("sweep") until the transaction ends,
 * or learn that another server holds it (*got = 0). PostgreSQL: a transaction-scoped advisory
 * lock, so two servers never run the daily sweep at once; SQLite: always got (one process
 * writes). DM_EINVAL for an unknown name. */
int store_lock_try(struct store *s, const char *name, int *got, struct dm_err *e);

/* ---- records ---------------------------------------------------------------------------------
 * v == NULL means "no visibility restriction" (internal use: CLI, rules that must see all). */

/* Fetch one record. Archived records are found only when include_archived. */
int store_get(struct store *s, const struct kind *k, const struct viewer *v, int64_t id,
	      int include_archived, json_t **rec, struct dm_err *e);

/* FILTER_IN: value is an array of values typed as the field (an empty one matches nothing) */
enum filter_op { FILTER_EQ, FILTER_GE, FILTER_LE, FILTER_NE, FILTER_IN };

struct store_filter {
	const struct field *field;
	json_t *value;                /* typed as the field (integer, string, boolean); null = none */
	enum filter_op op;
};

/* A derived field of a query's only that its caller reads in some rows alone: those whose plain
 * field `on` holds one of values (NULL-terminated); the others hold null for it, and the store
 * computes nothing for it there (a subquery each: the warnings read the quotes in two stages
 * of eight, the stakeholders in four, the account's last touch in one). */
struct store_gate {
	const char *field, *on;
	const char *const *values;
};

struct store_query {
	const struct kind *kind;
	const struct viewer *viewer;
	int limit;
	const struct field *sort;     /* NULL = id */
	int desc;
	json_t *after_value;          /* keyset cursor: the sort value and id of the last row seen */
	int64_t after_id;             /* 0 = first page */
	struct store_filter filters[16];
	int nfilters;
	const char *name_sub;         /* substring of the name key, already normalised; NULL = none */
	const char *name_fts;         /* SQLite's own (sq_list): the one character pair of name_sub
					 the account name index looks up instead of all of them */
	const char *updated_since;    /* RFC 3339 UTC ms string; NULL = none */
	int archived;                 /* 0 = live only, 1 = archived only */
	int pool;                     /* accounts: the public pool (owner_id null) instead of the
					 viewer's own reach; partners see none */
	const char *const *only;      /* NULL-terminated names: each row holds these fields only
					 (NULL = every selected field; model_query_selects) */
	const struct store_gate *gates; /* with only: some of its derived fields gated */
	int ngates;
	/* store_list_rows of accounts, where the store keeps each row's revision (SQLite,
	 * migration 29: a value every change of the row changes, 0 when not known): before it
	 * reads a row's columns the store hands probe (with store_list_rows' arg) the row's id
	 * and revision. probe answers 0 to have the row handed to fn, STORE_PROBE_HAVE when the
	 * caller has all it needs of that row (fn is not called for it), anything else to stop
	 * as fn's non-zero answer does. NULL, or a store without revisions: every row to fn. */
	int (*probe)(void *arg, int64_t id, int64_t rev);
};
#define STORE_PROBE_HAVE (-1)

/* The page of records (a new array, at most q->limit). */
int store_list(struct store *s, const struct store_query *q, json_t **items, struct dm_err *e);

/* One row of a list as the store read it, for callers that write it as text rather than build
 * it as a jansson object (the list of accounts: ≈ 80 allocations a row as objects). v[i] is the
 * value of the kind's i-th selected field (model_query_selects of the query's only, in the
 * kind's order: every field model_is_selected when only is NULL), as
 * store_list would have set it: null, else for FT_INT, FT_REF and FT_BOOL the integer i, for
 * the others the stored text s of n bytes (NUL-terminated; FT_JSON: the JSON text as stored,
 * which jsontext_column reads as store_list does). Valid during the callback only. */
#define STORE_ROW_MAX 48
struct store_value {
	int null;
	int64_t i;
	const char *s;
	size_t n;
};
struct store_row {
	size_t n;
	struct store_value v[STORE_ROW_MAX];
	int64_t rev;   /* the row's revision where the list had a probe (store_query), else 0 */
};
/* Return 0 to go on, non-zero to stop (store_list_rows then answers it). */
typedef int (*store_row_fn)(void *arg, const struct store_row *r);
/* 1 when the store has store_list_rows and store_get_row (SQLite; PostgreSQL keeps store_list
 * and store_get: its rows arrive as text already converted by libpq and the cost there is the
 * server round trip). */
int store_has_list_rows(struct store *s);
/* store_list's rows, the same ones in the same order, each handed to fn as C values. */
int store_list_rows(struct store *s, const struct store_query *q, store_row_fn fn, void *arg,
		    struct dm_err *e);
/* store_get's row handed to fn as C values (the kind's selected fields, as store_list_rows
 * hands them); the same answers otherwise (DM_ENOTFOUND when v may not see it). fn's non-zero
 * return is answered. */
int store_get_row(struct store *s, const struct kind *k, const struct viewer *v, int64_t id,
		  int include_archived, store_row_fn fn, void *arg, struct dm_err *e);

/* Inside store_write only. Insert rec (fields of model_check for the kind), stamping
 * id/created_at/updated_at/version, auditing every set field. DM_EDUPLICATE for a taken unique
 * name, with e->existing_id set to the other record's id. */
int store_insert(struct store *s, const struct kind *k, json_t *rec, int64_t actor,
		 int64_t *id, struct dm_err *e);
/* store_insert with created_at and updated_at the time at (time_format's form) instead of the
 * store's clock, so the caller knows the stored record without reading it back
 * (model_record_inserted). */
int store_insert_at(struct store *s, const struct kind *k, json_t *rec, int64_t actor,
		    const char *at, int64_t *id, struct dm_err *e);
/* Inside store_write only. Set the fields of changes that differ from the stored record, bump
 * version and updated_at, audit each change. *changed tells whether anything did change. */
int store_update(struct store *s, const struct kind *k, int64_t id, json_t *changes,
		 int64_t actor, int *changed, struct dm_err *e);
/* Inside store_write only. Archive (archived = 1) or restore (0); audited. */
int store_set_archived(struct store *s, const struct kind *k, int64_t id, int archived,
		       int64_t actor, struct dm_err *e);

/* The audit trail of one record, oldest first, after audit id `after` (0 = from the start). */
int store_audit_list(struct store *s, const struct kind *k, int64_t id, int64_t after, int limit,
		     json_t **items, struct dm_err *e);

/* *yes = 1 when user_id's records are within v's reach (v itself, or for a manager a member of
 * their teams and sub-teams; everyone for an admin). */
int store_in_scope(struct store *s, const struct viewer *v, int64_t user_id, int *yes,
		   struct dm_err *e);

/* ---- settings: named JSON values the admin owns ------------------------------------------- */

/* *value is a new reference, or NULL when the key was never set. */
int store_setting_get(struct store *s, const char *key, json_t **value, struct dm_err *e);
/* Inside store_write only. */
int store_setting_put(struct store *s, const char *key, json_t *value, int64_t actor,
		      struct dm_err *e);

/* ---- opportunity stage history ---------------------------------------------------------------- */

/* Inside store_write only. from may be NULL (creation). at: the move's instant, NULL for now
 * (only `dealmap generate` dates moves in the past). */
int store_stage_add(struct store *s, int64_t opportunity, const char *from, const char *to,
		    int64_t by, const char *at, struct dm_err *e);
/* Inside store_write only: dates a new opportunity (created_at, and its creation's stage-history
 * row) at instant at, for `dealmap generate`, which spreads the large company's deals over the
 * years; the funnel's triggers move its sums as for any update of created_at. */
int store_opportunity_backdate(struct store *s, int64_t opportunity, const char *at,
			       struct dm_err *e);
/* [{from, to, at, by, by_name}] oldest first. */
int store_stage_list(struct store *s, int64_t opportunity, json_t **items, struct dm_err *e);

/* ---- links between stakeholders (ally / rival) ------------------------------------------------- */

/* Inside store_write only. DM_EDUPLICATE when the pair is linked already. */
int store_link_add(struct store *s, int64_t opportunity, int64_t from, int64_t to,
		   const char *kind, int64_t *id, struct dm_err *e);
/* [{id, from, to, kind, created_at}] of one opportunity's live stakeholders. */
int store_link_list(struct store *s, int64_t opportunity, json_t **items, struct dm_err *e);

/* ---- account teams (SPEC §2) ------------------------------------------------------------------- */

struct account_access {
	int read, write, sensitive;
};

/* Inside store_write only: add or change a member (access "read" | "write"); audited. */
int store_team_put(struct store *s, int64_t account, int64_t user, const char *access,
		   int sensitive, int64_t actor, struct dm_err *e);
/* Inside store_write only. DM_ENOTFOUND when the user is not a member. */
int store_team_delete(struct store *s, int64_t account, int64_t user, int64_t actor,
		      struct dm_err *e);
/* [{user_id, username, display_name, access, sensitive, created_at}] */
int store_team_list(struct store *s, int64_t account, json_t **items, struct dm_err *e);
/* What v may do with a live account: read and write it (owner within reach, admin, or team
 * member by grant), and see its sensitive portrait blocks (owner, managers above the owner,
 * admins, members granted sensitive). All zero when the account is not visible. */
int store_account_access(struct store *s, const struct viewer *v, int64_t account,
			 struct account_access *out, struct dm_err *e);

/* The live record of kind k (with KF_UNIQUE_NAME) holding this name, compared as names are
 * (case- and width-insensitively); *id = 0 when none. No visibility: callers check it. */
int store_find_name(struct store *s, const struct kind *k, const char *name, int64_t *id,
		    struct dm_err *e);

/* ---- ownership (SPEC §6) ------------------------------------------------------------------------ */

/* Inside store_write only: record an owner change (from/to 0 = the pool). */
int store_owner_add(struct store *s, int64_t account, int64_t from, int64_t to, const char *reason,
		    const char *note, int64_t by, int64_t sweep, struct dm_err *e);
/* [{from, to, reason, note, by, by_name, at, sweep_id}] oldest first. */
int store_owner_list(struct store *s, int64_t account, json_t **items, struct dm_err *e);
/* Live accounts owned by user. */
int store_count_owned(struct store *s, int64_t user, int64_t *n, struct dm_err *e);
/* Owned live accounts whose importance is not in `protect` (a JSON array of levels) and that
 * either have had no effective activity by their owner, nor an assignment, since touch_before,
 * or were assigned before deal_before and have had no opportunity won since. Each item:
 * {id, owner_id, assigned_at, last_owner_touch, why: "no_follow_up" | "no_deal"}. */
int store_reclaim_candidates(struct store *s, json_t *protect, const char *touch_before,
			     const char *deal_before, json_t **items, struct dm_err *e);
/* Inside store_write only: a sweep's record; *id for the owner-history rows it writes. */
int store_sweep_add(struct store *s, const char *as_of, int64_t by, int64_t *id,
		    struct dm_err *e);
int store_sweep_done(struct store *s, int64_t id, int64_t moved, struct dm_err *e);

/* The cut-offs of a rep's agenda (followup.c computes them from the rules). */
struct agenda_cut {
	const char *planned_before; /* date: a planned next touch before it may be due */
	const char *due_before;     /* instant: without a planned touch, a last touch (or creation)
				     * before it may be due (the later of the two cadences' cut-offs) */
	const char *sleep_before;   /* instant: a last touch (or creation) before it is sleeping */
	const int64_t *ids;         /* the second form: these accounts (at most AGENDA_IDS_MAX) */
	size_t nids;
};
#define AGENDA_IDS_MAX 200
/* One candidate of a rep's agenda as the index holds it. The text is the store's and valid
 * during the callback only; last_touch_at and latest_next_touch may be NULL. */
struct agenda_row {
	int64_t id, open_opps;
	const char *created_at, *last_touch_at, *latest_next_touch;
};
typedef void (*agenda_row_fn)(void *arg, const struct agenda_row *r);
/* The live accounts owner owns and v sees that may be due or sleeping by cut (cut->ids unused):
 * a superset the caller checks with its own rules, read from an index alone (migration 16), in
 * no particular order, each handed to fn as C values (a rep of a large company has ≈ 1,400:
 * built as JSON objects they were a fifth of the agenda's CPU). */
int store_agenda_candidates(struct store *s, const struct viewer *v, int64_t owner,
			    const struct agenda_cut *cut, agenda_row_fn fn, void *arg,
			    struct dm_err *e);
/* The agenda by ranges of an index (SQLite, migration 25: accounts_owner_due). A part of the
 * owner's live accounts: those of one class (AGENDA_PLANNED: with a planned next touch;
 * AGENDA_OPEN: without, with an open opportunity; AGENDA_IDLE: the others) whose key (the
 * planned date, else the last touch, else the creation) is in [lo, hi) (lo NULL: no lower
 * bound), walked in the key's order then the id's; or AGENDA_QUIET_PLANNED: the planned ones
 * whose last touch (else creation) is in [lo, hi), in that order then the id's (migration 28:
 * accounts_owner_quiet_plan). */
enum agenda_part { AGENDA_PLANNED, AGENDA_OPEN, AGENDA_IDLE, AGENDA_QUIET_PLANNED,
		   AGENDA_ANY = 0x100 /* or'ed with a part: whether it has any (store_agenda_count) */ };
struct agenda_range {
	enum agenda_part part;
	const char *lo, *hi;
};
/* One account of a range: key as above (for AGENDA_QUIET_PLANNED, since), since its last touch
 * or else its creation; touched when it has a last touch. Text valid during the call only.
 * Nonzero ends the walk. */
typedef int (*agenda_key_fn)(void *arg, int64_t id, const char *key, const char *since,
			     int touched);
/* 1 when the store answers store_agenda_count and store_agenda_walk (SQLite); 0: the caller
 * reads store_agenda_candidates instead (PostgreSQL). */
int store_agenda_ranges(struct store *s);
/* counts[i]: how many accounts of owner that v sees are in r[i], for i < n; for an r[i] of
 * part | AGENDA_ANY, 1 when there is one and 0 when none (a seek, not a count); of AGENDA_ANY
 * alone, whether owner has a live account at all, seen or not (the agenda reads nothing
 * more when none). */
int store_agenda_count(struct store *s, const struct viewer *v, int64_t owner,
		       const struct agenda_range *r, size_t n, int64_t *counts, struct dm_err *e);
/* The accounts of owner that v sees in r, handed to fn in order until it answers nonzero. */
int store_agenda_walk(struct store *s, const struct viewer *v, int64_t owner,
		      const struct agenda_range *r, agenda_key_fn fn, void *arg,
		      struct dm_err *e);
/* One account of the agenda's page as C values: name NULL when null; contact_id 0 (and
 * contact_name NULL) when it has no such contact. Text valid during the call only. */
typedef void (*agenda_page_fn)(void *arg, int64_t id, const char *name, int64_t contact_id,
			       const char *contact_name);
/* The agenda's page: those of cut->ids (at most AGENDA_IDS_MAX) that are owner's live accounts v
 * sees, with their names and the contact their latest activity named first when it is still a
 * live contact of that account, each handed to fn, in no particular order (as JSON objects the
 * page's 40 rows were a sixth of a rep's agenda). */
int store_agenda_accounts(struct store *s, const struct viewer *v, int64_t owner,
			  const struct agenda_cut *cut, agenda_page_fn fn, void *arg,
			  struct dm_err *e);

/* *yes = 1 when team is within v's reach: any team for admins; for managers their team, the
 * teams they manage, and every team below those. */
int store_team_in_reach(struct store *s, const struct viewer *v, int64_t team, int *yes,
			struct dm_err *e);

/* ---- analytics: named aggregate queries over the records of a scope's owners -------------- */

enum scope_kind { SCOPE_ME, SCOPE_TEAM, SCOPE_COMPANY };

#define AN_MAX_TEAMS 64

struct an_rate {
	const char *stage;
	int64_t rate;
};

struct an_params {
	enum scope_kind scope;
	int64_t user_id;          /* SCOPE_ME */
	int64_t team_id;          /* SCOPE_TEAM: this team and all below it */
	const int64_t *teams;     /* SCOPE_TEAM: those teams' ids, when the caller resolved them
				   * (query "team_subtree"; at most AN_MAX_TEAMS), else NULL */
	size_t nteams;
	char from[TIME_STR_LEN_];  /* the period [from, to) as RFC 3339 UTC instants */
	char to[TIME_STR_LEN_];
	char from_day[11], to_day[11];   /* the same period as dates, to_day inclusive */
	const struct an_rate *rates;  /* the stages' win rates (percent); stages not listed: 0 */
	size_t nrates;
	int64_t n;                /* a number the query needs (minimum touches...) */
	char cutoff[TIME_STR_LEN_];      /* an instant the query needs (sleeping since...) */
};

/* The funnel's sums, as C values: what its four named queries (funnel_open, funnel_closed,
 * funnel_reach, stage_days; sqlbuild.c) answer. A stage those leave out (its count sums to 0)
 * is zeros here, its averages absent (has_* 0). */
#define FUNNEL_STAGES 6   /* the open stages, in order: model_stages' first six (then won, lost) */
struct funnel_closed {
	int64_t count, amount;
	int has_cycle;
	double avg_cycle_days;   /* the summed cycle in days / count, unrounded */
};
struct funnel_sums {
	struct { int64_t count, amount, weighted; } open[FUNNEL_STAGES];   /* open now */
	struct funnel_closed won, lost;                       /* closed in the period */
	int64_t reach[8];   /* created in the period, by the furthest rank reached (0 only lost,
			     * 1 interest .. 6 use, 7 won; a rank above 7 counts as 7) */
	struct { int64_t stays; int has_avg; double avg_days; } stays[FUNNEL_STAGES];
				/* stays in each stage that ended in the period */
};
/* Fill out for the scope and period of p. SQLite reads its statements prepared once with bound
 * values and sums the rows in C; a backend without its own (PostgreSQL) runs the four named
 * queries. */
int store_funnel(struct store *s, const struct an_params *p, struct funnel_sums *out,
		 struct dm_err *e);

/* Run the named aggregate query; rows as objects keyed by column. Names and columns are
 * documented in sqlite_analytics.c beside each query. DM_EINVAL for an unknown name. */
int store_analytics(struct store *s, const char *name, const struct an_params *p, json_t **rows,
		    struct dm_err *e);

/* ---- users, credentials and sessions -------------------------------------------------------- */

struct store_cred {
	int64_t user_id;
	char password_hash[256];
	int active;
	int archived;
};

/* Look up a user by username (case-insensitive). DM_ENOTFOUND when none. */
int store_cred_get(struct store *s, const char *username, struct store_cred *out,
		   struct dm_err *e);
/* Inside store_write only. */
int store_cred_set(struct store *s, int64_t user_id, const char *password_hash,
		   struct dm_err *e);

struct store_session {
	int64_t user_id;
	char csrf[65];
	int64_t created_ms, seen_ms;
	struct viewer viewer;         /* the user's role and team, read with the session */
	int active;
};

/* Inside store_write only. token_hash is hex; the token itself is never stored. */
int store_session_put(struct store *s, const char *token_hash, int64_t user_id,
		      const char *csrf, int64_t now_ms, struct dm_err *e);
/* Read a session with its user. DM_ENOTFOUND when none. */
int store_session_get(struct store *s, const char *token_hash, struct store_session *out,
		      struct dm_err *e);
/* Inside store_write only. */
int store_session_seen(struct store *s, const char *token_hash, int64_t now_ms,
		       struct dm_err *e);
int store_session_delete(struct store *s, const char *token_hash, struct dm_err *e);
int store_session_delete_user(struct store *s, int64_t user_id, struct dm_err *e);
/* Inside store_write only: drop sessions not seen since idle_before or created before
 * absolute_before. */
int store_session_expire(struct store *s, int64_t idle_before, int64_t absolute_before,
			 struct dm_err *e);

/* ---- sign-in throttling: failures counted per key (a username, an address) in a window, shared
 * by every server on the database ----------------------------------------------------------- */

/* The failures of key in its current window and when that window started (0, 0: none). */
int store_throttle_get(struct store *s, const char *key, int64_t *fails, int64_t *since_ms,
		       struct dm_err *e);
/* Inside store_write only: one more failure of key at now_ms; a window older than window_ms
 * starts again at now_ms (windows that old are dropped for every key). */
int store_throttle_fail(struct store *s, const char *key, int64_t now_ms, int64_t window_ms,
			struct dm_err *e);
/* Inside store_write only: forget key's failures. */
int store_throttle_clear(struct store *s, const char *key, struct dm_err *e);

/* ---- jobs: imports that outlive their request (SPEC §9), visible from every server ---------- */

/* Inside store_write only: a running import job of user_id into object (a kind's plural), of
 * bytes_total bytes; *id names it on every server. */
int store_job_add(struct store *s, const char *object, int64_t user_id, int64_t bytes_total,
		  int64_t *id, struct dm_err *e);
/* Inside store_write only: the job's state ("running", "done", "failed"), progress and, once
 * ended, its report (JSON, may be NULL) or error (may be NULL). */
int store_job_set(struct store *s, int64_t id, const char *state, int64_t rows, int64_t bytes,
		  json_t *report, const char *error, struct dm_err *e);
/* {id, kind, object, user_id, state, rows_done, bytes_done, bytes_total, report, error} (a new
 * reference); DM_ENOTFOUND when there is no such job. No visibility: callers check user_id. */
int store_job_get(struct store *s, int64_t id, json_t **job, struct dm_err *e);

/* Number of live users (0 means a fresh database). */
int store_count(struct store *s, const struct kind *k, int64_t *n, struct dm_err *e);

/* ---- bulk loads and backups (import, export, backup: SPEC §9) --------------------------------- */

/* Inside store_write only. Insert rec like store_insert, for bulk loads: one statement per kind
 * prepared once and reused, and one audit row per record (action "import", field null, the whole
 * record as the new value) instead of one per field. audit: that value's JSON text when the
 * caller has it already (jsontext of rec exactly, made on another thread), else NULL. */
int store_import_insert(struct store *s, const struct kind *k, json_t *rec, int64_t actor,
			const char *audit, size_t audit_len, int64_t *id, struct dm_err *e);
/* Inside store_write only. Bracket a bulk load of kind k (an import, the generator): between
 * the two calls the store may defer the work of secondary structures to the end, where it is
 * done once for all the rows (SQLite: for accounts, the name index and migration 17's segment
 * sums, whose insert triggers are taken away meanwhile — the sums are also caught up before any
 * store_update or store_set_archived of an account —, and the non-unique indexes once the load
 * has inserted more accounts than the table held before it; for activities, what their three insert
 * triggers do (touch facts of the accounts, the segments' and the activity figures' tables),
 * done set-wise at the end with the same result; PostgreSQL: nothing, pg_trgm's index and the
 * triggers work row by row). Between the two, insert records of kind k only. Every begin needs its end
 * in the same store_write callback (a callback that returns without it fails, rolled back); a
 * callback that fails rolls both back with its rows. */
int store_bulk_begin(struct store *s, const struct kind *k, struct dm_err *e);
int store_bulk_end(struct store *s, const struct kind *k, struct dm_err *e);
/* Inside store_write only. Let a bulk load keep up to bytes of the database in the writer's
 * memory from now until the store is closed, or until called again (0: back to the default).
 * For loads whose rows land at random places of large indexes and maintained tables (the
 * generator's activities): their pages stay in memory between rows and transactions instead of
 * being written out and read back. SQLite: the writer connection's page cache (cache_size);
 * PostgreSQL: nothing (the server's shared_buffers decide). The caller bounds bytes by the
 * machine's memory. */
int store_bulk_memory(struct store *s, int64_t bytes, struct dm_err *e);
/* A consistent copy of the live database in the new file path (which must not exist), taken
 * while the store keeps serving (SQLite: the online backup API under one read snapshot, a
 * SQLite file; PostgreSQL: pg_dump --format=custom, for pg_restore; DM_EUNAVAILABLE with the
 * reason when pg_dump is not installed). */
int store_backup(struct store *s, const char *path, struct dm_err *e);
/* Check a backup file before it is restored: it must open, pass an integrity check and have a
 * schema version this binary knows (1..store_schema_latest()). *version receives it. */
int store_file_check(const char *path, int *version, struct dm_err *e);
/* Replace the database at url with the checked copy at path (no server may be using url).
 * PostgreSQL: DM_EPARAM saying to use pg_restore. */
int store_file_restore(const char *url, const char *path, struct dm_err *e);

#endif
