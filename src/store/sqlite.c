/* sqlite.c — the SQLite backend: WAL, synchronous=FULL, one read connection per thread, one
 * writer thread that group-commits the write callbacks of concurrent requests. */
#include "store_int.h"
#include "sqlite_schema.h"
#include "sqlbuild.h"
#include "sqlite_bigram.h"
#include "sqlite_walbuf.h"
#include "../base/buf.h"
#include "../base/jsontext.h"
#include "../base/log.h"
#include "../base/text.h"
#include "../base/timeutil.h"
#include "../base/xmalloc.h"
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>
#include "../base/banned.h"

#define STMT_CACHE 256
#define BATCH_MAX 512

/* ---- connections and their statement caches ------------------------------------------------ */

struct conn {
	sqlite3 *db;
	const char *failure;      /* why storage refused the last failed write (disk full...), or NULL */
	struct {
		char *sql;
		sqlite3_stmt *st;
	} cache[STMT_CACHE];
	/* stmt_fixed's memo: statements of SQL texts that live as long as the program, found by
	 * the text's address (no hashing of the text); entries point into cache[]. */
	struct {
		const char *sql;
		sqlite3_stmt *st;
	} fixed[32];
	/* list_keyed's statement of a row by id, outside the cache: it runs while the list's
	 * keys' statement is open, which a cache eviction must never finalize */
	struct {
		char *sql;
		sqlite3_stmt *st;
	} row_by_id;
};

struct job {
	store_write_fn fn;
	void *arg;
	int rc;
	sem_t done;               /* posted by the writer when the job's transaction has ended: one
				   * waiter woken per job (a shared condition woke every waiting
				   * thread at every commit) */
	const char *why;          /* set by the writer when it failed the job (a storage failure) */
	struct job *next;
};

/* An index a bulk load dropped (bulk_indexes_off): what creates it again, and its row of
 * sqlite_stat1, which DROP INDEX deletes and CREATE INDEX does not write (NULL: none). */
struct bulk_index {
	char *name, *sql, *stat;
};

#define WAL_HDR 48   /* the WAL index header's first copy (sqlite.org/walformat.html) */

struct sq {
	struct store *store;      /* the public handle, passed to write callbacks */
	char *path;
	pthread_key_t key;        /* this thread's read connection */
	pthread_mutex_t mu;
	pthread_cond_t wake;
	struct job *head, *tail;
	int stop;
	pthread_t writer;
	int writer_started;
	struct conn *wconn;
	/* the checkpoints, on a thread of their own (wal_hook, ckpt_main) */
	struct conn *cconn;
	pthread_t ckpt;
	int ckpt_started;
	pthread_mutex_t ckpt_mu;
	pthread_cond_t ckpt_wake;
	int ckpt_want, ckpt_stop, ckpt_busy;   /* under ckpt_mu */
	int ckpt_mark;              /* writer thread only: the WAL's size that wakes the thread next */
	int ckpt_last;              /* writer thread only: the WAL's size after the last commit */
#define SETTING_CACHE 16
	struct {
		char key[48];
		json_t *value;    /* NULL: known to be unset */
		int used;
	} setting_cache[SETTING_CACHE];
	pthread_mutex_t setting_mu;
	int settings_dirty;       /* writer thread only */
	struct {                  /* writer thread only: a bulk load (sq_bulk) */
		int on;           /* between store_bulk_begin and store_bulk_end, in this callback */
		const struct kind *k;   /* of accounts or of activities */
		char *sql[3];     /* the insert triggers dropped for it (bulk_triggers,
				   * bulk_activity_triggers), to create again at its end */
		int64_t seg_from; /* accounts: the first not yet in agg_segments; activities: the
				   * first of the load */
		int64_t rows;     /* accounts: store_import_insert calls of the load so far */
		int64_t idx_at;   /* accounts: past this many, the secondary indexes go away */
		int idx_tried;    /* accounts: they went away (or were tried: once per load) */
		struct bulk_index *idx;   /* those dropped, to create again at the end */
		size_t nidx;
	} bulk;
	struct {                  /* writer thread only: deferred activity sums (defer_start) */
		int ok;           /* the schema has activity_defer (migration 23) */
		int batch;        /* inside run_batch's transaction: a flush before COMMIT is due */
		int on;           /* a row of activity_defer is in: the insert triggers are quiet */
		int64_t from;     /* the first activity whose sums are pending */
		int hold;         /* a read that does not depend on them (sq_account_access) */
	} defer;
	struct sess_cache *sess;  /* sessions as read, by token hash (sq_session_get) */
	struct {                  /* the sign-in generation as of the writer's last commit (gen_publish) */
		pthread_mutex_t mu;
		const volatile unsigned char *shm;   /* the WAL index, as the writer maps it */
		int valid;
		int off;                     /* writer thread only: no WAL index to read */
		unsigned char hdr[WAL_HDR];  /* the WAL index's header in the state gen was read in */
		int64_t gen;
	} gp;
	struct import_row {       /* writer thread only: what store_import_insert reuses per row */
		const struct kind *k;
		const struct field *cols[64];   /* the kind's columns an import binds, in order */
		size_t ncols;
		int64_t ms;                     /* the time last formatted, and its text */
		char now[TIME_STR_LEN];
		struct buf json;                /* a JSON value's text (audit record, JSON columns) */
	} imp;
};

#define SQLITE_HEAP_SOFT_LIMIT (256LL << 20)

/* Set on the writer thread while a callback runs: store calls then use the writer connection. */
static __thread struct sq *tls_writing;

static void conn_close(struct conn *c)
{
	if (!c)
		return;
	for (int i = 0; i < STMT_CACHE; i++) {
		sqlite3_finalize(c->cache[i].st);
		free(c->cache[i].sql);
	}
	sqlite3_finalize(c->row_by_id.st);
	free(c->row_by_id.sql);
	sqlite3_close_v2(c->db);
	free(c);
}

static void conn_destroy(void *p)
{
	conn_close(p);
}

static int conn_open(const char *path, struct conn **out, struct dm_err *e)
{
	struct conn *c = xcalloc(1, sizeof *c);
	*out = NULL;
	/* sqlite_walbuf.c: a commit's WAL frames in one write, not two per page */
	int rc = sqlite3_open_v2(path, &c->db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
				 sqlite_walbuf_vfs());
	if (rc != SQLITE_OK) {
		dm_fail(e, DM_EUNAVAILABLE, "db", "cannot open database %s: %s", path,
			c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
		conn_close(c);
		return DM_EUNAVAILABLE;
	}
	/* busy_timeout first: with the order reversed, threads opening at once saw SQLITE_BUSY. */
	sqlite3_busy_timeout(c->db, 10000);
	if (sqlite_bigram_register(c->db) != SQLITE_OK) {
		dm_fail(e, DM_EUNAVAILABLE, "db", "cannot set up %s: the name index tokenizer: %s",
			path, sqlite3_errmsg(c->db));
		conn_close(c);
		return DM_EUNAVAILABLE;
	}
	sqlite3_extended_result_codes(c->db, 1);
	char *msg = NULL;
	if (sqlite3_exec(c->db, "PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL;", NULL, NULL,
			 &msg) != SQLITE_OK) {
		dm_fail(e, DM_EUNAVAILABLE, "db", "cannot set up %s: %s", path, msg ? msg : "?");
		sqlite3_free(msg);
		conn_close(c);
		return DM_EUNAVAILABLE;
	}
	*out = c;
	return 0;
}

/* A statement's text (a few KB for the agenda's counts) hashed eight bytes a step: FNV-1a's
 * byte a step over ≈ 7 KB of SQL a request was ≈ 2.5 % of a rep's agenda. */
static uint32_t hash_sql(const char *s)
{
	size_t n = strlen(s), i = 0;
	uint64_t h = 0x9e3779b97f4a7c15u ^ n, w;
	for (; i + 8 <= n; i += 8) {
		memcpy(&w, s + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdu;
		h ^= h >> 32;
	}
	w = 0;
	memcpy(&w, s + i, n - i);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53u;
	h ^= h >> 29;
	return (uint32_t)h;
}

/* A prepared statement for sql on c, from the cache when possible. The caller resets it with
 * stmt_done(). NULL on error (e filled). */
static sqlite3_stmt *stmt_get(struct conn *c, const char *sql, struct dm_err *e)
{
	uint32_t h = hash_sql(sql);
	for (int probe = 0; probe < 8; probe++) {
		int i = (int)((h + (uint32_t)probe) % STMT_CACHE);
		if (c->cache[i].sql && !strcmp(c->cache[i].sql, sql))
			return c->cache[i].st;
		if (!c->cache[i].sql) {
			sqlite3_stmt *st = NULL;
			if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL)) {
				dm_fail(e, DM_EINTERNAL, NULL, "prepare failed: %s", sqlite3_errmsg(c->db));
				log_error("prepare failed: %s: %s", sqlite3_errmsg(c->db), sql);
				return NULL;
			}
			c->cache[i].sql = xstrdup(sql);
			c->cache[i].st = st;
			return st;
		}
	}
	/* The neighbourhood is full: evict the home slot. */
	int i = (int)(h % STMT_CACHE);
	for (size_t f = 0; f < sizeof c->fixed / sizeof c->fixed[0]; f++)
		if (c->fixed[f].st == c->cache[i].st) {
			c->fixed[f].sql = NULL;
			c->fixed[f].st = NULL;
		}
	sqlite3_finalize(c->cache[i].st);
	free(c->cache[i].sql);
	c->cache[i].sql = NULL;
	c->cache[i].st = NULL;
	return stmt_get(c, sql, e);
}

/* stmt_get for SQL whose text never changes at its address (literals, import_sql's texts):
 * the statements of a bulk load's every row, without hashing a long text each time. */
static sqlite3_stmt *stmt_fixed(struct conn *c, const char *sql, struct dm_err *e)
{
	size_t f = ((uintptr_t)sql >> 3) % (sizeof c->fixed / sizeof c->fixed[0]);
	if (c->fixed[f].sql == sql)
		return c->fixed[f].st;
	sqlite3_stmt *st = stmt_get(c, sql, e);
	if (st) {
		c->fixed[f].sql = sql;
		c->fixed[f].st = st;
	}
	return st;
}

static void stmt_done(sqlite3_stmt *st)
{
	if (st) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
}

/* Run one cached statement that returns no rows (BEGIN, COMMIT). */
static int step_simple(struct conn *c, const char *sql)
{
	struct dm_err e;
	sqlite3_stmt *st = stmt_get(c, sql, &e);
	if (!st)
		return SQLITE_ERROR;
	int rc = sqlite3_step(st);
	stmt_done(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int defer_flush(struct sq *sq, struct dm_err *e);

static struct conn *conn_get(struct sq *q, struct dm_err *e)
{
	if (tls_writing == q)
		return defer_flush(q, e) ? NULL : q->wconn;
	struct conn *c = pthread_getspecific(q->key);
	if (!c) {
		if (conn_open(q->path, &c, e))
			return NULL;
		/* A read connection's page cache: SQLite's default 2 MB held less than one rep's
		 * agenda touches (its page of accounts, the warnings' opportunities, their accounts
		 * and quotes), so every agenda read them again with pread. 8 MB took ≈ a fifth off
		 * the agenda's CPU at full scale (fix 23, sixteen HTTP threads). 32 MB since fix 54:
		 * a manager's lists of the reps of a department (a page of 50 rows each, spread over
		 * the file) did not fit 8 MB, and each read its rows' pages again (≈ a quarter of its
		 * CPU); with two HTTP threads per core (fix 51) the four of a two-core machine reach
		 * 128 MB at most, as sixteen of 8 MB did. The slow reads' and the write pool's
		 * threads read too: sq_open's soft heap limit bounds them all. */
		step_simple(c, "PRAGMA cache_size = -32768");
		pthread_setspecific(q->key, c);
	}
	return c;
}

static int in_writer(struct sq *q, struct dm_err *e)
{
	if (tls_writing != q)
		return dm_fail(e, DM_EINTERNAL, NULL, "store write outside store_write");
	return 0;
}

/* On the writer's thread, with the sums of the activities inserted so far in (defer_flush):
 * every write but an activity's insert, and every read (conn_get), sees the tables as the
 * triggers would have left them. */
static int in_write(struct sq *q, struct dm_err *e)
{
	return in_writer(q, e) || defer_flush(q, e) ? e->code : 0;
}

static int bulk_flush(struct sq *sq, struct dm_err *e);

static void qb_bind(struct qb *q, sqlite3_stmt *st)
{
	for (int i = 0; i < q->n; i++) {
		switch (q->b[i].type) {
		case QB_INT: sqlite3_bind_int64(st, i + 1, q->b[i].i); break;
		case QB_REAL: sqlite3_bind_double(st, i + 1, q->b[i].d); break;
		case QB_TEXT: sqlite3_bind_text(st, i + 1, q->b[i].s, -1, SQLITE_TRANSIENT); break;
		default: sqlite3_bind_null(st, i + 1); break;
		}
	}
}

static sqlite3_stmt *qb_prepare(struct qb *q, struct conn *c, struct dm_err *e)
{
	sqlite3_stmt *st = stmt_get(c, q->sql.data, e);
	if (st)
		qb_bind(q, st);
	return st;
}

/* The words for a storage failure: the file system refuses the write, not the request. NULL for
 * any other result. */
static const char *storage_failure(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_FULL:
		return "the disk holding the database is full: changes cannot be saved until space is "
		       "freed (reads still work)";
	case SQLITE_READONLY:
		return "the database is read-only: changes cannot be saved (reads still work)";
	case SQLITE_IOERR:
		return "the database could not be written (input/output error): changes cannot be "
		       "saved (reads still work)";
	case SQLITE_CANTOPEN:
		return "the database files cannot be opened for writing: changes cannot be saved "
		       "(reads still work)";
	}
	return NULL;
}

static int step_error(struct conn *c, int rc, struct dm_err *e)
{
	const char *why = storage_failure(rc);
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		return dm_fail(e, DM_EUNAVAILABLE, NULL, "the database is busy; try again");
	log_error("sqlite: %s (%d)", sqlite3_errmsg(c->db), rc);
	if (why) {
		c->failure = why;
		return dm_fail(e, DM_EUNAVAILABLE, NULL, "%s", why);
	}
	return dm_fail(e, DM_EINTERNAL, NULL, "database error");
}

/* Step a write statement once and release it: 0, or its failure as the callers answer it (a
 * taken unique key DM_EDUPLICATE, a missing referenced record DM_ENOTFOUND). */
static int write_step(struct conn *c, sqlite3_stmt *st, struct dm_err *e)
{
	int rc = sqlite3_step(st);
	int ext = sqlite3_extended_errcode(c->db);
	stmt_done(st);
	if (rc == SQLITE_DONE || rc == SQLITE_ROW)
		return 0;
	if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
		return dm_fail(e, DM_EDUPLICATE, NULL, "duplicate");
	if (ext == SQLITE_CONSTRAINT_FOREIGNKEY)
		return dm_fail(e, DM_ENOTFOUND, NULL, "a referenced record does not exist");
	return step_error(c, rc, e);
}

/* Run a statement that returns no rows. */
static int qb_exec(struct qb *q, struct conn *c, struct dm_err *e)
{
	sqlite3_stmt *st = qb_prepare(q, c, e);
	if (!st)
		return e->code;
	return write_step(c, st, e);
}

/* Run a write statement on the writer connection (inside store_write) and release it. */
static int exec_run(struct sq *sq, struct qb *q, struct dm_err *e)
{
	int rc = qb_exec(q, sq->wconn, e);
	qb_release(q);
	return rc;
}

static json_t *column_value(sqlite3_stmt *st, int col, const struct field *f)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return json_null();
	switch (f->type) {
	case FT_INT:
	case FT_REF:
		return json_integer(sqlite3_column_int64(st, col));
	case FT_BOOL:
		return json_boolean(sqlite3_column_int64(st, col));
	case FT_JSON: {
		const char *t = (const char *)sqlite3_column_text(st, col);
		return jsontext_column(t, (size_t)sqlite3_column_bytes(st, col));
	}
	default:
		return json_string((const char *)sqlite3_column_text(st, col));
	}
}

static json_t *row_only(sqlite3_stmt *st, const struct kind *k, const char *const *only)
{
	json_t *o = json_object();
	int col = 0;
	for (size_t i = 0; i < k->nfields; i++) {
		const struct field *f = &k->fields[i];
		if (!model_query_selects(f, only))
			continue;
		/* the field's name: static, valid UTF-8 */
		json_object_set_new_nocheck(o, f->name, column_value(st, col++, f));
	}
	return o;
}

static json_t *row_to_record(sqlite3_stmt *st, const struct kind *k)
{
	return row_only(st, k, NULL);
}

/* ---- records -------------------------------------------------------------------------------- */

/* The SQL of a record by id (sq_get): the select list, the id, the visibility of v. */
static void get_sql(struct qb *q, const struct kind *k, const struct viewer *v, int64_t id,
		    int include_archived)
{
	qb_init(q, SQL_SQLITE);
	q->point = 1;
	select_list(q, k);
	qb_sql(q, " WHERE t.id = ");
	qb_int(q, id);
	if (!include_archived)
		qb_sql(q, " AND t.archived_at IS NULL");
	qb_sql(q, " AND ");
	vis_clause(q, k, v);
}

/* get_sql's text depends on the kind, include_archived and the viewer's role only; its values
 * are the id, the viewer's user and team. Building the text (the select list's ≈ 30 columns and
 * their derived subqueries, the visibility clause) and hashing it to find the statement was
 * ≈ 8 % of a GET by id: each (kind, archived, role) is built once, with its values' sources
 * found by building it twice with two sets of probe values (a text that differed between them,
 * or a value that is none of them, is not memoised: sq_get then builds as before). */
enum get_src { GS_ID, GS_USER, GS_TEAM };
#define GET_ROLES 5   /* enum role, and no viewer */
#define GET_KINDS 16
static struct get_memo {
	int state;                 /* 0 not tried, 1 memoised, -1 not memoisable */
	char *sql;                 /* lives as long as the program: stmt_fixed finds it by address */
	int n;
	unsigned char src[16];
} get_memos[GET_KINDS][2][GET_ROLES];
static pthread_mutex_t get_memo_mu = PTHREAD_MUTEX_INITIALIZER;

static int get_memo_build(struct get_memo *m, const struct kind *k, const struct viewer *v,
			  int include_archived)
{
	static const int64_t probe[2][3] = {
		{ 7340032000000000011, 7340032000000000013, 7340032000000000017 },
		{ 7340032000000000019, 7340032000000000023, 7340032000000000029 },
	};
	struct qb q[2];
	int ok = 1;
	for (int t = 0; t < 2; t++) {
		struct viewer pv;
		if (v) {
			pv = *v;
			pv.user_id = probe[t][GS_USER];
			pv.team_id = probe[t][GS_TEAM];
		}
		get_sql(&q[t], k, v ? &pv : NULL, probe[t][GS_ID], include_archived);
	}
	if (strcmp(q[0].sql.data, q[1].sql.data) || q[0].n != q[1].n ||
	    q[0].n > (int)sizeof m->src)
		ok = 0;
	for (int i = 0; ok && i < q[0].n; i++) {
		int found = 0;
		for (int g = GS_ID; g <= GS_TEAM && !found; g++)
			if (q[0].b[i].type == QB_INT && q[1].b[i].type == QB_INT &&
			    q[0].b[i].i == probe[0][g] && q[1].b[i].i == probe[1][g]) {
				m->src[i] = (unsigned char)g;
				found = 1;
			}
		ok = found;
	}
	if (ok) {
		m->sql = xstrdup(q[0].sql.data);
		m->n = q[0].n;
	}
	qb_release(&q[0]);
	qb_release(&q[1]);
	return ok ? 1 : -1;
}

/* The memo of (k, include_archived, v's role), or NULL when it has none. */
static const struct get_memo *get_memo(const struct kind *k, const struct viewer *v,
				       int include_archived)
{
	size_t ki = 0;
	while (model_kinds[ki] && model_kinds[ki] != k)
		ki++;
	int r = v ? (int)v->role : GET_ROLES - 1;
	if (!model_kinds[ki] || ki >= GET_KINDS || r < 0 || r >= GET_ROLES)
		return NULL;
	struct get_memo *m = &get_memos[ki][include_archived ? 1 : 0][r];
	int state = __atomic_load_n(&m->state, __ATOMIC_ACQUIRE);
	if (!state) {
		pthread_mutex_lock(&get_memo_mu);
		if (!(state = m->state)) {
			state = get_memo_build(m, k, v, include_archived);
			__atomic_store_n(&m->state, state, __ATOMIC_RELEASE);
		}
		pthread_mutex_unlock(&get_memo_mu);
	}
	return state == 1 ? m : NULL;
}

/* The fields of a row handed to a store_row_fn: the kind's selected ones (model_query_selects
 * with only), in its order; at most STORE_ROW_MAX. */
static size_t row_fields(const struct kind *k, const char *const *only,
			 const struct field *sel[STORE_ROW_MAX])
{
	size_t n = 0;
	for (size_t i = 0; i < k->nfields && n < STORE_ROW_MAX; i++)
		if (model_query_selects(&k->fields[i], only))
			sel[n++] = &k->fields[i];
	return n;
}

/* The row's values as store_row_fn wants them, of the fields row_fields found. Each column
 * through one sqlite3_column_value and the value interfaces: the column API takes the statement's
 * checks and sqlite3ApiExit at every call, and the four calls a column of the list's ≈ 1,550
 * columns were ≈ 17 % of its CPU. The value is the statement's own register, valid until the next
 * step as the column API's pointers are; it is read here on the connection's one thread (a
 * connection per thread), which is what makes the unprotected value safe to read. */
static void row_values(sqlite3_stmt *st, const struct field *const *sel, size_t nsel,
		       struct store_row *row)
{
	for (size_t col = 0; col < nsel; col++) {
		const struct field *f = sel[col];
		struct store_value *v = &row->v[col];
		sqlite3_value *m = sqlite3_column_value(st, (int)col);
		v->i = 0;
		v->s = NULL;
		v->n = 0;
		v->null = sqlite3_value_type(m) == SQLITE_NULL;
		if (v->null)
			continue;
		if (f->type == FT_INT || f->type == FT_REF || f->type == FT_BOOL) {
			v->i = sqlite3_value_int64(m);
		} else {
			/* NULL only when out of memory (the text of a number or blob is made) */
			v->s = (const char *)sqlite3_value_text(m);
			v->null = !v->s;
			if (v->s)
				v->n = (size_t)sqlite3_value_bytes(m);
		}
	}
	row->n = nsel;
	row->rev = 0;
}

/* A record by id (sq_get, sq_get_row): as an object (rec) or handed to fn. */
static int get_run(struct sq *sq, const struct kind *k, const struct viewer *v, int64_t id,
		   int include_archived, json_t **rec, store_row_fn fn, void *arg,
		   struct dm_err *e)
{
	struct conn *c = conn_get(sq, e);
	struct qb q;
	int rc = 0, built = 0;
	sqlite3_stmt *st;
	if (rec)
		*rec = NULL;
	if (!c)
		return e->code;
	const struct get_memo *m = get_memo(k, v, include_archived);
	if (m) {
		if ((st = stmt_fixed(c, m->sql, e)))
			for (int i = 0; i < m->n; i++)
				sqlite3_bind_int64(st, i + 1, m->src[i] == GS_ID ? id :
						   m->src[i] == GS_USER ? v->user_id : v->team_id);
	} else {
		get_sql(&q, k, v, id, include_archived);
		built = 1;
		st = qb_prepare(&q, c, e);
	}
	if (!st) {
		rc = e->code;
		goto out;
	}
	int s = sqlite3_step(st);
	if (s == SQLITE_ROW && rec) {
		*rec = row_to_record(st, k);
	} else if (s == SQLITE_ROW) {
		const struct field *sel[STORE_ROW_MAX];
		struct store_row row;
		row_values(st, sel, row_fields(k, NULL, sel), &row);
		rc = fn(arg, &row);
	} else if (s == SQLITE_DONE) {
		rc = dm_fail(e, DM_ENOTFOUND, NULL, "%s %lld not found", k->name, (long long)id);
	} else {
		rc = step_error(c, s, e);
	}
	stmt_done(st);
out:
	if (built)
		qb_release(&q);
	return rc;
}

static int sq_get(void *impl, const struct kind *k, const struct viewer *v, int64_t id,
		  int include_archived, json_t **rec, struct dm_err *e)
{
	return get_run(impl, k, v, id, include_archived, rec, NULL, NULL, e);
}

static int sq_get_row(void *impl, const struct kind *k, const struct viewer *v, int64_t id,
		      int include_archived, store_row_fn fn, void *arg, struct dm_err *e)
{
	return get_run(impl, k, v, id, include_archived, NULL, fn, arg, e);
}

/* The one character pair of an account name search to look up (sqlbuild.c name_search). The
 * index answers a query of n characters as the phrase of its n - 1 pairs, and FTS5 reads every
 * pair's entries for it: in 宏图机械, 机械 is in 100,000 names of the full-scale company (the
 * phrase ≈ 345 µs; 宏图 alone, in 40 names, ≈ 16 µs). The pairs are probed in order, each
 * reading at most NAME_RARE entries (at most NAME_PROBES pairs); the first found in fewer than
 * NAME_RARE names is looked up alone, and instr keeps the answer the substring's. NULL (the
 * phrase, as before) when none is rare, for fewer than three characters, or on an error.
 * Pairs split as the tokenizer splits them (sqlite_bigram.c). */
#define NAME_RARE 64
#define NAME_PROBES 8
static char *name_rare_pair(struct conn *c, const char *sub)
{
	static const char sql[] = "SELECT count(*) FROM (SELECT rowid FROM accounts_name_fts "
				  "WHERE accounts_name_fts MATCH ?1 LIMIT 64)";
	const unsigned char *s = (const unsigned char *)sub;
	size_t n = strlen(sub), prev = 0, i = 0;
	int probes = 0, have_prev = 0;
	char *pair = NULL;
	struct dm_err e;
	while (i < n && !pair && probes < NAME_PROBES) {
		size_t len = s[i] < 0x80 || s[i] < 0xC0 ? 1 : s[i] < 0xE0 ? 2 : s[i] < 0xF0 ? 3 : 4;
		if (len > n - i)
			len = n - i;
		if (have_prev && (prev || i + len < n)) {   /* the whole query is one pair: phrase */
			sqlite3_stmt *st = stmt_fixed(c, sql, &e);
			if (!st)
				return NULL;
			char *cand = xstrndup(sub + prev, i + len - prev);
			char *phrase = sql_fts_phrase(cand);
			probes++;
			sqlite3_bind_text(st, 1, phrase, -1, SQLITE_STATIC);
			if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) < NAME_RARE)
				pair = cand;
			else
				free(cand);
			stmt_done(st);
			free(phrase);
		}
		have_prev = 1;
		prev = i;
		i += len;
	}
	return pair;
}

/* A list of accounts with a probe (store_query): the page's ids and revisions first, read from
 * the index alone where it holds them (migration 29: an owner's accounts by last touch), each
 * handed to the probe; a row the probe does not have is then read by id, its columns and its
 * revision, and handed to fn, in the page's order. The keys' statement stays open meanwhile,
 * so every read is of its snapshot. A rep's list of 50 whose texts the memo holds reads 51
 * index entries instead of 51 rows of ≈ 30 columns (≈ 40 % of its CPU); a manager's, rows
 * cold in the CPU's caches (fix 59). */
static int list_keyed(struct conn *c, const struct store_query *sqy, store_row_fn fn, void *arg,
		      struct dm_err *e)
{
	struct qb q, r;
	struct store_row *row = NULL;
	sqlite3_stmt *st = NULL;
	int rc = 0, s = SQLITE_DONE;
	qb_init(&q, SQL_SQLITE);
	qb_init(&r, SQL_SQLITE);
	sql_list_keys(&q, sqy);
	sql_row_by_id(&r, sqy);
	if (!c->row_by_id.sql || strcmp(c->row_by_id.sql, r.sql.data)) {
		sqlite3_finalize(c->row_by_id.st);
		free(c->row_by_id.sql);
		c->row_by_id.sql = NULL;
		c->row_by_id.st = NULL;
		if (sqlite3_prepare_v3(c->db, r.sql.data, -1, SQLITE_PREPARE_PERSISTENT,
				       &c->row_by_id.st, NULL)) {
			rc = dm_fail(e, DM_EINTERNAL, NULL, "prepare failed: %s",
				     sqlite3_errmsg(c->db));
			goto out;
		}
		c->row_by_id.sql = xstrdup(r.sql.data);
	}
	sqlite3_stmt *one = c->row_by_id.st;
	qb_bind(&r, one);
	if (!(st = qb_prepare(&q, c, e))) {
		rc = e->code;
		goto out;
	}
	row = xmalloc(sizeof *row);
	const struct field *sel[STORE_ROW_MAX];
	size_t nsel = row_fields(sqy->kind, sqy->only, sel);
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		if ((rc = sqy->probe(arg, id, sqlite3_column_int64(st, 1))) == STORE_PROBE_HAVE) {
			rc = 0;
			continue;
		}
		if (rc)
			break;
		sqlite3_bind_int64(one, r.n, id);
		int s1 = sqlite3_step(one);
		if (s1 == SQLITE_ROW) {
			row_values(one, sel, nsel, row);
			row->rev = sqlite3_column_int64(one, (int)nsel);
			rc = fn(arg, row);
		} else if (s1 != SQLITE_DONE) {   /* DONE: none, which one snapshot cannot give */
			rc = step_error(c, s1, e);
		}
		sqlite3_reset(one);
		if (rc)
			break;
	}
	if (!rc && s != SQLITE_DONE)
		rc = step_error(c, s, e);
out:
	stmt_done(st);
	if (c->row_by_id.st)
		sqlite3_clear_bindings(c->row_by_id.st);
	free(row);
	qb_release(&q);
	qb_release(&r);
	return rc;
}

/* The list's statement (sq_list, sq_list_rows): the name's rare pair chosen first. */
static int list_run(struct sq *sq, const struct store_query *sqy, json_t **items,
		    store_row_fn fn, void *arg, struct dm_err *e)
{
	const struct kind *k = sqy->kind;
	struct conn *c = conn_get(sq, e);
	struct qb q;
	struct store_query named;
	char *pair = NULL;
	int rc = 0;
	if (items)
		*items = NULL;
	if (!c)
		return e->code;
	if (k == &kind_account && sqy->name_sub && (pair = name_rare_pair(c, sqy->name_sub))) {
		named = *sqy;
		named.name_fts = pair;
		sqy = &named;
	}
	if (fn && sqy->probe && k == &kind_account) {
		rc = list_keyed(c, sqy, fn, arg, e);
		free(pair);
		return rc;
	}
	qb_init(&q, SQL_SQLITE);
	sql_list(&q, sqy);
	sqlite3_stmt *st = qb_prepare(&q, c, e);
	if (!st) {
		rc = e->code;
		goto out;
	}
	json_t *arr = items ? json_array() : NULL;
	struct store_row *row = fn ? xmalloc(sizeof *row) : NULL;
	/* the row's fields, found once (model_query_selects compares names with only's) */
	const struct field *sel[STORE_ROW_MAX];
	size_t nsel = fn ? row_fields(k, sqy->only, sel) : 0;
	int s;
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		if (arr) {
			json_array_append_new(arr, row_only(st, k, sqy->only));
			continue;
		}
		row_values(st, sel, nsel, row);
		if ((rc = fn(arg, row)))
			break;
	}
	free(row);
	if (rc) {
	} else if (s != SQLITE_DONE) {
		json_decref(arr);
		rc = step_error(c, s, e);
	} else if (items) {
		*items = arr;
	}
	stmt_done(st);
out:
	qb_release(&q);
	free(pair);
	return rc;
}

static int sq_list(void *impl, const struct store_query *sqy, json_t **items, struct dm_err *e)
{
	return list_run(impl, sqy, items, NULL, NULL, e);
}

static int sq_list_rows(void *impl, const struct store_query *sqy, store_row_fn fn, void *arg,
			struct dm_err *e)
{
	return list_run(impl, sqy, NULL, fn, arg, e);
}

static int audit_row(struct conn *c, const struct kind *k, int64_t id, int64_t actor,
		     const char *at, const char *action, const char *field, json_t *old_v,
		     json_t *new_v, struct dm_err *e)
{
	struct qb q;
	qb_init(&q, SQL_SQLITE);
	sql_audit(&q, k->name, id, actor, at, action, field, old_v, new_v);
	int rc = qb_exec(&q, c, e);
	qb_release(&q);
	return rc;
}

/* One more audit row of a record's update into q (a row per changed field), one INSERT for them
 * all (run when q is full, and by audit_end): a statement per field was a sixth of the writer's
 * time under POST /activities. A create writes one row (sql_audit_created). */
static int audit_add(struct qb *q, struct conn *c, const struct kind *k, int64_t id,
		     int64_t actor, const char *at, const char *action, const char *field,
		     json_t *old_v, json_t *new_v, struct dm_err *e)
{
	if (q->n + 8 > QB_MAX_BINDS) {
		int rc = qb_exec(q, c, e);
		qb_release(q);
		qb_init(q, SQL_SQLITE);
		if (rc)
			return rc;
	}
	sql_audit(q, k->name, id, actor, at, action, field, old_v, new_v);
	return 0;
}

/* Write audit_add's rows still in q; releases q. */
static int audit_end(struct qb *q, struct conn *c, struct dm_err *e)
{
	int rc = q->n ? qb_exec(q, c, e) : 0;
	qb_release(q);
	return rc;
}

/* The id of the record holding the unique value rec would take, or 0: the username of users,
 * the name key of the others. */
/* The id of the record holding the unique value rec would take, or 0. */
static int64_t find_holder(struct conn *c, const struct kind *k, json_t *rec, const char *key)
{
	struct qb q;
	struct dm_err e;
	int64_t id = 0;
	qb_init(&q, SQL_SQLITE);
	sql_holder(&q, k, rec, key);
	sqlite3_stmt *st = qb_prepare(&q, c, &e);
	if (st && sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	stmt_done(st);
	qb_release(&q);
	return id;
}

static int duplicate(struct conn *c, const struct kind *k, json_t *rec, const char *key,
		     struct dm_err *e)
{
	return sql_duplicate(k, key || k == &kind_user ? find_holder(c, k, rec, key) : 0, e);
}

static int defer_start(struct sq *sq, struct dm_err *e);

static int sq_insert(void *impl, const struct kind *k, json_t *rec, int64_t actor,
		     const char *at, int64_t *id, struct dm_err *e)
{
	struct sq *sq = impl;
	if (k == &kind_activity ? in_writer(sq, e) || defer_start(sq, e) : in_write(sq, e))
		return e->code;
	struct conn *c = sq->wconn;
	char now[TIME_STR_LEN];
	char *key = name_key_of(k, rec);
	struct qb q;
	int rc;
	if (at)
		snprintf(now, sizeof now, "%s", at);
	else
		time_format(time_now_ms(), now);
	qb_init(&q, SQL_SQLITE);
	sql_insert(&q, k, rec, now, key);
	rc = qb_exec(&q, c, e);
	qb_release(&q);
	if (rc == DM_EDUPLICATE) {
		rc = duplicate(c, k, rec, key, e);
		goto out;
	}
	if (rc)
		goto out;
	*id = sqlite3_last_insert_rowid(c->db);
	json_t *created = sql_audit_created(k, rec);
	if (created) {
		rc = audit_row(c, k, *id, actor, now, "create", NULL, NULL, created, e);
		json_decref(created);
	}
out:
	free(key);
	return rc;
}

static int sq_update(void *impl, const struct kind *k, int64_t id, json_t *changes,
		     int64_t actor, int *changed, struct dm_err *e)
{
	struct sq *sq = impl;
	json_t *cur = NULL, *merged = NULL;
	char *key = NULL;
	struct qb q;
	int rc, n = 0;
	char now[TIME_STR_LEN];
	*changed = 0;
	if (in_write(sq, e))
		return e->code;
	if ((k == &kind_account && (rc = bulk_flush(sq, e))) ||
	    (rc = sq_get(impl, k, NULL, id, 1, &cur, e)))
		return rc;
	time_format(time_now_ms(), now);
	qb_init(&q, SQL_SQLITE);
	merged = json_deep_copy(cur);
	json_object_update(merged, changes);
	key = name_key_of(k, merged);
	sql_update(&q, k, id, cur, changes, key, now, &n);
	if (!n)
		goto out;
	rc = qb_exec(&q, sq->wconn, e);
	const char *fname;
	json_t *v;
	if (rc == DM_EDUPLICATE)
		rc = duplicate(sq->wconn, k, merged, key, e);
	if (rc)
		goto out;
	qb_release(&q);
	qb_init(&q, SQL_SQLITE);
	json_object_foreach(changes, fname, v) {
		const struct field *f = model_field(k, fname);
		json_t *old = json_object_get(cur, fname);
		if (!f || !model_is_column(f) || json_equal(v, old))
			continue;
		if ((rc = audit_add(&q, sq->wconn, k, id, actor, now, "update", fname, old, v, e)))
			goto out;
	}
	rc = audit_end(&q, sq->wconn, e);
	qb_init(&q, SQL_SQLITE);   /* audit_end released q; out: releases it again */
	if (rc)
		goto out;
	*changed = 1;
out:
	free(key);
	qb_release(&q);
	json_decref(merged);
	json_decref(cur);
	return rc;
}

static int sq_set_archived(void *impl, const struct kind *k, int64_t id, int archived,
			   int64_t actor, struct dm_err *e)
{
	struct sq *sq = impl;
	json_t *cur = NULL;
	char now[TIME_STR_LEN];
	struct qb q;
	int rc;
	if (in_write(sq, e))
		return e->code;
	if ((k == &kind_account && (rc = bulk_flush(sq, e))) ||
	    (rc = sq_get(impl, k, NULL, id, 1, &cur, e)))
		return rc;
	time_format(time_now_ms(), now);
	qb_init(&q, SQL_SQLITE);
	sql_set_archived(&q, k, id, archived, now);
	rc = qb_exec(&q, sq->wconn, e);
	if (rc == DM_EDUPLICATE) {
		char *key = name_key_of(k, cur);
		rc = duplicate(sq->wconn, k, cur, key, e);
		free(key);
	}
	if (!rc) {
		json_t *nv = archived ? json_string(now) : json_null();
		rc = audit_row(sq->wconn, k, id, actor, now, archived ? "archive" : "restore",
			       "archived_at", json_object_get(cur, "archived_at"), nv, e);
		json_decref(nv);
	}
	qb_release(&q);
	json_decref(cur);
	return rc;
}

static json_t *text_json(sqlite3_stmt *st, int col)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return json_null();
	json_t *v = json_loads((const char *)sqlite3_column_text(st, col), JSON_DECODE_ANY, NULL);
	return v ? v : json_null();
}

static int sq_audit_list(void *impl, const struct kind *k, int64_t id, int64_t after, int limit,
			 json_t **items, struct dm_err *e)
{
	struct sq *sq = impl;
	struct conn *c = conn_get(sq, e);
	struct qb q;
	*items = NULL;
	if (!c)
		return e->code;
	qb_init(&q, SQL_SQLITE);
	sql_audit_list(&q, k, id, after, limit);
	sqlite3_stmt *st = qb_prepare(&q, c, e);
	int rc = 0, s;
	if (!st) {
		rc = e->code;
		goto out;
	}
	json_t *arr = json_array();
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *o = json_object();
		json_object_set_new(o, "id", json_integer(sqlite3_column_int64(st, 0)));
		json_object_set_new(o, "at", json_string((const char *)sqlite3_column_text(st, 1)));
		json_object_set_new(o, "actor_id", sqlite3_column_type(st, 2) == SQLITE_NULL ?
			json_null() : json_integer(sqlite3_column_int64(st, 2)));
		json_object_set_new(o, "actor", sqlite3_column_type(st, 3) == SQLITE_NULL ?
			json_null() : json_string((const char *)sqlite3_column_text(st, 3)));
		json_object_set_new(o, "action", json_string((const char *)sqlite3_column_text(st, 4)));
		json_object_set_new(o, "field", sqlite3_column_type(st, 5) == SQLITE_NULL ?
			json_null() : json_string((const char *)sqlite3_column_text(st, 5)));
		json_object_set_new(o, "old", text_json(st, 6));
		json_object_set_new(o, "new", text_json(st, 7));
		json_array_append_new(arr, o);
	}
	if (s != SQLITE_DONE) {
		json_decref(arr);
		rc = step_error(c, s, e);
	} else {
		*items = arr;
	}
	stmt_done(st);
out:
	qb_release(&q);
	return rc;
}

static int sq_in_scope(void *impl, const struct viewer *v, int64_t user_id, int *yes,
		       struct dm_err *e)
{
	struct sq *sq = impl;
	struct conn *c = conn_get(sq, e);
	struct qb q;
	int rc = 0;
	*yes = 0;
	if (!c)
		return e->code;
	qb_init(&q, SQL_SQLITE);
	qb_sql(&q, "SELECT 1 FROM users t WHERE t.id = ");
	qb_int(&q, user_id);
	qb_sql(&q, " AND ");
	vis_owner(&q, v, "t.id");
	sqlite3_stmt *st = qb_prepare(&q, c, e);
	if (!st) {
		rc = e->code;
	} else {
		int s = sqlite3_step(st);
		if (s == SQLITE_ROW)
			*yes = 1;
		else if (s != SQLITE_DONE)
			rc = step_error(c, s, e);
		stmt_done(st);
	}
	qb_release(&q);
	return rc;
}

/* ---- credentials and sessions ---------------------------------------------------------------- */

static int sq_cred_get(void *impl, const char *username, struct store_cred *out,
		       struct dm_err *e)
{
	struct sq *sq = impl;
	struct conn *c = conn_get(sq, e);
	struct qb q;
	int rc = 0;
	memset(out, 0, sizeof *out);
	if (!c)
		return e->code;
	qb_init(&q, SQL_SQLITE);
	qb_sql(&q, "SELECT id, password_hash, active, archived_at IS NOT NULL FROM users "
		   "WHERE username = lower(");
	qb_text(&q, username);
	qb_sql(&q, ")");
	sqlite3_stmt *st = qb_prepare(&q, c, e);
	if (!st) {
		rc = e->code;
		goto out;
	}
	int s = sqlite3_step(st);
	if (s == SQLITE_ROW) {
		out->user_id = sqlite3_column_int64(st, 0);
		const char *h = (const char *)sqlite3_column_text(st, 1);
		snprintf(out->password_hash, sizeof out->password_hash, "%s", h ? h : "");
		out->active = sqlite3_column_int(st, 2);
		out->archived = sqlite3_column_int(st, 3);
	} else if (s == SQLITE_DONE) {
		rc = dm_fail(e, DM_ENOTFOUND, "username", "no such user");
	} else {
		rc = step_error(c, s, e);
	}
	stmt_done(st);
out:
	qb_release(&q);
	return rc;
}

static int sq_cred_set(void *impl, int64_t user_id, const char *hash, struct dm_err *e)
{
	struct sq *sq = impl;
	char now[TIME_STR_LEN];
	struct qb q;
	if (in_write(sq, e))
		return e->code;
	time_format(time_now_ms(), now);
	qb_init(&q, SQL_SQLITE);
	qb_sql(&q, "UPDATE users SET password_hash = ");
	qb_text(&q, hash);
	qb_sql(&q, " WHERE id = ");
	qb_int(&q, user_id);
	int rc = qb_exec(&q, sq->wconn, e);
	if (!rc && sqlite3_changes(sq->wconn->db) == 0)
		rc = dm_fail(e, DM_ENOTFOUND, NULL, "no such user");
	if (!rc)
		rc = audit_row(sq->wconn, &kind_user, user_id, 0, now, "password", "password", NULL,
			       NULL, e);
	qb_release(&q);
	return rc;
}

/* Run a one-statement write built by the caller's format: a text key and an integer. */
static int write_stmt(struct sq *sq, const char *sql_head, const char *text, int64_t num,
		      const char *sql_mid, struct dm_err *e)
{
	struct qb q;
	if (in_write(sq, e))
		return e->code;
	qb_init(&q, SQL_SQLITE);
	qb_sql(&q, sql_head);
	if (text)
		qb_text(&q, text);
	qb_sql(&q, sql_mid);
	if (sql_mid[0])
		qb_int(&q, num);
	return exec_run(sq, &q, e);
}

static int sq_session_put(void *impl, const char *token_hash, int64_t user_id, const char *csrf,
			  int64_t now_ms, struct dm_err *e)
{
	struct qb q;
	if (in_write(impl, e))
		return e->code;
	qb_init(&q, SQL_SQLITE);
	sql_session_put(&q, token_hash, user_id, csrf, now_ms);
	return exec_run(impl, &q, e);
}

/* The session cache. Every request looked its session up: a SELECT joining the user, ≈ 8 % of a
 * GET by id. A session as read is kept with the sign-in generation (auth_gen, migration 24) of
 * the snapshot it was read in, and serves while the generation read in the request's own
 * snapshot is the same: no user was changed and no session ended or changed since (the
 * triggers set a new generation in the very transaction that does it, whichever process
 * writes), so what is served is what the SELECT would answer. The generation's read is the
 * request's first statement, the one that starts its snapshot. Only the session's activity
 * (seen_ms, moving forward) changes without a new generation: sq_session_seen drops the
 * session's entry, and the next request reads it again. Not used on the writer's connection
 * (its reads see uncommitted changes that may yet roll back). PostgreSQL does not cache (pg.c:
 * several servers share the database). */
#define SESS_SLOTS 1024
#define SESS_LOCKS 16
#define SESS_HASH_HEX 64   /* the token hashes auth.c stores (longer ones are not cached) */
struct sess_cache {
	pthread_mutex_t mu[SESS_LOCKS];   /* slot i under mu[i % SESS_LOCKS] */
	struct sess_slot {
		char hash[SESS_HASH_HEX + 1];   /* "" = empty */
		int64_t gen;
		struct store_session s;
	} slot[SESS_SLOTS];
};

static struct sess_cache *sess_cache_new(void)
{
	struct sess_cache *sc = xcalloc(1, sizeof *sc);
	for (int i = 0; i < SESS_LOCKS; i++)
		pthread_mutex_init(&sc->mu[i], NULL);
	return sc;
}

static void sess_cache_free(struct sess_cache *sc)
{
	if (!sc)
		return;
	for (int i = 0; i < SESS_LOCKS; i++)
		pthread_mutex_destroy(&sc->mu[i]);
	free(sc);
}

static unsigned sess_slot_of(const char *token_hash)
{
	return text_hash(token_hash) % SESS_SLOTS;
}

/* The sign-in generation in c's current snapshot; -1 when it cannot be read. */
static int auth_gen_get(struct conn *c, int64_t *gen)
{
	static const char sql[] = "SELECT gen FROM auth_gen WHERE id = 1";
	struct dm_err e;
	sqlite3_stmt *st = stmt_fixed(c, sql, &e);
	if (!st)
		return -1;
	int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : -1;
	if (!rc)
		*gen = sqlite3_column_int64(st, 0);
	stmt_done(st);
	return rc;
}

/* The generation without a read. A commit of any connection, this process's or another's,
 * changes the WAL index's header in the shared memory beside the file (its frame count, its
 * last frame's checksum, its salt after a restart); the readers of every process begin their
 * snapshot from it. After each commit of its own, the writer reads the generation anew in a
 * snapshot it begins between two readings of the header and, when the header did not move in
 * between, publishes the pair (gen_publish; a read of its own connection, whose page cache
 * its own commits keep). A request then compares the header with the published one: equal,
 * nothing was committed since, by anyone, and the published generation is the one the read
 * would find (gen_known); different (a commit of another process, a checkpoint's restart of
 * the WAL, the writer's next commit not yet published), the generation is read as before.
 * Under POST /activities every commit reset each reading thread's page cache, so the read
 * began a snapshot and read the row's page again for nearly every request: ≈ 5 % of the
 * server's CPU. A header read while a commit writes it may mix the two states; the mix equals
 * the published one only where the commit left it as it was, and answers then as a check made
 * just before the commit would. */
static long gen_reads;   /* the generation's reads by SQL (store_sqlite_gen_reads, for tests) */

long store_sqlite_gen_reads(void)
{
	return __atomic_load_n(&gen_reads, __ATOMIC_RELAXED);
}

static void shm_hdr(const volatile unsigned char *shm, unsigned char out[WAL_HDR])
{
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	for (int i = 0; i < WAL_HDR; i++)
		out[i] = shm[i];
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
}

/* Writer thread, after a COMMIT. */
static void gen_publish(struct sq *sq)
{
	struct conn *c = sq->wconn;
	unsigned char a[WAL_HDR], b[WAL_HDR];
	int64_t gen = 0;
	int ok = 0;
	if (sq->gp.off)
		return;
	if (!sq->gp.shm) {
		sqlite3_file *f = NULL;
		struct dm_err e;
		sq->gp.off = 1;   /* until the WAL index is found: once */
		sqlite3_stmt *st = stmt_get(c, "PRAGMA journal_mode", &e);
		int wal = st && sqlite3_step(st) == SQLITE_ROW &&
			  !sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), "wal");
		stmt_done(st);
		if (!wal)
			return;
		void volatile *p = NULL;
		if (sqlite3_file_control(c->db, "main", SQLITE_FCNTL_FILE_POINTER, &f) != SQLITE_OK ||
		    !f || !f->pMethods || f->pMethods->iVersion < 2 || !f->pMethods->xShmMap ||
		    f->pMethods->xShmMap(f, 0, 32768, 0, &p) != SQLITE_OK || !p)
			return;   /* no shared WAL index (not in WAL mode): the generation is read */
		sq->gp.off = 0;
		pthread_mutex_lock(&sq->gp.mu);
		sq->gp.shm = p;
		pthread_mutex_unlock(&sq->gp.mu);
	}
	shm_hdr(sq->gp.shm, a);
	if (!sqlite3_get_autocommit(c->db)) {
		ok = 0;
	} else if (auth_gen_get(c, &gen)) {
		sq->gp.off = 1;   /* a schema before migration 24: nothing to publish, ever */
	} else {
		shm_hdr(sq->gp.shm, b);
		ok = !memcmp(a, b, WAL_HDR);
	}
	pthread_mutex_lock(&sq->gp.mu);
	sq->gp.valid = ok;
	memcpy(sq->gp.hdr, a, WAL_HDR);
	sq->gp.gen = gen;
	pthread_mutex_unlock(&sq->gp.mu);
}

/* The generation as of the latest commit when the writer published it; -1 when not known. */
static int gen_known(struct sq *sq, int64_t *gen)
{
	unsigned char h[WAL_HDR];
	int rc = -1;
	pthread_mutex_lock(&sq->gp.mu);
	if (sq->gp.valid && sq->gp.shm) {
		shm_hdr(sq->gp.shm, h);
		if (!memcmp(h, sq->gp.hdr, WAL_HDR)) {
			*gen = sq->gp.gen;
			rc = 0;
		}
	}
	pthread_mutex_unlock(&sq->gp.mu);
	return rc;
}

static void sess_forget(struct sq *sq, const char *token_hash)
{
	unsigned i = sess_slot_of(token_hash);
	pthread_mutex_t *mu = &sq->sess->mu[i % SESS_LOCKS];
	pthread_mutex_lock(mu);
	if (!strcmp(sq->sess->slot[i].hash, token_hash))
		sq->sess->slot[i].hash[0] = 0;
	pthread_mutex_unlock(mu);
}

static int sq_session_get(void *impl, const char *token_hash, struct store_session *out,
			  struct dm_err *e)
{
	struct sq *sq = impl;
	struct conn *c = conn_get(sq, e);
	struct qb q;
	int rc = 0;
	int64_t gen = 0;
	memset(out, 0, sizeof *out);
	if (!c)
		return e->code;
	size_t hlen = strlen(token_hash);
	int cache = tls_writing != sq && hlen <= SESS_HASH_HEX;
	if (cache && gen_known(sq, &gen)) {
		__atomic_add_fetch(&gen_reads, 1, __ATOMIC_RELAXED);
		cache = !auth_gen_get(c, &gen);
	}
	unsigned slot = sess_slot_of(token_hash);
	pthread_mutex_t *mu = &sq->sess->mu[slot % SESS_LOCKS];
	if (cache) {
		struct sess_slot *sl = &sq->sess->slot[slot];
		pthread_mutex_lock(mu);
		int hit = sl->gen == gen && !strcmp(sl->hash, token_hash);
		if (hit)
			*out = sl->s;
		pthread_mutex_unlock(mu);
		if (hit)
			return 0;
	}
	qb_init(&q, SQL_SQLITE);
	qb_sql(&q, "SELECT s.user_id, s.csrf, s.created_ms, s.seen_ms, u.role, u.team_id, "
		   "u.active AND u.archived_at IS NULL FROM sessions s JOIN users u ON u.id = s.user_id "
		   "WHERE s.token_hash = ");
	qb_text(&q, token_hash);
	sqlite3_stmt *st = qb_prepare(&q, c, e);
	if (!st) {
		rc = e->code;
		goto out;
	}
	int s = sqlite3_step(st);
	if (s == SQLITE_ROW) {
		out->user_id = sqlite3_column_int64(st, 0);
		snprintf(out->csrf, sizeof out->csrf, "%s", (const char *)sqlite3_column_text(st, 1));
		out->created_ms = sqlite3_column_int64(st, 2);
		out->seen_ms = sqlite3_column_int64(st, 3);
		out->viewer.user_id = out->user_id;
		if (model_role_parse((const char *)sqlite3_column_text(st, 4), &out->viewer.role))
			out->viewer.role = ROLE_PARTNER;   /* least privilege for an unknown role */
		out->viewer.team_id = sqlite3_column_int64(st, 5);
		out->active = sqlite3_column_int(st, 6);
		if (cache) {
			struct sess_slot *sl = &sq->sess->slot[slot];
			pthread_mutex_lock(mu);
			memcpy(sl->hash, token_hash, hlen + 1);
			sl->gen = gen;
			sl->s = *out;
			pthread_mutex_unlock(mu);
		}
	} else if (s == SQLITE_DONE) {
		rc = dm_fail(e, DM_ENOTFOUND, NULL, "no such session");
	} else {
		rc = step_error(c, s, e);
	}
	stmt_done(st);
out:
	qb_release(&q);
	return rc;
}

static int sq_session_seen(void *impl, const char *token_hash, int64_t now_ms, struct dm_err *e)
{
	struct qb q;
	if (in_write(impl, e))
		return e->code;
	sess_forget(impl, token_hash);   /* the one change without a new generation */
	qb_init(&q, SQL_SQLITE);
	sql_session_seen(&q, token_hash, now_ms);
	return exec_run(impl, &q, e);
}

static int sq_session_delete(void *impl, const char *token_hash, struct dm_err *e)
{
	sess_forget(impl, token_hash);   /* not needed (the generation moves), but tidy */
	return write_stmt(impl, "DELETE FROM sessions WHERE token_hash = ", token_hash, 0, "", e);
}

static int sq_session_delete_user(void *impl, int64_t user_id, struct dm_err *e)
{
	return write_stmt(impl, "DELETE FROM sessions WHERE 1", NULL, user_id, " AND user_id = ", e);
}

static int sq_session_expire(void *impl, int64_t idle_before, int64_t absolute_before,
			     struct dm_err *e)
{
	struct qb q;
	if (in_write(impl, e))
		return e->code;
	qb_init(&q, SQL_SQLITE);
	sql_session_expire(&q, idle_before, absolute_before);
	return exec_run(impl, &q, e);
}

static int sq_count(void *impl, const struct kind *k, int64_t *n, struct dm_err *e)
{
	struct sq *sq = impl;
	struct conn *c = conn_get(sq, e);
	struct qb q;
	int rc = 0;
	*n = 0;
	if (!c)
		return e->code;
	qb_init(&q, SQL_SQLITE);
	buf_printf(&q.sql, "SELECT count(*) FROM %s WHERE archived_at IS NULL", k->plural);
	sqlite3_stmt *st = qb_prepare(&q, c, e);
	if (!st) {
		rc = e->code;
	} else {
		int s = sqlite3_step(st);
		if (s == SQLITE_ROW)
			*n = sqlite3_column_int64(st, 0);
		else
			rc = step_error(c, s, e);
		stmt_done(st);
	}
	qb_release(&q);
	return rc;
}

/* ---- small tables of the rules: settings, stage history, links, account teams ---------------- */

/* Run q and return its rows as objects keyed by column name (integers, text, null). */
static int query_rows(struct conn *c, struct qb *q, json_t **items, struct dm_err *e)
{
	sqlite3_stmt *st = qb_prepare(q, c, e);
	int s;
	*items = NULL;
	if (!st)
		return e->code;
	json_t *arr = json_array();
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *o = json_object();
		for (int i = 0; i < sqlite3_column_count(st); i++) {
			json_t *v;
			switch (sqlite3_column_type(st, i)) {
			case SQLITE_INTEGER: v = json_integer(sqlite3_column_int64(st, i)); break;
			case SQLITE_FLOAT: v = json_real(sqlite3_column_double(st, i)); break;
			case SQLITE_NULL: v = json_null(); break;
			default: v = json_string((const char *)sqlite3_column_text(st, i)); break;
			}
			json_object_set_new(o, sqlite3_column_name(st, i), v);
		}
		json_array_append_new(arr, o);
	}
	stmt_done(st);
	if (s != SQLITE_DONE) {
		json_decref(arr);
		return step_error(c, s, e);
	}
	*items = arr;
	return 0;
}

/* Run a read query on this thread's connection and release it: its rows, keyed by column. */
static int rows_run(void *impl, struct qb *q, json_t **items, struct dm_err *e)
{
	struct conn *c = conn_get(impl, e);
	int rc = c ? query_rows(c, q, items, e) : e->code;
	qb_release(q);
	return rc;
}

/* Run a read statement on this thread's connection, handing each row to row as it comes (a
 * nonzero return stops the walk), and release q: for answers read as C values, not JSON. */
static int rows_each(void *impl, struct qb *q, int (*row)(void *arg, sqlite3_stmt *st),
		     void *arg, struct dm_err *e)
{
	struct conn *c = conn_get(impl, e);
	sqlite3_stmt *st = c ? qb_prepare(q, c, e) : NULL;
	int rc = st ? 0 : e->code, s;
	if (st) {
		while ((s = sqlite3_step(st)) == SQLITE_ROW) {
			if (row(arg, st)) {
				s = SQLITE_DONE;
				break;
			}
		}
		if (s != SQLITE_DONE)
			rc = step_error(c, s, e);
		stmt_done(st);
	}
	qb_release(q);
	return rc;
}

/* ---- sign-in throttling ---------------------------------------------------------------------- */

static int sq_throttle_get(void *impl, const char *key, int64_t *fails, int64_t *since_ms,
			   struct dm_err *e)
{
	struct qb q;
	json_t *rows = NULL;
	qb_init(&q, SQL_SQLITE);
	sql_throttle_get(&q, key);
	int rc = rows_run(impl, &q, &rows, e);
	json_t *r = json_array_get(rows, 0);
	*fails = json_integer_value(json_object_get(r, "fails"));
	*since_ms = json_integer_value(json_object_get(r, "since_ms"));
	json_decref(rows);
	return rc;
}

static int sq_throttle_fail(void *impl, const char *key, int64_t now_ms, int64_t window_ms,
			    struct dm_err *e)
{
	struct qb q;
	if (in_write(impl, e))
		return e->code;
	qb_init(&q, SQL_SQLITE);
	sql_throttle_prune(&q, now_ms, window_ms);
	int rc = exec_run(impl, &q, e);
	if (rc)
		return rc;
	qb_init(&q, SQL_SQLITE);
	sql_throttle_fail(&q, key, now_ms, window_ms);
	return exec_run(impl, &q, e);
}

static int sq_throttle_clear(void *impl, const char *key, struct dm_err *e)
{
	struct qb q;
	if (in_write(impl, e))
		return e->code;
	qb_init(&q, SQL_SQLITE);
	sql_throttle_clear(&q, key);
	return exec_run(impl, &q, e);
}

/* ---- jobs ------------------------------------------------------------------------------------- */

static int sq_job_add(void *impl, const char *object, int64_t user_id, int64_t bytes_total,
		      int64_t *id, struct dm_err *e)
{
	char now[TIME_STR_LEN];
	struct qb q;
	json_t *rows = NULL;
	if (in_write(impl, e))
		return e->code;
	time_format(time_now_ms(), now);
	qb_init(&q, SQL_SQLITE);
	sql_job_add(&q, object, user_id, bytes_total, now);
	int rc = rows_run(impl, &q, &rows, e);
	*id = json_integer_value(json_object_get(json_array_get(rows, 0), "id"));
	json_decref(rows);
	return rc;
}

static int sq_job_set(void *impl, int64_t id, const char *state, int64_t rows, int64_t bytes,
		      json_t *report, const char *error, struct dm_err *e)
{
	char now[TIME_STR_LEN];
	struct qb q;
	if (in_write(impl, e))
		return e->code;
	time_format(time_now_ms(), now);
	qb_init(&q, SQL_SQLITE);
	sql_job_set(&q, id, state, rows, bytes, report, error, now);
	return exec_run(impl, &q, e);
}

static int sq_job_get(void *impl, int64_t id, json_t **job, struct dm_err *e)
{
	struct qb q;
	json_t *rows = NULL;
	*job = NULL;
	qb_init(&q, SQL_SQLITE);
	sql_job_get(&q, id);
	int rc = rows_run(impl, &q, &rows, e);
	if (!rc && !(*job = json_incref(json_array_get(rows, 0))))
		rc = dm_fail(e, DM_ENOTFOUND, NULL, "job %lld not found", (long long)id);
	if (*job)
		job_from_row(*job);
	json_decref(rows);
	return rc;
}

/* Settings are read on nearly every request and change rarely: each store keeps a small cache
 * (struct sq, settings), emptied by every write of a setting (this backend's writes all go
 * through this process's writer thread). */
static void setting_cache_clear(struct sq *sq)
{
	pthread_mutex_lock(&sq->setting_mu);
	for (int i = 0; i < SETTING_CACHE; i++) {
		json_decref(sq->setting_cache[i].value);
		sq->setting_cache[i].value = NULL;
		sq->setting_cache[i].used = 0;
	}
	pthread_mutex_unlock(&sq->setting_mu);
}

static int setting_cached(struct sq *sq, const char *key, json_t **value)
{
	int hit = 0;
	pthread_mutex_lock(&sq->setting_mu);
	for (int i = 0; i < SETTING_CACHE && !hit; i++)
		if (sq->setting_cache[i].used && !strcmp(sq->setting_cache[i].key, key)) {
			json_t *v = sq->setting_cache[i].value;
			*value = v ? json_deep_copy(v) : NULL;
			hit = 1;
		}
	pthread_mutex_unlock(&sq->setting_mu);
	return hit;
}

static void setting_remember(struct sq *sq, const char *key, json_t *value)
{
	if (strlen(key) >= sizeof sq->setting_cache[0].key)
		return;
	pthread_mutex_lock(&sq->setting_mu);
	for (int i = 0; i < SETTING_CACHE; i++)
		if (!sq->setting_cache[i].used) {
			snprintf(sq->setting_cache[i].key, sizeof sq->setting_cache[i].key, "%s", key);
			sq->setting_cache[i].value = value ? json_deep_copy(value) : NULL;
			sq->setting_cache[i].used = 1;
			break;
		}
	pthread_mutex_unlock(&sq->setting_mu);
}

static int sq_setting_get(void *impl, const char *key, json_t **value, struct dm_err *e)
{
	struct sq *sq = impl;
	struct conn *c;
	struct qb q;
	json_t *rows = NULL;
	*value = NULL;
	/* inside a write the transaction's own (maybe uncommitted) value must be read */
	if (tls_writing != sq && setting_cached(sq, key, value))
		return 0;
	if (!(c = conn_get(sq, e)))
		return e->code;
	qb_init(&q, SQL_SQLITE);
	qb_sql(&q, "SELECT value FROM settings WHERE key = ");
	qb_text(&q, key);
	int rc = query_rows(c, &q, &rows, e);
	qb_release(&q);
	if (!rc && json_array_size(rows))
		*value = json_loads(json_string_value(json_object_get(json_array_get(rows, 0), "value")),
				    JSON_DECODE_ANY, NULL);
	if (!rc && tls_writing != sq)
		setting_remember(sq, key, *value);
	json_decref(rows);
	return rc;
}

static int sq_setting_put(void *impl, const char *key, json_t *value, int64_t actor,
			  struct dm_err *e)
{
	struct sq *sq = impl;
	char now[TIME_STR_LEN];
	json_t *old = NULL;
	struct qb q;
	int rc;
	if (in_write(sq, e) || (rc = sq_setting_get(impl, key, &old, e)))
		return e->code;
	time_format(time_now_ms(), now);
	qb_init(&q, SQL_SQLITE);
	sql_setting_put(&q, key, value, now);
	rc = qb_exec(&q, sq->wconn, e);
	qb_release(&q);
	/* emptied now, and again once the transaction ends: a reader between the two would
	 * otherwise cache the value this write replaces */
	setting_cache_clear(sq);
	sq->settings_dirty = 1;
	if (!rc) {
		struct kind settings_kind = { .name = "settings" };
		rc = audit_row(sq->wconn, &settings_kind, 0, actor, now, "update", key, old, value, e);
	}
	json_decref(old);
	return rc;
}

static int sq_stage_add(void *impl, int64_t opp, const char *from, const char *to, int64_t by,
			const char *at, struct dm_err *e)
{
	char now[TIME_STR_LEN];
	struct qb q;
	if (in_write(impl, e))
		return e->code;
	time_format(time_now_ms(), now);
	qb_init(&q, SQL_SQLITE);
	sql_stage_add(&q, opp, from, to, by, at ? at : now);
	return exec_run(impl, &q, e);
}

static int sq_opportunity_backdate(void *impl, int64_t opp, const char *at, struct dm_err *e)
{
	struct qb q;
	int rc;
	if (in_write(impl, e))
		return e->code;
	qb_init(&q, SQL_SQLITE);
	sql_backdate_opportunity(&q, opp, at);
	if ((rc = exec_run(impl, &q, e)))
		return rc;
	qb_init(&q, SQL_SQLITE);
	sql_backdate_history(&q, opp, at);
	return exec_run(impl, &q, e);
}

/* The rows of a statement built by one of sqlbuild's builders of one parent id. */
static int rows_of(void *impl, void (*build)(struct qb *q, int64_t id), int64_t id,
		   json_t **items, struct dm_err *e)
{
	struct qb q;
	qb_init(&q, SQL_SQLITE);
	build(&q, id);
	return rows_run(impl, &q, items, e);
}

static int sq_stage_list(void *impl, int64_t opp, json_t **items, struct dm_err *e)
{
	return rows_of(impl, sql_stage_list, opp, items, e);
}

static int sq_link_add(void *impl, int64_t opp, int64_t from, int64_t to, const char *kind,
		       int64_t *id, struct dm_err *e)
{
	struct sq *sq = impl;
	char now[TIME_STR_LEN];
	struct qb q;
	if (in_write(sq, e))
		return e->code;
	time_format(time_now_ms(), now);
	qb_init(&q, SQL_SQLITE);
	sql_link_add(&q, opp, from, to, kind, now);
	int rc = qb_exec(&q, sq->wconn, e);
	qb_release(&q);
	if (rc == DM_EDUPLICATE)
		return dm_fail(e, DM_EDUPLICATE, "to", "these stakeholders are linked already");
	if (!rc)
		*id = sqlite3_last_insert_rowid(sq->wconn->db);
	return rc;
}

static int sq_link_list(void *impl, int64_t opp, json_t **items, struct dm_err *e)
{
	return rows_of(impl, sql_link_list, opp, items, e);
}

static int team_audit(struct sq *sq, int64_t account, int64_t user, int64_t actor, json_t *old_v,
		      json_t *new_v, struct dm_err *e)
{
	char now[TIME_STR_LEN], field[48];
	time_format(time_now_ms(), now);
	snprintf(field, sizeof field, "team:%lld", (long long)user);
	return audit_row(sq->wconn, &kind_account, account, actor, now, "team", field, old_v, new_v, e);
}

static int sq_team_put(void *impl, int64_t account, int64_t user, const char *access,
		       int sensitive, int64_t actor, struct dm_err *e)
{
	struct sq *sq = impl;
	char now[TIME_STR_LEN];
	struct qb q;
	if (in_write(sq, e))
		return e->code;
	time_format(time_now_ms(), now);
	qb_init(&q, SQL_SQLITE);
	sql_team_put(&q, account, user, access, sensitive, actor, now);
	int rc = exec_run(sq, &q, e);
	if (!rc) {
		json_t *nv = json_pack("{s:s,s:b}", "access", access, "sensitive", sensitive);
		rc = team_audit(sq, account, user, actor, NULL, nv, e);
		json_decref(nv);
	}
	return rc;
}

static int sq_team_delete(void *impl, int64_t account, int64_t user, int64_t actor,
			  struct dm_err *e)
{
	struct sq *sq = impl;
	struct qb q;
	if (in_write(sq, e))
		return e->code;
	qb_init(&q, SQL_SQLITE);
	sql_team_delete(&q, account, user);
	int rc = exec_run(sq, &q, e);
	if (!rc && sqlite3_changes(sq->wconn->db) == 0)
		return dm_fail(e, DM_ENOTFOUND, "user_id", "user %lld is not on this account's team",
			       (long long)user);
	return rc ? rc : team_audit(sq, account, user, actor, NULL, NULL, e);
}

static int sq_team_list(void *impl, int64_t account, json_t **items, struct dm_err *e)
{
	int rc = rows_of(impl, sql_team_list, account, items, e);
	if (!rc)
		team_list_of(*items);
	return rc;
}

/* account_access_of's reading of the row, from the columns (no JSON row: the check runs for
 * every new activity on the writer's thread) */
static int access_row(void *arg, sqlite3_stmt *st)
{
	int text = sqlite3_column_type(st, 1) == SQLITE_TEXT;
	account_access_from(sqlite3_column_int64(st, 0) != 0,
			    text ? (const char *)sqlite3_column_text(st, 1) : NULL,
			    sqlite3_column_int64(st, 2), arg);
	return 1;   /* the first row only */
}

static int sq_account_access(void *impl, const struct viewer *v, int64_t account,
			     struct account_access *out, struct dm_err *e)
{
	struct sq *sq = impl;
	struct qb q;
	/* an account's owner, team and archiving: no activity's sums change them, so the writer
	 * reads them with its activities' sums still pending (the check of each new activity) */
	int writer = tls_writing == sq;
	qb_init(&q, SQL_SQLITE);
	sql_account_access(&q, v, account);
	if (writer)
		sq->defer.hold = 1;
	memset(out, 0, sizeof *out);
	int rc = rows_each(impl, &q, access_row, out, e);
	if (writer)
		sq->defer.hold = 0;
	if (rc)
		memset(out, 0, sizeof *out);
	return rc;
}

static int sq_find_name(void *impl, const struct kind *k, const char *name, int64_t *id,
			struct dm_err *e)
{
	struct sq *sq = impl;
	struct conn *c = conn_get(sq, e);
	if (!c)
		return e->code;
	char *key = text_name_key(name);
	*id = find_holder(c, k, NULL, key);
	free(key);
	return 0;
}

/* ---- ownership ------------------------------------------------------------------------------- */

static int sq_owner_add(void *impl, int64_t account, int64_t from, int64_t to, const char *reason,
			const char *note, int64_t by, int64_t sweep, struct dm_err *e)
{
	/* sql_owner_add's statement, bound here: an account created with an owner writes one of
	 * these rows, and building its text through qb for each row of an import with an owner
	 * column (the text, its hash, the statement cache's compare) was ≈ 4 % of the writer. */
	struct sq *sq = impl;
	char now[TIME_STR_LEN];
	if (in_write(sq, e))
		return e->code;
	struct conn *c = sq->wconn;
	sqlite3_stmt *st = stmt_fixed(c, SQL_OWNER_ADD "(?, ?, ?, ?, ?, ?, ?, ?)", e);
	if (!st)
		return e->code;
	time_format(time_now_ms(), now);
	sqlite3_bind_int64(st, 1, account);
	if (from)
		sqlite3_bind_int64(st, 2, from);
	if (to)
		sqlite3_bind_int64(st, 3, to);
	if (reason)
		sqlite3_bind_text(st, 4, reason, -1, SQLITE_STATIC);
	if (note)
		sqlite3_bind_text(st, 5, note, -1, SQLITE_STATIC);
	if (by)
		sqlite3_bind_int64(st, 6, by);
	sqlite3_bind_text(st, 7, now, -1, SQLITE_STATIC);
	if (sweep)
		sqlite3_bind_int64(st, 8, sweep);
	return write_step(c, st, e);
}

static int sq_owner_list(void *impl, int64_t account, json_t **items, struct dm_err *e)
{
	return rows_of(impl, sql_owner_list, account, items, e);
}

static int sq_count_owned(void *impl, int64_t user, int64_t *n, struct dm_err *e)
{
	struct sq *sq = impl;
	struct conn *c = conn_get(sq, e);
	struct qb q;
	json_t *rows = NULL;
	*n = 0;
	if (!c)
		return e->code;
	qb_init(&q, SQL_SQLITE);
	qb_sql(&q, "SELECT count(*) AS n FROM accounts WHERE archived_at IS NULL AND owner_id = ");
	qb_int(&q, user);
	int rc = query_rows(c, &q, &rows, e);
	qb_release(&q);
	if (!rc)
		*n = json_integer_value(json_object_get(json_array_get(rows, 0), "n"));
	json_decref(rows);
	return rc;
}

static int sq_reclaim_candidates(void *impl, json_t *protect, const char *touch_before,
				 const char *deal_before, json_t **items, struct dm_err *e)
{
	struct qb q;
	qb_init(&q, SQL_SQLITE);
	sql_reclaim(&q, protect, touch_before, deal_before);
	return rows_run(impl, &q, items, e);
}

struct agenda_rows {
	agenda_row_fn fn;
	agenda_key_fn key_fn;
	void *arg;
	int64_t *counts;
	size_t n;
};

static int agenda_row_of(void *arg, sqlite3_stmt *st)
{
	struct agenda_rows *a = arg;
	struct agenda_row r = {
		.id = sqlite3_column_int64(st, 0),
		.created_at = (const char *)sqlite3_column_text(st, 1),
		.last_touch_at = (const char *)sqlite3_column_text(st, 2),
		.latest_next_touch = (const char *)sqlite3_column_text(st, 3),
		.open_opps = sqlite3_column_int64(st, 4),
	};
	a->fn(a->arg, &r);
	return 0;
}

static int sq_agenda_candidates(void *impl, const struct viewer *v, int64_t owner,
				const struct agenda_cut *cut, agenda_row_fn fn, void *arg,
				struct dm_err *e)
{
	struct qb q;
	struct agenda_rows a = { .fn = fn, .arg = arg };
	qb_init(&q, SQL_SQLITE);
	sql_agenda_accounts(&q, v, owner, cut);
	return rows_each(impl, &q, agenda_row_of, &a, e);
}

static int agenda_counts_of(void *arg, sqlite3_stmt *st)
{
	struct agenda_rows *a = arg;
	for (size_t i = 0; i < a->n; i++)
		a->counts[i] = sqlite3_column_int64(st, (int)i);
	a->n = 0;   /* read */
	return 1;
}

static int sq_agenda_count(void *impl, const struct viewer *v, int64_t owner,
			   const struct agenda_range *r, size_t n, int64_t *counts,
			   struct dm_err *e)
{
	struct qb q;
	struct agenda_rows a = { .counts = counts, .n = n };
	qb_init(&q, SQL_SQLITE);
	qb_sql(&q, "SELECT ");
	for (size_t i = 0; i < n; i++) {
		qb_sql(&q, i ? ", (" : "(");
		sql_agenda_range(&q, v, owner, &r[i], 1);
		qb_sql(&q, ")");
	}
	int rc = rows_each(impl, &q, agenda_counts_of, &a, e);
	if (!rc && a.n) {   /* a SELECT without FROM answers one row: none is the database's fault */
		log_error("sqlite: the agenda's counts answered no row");
		rc = dm_fail(e, DM_EINTERNAL, NULL, "database error");
	}
	return rc;
}

static int agenda_key_of(void *arg, sqlite3_stmt *st)
{
	struct agenda_rows *a = arg;
	return a->key_fn(a->arg, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
			 (const char *)sqlite3_column_text(st, 2), sqlite3_column_int(st, 3));
}

static int sq_agenda_walk(void *impl, const struct viewer *v, int64_t owner,
			  const struct agenda_range *r, agenda_key_fn fn, void *arg,
			  struct dm_err *e)
{
	struct qb q;
	struct agenda_rows a = { .key_fn = fn, .arg = arg };
	qb_init(&q, SQL_SQLITE);
	sql_agenda_range(&q, v, owner, r, 0);
	return rows_each(impl, &q, agenda_key_of, &a, e);
}

struct agenda_page {
	agenda_page_fn fn;
	void *arg;
};

static int agenda_page_of(void *arg, sqlite3_stmt *st)
{
	struct agenda_page *p = arg;
	int has_contact = sqlite3_column_type(st, 2) != SQLITE_NULL;
	p->fn(p->arg, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
	      has_contact ? sqlite3_column_int64(st, 2) : 0,
	      has_contact ? (const char *)sqlite3_column_text(st, 3) : NULL);
	return 0;
}

static int sq_agenda_accounts(void *impl, const struct viewer *v, int64_t owner,
			      const struct agenda_cut *cut, agenda_page_fn fn, void *arg,
			      struct dm_err *e)
{
	struct qb q;
	struct agenda_page p = { fn, arg };
	qb_init(&q, SQL_SQLITE);
	sql_agenda_accounts(&q, v, owner, cut);
	return rows_each(impl, &q, agenda_page_of, &p, e);
}

static int sq_sweep_add(void *impl, const char *as_of, int64_t by, int64_t *id, struct dm_err *e)
{
	char now[TIME_STR_LEN];
	struct qb q;
	json_t *rows = NULL;
	if (in_write(impl, e))
		return e->code;
	time_format(time_now_ms(), now);
	qb_init(&q, SQL_SQLITE);
	sql_sweep_add(&q, as_of, by, now);
	int rc = rows_run(impl, &q, &rows, e);
	*id = json_integer_value(json_object_get(json_array_get(rows, 0), "id"));
	json_decref(rows);
	return rc;
}

static int sq_sweep_done(void *impl, int64_t id, int64_t moved, struct dm_err *e)
{
	struct qb q;
	if (in_write(impl, e))
		return e->code;
	qb_init(&q, SQL_SQLITE);
	sql_sweep_done(&q, id, moved);
	return exec_run(impl, &q, e);
}

/* ---- bulk loads and backups ------------------------------------------------------------------- */

/* Bind one JSON value as stored: objects and arrays as their JSON text (built in text). */
static void bind_json(sqlite3_stmt *st, int i, json_t *v, struct buf *text)
{
	if (!v || json_is_null(v)) {
		sqlite3_bind_null(st, i);
	} else if (json_is_integer(v)) {
		sqlite3_bind_int64(st, i, json_integer_value(v));
	} else if (json_is_boolean(v)) {
		sqlite3_bind_int(st, i, json_is_true(v));
	} else if (json_is_real(v)) {
		sqlite3_bind_double(st, i, json_real_value(v));
	} else if (json_is_string(v)) {
		sqlite3_bind_text(st, i, json_string_value(v), (int)json_string_length(v), SQLITE_STATIC);
	} else {
		buf_reset(text);
		jsontext_append(text, v);
		sqlite3_bind_text(st, i, text->data, (int)text->len, SQLITE_TRANSIENT);
	}
}

/* The per-row state of store_import_insert for kind k: its columns (looked up once per kind,
 * not by name for every row) and the current time's text (formatted once per millisecond). */
static struct import_row *import_row_of(struct sq *sq, const struct kind *k)
{
	struct import_row *r = &sq->imp;
	if (r->k != k) {
		r->ncols = 0;
		for (size_t f = 0; f < k->nfields; f++)
			if (sql_import_column(&k->fields[f])) {
				if (r->ncols == sizeof r->cols / sizeof r->cols[0])
					abort();   /* a kind with more columns than any of the model's */
				r->cols[r->ncols++] = &k->fields[f];
			}
		r->k = k;
	}
	int64_t ms = time_now_ms();
	if (ms != r->ms || !r->now[0]) {
		time_format(ms, r->now);
		r->ms = ms;
	}
	return r;
}

static int import_audit(struct conn *c, struct import_row *r, int64_t id, int64_t actor,
			json_t *rec, const char *text, size_t len, struct dm_err *e)
{
	sqlite3_stmt *st = stmt_fixed(c, "INSERT INTO audit (object, object_id, actor_id, at, "
				      "action, field, old, new) VALUES (?, ?, ?, ?, 'import', NULL, "
				      "NULL, ?)", e);
	if (!st)
		return e->code;
	if (!text) {
		buf_reset(&r->json);
		if (jsontext_append(&r->json, rec))
			return dm_fail(e, DM_EINTERNAL, NULL, "the %s cannot be written as JSON",
				       r->k->name);
		text = r->json.data;
		len = r->json.len;
	}
	sqlite3_bind_text(st, 1, r->k->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id);
	if (actor)
		sqlite3_bind_int64(st, 3, actor);
	sqlite3_bind_text(st, 4, r->now, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, text, (int)len, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	stmt_done(st);
	return rc == SQLITE_DONE ? 0 : step_error(c, rc, e);
}

static int exec_simple(struct conn *c, const char *sql);

/* Bulk loads of accounts defer their name index to the end (migration 9 says why), and take
 * the accounts' insert triggers away until then: an INSERT that fires a trigger makes SQLite
 * keep a statement journal, a copy of every page the statement changes (the table's and its
 * five indexes' last pages, ≈ 28 KB an account row), so it can undo the statement alone;
 * without one the insert checks every unique index before it writes anything and needs none.
 * What the triggers did is done once for all the rows: the name index at the end, migration
 * 17's segment sums (accounts_segments_ai) at the end and before any change of an account
 * (bulk_flush), so that the update trigger finds the accounts it moves counted. Dropping and
 * creating the triggers are part of the transaction: a load that fails or crashes leaves them
 * as they were. (Readers re-read the schema once after the commit.) */
static const struct {
	const char *name, *drop;
} bulk_triggers[] = {
	{ "accounts_name_fts_ai", "DROP TRIGGER accounts_name_fts_ai" },
	{ "accounts_segments_ai", "DROP TRIGGER accounts_segments_ai" },
};

/* Bulk loads of activities take their three insert triggers away the same way (each fires
 * about twenty statements a row, with a statement journal) and do what they did at the end,
 * set-wise, for the activities of the load (sqlite_bulk_activities: the same rows and sums).
 * All three or none: with one missing (not this schema) the load keeps the triggers. */
static const struct {
	const char *name, *drop;
} bulk_activity_triggers[] = {
	{ "activities_touch_ai", "DROP TRIGGER activities_touch_ai" },
	{ "activities_segments_ai", "DROP TRIGGER activities_segments_ai" },
	{ "activities_touch_agg_ai", "DROP TRIGGER activities_touch_agg_ai" },
};
#define NBULK_ACT (sizeof bulk_activity_triggers / sizeof bulk_activity_triggers[0])

/* Large bulk loads of accounts build the table's secondary indexes once, at their end. Each
 * account row otherwise writes an entry into each of the accounts' five indexes: a seek down
 * every B-tree, an insert into a leaf, and for migration 25's accounts_owner_due its
 * expressions, ≈ 0.19 s of a 100,000-row import's ≈ 1.0 s of writer time (and ≈ 11 MB more
 * of pages in the writer's cache while the rows go in); CREATE INDEX reads the table once per
 * index and writes each index in order, in ≈ 0.11 s for the four non-unique ones. Since it
 * reads the whole table, a load drops them only once it has inserted more rows than the table
 * held before it (and more than BULK_INDEX_ROWS): a load into a large table keeps them, and the
 * rebuild reads at most the load's rows twice over. Unique indexes stay (they find duplicate
 * names, the rules' answer for them). Dropping and creating them are part of the load's
 * transaction, as for the triggers: a load that fails, is a dry run or crashes leaves them as
 * they were; a load that commits leaves the same index entries as rows inserted one by one
 * (test_store bulk_load_builds_the_indexes_at_its_end). They are created again at the start of
 * bulk_end, before the segment sums' statement is planned, so that the connection's query
 * planner has seen them when PRAGMA optimize decides what to analyze at close (sqlite_stat1
 * comes out as without the drop). */
#define BULK_INDEX_ROWS 2000

/* The accounts' non-unique indexes go away for the rest of the load (once per load), kept in
 * sq->bulk.idx with their statistics. One that cannot be dropped (none should fail) stays, and
 * so do the ones after it: the load goes on with them. */
static void bulk_indexes_off(struct sq *sq)
{
	struct conn *c = sq->wconn;
	sqlite3_stmt *st = NULL;
	struct bulk_index *ix = NULL;
	size_t n = 0;
	sq->bulk.idx_tried = 1;
	if (sqlite3_prepare_v2(c->db, "SELECT s.name, s.sql FROM sqlite_schema s JOIN "
			       "pragma_index_list('accounts') l ON l.name = s.name WHERE s.type = "
			       "'index' AND s.sql IS NOT NULL AND l.\"unique\" = 0 AND l.origin = 'c' "
			       "ORDER BY s.rowid", -1, &st, NULL) == SQLITE_OK)
		while (sqlite3_step(st) == SQLITE_ROW) {
			ix = xrealloc(ix, (n + 1) * sizeof *ix);
			ix[n].name = xstrdup((const char *)sqlite3_column_text(st, 0));
			ix[n].sql = xstrdup((const char *)sqlite3_column_text(st, 1));
			ix[n++].stat = NULL;
		}
	sqlite3_finalize(st);
	st = NULL;
	/* sqlite_stat1 exists once something ran ANALYZE (PRAGMA optimize at close) */
	if (n && sqlite3_prepare_v2(c->db, "SELECT stat FROM sqlite_stat1 WHERE tbl = 'accounts' "
				    "AND idx = ?", -1, &st, NULL) == SQLITE_OK)
		for (size_t i = 0; i < n; i++) {
			sqlite3_bind_text(st, 1, ix[i].name, -1, SQLITE_STATIC);
			if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
				ix[i].stat = xstrdup((const char *)sqlite3_column_text(st, 0));
			sqlite3_reset(st);
		}
	sqlite3_finalize(st);
	sq->bulk.idx = ix;
	for (size_t i = 0; i < n; i++) {
		char *drop = sqlite3_mprintf("DROP INDEX \"%w\"", ix[i].name);
		if (!drop || !ix[i].sql[0] || exec_simple(c, drop) != SQLITE_OK) {
			sqlite3_free(drop);
			break;
		}
		sqlite3_free(drop);
		sq->bulk.nidx++;
	}
	for (size_t i = sq->bulk.nidx; i < n; i++) {
		free(ix[i].name);
		free(ix[i].sql);
		free(ix[i].stat);
	}
}

/* At the end of the load: the indexes bulk_indexes_off dropped, created again, with their rows
 * of sqlite_stat1, which the connection's query planner then reads again (as after a commit
 * of ANALYZE): plans and PRAGMA optimize see what they would have seen without the drop. */
static int bulk_indexes_on(struct sq *sq)
{
	struct conn *c = sq->wconn;
	int rc = SQLITE_OK, stats = 0;
	for (size_t i = 0; rc == SQLITE_OK && i < sq->bulk.nidx; i++) {
		struct bulk_index *ix = &sq->bulk.idx[i];
		if ((rc = exec_simple(c, ix->sql)) != SQLITE_OK || !ix->stat)
			continue;
		sqlite3_stmt *st = NULL;
		rc = sqlite3_prepare_v2(c->db, "INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES "
					"('accounts', ?, ?)", -1, &st, NULL);
		if (rc == SQLITE_OK) {
			sqlite3_bind_text(st, 1, ix->name, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, ix->stat, -1, SQLITE_STATIC);
			rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(c->db);
		}
		sqlite3_finalize(st);
		stats = 1;
	}
	if (rc == SQLITE_OK && stats)
		rc = exec_simple(c, "ANALYZE sqlite_schema");
	return rc;
}

/* The SQL that created trigger name, or NULL when there is none. */
static char *trigger_sql(struct conn *c, const char *name)
{
	struct dm_err e;
	char *out = NULL;
	sqlite3_stmt *st = stmt_get(c, "SELECT sql FROM sqlite_schema WHERE type = 'trigger' AND "
				    "name = ?", &e);
	if (!st)
		return NULL;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		out = xstrdup((const char *)sqlite3_column_text(st, 0));
	stmt_done(st);
	return out;
}

/* The next id of a table (accounts, activities): the first that a bulk load beginning now
 * inserts. */
static int64_t next_id(struct conn *c, const char *sql)
{
	struct dm_err e;
	int64_t id = 1;
	sqlite3_stmt *st = stmt_get(c, sql, &e);
	if (st && sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	stmt_done(st);
	return id;
}

static int64_t next_account_id(struct conn *c)
{
	return next_id(c, "SELECT IFNULL(max(id), 0) + 1 FROM accounts");
}

/* The bulk load's accounts not yet in agg_segments go in (their insert trigger is away). */
static int bulk_flush(struct sq *sq, struct dm_err *e)
{
	struct conn *c = sq->wconn;
	if (!sq->bulk.on || sq->bulk.k != &kind_account || !sq->bulk.sql[1])
		return 0;
	sqlite3_stmt *st = stmt_fixed(c, sqlite_bulk_segments, e);
	if (!st)
		return e->code;
	sqlite3_bind_int64(st, 1, sq->bulk.seg_from);
	int rc = sqlite3_step(st);
	stmt_done(st);
	if (rc != SQLITE_DONE)
		return step_error(c, rc, e);
	sq->bulk.seg_from = next_account_id(c);
	return 0;
}

/* Forget a bulk load: at its end, or when its callback returned (rolled back, or, against
 * store_bulk_begin's contract, without its end: then 1, and the callback must fail). */
static int bulk_reset(struct sq *sq)
{
	int was_on = sq->bulk.on;
	for (size_t i = 0; i < sizeof sq->bulk.sql / sizeof sq->bulk.sql[0]; i++) {
		free(sq->bulk.sql[i]);
		sq->bulk.sql[i] = NULL;
	}
	for (size_t i = 0; i < sq->bulk.nidx; i++) {
		free(sq->bulk.idx[i].name);
		free(sq->bulk.idx[i].sql);
		free(sq->bulk.idx[i].stat);
	}
	free(sq->bulk.idx);
	sq->bulk.idx = NULL;
	sq->bulk.nidx = 0;
	sq->bulk.idx_tried = 0;
	sq->bulk.rows = 0;
	sq->bulk.idx_at = 0;
	sq->bulk.on = 0;
	sq->bulk.k = NULL;
	return was_on;
}

static int bulk_begin(struct sq *sq)
{
	struct conn *c = sq->wconn;
	int rc = step_simple(c, "INSERT INTO name_index_defer(first_id) SELECT IFNULL(max(id), 0) + 1 "
			     "FROM accounts");
	bulk_reset(sq);
	sq->bulk.on = 1;
	sq->bulk.k = &kind_account;
	sq->bulk.seg_from = next_account_id(c);
	sq->bulk.idx_at = sq->bulk.seg_from - 1 > BULK_INDEX_ROWS ? sq->bulk.seg_from - 1 :
			  BULK_INDEX_ROWS;
	for (size_t i = 0; !rc && i < sizeof bulk_triggers / sizeof bulk_triggers[0]; i++)
		if ((sq->bulk.sql[i] = trigger_sql(c, bulk_triggers[i].name)))
			rc = exec_simple(c, bulk_triggers[i].drop);
	return rc;
}

static int bulk_end(struct sq *sq, struct dm_err *e)
{
	struct conn *c = sq->wconn;
	int rc = bulk_indexes_on(sq);
	if (rc)
		return step_error(c, rc, e);
	if ((rc = bulk_flush(sq, e)))
		return rc;
	for (size_t i = 0; !rc && i < sizeof bulk_triggers / sizeof bulk_triggers[0]; i++)
		if (sq->bulk.sql[i])
			rc = exec_simple(c, sq->bulk.sql[i]);
	bulk_reset(sq);
	if (!rc)
		rc = step_simple(c, "INSERT INTO accounts_name_fts(rowid, name_key) SELECT id, name_key "
				 "FROM accounts WHERE id >= (SELECT min(first_id) FROM name_index_defer)");
	if (!rc)
		rc = step_simple(c, "DELETE FROM name_index_defer");
	return rc ? step_error(c, rc, e) : 0;
}

static int bulk_activities_begin(struct sq *sq)
{
	struct conn *c = sq->wconn;
	int rc = 0;
	bulk_reset(sq);
	sq->bulk.on = 1;
	sq->bulk.k = &kind_activity;
	sq->bulk.seg_from = next_id(c, "SELECT IFNULL(max(id), 0) + 1 FROM activities");
	for (size_t i = 0; i < NBULK_ACT; i++)
		sq->bulk.sql[i] = trigger_sql(c, bulk_activity_triggers[i].name);
	for (size_t i = 0; i < NBULK_ACT; i++)
		if (!sq->bulk.sql[i]) {
			bulk_reset(sq);   /* not all three: keep them, nothing is deferred */
			sq->bulk.on = 1;
			sq->bulk.k = &kind_activity;
			return 0;
		}
	for (size_t i = 0; !rc && i < NBULK_ACT; i++)
		rc = exec_simple(c, bulk_activity_triggers[i].drop);
	return rc;
}

static int bulk_activities_end(struct sq *sq, struct dm_err *e)
{
	struct conn *c = sq->wconn;
	int rc = 0;
	if (sq->bulk.sql[0]) {
		for (const char *const *sql = sqlite_bulk_activities; !rc && *sql; sql++) {
			sqlite3_stmt *st = stmt_fixed(c, *sql, e);
			if (!st)
				return e->code;
			sqlite3_bind_int64(st, 1, sq->bulk.seg_from);
			rc = sqlite3_step(st);
			stmt_done(st);
			rc = rc == SQLITE_DONE ? 0 : rc;
		}
		for (size_t i = 0; !rc && i < NBULK_ACT; i++)
			rc = exec_simple(c, sq->bulk.sql[i]);
	}
	bulk_reset(sq);
	return rc ? step_error(c, rc, e) : 0;
}

static int sq_bulk(void *impl, const struct kind *k, int on, struct dm_err *e)
{
	struct sq *sq = impl;
	if (in_write(sq, e))
		return e->code;
	if (k != &kind_account && k != &kind_activity)
		return 0;
	if (!on)
		return k == &kind_activity ? bulk_activities_end(sq, e) : bulk_end(sq, e);
	int rc = k == &kind_activity ? bulk_activities_begin(sq) : bulk_begin(sq);
	return rc ? step_error(sq->wconn, rc, e) : 0;
}

/* The writer's page cache, in KiB: WRITER_CACHE_KIB, or more for a bulk load (store_bulk_memory).
 * The writer touches every index of every table it writes. */
#define WRITER_CACHE_KIB 65536

static int writer_cache(struct conn *c, int64_t kib)
{
	char sql[64];
	snprintf(sql, sizeof sql, "PRAGMA cache_size = -%lld",
		 (long long)(kib > WRITER_CACHE_KIB ? kib : WRITER_CACHE_KIB));
	return exec_simple(c, sql);
}

static int sq_bulk_memory(void *impl, int64_t bytes, struct dm_err *e)
{
	struct sq *sq = impl;
	if (in_write(sq, e))
		return e->code;
	int rc = writer_cache(sq->wconn, bytes / 1024);
	/* the process's soft heap limit (sq_open) would recycle that cache's pages past 256 MB */
	if (rc == SQLITE_OK && bytes > 0)
		sqlite3_soft_heap_limit64(SQLITE_HEAP_SOFT_LIMIT + bytes);
	return rc == SQLITE_OK ? 0 : step_error(sq->wconn, rc, e);
}

static int sq_import_insert(void *impl, const struct kind *k, json_t *rec, int64_t actor,
			    const char *audit, size_t audit_len, int64_t *id, struct dm_err *e)
{
	struct sq *sq = impl;
	if (in_write(sq, e))
		return e->code;
	struct conn *c = sq->wconn;
	if (k == &kind_account && sq->bulk.on && sq->bulk.k == &kind_account &&
	    !sq->bulk.idx_tried && ++sq->bulk.rows > sq->bulk.idx_at)
		bulk_indexes_off(sq);
	sqlite3_stmt *st = stmt_fixed(c, sql_import(k, SQL_SQLITE), e);
	if (!st)
		return e->code;
	struct import_row *r = import_row_of(sq, k);
	char *key = name_key_of(k, rec);
	int n = 1;
	sqlite3_bind_text(st, n++, r->now, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, n++, r->now, -1, SQLITE_STATIC);
	if (key)
		sqlite3_bind_text(st, n++, key, -1, SQLITE_STATIC);
	for (size_t f = 0; f < r->ncols; f++)
		bind_json(st, n++, json_object_get(rec, r->cols[f]->name), &r->json);
	int s = sqlite3_step(st);
	int ext = sqlite3_extended_errcode(c->db);
	stmt_done(st);
	int rc = 0;
	if (s != SQLITE_DONE) {
		if (ext == SQLITE_CONSTRAINT_UNIQUE)
			rc = duplicate(c, k, rec, key, e);
		else if (ext == SQLITE_CONSTRAINT_FOREIGNKEY)
			rc = dm_fail(e, DM_ENOTFOUND, NULL, "a referenced record does not exist");
		else
			rc = step_error(c, s, e);
	} else {
		*id = sqlite3_last_insert_rowid(c->db);
		rc = import_audit(c, r, *id, actor, rec, audit, audit_len, e);
	}
	free(key);
	return rc;
}

/* Copy the main database of src into dst in one step: one read snapshot, so the copy is
 * consistent even while the writer thread commits (WAL readers do not block writers). */
static int copy_db(sqlite3 *dst, sqlite3 *src, struct dm_err *e)
{
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
	if (!b)
		return dm_fail(e, DM_EINTERNAL, NULL, "backup: %s", sqlite3_errmsg(dst));
	int rc = sqlite3_backup_step(b, -1);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE)
		return dm_fail(e, rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? DM_EUNAVAILABLE :
			       DM_EINTERNAL, NULL, "backup: %s", sqlite3_errstr(rc));
	return 0;
}

static int sq_backup(void *impl, const char *path, struct dm_err *e)
{
	struct sq *sq = impl;
	sqlite3 *dst = NULL;
	int rc;
	struct conn *c = conn_get(sq, e);
	if (!c)
		return e->code;
	if (access(path, F_OK) == 0) {
		rc = dm_fail(e, DM_EPARAM, "out", "%s exists already: a backup never overwrites", path);
		goto out;
	}
	if (sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		rc = dm_fail(e, DM_EPARAM, "out", "cannot create %s: %s", path,
			     dst ? sqlite3_errmsg(dst) : "out of memory");
		goto out;
	}
	rc = copy_db(dst, c->db, e);
out:
	sqlite3_close_v2(dst);
	return rc;
}

/* The first column of the first row of sql on db, as text (caller frees); NULL on error. */
static char *pragma_text(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	char *out = NULL;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		out = xstrdup((const char *)sqlite3_column_text(st, 0) ?: "");
	sqlite3_finalize(st);
	return out;
}

int store_sqlite_file_check(const char *path, int *version, struct dm_err *e)
{
	sqlite3 *db = NULL;
	char *ok = NULL, *ver = NULL, *accounts = NULL;
	int rc = 0;
	*version = 0;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		rc = dm_fail(e, DM_EPARAM, "in", "cannot open %s", path);
		goto out;
	}
	ok = pragma_text(db, "PRAGMA integrity_check");
	if (!ok || strcmp(ok, "ok")) {
		rc = dm_fail(e, DM_EINVAL, "in", "%s fails the integrity check: %.200s", path,
			     ok ? ok : sqlite3_errmsg(db));
		goto out;
	}
	ver = pragma_text(db, "PRAGMA user_version");
	accounts = pragma_text(db, "SELECT count(*) FROM sqlite_master WHERE name = 'accounts'");
	*version = ver ? atoi(ver) : 0;
	if (!accounts || strcmp(accounts, "1") || *version < 1)
		rc = dm_fail(e, DM_EINVAL, "in", "%s is not a dealmap database", path);
	else if (*version > sqlite_migration_count)
		rc = dm_fail(e, DM_ESCHEMA, "in", "%s has schema version %d, newer than this dealmap "
			     "(%d): use a newer dealmap", path, *version, sqlite_migration_count);
out:
	free(ok);
	free(ver);
	free(accounts);
	sqlite3_close_v2(db);
	return rc;
}

int store_sqlite_file_restore(const char *path, const char *from, struct dm_err *e)
{
	sqlite3 *src = NULL, *dst = NULL;
	int version, rc;
	if ((rc = store_sqlite_file_check(from, &version, e)))
		return rc;
	if (sqlite3_open_v2(from, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		rc = dm_fail(e, DM_EUNAVAILABLE, "db", "cannot open %s or %s", from, path);
		goto out;
	}
	sqlite3_busy_timeout(dst, 10000);
	rc = copy_db(dst, src, e);
out:
	sqlite3_close_v2(src);
	sqlite3_close_v2(dst);
	return rc;
}

static int sq_analytics(void *impl, const char *name, const struct an_params *p, json_t **rows,
			struct dm_err *e)
{
	struct qb q;
	*rows = NULL;
	qb_init(&q, SQL_SQLITE);
	if (sql_analytics(&q, name, p, e)) {
		qb_release(&q);
		return e->code;
	}
	return rows_run(impl, &q, rows, e);
}

static int sq_team_in_reach(void *impl, const struct viewer *v, int64_t team, int *yes,
			    struct dm_err *e)
{
	struct qb q;
	struct conn *c = conn_get(impl, e);
	int rc = 0;
	*yes = 0;
	if (!c)
		return e->code;
	qb_init(&q, SQL_SQLITE);
	sql_team_in_reach(&q, v, team);
	sqlite3_stmt *st = qb_prepare(&q, c, e);
	if (!st) {
		rc = e->code;
	} else {
		int s = sqlite3_step(st);
		if (s == SQLITE_ROW)
			*yes = 1;
		else if (s != SQLITE_DONE)
			rc = step_error(c, s, e);
		stmt_done(st);
	}
	qb_release(&q);
	return rc;
}

/* ---- the funnel: statements of fixed text, the rows summed in C ------------------------------
 * What the four named funnel queries compute (sqlbuild.c an_funnel_open ...), without their text
 * built per request (the period's dates and the rates formatted, the text hashed to find its
 * statement), their GROUP BY's sorter over a UNION ALL, and a JSON object per row: agg_open's
 * rows of the key, then one statement per range of the period's cover reading the three period
 * tables at once; the signed sums per stage and rank here. */

static int funnel_stage(const unsigned char *t)
{
	for (int k = 0; t && k < FUNNEL_STAGES; k++)
		if (!strcmp((const char *)t, model_stages[k]))
			return k;
	return -1;
}

/* SQLite's integer sum() fails on overflow ("integer overflow"): so does this */
static void add_to(int64_t *sum, int64_t v, int *overflow)
{
	if (__builtin_add_overflow(*sum, v, sum))
		*overflow = 1;
}

/* the rate of stage t as rate_of's CASE reads it: the first of p's rates for the stage, or 0 */
static int64_t funnel_rate(const struct an_params *p, const char *t)
{
	for (size_t i = 0; i < p->nrates; i++)
		if (p->rates[i].stage && !strcmp(p->rates[i].stage, t))
			return p->rates[i].rate;
	return 0;
}

static int sq_funnel(void *impl, const struct an_params *p, struct funnel_sums *out,
		     struct dm_err *e)
{
	struct conn *c = conn_get(impl, e);
	struct an_range r[16];
	int64_t key = sql_funnel_key(p), cyc[2] = { 0, 0 }, stay[FUNNEL_STAGES] = { 0 };
	int overflow = 0, s = SQLITE_DONE;
	if (!c)
		return e->code;
	int nr = sql_funnel_ranges(p, r, (int)(sizeof r / sizeof r[0]));
	sqlite3_stmt *st = stmt_fixed(c, sql_funnel_open, e);
	if (!st)
		return e->code;
	sqlite3_bind_int64(st, 1, key);
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		int k = funnel_stage((const unsigned char *)t);
		if (k < 0)
			continue;
		int64_t cents = sqlite3_column_int64(st, 1), n = sqlite3_column_int64(st, 2),
			amount = sqlite3_column_int64(st, 3), rate = funnel_rate(p, t), w = 0, x = 0;
		/* agg_weighted: (amount - n cents) / 100 x rate + n x ((cents x rate + 50) / 100) */
		if (__builtin_mul_overflow(n, cents, &x) || __builtin_sub_overflow(amount, x, &x) ||
		    __builtin_mul_overflow(x / 100, rate, &w) ||
		    __builtin_mul_overflow(cents, rate, &x) || __builtin_add_overflow(x, 50, &x) ||
		    __builtin_mul_overflow(n, x / 100, &x) || __builtin_add_overflow(w, x, &w))
			overflow = 1;
		add_to(&out->open[k].count, n, &overflow);
		add_to(&out->open[k].amount, amount, &overflow);
		add_to(&out->open[k].weighted, w, &overflow);
	}
	stmt_done(st);
	for (int i = 0; s == SQLITE_DONE && i < nr; i++) {
		if (!(st = stmt_fixed(c, sql_funnel_range[r[i].level], e)))
			return e->code;
		sqlite3_bind_int64(st, 1, key);
		sqlite3_bind_text(st, 2, r[i].lo, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, r[i].hi, -1, SQLITE_STATIC);
		int64_t sign = r[i].sign;
		while ((s = sqlite3_step(st)) == SQLITE_ROW) {
			int64_t n = sign * sqlite3_column_int64(st, 2),
				a = sign * sqlite3_column_int64(st, 3);
			switch (sqlite3_column_int(st, 0)) {
			case 0: {   /* agg_closed: stage won|lost, n, amount, cycle_ms */
				const char *t = (const char *)sqlite3_column_text(st, 1);
				int won = t && !strcmp(t, "won");
				if (!won && !(t && !strcmp(t, "lost")))
					break;
				struct funnel_closed *fc = won ? &out->won : &out->lost;
				add_to(&fc->count, n, &overflow);
				add_to(&fc->amount, a, &overflow);
				add_to(&cyc[!won], sign * sqlite3_column_int64(st, 4), &overflow);
				break;
			}
			case 1: {   /* agg_reach: rank, n */
				int64_t rank = sqlite3_column_int64(st, 1);
				if (rank >= 0)
					add_to(&out->reach[rank < 7 ? rank : 7], n, &overflow);
				break;
			}
			case 2: {   /* agg_stays: stage, n, stay_ms */
				int k = funnel_stage(sqlite3_column_text(st, 1));
				if (k >= 0) {
					add_to(&out->stays[k].stays, n, &overflow);
					add_to(&stay[k], a, &overflow);
				}
				break;
			}
			}
		}
		stmt_done(st);
	}
	if (s != SQLITE_DONE)
		return step_error(c, s, e);
	if (overflow)
		return dm_fail(e, DM_EINTERNAL, NULL, "the funnel's sums overflow");
	/* HAVING sum(n) <> 0: a stage whose count sums to 0 is not in the queries' answer; the
	 * averages as SQLite computes sum(ms) / 86400000.0 / sum(n) */
	for (int k = 0; k < FUNNEL_STAGES; k++) {
		if (!out->open[k].count)
			out->open[k].amount = out->open[k].weighted = 0;
		if ((out->stays[k].has_avg = out->stays[k].stays != 0))
			out->stays[k].avg_days = (double)stay[k] / 86400000.0 /
						 (double)out->stays[k].stays;
	}
	struct funnel_closed *fc[2] = { &out->won, &out->lost };
	for (int w = 0; w < 2; w++) {
		if (!fc[w]->count)
			fc[w]->amount = 0;
		if ((fc[w]->has_cycle = fc[w]->count != 0))
			fc[w]->avg_cycle_days = (double)cyc[w] / 86400000.0 / (double)fc[w]->count;
	}
	return 0;
}

/* ---- the writer thread: group commit ---------------------------------------------------------- */

static int exec_simple(struct conn *c, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(c->db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		log_error("sqlite: %s: %s", sql, msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		if (storage_failure(rc))
			c->failure = storage_failure(rc);
	}
	return rc;
}

/* exec_simple for one statement of the writer's every batch or job (BEGIN, SAVEPOINT, COMMIT),
 * prepared once: sqlite3_exec parsed each again, ≈ 3 % of the writer's time. */
static int exec_cached(struct conn *c, const char *sql)
{
	int rc = step_simple(c, sql);
	if (rc != SQLITE_OK) {
		log_error("sqlite: %s: %s", sql, sqlite3_errmsg(c->db));
		if (storage_failure(rc))
			c->failure = storage_failure(rc);
	}
	return rc;
}

/* ---- deferred activity sums ------------------------------------------------------------------
 *
 * The three insert triggers of the activities (migrations 17, 18, 20) upsert about twenty rows
 * an activity: the user's and the company's day and channel counts, the account's segment rows
 * under its owner, team and company, its touch pairs and facts. Under POST /activities a batch
 * of some thirty activities of one rep upserts the same day, channel and segment rows thirty
 * times each. Inside a batch the writer instead inserts a row into activity_defer before the
 * first activity, which quiets the triggers (migration 23), and does their work once for all
 * the activities from that one on with the statements of a bulk load of activities
 * (sqlite_bulk_activities: the same rows and sums as the triggers, test_97), before anything
 * else reads or writes (in_write, conn_get: everything but an activity's insert and
 * sq_account_access) and before the COMMIT. A job rolled back to its savepoint takes the state
 * back to where it began (run_batch). */
static int defer_start(struct sq *sq, struct dm_err *e)
{
	struct conn *c = sq->wconn;
	if (sq->defer.on || !sq->defer.batch || sq->bulk.on)
		return 0;
	if (!sq->defer.ok) {
		sqlite3_stmt *st = stmt_get(c, "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND "
					    "name = 'activity_defer'", e);
		if (!st)
			return e->code;
		sq->defer.ok = sqlite3_step(st) == SQLITE_ROW;
		stmt_done(st);
		if (!sq->defer.ok)
			return 0;   /* an older schema: the triggers do it all */
	}
	int64_t from = next_id(c, "SELECT IFNULL(max(id), 0) + 1 FROM activities");
	sqlite3_stmt *st = stmt_get(c, "INSERT INTO activity_defer (first_id) VALUES (?)", e);
	if (!st)
		return e->code;
	sqlite3_bind_int64(st, 1, from);
	int rc = sqlite3_step(st);
	stmt_done(st);
	if (rc != SQLITE_DONE)
		return step_error(c, rc, e);
	sq->defer.on = 1;
	sq->defer.from = from;
	return 0;
}

/* The pending sums in, the triggers awake again; nothing when none are pending. */
static int defer_flush(struct sq *sq, struct dm_err *e)
{
	struct conn *c = sq->wconn;
	int rc = SQLITE_DONE;
	if (!sq->defer.on || sq->defer.hold)
		return 0;
	for (const char *const *sql = sqlite_bulk_activities; rc == SQLITE_DONE && *sql; sql++) {
		sqlite3_stmt *st = stmt_fixed(c, *sql, e);
		if (!st)
			return e->code;
		sqlite3_bind_int64(st, 1, sq->defer.from);
		rc = sqlite3_step(st);
		stmt_done(st);
	}
	if (rc == SQLITE_DONE)
		rc = step_simple(c, "DELETE FROM activity_defer");
	else if (rc == SQLITE_OK)
		rc = SQLITE_ERROR;
	if (rc != SQLITE_OK && rc != SQLITE_DONE)
		return step_error(c, rc, e);
	sq->defer.on = 0;
	return 0;
}

/* Fail a job the writer could not commit; a job that failed by itself keeps its own error. */
static void job_fail(struct job *j, const char *why)
{
	if (!j->rc || j->why) {
		j->rc = DM_EUNAVAILABLE;
		j->why = why;
	}
}

/* Run one batch of jobs in one transaction; each job under its own savepoint. A storage failure
 * (disk full, read-only, I/O error) may make SQLite roll the whole transaction back: then every
 * job of the batch fails with the cause, so no 2xx answers a write that is not on disk. */
static void run_batch(struct sq *sq, struct job *batch)
{
	struct conn *c = sq->wconn;
	/* A job alone in its batch runs without a savepoint (its failure rolls the transaction
	 * back). Under an open savepoint SQLite keeps, for the savepoint, the journal of every
	 * page each statement changes: an import of 100,000 accounts (one job) wrote 1.1 million
	 * pages (≈ 4.5 GB) to a temporary file, 30 % of its time. Without one, each statement's
	 * journal is dropped when the statement ends and stays in memory. */
	int alone = !batch->next, open_txn;
	const char *why = NULL;
	int rc;
	c->failure = NULL;
	if ((rc = exec_cached(c, "BEGIN IMMEDIATE")) != SQLITE_OK)
		why = c->failure ? c->failure : "the database cannot start a write; try again";
	open_txn = !why;
	sq->defer.batch = open_txn;
	sq->defer.on = 0;
	for (struct job *j = batch; j; j = j->next) {
		if (why) {
			job_fail(j, why);
			continue;
		}
		if (!alone)
			exec_cached(c, "SAVEPOINT job");
		int defer_on = sq->defer.on;   /* as the savepoint finds it */
		int64_t defer_from = sq->defer.from;
		tls_writing = sq;
		j->rc = j->fn(sq->store, j->arg);
		tls_writing = NULL;
		if (bulk_reset(sq) && !j->rc) {
			log_error("a store_write callback began a bulk load without ending it");
			j->rc = DM_EINTERNAL;   /* rolled back: the triggers stay */
		}
		if (j->rc && sqlite3_get_autocommit(c->db)) {
			why = c->failure ? c->failure : "the write transaction was rolled back; try again";
			for (struct job *k = batch; k != j; k = k->next)
				job_fail(k, why);
			continue;
		}
		if (j->rc && alone) {
			exec_simple(c, "ROLLBACK");
			open_txn = 0;
		} else if (j->rc) {
			exec_cached(c, "ROLLBACK TO job");
			sq->defer.on = defer_on;
			sq->defer.from = defer_from;
		}
		if (!alone)
			exec_cached(c, "RELEASE job");
	}
	if (!why && open_txn && sq->defer.on) {
		struct dm_err fe;
		tls_writing = sq;
		rc = defer_flush(sq, &fe);
		tls_writing = NULL;
		if (rc) {
			why = c->failure ? c->failure : "the write transaction was rolled back; try again";
			if (!sqlite3_get_autocommit(c->db))
				exec_simple(c, "ROLLBACK");
			open_txn = 0;
			for (struct job *j = batch; j; j = j->next)
				job_fail(j, why);
		}
	}
	sq->defer.batch = 0;
	sq->defer.on = 0;
	if (!why && open_txn && (rc = exec_cached(c, "COMMIT")) != SQLITE_OK) {
		why = c->failure ? c->failure : "the database could not commit; try again";
		if (!sqlite3_get_autocommit(c->db))
			exec_simple(c, "ROLLBACK");
		for (struct job *j = batch; j; j = j->next)
			job_fail(j, why);
	}
	gen_publish(sq);   /* before the waiters wake: their next requests find it */
	if (sq->settings_dirty) {
		setting_cache_clear(sq);
		sq->settings_dirty = 0;
	}
}

static void *writer_main(void *arg)
{
	struct sq *sq = arg;
	prctl(PR_SET_NAME, "dm-writer");   /* for top and perf */
	pthread_mutex_lock(&sq->mu);
	for (;;) {
		while (!sq->head && !sq->stop)
			pthread_cond_wait(&sq->wake, &sq->mu);
		if (!sq->head && sq->stop)
			break;
		struct job *batch = sq->head, *last = batch;
		int n = 1;
		while (last->next && n < BATCH_MAX) {
			last = last->next;
			n++;
		}
		sq->head = last->next;
		if (!sq->head)
			sq->tail = NULL;
		last->next = NULL;
		pthread_mutex_unlock(&sq->mu);
		run_batch(sq, batch);
		for (struct job *j = batch; j;) {
			struct job *next = j->next;   /* j belongs to its waiter once posted */
			sem_post(&j->done);
			j = next;
		}
		pthread_mutex_lock(&sq->mu);
	}
	pthread_mutex_unlock(&sq->mu);
	return NULL;
}

/* ---- checkpoints: the WAL copied back into the database off the writer's thread ---------- */

/* SQLite's automatic checkpoint (at 1,000 pages) ran on the writer thread after the commit that
 * crossed it: the copy of the WAL's pages into the database file and its fsync, ≈ 18 % of the
 * writer's time under POST /activities at full scale, where those pages lie all over a 12 GB
 * file. Instead the commit that crosses CKPT_FRAMES wakes ckpt_main, which checkpoints (PASSIVE:
 * it never blocks the writer) on a connection of its own. A checkpoint copies only the frames
 * committed before it began, and SQLite starts the WAL again from its beginning only after one
 * copied every frame, which one running beside a busy writer rarely does: when the WAL reaches
 * CKPT_FRAMES_WRITER the writer checkpoints itself, as before, copying just what the thread
 * left (or skipping, if the thread is at it), so the WAL stays bounded. A single commit that
 * added CKPT_FRAMES_WRITER pages by itself (an import: 15,000 pages for 100,000 accounts) wakes
 * an idle thread instead: its answer need not wait for the copy, and no other commit is racing
 * the thread to the WAL's end (an import of 100,000 accounts adds ≈ 15,000 pages).
 *
 * Every 8,000 pages (32 MB of WAL; 128 MB at most), not 1,000: under POST /activities the
 * same pages (the bench's accounts' index leaves, the day's sums) are written again and
 * again, and a checkpoint copies each once however often the WAL holds it, so a longer
 * interval copies fewer pages an activity: the checkpoint thread ≈ 2 µs of CPU a POST instead
 * of ≈ 9, the disk's writeback no longer slowing the commits' syncs, and 11,474–15,032 against
 * 9,540–11,488 POST/s in four alternated pairs (BENCHMARKS fix 61). */
#define CKPT_FRAMES 8000
#define CKPT_FRAMES_WRITER 32000
static int ckpt_frames = CKPT_FRAMES, ckpt_frames_writer = CKPT_FRAMES_WRITER;

void store_sqlite_checkpoint_pages(int thread, int writer)
{
	ckpt_frames = thread ? thread : CKPT_FRAMES;
	ckpt_frames_writer = writer ? writer : CKPT_FRAMES_WRITER;
}

static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct sq *sq = arg;
	if (frames < sq->ckpt_mark - ckpt_frames)   /* the WAL started again */
		sq->ckpt_mark = ckpt_frames;
	int busy = 1, grew = frames - sq->ckpt_last;
	sq->ckpt_last = frames;
	if (grew >= ckpt_frames_writer && sq->ckpt_started) {
		pthread_mutex_lock(&sq->ckpt_mu);
		busy = sq->ckpt_busy || sq->ckpt_want;
		pthread_mutex_unlock(&sq->ckpt_mu);
	}
	if ((frames >= ckpt_frames_writer && busy) || !sq->ckpt_started) {
		if (frames >= ckpt_frames)
			sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	} else if (frames >= sq->ckpt_mark) {
		/* once per ckpt_frames of growth: a checkpoint after every commit copied the hot
		 * pages again each time, and synced the database file each time */
		sq->ckpt_mark = frames + ckpt_frames;
		pthread_mutex_lock(&sq->ckpt_mu);
		sq->ckpt_want = 1;
		pthread_cond_signal(&sq->ckpt_wake);
		pthread_mutex_unlock(&sq->ckpt_mu);
	}
	return SQLITE_OK;   /* as SQLite's own hook: a failed checkpoint is retried later */
}

static void *ckpt_main(void *arg)
{
	struct sq *sq = arg;
	prctl(PR_SET_NAME, "dm-checkpoint");   /* for top and perf */
	pthread_mutex_lock(&sq->ckpt_mu);
	for (;;) {
		while (!sq->ckpt_want && !sq->ckpt_stop)
			pthread_cond_wait(&sq->ckpt_wake, &sq->ckpt_mu);
		if (sq->ckpt_stop)
			break;
		sq->ckpt_want = 0;
		sq->ckpt_busy = 1;
		pthread_mutex_unlock(&sq->ckpt_mu);
		/* again while commits made during the last one remain (a few, so it soon copies
		 * every frame, and the writer's next transaction starts the WAL again) */
		int log = 0, done = 0;
		for (int i = 0; i < 4; i++)
			if (sqlite3_wal_checkpoint_v2(sq->cconn->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
						      &log, &done) != SQLITE_OK || done >= log)
				break;
		pthread_mutex_lock(&sq->ckpt_mu);
		sq->ckpt_busy = 0;
	}
	pthread_mutex_unlock(&sq->ckpt_mu);
	return NULL;
}

/* Start the checkpoint thread; without it (no connection, no thread) the writer checkpoints. */
static void ckpt_start(struct sq *sq)
{
	struct dm_err e;
	sq->ckpt_mark = ckpt_frames;
	sqlite3_wal_hook(sq->wconn->db, wal_hook, sq);
	if (conn_open(sq->path, &sq->cconn, &e))
		return;
	if (pthread_create(&sq->ckpt, NULL, ckpt_main, sq)) {
		conn_close(sq->cconn);
		sq->cconn = NULL;
		return;
	}
	sq->ckpt_started = 1;
}

static void ckpt_stop(struct sq *sq)
{
	if (sq->ckpt_started) {
		pthread_mutex_lock(&sq->ckpt_mu);
		sq->ckpt_stop = 1;
		pthread_cond_signal(&sq->ckpt_wake);
		pthread_mutex_unlock(&sq->ckpt_mu);
		pthread_join(sq->ckpt, NULL);
		sq->ckpt_started = 0;
	}
	conn_close(sq->cconn);
	sq->cconn = NULL;
}

/* One process writes, through one thread: every lock is always got. */
static int sq_lock_try(void *impl, const char *name, int *got, struct dm_err *e)
{
	*got = 0;
	if (in_write(impl, e))
		return e->code;
	if (strcmp(name, "sweep"))
		return dm_fail(e, DM_EINVAL, NULL, "no lock %s", name);
	*got = 1;
	return 0;
}


/* A request's read snapshot: a deferred transaction on the thread's read connection, begun
 * here and ended by the next snapshot end (or store_write, see store.c). SQLite starts the read
 * transaction at the first statement; later statements share it. */
static void sq_snapshot(void *impl, int on)
{
	struct sq *sq = impl;
	struct dm_err e;
	if (tls_writing == sq)
		return;
	struct conn *c = on ? conn_get(sq, &e) : pthread_getspecific(sq->key);
	if (!c)
		return;
	int open = !sqlite3_get_autocommit(c->db);
	if (on && !open) {
		step_simple(c, "BEGIN");
	} else if (!on && open && step_simple(c, "COMMIT") != SQLITE_OK) {
		exec_simple(c, "ROLLBACK");
	}
}

static int sq_write(void *impl, store_write_fn fn, void *arg, struct dm_err *e)
{
	struct sq *sq = impl;
	if (tls_writing == sq)  /* nested: already inside a transaction */
		return fn(sq->store, arg);
	struct job j = { .fn = fn, .arg = arg };
	sem_init(&j.done, 0, 0);
	pthread_mutex_lock(&sq->mu);
	if (sq->tail)
		sq->tail->next = &j;
	else
		sq->head = &j;
	sq->tail = &j;
	pthread_cond_signal(&sq->wake);
	pthread_mutex_unlock(&sq->mu);
	while (sem_wait(&j.done) && errno == EINTR)
		;
	sem_destroy(&j.done);
	if (j.why)
		dm_fail(e, DM_EUNAVAILABLE, NULL, "%s", j.why);
	return j.rc;
}

/* ---- open, migrate, close --------------------------------------------------------------------- */

int store_sqlite_latest(void)
{
	return sqlite_migration_count;
}

static int sq_schema_version(void *impl, int *version, struct dm_err *e)
{
	struct sq *sq = impl;
	struct conn *c = conn_get(sq, e);
	if (!c)
		return e->code;
	sqlite3_stmt *st = stmt_get(c, "PRAGMA user_version", e);
	if (!st)
		return e->code;
	int s = sqlite3_step(st);
	*version = s == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	stmt_done(st);
	return s == SQLITE_ROW ? 0 : step_error(c, s, e);
}

static int sq_migrate(void *impl, struct dm_err *e)
{
	struct sq *sq = impl;
	int have;
	if (sq_schema_version(impl, &have, e))
		return e->code;
	if (have > sqlite_migration_count)
		return dm_fail(e, DM_ESCHEMA, "db",
			       "database %s has schema version %d, newer than this dealmap (%d): "
			       "use a newer dealmap", sq->path, have, sqlite_migration_count);
	for (int v = have + 1; v <= sqlite_migration_count; v++) {
		struct conn *c = sq->wconn;
		char pragma[64];
		snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", v);
		if (exec_simple(c, "BEGIN IMMEDIATE") != SQLITE_OK)
			return dm_fail(e, DM_EUNAVAILABLE, "db", "cannot lock %s", sq->path);
		if (exec_simple(c, sqlite_migrations[v - 1]) != SQLITE_OK ||
		    exec_simple(c, pragma) != SQLITE_OK || exec_simple(c, "COMMIT") != SQLITE_OK) {
			exec_simple(c, "ROLLBACK");
			return dm_fail(e, DM_EINTERNAL, "db", "migration %d failed on %s", v, sq->path);
		}
		log_info("database %s migrated to schema version %d", sq->path, v);
	}
	return 0;
}

static void sq_close(void *impl)
{
	struct sq *sq = impl;
	if (!sq)
		return;
	if (sq->writer_started) {
		pthread_mutex_lock(&sq->mu);
		sq->stop = 1;
		pthread_cond_signal(&sq->wake);
		pthread_mutex_unlock(&sq->mu);
		pthread_join(sq->writer, NULL);
	}
	ckpt_stop(sq);   /* before the writer's connection: the last to close checkpoints it all */
	conn_close(pthread_getspecific(sq->key));
	pthread_setspecific(sq->key, NULL);
	pthread_key_delete(sq->key);
	if (sq->wconn)
		sqlite3_exec(sq->wconn->db, "PRAGMA optimize", NULL, NULL, NULL);
	pthread_mutex_lock(&sq->gp.mu);
	sq->gp.valid = 0;
	sq->gp.shm = NULL;   /* unmapped with the writer's connection */
	pthread_mutex_unlock(&sq->gp.mu);
	conn_close(sq->wconn);
	setting_cache_clear(sq);
	bulk_reset(sq);
	buf_release(&sq->imp.json);
	pthread_mutex_destroy(&sq->setting_mu);
	pthread_mutex_destroy(&sq->gp.mu);
	pthread_mutex_destroy(&sq->mu);
	pthread_cond_destroy(&sq->wake);
	pthread_mutex_destroy(&sq->ckpt_mu);
	pthread_cond_destroy(&sq->ckpt_wake);
	sess_cache_free(sq->sess);
	free(sq->path);
	free(sq);
}

static int sq_open(struct store *s, const char *url, void **impl, struct dm_err *e)
{
	struct sq *sq = xcalloc(1, sizeof *sq);
	sq->store = s;
	sq->path = xstrdup(strncmp(url, "sqlite:", 7) ? url : url + 7);
	pthread_key_create(&sq->key, conn_destroy);
	pthread_mutex_init(&sq->mu, NULL);
	pthread_cond_init(&sq->wake, NULL);
	pthread_mutex_init(&sq->setting_mu, NULL);
	pthread_mutex_init(&sq->gp.mu, NULL);
	pthread_mutex_init(&sq->ckpt_mu, NULL);
	pthread_cond_init(&sq->ckpt_wake, NULL);
	sq->sess = sess_cache_new();
	*impl = NULL;
	if (conn_open(sq->path, &sq->wconn, e))
		goto fail;
	/* What SQLite may hold in all (page caches above all: the writer's 64 MB, 8 MB for each
	 * thread that reads, and up to 80 threads read): past it the caches stop growing and
	 * recycle their pages, so the server's RSS stays within its 500 MB target. */
	sqlite3_soft_heap_limit64(SQLITE_HEAP_SOFT_LIMIT);
	writer_cache(sq->wconn, WRITER_CACHE_KIB);
	if (exec_simple(sq->wconn, "PRAGMA journal_mode=WAL") != SQLITE_OK) {
		dm_fail(e, DM_EUNAVAILABLE, "db", "%s is not a usable SQLite database", sq->path);
		goto fail;
	}
	ckpt_start(sq);
	if (pthread_create(&sq->writer, NULL, writer_main, sq)) {
		dm_fail(e, DM_EINTERNAL, NULL, "cannot start the writer thread");
		goto fail;
	}
	sq->writer_started = 1;
	*impl = sq;
	return 0;
fail:
	sq_close(sq);
	return e->code;
}

const struct store_ops store_sqlite_ops = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.schema_version = sq_schema_version,
	.migrate = sq_migrate,
	.write = sq_write,
	.lock_try = sq_lock_try,
	.bulk = sq_bulk,
	.bulk_memory = sq_bulk_memory,
	.snapshot = sq_snapshot,
	.get = sq_get,
	.list = sq_list,
	.list_rows = sq_list_rows,
	.get_row = sq_get_row,
	.insert = sq_insert,
	.update = sq_update,
	.set_archived = sq_set_archived,
	.audit_list = sq_audit_list,
	.in_scope = sq_in_scope,
	.cred_get = sq_cred_get,
	.cred_set = sq_cred_set,
	.session_put = sq_session_put,
	.session_get = sq_session_get,
	.session_seen = sq_session_seen,
	.session_delete = sq_session_delete,
	.session_delete_user = sq_session_delete_user,
	.session_expire = sq_session_expire,
	.count = sq_count,
	.job_add = sq_job_add,
	.job_set = sq_job_set,
	.job_get = sq_job_get,
	.throttle_get = sq_throttle_get,
	.throttle_fail = sq_throttle_fail,
	.throttle_clear = sq_throttle_clear,
	.team_in_reach = sq_team_in_reach,
	.analytics = sq_analytics,
	.funnel = sq_funnel,
	.setting_get = sq_setting_get,
	.setting_put = sq_setting_put,
	.stage_add = sq_stage_add,
	.opportunity_backdate = sq_opportunity_backdate,
	.stage_list = sq_stage_list,
	.link_add = sq_link_add,
	.link_list = sq_link_list,
	.team_put = sq_team_put,
	.team_delete = sq_team_delete,
	.team_list = sq_team_list,
	.account_access = sq_account_access,
	.find_name = sq_find_name,
	.owner_add = sq_owner_add,
	.owner_list = sq_owner_list,
	.count_owned = sq_count_owned,
	.reclaim_candidates = sq_reclaim_candidates,
	.agenda_candidates = sq_agenda_candidates,
	.agenda_accounts = sq_agenda_accounts,
	.agenda_count = sq_agenda_count,
	.agenda_walk = sq_agenda_walk,
	.sweep_add = sq_sweep_add,
	.sweep_done = sq_sweep_done,
	.import_insert = sq_import_insert,
	.backup = sq_backup,
};
