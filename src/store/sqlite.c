/* sqlite.c — the SQLite backend: WAL, synchronous=FULL, one read connection per thread, one
 * writer thread that group-commits the write callbacks of concurrent requests. */
#include "store_int.h"
#include "sqlite_schema.h"
#include "sqlite_bigram.h"
#include "../base/buf.h"
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
#include <unistd.h>
#include "../base/banned.h"

#define STMT_CACHE 256
#define MAX_BINDS 64
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
#define SETTING_CACHE 16
	struct {
		char key[48];
		json_t *value;    /* NULL: known to be unset */
		int used;
	} setting_cache[SETTING_CACHE];
	pthread_mutex_t setting_mu;
	int settings_dirty;       /* writer thread only */
};

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
	int rc = sqlite3_open_v2(path, &c->db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
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

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* A prepared statement for sql on c, from the cache when possible. The caller resets it with
 * stmt_done(). NULL on error (e filled). */
static sqlite3_stmt *stmt_get(struct conn *c, const char *sql, struct dm_err *e)
{
	uint32_t h = hash_str(sql);
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

static struct conn *conn_get(struct sq *q, struct dm_err *e)
{
	if (tls_writing == q)
		return q->wconn;
	struct conn *c = pthread_getspecific(q->key);
	if (!c) {
		if (conn_open(q->path, &c, e))
			return NULL;
		pthread_setspecific(q->key, c);
	}
	return c;
}

static int in_write(struct sq *q, struct dm_err *e)
{
	if (tls_writing != q)
		return dm_fail(e, DM_EINTERNAL, NULL, "store write outside store_write");
	return 0;
}

/* ---- a query under construction: SQL text and its bound values ----------------------------- */

struct qb {
	struct buf sql;
	struct {
		int type;   /* SQLITE_INTEGER, SQLITE_TEXT, SQLITE_FLOAT, SQLITE_NULL */
		int64_t i;
		double d;
		const char *s;
	} b[MAX_BINDS];
	int n;
	char *owned[MAX_BINDS];  /* strings the builder must free */
	int nowned;
};

static void qb_init(struct qb *q)
{
	memset(q, 0, sizeof *q);
}

static void qb_release(struct qb *q)
{
	buf_release(&q->sql);
	for (int i = 0; i < q->nowned; i++)
		free(q->owned[i]);
}

static void qb_sql(struct qb *q, const char *s)
{
	buf_puts(&q->sql, s);
}

static void qb_int(struct qb *q, int64_t v)
{
	if (q->n >= MAX_BINDS)
		abort();
	q->b[q->n].type = SQLITE_INTEGER;
	q->b[q->n++].i = v;
	buf_puts(&q->sql, "?");
}

static void qb_text(struct qb *q, const char *s)
{
	if (q->n >= MAX_BINDS)
		abort();
	q->b[q->n].type = s ? SQLITE_TEXT : SQLITE_NULL;
	q->b[q->n++].s = s;
	buf_puts(&q->sql, "?");
}

/* Bind a JSON value as stored: objects and arrays as their JSON text. */
static void qb_json(struct qb *q, json_t *v)
{
	if (!v || json_is_null(v)) {
		qb_text(q, NULL);
	} else if (json_is_integer(v)) {
		qb_int(q, json_integer_value(v));
	} else if (json_is_boolean(v)) {
		qb_int(q, json_is_true(v));
	} else if (json_is_real(v)) {
		q->b[q->n].type = SQLITE_FLOAT;
		q->b[q->n++].d = json_real_value(v);
		buf_puts(&q->sql, "?");
	} else if (json_is_string(v)) {
		qb_text(q, json_string_value(v));
	} else {
		char *s = json_dumps(v, JSON_COMPACT);
		q->owned[q->nowned++] = s;
		qb_text(q, s);
	}
}

static sqlite3_stmt *qb_prepare(struct qb *q, struct conn *c, struct dm_err *e)
{
	sqlite3_stmt *st = stmt_get(c, q->sql.data, e);
	if (!st)
		return NULL;
	for (int i = 0; i < q->n; i++) {
		switch (q->b[i].type) {
		case SQLITE_INTEGER: sqlite3_bind_int64(st, i + 1, q->b[i].i); break;
		case SQLITE_FLOAT: sqlite3_bind_double(st, i + 1, q->b[i].d); break;
		case SQLITE_TEXT: sqlite3_bind_text(st, i + 1, q->b[i].s, -1, SQLITE_TRANSIENT); break;
		default: sqlite3_bind_null(st, i + 1); break;
		}
	}
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

/* Run a statement that returns no rows. */
static int qb_exec(struct qb *q, struct conn *c, struct dm_err *e)
{
	sqlite3_stmt *st = qb_prepare(q, c, e);
	if (!st)
		return e->code;
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

/* Run a write statement on the writer connection (inside store_write) and release it. */
static int exec_run(struct sq *sq, struct qb *q, struct dm_err *e)
{
	int rc = qb_exec(q, sq->wconn, e);
	qb_release(q);
	return rc;
}

/* ---- visibility: SQL fragments that restrict rows to what the viewer may see ---------------- */

/* Users whose records a manager sees: members of the manager's own team and of every team they
 * manage, and of all sub-teams of those. */
static void vis_team_users(struct qb *q, const struct viewer *v)
{
	qb_sql(q, "(SELECT vu.id FROM users vu WHERE vu.team_id IN (WITH RECURSIVE vt(id) AS ("
		  "SELECT id FROM teams WHERE manager_id = ");
	qb_int(q, v->user_id);
	qb_sql(q, " OR id = ");
	qb_int(q, v->team_id);
	qb_sql(q, " UNION SELECT c.id FROM teams c JOIN vt ON c.parent_id = vt.id) "
		  "SELECT id FROM vt))");
}

/* The teams within a manager's reach (their team, the teams they manage, all below); none
 * for other roles. */
static void vis_teams(struct qb *q, const struct viewer *v)
{
	if (v->role != ROLE_MANAGER) {
		qb_sql(q, "(SELECT NULL WHERE 0)");
		return;
	}
	qb_sql(q, "(WITH RECURSIVE vt(id) AS (SELECT id FROM teams WHERE manager_id = ");
	qb_int(q, v->user_id);
	qb_sql(q, " OR id = ");
	qb_int(q, v->team_id);
	qb_sql(q, " UNION SELECT c.id FROM teams c JOIN vt ON c.parent_id = vt.id) SELECT id FROM vt)");
}

/* "col is a user whose records v sees" */
static void vis_owner(struct qb *q, const struct viewer *v, const char *col)
{
	switch (v->role) {
	case ROLE_ADMIN:
		qb_sql(q, "1");
		return;
	case ROLE_MANAGER:
		buf_printf(&q->sql, "(%s = ", col);
		qb_int(q, v->user_id);
		buf_printf(&q->sql, " OR %s IN ", col);
		vis_team_users(q, v);
		qb_sql(q, ")");
		return;
	case ROLE_REP:
		buf_printf(&q->sql, "%s = ", col);
		qb_int(q, v->user_id);
		return;
	case ROLE_PARTNER:
		qb_sql(q, "0");
		return;
	}
}

/* "account alias a is one v sees": owned within reach, or shared with v through its team. */
static void vis_account(struct qb *q, const struct viewer *v, const char *a)
{
	char col[64];
	if (v->role == ROLE_ADMIN) {
		qb_sql(q, "1");
		return;
	}
	snprintf(col, sizeof col, "%s.owner_id", a);
	qb_sql(q, "(");
	vis_owner(q, v, col);
	buf_printf(&q->sql, " OR %s.id IN (SELECT vt.account_id FROM account_team vt WHERE "
		   "vt.user_id = ", a);
	qb_int(q, v->user_id);
	qb_sql(q, ")");
	if (v->role == ROLE_PARTNER) {
		/* A partner sees the accounts made from the leads assigned to them. */
		buf_printf(&q->sql, " OR %s.id IN (SELECT vl.converted_account_id FROM leads vl WHERE "
			   "vl.archived_at IS NULL AND vl.assignee_id = ", a);
		qb_int(q, v->user_id);
		qb_sql(q, ")");
	}
	qb_sql(q, ")");
}

/* "col is a live account v sees" */
static void vis_account_id(struct qb *q, const struct viewer *v, const char *col)
{
	if (v->role == ROLE_ADMIN) {
		qb_sql(q, "1");
		return;
	}
	buf_printf(&q->sql, "%s IN (SELECT va.id FROM accounts va WHERE va.archived_at IS NULL AND ",
		   col);
	vis_account(q, v, "va");
	qb_sql(q, ")");
}

/* "opportunity alias o is one v sees": its owner is within reach, or its account is visible. */
static void vis_opportunity(struct qb *q, const struct viewer *v, const char *o)
{
	char col[64];
	if (v->role == ROLE_ADMIN) {
		qb_sql(q, "1");
		return;
	}
	snprintf(col, sizeof col, "%s.owner_id", o);
	qb_sql(q, "(");
	vis_owner(q, v, col);
	qb_sql(q, " OR ");
	snprintf(col, sizeof col, "%s.account_id", o);
	vis_account_id(q, v, col);
	qb_sql(q, ")");
}

/* Append the visibility predicate of kind k for table alias t. */
static void vis_clause(struct qb *q, const struct kind *k, const struct viewer *v)
{
	if (!v) {
		qb_sql(q, "1");
		return;
	}
	switch (k->vis) {
	case VIS_OWNER:
		vis_account(q, v, "t");
		return;
	case VIS_ACCOUNT:
		vis_account_id(q, v, "t.account_id");
		return;
	case VIS_ACCOUNT_OR_OWNER:
		vis_opportunity(q, v, "t");
		return;
	case VIS_OPPORTUNITY:
		if (v->role == ROLE_ADMIN) {
			qb_sql(q, "1");
			return;
		}
		qb_sql(q, "t.opportunity_id IN (SELECT vo.id FROM opportunities vo WHERE "
			  "vo.archived_at IS NULL AND ");
		vis_opportunity(q, v, "vo");
		qb_sql(q, ")");
		return;
	case VIS_LEAD:
		if (v->role == ROLE_ADMIN) {
			qb_sql(q, "1");
			return;
		}
		qb_sql(q, "(t.assignee_id = ");
		qb_int(q, v->user_id);
		qb_sql(q, " OR ");
		vis_owner(q, v, "t.assignee_id");
		qb_sql(q, ")");
		return;
	case VIS_QUOTA:
		if (v->role == ROLE_ADMIN) {
			qb_sql(q, "1");
			return;
		}
		qb_sql(q, "(IFNULL(");
		vis_owner(q, v, "t.user_id");
		qb_sql(q, ", 0) OR t.team_id IN ");
		vis_teams(q, v);
		qb_sql(q, ")");
		return;
	case VIS_DIRECTORY:
		if (v->role != ROLE_PARTNER) {
			qb_sql(q, "1");
		} else if (k == &kind_user) {
			qb_sql(q, "t.id = ");
			qb_int(q, v->user_id);
		} else {
			qb_sql(q, "0");
		}
		return;
	}
}

/* ---- rows ↔ records ------------------------------------------------------------------------- */

/* SQL of a derived field, over table alias t. */
static const char *derived_sql(const struct kind *k, const struct field *f)
{
	/* kept on the account by the triggers of migration 6 */
	if (k == &kind_account && !strcmp(f->name, "touches"))
		return "t.touch_count";
	if (k == &kind_account && !strcmp(f->name, "last_touch_at"))
		return "t.touched_at";
	static const struct {
		const char *name, *sql;
	} acc[] = {
		{ "_latest_next_touch", "t.latest_next_touch" },
		{ "_latest_contact_ids", "t.latest_contact_ids" },
		{ "_open_opps", "(SELECT count(*) FROM opportunities oo WHERE oo.account_id = t.id AND "
				"oo.archived_at IS NULL AND oo.stage NOT IN ('won', 'lost'))" },
		{ "_won_opps", "(SELECT count(*) FROM opportunities oo WHERE oo.account_id = t.id AND "
			       "oo.archived_at IS NULL AND oo.stage = 'won')" },
		{ "_orders", "(SELECT json_group_array(json_array(od.product, od.ordered_on)) FROM "
			     "(SELECT product, ordered_on FROM orders WHERE account_id = t.id AND "
			     "archived_at IS NULL ORDER BY product, ordered_on) od)" },
	};
	if (k == &kind_account)
		for (size_t i = 0; i < sizeof acc / sizeof acc[0]; i++)
			if (!strcmp(f->name, acc[i].name))
				return acc[i].sql;
	static const struct {
		const char *name, *sql;
	} opp[] = {
		{ "_quotes", "(SELECT count(*) FROM activities qa WHERE qa.opportunity_id = t.id AND "
			     "qa.archived_at IS NULL AND qa.channel IN ('quote', 'demo'))" },
		{ "_decision_makers", "(SELECT count(*) FROM stakeholders sh WHERE sh.opportunity_id = "
				      "t.id AND sh.archived_at IS NULL AND sh.role = 'decision_maker')" },
		{ "_coaches", "(SELECT count(*) FROM stakeholders sh WHERE sh.opportunity_id = t.id "
			      "AND sh.archived_at IS NULL AND sh.role = 'coach')" },
		{ "_opponents", "(SELECT count(*) FROM stakeholders sh WHERE sh.opportunity_id = t.id "
				"AND sh.archived_at IS NULL AND sh.attitude = 'opponent')" },
		{ "_account_last_touch", "(SELECT ao.touched_at FROM accounts ao WHERE ao.id = "
					 "t.account_id)" },
		{ "_account_owner", "(SELECT ao.owner_id FROM accounts ao WHERE ao.id = t.account_id)" },
	};
	if (k == &kind_opportunity)
		for (size_t i = 0; i < sizeof opp / sizeof opp[0]; i++)
			if (!strcmp(f->name, opp[i].name))
				return opp[i].sql;
	return "NULL";
}

/* The expression a field reads from, over alias t. */
static void field_expr(struct buf *b, const struct kind *k, const struct field *f)
{
	if (f->flags & FF_DERIVED)
		buf_puts(b, derived_sql(k, f));
	else
		buf_printf(b, "t.%s", f->name);
}

static void select_list(struct qb *q, const struct kind *k)
{
	int first = 1;
	qb_sql(q, "SELECT ");
	for (size_t i = 0; i < k->nfields; i++) {
		const struct field *f = &k->fields[i];
		if (!model_is_selected(f))
			continue;
		if (!first)
			qb_sql(q, ", ");
		first = 0;
		field_expr(&q->sql, k, f);
	}
	buf_printf(&q->sql, " FROM %s t", k->plural);
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
		json_t *v = json_loads((const char *)sqlite3_column_text(st, col), JSON_DECODE_ANY, NULL);
		return v ? v : json_null();
	}
	default:
		return json_string((const char *)sqlite3_column_text(st, col));
	}
}

static json_t *row_to_record(sqlite3_stmt *st, const struct kind *k)
{
	json_t *o = json_object();
	int col = 0;
	for (size_t i = 0; i < k->nfields; i++) {
		const struct field *f = &k->fields[i];
		if (!model_is_selected(f))
			continue;
		json_object_set_new(o, f->name, column_value(st, col++, f));
	}
	return o;
}

/* ---- records -------------------------------------------------------------------------------- */

static int sq_get(void *impl, const struct kind *k, const struct viewer *v, int64_t id,
		  int include_archived, json_t **rec, struct dm_err *e)
{
	struct sq *sq = impl;
	struct conn *c = conn_get(sq, e);
	struct qb q;
	int rc = 0;
	*rec = NULL;
	if (!c)
		return e->code;
	qb_init(&q);
	select_list(&q, k);
	qb_sql(&q, " WHERE t.id = ");
	qb_int(&q, id);
	if (!include_archived)
		qb_sql(&q, " AND t.archived_at IS NULL");
	qb_sql(&q, " AND ");
	vis_clause(&q, k, v);
	sqlite3_stmt *st = qb_prepare(&q, c, e);
	if (!st) {
		rc = e->code;
		goto out;
	}
	int s = sqlite3_step(st);
	if (s == SQLITE_ROW)
		*rec = row_to_record(st, k);
	else if (s == SQLITE_DONE)
		rc = dm_fail(e, DM_ENOTFOUND, NULL, "%s %lld not found", k->name, (long long)id);
	else
		rc = step_error(c, s, e);
	stmt_done(st);
out:
	qb_release(&q);
	return rc;
}

/* The sentinel that stands for NULL in keyset comparisons of field f. */
static void sort_null_sentinel(struct buf *b, const struct field *f)
{
	if (f->type == FT_INT || f->type == FT_REF || f->type == FT_BOOL)
		buf_puts(b, "-9223372036854775807");
	else
		buf_puts(b, "''");
}

static void sort_expr(struct qb *q, const struct kind *k, const struct field *f)
{
	qb_sql(q, "IFNULL(");
	field_expr(&q->sql, k, f);
	qb_sql(q, ", ");
	sort_null_sentinel(&q->sql, f);
	qb_sql(q, ")");
}

static void bind_sort_value(struct qb *q, const struct field *f, json_t *v)
{
	if (!v || json_is_null(v)) {
		if (f->type == FT_INT || f->type == FT_REF || f->type == FT_BOOL)
			qb_int(q, -9223372036854775807LL);
		else
			qb_text(q, "");
	} else {
		qb_json(q, v);
	}
}

static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

/* s as one FTS5 string ("..." with inner quotes doubled): a substring, not query syntax. */
static char *fts_phrase(const char *s)
{
	struct buf b = BUF_INIT(0);
	buf_puts(&b, "\"");
	for (; *s; s++)
		buf_puts(&b, *s == '"' ? "\"\"" : (char[2]){ *s, 0 });
	buf_puts(&b, "\"");
	return buf_detach(&b, NULL);
}

static int sq_list(void *impl, const struct store_query *sqy, json_t **items, struct dm_err *e)
{
	struct sq *sq = impl;
	const struct kind *k = sqy->kind;
	struct conn *c = conn_get(sq, e);
	struct qb q;
	char *phrase = NULL;
	int rc = 0;
	*items = NULL;
	if (!c)
		return e->code;
	qb_init(&q);
	/* The page's ids first, then its columns: SQLite computes every selected column (the
	 * derived ones are subqueries) of every candidate row before sorting them. */
	select_list(&q, k);
	buf_printf(&q.sql, " WHERE t.id IN (SELECT t.id FROM %s t", k->plural);
	qb_sql(&q, sqy->archived ? " WHERE t.archived_at IS NOT NULL AND "
				 : " WHERE t.archived_at IS NULL AND ");
	if (sqy->pool)   /* the public pool: every internal user sees it; partners do not */
		qb_sql(&q, sqy->viewer && sqy->viewer->role == ROLE_PARTNER ? "0" :
			   "t.owner_id IS NULL");
	else
		vis_clause(&q, k, sqy->viewer);
	for (int i = 0; i < sqy->nfilters; i++) {
		static const char *const ops[] = { " = ", " >= ", " <= ", " <> " };
		const struct field *f = sqy->filters[i].field;
		qb_sql(&q, " AND ");
		field_expr(&q.sql, k, f);
		if (json_is_null(sqy->filters[i].value)) {
			qb_sql(&q, sqy->filters[i].op == FILTER_NE ? " IS NOT NULL" : " IS NULL");
		} else {
			qb_sql(&q, ops[sqy->filters[i].op]);
			qb_json(&q, sqy->filters[i].value);
		}
	}
	if (sqy->name_sub && k == &kind_account && utf8_chars(sqy->name_sub) >= 2) {
		/* the trigram index finds the candidates (it folds case: instr below keeps the
		 * answer exactly the substring's); shorter queries have no trigram to look up */
		phrase = fts_phrase(sqy->name_sub);   /* bound at prepare: freed at out */
		qb_sql(&q, " AND t.id IN (SELECT rowid FROM accounts_name_fts WHERE "
			  "accounts_name_fts MATCH ");
		qb_text(&q, phrase);
		qb_sql(&q, ")");
	}
	if (sqy->name_sub) {
		qb_sql(&q, " AND instr(t.name_key, ");
		qb_text(&q, sqy->name_sub);
		qb_sql(&q, ") > 0");
	}
	if (sqy->updated_since) {
		qb_sql(&q, " AND t.updated_at >= ");
		qb_text(&q, sqy->updated_since);
	}
	const struct field *sf = sqy->sort ? sqy->sort : model_field(k, "id");
	const char *op = sqy->desc ? " < " : " > ";
	if (sqy->after_id) {
		qb_sql(&q, " AND (");
		sort_expr(&q, k, sf);
		qb_sql(&q, op);
		bind_sort_value(&q, sf, sqy->after_value);
		qb_sql(&q, " OR (");
		sort_expr(&q, k, sf);
		qb_sql(&q, " = ");
		bind_sort_value(&q, sf, sqy->after_value);
		qb_sql(&q, " AND t.id");
		qb_sql(&q, op);
		qb_int(&q, sqy->after_id);
		qb_sql(&q, "))");
	}
	qb_sql(&q, " ORDER BY ");
	sort_expr(&q, k, sf);
	qb_sql(&q, sqy->desc ? " DESC, t.id DESC LIMIT " : ", t.id LIMIT ");
	qb_int(&q, sqy->limit);
	qb_sql(&q, ") ORDER BY ");
	sort_expr(&q, k, sf);
	qb_sql(&q, sqy->desc ? " DESC, t.id DESC" : ", t.id");
	sqlite3_stmt *st = qb_prepare(&q, c, e);
	if (!st) {
		rc = e->code;
		goto out;
	}
	json_t *arr = json_array();
	int s;
	while ((s = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(arr, row_to_record(st, k));
	if (s != SQLITE_DONE) {
		json_decref(arr);
		rc = step_error(c, s, e);
	} else {
		*items = arr;
	}
	stmt_done(st);
out:
	qb_release(&q);
	free(phrase);
	return rc;
}

static int audit_row(struct conn *c, const struct kind *k, int64_t id, int64_t actor,
		     const char *at, const char *action, const char *field, json_t *old_v,
		     json_t *new_v, struct dm_err *e)
{
	struct qb q;
	qb_init(&q);
	qb_sql(&q, "INSERT INTO audit (object, object_id, actor_id, at, action, field, old, new) "
		   "VALUES (");
	qb_text(&q, k->name);
	qb_sql(&q, ", ");
	qb_int(&q, id);
	qb_sql(&q, ", ");
	if (actor)
		qb_int(&q, actor);
	else
		qb_text(&q, NULL);
	qb_sql(&q, ", ");
	qb_text(&q, at);
	qb_sql(&q, ", ");
	qb_text(&q, action);
	qb_sql(&q, ", ");
	qb_text(&q, field);
	char *o = old_v ? json_dumps(old_v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	char *n = new_v ? json_dumps(new_v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	qb_sql(&q, ", ");
	qb_text(&q, o);
	qb_sql(&q, ", ");
	qb_text(&q, n);
	qb_sql(&q, ")");
	int rc = qb_exec(&q, c, e);
	free(o);
	free(n);
	qb_release(&q);
	return rc;
}

/* The id of the record holding the unique value rec would take, or 0: the username of users,
 * the name key of the others. */
static int64_t find_holder(struct conn *c, const struct kind *k, json_t *rec, const char *key)
{
	struct qb q;
	struct dm_err e;
	int64_t id = 0;
	qb_init(&q);
	if (k == &kind_user) {
		qb_sql(&q, "SELECT id FROM users WHERE username = ");
		qb_text(&q, json_string_value(json_object_get(rec, "username")));
	} else {
		buf_printf(&q.sql, "SELECT id FROM %s WHERE archived_at IS NULL AND name_key = ",
			   k->plural);
		qb_text(&q, key);
	}
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
	int64_t other = key || k == &kind_user ? find_holder(c, k, rec, key) : 0;
	const char *field = k == &kind_user ? "username" : k == &kind_stakeholder ? "contact_id" :
			    k == &kind_quota ? "period" : "name";
	dm_fail(e, DM_EDUPLICATE, field, "%s with this %s already exists", k->title, field);
	if (k == &kind_stakeholder)
		snprintf(e->message, sizeof e->message, "this contact is already a stakeholder of the "
			 "opportunity");
	e->existing_id = other;
	return DM_EDUPLICATE;
}

static char *name_key_of(const struct kind *k, json_t *rec)
{
	if (!(k->flags & KF_NAME_KEY))
		return NULL;
	const char *s = json_string_value(json_object_get(rec, k->search_field));
	return text_name_key(s ? s : "");
}

static int sq_insert(void *impl, const struct kind *k, json_t *rec, int64_t actor, int64_t *id,
		     struct dm_err *e)
{
	struct sq *sq = impl;
	if (in_write(sq, e))
		return e->code;
	struct conn *c = sq->wconn;
	char now[TIME_STR_LEN];
	char *key = name_key_of(k, rec);
	struct qb q;
	int rc;
	time_format(time_now_ms(), now);
	qb_init(&q);
	buf_printf(&q.sql, "INSERT INTO %s (created_at, updated_at, version", k->plural);
	if (key)
		qb_sql(&q, ", name_key");
	for (size_t i = 0; i < k->nfields; i++) {
		const struct field *f = &k->fields[i];
		if (model_is_column(f) && !(f->flags & FF_READONLY && !json_object_get(rec, f->name)))
			buf_printf(&q.sql, ", %s", f->name);
	}
	qb_sql(&q, ") VALUES (");
	qb_text(&q, now);
	qb_sql(&q, ", ");
	qb_text(&q, now);
	qb_sql(&q, ", 1");
	if (key) {
		qb_sql(&q, ", ");
		qb_text(&q, key);
	}
	for (size_t i = 0; i < k->nfields; i++) {
		const struct field *f = &k->fields[i];
		if (model_is_column(f) && !(f->flags & FF_READONLY && !json_object_get(rec, f->name))) {
			qb_sql(&q, ", ");
			qb_json(&q, json_object_get(rec, f->name));
		}
	}
	qb_sql(&q, ")");
	rc = qb_exec(&q, c, e);
	qb_release(&q);
	if (rc == DM_EDUPLICATE) {
		rc = duplicate(c, k, rec, key, e);
		goto out;
	}
	if (rc)
		goto out;
	*id = sqlite3_last_insert_rowid(c->db);
	const char *fname;
	json_t *v;
	json_object_foreach(rec, fname, v) {
		if (json_is_null(v) || (model_field(k, fname)->flags & FF_WRITEONLY))
			continue;
		if ((rc = audit_row(c, k, *id, actor, now, "create", fname, NULL, v, e)))
			goto out;
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
	if ((rc = sq_get(impl, k, NULL, id, 1, &cur, e)))
		return rc;
	time_format(time_now_ms(), now);
	qb_init(&q);
	buf_printf(&q.sql, "UPDATE %s SET ", k->plural);
	const char *fname;
	json_t *v;
	json_object_foreach(changes, fname, v) {
		const struct field *f = model_field(k, fname);
		if (!f || !model_is_column(f) || json_equal(v, json_object_get(cur, fname)))
			continue;
		buf_printf(&q.sql, "%s = ", fname);
		qb_json(&q, v);
		qb_sql(&q, ", ");
		n++;
	}
	if (!n)
		goto out;
	merged = json_deep_copy(cur);
	json_object_update(merged, changes);
	key = name_key_of(k, merged);
	if (key) {
		qb_sql(&q, "name_key = ");
		qb_text(&q, key);
		qb_sql(&q, ", ");
	}
	qb_sql(&q, "version = version + 1, updated_at = ");
	qb_text(&q, now);
	qb_sql(&q, " WHERE id = ");
	qb_int(&q, id);
	rc = qb_exec(&q, sq->wconn, e);
	if (rc == DM_EDUPLICATE)
		rc = duplicate(sq->wconn, k, merged, key, e);
	if (rc)
		goto out;
	json_object_foreach(changes, fname, v) {
		const struct field *f = model_field(k, fname);
		json_t *old = json_object_get(cur, fname);
		if (!f || !model_is_column(f) || json_equal(v, old))
			continue;
		if ((rc = audit_row(sq->wconn, k, id, actor, now, "update", fname, old, v, e)))
			goto out;
	}
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
	if ((rc = sq_get(impl, k, NULL, id, 1, &cur, e)))
		return rc;
	time_format(time_now_ms(), now);
	qb_init(&q);
	buf_printf(&q.sql, "UPDATE %s SET archived_at = ", k->plural);
	qb_text(&q, archived ? now : NULL);
	qb_sql(&q, ", version = version + 1, updated_at = ");
	qb_text(&q, now);
	qb_sql(&q, " WHERE id = ");
	qb_int(&q, id);
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
	qb_init(&q);
	qb_sql(&q, "SELECT a.id, a.at, a.actor_id, u.username, a.action, a.field, a.old, a.new "
		   "FROM audit a LEFT JOIN users u ON u.id = a.actor_id WHERE a.object = ");
	qb_text(&q, k->name);
	qb_sql(&q, " AND a.object_id = ");
	qb_int(&q, id);
	qb_sql(&q, " AND a.id > ");
	qb_int(&q, after);
	qb_sql(&q, " ORDER BY a.id LIMIT ");
	qb_int(&q, limit);
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
	qb_init(&q);
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
	qb_init(&q);
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
	qb_init(&q);
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
	qb_init(&q);
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
	struct sq *sq = impl;
	struct qb q;
	if (in_write(sq, e))
		return e->code;
	qb_init(&q);
	qb_sql(&q, "INSERT INTO sessions (token_hash, user_id, csrf, created_ms, seen_ms) VALUES (");
	qb_text(&q, token_hash);
	qb_sql(&q, ", ");
	qb_int(&q, user_id);
	qb_sql(&q, ", ");
	qb_text(&q, csrf);
	qb_sql(&q, ", ");
	qb_int(&q, now_ms);
	qb_sql(&q, ", ");
	qb_int(&q, now_ms);
	qb_sql(&q, ")");
	return exec_run(sq, &q, e);
}

static int sq_session_get(void *impl, const char *token_hash, struct store_session *out,
			  struct dm_err *e)
{
	struct sq *sq = impl;
	struct conn *c = conn_get(sq, e);
	struct qb q;
	int rc = 0;
	memset(out, 0, sizeof *out);
	if (!c)
		return e->code;
	qb_init(&q);
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
	struct sq *sq = impl;
	struct qb q;
	if (in_write(sq, e))
		return e->code;
	qb_init(&q);
	qb_sql(&q, "UPDATE sessions SET seen_ms = ");
	qb_int(&q, now_ms);
	qb_sql(&q, " WHERE token_hash = ");
	qb_text(&q, token_hash);
	return exec_run(sq, &q, e);
}

static int sq_session_delete(void *impl, const char *token_hash, struct dm_err *e)
{
	return write_stmt(impl, "DELETE FROM sessions WHERE token_hash = ", token_hash, 0, "", e);
}

static int sq_session_delete_user(void *impl, int64_t user_id, struct dm_err *e)
{
	return write_stmt(impl, "DELETE FROM sessions WHERE 1", NULL, user_id, " AND user_id = ", e);
}

static int sq_session_expire(void *impl, int64_t idle_before, int64_t absolute_before,
			     struct dm_err *e)
{
	struct sq *sq = impl;
	struct qb q;
	if (in_write(sq, e))
		return e->code;
	qb_init(&q);
	qb_sql(&q, "DELETE FROM sessions WHERE seen_ms < ");
	qb_int(&q, idle_before);
	qb_sql(&q, " OR created_ms < ");
	qb_int(&q, absolute_before);
	return exec_run(sq, &q, e);
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
	qb_init(&q);
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
	qb_init(&q);
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
	char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
	qb_init(&q);
	qb_sql(&q, "INSERT INTO settings (key, value, updated_at) VALUES (");
	qb_text(&q, key);
	qb_sql(&q, ", ");
	qb_text(&q, text);
	qb_sql(&q, ", ");
	qb_text(&q, now);
	qb_sql(&q, ") ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
		   "updated_at = excluded.updated_at");
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
	free(text);
	json_decref(old);
	return rc;
}

static int sq_stage_add(void *impl, int64_t opp, const char *from, const char *to, int64_t by,
			struct dm_err *e)
{
	struct sq *sq = impl;
	char now[TIME_STR_LEN];
	struct qb q;
	if (in_write(sq, e))
		return e->code;
	time_format(time_now_ms(), now);
	qb_init(&q);
	qb_sql(&q, "INSERT INTO stage_history (opportunity_id, from_stage, to_stage, at, by_id) "
		   "VALUES (");
	qb_int(&q, opp);
	qb_sql(&q, ", ");
	qb_text(&q, from);
	qb_sql(&q, ", ");
	qb_text(&q, to);
	qb_sql(&q, ", ");
	qb_text(&q, now);
	qb_sql(&q, ", ");
	if (by)
		qb_int(&q, by);
	else
		qb_text(&q, NULL);
	qb_sql(&q, ")");
	return exec_run(sq, &q, e);
}

static int sq_stage_list(void *impl, int64_t opp, json_t **items, struct dm_err *e)
{
	struct qb q;
	qb_init(&q);
	qb_sql(&q, "SELECT h.from_stage AS \"from\", h.to_stage AS \"to\", h.at, h.by_id AS by, "
		   "u.display_name AS by_name FROM stage_history h LEFT JOIN users u ON u.id = h.by_id "
		   "WHERE h.opportunity_id = ");
	qb_int(&q, opp);
	qb_sql(&q, " ORDER BY h.id");
	return rows_run(impl, &q, items, e);
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
	qb_init(&q);
	qb_sql(&q, "INSERT INTO stakeholder_links (opportunity_id, from_id, to_id, kind, created_at) "
		   "VALUES (");
	qb_int(&q, opp);
	qb_sql(&q, ", ");
	qb_int(&q, from);
	qb_sql(&q, ", ");
	qb_int(&q, to);
	qb_sql(&q, ", ");
	qb_text(&q, kind);
	qb_sql(&q, ", ");
	qb_text(&q, now);
	qb_sql(&q, ")");
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
	struct qb q;
	qb_init(&q);
	qb_sql(&q, "SELECT l.id, l.from_id AS \"from\", l.to_id AS \"to\", l.kind, l.created_at "
		   "FROM stakeholder_links l JOIN stakeholders a ON a.id = l.from_id "
		   "JOIN stakeholders b ON b.id = l.to_id WHERE a.archived_at IS NULL AND "
		   "b.archived_at IS NULL AND l.opportunity_id = ");
	qb_int(&q, opp);
	qb_sql(&q, " ORDER BY l.id");
	return rows_run(impl, &q, items, e);
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
	qb_init(&q);
	qb_sql(&q, "INSERT INTO account_team (account_id, user_id, access, sensitive, created_at, "
		   "by_id) VALUES (");
	qb_int(&q, account);
	qb_sql(&q, ", ");
	qb_int(&q, user);
	qb_sql(&q, ", ");
	qb_text(&q, access);
	qb_sql(&q, ", ");
	qb_int(&q, sensitive);
	qb_sql(&q, ", ");
	qb_text(&q, now);
	qb_sql(&q, ", ");
	qb_int(&q, actor);
	qb_sql(&q, ") ON CONFLICT (account_id, user_id) DO UPDATE SET access = excluded.access, "
		   "sensitive = excluded.sensitive");
	int rc = qb_exec(&q, sq->wconn, e);
	qb_release(&q);
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
	qb_init(&q);
	qb_sql(&q, "DELETE FROM account_team WHERE account_id = ");
	qb_int(&q, account);
	qb_sql(&q, " AND user_id = ");
	qb_int(&q, user);
	int rc = qb_exec(&q, sq->wconn, e);
	qb_release(&q);
	if (!rc && sqlite3_changes(sq->wconn->db) == 0)
		return dm_fail(e, DM_ENOTFOUND, "user_id", "user %lld is not on this account's team",
			       (long long)user);
	return rc ? rc : team_audit(sq, account, user, actor, NULL, NULL, e);
}

static int sq_team_list(void *impl, int64_t account, json_t **items, struct dm_err *e)
{
	struct sq *sq = impl;
	struct conn *c = conn_get(sq, e);
	struct qb q;
	if (!c)
		return e->code;
	qb_init(&q);
	qb_sql(&q, "SELECT m.user_id, u.username, u.display_name, m.access, m.sensitive, m.created_at "
		   "FROM account_team m JOIN users u ON u.id = m.user_id WHERE m.account_id = ");
	qb_int(&q, account);
	qb_sql(&q, " ORDER BY m.user_id");
	int rc = query_rows(c, &q, items, e);
	qb_release(&q);
	size_t i;
	json_t *m;
	if (!rc)
		json_array_foreach(*items, i, m)
			json_object_set_new(m, "sensitive",
					    json_boolean(json_integer_value(json_object_get(m, "sensitive"))));
	return rc;
}

static int sq_account_access(void *impl, const struct viewer *v, int64_t account,
			     struct account_access *out, struct dm_err *e)
{
	struct sq *sq = impl;
	struct conn *c = conn_get(sq, e);
	struct qb q;
	json_t *rows = NULL;
	memset(out, 0, sizeof *out);
	if (!c)
		return e->code;
	qb_init(&q);
	if (v->role == ROLE_ADMIN) {
		/* admins: everything, archived accounts included */
		qb_sql(&q, "SELECT 1 AS owner_side, NULL AS access, 0 AS sensitive FROM accounts t "
			   "WHERE t.id = ");
		qb_int(&q, account);
		goto run;
	}
	qb_sql(&q, "SELECT (");
	vis_owner(&q, v, "t.owner_id");
	qb_sql(&q, ") AS owner_side, m.access, m.sensitive FROM accounts t LEFT JOIN account_team m "
		   "ON m.account_id = t.id AND m.user_id = ");
	qb_int(&q, v->user_id);
	qb_sql(&q, " WHERE t.archived_at IS NULL AND t.id = ");
	qb_int(&q, account);
run:;
	int rc = query_rows(c, &q, &rows, e);
	qb_release(&q);
	json_t *r = json_array_get(rows, 0);
	if (!rc && r) {
		if (json_integer_value(json_object_get(r, "owner_side"))) {
			out->read = out->write = out->sensitive = 1;
		} else if (json_is_string(json_object_get(r, "access"))) {
			out->read = 1;
			out->write = !strcmp(json_string_value(json_object_get(r, "access")), "write");
			out->sensitive = json_integer_value(json_object_get(r, "sensitive")) != 0;
		}
	}
	json_decref(rows);
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

static void qb_id_or_null(struct qb *q, int64_t id)
{
	if (id)
		qb_int(q, id);
	else
		qb_text(q, NULL);
}

static int sq_owner_add(void *impl, int64_t account, int64_t from, int64_t to, const char *reason,
			const char *note, int64_t by, int64_t sweep, struct dm_err *e)
{
	struct sq *sq = impl;
	char now[TIME_STR_LEN];
	struct qb q;
	if (in_write(sq, e))
		return e->code;
	time_format(time_now_ms(), now);
	qb_init(&q);
	qb_sql(&q, "INSERT INTO owner_history (account_id, from_id, to_id, reason, note, by_id, at, "
		   "sweep_id) VALUES (");
	qb_int(&q, account);
	qb_sql(&q, ", ");
	qb_id_or_null(&q, from);
	qb_sql(&q, ", ");
	qb_id_or_null(&q, to);
	qb_sql(&q, ", ");
	qb_text(&q, reason);
	qb_sql(&q, ", ");
	qb_text(&q, note);
	qb_sql(&q, ", ");
	qb_id_or_null(&q, by);
	qb_sql(&q, ", ");
	qb_text(&q, now);
	qb_sql(&q, ", ");
	qb_id_or_null(&q, sweep);
	qb_sql(&q, ")");
	return exec_run(sq, &q, e);
}

static int sq_owner_list(void *impl, int64_t account, json_t **items, struct dm_err *e)
{
	struct qb q;
	qb_init(&q);
	qb_sql(&q, "SELECT h.id, h.from_id AS \"from\", h.to_id AS \"to\", h.reason, h.note, "
		   "h.by_id AS by, u.display_name AS by_name, h.at, h.sweep_id FROM owner_history h "
		   "LEFT JOIN users u ON u.id = h.by_id WHERE h.account_id = ");
	qb_int(&q, account);
	qb_sql(&q, " ORDER BY h.id");
	return rows_run(impl, &q, items, e);
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
	qb_init(&q);
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
	struct sq *sq = impl;
	struct conn *c = conn_get(sq, e);
	struct qb q;
	char *levels = json_dumps(protect, JSON_COMPACT);
	if (!c) {
		free(levels);
		return e->code;
	}
	qb_init(&q);
	qb_sql(&q, "SELECT id, owner_id, assigned_at, last_owner_touch, CASE WHEN "
		   "max(IFNULL(assigned_at, ''), IFNULL(last_owner_touch, '')) < ");
	qb_text(&q, touch_before);
	qb_sql(&q, " THEN 'no_follow_up' ELSE 'no_deal' END AS why FROM (SELECT a.id, a.owner_id, "
		   "a.assigned_at, (SELECT max(x.occurred_at) FROM activities x WHERE x.account_id = "
		   "a.id AND x.user_id = a.owner_id AND x.effective = 1 AND x.archived_at IS NULL) AS "
		   "last_owner_touch, (SELECT max(h.at) FROM stage_history h JOIN opportunities o ON "
		   "o.id = h.opportunity_id WHERE o.account_id = a.id AND h.to_stage = 'won') AS "
		   "last_won FROM accounts a WHERE a.archived_at IS NULL AND a.owner_id IS NOT NULL AND "
		   "a.importance NOT IN (SELECT value FROM json_each(");
	qb_text(&q, levels);
	qb_sql(&q, "))) WHERE max(IFNULL(assigned_at, ''), IFNULL(last_owner_touch, '')) < ");
	qb_text(&q, touch_before);
	qb_sql(&q, " OR (IFNULL(assigned_at, '') < ");
	qb_text(&q, deal_before);
	qb_sql(&q, " AND (last_won IS NULL OR last_won < assigned_at)) ORDER BY id");
	int rc = query_rows(c, &q, items, e);
	qb_release(&q);
	free(levels);
	return rc;
}

/* The candidates' ids come from the owner's range of accounts_owner_agenda (migration 12), a
 * covering index; only they read their row and count their open opportunities. */
static int sq_agenda_accounts(void *impl, const struct viewer *v, int64_t owner,
			      const struct agenda_cut *cut, json_t **items, struct dm_err *e)
{
	struct qb q;
	qb_init(&q);
	qb_sql(&q, "SELECT t.id, t.name, t.created_at, t.touched_at AS last_touch_at, "
		   "t.latest_next_touch, t.latest_contact_ids, (SELECT count(*) FROM opportunities oo "
		   "WHERE oo.account_id = t.id AND oo.archived_at IS NULL AND oo.stage NOT IN ('won', "
		   "'lost')) AS open_opps FROM accounts t WHERE t.id IN (SELECT c.id FROM accounts c "
		   "WHERE c.archived_at IS NULL AND c.owner_id = ");
	qb_int(&q, owner);
	qb_sql(&q, " AND (c.latest_next_touch < ");
	qb_text(&q, cut->planned_before);
	qb_sql(&q, " OR IFNULL(c.touched_at, c.created_at) < ");
	qb_text(&q, cut->sleep_before);
	qb_sql(&q, " OR (c.latest_next_touch IS NULL AND IFNULL(c.touched_at, c.created_at) < ");
	qb_text(&q, cut->due_before);
	qb_sql(&q, "))) AND ");
	vis_account(&q, v, "t");
	qb_sql(&q, " ORDER BY t.id");
	return rows_run(impl, &q, items, e);
}

static int sq_sweep_add(void *impl, const char *as_of, int64_t by, int64_t *id, struct dm_err *e)
{
	struct sq *sq = impl;
	char now[TIME_STR_LEN];
	struct qb q;
	if (in_write(sq, e))
		return e->code;
	time_format(time_now_ms(), now);
	qb_init(&q);
	qb_sql(&q, "INSERT INTO sweeps (as_of, at, by_id, moved) VALUES (");
	qb_text(&q, as_of);
	qb_sql(&q, ", ");
	qb_text(&q, now);
	qb_sql(&q, ", ");
	qb_id_or_null(&q, by);
	qb_sql(&q, ", 0)");
	int rc = qb_exec(&q, sq->wconn, e);
	qb_release(&q);
	if (!rc)
		*id = sqlite3_last_insert_rowid(sq->wconn->db);
	return rc;
}

static int sq_sweep_done(void *impl, int64_t id, int64_t moved, struct dm_err *e)
{
	struct sq *sq = impl;
	struct qb q;
	if (in_write(sq, e))
		return e->code;
	qb_init(&q);
	qb_sql(&q, "UPDATE sweeps SET moved = ");
	qb_int(&q, moved);
	qb_sql(&q, " WHERE id = ");
	qb_int(&q, id);
	return exec_run(sq, &q, e);
}

/* ---- bulk loads and backups ------------------------------------------------------------------- */

/* The INSERT of every writable column of k, built once per kind (the writer thread only). */
static const char *import_sql(const struct kind *k)
{
	static struct {
		const struct kind *k;
		char *sql;
	} built[16];
	size_t i;
	for (i = 0; i < sizeof built / sizeof built[0] && built[i].k; i++)
		if (built[i].k == k)
			return built[i].sql;
	if (i == sizeof built / sizeof built[0])
		abort();
	struct buf sql = BUF_INIT(0), vals = BUF_INIT(0);
	buf_printf(&sql, "INSERT INTO %s (created_at, updated_at, version", k->plural);
	buf_puts(&vals, "?, ?, 1");
	if (k->flags & KF_NAME_KEY) {
		buf_puts(&sql, ", name_key");
		buf_puts(&vals, ", ?");
	}
	for (size_t f = 0; f < k->nfields; f++) {
		const struct field *fd = &k->fields[f];
		if (!model_is_column(fd) || !strcmp(fd->name, "id") || !strcmp(fd->name, "created_at") ||
		    !strcmp(fd->name, "updated_at") || !strcmp(fd->name, "version") ||
		    !strcmp(fd->name, "archived_at"))
			continue;
		buf_printf(&sql, ", %s", fd->name);
		buf_puts(&vals, ", ?");
	}
	buf_printf(&sql, ") VALUES (%s)", vals.data);
	buf_release(&vals);
	built[i].k = k;
	built[i].sql = buf_detach(&sql, NULL);
	return built[i].sql;
}

/* Bind one JSON value as stored: objects and arrays as their JSON text. */
static void bind_json(sqlite3_stmt *st, int i, json_t *v)
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
		char *s = json_dumps(v, JSON_COMPACT);
		sqlite3_bind_text(st, i, s, -1, free);
	}
}

static int import_audit(struct conn *c, const struct kind *k, int64_t id, int64_t actor,
			const char *at, json_t *rec, struct dm_err *e)
{
	sqlite3_stmt *st = stmt_fixed(c, "INSERT INTO audit (object, object_id, actor_id, at, "
				      "action, field, old, new) VALUES (?, ?, ?, ?, 'import', NULL, "
				      "NULL, ?)", e);
	if (!st)
		return e->code;
	char *text = json_dumps(rec, JSON_COMPACT);
	sqlite3_bind_text(st, 1, k->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id);
	if (actor)
		sqlite3_bind_int64(st, 3, actor);
	sqlite3_bind_text(st, 4, at, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, text, -1, free);
	int rc = sqlite3_step(st);
	stmt_done(st);
	return rc == SQLITE_DONE ? 0 : step_error(c, rc, e);
}

/* Bulk loads of accounts defer their name index to the end (migration 9 says why). */
static int sq_bulk(void *impl, const struct kind *k, int on, struct dm_err *e)
{
	struct sq *sq = impl;
	if (in_write(sq, e))
		return e->code;
	if (k != &kind_account)
		return 0;
	struct conn *c = sq->wconn;
	int rc = on ? step_simple(c, "INSERT INTO name_index_defer(first_id) "
				     "SELECT IFNULL(max(id), 0) + 1 FROM accounts")
		    : step_simple(c, "INSERT INTO accounts_name_fts(rowid, name_key) SELECT id, name_key "
				     "FROM accounts WHERE id >= (SELECT min(first_id) FROM "
				     "name_index_defer)");
	if (!rc && !on)
		rc = step_simple(c, "DELETE FROM name_index_defer");
	return rc ? step_error(c, rc, e) : 0;
}

static int sq_import_insert(void *impl, const struct kind *k, json_t *rec, int64_t actor,
			    int64_t *id, struct dm_err *e)
{
	struct sq *sq = impl;
	char now[TIME_STR_LEN];
	if (in_write(sq, e))
		return e->code;
	struct conn *c = sq->wconn;
	sqlite3_stmt *st = stmt_fixed(c, import_sql(k), e);
	if (!st)
		return e->code;
	char *key = name_key_of(k, rec);
	int n = 1;
	time_format(time_now_ms(), now);
	sqlite3_bind_text(st, n++, now, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, n++, now, -1, SQLITE_STATIC);
	if (key)
		sqlite3_bind_text(st, n++, key, -1, SQLITE_STATIC);
	for (size_t f = 0; f < k->nfields; f++) {
		const struct field *fd = &k->fields[f];
		if (!model_is_column(fd) || !strcmp(fd->name, "id") || !strcmp(fd->name, "created_at") ||
		    !strcmp(fd->name, "updated_at") || !strcmp(fd->name, "version") ||
		    !strcmp(fd->name, "archived_at"))
			continue;
		bind_json(st, n++, json_object_get(rec, fd->name));
	}
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
		rc = import_audit(c, k, *id, actor, now, rec, e);
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

/* ---- analytics: named aggregate queries --------------------------------------------------------
 * Every query restricts rows to the owners of a scope (scope_owner) and, where it says so, to the
 * period [from, to). Approach per query (see also docs/ANALYTICS.md): the funnel's four read the
 * aggregates maintained by the triggers of migration 11 (agg_open, agg_closed, agg_reach,
 * agg_stays: per owner, UTC+8 day and stage); the others are plain GROUP BY over the covering
 * indexes of migration 4 (opportunities_owner_stage, stage_history_to, activities_user,
 * activities_when, orders_day). */

static void scope_owner(struct qb *q, const struct an_params *p, const char *col)
{
	switch (p->scope) {
	case SCOPE_COMPANY:
		qb_sql(q, "1");
		return;
	case SCOPE_ME:
		buf_printf(&q->sql, "%s = ", col);
		qb_int(q, p->user_id);
		return;
	case SCOPE_TEAM:
		buf_printf(&q->sql, "%s IN (SELECT su.id FROM users su WHERE su.team_id IN (WITH "
			   "RECURSIVE st(id) AS (SELECT ", col);
		qb_int(q, p->team_id);
		qb_sql(q, " UNION SELECT c.id FROM teams c JOIN st ON c.parent_id = st.id) "
			  "SELECT id FROM st))");
		return;
	}
}

static void period(struct qb *q, const struct an_params *p, const char *col)
{
	buf_printf(&q->sql, " AND %s >= ", col);
	qb_text(q, p->from);
	buf_printf(&q->sql, " AND %s < ", col);
	qb_text(q, p->to);
}

/* weighted amount of row alias o: amount x rate / 100 rounded half up, per opportunity */
static void weighted(struct qb *q, const struct an_params *p, const char *o)
{
	buf_printf(&q->sql, "(%s.amount * IFNULL(json_extract(", o);
	qb_text(q, p->rates ? p->rates : "{}");
	buf_printf(&q->sql, ", '$.' || %s.stage), 0) + 50) / 100", o);
}

/* The funnel reads the aggregates of migration 11 (sqlite_schema.c): at most owners x stages
 * (x days of the period) rows, whatever the number of opportunities. */

/* the scope over the aggregates' owner column: the company has rows of its own (owner -1) */
static void scope_agg(struct qb *q, const struct an_params *p, const char *col)
{
	if (p->scope == SCOPE_COMPANY)
		buf_printf(&q->sql, "%s = -1", col);
	else
		scope_owner(q, p, col);
}

/* the period as UTC+8 days, for the aggregates' day column */
static void period_days(struct qb *q, const struct an_params *p, const char *col)
{
	buf_printf(&q->sql, " AND %s >= ", col);
	qb_text(q, p->from_day);
	buf_printf(&q->sql, " AND %s <= ", col);
	qb_text(q, p->to_day);
}

/* the rate of the stage of aggregate row alias a, in percent */
static void agg_rate(struct qb *q, const struct an_params *p, const char *a)
{
	qb_sql(q, "IFNULL(json_extract(");
	qb_text(q, p->rates ? p->rates : "{}");
	buf_printf(&q->sql, ", '$.' || %s.stage), 0)", a);
}

/* the weighted amount of agg_open row alias a: it rounds per opportunity, and with amount
 * = 100 q + c, (amount x r + 50) / 100 = q x r + (c x r + 50) / 100, summed per cents bucket c */
static void agg_weighted(struct qb *q, const struct an_params *p, const char *a)
{
	buf_printf(&q->sql, "(%s.amount - %s.n * %s.cents) / 100 * ", a, a, a);
	agg_rate(q, p, a);
	buf_printf(&q->sql, " + %s.n * ((%s.cents * ", a, a);
	agg_rate(q, p, a);
	qb_sql(q, " + 50) / 100)");
}

/* funnel_open: {stage, count, amount, weighted_amount} of open opportunities, now */
static void an_funnel_open(struct qb *q, const struct an_params *p)
{
	qb_sql(q, "SELECT a.stage, sum(a.n) AS count, sum(a.amount) AS amount, sum(");
	agg_weighted(q, p, "a");
	qb_sql(q, ") AS weighted_amount FROM agg_open a WHERE ");
	scope_agg(q, p, "a.owner_id");
	qb_sql(q, " GROUP BY a.stage HAVING sum(a.n) <> 0");
}

/* funnel_closed: {stage: won|lost, count, amount, avg_cycle_days} closed in the period */
static void an_funnel_closed(struct qb *q, const struct an_params *p)
{
	qb_sql(q, "SELECT a.stage, sum(a.n) AS count, sum(a.amount) AS amount, sum(a.cycle_ms) / "
		  "86400000.0 / sum(a.n) AS avg_cycle_days FROM agg_closed a WHERE ");
	scope_agg(q, p, "a.owner_id");
	period_days(q, p, "a.day");
	qb_sql(q, " GROUP BY a.stage HAVING sum(a.n) <> 0");
}

/* funnel_reach: {rank, n}: opportunities created in the period by the furthest stage they
 * reached (1 interest .. 6 use, 7 won; 0 only lost) */
static void an_funnel_reach(struct qb *q, const struct an_params *p)
{
	qb_sql(q, "SELECT a.rank, sum(a.n) AS n FROM agg_reach a WHERE ");
	scope_agg(q, p, "a.owner_id");
	period_days(q, p, "a.day");
	qb_sql(q, " GROUP BY a.rank HAVING sum(a.n) <> 0");
}

/* stage_days: {stage, stays, avg_days}: stays in an open stage that ended in the period */
static void an_stage_days(struct qb *q, const struct an_params *p)
{
	qb_sql(q, "SELECT a.stage, sum(a.n) AS stays, sum(a.stay_ms) / 86400000.0 / sum(a.n) AS "
		  "avg_days FROM agg_stays a WHERE ");
	scope_agg(q, p, "a.owner_id");
	period_days(q, p, "a.day");
	qb_sql(q, " GROUP BY a.stage HAVING sum(a.n) <> 0");
}

/* open_by_month: {month, count, amount, weighted_amount} by expected close month in the
 * period (open opportunities with a close date) */
static void an_open_by_month(struct qb *q, const struct an_params *p)
{
	qb_sql(q, "SELECT substr(o.expected_close_on, 1, 7) AS month, count(*) AS count, "
		  "sum(o.amount) AS amount, sum(");
	weighted(q, p, "o");
	qb_sql(q, ") AS weighted_amount FROM opportunities o WHERE o.archived_at IS NULL AND "
		  "o.stage NOT IN ('won', 'lost') AND ");
	scope_owner(q, p, "o.owner_id");
	qb_sql(q, " AND o.expected_close_on >= ");
	qb_text(q, p->from_day);
	qb_sql(q, " AND o.expected_close_on <= ");
	qb_text(q, p->to_day);
	qb_sql(q, " GROUP BY month ORDER BY month");
}

/* won_by_month: {month, count, amount} won in the period, by the month it was won (UTC+8) */
static void an_won_by_month(struct qb *q, const struct an_params *p)
{
	qb_sql(q, "SELECT substr(a.day, 1, 7) AS month, sum(a.n) AS count, sum(a.amount) AS amount "
		  "FROM agg_closed a WHERE a.stage = 'won' AND ");
	scope_agg(q, p, "a.owner_id");
	period_days(q, p, "a.day");
	qb_sql(q, " GROUP BY month HAVING sum(a.n) <> 0 ORDER BY month");
}

/* touches_day: {user_id, day (UTC+8), touches}: effective activities by the scope's users */
static void an_touches_day(struct qb *q, const struct an_params *p)
{
	qb_sql(q, "SELECT a.user_id, date(a.occurred_at, '+8 hours') AS day, count(*) AS touches FROM "
		  "activities a WHERE a.archived_at IS NULL AND a.effective = 1 AND ");
	scope_owner(q, p, "a.user_id");
	period(q, p, "a.occurred_at");
	qb_sql(q, " GROUP BY a.user_id, day ORDER BY a.user_id, day");
}

/* activity_totals: {activities, effective, accounts_touched} in the period */
static void an_activity_totals(struct qb *q, const struct an_params *p)
{
	qb_sql(q, "SELECT count(*) AS activities, IFNULL(sum(a.effective), 0) AS effective, "
		  "count(DISTINCT CASE WHEN a.effective = 1 THEN a.account_id END) AS "
		  "accounts_touched FROM activities a WHERE a.archived_at IS NULL AND ");
	scope_owner(q, p, "a.user_id");
	period(q, p, "a.occurred_at");
}

/* by_channel: {channel, touches}: effective activities in the period */
static void an_by_channel(struct qb *q, const struct an_params *p)
{
	qb_sql(q, "SELECT a.channel, count(*) AS touches FROM activities a WHERE a.archived_at IS "
		  "NULL AND a.effective = 1 AND ");
	scope_owner(q, p, "a.user_id");
	period(q, p, "a.occurred_at");
	qb_sql(q, " GROUP BY a.channel ORDER BY a.channel");
}

#define LAST_TOUCH(t) "(SELECT max(da.occurred_at) FROM activities da WHERE da.account_id = " t \
		      ".id AND da.effective = 1 AND da.archived_at IS NULL)"

/* sleeping: {n}: owned accounts whose last effective touch (or creation) is before cutoff */
static void an_sleeping(struct qb *q, const struct an_params *p)
{
	qb_sql(q, "SELECT count(*) AS n FROM accounts t WHERE t.archived_at IS NULL AND "
		  "t.owner_id IS NOT NULL AND ");
	scope_owner(q, p, "t.owner_id");
	qb_sql(q, " AND IFNULL(" LAST_TOUCH("t") ", t.created_at) < ");
	qb_text(q, p->cutoff);
}

/* intervention: {n}: owned accounts with at least n effective touches and no won opportunity */
static void an_intervention(struct qb *q, const struct an_params *p)
{
	qb_sql(q, "SELECT count(*) AS n FROM accounts t WHERE t.archived_at IS NULL AND "
		  "t.owner_id IS NOT NULL AND ");
	scope_owner(q, p, "t.owner_id");
	qb_sql(q, " AND (SELECT count(*) FROM activities da WHERE da.account_id = t.id AND "
		  "da.effective = 1 AND da.archived_at IS NULL) >= ");
	qb_int(q, p->n);
	qb_sql(q, " AND NOT EXISTS (SELECT 1 FROM opportunities w WHERE w.account_id = t.id AND "
		  "w.archived_at IS NULL AND w.stage = 'won')");
}

/* pool_size: {n}: accounts in the pool now */
static void an_pool_size(struct qb *q, const struct an_params *p)
{
	(void)p;
	qb_sql(q, "SELECT count(*) AS n FROM accounts WHERE archived_at IS NULL AND owner_id IS NULL");
}

/* pool_flows: {direction: in|out, reason, n}: owner changes into the pool (from the scope's
 * users) and out of it (to the scope's users) in the period; a new account's first owner
 * (note "created") is not a flow */
static void an_pool_flows(struct qb *q, const struct an_params *p)
{
	qb_sql(q, "SELECT CASE WHEN h.to_id IS NULL THEN 'in' ELSE 'out' END AS direction, h.reason, "
		  "count(*) AS n FROM owner_history h WHERE IFNULL(h.note, '') <> 'created' AND "
		  "((h.to_id IS NULL AND ");
	/* from nobody (a partner's conversion) counts for the company scope only */
	scope_owner(q, p, "h.from_id");
	qb_sql(q, ") OR (h.from_id IS NULL AND h.to_id IS NOT NULL AND ");
	scope_owner(q, p, "h.to_id");
	qb_sql(q, "))");
	period(q, p, "h.at");
	qb_sql(q, " GROUP BY direction, h.reason ORDER BY direction, h.reason");
}

/* segments: {orders_bucket: 0|1|2 (2 = two or more), first_recent: first order on or after
 * cutoff's day, accounts, revenue (orders in the period), touches (effective, in the period)} */
static void an_segments(struct qb *q, const struct an_params *p)
{
	qb_sql(q, "SELECT min(n, 2) AS orders_bucket, IFNULL(first_on >= substr(");
	qb_text(q, p->cutoff);
	qb_sql(q, ", 1, 10), 0) AS first_recent, count(*) AS accounts, IFNULL(sum(revenue), 0) AS "
		  "revenue, IFNULL(sum(touches), 0) AS touches FROM (SELECT (SELECT count(*) FROM "
		  "orders o WHERE o.account_id = t.id AND o.archived_at IS NULL) AS n, (SELECT "
		  "min(o.ordered_on) FROM orders o WHERE o.account_id = t.id AND o.archived_at IS NULL) "
		  "AS first_on, (SELECT sum(o.amount) FROM orders o WHERE o.account_id = t.id AND "
		  "o.archived_at IS NULL AND o.ordered_on >= ");
	qb_text(q, p->from_day);
	qb_sql(q, " AND o.ordered_on <= ");
	qb_text(q, p->to_day);
	qb_sql(q, ") AS revenue, (SELECT count(*) FROM activities a WHERE a.account_id = t.id AND "
		  "a.effective = 1 AND a.archived_at IS NULL");
	period(q, p, "a.occurred_at");
	qb_sql(q, ") AS touches FROM accounts t WHERE t.archived_at IS NULL AND t.owner_id IS NOT "
		  "NULL AND ");
	scope_owner(q, p, "t.owner_id");
	qb_sql(q, ") GROUP BY orders_bucket, first_recent");
}

/* won_total: {count, amount} won in the period by the scope's owners */
static void an_won_total(struct qb *q, const struct an_params *p)
{
	qb_sql(q, "SELECT IFNULL(sum(a.n), 0) AS count, IFNULL(sum(a.amount), 0) AS amount FROM "
		  "agg_closed a WHERE a.stage = 'won' AND ");
	scope_agg(q, p, "a.owner_id");
	period_days(q, p, "a.day");
}

/* quotas: {id, user_id, team_id, period, amount}: live quotas of the scope's users and teams
 * (company: all; me: the user's) */
static void an_quotas(struct qb *q, const struct an_params *p)
{
	qb_sql(q, "SELECT t.id, t.user_id, t.team_id, t.period, t.amount FROM quotas t WHERE "
		  "t.archived_at IS NULL AND (");
	scope_owner(q, p, "t.user_id");
	if (p->scope == SCOPE_TEAM) {
		qb_sql(q, " OR t.team_id IN (WITH RECURSIVE st(id) AS (SELECT ");
		qb_int(q, p->team_id);
		qb_sql(q, " UNION SELECT c.id FROM teams c JOIN st ON c.parent_id = st.id) "
			  "SELECT id FROM st)");
	}
	qb_sql(q, ") ORDER BY t.period, t.id");
}

/* reps: one row per live rep in scope: {user_id, username, display_name, hired_on,
 * accounts_owned, touches, new_accounts_touched, open_pipeline, weighted_pipeline, won_count,
 * won_amount, lost_count, first_won_at} */
static void an_reps(struct qb *q, const struct an_params *p)
{
	qb_sql(q, "SELECT u.id AS user_id, u.username, u.display_name, u.hired_on, (SELECT count(*) "
		  "FROM accounts a WHERE a.owner_id = u.id AND a.archived_at IS NULL) AS "
		  "accounts_owned, (SELECT count(*) FROM activities x WHERE x.user_id = u.id AND "
		  "x.effective = 1 AND x.archived_at IS NULL");
	period(q, p, "x.occurred_at");
	qb_sql(q, ") AS touches, (SELECT count(*) FROM (SELECT min(x.occurred_at) AS first FROM "
		  "activities x WHERE x.user_id = u.id AND x.effective = 1 AND x.archived_at IS NULL "
		  "GROUP BY x.account_id) WHERE 1");
	period(q, p, "first");
	qb_sql(q, ") AS new_accounts_touched, (SELECT IFNULL(sum(g.amount), 0) FROM agg_open g WHERE "
		  "g.owner_id = u.id) AS open_pipeline, (SELECT IFNULL(sum(");
	agg_weighted(q, p, "g");
	qb_sql(q, "), 0) FROM agg_open g WHERE g.owner_id = u.id) AS weighted_pipeline");
	static const char *const closed[][2] = { { "n", "won" }, { "amount", "won" }, { "n", "lost" } };
	static const char *const names[] = { "won_count", "won_amount", "lost_count" };
	for (int i = 0; i < 3; i++) {
		buf_printf(&q->sql, ", (SELECT IFNULL(sum(c.%s), 0) FROM agg_closed c WHERE "
			   "c.owner_id = u.id AND c.stage = '%s'", closed[i][0], closed[i][1]);
		period_days(q, p, "c.day");
		buf_printf(&q->sql, ") AS %s", names[i]);
	}
	qb_sql(q, ", (SELECT min(h.at) FROM stage_history h JOIN opportunities o ON "
		  "o.id = h.opportunity_id WHERE o.owner_id = u.id AND o.archived_at IS NULL AND "
		  "h.to_stage = 'won') AS first_won_at FROM users u WHERE u.archived_at IS NULL AND "
		  "u.role = 'rep' AND ");
	scope_owner(q, p, "u.id");
	qb_sql(q, " ORDER BY u.id");
}

static const struct {
	const char *name;
	void (*build)(struct qb *q, const struct an_params *p);
} an_queries[] = {
	{ "funnel_open", an_funnel_open }, { "funnel_closed", an_funnel_closed },
	{ "funnel_reach", an_funnel_reach }, { "stage_days", an_stage_days },
	{ "open_by_month", an_open_by_month }, { "won_by_month", an_won_by_month },
	{ "touches_day", an_touches_day }, { "activity_totals", an_activity_totals },
	{ "by_channel", an_by_channel }, { "sleeping", an_sleeping },
	{ "intervention", an_intervention }, { "pool_size", an_pool_size },
	{ "pool_flows", an_pool_flows }, { "segments", an_segments },
	{ "won_total", an_won_total }, { "reps", an_reps }, { "quotas", an_quotas },
};

static int sq_analytics(void *impl, const char *name, const struct an_params *p, json_t **rows,
			struct dm_err *e)
{
	struct sq *sq = impl;
	struct conn *c = conn_get(sq, e);
	struct qb q;
	*rows = NULL;
	if (!c)
		return e->code;
	for (size_t i = 0; i < sizeof an_queries / sizeof an_queries[0]; i++) {
		if (strcmp(an_queries[i].name, name))
			continue;
		qb_init(&q);
		an_queries[i].build(&q, p);
		int rc = query_rows(c, &q, rows, e);
		qb_release(&q);
		return rc;
	}
	return dm_fail(e, DM_EINVAL, NULL, "no analytics query %s", name);
}

static int sq_team_in_reach(void *impl, const struct viewer *v, int64_t team, int *yes,
			    struct dm_err *e)
{
	struct sq *sq = impl;
	struct conn *c = conn_get(sq, e);
	struct qb q;
	json_t *rows = NULL;
	*yes = 0;
	if (!c)
		return e->code;
	qb_init(&q);
	qb_sql(&q, "SELECT 1 AS ok FROM teams t WHERE t.archived_at IS NULL AND t.id = ");
	qb_int(&q, team);
	if (v->role != ROLE_ADMIN) {
		qb_sql(&q, " AND t.id IN ");
		vis_teams(&q, v);
	}
	int rc = query_rows(c, &q, &rows, e);
	qb_release(&q);
	*yes = !rc && json_array_size(rows) > 0;
	json_decref(rows);
	return rc;
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
	if ((rc = exec_simple(c, "BEGIN IMMEDIATE")) != SQLITE_OK)
		why = c->failure ? c->failure : "the database cannot start a write; try again";
	open_txn = !why;
	for (struct job *j = batch; j; j = j->next) {
		if (why) {
			job_fail(j, why);
			continue;
		}
		if (!alone)
			exec_simple(c, "SAVEPOINT job");
		tls_writing = sq;
		j->rc = j->fn(sq->store, j->arg);
		tls_writing = NULL;
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
			exec_simple(c, "ROLLBACK TO job");
		}
		if (!alone)
			exec_simple(c, "RELEASE job");
	}
	if (!why && open_txn && (rc = exec_simple(c, "COMMIT")) != SQLITE_OK) {
		why = c->failure ? c->failure : "the database could not commit; try again";
		if (!sqlite3_get_autocommit(c->db))
			exec_simple(c, "ROLLBACK");
		for (struct job *j = batch; j; j = j->next)
			job_fail(j, why);
	}
	if (sq->settings_dirty) {
		setting_cache_clear(sq);
		sq->settings_dirty = 0;
	}
}

static void *writer_main(void *arg)
{
	struct sq *sq = arg;
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
	conn_close(pthread_getspecific(sq->key));
	pthread_setspecific(sq->key, NULL);
	pthread_key_delete(sq->key);
	if (sq->wconn)
		sqlite3_exec(sq->wconn->db, "PRAGMA optimize", NULL, NULL, NULL);
	conn_close(sq->wconn);
	setting_cache_clear(sq);
	pthread_mutex_destroy(&sq->setting_mu);
	pthread_mutex_destroy(&sq->mu);
	pthread_cond_destroy(&sq->wake);
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
	*impl = NULL;
	if (conn_open(sq->path, &sq->wconn, e))
		goto fail;
	/* the writer touches every index of every table it writes: give it a large page cache */
	exec_simple(sq->wconn, "PRAGMA cache_size = -65536");
	if (exec_simple(sq->wconn, "PRAGMA journal_mode=WAL") != SQLITE_OK) {
		dm_fail(e, DM_EUNAVAILABLE, "db", "%s is not a usable SQLite database", sq->path);
		goto fail;
	}
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
	.bulk = sq_bulk,
	.snapshot = sq_snapshot,
	.get = sq_get,
	.list = sq_list,
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
	.team_in_reach = sq_team_in_reach,
	.analytics = sq_analytics,
	.setting_get = sq_setting_get,
	.setting_put = sq_setting_put,
	.stage_add = sq_stage_add,
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
	.agenda_accounts = sq_agenda_accounts,
	.sweep_add = sq_sweep_add,
	.sweep_done = sq_sweep_done,
	.import_insert = sq_import_insert,
	.backup = sq_backup,
};
