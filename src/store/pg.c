/* pg.c — the PostgreSQL backend, through libpq: a bounded pool of connections per process, each
 * write callback in its own transaction on the calling thread's pooled connection, the SQL of
 * sqlbuild.c in its PostgreSQL dialect.
 *
 * Writes. store_write runs the callback between BEGIN and COMMIT (synchronous_commit stays on:
 * a 2xx follows a durable commit) after taking one transaction-scoped advisory lock that every
 * dealmap write takes: writes are serialised across all servers on the database, as SQLite's one
 * writer thread serialises them in one process. The rules that check stored state before they
 * write (claims, parks, unique names, org-chart loops) therefore see every committed write and
 * race with none: two servers claiming one pool account, exactly one wins. Reads never take it.
 *
 * Connections. At most DEALMAP_PG_POOL (default 16) per process, opened on demand. A request
 * that finds the connection broken (the server restarted) resets it once: reads are retried on
 * the new connection, a write transaction is not (its outcome would be unknown) and answers
 * DM_EUNAVAILABLE (503), as does everything while the server is down. */
#include "store_int.h"
#include "pg_schema.h"
#include "sqlbuild.h"
#include "../base/buf.h"
#include "../base/log.h"
#include "../base/text.h"
#include "../base/timeutil.h"
#include "../base/xmalloc.h"
#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "../base/banned.h"

#define POOL_DEFAULT 16
#define STMT_CACHE 512      /* prepared statements per connection (a power of two) */
#define POOL_WAIT_S 10
/* pg_advisory_xact_lock keys: every write; the daily sweep */
#define LOCK_WRITE 0x646d0001LL
#define LOCK_SWEEP 0x646d0002LL

/* PostgreSQL type oids (catalog/pg_type_d.h, stable) */
#define OID_BOOL 16
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_FLOAT4 700
#define OID_FLOAT8 701
#define OID_NUMERIC 1700

struct pgc {
	PGconn *db;
	struct pgc *next;
	char *stmts[STMT_CACHE];   /* SQL of the statement prepared as "dm<i>", or NULL */
	int nstmts;
};

struct pg {
	struct store *store;
	char *url;
	pthread_mutex_t mu;
	pthread_cond_t freed;
	struct pgc *idle;
	int open, max;
};

/* Set on a thread while its write callback runs: store calls then use that transaction. */
static __thread struct pg *tls_pg;
static __thread struct pgc *tls_conn;

/* ---- connections -------------------------------------------------------------------------- */

static void msg_line(char *out, size_t n, const char *msg)
{
	snprintf(out, n, "%s", msg ? msg : "");
	out[strcspn(out, "\n")] = 0;
}

static int conn_new(struct pg *pg, struct pgc **out, struct dm_err *e)
{
	static const char *const keys[] = { "connect_timeout", "application_name",
					    "client_encoding", "dbname", NULL };
	const char *vals[] = { "5", "dealmap", "UTF8", pg->url, NULL };
	struct pgc *c = xcalloc(1, sizeof *c);
	char msg[200];
	c->db = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(c->db) != CONNECTION_OK) {
		msg_line(msg, sizeof msg, PQerrorMessage(c->db));
		PQfinish(c->db);
		free(c);
		*out = NULL;
		return dm_fail(e, DM_EUNAVAILABLE, "db", "cannot connect to PostgreSQL: %s", msg);
	}
	*out = c;
	return 0;
}

/* Forget the prepared statements (the server forgot them: a reset, or DEALLOCATE ALL). */
static void stmts_forget(struct pgc *c)
{
	for (int i = 0; i < STMT_CACHE; i++) {
		free(c->stmts[i]);
		c->stmts[i] = NULL;
	}
	c->nstmts = 0;
}

static void conn_free(struct pgc *c)
{
	if (c) {
		PQfinish(c->db);
		stmts_forget(c);
		free(c);
	}
}

/* Reset a broken connection; 0 when it works again. */
static int conn_reset(struct pgc *c)
{
	PQreset(c->db);
	stmts_forget(c);
	return PQstatus(c->db) == CONNECTION_OK ? 0 : -1;
}

/* A connection for this thread: the write transaction's when one runs, else one from the pool
 * (waiting up to POOL_WAIT_S for one to come back when all are out). */
static struct pgc *conn_take(struct pg *pg, struct dm_err *e)
{
	if (tls_pg == pg)
		return tls_conn;
	struct timespec until;
	struct pgc *c = NULL;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += POOL_WAIT_S;
	pthread_mutex_lock(&pg->mu);
	while (!pg->idle && pg->open >= pg->max)
		if (pthread_cond_timedwait(&pg->freed, &pg->mu, &until) == ETIMEDOUT)
			break;
	if (pg->idle) {
		c = pg->idle;
		pg->idle = c->next;
	} else if (pg->open < pg->max) {
		pg->open++;
		pthread_mutex_unlock(&pg->mu);
		if (conn_new(pg, &c, e) == 0)
			return c;
		pthread_mutex_lock(&pg->mu);
		pg->open--;
		pthread_cond_signal(&pg->freed);
		pthread_mutex_unlock(&pg->mu);
		return NULL;
	}
	pthread_mutex_unlock(&pg->mu);
	if (!c)
		dm_fail(e, DM_EUNAVAILABLE, NULL, "all %d database connections are busy; try again",
			pg->max);
	return c;
}

static void conn_give(struct pg *pg, struct pgc *c)
{
	if (!c || (tls_pg == pg && c == tls_conn))
		return;
	pthread_mutex_lock(&pg->mu);
	c->next = pg->idle;
	pg->idle = c;
	pthread_cond_signal(&pg->freed);
	pthread_mutex_unlock(&pg->mu);
}

static int in_write(struct pg *pg, struct dm_err *e)
{
	if (tls_pg != pg)
		return dm_fail(e, DM_EINTERNAL, NULL, "store write outside store_write");
	return 0;
}

/* ---- statements --------------------------------------------------------------------------- */

/* The words for a storage failure (SQLSTATE state): the server refuses the write, not the
 * request; the same words as the SQLite store's. NULL for any other error. */
static const char *storage_failure(const char *state)
{
	if (!strcmp(state, "53100"))   /* disk_full */
		return "the disk holding the database is full: changes cannot be saved until space is "
		       "freed (reads still work)";
	if (!strcmp(state, "25006"))   /* read_only_sql_transaction: a standby, a read-only setting */
		return "the database is read-only: changes cannot be saved (reads still work)";
	if (!strcmp(state, "58030"))   /* io_error */
		return "the database could not be written (input/output error): changes cannot be "
		       "saved (reads still work)";
	if (!strncmp(state, "53", 2))  /* insufficient resources: memory, connections */
		return "the database server is out of resources; try again";
	return NULL;
}

/* The dm error for a failed statement (r may be NULL: no answer at all). */
static int pg_error(struct pgc *c, PGresult *r, struct dm_err *e)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	char msg[300];
	msg_line(msg, sizeof msg, r ? PQresultErrorMessage(r) : PQerrorMessage(c->db));
	if (PQstatus(c->db) != CONNECTION_OK || !state || !strncmp(state, "08", 2) ||
	    !strncmp(state, "57P", 3)) {
		log_warn("postgres: unavailable: %s", msg);
		return dm_fail(e, DM_EUNAVAILABLE, NULL, "the database is unavailable; try again");
	}
	if (!strcmp(state, "23505"))
		return dm_fail(e, DM_EDUPLICATE, NULL, "duplicate");
	if (!strcmp(state, "23503"))
		return dm_fail(e, DM_ENOTFOUND, NULL, "a referenced record does not exist");
	if (!strcmp(state, "40001") || !strcmp(state, "40P01") || !strcmp(state, "55P03"))
		return dm_fail(e, DM_EUNAVAILABLE, NULL, "the database is busy; try again");
	const char *why = storage_failure(state);
	if (why) {
		log_error("postgres: %s (%s)", msg, state);
		return dm_fail(e, DM_EUNAVAILABLE, NULL, "%s", why);
	}
	log_error("postgres: %s (%s)", msg, state);
	return dm_fail(e, DM_EINTERNAL, NULL, "database error");
}

/* Execute sql as a statement prepared once per connection (parsed and planned once, a round trip
 * for the first use only); the cache is emptied when full. */
static PGresult *prepared(struct pgc *c, const char *sql, int n, const char *const *vals)
{
	uint32_t h = text_hash(sql);
	int i = (int)(h & (STMT_CACHE - 1));
	char name[16];
	while (c->stmts[i] && strcmp(c->stmts[i], sql))
		i = (i + 1) & (STMT_CACHE - 1);
	snprintf(name, sizeof name, "dm%d", i);
	if (!c->stmts[i]) {
		if (c->nstmts >= STMT_CACHE / 2) {
			PGresult *d = PQexec(c->db, "DEALLOCATE ALL");
			int ok = PQresultStatus(d) == PGRES_COMMAND_OK;
			PQclear(d);
			if (!ok)   /* e.g. in a failed transaction: run it unprepared */
				return PQexecParams(c->db, sql, n, NULL, vals, NULL, NULL, 0);
			stmts_forget(c);
			return prepared(c, sql, n, vals);
		}
		PGresult *p = PQprepare(c->db, name, sql, n, NULL);
		if (PQresultStatus(p) != PGRES_COMMAND_OK)
			return p;
		PQclear(p);
		c->stmts[i] = xstrdup(sql);
		c->nstmts++;
	}
	return PQexecPrepared(c->db, name, n, vals, NULL, NULL, 0);
}

/* Run q on c. *out: the result (caller PQclear()s), NULL on error. */
static int run_on(struct pgc *c, struct qb *q, PGresult **out, struct dm_err *e)
{
	const char *vals[QB_MAX_BINDS];
	char nums[QB_MAX_BINDS][32];
	for (int i = 0; i < q->n; i++) {
		switch (q->b[i].type) {
		case QB_INT:
			snprintf(nums[i], sizeof nums[i], "%lld", (long long)q->b[i].i);
			vals[i] = nums[i];
			break;
		case QB_REAL:
			snprintf(nums[i], sizeof nums[i], "%.17g", q->b[i].d);
			vals[i] = nums[i];
			break;
		case QB_TEXT: vals[i] = q->b[i].s; break;
		default: vals[i] = NULL; break;
		}
	}
	PGresult *r = prepared(c, q->sql.data, q->n, vals);
	ExecStatusType st = PQresultStatus(r);
	*out = NULL;
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
		*out = r;
		return 0;
	}
	int rc = pg_error(c, r, e);
	if (rc == DM_EINTERNAL)
		log_error("postgres: in %s", q->sql.data);
	PQclear(r);
	return rc;
}

/* Run q (and release it): in the write transaction when one runs on this thread, else on a
 * pooled connection, reset and retried once when the connection turns out broken. */
static int run(struct pg *pg, struct qb *q, PGresult **out, struct dm_err *e)
{
	struct pgc *c = conn_take(pg, e);
	int rc = c ? run_on(c, q, out, e) : e->code;
	if (rc == DM_EUNAVAILABLE && c && tls_pg != pg && PQstatus(c->db) != CONNECTION_OK &&
	    conn_reset(c) == 0)
		rc = run_on(c, q, out, e);
	conn_give(pg, c);
	qb_release(q);
	return rc;
}

/* A statement without parameters on c (transaction control). */
static int simple(struct pgc *c, const char *sql, struct dm_err *e)
{
	PGresult *r = PQexec(c->db, sql);
	ExecStatusType st = PQresultStatus(r);
	int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : pg_error(c, r, e);
	PQclear(r);
	return rc;
}

static int64_t int_at(PGresult *r, int row, int col)
{
	return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* One cell as the JSON value of its PostgreSQL type, as SQLite would give it: integers and
 * booleans as integers, numeric as an integer when whole, text as strings. */
static json_t *cell_json(PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return json_null();
	const char *v = PQgetvalue(r, row, col);
	switch (PQftype(r, col)) {
	case OID_INT8: case OID_INT4: case OID_INT2:
		return json_integer(strtoll(v, NULL, 10));
	case OID_BOOL:
		return json_integer(v[0] == 't');
	case OID_NUMERIC:
		if (!strpbrk(v, ".eE"))
			return json_integer(strtoll(v, NULL, 10));
		return json_real(strtod(v, NULL));
	case OID_FLOAT4: case OID_FLOAT8:
		return json_real(strtod(v, NULL));
	default:
		return json_string(v);
	}
}

/* Rows as objects keyed by column name. */
static json_t *rows_json(PGresult *r)
{
	json_t *arr = json_array();
	for (int i = 0; i < PQntuples(r); i++) {
		json_t *o = json_object();
		for (int j = 0; j < PQnfields(r); j++)
			json_object_set_new(o, PQfname(r, j), cell_json(r, i, j));
		json_array_append_new(arr, o);
	}
	return arr;
}

/* Run q and return its rows keyed by column. */
static int rows_run(struct pg *pg, struct qb *q, json_t **items, struct dm_err *e)
{
	PGresult *r = NULL;
	int rc = run(pg, q, &r, e);
	*items = rc ? NULL : rows_json(r);
	PQclear(r);
	return rc;
}

/* Run q; *n = the first column of its first row (0 when none). */
static int int_run(struct pg *pg, struct qb *q, int64_t *n, struct dm_err *e)
{
	PGresult *r = NULL;
	int rc = run(pg, q, &r, e);
	*n = !rc && PQntuples(r) && !PQgetisnull(r, 0, 0) ? int_at(r, 0, 0) : 0;
	PQclear(r);
	return rc;
}

/* A write statement: inside store_write only. */
static int write_run(struct pg *pg, struct qb *q, PGresult **out, struct dm_err *e)
{
	if (in_write(pg, e)) {
		qb_release(q);
		return e->code;
	}
	PGresult *r = NULL;
	int rc = run(pg, q, &r, e);
	if (out)
		*out = r;
	else
		PQclear(r);
	return rc;
}

/* ---- rows ↔ records ----------------------------------------------------------------------- */

static json_t *field_json(PGresult *r, int row, int col, const struct field *f)
{
	if (PQgetisnull(r, row, col))
		return json_null();
	const char *v = PQgetvalue(r, row, col);
	switch (f->type) {
	case FT_INT:
	case FT_REF:
		return json_integer(strtoll(v, NULL, 10));
	case FT_BOOL:
		return json_boolean(strtoll(v, NULL, 10) != 0);
	case FT_JSON: {
		json_t *j = json_loads(v, JSON_DECODE_ANY, NULL);
		return j ? j : json_null();
	}
	default:
		return json_string(v);
	}
}

static json_t *row_only(PGresult *r, int row, const struct kind *k, const char *const *only)
{
	json_t *o = json_object();
	int col = 0;
	for (size_t i = 0; i < k->nfields; i++) {
		const struct field *f = &k->fields[i];
		if (model_query_selects(f, only))
			json_object_set_new(o, f->name, field_json(r, row, col++, f));
	}
	return o;
}

static json_t *row_record(PGresult *r, int row, const struct kind *k)
{
	return row_only(r, row, k, NULL);
}

/* ---- records ------------------------------------------------------------------------------ */

static int pg_get(void *impl, const struct kind *k, const struct viewer *v, int64_t id,
		  int include_archived, json_t **rec, struct dm_err *e)
{
	struct qb q;
	PGresult *r = NULL;
	*rec = NULL;
	qb_init(&q, SQL_PG);
	q.point = 1;
	select_list(&q, k);
	qb_sql(&q, " WHERE t.id = ");
	qb_int(&q, id);
	if (!include_archived)
		qb_sql(&q, " AND t.archived_at IS NULL");
	qb_sql(&q, " AND ");
	vis_clause(&q, k, v);
	int rc = run(impl, &q, &r, e);
	if (!rc && PQntuples(r))
		*rec = row_record(r, 0, k);
	else if (!rc)
		rc = dm_fail(e, DM_ENOTFOUND, NULL, "%s %lld not found", k->name, (long long)id);
	PQclear(r);
	return rc;
}

static int pg_list(void *impl, const struct store_query *sqy, json_t **items, struct dm_err *e)
{
	struct qb q;
	PGresult *r = NULL;
	*items = NULL;
	qb_init(&q, SQL_PG);
	sql_list(&q, sqy);
	int rc = run(impl, &q, &r, e);
	if (!rc) {
		*items = json_array();
		for (int i = 0; i < PQntuples(r); i++)
			json_array_append_new(*items, row_only(r, i, sqy->kind, sqy->only));
	}
	PQclear(r);
	return rc;
}

/* The holder of the unique value rec would take, as DM_EDUPLICATE. */
static int duplicate(struct pg *pg, const struct kind *k, json_t *rec, const char *key,
		     struct dm_err *e)
{
	struct qb q;
	struct dm_err ignored;
	int64_t other = 0;
	if (key || k == &kind_user) {
		qb_init(&q, SQL_PG);
		sql_holder(&q, k, rec, key);
		int_run(pg, &q, &other, &ignored);
	}
	return sql_duplicate(k, other, e);
}

/* The audit rows of changes against cur, in one INSERT. */
static int audit_update(struct pg *pg, const struct kind *k, int64_t id, int64_t actor,
			const char *now, json_t *cur, json_t *changes, struct dm_err *e)
{
	struct qb q;
	const char *fname;
	json_t *v;
	qb_init(&q, SQL_PG);
	json_object_foreach(changes, fname, v) {
		const struct field *f = model_field(k, fname);
		json_t *old = json_object_get(cur, fname);
		if (!f || !model_is_column(f) || json_equal(v, old))
			continue;
		if (q.n + 8 > QB_MAX_BINDS) {
			int rc = write_run(pg, &q, NULL, e);
			if (rc)
				return rc;
			qb_init(&q, SQL_PG);
		}
		sql_audit(&q, k->name, id, actor, now, "update", fname, old, v);
	}
	if (!q.n) {
		qb_release(&q);
		return 0;
	}
	return write_run(pg, &q, NULL, e);
}

/* After "WITH r AS (INSERT ... RETURNING id": the audit rows of the new record, in the same
 * statement (one round trip), as ", a AS (INSERT INTO audit ... FROM r, (VALUES (field, new)...))
 * SELECT id FROM r". One row with no field: the fields of rec that are set (create,
 * sql_audit_created), or the whole record (import). */
static void audit_cte(struct qb *q, const struct kind *k, int64_t actor, const char *now,
		      const char *action, json_t *rec)
{
	int rows = 0;
	qb_sql(q, "), a AS (INSERT INTO audit (object, object_id, actor_id, at, action, field, old, "
		  "new) SELECT CAST(");
	qb_text(q, k->name);
	qb_sql(q, " AS text), r.id, CAST(");
	qb_id_or_null(q, actor);
	qb_sql(q, " AS bigint), CAST(");
	qb_text(q, now);
	qb_sql(q, " AS text), CAST(");
	qb_text(q, action);
	qb_sql(q, " AS text), v.f, NULL, v.n FROM r, (VALUES ");
	json_t *whole = !strcmp(action, "import") ? json_incref(rec) : sql_audit_created(k, rec);
	if (whole) {
		qb_sql(q, "(NULL, ");
		qb_text(q, qb_keep(q, json_dumps(whole, JSON_COMPACT)));
		qb_sql(q, ")");
		rows = 1;
		json_decref(whole);
	}
	if (!rows)
		qb_sql(q, "(NULL, NULL)) AS v(f, n) WHERE FALSE) SELECT id FROM r");
	else
		qb_sql(q, ") AS v(f, n)) SELECT id FROM r");
}

/* The INSERT and its audit rows in one statement; no row back: a unique value is taken (ON
 * CONFLICT DO NOTHING), answered as DM_EDUPLICATE with the holder. */
static int insert_audited(struct pg *pg, const struct kind *k, json_t *rec, int64_t actor,
			  int import, const char *at, int64_t *id, struct dm_err *e)
{
	char now[TIME_STR_LEN];
	char *key = name_key_of(k, rec);
	struct qb q;
	PGresult *r = NULL;
	if (at)
		snprintf(now, sizeof now, "%s", at);
	else
		time_format(time_now_ms(), now);
	qb_init(&q, SQL_PG);
	qb_sql(&q, "WITH r AS (");
	if (import) {
		qb_sql(&q, sql_import(k, SQL_PG));
		q.values_only = 1;   /* the prepared text numbers the values in this order */
		qb_text(&q, now);
		qb_text(&q, now);
		if (key)
			qb_text(&q, key);
		for (size_t f = 0; f < k->nfields; f++)
			if (sql_import_column(&k->fields[f]))
				qb_json(&q, json_object_get(rec, k->fields[f].name));
		q.values_only = 0;
	} else {
		sql_insert(&q, k, rec, now, key);
	}
	audit_cte(&q, k, actor, now, import ? "import" : "create", rec);
	int rc = write_run(pg, &q, &r, e);
	if (!rc && !PQntuples(r))
		rc = duplicate(pg, k, rec, key, e);
	else if (!rc)
		*id = int_at(r, 0, 0);
	PQclear(r);
	free(key);
	return rc;
}

static int pg_insert(void *impl, const struct kind *k, json_t *rec, int64_t actor,
		     const char *at, int64_t *id, struct dm_err *e)
{
	return insert_audited(impl, k, rec, actor, 0, at, id, e);
}

/* Run a write that may break a unique index under a savepoint, so the transaction survives to
 * look up the holder (a failed statement would abort it). */
static int guarded(struct pg *pg, struct qb *q, struct dm_err *e)
{
	if (in_write(pg, e)) {
		qb_release(q);
		return e->code;
	}
	if (simple(tls_conn, "SAVEPOINT dm_stmt", e)) {
		qb_release(q);
		return e->code;
	}
	int rc = write_run(pg, q, NULL, e);
	struct dm_err ignored;
	simple(tls_conn, rc ? "ROLLBACK TO SAVEPOINT dm_stmt" : "RELEASE SAVEPOINT dm_stmt",
	       rc ? &ignored : e);
	return rc;
}

static int pg_update(void *impl, const struct kind *k, int64_t id, json_t *changes,
		     int64_t actor, int *changed, struct dm_err *e)
{
	struct pg *pg = impl;
	json_t *cur = NULL, *merged = NULL;
	char *key = NULL;
	struct qb q;
	int rc, n = 0;
	char now[TIME_STR_LEN];
	*changed = 0;
	if (in_write(pg, e) || (rc = pg_get(impl, k, NULL, id, 1, &cur, e)))
		return e->code;
	time_format(time_now_ms(), now);
	merged = json_deep_copy(cur);
	json_object_update(merged, changes);
	key = name_key_of(k, merged);
	qb_init(&q, SQL_PG);
	sql_update(&q, k, id, cur, changes, key, now, &n);
	if (!n) {
		qb_release(&q);
		goto out;
	}
	rc = guarded(pg, &q, e);
	if (rc == DM_EDUPLICATE)
		rc = duplicate(pg, k, merged, key, e);
	if (!rc)
		rc = audit_update(pg, k, id, actor, now, cur, changes, e);
	*changed = !rc;
out:
	free(key);
	json_decref(merged);
	json_decref(cur);
	return rc;
}

static int pg_set_archived(void *impl, const struct kind *k, int64_t id, int archived,
			   int64_t actor, struct dm_err *e)
{
	struct pg *pg = impl;
	json_t *cur = NULL;
	char now[TIME_STR_LEN];
	struct qb q;
	int rc;
	if (in_write(pg, e) || (rc = pg_get(impl, k, NULL, id, 1, &cur, e)))
		return e->code;
	time_format(time_now_ms(), now);
	qb_init(&q, SQL_PG);
	sql_set_archived(&q, k, id, archived, now);
	rc = guarded(pg, &q, e);
	if (rc == DM_EDUPLICATE) {
		char *key = name_key_of(k, cur);
		rc = duplicate(pg, k, cur, key, e);
		free(key);
	}
	if (!rc) {
		json_t *nv = archived ? json_string(now) : json_null();
		qb_init(&q, SQL_PG);
		sql_audit(&q, k->name, id, actor, now, archived ? "archive" : "restore",
			  "archived_at", json_object_get(cur, "archived_at"), nv);
		rc = write_run(pg, &q, NULL, e);
		json_decref(nv);
	}
	json_decref(cur);
	return rc;
}

static int pg_audit_list(void *impl, const struct kind *k, int64_t id, int64_t after, int limit,
			 json_t **items, struct dm_err *e)
{
	struct qb q;
	size_t i;
	json_t *o;
	qb_init(&q, SQL_PG);
	sql_audit_list(&q, k, id, after, limit);
	int rc = rows_run(impl, &q, items, e);
	/* old and new hold JSON text */
	json_array_foreach(rc ? NULL : *items, i, o) {
		for (int side = 0; side < 2; side++) {
			const char *name = side ? "new" : "old";
			json_t *t = json_object_get(o, name);
			json_t *v = json_is_string(t) ? json_loads(json_string_value(t), JSON_DECODE_ANY,
								  NULL) : NULL;
			json_object_set_new(o, name, v ? v : json_null());
		}
	}
	return rc;
}

static int pg_in_scope(void *impl, const struct viewer *v, int64_t user_id, int *yes,
		       struct dm_err *e)
{
	struct qb q;
	int64_t n;
	qb_init(&q, SQL_PG);
	qb_sql(&q, "SELECT 1 FROM users t WHERE t.id = ");
	qb_int(&q, user_id);
	qb_sql(&q, " AND ");
	vis_owner(&q, v, "t.id");
	int rc = int_run(impl, &q, &n, e);
	*yes = !rc && n;
	return rc;
}

/* ---- credentials and sessions ------------------------------------------------------------- */

static int pg_cred_get(void *impl, const char *username, struct store_cred *out,
		       struct dm_err *e)
{
	struct qb q;
	PGresult *r = NULL;
	memset(out, 0, sizeof *out);
	qb_init(&q, SQL_PG);
	qb_sql(&q, "SELECT id, password_hash, active, CASE WHEN archived_at IS NULL THEN 0 ELSE 1 "
		   "END FROM users WHERE username = lower(");
	qb_text(&q, username);
	qb_sql(&q, ")");
	int rc = run(impl, &q, &r, e);
	if (!rc && PQntuples(r)) {
		out->user_id = int_at(r, 0, 0);
		snprintf(out->password_hash, sizeof out->password_hash, "%s", PQgetvalue(r, 0, 1));
		out->active = (int)int_at(r, 0, 2);
		out->archived = (int)int_at(r, 0, 3);
	} else if (!rc) {
		rc = dm_fail(e, DM_ENOTFOUND, "username", "no such user");
	}
	PQclear(r);
	return rc;
}

/* Run a write; *n = the rows it changed. */
static int write_count(struct pg *pg, struct qb *q, int64_t *n, struct dm_err *e)
{
	PGresult *r = NULL;
	int rc = write_run(pg, q, &r, e);
	*n = rc ? 0 : strtoll(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return rc;
}

static int pg_cred_set(void *impl, int64_t user_id, const char *hash, struct dm_err *e)
{
	char now[TIME_STR_LEN];
	struct qb q;
	int64_t n;
	time_format(time_now_ms(), now);
	qb_init(&q, SQL_PG);
	qb_sql(&q, "UPDATE users SET password_hash = ");
	qb_text(&q, hash);
	qb_sql(&q, " WHERE id = ");
	qb_int(&q, user_id);
	int rc = write_count(impl, &q, &n, e);
	if (!rc && !n)
		rc = dm_fail(e, DM_ENOTFOUND, NULL, "no such user");
	if (!rc) {
		qb_init(&q, SQL_PG);
		sql_audit(&q, kind_user.name, user_id, 0, now, "password", "password", NULL, NULL);
		rc = write_run(impl, &q, NULL, e);
	}
	return rc;
}

static int pg_session_put(void *impl, const char *token_hash, int64_t user_id, const char *csrf,
			  int64_t now_ms, struct dm_err *e)
{
	struct qb q;
	qb_init(&q, SQL_PG);
	sql_session_put(&q, token_hash, user_id, csrf, now_ms);
	return write_run(impl, &q, NULL, e);
}

static int pg_session_get(void *impl, const char *token_hash, struct store_session *out,
			  struct dm_err *e)
{
	struct qb q;
	PGresult *r = NULL;
	memset(out, 0, sizeof *out);
	qb_init(&q, SQL_PG);
	qb_sql(&q, "SELECT s.user_id, s.csrf, s.created_ms, s.seen_ms, u.role, u.team_id, CASE WHEN "
		   "u.active <> 0 AND u.archived_at IS NULL THEN 1 ELSE 0 END FROM sessions s JOIN "
		   "users u ON u.id = s.user_id WHERE s.token_hash = ");
	qb_text(&q, token_hash);
	int rc = run(impl, &q, &r, e);
	if (!rc && PQntuples(r)) {
		out->user_id = int_at(r, 0, 0);
		snprintf(out->csrf, sizeof out->csrf, "%s", PQgetvalue(r, 0, 1));
		out->created_ms = int_at(r, 0, 2);
		out->seen_ms = int_at(r, 0, 3);
		out->viewer.user_id = out->user_id;
		if (model_role_parse(PQgetvalue(r, 0, 4), &out->viewer.role))
			out->viewer.role = ROLE_PARTNER;   /* least privilege for an unknown role */
		out->viewer.team_id = int_at(r, 0, 5);
		out->active = (int)int_at(r, 0, 6);
	} else if (!rc) {
		rc = dm_fail(e, DM_ENOTFOUND, NULL, "no such session");
	}
	PQclear(r);
	return rc;
}

/* A one-statement write: sql_head, then text or num bound, then the rest. */
static int write_one(struct pg *pg, const char *sql_head, const char *text, const int64_t *num,
		     const char *sql_tail, struct dm_err *e)
{
	struct qb q;
	qb_init(&q, SQL_PG);
	qb_sql(&q, sql_head);
	if (num)
		qb_int(&q, *num);
	else
		qb_text(&q, text);
	qb_sql(&q, sql_tail);
	return write_run(pg, &q, NULL, e);
}

static int pg_session_seen(void *impl, const char *token_hash, int64_t now_ms, struct dm_err *e)
{
	struct qb q;
	qb_init(&q, SQL_PG);
	sql_session_seen(&q, token_hash, now_ms);
	return write_run(impl, &q, NULL, e);
}

static int pg_session_delete(void *impl, const char *token_hash, struct dm_err *e)
{
	return write_one(impl, "DELETE FROM sessions WHERE token_hash = ", token_hash, NULL, "", e);
}

static int pg_session_delete_user(void *impl, int64_t user_id, struct dm_err *e)
{
	return write_one(impl, "DELETE FROM sessions WHERE user_id = ", NULL, &user_id, "", e);
}

static int pg_session_expire(void *impl, int64_t idle_before, int64_t absolute_before,
			     struct dm_err *e)
{
	struct qb q;
	qb_init(&q, SQL_PG);
	sql_session_expire(&q, idle_before, absolute_before);
	return write_run(impl, &q, NULL, e);
}

static int pg_count(void *impl, const struct kind *k, int64_t *n, struct dm_err *e)
{
	struct qb q;
	qb_init(&q, SQL_PG);
	buf_printf(&q.sql, "SELECT count(*) FROM %s WHERE archived_at IS NULL", k->plural);
	return int_run(impl, &q, n, e);
}

/* ---- sign-in throttling --------------------------------------------------------------------- */

static int pg_throttle_get(void *impl, const char *key, int64_t *fails, int64_t *since_ms,
			   struct dm_err *e)
{
	struct qb q;
	PGresult *r = NULL;
	*fails = *since_ms = 0;
	qb_init(&q, SQL_PG);
	sql_throttle_get(&q, key);
	int rc = run(impl, &q, &r, e);
	if (!rc && PQntuples(r)) {
		*fails = int_at(r, 0, 0);
		*since_ms = int_at(r, 0, 1);
	}
	PQclear(r);
	return rc;
}

static int pg_throttle_fail(void *impl, const char *key, int64_t now_ms, int64_t window_ms,
			    struct dm_err *e)
{
	struct qb q;
	qb_init(&q, SQL_PG);
	sql_throttle_prune(&q, now_ms, window_ms);
	int rc = write_run(impl, &q, NULL, e);
	if (rc)
		return rc;
	qb_init(&q, SQL_PG);
	sql_throttle_fail(&q, key, now_ms, window_ms);
	return write_run(impl, &q, NULL, e);
}

static int pg_throttle_clear(void *impl, const char *key, struct dm_err *e)
{
	struct qb q;
	qb_init(&q, SQL_PG);
	sql_throttle_clear(&q, key);
	return write_run(impl, &q, NULL, e);
}

/* ---- jobs ------------------------------------------------------------------------------------- */

static int pg_job_add(void *impl, const char *object, int64_t user_id, int64_t bytes_total,
		      int64_t *id, struct dm_err *e)
{
	char now[TIME_STR_LEN];
	struct qb q;
	PGresult *r = NULL;
	time_format(time_now_ms(), now);
	qb_init(&q, SQL_PG);
	sql_job_add(&q, object, user_id, bytes_total, now);
	int rc = write_run(impl, &q, &r, e);
	*id = rc ? 0 : int_at(r, 0, 0);
	PQclear(r);
	return rc;
}

static int pg_job_set(void *impl, int64_t id, const char *state, int64_t rows, int64_t bytes,
		      json_t *report, const char *error, struct dm_err *e)
{
	char now[TIME_STR_LEN];
	struct qb q;
	time_format(time_now_ms(), now);
	qb_init(&q, SQL_PG);
	sql_job_set(&q, id, state, rows, bytes, report, error, now);
	return write_run(impl, &q, NULL, e);
}

static int pg_job_get(void *impl, int64_t id, json_t **job, struct dm_err *e)
{
	struct qb q;
	json_t *rows = NULL;
	*job = NULL;
	qb_init(&q, SQL_PG);
	sql_job_get(&q, id);
	int rc = rows_run(impl, &q, &rows, e);
	if (!rc && !(*job = json_incref(json_array_get(rows, 0))))
		rc = dm_fail(e, DM_ENOTFOUND, NULL, "job %lld not found", (long long)id);
	if (*job)
		job_from_row(*job);
	json_decref(rows);
	return rc;
}

/* ---- settings, stage history, links, account teams ---------------------------------------- */

/* Not cached: another server may change a setting at any time. */
static int pg_setting_get(void *impl, const char *key, json_t **value, struct dm_err *e)
{
	struct qb q;
	PGresult *r = NULL;
	*value = NULL;
	qb_init(&q, SQL_PG);
	qb_sql(&q, "SELECT value FROM settings WHERE key = ");
	qb_text(&q, key);
	int rc = run(impl, &q, &r, e);
	if (!rc && PQntuples(r))
		*value = json_loads(PQgetvalue(r, 0, 0), JSON_DECODE_ANY, NULL);
	PQclear(r);
	return rc;
}

static int pg_setting_put(void *impl, const char *key, json_t *value, int64_t actor,
			  struct dm_err *e)
{
	char now[TIME_STR_LEN];
	json_t *old = NULL;
	struct qb q;
	int rc;
	if (in_write(impl, e) || (rc = pg_setting_get(impl, key, &old, e)))
		return e->code;
	time_format(time_now_ms(), now);
	qb_init(&q, SQL_PG);
	sql_setting_put(&q, key, value, now);
	rc = write_run(impl, &q, NULL, e);
	if (!rc) {
		qb_init(&q, SQL_PG);
		sql_audit(&q, "settings", 0, actor, now, "update", key, old, value);
		rc = write_run(impl, &q, NULL, e);
	}
	json_decref(old);
	return rc;
}

static int pg_stage_add(void *impl, int64_t opp, const char *from, const char *to, int64_t by,
			const char *at, struct dm_err *e)
{
	char now[TIME_STR_LEN];
	struct qb q;
	time_format(time_now_ms(), now);
	qb_init(&q, SQL_PG);
	sql_stage_add(&q, opp, from, to, by, at ? at : now);
	return write_run(impl, &q, NULL, e);
}

static int pg_opportunity_backdate(void *impl, int64_t opp, const char *at, struct dm_err *e)
{
	struct qb q;
	int rc;
	qb_init(&q, SQL_PG);
	sql_backdate_opportunity(&q, opp, at);
	if ((rc = write_run(impl, &q, NULL, e)))
		return rc;
	qb_init(&q, SQL_PG);
	sql_backdate_history(&q, opp, at);
	return write_run(impl, &q, NULL, e);
}

/* The rows of a statement built by one of sqlbuild's builders of one parent id. */
static int rows_of(struct pg *pg, void (*build)(struct qb *q, int64_t id), int64_t id,
		   json_t **items, struct dm_err *e)
{
	struct qb q;
	qb_init(&q, SQL_PG);
	build(&q, id);
	return rows_run(pg, &q, items, e);
}

static int pg_stage_list(void *impl, int64_t opp, json_t **items, struct dm_err *e)
{
	return rows_of(impl, sql_stage_list, opp, items, e);
}

static int pg_link_add(void *impl, int64_t opp, int64_t from, int64_t to, const char *kind,
		       int64_t *id, struct dm_err *e)
{
	char now[TIME_STR_LEN];
	struct qb q;
	PGresult *r = NULL;
	time_format(time_now_ms(), now);
	qb_init(&q, SQL_PG);
	sql_link_add(&q, opp, from, to, kind, now);
	int rc = write_run(impl, &q, &r, e);
	if (!rc && !PQntuples(r))
		rc = dm_fail(e, DM_EDUPLICATE, "to", "these stakeholders are linked already");
	else if (!rc)
		*id = int_at(r, 0, 0);
	PQclear(r);
	return rc;
}

static int pg_link_list(void *impl, int64_t opp, json_t **items, struct dm_err *e)
{
	return rows_of(impl, sql_link_list, opp, items, e);
}

static int team_audit(struct pg *pg, int64_t account, int64_t user, int64_t actor, json_t *new_v,
		      struct dm_err *e)
{
	char now[TIME_STR_LEN], field[48];
	struct qb q;
	time_format(time_now_ms(), now);
	snprintf(field, sizeof field, "team:%lld", (long long)user);
	qb_init(&q, SQL_PG);
	sql_audit(&q, kind_account.name, account, actor, now, "team", field, NULL, new_v);
	return write_run(pg, &q, NULL, e);
}

static int pg_team_put(void *impl, int64_t account, int64_t user, const char *access,
		       int sensitive, int64_t actor, struct dm_err *e)
{
	char now[TIME_STR_LEN];
	struct qb q;
	time_format(time_now_ms(), now);
	qb_init(&q, SQL_PG);
	sql_team_put(&q, account, user, access, sensitive, actor, now);
	int rc = write_run(impl, &q, NULL, e);
	if (!rc) {
		json_t *nv = json_pack("{s:s,s:b}", "access", access, "sensitive", sensitive);
		rc = team_audit(impl, account, user, actor, nv, e);
		json_decref(nv);
	}
	return rc;
}

static int pg_team_delete(void *impl, int64_t account, int64_t user, int64_t actor,
			  struct dm_err *e)
{
	struct qb q;
	int64_t n;
	qb_init(&q, SQL_PG);
	sql_team_delete(&q, account, user);
	int rc = write_count(impl, &q, &n, e);
	if (!rc && !n)
		return dm_fail(e, DM_ENOTFOUND, "user_id", "user %lld is not on this account's team",
			       (long long)user);
	return rc ? rc : team_audit(impl, account, user, actor, NULL, e);
}

static int pg_team_list(void *impl, int64_t account, json_t **items, struct dm_err *e)
{
	int rc = rows_of(impl, sql_team_list, account, items, e);
	if (!rc)
		team_list_of(*items);
	return rc;
}

static int pg_account_access(void *impl, const struct viewer *v, int64_t account,
			     struct account_access *out, struct dm_err *e)
{
	struct qb q;
	json_t *rows = NULL;
	qb_init(&q, SQL_PG);
	sql_account_access(&q, v, account);
	int rc = rows_run(impl, &q, &rows, e);
	account_access_of(rc ? NULL : rows, out);
	json_decref(rows);
	return rc;
}

static int pg_find_name(void *impl, const struct kind *k, const char *name, int64_t *id,
			struct dm_err *e)
{
	struct qb q;
	char *key = text_name_key(name);
	qb_init(&q, SQL_PG);
	sql_holder(&q, k, NULL, key);
	int rc = int_run(impl, &q, id, e);
	free(key);
	return rc;
}

/* ---- ownership ----------------------------------------------------------------------------- */

static int pg_owner_add(void *impl, int64_t account, int64_t from, int64_t to, const char *reason,
			const char *note, int64_t by, int64_t sweep, struct dm_err *e)
{
	char now[TIME_STR_LEN];
	struct qb q;
	time_format(time_now_ms(), now);
	qb_init(&q, SQL_PG);
	sql_owner_add(&q, account, from, to, reason, note, by, sweep, now);
	return write_run(impl, &q, NULL, e);
}

static int pg_owner_list(void *impl, int64_t account, json_t **items, struct dm_err *e)
{
	return rows_of(impl, sql_owner_list, account, items, e);
}

static int pg_count_owned(void *impl, int64_t user, int64_t *n, struct dm_err *e)
{
	struct qb q;
	qb_init(&q, SQL_PG);
	qb_sql(&q, "SELECT count(*) FROM accounts WHERE archived_at IS NULL AND owner_id = ");
	qb_int(&q, user);
	return int_run(impl, &q, n, e);
}

static int pg_reclaim_candidates(void *impl, json_t *protect, const char *touch_before,
				 const char *deal_before, json_t **items, struct dm_err *e)
{
	struct qb q;
	qb_init(&q, SQL_PG);
	sql_reclaim(&q, protect, touch_before, deal_before);
	return rows_run(impl, &q, items, e);
}

static int pg_agenda_candidates(void *impl, const struct viewer *v, int64_t owner,
				const struct agenda_cut *cut, agenda_row_fn fn, void *arg,
				struct dm_err *e)
{
	struct qb q;
	PGresult *r = NULL;
	qb_init(&q, SQL_PG);
	sql_agenda_accounts(&q, v, owner, cut);
	int rc = run(impl, &q, &r, e);
	for (int i = 0; !rc && i < PQntuples(r); i++) {
		struct agenda_row a = {
			.id = int_at(r, i, 0),
			.created_at = PQgetisnull(r, i, 1) ? NULL : PQgetvalue(r, i, 1),
			.last_touch_at = PQgetisnull(r, i, 2) ? NULL : PQgetvalue(r, i, 2),
			.latest_next_touch = PQgetisnull(r, i, 3) ? NULL : PQgetvalue(r, i, 3),
			.open_opps = int_at(r, i, 4),
		};
		fn(arg, &a);
	}
	PQclear(r);
	return rc;
}

static int pg_agenda_accounts(void *impl, const struct viewer *v, int64_t owner,
			      const struct agenda_cut *cut, agenda_page_fn fn, void *arg,
			      struct dm_err *e)
{
	struct qb q;
	PGresult *r = NULL;
	qb_init(&q, SQL_PG);
	sql_agenda_accounts(&q, v, owner, cut);
	int rc = run(impl, &q, &r, e);
	for (int i = 0; !rc && i < PQntuples(r); i++)
		fn(arg, int_at(r, i, 0), PQgetisnull(r, i, 1) ? NULL : PQgetvalue(r, i, 1),
		   PQgetisnull(r, i, 2) ? 0 : int_at(r, i, 2),
		   PQgetisnull(r, i, 3) ? NULL : PQgetvalue(r, i, 3));
	PQclear(r);
	return rc;
}

static int pg_sweep_add(void *impl, const char *as_of, int64_t by, int64_t *id, struct dm_err *e)
{
	char now[TIME_STR_LEN];
	struct qb q;
	PGresult *r = NULL;
	time_format(time_now_ms(), now);
	qb_init(&q, SQL_PG);
	sql_sweep_add(&q, as_of, by, now);
	int rc = write_run(impl, &q, &r, e);
	if (!rc)
		*id = int_at(r, 0, 0);
	PQclear(r);
	return rc;
}

static int pg_sweep_done(void *impl, int64_t id, int64_t moved, struct dm_err *e)
{
	struct qb q;
	qb_init(&q, SQL_PG);
	sql_sweep_done(&q, id, moved);
	return write_run(impl, &q, NULL, e);
}

static int pg_team_in_reach(void *impl, const struct viewer *v, int64_t team, int *yes,
			    struct dm_err *e)
{
	struct qb q;
	int64_t n;
	qb_init(&q, SQL_PG);
	sql_team_in_reach(&q, v, team);
	int rc = int_run(impl, &q, &n, e);
	*yes = !rc && n;
	return rc;
}

static int pg_analytics(void *impl, const char *name, const struct an_params *p, json_t **rows,
			struct dm_err *e)
{
	struct qb q;
	*rows = NULL;
	qb_init(&q, SQL_PG);
	if (sql_analytics(&q, name, p, e)) {
		qb_release(&q);
		return e->code;
	}
	return rows_run(impl, &q, rows, e);
}

/* ---- bulk loads and backups ---------------------------------------------------------------- */

/* One round trip per record, as pg_insert, with one audit row holding the whole record. */
/* The audit text is made here from rec again: a round trip dwarfs it. */
static int pg_import_insert(void *impl, const struct kind *k, json_t *rec, int64_t actor,
			    const char *audit, size_t audit_len, int64_t *id, struct dm_err *e)
{
	return insert_audited(impl, k, rec, actor, 1, NULL, id, e);
}

/* pg_dump's directory (PATH first, then pg_config --bindir's Debian place). NULL when none. */
static const char *pg_dump_path(void)
{
	static const char *const where[] = { "/usr/bin/pg_dump", "/usr/local/bin/pg_dump",
					     "/usr/lib/postgresql/15/bin/pg_dump", NULL };
	for (int i = 0; where[i]; i++)
		if (access(where[i], X_OK) == 0)
			return where[i];
	return NULL;
}

/* A consistent copy through pg_dump (it reads every table in one REPEATABLE READ snapshot while
 * writes go on), in pg_dump's custom format, for pg_restore. */
static int pg_backup(void *impl, const char *path, struct dm_err *e)
{
	struct pg *pg = impl;
	const char *dump = pg_dump_path();
	int status = 0;
	if (access(path, F_OK) == 0)
		return dm_fail(e, DM_EPARAM, "out", "%s exists already: a backup never overwrites", path);
	if (!dump)
		return dm_fail(e, DM_EUNAVAILABLE, "out", "a PostgreSQL backup needs pg_dump, which is "
			       "not installed (Debian: apt-get install postgresql-client); or run "
			       "pg_dump --format=custom yourself");
	pid_t pid = fork();
	if (pid < 0)
		return dm_fail(e, DM_EINTERNAL, NULL, "cannot start pg_dump: %s", strerror(errno));
	if (pid == 0) {
		char *const argv[] = { (char *)"pg_dump", (char *)"--format=custom",
				       (char *)"--no-owner", (char *)"--file", (char *)path,
				       (char *)"--dbname", pg->url, NULL };
		execv(dump, argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		unlink(path);
		return dm_fail(e, DM_EINTERNAL, "out", "pg_dump failed (status %d): see its message "
			       "above", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
	return 0;
}

/* ---- transactions --------------------------------------------------------------------------- */

/* BEGIN and the write lock in one round trip. On a broken connection, reset it and try once
 * more: nothing ran yet. */
static int begin(struct pgc *c, struct dm_err *e)
{
	static const char sql[] = "BEGIN; SELECT pg_advisory_xact_lock(1684865025)";
	_Static_assert(LOCK_WRITE == 1684865025, "the lock key in the SQL");
	if (simple(c, sql, e) == 0)
		return 0;
	if (PQstatus(c->db) == CONNECTION_OK) {
		struct dm_err ignored;
		simple(c, "ROLLBACK", &ignored);
		return e->code;
	}
	if (conn_reset(c))
		return e->code;
	return simple(c, sql, e);
}

/* COMMIT; a refusal is DM_EUNAVAILABLE naming the cause. A transaction a statement aborted
 * answers COMMIT with ROLLBACK: nothing was kept, so that is a failure too. */
static int commit(struct pgc *c, struct dm_err *e)
{
	PGresult *r = PQexec(c->db, "COMMIT");
	int rc = 0;
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		rc = pg_error(c, r, e);
	else if (strcmp(PQcmdStatus(r), "COMMIT"))
		rc = dm_fail(e, DM_EUNAVAILABLE, NULL, "the write transaction was rolled back; try again");
	PQclear(r);
	if (rc && rc != DM_EUNAVAILABLE)
		rc = dm_fail(e, DM_EUNAVAILABLE, NULL, "the database could not commit; try again");
	return rc;
}

/* A refused BEGIN or COMMIT answers DM_EUNAVAILABLE in e (when given) with the cause: the
 * connection lost, the disk full, a read-only database (pg_error's words). */
static int pg_write(void *impl, store_write_fn fn, void *arg, struct dm_err *e)
{
	struct pg *pg = impl;
	struct dm_err local, ignored;
	if (!e)
		e = &local;
	if (tls_pg == pg)   /* nested: already inside the transaction */
		return fn(pg->store, arg);
	struct pgc *c = conn_take(pg, e);
	if (!c)
		return e->code;
	int rc = begin(c, e);
	if (rc && rc != DM_EUNAVAILABLE)
		rc = dm_fail(e, DM_EUNAVAILABLE, NULL, "the database cannot start a write; try again");
	if (!rc) {
		tls_pg = pg;
		tls_conn = c;
		rc = fn(pg->store, arg);
		tls_pg = NULL;
		tls_conn = NULL;
		if (rc)
			simple(c, "ROLLBACK", &ignored);
		else
			rc = commit(c, e);
	}
	conn_give(pg, c);
	return rc;
}

/* Inside store_write: take the singleton lock `name` for the rest of the transaction, or
 * learn that another server holds it (*got = 0). */
static int pg_lock_try(void *impl, const char *name, int *got, struct dm_err *e)
{
	struct qb q;
	int64_t n = 0;
	*got = 0;
	if (strcmp(name, "sweep"))
		return dm_fail(e, DM_EINVAL, NULL, "no lock %s", name);
	qb_init(&q, SQL_PG);
	qb_sql(&q, "SELECT CASE WHEN pg_try_advisory_xact_lock(");
	qb_int(&q, LOCK_SWEEP);
	qb_sql(&q, ") THEN 1 ELSE 0 END");
	if (in_write(impl, e)) {
		qb_release(&q);
		return e->code;
	}
	int rc = int_run(impl, &q, &n, e);
	*got = !rc && n;
	return rc;
}

/* ---- open, migrate, close -------------------------------------------------------------------- */

static int pg_schema_version(void *impl, int *version, struct dm_err *e)
{
	struct qb q;
	int64_t v = 0;
	*version = 0;
	qb_init(&q, SQL_PG);
	qb_sql(&q, "SELECT CASE WHEN to_regclass('schema_version') IS NULL THEN 0 ELSE 1 END");
	int rc = int_run(impl, &q, &v, e);
	if (!rc && v) {
		qb_init(&q, SQL_PG);
		qb_sql(&q, "SELECT max(version) FROM schema_version");
		rc = int_run(impl, &q, &v, e);
	}
	*version = (int)v;
	return rc;
}

struct migration {
	int from, *done;
	struct dm_err *e;
};

/* One migration per transaction, under the write lock: servers starting together migrate once. */
static int migrate_tx(struct store *s, void *arg)
{
	struct migration *m = arg;
	struct pg *pg = s->impl;
	int have;
	if (pg_schema_version(pg, &have, m->e))
		return m->e->code;
	if (have != m->from)   /* another process migrated meanwhile */
		return 0;
	char set[64];
	snprintf(set, sizeof set, "UPDATE schema_version SET version = %d", have + 1);
	if (simple(tls_conn, pg_migrations[have], m->e) || simple(tls_conn, set, m->e))
		return dm_fail(m->e, DM_EINTERNAL, "db", "migration %d failed: %s", have + 1,
			       m->e->message);
	*m->done = have + 1;
	return 0;
}

static int pg_migrate(void *impl, struct dm_err *e)
{
	struct pg *pg = impl;
	int have;
	if (pg_migration_count != store_sqlite_latest())
		return dm_fail(e, DM_EINTERNAL, NULL, "this build's PostgreSQL schema (%d) lags "
			       "SQLite's (%d)", pg_migration_count, store_sqlite_latest());
	if (pg_schema_version(impl, &have, e))
		return e->code;
	if (have > pg_migration_count)
		return dm_fail(e, DM_ESCHEMA, "db", "the database has schema version %d, newer than "
			       "this dealmap (%d): use a newer dealmap", have, pg_migration_count);
	while (have < pg_migration_count) {
		int done = 0;
		struct migration m = { have, &done, e };
		if (pg_write(pg, migrate_tx, &m, e))
			return e->code ? e->code : DM_EUNAVAILABLE;
		if (pg_schema_version(impl, &have, e))
			return e->code;
		if (done)
			log_info("PostgreSQL database migrated to schema version %d", done);
	}
	return 0;
}

static void pg_close(void *impl)
{
	struct pg *pg = impl;
	if (!pg)
		return;
	while (pg->idle) {
		struct pgc *c = pg->idle;
		pg->idle = c->next;
		conn_free(c);
	}
	pthread_mutex_destroy(&pg->mu);
	pthread_cond_destroy(&pg->freed);
	free(pg->url);
	free(pg);
}

static int pg_open(struct store *s, const char *url, void **impl, struct dm_err *e)
{
	struct pg *pg = xcalloc(1, sizeof *pg);
	const char *max = getenv("DEALMAP_PG_POOL");
	struct pgc *c = NULL;
	pg->store = s;
	pg->url = xstrdup(url);
	pg->max = max && atoi(max) > 0 && atoi(max) <= 1000 ? atoi(max) : POOL_DEFAULT;
	pthread_mutex_init(&pg->mu, NULL);
	pthread_cond_init(&pg->freed, NULL);
	*impl = NULL;
	/* the first connection now: a wrong URL or a server down is said at once */
	if (!(c = conn_take(pg, e))) {
		pg_close(pg);
		return e->code;
	}
	conn_give(pg, c);
	*impl = pg;
	return 0;
}

const struct store_ops store_pg_ops = {
	.name = "postgres",
	.open = pg_open,
	.close = pg_close,
	.schema_version = pg_schema_version,
	.migrate = pg_migrate,
	.write = pg_write,
	.lock_try = pg_lock_try,
	.get = pg_get,
	.list = pg_list,
	.insert = pg_insert,
	.update = pg_update,
	.set_archived = pg_set_archived,
	.audit_list = pg_audit_list,
	.in_scope = pg_in_scope,
	.cred_get = pg_cred_get,
	.cred_set = pg_cred_set,
	.session_put = pg_session_put,
	.session_get = pg_session_get,
	.session_seen = pg_session_seen,
	.session_delete = pg_session_delete,
	.session_delete_user = pg_session_delete_user,
	.session_expire = pg_session_expire,
	.count = pg_count,
	.job_add = pg_job_add,
	.job_set = pg_job_set,
	.job_get = pg_job_get,
	.throttle_get = pg_throttle_get,
	.throttle_fail = pg_throttle_fail,
	.throttle_clear = pg_throttle_clear,
	.team_in_reach = pg_team_in_reach,
	.analytics = pg_analytics,
	.setting_get = pg_setting_get,
	.setting_put = pg_setting_put,
	.stage_add = pg_stage_add,
	.opportunity_backdate = pg_opportunity_backdate,
	.stage_list = pg_stage_list,
	.link_add = pg_link_add,
	.link_list = pg_link_list,
	.team_put = pg_team_put,
	.team_delete = pg_team_delete,
	.team_list = pg_team_list,
	.account_access = pg_account_access,
	.find_name = pg_find_name,
	.owner_add = pg_owner_add,
	.owner_list = pg_owner_list,
	.count_owned = pg_count_owned,
	.reclaim_candidates = pg_reclaim_candidates,
	.agenda_candidates = pg_agenda_candidates,
	.agenda_accounts = pg_agenda_accounts,
	.sweep_add = pg_sweep_add,
	.sweep_done = pg_sweep_done,
	.import_insert = pg_import_insert,
	.backup = pg_backup,
};
