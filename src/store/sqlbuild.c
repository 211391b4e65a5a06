/* sqlbuild.c — the SQL both backends build (see sqlbuild.h): one text per purpose, in the
 * dialect of the backend that runs it. */
#include "sqlbuild.h"
#include "../base/text.h"
#include "../base/timeutil.h"
#include "../base/xmalloc.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../base/banned.h"

/* ---- a query under construction: SQL text and its bound values ----------------------------- */

void qb_init(struct qb *q, enum sql_dialect d)
{
	/* Not the bound values' 10 KB (written before they are read): every read cleared them. */
	memset(&q->sql, 0, sizeof q->sql);
	q->dialect = d;
	q->n = 0;
	q->values_only = 0;
	q->point = 0;
	q->nowned = 0;
}

void qb_release(struct qb *q)
{
	buf_release(&q->sql);
	for (int i = 0; i < q->nowned; i++)
		free(q->owned[i]);
}

void qb_sql(struct qb *q, const char *s)
{
	buf_puts(&q->sql, s);
}

/* Record a bound value and append its placeholder. */
static int qb_bind(struct qb *q, enum qb_type type)
{
	if (q->n >= QB_MAX_BINDS)
		abort();
	q->b[q->n].type = type;
	if (q->values_only)
		;
	else if (q->dialect == SQL_PG)   /* integers typed: "SELECT $1 UNION ..." would be text */
		buf_printf(&q->sql, type == QB_INT ? "$%d::bigint" : "$%d", q->n + 1);
	else
		buf_puts(&q->sql, "?");
	return q->n++;
}

void qb_int(struct qb *q, int64_t v)
{
	q->b[qb_bind(q, QB_INT)].i = v;
}

void qb_text(struct qb *q, const char *s)
{
	q->b[qb_bind(q, s ? QB_TEXT : QB_NULL)].s = s;
}

void qb_json(struct qb *q, json_t *v)
{
	if (!v || json_is_null(v)) {
		qb_text(q, NULL);
	} else if (json_is_integer(v)) {
		qb_int(q, json_integer_value(v));
	} else if (json_is_boolean(v)) {
		qb_int(q, json_is_true(v));
	} else if (json_is_real(v)) {
		q->b[qb_bind(q, QB_REAL)].d = json_real_value(v);
	} else if (json_is_string(v)) {
		qb_text(q, json_string_value(v));
	} else {
		char *s = json_dumps(v, JSON_COMPACT);
		q->owned[q->nowned++] = s;
		qb_text(q, s);
	}
}

void qb_id_or_null(struct qb *q, int64_t id)
{
	if (id)
		qb_int(q, id);
	else
		qb_text(q, NULL);
}

/* ---- visibility: SQL fragments that restrict rows to what the viewer may see ---------------- */

/* A manager's reach, the one predicate its three forms share: "a team on the path is one the
 * manager manages or belongs to". Appends the join of the tree's closure (team_paths, migration
 * 22: a team with itself and each team above it) to the team at the path's upper end, kept to
 * those teams:
 *     team_paths p JOIN teams m ON m.id = p.ancestor_id AND (m.manager_id = ? OR m.id = ?)
 * so that p.team_id is a team within reach (their team, the teams they manage, every team below
 * those). The set form selects p.team_id (reach_teams); the point forms tie p.team_id to one team
 * (one row's owner's team, vis_owner; a report's team, sql_team_in_reach). The recursive walks
 * down and up the tree this replaced built temporary tables for every statement (fix 33). */
static void reach_paths(struct qb *q, const struct viewer *v, const char *p, const char *m)
{
	buf_printf(&q->sql, "team_paths %s JOIN teams %s ON %s.id = %s.ancestor_id AND (%s.manager_id "
		   "= ", p, m, m, p, m);
	qb_int(q, v->user_id);
	buf_printf(&q->sql, " OR %s.id = ", m);
	qb_int(q, v->team_id);
	qb_sql(q, ")");
}

/* The teams within a manager's reach as a set (a team may appear more than once: the set is
 * read by IN). */
static void reach_teams(struct qb *q, const struct viewer *v)
{
	qb_sql(q, "(SELECT vp.team_id FROM ");
	reach_paths(q, v, "vp", "vr");
	qb_sql(q, ")");
}

/* Users whose records a manager sees: members of the teams within their reach. */
static void vis_team_users(struct qb *q, const struct viewer *v)
{
	qb_sql(q, "(SELECT vu.id FROM users vu WHERE vu.team_id IN ");
	reach_teams(q, v);
	qb_sql(q, ")");
}

/* The teams within a manager's reach (their team, the teams they manage, all below); none
 * for other roles. */
void vis_teams(struct qb *q, const struct viewer *v)
{
	if (v->role != ROLE_MANAGER) {
		qb_sql(q, "(SELECT 0 WHERE FALSE)");
		return;
	}
	reach_teams(q, v);
}

/* "col is a user whose records v sees" */
void vis_owner(struct qb *q, const struct viewer *v, const char *col)
{
	switch (v->role) {
	case ROLE_ADMIN:
		qb_sql(q, "TRUE");
		return;
	case ROLE_MANAGER:
		buf_printf(&q->sql, "(%s = ", col);
		qb_int(q, v->user_id);
		if (q->point) {
			/* One row: its owner's team's path (team_paths: the team and each team
			 * above it) holds a team the manager manages or belongs to; a few rows by
			 * key, instead of the set of every user within reach (100 reps of a
			 * department) built for the statement, or the walk up the tree. */
			qb_sql(q, " OR EXISTS (SELECT 1 FROM ");
			reach_paths(q, v, "vp", "vm");
			buf_printf(&q->sql, " JOIN users vu ON vu.team_id = vp.team_id WHERE vu.id = %s))",
				   col);
			return;
		}
		buf_printf(&q->sql, " OR %s IN ", col);
		vis_team_users(q, v);
		qb_sql(q, ")");
		return;
	case ROLE_REP:
		buf_printf(&q->sql, "%s = ", col);
		qb_int(q, v->user_id);
		return;
	case ROLE_PARTNER:
		qb_sql(q, "FALSE");
		return;
	}
}

/* "account alias a is one v sees": owned within reach, or shared with v through its team. */
static void vis_account(struct qb *q, const struct viewer *v, const char *a)
{
	char col[64];
	if (v->role == ROLE_ADMIN) {
		qb_sql(q, "TRUE");
		return;
	}
	snprintf(col, sizeof col, "%s.owner_id", a);
	qb_sql(q, "(");
	vis_owner(q, v, col);
	if (q->point)   /* one row: its share looked up, not the set of the viewer's shares */
		buf_printf(&q->sql, " OR EXISTS (SELECT 1 FROM account_team vt WHERE "
			   "vt.account_id = %s.id AND vt.user_id = ", a);
	else
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
		qb_sql(q, "TRUE");
		return;
	}
	if (q->point)
		buf_printf(&q->sql, "EXISTS (SELECT 1 FROM accounts va WHERE va.id = %s AND "
			   "va.archived_at IS NULL AND ", col);
	else
		buf_printf(&q->sql, "%s IN (SELECT va.id FROM accounts va WHERE va.archived_at IS "
			   "NULL AND ", col);
	vis_account(q, v, "va");
	qb_sql(q, ")");
}

/* "opportunity alias o is one v sees": its owner is within reach, or its account is visible. */
static void vis_opportunity(struct qb *q, const struct viewer *v, const char *o)
{
	char col[64];
	if (v->role == ROLE_ADMIN) {
		qb_sql(q, "TRUE");
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
void vis_clause(struct qb *q, const struct kind *k, const struct viewer *v)
{
	if (!v) {
		qb_sql(q, "TRUE");
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
			qb_sql(q, "TRUE");
			return;
		}
		qb_sql(q, q->point ? "EXISTS (SELECT 1 FROM opportunities vo WHERE vo.id = "
				     "t.opportunity_id AND vo.archived_at IS NULL AND " :
				     "t.opportunity_id IN (SELECT vo.id FROM opportunities vo WHERE "
				     "vo.archived_at IS NULL AND ");
		vis_opportunity(q, v, "vo");
		qb_sql(q, ")");
		return;
	case VIS_LEAD:
		if (v->role == ROLE_ADMIN) {
			qb_sql(q, "TRUE");
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
			qb_sql(q, "TRUE");
			return;
		}
		qb_sql(q, "(COALESCE(");
		vis_owner(q, v, "t.user_id");
		qb_sql(q, ", FALSE) OR t.team_id IN ");
		vis_teams(q, v);
		qb_sql(q, ")");
		return;
	case VIS_DIRECTORY:
		if (v->role != ROLE_PARTNER) {
			qb_sql(q, "TRUE");
		} else if (k == &kind_user) {
			qb_sql(q, "t.id = ");
			qb_int(q, v->user_id);
		} else {
			qb_sql(q, "FALSE");
		}
		return;
	}
}

/* ---- rows ↔ records ------------------------------------------------------------------------- */

/* SQL of a derived field, over table alias t. */
static const char *derived_sql(enum sql_dialect d, const struct kind *k, const struct field *f)
{
	/* the account's orders as [[product, ordered_on], ...] sorted, read only when a product
	 * can have the three orders a repurchase forecast needs (else NULL: no forecast); the
	 * segment reads the order facts of migration 17. JSON functions differ. */
	if (k == &kind_account && !strcmp(f->name, "_orders") && d == SQL_PG)
		return "(CASE WHEN t.order_count >= 3 THEN (SELECT COALESCE(json_agg(json_build_array("
		       "od.product, od.ordered_on) ORDER BY od.product, od.ordered_on), '[]') FROM "
		       "orders od WHERE od.account_id = t.id AND od.archived_at IS NULL) END)";
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
		/* kept on the account by the triggers of migration 16 */
		{ "_open_opps", "t.open_opps" },
		{ "_won_opps", "t.won_opps" },
		/* kept on the account by the triggers of migration 27 (that subquery's text, of
		 * migration 21's index, when its order facts say 3+ live orders) */
		{ "_orders", "t.orders_text" },
		/* kept on the account by the triggers of migration 17 */
		{ "_order_count", "t.order_count" },
		{ "_first_order_on", "t.first_order_on" },
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
void field_expr(struct qb *q, const struct kind *k, const struct field *f)
{
	if (f->flags & FF_DERIVED)
		buf_puts(&q->sql, derived_sql(q->dialect, k, f));
	else
		buf_printf(&q->sql, "t.%s", f->name);
}

static void select_cols(struct qb *q, const struct kind *k)
{
	select_only(q, k, NULL);
}

/* The gate of field f among n (NULL: none). Only a derived field is gated, by a plain one. */
static const struct store_gate *gate_of(const struct kind *k, const struct field *f,
					const struct store_gate *gates, int n)
{
	if (!(f->flags & FF_DERIVED))
		return NULL;
	for (int i = 0; i < n; i++) {
		if (strcmp(gates[i].field, f->name))
			continue;
		const struct field *on = model_field(k, gates[i].on);
		return on && !(on->flags & FF_DERIVED) ? &gates[i] : NULL;
	}
	return NULL;
}

static void select_gated(struct qb *q, const struct kind *k, const char *const *only,
			 const struct store_gate *gates, int ngates)
{
	int first = 1;
	qb_sql(q, "SELECT ");
	for (size_t i = 0; i < k->nfields; i++) {
		const struct field *f = &k->fields[i];
		if (!model_query_selects(f, only))
			continue;
		if (!first)
			qb_sql(q, ", ");
		first = 0;
		const struct store_gate *g = only ? gate_of(k, f, gates, ngates) : NULL;
		if (!g) {
			field_expr(q, k, f);
			continue;
		}
		if (!g->values || !g->values[0]) {
			qb_sql(q, "NULL");
			continue;
		}
		buf_printf(&q->sql, "CASE WHEN t.%s IN (", g->on);
		for (const char *const *v = g->values; *v; v++) {
			if (v != g->values)
				qb_sql(q, ", ");
			qb_text(q, *v);
		}
		qb_sql(q, ") THEN ");
		field_expr(q, k, f);
		qb_sql(q, " END");
	}
}

void select_only(struct qb *q, const struct kind *k, const char *const *only)
{
	select_gated(q, k, only, NULL, 0);
}

void select_list(struct qb *q, const struct kind *k)
{
	select_cols(q, k);
	buf_printf(&q->sql, " FROM %s t", k->plural);
}

/* The sentinel that stands for NULL in keyset comparisons of field f. */
static int sorts_as_int(const struct field *f)
{
	return f->type == FT_INT || f->type == FT_REF || f->type == FT_BOOL;
}

/* IFNULL(field, sentinel): text compares bytewise in both stores (PostgreSQL: COLLATE "C",
 * whatever the database's locale), so pages come in the same order. SQLite keeps IFNULL: an
 * index on the sort key must spell the expression exactly as the query does. */
static void sort_expr(struct qb *q, const struct kind *k, const struct field *f)
{
	/* The key is never NULL: the bare column, whose order every index of the table holds (an
	 * index of (owner_id) reads one owner's rows by id and can stop at the page's end; the
	 * expression made SQLite read and sort them all: 1,983 opportunities for a rep's warnings) */
	if (!strcmp(f->name, "id")) {
		field_expr(q, k, f);
		return;
	}
	qb_sql(q, q->dialect == SQL_PG ? "COALESCE(" : "IFNULL(");
	field_expr(q, k, f);
	qb_sql(q, sorts_as_int(f) ? ", -9223372036854775807)" : ", '')");
	if (q->dialect == SQL_PG && !sorts_as_int(f))
		qb_sql(q, " COLLATE \"C\"");
}

static void bind_sort_value(struct qb *q, const struct field *f, json_t *v)
{
	if (!v || json_is_null(v)) {
		if (sorts_as_int(f))
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

/* A string the builder owns until qb_release. */
const char *qb_keep(struct qb *q, char *s)
{
	if (q->nowned >= QB_MAX_BINDS)
		abort();
	q->owned[q->nowned++] = s;
	return s;
}

/* s as one FTS5 string ("..." with inner quotes doubled): a substring, not query syntax. */
char *sql_fts_phrase(const char *s)
{
	struct buf b = BUF_INIT(0);
	buf_puts(&b, "\"");
	for (; *s; s++)
		buf_puts(&b, *s == '"' ? "\"\"" : (char[2]){ *s, 0 });
	buf_puts(&b, "\"");
	return buf_detach(&b, NULL);
}

/* s as a LIKE pattern matching any text containing it (\ escapes %, _ and itself). */
static char *like_pattern(const char *s)
{
	struct buf b = BUF_INIT(0);
	buf_puts(&b, "%");
	for (; *s; s++) {
		if (*s == '%' || *s == '_' || *s == '\\')
			buf_puts(&b, "\\");
		buf_append(&b, s, 1);
	}
	buf_puts(&b, "%");
	return buf_detach(&b, NULL);
}

/* The account name search. SQLite: the FTS5 index by character pairs (dm_bigram, migration 10)
 * finds the candidates of 2+ character queries, and instr keeps the answer exactly the
 * substring's (the index folds case). PostgreSQL: pg_trgm's GIN index serves LIKE for 3+
 * characters; shorter queries have no trigram to look up and scan name_key with strpos (as
 * correct, only slower). Other kinds scan. fts, when given, is the one character pair of sub
 * SQLite looks up instead of the phrase of all of them (sq_list chose it): a superset of the
 * phrase's rows, which instr narrows to the same answer. */
static void name_search(struct qb *q, const struct kind *k, const char *sub, const char *fts)
{
	int indexed = k == &kind_account && utf8_chars(sub) >= (q->dialect == SQL_PG ? 3 : 2);
	if (q->dialect == SQL_PG) {
		if (indexed) {
			qb_sql(q, " AND t.name_key LIKE ");
			qb_text(q, qb_keep(q, like_pattern(sub)));
		} else {
			qb_sql(q, " AND strpos(t.name_key, ");
			qb_text(q, sub);
			qb_sql(q, ") > 0");
		}
		return;
	}
	if (indexed) {
		qb_sql(q, " AND t.id IN (SELECT rowid FROM accounts_name_fts WHERE "
			  "accounts_name_fts MATCH ");
		qb_text(q, qb_keep(q, sql_fts_phrase(fts ? fts : sub)));
		qb_sql(q, ")");
	}
	qb_sql(q, " AND instr(t.name_key, ");
	qb_text(q, sub);
	qb_sql(q, ") > 0");
}

/* The keyset condition: rows after (after_value, after_id) in the sort order. */
static void keyset(struct qb *q, const struct store_query *sqy, const struct field *sf)
{
	const char *op = sqy->desc ? " < " : " > ";
	qb_sql(q, " AND (");
	sort_expr(q, sqy->kind, sf);
	qb_sql(q, op);
	bind_sort_value(q, sf, sqy->after_value);
	qb_sql(q, " OR (");
	sort_expr(q, sqy->kind, sf);
	qb_sql(q, " = ");
	bind_sort_value(q, sf, sqy->after_value);
	qb_sql(q, " AND t.id");
	qb_sql(q, op);
	qb_int(q, sqy->after_id);
	qb_sql(q, "))");
}

/* The owner a list's filter names (owner_id = an id), or 0. */
static int64_t filtered_owner(const struct store_query *sqy)
{
	for (int i = 0; i < sqy->nfilters; i++) {
		const struct store_filter *f = &sqy->filters[i];
		if (f->op == FILTER_EQ && json_is_integer(f->value) && !strcmp(f->field->name, "owner_id"))
			return json_integer_value(f->value);
	}
	return 0;
}

/* A list's visibility. Accounts and opportunities are visible when their owner is within the
 * viewer's reach (or through a share, an account or a lead), so a list whose filter names an
 * owner within reach needs no test of its rows: its clause is true of every row the filter
 * keeps. A rep's or a manager's own (owner_id = the viewer) is TRUE here (as sql_agenda_range);
 * for a manager and another owner, the statement decides: the owner's team's path holds a team
 * of the manager's (one EXISTS of a few rows by key, not correlated: run once a statement) or
 * else each row is tested as before. The manager's list of one of their reps read the users of
 * the 100 teams within reach and the shares into lists for every statement (fix 54). */
static void list_vis(struct qb *q, const struct store_query *sqy)
{
	const struct kind *k = sqy->kind;
	const struct viewer *v = sqy->viewer;
	int64_t owner = v && (k->vis == VIS_OWNER || k->vis == VIS_ACCOUNT_OR_OWNER) &&
		(v->role == ROLE_REP || v->role == ROLE_MANAGER) ? filtered_owner(sqy) : 0;
	if (owner && owner == v->user_id) {
		qb_sql(q, "TRUE");
		return;
	}
	if (!owner || v->role != ROLE_MANAGER) {
		vis_clause(q, k, v);
		return;
	}
	qb_sql(q, "(EXISTS (SELECT 1 FROM ");
	reach_paths(q, v, "vp", "vm");
	qb_sql(q, " JOIN users vu ON vu.team_id = vp.team_id WHERE vu.id = ");
	qb_int(q, owner);
	qb_sql(q, ") OR ");
	vis_clause(q, k, v);
	qb_sql(q, ")");
}

/* A list's rows from table alias t on: its conditions, its order and its limit. */
static void list_where(struct qb *q, const struct store_query *sqy)
{
	const struct kind *k = sqy->kind;
	qb_sql(q, sqy->archived ? " WHERE t.archived_at IS NOT NULL AND "
				: " WHERE t.archived_at IS NULL AND ");
	if (sqy->pool)   /* the public pool: every internal user sees it; partners do not */
		qb_sql(q, sqy->viewer && sqy->viewer->role == ROLE_PARTNER ? "FALSE" :
			  "t.owner_id IS NULL");
	else
		list_vis(q, sqy);
	for (int i = 0; i < sqy->nfilters; i++) {
		static const char *const ops[] = { " = ", " >= ", " <= ", " <> ", "" };
		const struct field *f = sqy->filters[i].field;
		qb_sql(q, " AND ");
		field_expr(q, k, f);
		if (sqy->filters[i].op == FILTER_IN) {
			size_t j;
			json_t *x;
			if (!json_array_size(sqy->filters[i].value)) {
				qb_sql(q, " IS NULL AND FALSE");
				continue;
			}
			qb_sql(q, " IN (");
			json_array_foreach(sqy->filters[i].value, j, x) {
				if (j)
					qb_sql(q, ", ");
				qb_json(q, x);
			}
			qb_sql(q, ")");
		} else if (json_is_null(sqy->filters[i].value)) {
			qb_sql(q, sqy->filters[i].op == FILTER_NE ? " IS NOT NULL" : " IS NULL");
		} else {
			qb_sql(q, ops[sqy->filters[i].op]);
			qb_json(q, sqy->filters[i].value);
		}
	}
	if (sqy->name_sub)
		name_search(q, k, sqy->name_sub, sqy->name_fts);
	if (sqy->updated_since) {
		qb_sql(q, " AND t.updated_at >= ");
		qb_text(q, sqy->updated_since);
	}
	const struct field *sf = sqy->sort ? sqy->sort : model_field(k, "id");
	if (sqy->after_id)
		keyset(q, sqy, sf);
	qb_sql(q, " ORDER BY ");
	sort_expr(q, k, sf);
	qb_sql(q, sqy->desc ? " DESC, t.id DESC LIMIT " : ", t.id LIMIT ");
	qb_int(q, sqy->limit);
}

void sql_list(struct qb *q, const struct store_query *sqy)
{
	const struct kind *k = sqy->kind;
	/* The page's ids first, then its columns: a store would otherwise compute every selected
	 * column (the derived ones are subqueries) of every candidate row before sorting them.
	 * SQLite: the page's ids in order as the outer loop (CROSS JOIN keeps it outside; a
	 * subquery with ORDER BY and LIMIT is a co-routine that yields its rows in that order),
	 * each row looked up by key, with no second sort: ORDER BY on the outer query made SQLite
	 * 3.40 sort the page's whole rows again (a temporary b-tree of ≈ 30 columns × 51 rows, a
	 * quarter of the list's statement). PostgreSQL: sorted again (its planner may reorder a
	 * join). */
	int sqlite = q->dialect == SQL_SQLITE;
	select_gated(q, k, sqy->only, sqy->gates, sqy->ngates);
	if (sqlite)
		buf_printf(&q->sql, " FROM (SELECT t.id FROM %s t", k->plural);
	else
		buf_printf(&q->sql, " FROM %s t WHERE t.id IN (SELECT t.id FROM %s t", k->plural,
			   k->plural);
	list_where(q, sqy);
	if (sqlite) {
		buf_printf(&q->sql, ") p CROSS JOIN %s t ON t.id = p.id", k->plural);
		return;
	}
	const struct field *sf = sqy->sort ? sqy->sort : model_field(k, "id");
	qb_sql(q, ") ORDER BY ");
	sort_expr(q, k, sf);
	qb_sql(q, sqy->desc ? " DESC, t.id DESC" : ", t.id");
}

void sql_list_keys(struct qb *q, const struct store_query *sqy)
{
	buf_printf(&q->sql, "SELECT t.id, t.rev FROM %s t", sqy->kind->plural);
	list_where(q, sqy);
}

void sql_row_by_id(struct qb *q, const struct store_query *sqy)
{
	select_gated(q, sqy->kind, sqy->only, sqy->gates, sqy->ngates);
	buf_printf(&q->sql, ", t.rev FROM %s t WHERE t.id = ", sqy->kind->plural);
	qb_int(q, 0);
}

char *name_key_of(const struct kind *k, json_t *rec)
{
	if (!(k->flags & KF_NAME_KEY))
		return NULL;
	const char *s = json_string_value(json_object_get(rec, k->search_field));
	return text_name_key(s ? s : "");
}

/* The id of the record holding the unique value rec would take: the username of users, the
 * name key of the others. */
void sql_holder(struct qb *q, const struct kind *k, json_t *rec, const char *key)
{
	if (k == &kind_user) {
		qb_sql(q, "SELECT id FROM users WHERE username = ");
		qb_text(q, json_string_value(json_object_get(rec, "username")));
	} else {
		buf_printf(&q->sql, "SELECT id FROM %s WHERE archived_at IS NULL AND name_key = ",
			   k->plural);
		qb_text(q, key);
	}
}

int sql_duplicate(const struct kind *k, int64_t other, struct dm_err *e)
{
	const char *field = k == &kind_user ? "username" : k == &kind_stakeholder ? "contact_id" :
			    k == &kind_quota ? "period" : "name";
	dm_fail(e, DM_EDUPLICATE, field, "%s with this %s already exists", k->title, field);
	if (k == &kind_stakeholder)
		snprintf(e->message, sizeof e->message, "this contact is already a stakeholder of the "
			 "opportunity");
	e->existing_id = other;
	return DM_EDUPLICATE;
}

/* ---- writes ----------------------------------------------------------------------------------- */

static int insert_column(const struct field *f, json_t *rec)
{
	return model_is_column(f) && !(f->flags & FF_READONLY && !json_object_get(rec, f->name));
}

void sql_insert(struct qb *q, const struct kind *k, json_t *rec, const char *now, const char *key)
{
	buf_printf(&q->sql, "INSERT INTO %s (created_at, updated_at, version", k->plural);
	if (key)
		qb_sql(q, ", name_key");
	for (size_t i = 0; i < k->nfields; i++)
		if (insert_column(&k->fields[i], rec))
			buf_printf(&q->sql, ", %s", k->fields[i].name);
	qb_sql(q, ") VALUES (");
	qb_text(q, now);
	qb_sql(q, ", ");
	qb_text(q, now);
	qb_sql(q, ", 1");
	if (key) {
		qb_sql(q, ", ");
		qb_text(q, key);
	}
	for (size_t i = 0; i < k->nfields; i++) {
		if (!insert_column(&k->fields[i], rec))
			continue;
		qb_sql(q, ", ");
		qb_json(q, json_object_get(rec, k->fields[i].name));
	}
	qb_sql(q, ")");
	if (q->dialect == SQL_PG)
		qb_sql(q, " ON CONFLICT DO NOTHING RETURNING id");
}

void sql_update(struct qb *q, const struct kind *k, int64_t id, json_t *cur, json_t *changes,
		const char *key, const char *now, int *n)
{
	const char *fname;
	json_t *v;
	*n = 0;
	buf_printf(&q->sql, "UPDATE %s SET ", k->plural);
	json_object_foreach(changes, fname, v) {
		const struct field *f = model_field(k, fname);
		if (!f || !model_is_column(f) || json_equal(v, json_object_get(cur, fname)))
			continue;
		buf_printf(&q->sql, "%s = ", fname);
		qb_json(q, v);
		qb_sql(q, ", ");
		(*n)++;
	}
	if (key) {
		qb_sql(q, "name_key = ");
		qb_text(q, key);
		qb_sql(q, ", ");
	}
	qb_sql(q, "version = version + 1, updated_at = ");
	qb_text(q, now);
	qb_sql(q, " WHERE id = ");
	qb_int(q, id);
}

int sql_import_column(const struct field *f)
{
	return model_is_column(f) && strcmp(f->name, "id") && strcmp(f->name, "created_at") &&
	       strcmp(f->name, "updated_at") && strcmp(f->name, "version") &&
	       strcmp(f->name, "archived_at");
}

static char *import_text(const struct kind *k, enum sql_dialect d)
{
	struct buf sql = BUF_INIT(0), vals = BUF_INIT(0);
	int n = 0;
#define PLACEHOLDER() (d == SQL_PG ? buf_printf(&vals, "%s$%d", n ? ", " : "", n + 1) : \
		       buf_puts(&vals, n ? ", ?" : "?"), n++)
	buf_printf(&sql, "INSERT INTO %s (created_at, updated_at, version", k->plural);
	PLACEHOLDER();
	PLACEHOLDER();
	buf_puts(&vals, ", 1");
	if (k->flags & KF_NAME_KEY) {
		buf_puts(&sql, ", name_key");
		PLACEHOLDER();
	}
	for (size_t f = 0; f < k->nfields; f++) {
		if (!sql_import_column(&k->fields[f]))
			continue;
		buf_printf(&sql, ", %s", k->fields[f].name);
		PLACEHOLDER();
	}
#undef PLACEHOLDER
	buf_printf(&sql, ") VALUES (%s)", vals.data);
	if (d == SQL_PG)
		buf_puts(&sql, " ON CONFLICT DO NOTHING RETURNING id");
	buf_release(&vals);
	return buf_detach(&sql, NULL);
}

const char *sql_import(const struct kind *k, enum sql_dialect d)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static struct {
		const struct kind *k;
		enum sql_dialect d;
		char *sql;
	} built[32];
	const char *out = NULL;
	size_t i;
	pthread_mutex_lock(&mu);
	for (i = 0; i < sizeof built / sizeof built[0] && built[i].k && !out; i++)
		if (built[i].k == k && built[i].d == d)
			out = built[i].sql;
	if (!out) {
		if (i == sizeof built / sizeof built[0])
			abort();
		built[i].k = k;
		built[i].d = d;
		out = built[i].sql = import_text(k, d);
	}
	pthread_mutex_unlock(&mu);
	return out;
}

/* One row where each field was one: seven for an activity, a twelfth of the writer's time under
 * POST /activities at full scale (an import's row holds the record as well). */
json_t *sql_audit_created(const struct kind *k, json_t *rec)
{
	const char *fname;
	json_t *v, *out = json_object();
	json_object_foreach(rec, fname, v) {
		const struct field *f = model_field(k, fname);
		if (!json_is_null(v) && !(f && (f->flags & FF_WRITEONLY)))
			json_object_set(out, fname, v);
	}
	if (!json_object_size(out)) {
		json_decref(out);
		return NULL;
	}
	return out;
}

void sql_audit(struct qb *q, const char *object, int64_t id, int64_t actor, const char *at,
	       const char *action, const char *field, json_t *old_v, json_t *new_v)
{
	if (!q->sql.len)
		qb_sql(q, "INSERT INTO audit (object, object_id, actor_id, at, action, field, old, new) "
			  "VALUES (");
	else
		qb_sql(q, ", (");
	qb_text(q, object);
	qb_sql(q, ", ");
	qb_int(q, id);
	qb_sql(q, ", ");
	qb_id_or_null(q, actor);
	qb_sql(q, ", ");
	qb_text(q, at);
	qb_sql(q, ", ");
	qb_text(q, action);
	qb_sql(q, ", ");
	qb_text(q, field);
	qb_sql(q, ", ");
	qb_text(q, old_v ? qb_keep(q, json_dumps(old_v, JSON_COMPACT | JSON_ENCODE_ANY)) : NULL);
	qb_sql(q, ", ");
	qb_text(q, new_v ? qb_keep(q, json_dumps(new_v, JSON_COMPACT | JSON_ENCODE_ANY)) : NULL);
	qb_sql(q, ")");
}

/* ---- the small statements of the rules --------------------------------------------------------- */

void sql_session_put(struct qb *q, const char *token_hash, int64_t user_id, const char *csrf,
		     int64_t now_ms)
{
	qb_sql(q, "INSERT INTO sessions (token_hash, user_id, csrf, created_ms, seen_ms) VALUES (");
	qb_text(q, token_hash);
	qb_sql(q, ", ");
	qb_int(q, user_id);
	qb_sql(q, ", ");
	qb_text(q, csrf);
	qb_sql(q, ", ");
	qb_int(q, now_ms);
	qb_sql(q, ", ");
	qb_int(q, now_ms);
	qb_sql(q, ")");
}

void sql_session_seen(struct qb *q, const char *token_hash, int64_t now_ms)
{
	qb_sql(q, "UPDATE sessions SET seen_ms = ");
	qb_int(q, now_ms);
	qb_sql(q, " WHERE token_hash = ");
	qb_text(q, token_hash);
}

void sql_session_expire(struct qb *q, int64_t idle_before, int64_t absolute_before)
{
	qb_sql(q, "DELETE FROM sessions WHERE seen_ms < ");
	qb_int(q, idle_before);
	qb_sql(q, " OR created_ms < ");
	qb_int(q, absolute_before);
}

void sql_setting_put(struct qb *q, const char *key, json_t *value, const char *now)
{
	qb_sql(q, "INSERT INTO settings (key, value, updated_at) VALUES (");
	qb_text(q, key);
	qb_sql(q, ", ");
	qb_text(q, qb_keep(q, json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY)));
	qb_sql(q, ", ");
	qb_text(q, now);
	qb_sql(q, ") ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
		  "updated_at = excluded.updated_at");
}

/* dealmap generate dates a new opportunity: its created_at, then its creation's history row */
void sql_backdate_opportunity(struct qb *q, int64_t opp, const char *at)
{
	qb_sql(q, "UPDATE opportunities SET created_at = ");
	qb_text(q, at);
	qb_sql(q, ", updated_at = ");
	qb_text(q, at);
	qb_sql(q, " WHERE id = ");
	qb_int(q, opp);
}

void sql_backdate_history(struct qb *q, int64_t opp, const char *at)
{
	qb_sql(q, "UPDATE stage_history SET at = ");
	qb_text(q, at);
	qb_sql(q, " WHERE opportunity_id = ");
	qb_int(q, opp);
}

void sql_stage_add(struct qb *q, int64_t opp, const char *from, const char *to, int64_t by,
		   const char *now)
{
	qb_sql(q, "INSERT INTO stage_history (opportunity_id, from_stage, to_stage, at, by_id) "
		  "VALUES (");
	qb_int(q, opp);
	qb_sql(q, ", ");
	qb_text(q, from);
	qb_sql(q, ", ");
	qb_text(q, to);
	qb_sql(q, ", ");
	qb_text(q, now);
	qb_sql(q, ", ");
	qb_id_or_null(q, by);
	qb_sql(q, ")");
}

/* sql, the id bound, then tail */
static void of_parent(struct qb *q, const char *sql, int64_t id, const char *tail)
{
	qb_sql(q, sql);
	qb_int(q, id);
	qb_sql(q, tail);
}

void sql_stage_list(struct qb *q, int64_t opp)
{
	of_parent(q, "SELECT h.from_stage AS \"from\", h.to_stage AS \"to\", h.at, h.by_id AS by, "
		  "u.display_name AS by_name FROM stage_history h LEFT JOIN users u ON u.id = h.by_id "
		  "WHERE h.opportunity_id = ", opp, " ORDER BY h.id");
}

void sql_link_add(struct qb *q, int64_t opp, int64_t from, int64_t to, const char *kind,
		  const char *now)
{
	qb_sql(q, "INSERT INTO stakeholder_links (opportunity_id, from_id, to_id, kind, created_at) "
		  "VALUES (");
	qb_int(q, opp);
	qb_sql(q, ", ");
	qb_int(q, from);
	qb_sql(q, ", ");
	qb_int(q, to);
	qb_sql(q, ", ");
	qb_text(q, kind);
	qb_sql(q, ", ");
	qb_text(q, now);
	qb_sql(q, ")");
	if (q->dialect == SQL_PG)
		qb_sql(q, " ON CONFLICT DO NOTHING RETURNING id");
}

void sql_link_list(struct qb *q, int64_t opp)
{
	of_parent(q, "SELECT l.id, l.from_id AS \"from\", l.to_id AS \"to\", l.kind, l.created_at "
		  "FROM stakeholder_links l JOIN stakeholders a ON a.id = l.from_id "
		  "JOIN stakeholders b ON b.id = l.to_id WHERE a.archived_at IS NULL AND "
		  "b.archived_at IS NULL AND l.opportunity_id = ", opp, " ORDER BY l.id");
}

void sql_team_put(struct qb *q, int64_t account, int64_t user, const char *access, int sensitive,
		  int64_t actor, const char *now)
{
	qb_sql(q, "INSERT INTO account_team (account_id, user_id, access, sensitive, created_at, "
		  "by_id) VALUES (");
	qb_int(q, account);
	qb_sql(q, ", ");
	qb_int(q, user);
	qb_sql(q, ", ");
	qb_text(q, access);
	qb_sql(q, ", ");
	qb_int(q, sensitive);
	qb_sql(q, ", ");
	qb_text(q, now);
	qb_sql(q, ", ");
	qb_int(q, actor);
	qb_sql(q, ") ON CONFLICT (account_id, user_id) DO UPDATE SET access = excluded.access, "
		  "sensitive = excluded.sensitive");
}

void sql_team_delete(struct qb *q, int64_t account, int64_t user)
{
	qb_sql(q, "DELETE FROM account_team WHERE account_id = ");
	qb_int(q, account);
	qb_sql(q, " AND user_id = ");
	qb_int(q, user);
}

void sql_team_list(struct qb *q, int64_t account)
{
	of_parent(q, "SELECT m.user_id, u.username, u.display_name, m.access, m.sensitive, "
		  "m.created_at FROM account_team m JOIN users u ON u.id = m.user_id WHERE "
		  "m.account_id = ", account, " ORDER BY m.user_id");
}

void sql_account_access(struct qb *q, const struct viewer *v, int64_t account)
{
	if (v->role == ROLE_ADMIN) {
		/* admins: everything, archived accounts included */
		of_parent(q, "SELECT 1 AS owner_side, NULL AS access, 0 AS sensitive FROM accounts t "
			  "WHERE t.id = ", account, "");
		return;
	}
	qb_sql(q, "SELECT (");
	vis_owner(q, v, "t.owner_id");
	qb_sql(q, ") AS owner_side, m.access, m.sensitive FROM accounts t LEFT JOIN account_team m "
		  "ON m.account_id = t.id AND m.user_id = ");
	qb_int(q, v->user_id);
	qb_sql(q, " WHERE t.archived_at IS NULL AND t.id = ");
	qb_int(q, account);
}

void account_access_from(int owner_side, const char *access, int64_t sensitive,
			 struct account_access *out)
{
	memset(out, 0, sizeof *out);
	if (owner_side) {
		out->read = out->write = out->sensitive = 1;
	} else if (access) {
		out->read = 1;
		out->write = !strcmp(access, "write");
		out->sensitive = sensitive != 0;
	}
}

void account_access_of(json_t *rows, struct account_access *out)
{
	json_t *r = json_array_get(rows, 0);
	memset(out, 0, sizeof *out);
	if (r)
		account_access_from(json_integer_value(json_object_get(r, "owner_side")) != 0,
				    json_string_value(json_object_get(r, "access")),
				    json_integer_value(json_object_get(r, "sensitive")), out);
}

void team_list_of(json_t *rows)
{
	size_t i;
	json_t *m;
	json_array_foreach(rows, i, m)
		json_object_set_new(m, "sensitive",
				    json_boolean(json_integer_value(json_object_get(m, "sensitive"))));
}

void sql_owner_add(struct qb *q, int64_t account, int64_t from, int64_t to, const char *reason,
		   const char *note, int64_t by, int64_t sweep, const char *now)
{
	qb_sql(q, SQL_OWNER_ADD "(");
	qb_int(q, account);
	qb_sql(q, ", ");
	qb_id_or_null(q, from);
	qb_sql(q, ", ");
	qb_id_or_null(q, to);
	qb_sql(q, ", ");
	qb_text(q, reason);
	qb_sql(q, ", ");
	qb_text(q, note);
	qb_sql(q, ", ");
	qb_id_or_null(q, by);
	qb_sql(q, ", ");
	qb_text(q, now);
	qb_sql(q, ", ");
	qb_id_or_null(q, sweep);
	qb_sql(q, ")");
}

void sql_owner_list(struct qb *q, int64_t account)
{
	of_parent(q, "SELECT h.id, h.from_id AS \"from\", h.to_id AS \"to\", h.reason, h.note, "
		  "h.by_id AS by, u.display_name AS by_name, h.at, h.sweep_id FROM owner_history h "
		  "LEFT JOIN users u ON u.id = h.by_id WHERE h.account_id = ", account, " ORDER BY h.id");
}

void sql_sweep_add(struct qb *q, const char *as_of, int64_t by, const char *now)
{
	qb_sql(q, "INSERT INTO sweeps (as_of, at, by_id, moved) VALUES (");
	qb_text(q, as_of);
	qb_sql(q, ", ");
	qb_text(q, now);
	qb_sql(q, ", ");
	qb_id_or_null(q, by);
	qb_sql(q, ", 0) RETURNING id");
}

void sql_sweep_done(struct qb *q, int64_t id, int64_t moved)
{
	qb_sql(q, "UPDATE sweeps SET moved = ");
	qb_int(q, moved);
	qb_sql(q, " WHERE id = ");
	qb_int(q, id);
}

void sql_audit_list(struct qb *q, const struct kind *k, int64_t id, int64_t after, int limit)
{
	qb_sql(q, "SELECT a.id, a.at, a.actor_id, u.username AS actor, a.action, a.field, a.old, "
		  "a.new FROM audit a LEFT JOIN users u ON u.id = a.actor_id WHERE a.object = ");
	qb_text(q, k->name);
	qb_sql(q, " AND a.object_id = ");
	qb_int(q, id);
	qb_sql(q, " AND a.id > ");
	qb_int(q, after);
	qb_sql(q, " ORDER BY a.id LIMIT ");
	qb_int(q, limit);
}

void sql_set_archived(struct qb *q, const struct kind *k, int64_t id, int archived,
		      const char *now)
{
	buf_printf(&q->sql, "UPDATE %s SET archived_at = ", k->plural);
	qb_text(q, archived ? now : NULL);
	qb_sql(q, ", version = version + 1, updated_at = ");
	qb_text(q, now);
	qb_sql(q, " WHERE id = ");
	qb_int(q, id);
}

/* A manager's reach (vis_teams: their team, the teams they manage, all below) from the team's
 * side: a team on the team's path (team_paths, migration 22) is theirs. The walk down the
 * tree built two temporary tables per request: 10 % of a team funnel's CPU. */
void sql_team_in_reach(struct qb *q, const struct viewer *v, int64_t team)
{
	qb_sql(q, "SELECT 1 AS ok FROM teams t WHERE t.archived_at IS NULL AND t.id = ");
	qb_int(q, team);
	if (v->role == ROLE_MANAGER) {
		qb_sql(q, " AND EXISTS (SELECT 1 FROM ");
		reach_paths(q, v, "tp", "ta");
		qb_sql(q, " WHERE tp.team_id = t.id)");
	} else if (v->role != ROLE_ADMIN) {
		qb_sql(q, " AND t.id IN ");
		vis_teams(q, v);
	}
}

/* ---- sign-in throttling ------------------------------------------------------------------------ */

void sql_throttle_get(struct qb *q, const char *key)
{
	qb_sql(q, "SELECT fails, since_ms FROM login_failures WHERE key = ");
	qb_text(q, key);
}

void sql_throttle_prune(struct qb *q, int64_t now_ms, int64_t window_ms)
{
	qb_sql(q, "DELETE FROM login_failures WHERE since_ms < ");
	qb_int(q, now_ms - window_ms);
}

void sql_throttle_fail(struct qb *q, const char *key, int64_t now_ms, int64_t window_ms)
{
	qb_sql(q, "INSERT INTO login_failures (key, fails, since_ms) VALUES (");
	qb_text(q, key);
	qb_sql(q, ", 1, ");
	qb_int(q, now_ms);
	qb_sql(q, ") ON CONFLICT (key) DO UPDATE SET fails = CASE WHEN login_failures.since_ms + ");
	qb_int(q, window_ms);
	qb_sql(q, " <= excluded.since_ms THEN 1 ELSE login_failures.fails + 1 END, since_ms = CASE "
		  "WHEN login_failures.since_ms + ");
	qb_int(q, window_ms);
	qb_sql(q, " <= excluded.since_ms THEN excluded.since_ms ELSE login_failures.since_ms END");
}

void sql_throttle_clear(struct qb *q, const char *key)
{
	qb_sql(q, "DELETE FROM login_failures WHERE key = ");
	qb_text(q, key);
}

/* ---- jobs ------------------------------------------------------------------------------------- */

void sql_job_add(struct qb *q, const char *object, int64_t user_id, int64_t bytes_total,
		 const char *now)
{
	qb_sql(q, "INSERT INTO jobs (kind, object, user_id, state, bytes_total, created_at, "
		  "updated_at) VALUES ('import', ");
	qb_text(q, object);
	qb_sql(q, ", ");
	qb_id_or_null(q, user_id);
	qb_sql(q, ", 'running', ");
	qb_int(q, bytes_total);
	qb_sql(q, ", ");
	qb_text(q, now);
	qb_sql(q, ", ");
	qb_text(q, now);
	qb_sql(q, ") RETURNING id");
}

void sql_job_set(struct qb *q, int64_t id, const char *state, int64_t rows, int64_t bytes,
		 json_t *report, const char *error, const char *now)
{
	qb_sql(q, "UPDATE jobs SET state = ");
	qb_text(q, state);
	qb_sql(q, ", rows_done = ");
	qb_int(q, rows);
	qb_sql(q, ", bytes_done = ");
	qb_int(q, bytes);
	qb_sql(q, ", report = ");
	qb_text(q, report ? qb_keep(q, json_dumps(report, JSON_COMPACT)) : NULL);
	qb_sql(q, ", error = ");
	qb_text(q, error);
	qb_sql(q, ", updated_at = ");
	qb_text(q, now);
	qb_sql(q, " WHERE id = ");
	qb_int(q, id);
}

void sql_job_get(struct qb *q, int64_t id)
{
	qb_sql(q, "SELECT id, kind, object, user_id, state, rows_done, bytes_done, bytes_total, "
		  "report, error FROM jobs WHERE id = ");
	qb_int(q, id);
}

void job_from_row(json_t *row)
{
	json_t *t = json_object_get(row, "report");
	json_t *v = json_is_string(t) ? json_loads(json_string_value(t), 0, NULL) : NULL;
	json_object_set_new(row, "report", v ? v : json_null());
}

/* ---- the sweep -------------------------------------------------------------------------------- */

void sql_reclaim(struct qb *q, json_t *protect, const char *touch_before, const char *deal_before)
{
	const char *levels = qb_keep(q, json_dumps(protect, JSON_COMPACT));
	const char *latest = q->dialect == SQL_PG ? "GREATEST" : "max";
	buf_printf(&q->sql, "SELECT id, owner_id, assigned_at, last_owner_touch, CASE WHEN "
		   "%s(COALESCE(assigned_at, ''), COALESCE(last_owner_touch, '')) < ", latest);
	qb_text(q, touch_before);
	qb_sql(q, " THEN 'no_follow_up' ELSE 'no_deal' END AS why FROM (SELECT a.id, a.owner_id, "
		  "a.assigned_at, (SELECT max(x.occurred_at) FROM activities x");
	/* the account's few activities, never the owner's range (migration 26; a planner
	 * without the indexes' sizes chose the latter) */
	if (q->dialect == SQL_SQLITE)
		qb_sql(q, " INDEXED BY activities_account_at");
	qb_sql(q, " WHERE x.account_id = "
		  "a.id AND x.user_id = a.owner_id AND x.effective = 1 AND x.archived_at IS NULL) AS "
		  "last_owner_touch, (SELECT max(h.at) FROM stage_history h JOIN opportunities o ON "
		  "o.id = h.opportunity_id WHERE o.account_id = a.id AND h.to_stage = 'won') AS "
		  "last_won FROM accounts a WHERE a.archived_at IS NULL AND a.owner_id IS NOT NULL AND "
		  "a.importance NOT IN (SELECT ");
	qb_sql(q, q->dialect == SQL_PG ? "jsonb_array_elements_text(CAST(" : "value FROM json_each(");
	qb_text(q, levels);
	buf_printf(&q->sql, "%s))) AS c WHERE %s(COALESCE(assigned_at, ''), "
		   "COALESCE(last_owner_touch, '')) < ", q->dialect == SQL_PG ? " AS jsonb)" : "",
		   latest);
	qb_text(q, touch_before);
	qb_sql(q, " OR (COALESCE(assigned_at, '') < ");
	qb_text(q, deal_before);
	qb_sql(q, " AND (last_won IS NULL OR last_won < assigned_at)) ORDER BY id");
}

/* The candidates come from the owner's range of accounts_owner_agenda (migrations 12 and 16), a
 * covering index, unordered (the domain sorts what it keeps; ORDER BY t.id sorted ≈ 1,400 rows
 * for nothing); the page's names and latest contacts are a second query over at most
 * AGENDA_IDS_MAX ids, the contact joined on the first id of latest_contact_ids (one query, where
 * each follow-up read its contact on its own). */
void sql_agenda_accounts(struct qb *q, const struct viewer *v, int64_t owner,
			 const struct agenda_cut *cut)
{
	const char *ifnull = q->dialect == SQL_PG ? "COALESCE" : "IFNULL";
	if (cut->ids) {
		qb_sql(q, "SELECT t.id, t.name, c.id AS contact_id, c.name AS contact_name FROM "
			  "accounts t LEFT JOIN contacts c ON c.id = ");
		/* the ids are positive integers (model.c check_id_list); as bigint, PostgreSQL
		 * seeks the contact by its key */
		qb_sql(q, q->dialect == SQL_PG ?
			  "CAST(CAST(t.latest_contact_ids AS jsonb) ->> 0 AS bigint)" :
			  "json_extract(t.latest_contact_ids, '$[0]')");
		qb_sql(q, " AND c.account_id = t.id AND c.archived_at IS NULL WHERE "
			  "t.archived_at IS NULL AND t.owner_id = ");
		qb_int(q, owner);
		qb_sql(q, " AND t.id IN (");
		for (size_t i = 0; i < cut->nids && i < AGENDA_IDS_MAX; i++) {
			if (i)
				qb_sql(q, ", ");
			qb_int(q, cut->ids[i]);
		}
		qb_sql(q, cut->nids ? ") AND " : "NULL) AND ");
		vis_account(q, v, "t");
		return;
	}
	/* every column named is in the owner's agenda index (accounts_owner_agenda of migration
	 * 16 on PostgreSQL, accounts_owner_due of 25 on SQLite): no account row is read. SQLite
	 * 3.40 prefers accounts_owner once the owner is a bound value (not covering: a
	 * row read per candidate, 8-13 ms against 1-5 ms for a rep at full scale), so it is
	 * named; PostgreSQL's planner weighs covering itself. */
	qb_sql(q, "SELECT t.id, t.created_at, t.touched_at AS last_touch_at, t.latest_next_touch, "
		  "t.open_opps FROM accounts t");
	if (q->dialect == SQL_SQLITE)
		qb_sql(q, " INDEXED BY accounts_owner_due");
	qb_sql(q, " WHERE t.archived_at IS NULL AND t.owner_id = ");
	qb_int(q, owner);
	qb_sql(q, " AND (t.latest_next_touch < ");
	qb_text(q, cut->planned_before);
	buf_printf(&q->sql, " OR %s(t.touched_at, t.created_at) < ", ifnull);
	qb_text(q, cut->sleep_before);
	buf_printf(&q->sql, " OR (t.latest_next_touch IS NULL AND %s(t.touched_at, t.created_at) < ",
		   ifnull);
	qb_text(q, cut->due_before);
	qb_sql(q, ")) AND ");
	vis_account(q, v, "t");
}

/* The agenda's ranges read accounts_owner_due (migration 25; SQLite only) by its keys: the
 * class by equality, the key (or, for the planned ones' quiet, the last touch) by range. */
void sql_agenda_range(struct qb *q, const struct viewer *v, int64_t owner,
		      const struct agenda_range *r, int count)
{
	if (r->part == AGENDA_ANY) {
		/* whether owner has a live account at all: no visibility, as it answers nothing
		 * but whether the agenda's ranges (which apply it) are worth reading; one seek,
		 * where the ranges' statement costs a manager who owns no account a quarter more
		 * than main's one scan */
		qb_sql(q, "SELECT 1 FROM accounts t INDEXED BY accounts_owner_due WHERE "
			  "t.archived_at IS NULL AND t.owner_id = ");
		qb_int(q, owner);
		qb_sql(q, " LIMIT 1");
		return;
	}
	struct agenda_range one = *r;
	if (one.part & AGENDA_ANY) {
		one.part &= ~AGENDA_ANY;
		count = 2;
	}
	r = &one;
	int quiet = r->part == AGENDA_QUIET_PLANNED;
	const char *key = quiet ? QUIET_PLANNED_SINCE("t.") : AGENDA_KEY("t.");
	if (count == 2)
		qb_sql(q, "SELECT 1");
	else if (count)
		qb_sql(q, "SELECT count(*)");
	else
		buf_printf(&q->sql, "SELECT t.id, %s, COALESCE(t.touched_at, t.created_at), "
			   "t.touched_at IS NOT NULL", key);
	if (quiet) {
		/* the planned ones by their since (migration 28): a range, in (since, id) order */
		qb_sql(q, " FROM accounts t INDEXED BY accounts_owner_quiet_plan WHERE "
			  "t.latest_next_touch IS NOT NULL AND t.archived_at IS NULL AND t.owner_id = ");
		qb_int(q, owner);
	} else {
		qb_sql(q, " FROM accounts t INDEXED BY accounts_owner_due WHERE t.archived_at IS "
			  "NULL AND t.owner_id = ");
		qb_int(q, owner);
		qb_sql(q, " AND " AGENDA_CLASS("t.") " = ");
		qb_int(q, (int64_t)r->part);
	}
	if (r->lo) {
		buf_printf(&q->sql, " AND %s >= ", key);
		qb_text(q, r->lo);
	}
	buf_printf(&q->sql, " AND %s < ", key);
	qb_text(q, r->hi);
	qb_sql(q, " AND ");
	/* The owner's own agenda: every account it reads is owned by the viewer (t.owner_id is
	 * the viewer's id above), which vis_account admits for a rep, a manager and an admin
	 * alike, so its clause would be true of every entry (three VDBE steps an entry over the
	 * ≈ 1,400 a rep's counts step); a partner, or another owner, gets the clause. */
	if (owner == v->user_id && v->role != ROLE_PARTNER)
		qb_sql(q, "TRUE");
	else
		vis_account(q, v, "t");
	if (!count)
		buf_printf(&q->sql, " ORDER BY %s, t.id", key);
	if (count == 2)
		qb_sql(q, " LIMIT 1");
}

/* ---- analytics: named aggregate queries --------------------------------------------------------
 * Every query restricts rows to the owners of a scope (scope_owner) and, where it says so, to the
 * period [from, to). Approach per query (see also docs/ANALYTICS.md): the funnel's four read the
 * aggregates maintained by the triggers of migration 11 (agg_open, agg_closed, agg_reach,
 * agg_stays: per owner, UTC+8 day and stage), the forecast's open amounts and the segments
 * those of migration 17 (agg_close, agg_segments), the activity figures those of migration 18
 * (agg_touch_day, agg_touch_channel, touch_pairs: per user), on both stores; the others are
 * plain GROUP BY over covering indexes. */

/* the teams of a team scope as an SQL set of sign x id + offset: the ids the caller resolved,
 * bound, or the teams whose path holds team_id (team_paths, migration 22; the recursive walk
 * down from team_id cost 40 us a query at full scale) */
static void team_set(struct qb *q, const struct an_params *p, int sign, int offset)
{
	if (p->teams && p->nteams && p->nteams <= AN_MAX_TEAMS) {
		qb_sql(q, "(");
		for (size_t i = 0; i < p->nteams; i++) {
			if (i)
				qb_sql(q, ", ");
			qb_int(q, sign * p->teams[i] + offset);
		}
		qb_sql(q, ")");
		return;
	}
	buf_printf(&q->sql, "(SELECT %sst.team_id + %d AS id FROM team_paths st WHERE "
		   "st.ancestor_id = ", sign < 0 ? "-" : "", offset);
	qb_int(q, p->team_id);
	qb_sql(q, ")");
}

static void scope_owner(struct qb *q, const struct an_params *p, const char *col)
{
	switch (p->scope) {
	case SCOPE_COMPANY:
		qb_sql(q, "TRUE");
		return;
	case SCOPE_ME:
		buf_printf(&q->sql, "%s = ", col);
		qb_int(q, p->user_id);
		return;
	case SCOPE_TEAM:
		buf_printf(&q->sql, "%s IN (SELECT su.id FROM users su WHERE su.team_id IN ", col);
		team_set(q, p, 1, 0);
		qb_sql(q, ")");
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

/* the win rate (percent) of stage column col: a CASE over the stages' rates, bound as values
 * (a JSON object of rates read with json_extract cost 2-3 us per row: half the team funnel) */
static void rate_of(struct qb *q, const struct an_params *p, const char *col)
{
	if (!p->nrates) {
		qb_sql(q, "0");
		return;
	}
	buf_printf(&q->sql, "(CASE %s", col);
	for (size_t i = 0; i < p->nrates; i++) {
		qb_sql(q, " WHEN ");
		qb_text(q, p->rates[i].stage);
		qb_sql(q, " THEN ");
		qb_int(q, p->rates[i].rate);
	}
	qb_sql(q, " ELSE 0 END)");
}

/* The funnel reads the aggregates of migration 11 (sqlite_schema.c, pg_schema.c): at most
 * keys x stages (x days of the period) rows, whatever the number of opportunities. */

/* the scope over the aggregates' owner column: the company has rows of its own (owner -1), and
 * each team (owner -1 - team id, migration 15) */
static void scope_agg(struct qb *q, const struct an_params *p, const char *col)
{
	switch (p->scope) {
	case SCOPE_COMPANY:
		buf_printf(&q->sql, "%s = -1", col);
		return;
	case SCOPE_TEAM:   /* the rows of the subtree's teams (migration 15), not of their users */
		buf_printf(&q->sql, "%s IN ", col);
		team_set(q, p, -1, -1);
		return;
	case SCOPE_ME:
		scope_owner(q, p, col);
		return;
	}
}

/* the scope over the owner column of the funnel's four tables (agg_open, agg_closed, agg_reach,
 * agg_stays and their twins): since migration 22 a team's key holds its whole subtree's sums,
 * so a team reads one key as the company does (agg_close and agg_segments keep the owner's own
 * team: scope_agg) */
static void scope_tree(struct qb *q, const struct an_params *p, const char *col)
{
	if (p->scope != SCOPE_TEAM) {
		scope_agg(q, p, col);
		return;
	}
	buf_printf(&q->sql, "%s = ", col);
	qb_int(q, -1 - p->team_id);
}

/* the period as UTC+8 days, for the aggregates' day column */
static void period_days(struct qb *q, const struct an_params *p, const char *col)
{
	buf_printf(&q->sql, " AND %s >= ", col);
	qb_text(q, p->from_day);
	buf_printf(&q->sql, " AND %s <= ", col);
	qb_text(q, p->to_day);
}

/* the weighted amount of agg_open row alias a: it rounds per opportunity, and with amount
 * = 100 q + c, (amount x r + 50) / 100 = q x r + (c x r + 50) / 100, summed per cents bucket c */
static void agg_weighted(struct qb *q, const struct an_params *p, const char *a)
{
	char col[64];
	snprintf(col, sizeof col, "%s.stage", a);
	buf_printf(&q->sql, "(%s.amount - %s.n * %s.cents) / 100 * ", a, a, a);
	rate_of(q, p, col);
	buf_printf(&q->sql, " + %s.n * ((%s.cents * ", a, a);
	rate_of(q, p, col);
	qb_sql(q, " + 50) / 100)");
}

/* A funnel period as signed ranges of years, months and days (the day tables and their twins of
 * migration 19): the cover whose sum is exactly the period's days, chosen to read the fewest
 * rows. A bucket starting after today is counted as free (nothing is dated in the future, so its
 * range reads nothing; it is still read, so the sums stay exact even if something were), which
 * makes this year so far "this year less the days after today". Each range costs a seek more. */
enum { LV_DAY, LV_MONTH, LV_YEAR };

struct cover {
	struct { int sign, level; int64_t lo, hi; } t[16];  /* days; months and years from 0 */
	int n;
	int64_t cost;
};

static int64_t first_of(int level, int64_t b)
{
	return level == LV_DAY ? b : level == LV_MONTH ?
	       days_from_civil(b / 12, (unsigned)(b % 12) + 1, 1) : days_from_civil(b, 1, 1);
}

static int64_t last_of(int level, int64_t b)
{
	return level == LV_DAY ? b : first_of(level, b + 1) - 1;
}

/* the bucket of level that holds day */
static int64_t bucket_of(int level, int64_t day)
{
	int y;
	unsigned m, d;
	if (level == LV_DAY)
		return day;
	civil_from_days(day, &y, &m, &d);
	return level == LV_MONTH ? (int64_t)y * 12 + m - 1 : y;
}

static void cover_add(struct cover *c, int sign, int level, int64_t lo, int64_t hi, int64_t today)
{
	if (lo > hi)
		return;
	if (c->n == (int)(sizeof c->t / sizeof c->t[0])) {   /* cannot happen: at most 7 */
		c->cost = INT64_MAX / 4;
		return;
	}
	c->t[c->n].sign = sign;
	c->t[c->n].level = level;
	c->t[c->n].lo = lo;
	c->t[c->n].hi = hi;
	c->n++;
	/* buckets after today's start after today: free */
	int64_t last = bucket_of(level, today), upto = hi < last ? hi : last;
	c->cost += 1 + (upto >= lo ? upto - lo + 1 : 0);
}

static void cover_append(struct cover *c, const struct cover *o, int sign)
{
	for (int i = 0; i < o->n && c->n < (int)(sizeof c->t / sizeof c->t[0]); i++) {
		c->t[c->n] = o->t[i];
		c->t[c->n++].sign *= sign;
	}
	c->cost += o->cost;
}

/* [a, b] (days) by buckets of level and those below it; a > b: nothing */
static struct cover cover_range(int level, int64_t a, int64_t b, int64_t today)
{
	struct cover best = { .n = 0 }, c, part;
	if (a > b)
		return best;
	if (level == LV_DAY) {
		cover_add(&best, 1, LV_DAY, a, b, today);
		return best;
	}
	best = cover_range(level - 1, a, b, today);   /* without this level's buckets */
	int64_t fb = bucket_of(level, a), lb = bucket_of(level, b);
	int64_t f0 = first_of(level, fb), l1 = last_of(level, lb);
	/* the first bucket's days before a, the last one's after b: h (t) = 0 reads the period's
	 * part of the bucket itself, 1 the whole bucket less the rest */
	for (int h = 0; h < 2; h++)
		for (int t = 0; t < 2; t++) {
			int64_t from = fb, to = lb;
			memset(&c, 0, sizeof c);
			if (fb == lb) {   /* one bucket: only "the bucket less both ends" is new */
				if (!h || !t)
					continue;
				part = cover_range(level - 1, f0, a - 1, today);
				cover_append(&c, &part, -1);
				part = cover_range(level - 1, b + 1, l1, today);
				cover_append(&c, &part, -1);
			} else {
				if (a > f0) {
					part = h ? cover_range(level - 1, f0, a - 1, today) :
						   cover_range(level - 1, a, last_of(level, fb), today);
					cover_append(&c, &part, h ? -1 : 1);
					from += !h;
				}
				if (b < l1) {
					part = t ? cover_range(level - 1, b + 1, l1, today) :
						   cover_range(level - 1, first_of(level, lb), b, today);
					cover_append(&c, &part, t ? -1 : 1);
					to -= !t;
				}
			}
			cover_add(&c, 1, level, from, to, today);
			if (c.cost < best.cost)
				best = c;
		}
	return best;
}

/* A FROM item (alias a) of the funnel's day table t in the scope and period: a branch per range
 * of the period's cover, reading cols (neg: the same with the sums negated) from t or its twin. */
static void agg_period(struct qb *q, const struct an_params *p, const char *t, const char *cols,
		       const char *neg)
{
	static const char *const sfx[] = { "", "_m", "_y" }, *const col[] = { "day", "month", "year" };
	struct an_range r[16];
	int n = sql_funnel_ranges(p, r, (int)(sizeof r / sizeof r[0]));
	qb_sql(q, "(");
	for (int i = 0; i < n; i++) {
		int lv = r[i].level;
		buf_printf(&q->sql, "%sSELECT %s FROM %s%s x WHERE ", i ? " UNION ALL " : "",
			   r[i].sign < 0 ? neg : cols, t, sfx[lv]);
		scope_tree(q, p, "x.owner_id");
		buf_printf(&q->sql, " AND x.%s >= ", col[lv]);
		qb_text(q, qb_keep(q, xstrdup(r[i].lo)));
		buf_printf(&q->sql, " AND x.%s <= ", col[lv]);
		qb_text(q, qb_keep(q, xstrdup(r[i].hi)));
	}
	qb_sql(q, ") a");
}

int64_t sql_funnel_key(const struct an_params *p)
{
	switch (p->scope) {
	case SCOPE_COMPANY:
		return -1;
	case SCOPE_TEAM:
		return -1 - p->team_id;
	case SCOPE_ME:
		break;
	}
	return p->user_id;
}

int sql_funnel_ranges(const struct an_params *p, struct an_range *out, int max)
{
	int64_t from, to, today;
	char now[DATE_STR_LEN];
	struct cover c = { .n = 0 };
	int n = 0;
	date_today_offset(480, now);
	if (!date_to_days(p->from_day, &from) && !date_to_days(p->to_day, &to) &&
	    !date_to_days(now, &today))
		c = cover_range(LV_YEAR, from, to, today);
	if (!c.n) {   /* unparsable dates: the days themselves (agg_period) */
		if (max < 1)
			return 0;
		out[0].sign = 1;
		out[0].level = LV_DAY;
		snprintf(out[0].lo, sizeof out[0].lo, "%s", p->from_day);
		snprintf(out[0].hi, sizeof out[0].hi, "%s", p->to_day);
		return 1;
	}
	for (int i = 0; i < c.n && n < max; i++, n++) {
		int lv = c.t[i].level;
		size_t len = lv == LV_DAY ? 10 : lv == LV_MONTH ? 7 : 4;
		out[n].sign = c.t[i].sign;
		out[n].level = lv;
		date_from_days(first_of(lv, c.t[i].lo), out[n].lo);
		date_from_days(first_of(lv, c.t[i].hi), out[n].hi);
		out[n].lo[len] = out[n].hi[len] = '\0';
	}
	return n;
}

const char sql_funnel_open[] = "SELECT stage, cents, n, amount FROM agg_open WHERE owner_id = ?1";

#define FUNNEL_RANGE(sfx, col)                                                                  \
	"SELECT 0, stage, n, amount, cycle_ms FROM agg_closed" sfx " WHERE owner_id = ?1 AND "   \
	col " >= ?2 AND " col " <= ?3 UNION ALL SELECT 1, rank, n, 0, 0 FROM agg_reach" sfx      \
	" WHERE owner_id = ?1 AND " col " >= ?2 AND " col " <= ?3 UNION ALL SELECT 2, stage, n, " \
	"stay_ms, 0 FROM agg_stays" sfx " WHERE owner_id = ?1 AND " col " >= ?2 AND " col " <= ?3"
const char *const sql_funnel_range[3] = {
	FUNNEL_RANGE("", "day"), FUNNEL_RANGE("_m", "month"), FUNNEL_RANGE("_y", "year"),
};

/* funnel_open: {stage, count, amount, weighted_amount} of open opportunities, now */
static void an_funnel_open(struct qb *q, const struct an_params *p)
{
	qb_sql(q, "SELECT a.stage, sum(a.n) AS count, sum(a.amount) AS amount, sum(");
	agg_weighted(q, p, "a");
	qb_sql(q, ") AS weighted_amount FROM agg_open a WHERE ");
	scope_tree(q, p, "a.owner_id");
	qb_sql(q, " GROUP BY a.stage HAVING sum(a.n) <> 0");
}

/* funnel_closed: {stage: won|lost, count, amount, avg_cycle_days} closed in the period */
static void an_funnel_closed(struct qb *q, const struct an_params *p)
{
	qb_sql(q, "SELECT a.stage, sum(a.n) AS count, sum(a.amount) AS amount, sum(a.cycle_ms) / "
		  "86400000.0 / sum(a.n) AS avg_cycle_days FROM ");
	agg_period(q, p, "agg_closed", "stage, n, amount, cycle_ms",
		   "stage, -n AS n, -amount AS amount, -cycle_ms AS cycle_ms");
	qb_sql(q, " GROUP BY a.stage HAVING sum(a.n) <> 0");
}

/* funnel_reach: {rank, n}: opportunities created in the period by the furthest stage they
 * reached (1 interest .. 6 use, 7 won; 0 only lost) */
static void an_funnel_reach(struct qb *q, const struct an_params *p)
{
	qb_sql(q, "SELECT a.rank, sum(a.n) AS n FROM ");
	agg_period(q, p, "agg_reach", "rank, n", "rank, -n AS n");
	qb_sql(q, " GROUP BY a.rank HAVING sum(a.n) <> 0");
}

/* stage_days: {stage, stays, avg_days}: stays in an open stage that ended in the period */
static void an_stage_days(struct qb *q, const struct an_params *p)
{
	qb_sql(q, "SELECT a.stage, sum(a.n) AS stays, sum(a.stay_ms) / 86400000.0 / sum(a.n) AS "
		  "avg_days FROM ");
	agg_period(q, p, "agg_stays", "stage, n, stay_ms", "stage, -n AS n, -stay_ms AS stay_ms");
	qb_sql(q, " GROUP BY a.stage HAVING sum(a.n) <> 0");
}

/* open_by_month: {month, count, amount, weighted_amount} by expected close month in the
 * period (open opportunities with a close date), from agg_close (migration 17): the period's
 * days summed per month, stage and cents bucket, then weighted as agg_weighted says */
static void an_open_by_month(struct qb *q, const struct an_params *p)
{
	qb_sql(q, "SELECT a.month, sum(a.n) AS count, sum(a.amount) AS amount, sum(");
	agg_weighted(q, p, "a");
	qb_sql(q, ") AS weighted_amount FROM (SELECT substr(c.day, 1, 7) AS month, c.stage, c.cents, "
		  "CAST(sum(c.n) AS bigint) AS n, CAST(sum(c.amount) AS bigint) AS amount FROM "
		  "agg_close c WHERE ");
	scope_agg(q, p, "c.owner_id");
	period_days(q, p, "c.day");
	qb_sql(q, " GROUP BY substr(c.day, 1, 7), c.stage, c.cents) a GROUP BY a.month "
		  "HAVING sum(a.n) <> 0 ORDER BY a.month");
}

/* won_by_month: {month, count, amount} won in the period, by the month it was won (UTC+8) */
static void an_won_by_month(struct qb *q, const struct an_params *p)
{
	qb_sql(q, "SELECT substr(a.day, 1, 7) AS month, sum(a.n) AS count, sum(a.amount) AS amount "
		  "FROM agg_closed a WHERE a.stage = 'won' AND ");
	scope_tree(q, p, "a.owner_id");
	period_days(q, p, "a.day");
	qb_sql(q, " GROUP BY month HAVING sum(a.n) <> 0 ORDER BY month");
}

/* The activity figures read the tables of migration 18 (sqlite_schema.c): per user and UTC+8
 * day (and channel) the live activities and the effective ones, and per user and account the
 * first and last live effective touch, each also for the company (user -1). */

/* the scope's users over those tables: the company is every user (0 = none), not its -1 rows */
static void scope_users(struct qb *q, const struct an_params *p, const char *col)
{
	if (p->scope == SCOPE_COMPANY)
		buf_printf(&q->sql, "%s >= 0", col);
	else
		scope_owner(q, p, col);
}

/* the scope's sums over those tables: the company's own rows (-1), a team's users' rows (they
 * have no team rows, unlike the funnel's) */
static void scope_touch(struct qb *q, const struct an_params *p, const char *col)
{
	if (p->scope == SCOPE_COMPANY)
		buf_printf(&q->sql, "%s = -1", col);
	else
		scope_owner(q, p, col);
}

/* touches_week: {user_id, monday, touches}: effective activities by the scope's users per ISO
 * week (its Monday, UTC+8) of the period, in the order of users (no user first on SQLite, last
 * on PostgreSQL, as NULL sorts on each), then weeks. Folded here, not in the domain: 24k rows
 * for the company over a year rather than 165k daily ones (turning rows into JSON cost more than
 * the query) */
static void an_touches_week(struct qb *q, const struct an_params *p)
{
	qb_sql(q, "SELECT NULLIF(d.user_id, 0) AS user_id, ");
	qb_sql(q, q->dialect == SQL_PG ? "to_char(CAST(d.day AS date) - CAST(extract(isodow FROM "
		  "CAST(d.day AS date)) AS integer) + 1, 'YYYY-MM-DD')" :
		  "date(d.day, '-6 days', 'weekday 1')");
	qb_sql(q, " AS monday, sum(d.eff) AS touches FROM agg_touch_day d WHERE d.eff <> 0 AND ");
	scope_users(q, p, "d.user_id");
	period_days(q, p, "d.day");
	qb_sql(q, q->dialect == SQL_PG ? " GROUP BY d.user_id, monday ORDER BY d.user_id = 0, "
		  "d.user_id, monday" : " GROUP BY d.user_id, monday ORDER BY d.user_id, monday");
}

/* the accounts of the live effective activities in [from, to) whose user_id satisfies who:
 * a range of the covering index activities_user_at per user (migration 26) */
static void touched_in(struct qb *q, const struct an_params *p, const char *who)
{
	qb_sql(q, "SELECT x.account_id FROM activities x WHERE x.effective = 1 AND x.archived_at IS "
		  "NULL AND ");
	if (who)
		qb_sql(q, who);
	else
		scope_owner(q, p, "x.user_id");
	period(q, p, "x.occurred_at");
}

/* accounts_touched, an expression: distinct accounts with a live effective touch in [from, to)
 * by the scope's users. The company counts agg_touch_last over the period's days when no
 * account's last touch is after the period (one that reaches the present: days, not activities);
 * otherwise, as a scope of users does, the period's touches of every user (and of none). */
static void accounts_touched(struct qb *q, const struct an_params *p)
{
	if (p->scope != SCOPE_COMPANY) {
		qb_sql(q, "(SELECT count(DISTINCT w.account_id) FROM (");
		touched_in(q, p, NULL);
		qb_sql(q, ") w)");
		return;
	}
	qb_sql(q, "CASE WHEN EXISTS (SELECT 1 FROM agg_touch_last l WHERE l.n <> 0 AND l.day > ");
	qb_text(q, p->to_day);
	qb_sql(q, ") THEN (SELECT count(*) FROM (");
	touched_in(q, p, "x.user_id IS NULL");
	qb_sql(q, " UNION ");
	touched_in(q, p, "x.user_id IN (SELECT u.id FROM users u)");
	qb_sql(q, ") w) ELSE (SELECT COALESCE(sum(l.n), 0) FROM agg_touch_last l WHERE l.n <> 0");
	period_days(q, p, "l.day");
	qb_sql(q, ") END");
}

/* activity_totals: {activities, effective, accounts_touched} in the period */
static void an_activity_totals(struct qb *q, const struct an_params *p)
{
	qb_sql(q, "SELECT COALESCE(sum(d.n), 0) AS activities, COALESCE(sum(d.eff), 0) AS effective, ");
	accounts_touched(q, p);
	qb_sql(q, " AS accounts_touched FROM agg_touch_day d WHERE ");
	scope_touch(q, p, "d.user_id");
	period_days(q, p, "d.day");
}

/* by_channel: {channel, touches}: effective activities in the period */
static void an_by_channel(struct qb *q, const struct an_params *p)
{
	qb_sql(q, "SELECT c.channel, sum(c.n) AS touches FROM agg_touch_channel c WHERE ");
	scope_touch(q, p, "c.user_id");
	period_days(q, p, "c.day");
	qb_sql(q, " GROUP BY c.channel HAVING sum(c.n) <> 0 ORDER BY c.channel");
}

/* sleeping: {n}: owned accounts whose last effective touch (or creation) is before cutoff.
 * touched_at is that last touch, kept on the account by migration 6's triggers (a correlated
 * max over the account's activities, per account in scope, ran minutes at full scale). */
static void an_sleeping(struct qb *q, const struct an_params *p)
{
	qb_sql(q, "SELECT count(*) AS n FROM accounts t WHERE t.archived_at IS NULL AND "
		  "t.owner_id IS NOT NULL AND ");
	scope_owner(q, p, "t.owner_id");
	qb_sql(q, " AND COALESCE(t.touched_at, t.created_at) < ");
	qb_text(q, p->cutoff);
}

/* intervention: {n}: owned accounts with at least n effective touches and no won opportunity.
 * touch_count (migration 6) and won_opps (migration 16) are kept on the account by triggers:
 * the scope's range of accounts_owner_unwon (migration 18), instead of an opportunities lookup
 * per owned account (1 s for the company at full scale) */
static void an_intervention(struct qb *q, const struct an_params *p)
{
	qb_sql(q, "SELECT count(*) AS n FROM accounts t WHERE t.archived_at IS NULL AND "
		  "t.won_opps = 0 AND t.owner_id IS NOT NULL AND ");
	scope_owner(q, p, "t.owner_id");
	qb_sql(q, " AND t.touch_count >= ");
	qb_int(q, p->n);
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
		  "count(*) AS n FROM owner_history h WHERE COALESCE(h.note, '') <> 'created' AND "
		  "((h.to_id IS NULL AND ");
	/* from nobody (a partner's conversion) counts for the company scope only */
	scope_owner(q, p, "h.from_id");
	qb_sql(q, ") OR (h.from_id IS NULL AND h.to_id IS NOT NULL AND ");
	scope_owner(q, p, "h.to_id");
	qb_sql(q, "))");
	period(q, p, "h.at");
	qb_sql(q, " GROUP BY direction, h.reason ORDER BY direction, h.reason");
}

/* the scope's rows of agg_segments (migration 17): bucket, accounts, revenue, touches of the
 * accounts (day '') and of the period's days, in buckets 0, 1, 2 or (recent) in bucket 3 from
 * the first order day of the beginners' cut-off on */
static void segment_rows(struct qb *q, const struct an_params *p, int recent)
{
	for (int part = 0; part < 2; part++) {
		qb_sql(q, part ? " UNION ALL " : "");
		qb_sql(q, "SELECT s.bucket, s.accounts, s.revenue, s.touches FROM agg_segments s WHERE ");
		scope_agg(q, p, "s.owner_id");
		if (recent) {
			qb_sql(q, " AND s.bucket = 3 AND s.first_on >= substr(");
			qb_text(q, p->cutoff);
			qb_sql(q, ", 1, 10)");
		} else {
			qb_sql(q, " AND s.bucket IN (0, 1, 2) AND s.first_on = ''");
		}
		if (part)
			period_days(q, p, "s.day");
		else
			qb_sql(q, " AND s.day = ''");
	}
}

/* segments: {orders_bucket: 0|1|2 (2 = two or more), first_recent: first order on or after
 * cutoff's day, accounts, revenue (orders in the period), touches (effective, in the period)}.
 * agg_segments keeps each account of two or more orders twice, in bucket 2 and in bucket 3 by
 * its first order's day: bucket 3 from the cut-off on gives the recent ones (first_recent 1),
 * bucket 2 less those the others (first_recent 0). */
static void an_segments(struct qb *q, const struct an_params *p)
{
	qb_sql(q, "SELECT g.b AS orders_bucket, g.fr AS first_recent, sum(g.acc) AS accounts, "
		  "sum(g.rev) AS revenue, sum(g.tch) AS touches FROM (SELECT r.bucket AS b, 0 AS fr, "
		  "r.accounts AS acc, r.revenue AS rev, r.touches AS tch FROM (");
	segment_rows(q, p, 0);
	qb_sql(q, ") r UNION ALL SELECT 2, k.fr, k.sg * r.acc, k.sg * r.rev, k.sg * r.tch FROM "
		  "(SELECT COALESCE(sum(x.accounts), 0) AS acc, COALESCE(sum(x.revenue), 0) AS rev, "
		  "COALESCE(sum(x.touches), 0) AS tch FROM (");
	segment_rows(q, p, 1);
	qb_sql(q, ") x) r CROSS JOIN (SELECT 1 AS fr, 1 AS sg UNION ALL SELECT 0, -1) k) g "
		  "GROUP BY g.b, g.fr");
}

/* won_total: {count, amount} won in the period by the scope's owners */
static void an_won_total(struct qb *q, const struct an_params *p)
{
	qb_sql(q, "SELECT COALESCE(sum(a.n), 0) AS count, COALESCE(sum(a.amount), 0) AS amount FROM "
		  "agg_closed a WHERE a.stage = 'won' AND ");
	scope_tree(q, p, "a.owner_id");
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
		qb_sql(q, " OR t.team_id IN ");
		team_set(q, p, 1, 0);
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
		  "accounts_owned, (SELECT COALESCE(sum(d.eff), 0) FROM agg_touch_day d WHERE "
		  "d.user_id = u.id");
	period_days(q, p, "d.day");
	/* new accounts: the rep's pairs whose first touch is in the period */
	qb_sql(q, ") AS touches, (SELECT count(*) FROM touch_pairs t WHERE t.user_id = u.id");
	period(q, p, "t.first_at");
	qb_sql(q, ") AS new_accounts_touched, (SELECT COALESCE(sum(g.amount), 0) FROM agg_open g "
		  "WHERE g.owner_id = u.id) AS open_pipeline, (SELECT COALESCE(sum(");
	agg_weighted(q, p, "g");
	qb_sql(q, "), 0) FROM agg_open g WHERE g.owner_id = u.id) AS weighted_pipeline");
	static const char *const closed[][2] = { { "n", "won" }, { "amount", "won" }, { "n", "lost" } };
	static const char *const names[] = { "won_count", "won_amount", "lost_count" };
	for (int i = 0; i < 3; i++) {
		buf_printf(&q->sql, ", (SELECT COALESCE(sum(c.%s), 0) FROM agg_closed c WHERE "
			   "c.owner_id = u.id AND c.stage = '%s'", closed[i][0], closed[i][1]);
		period_days(q, p, "c.day");
		buf_printf(&q->sql, ") AS %s", names[i]);
	}
	/* the first move to won of the rep's live opportunities: each keeps its first (migration 18) */
	qb_sql(q, ", (SELECT min(o.first_won_at) FROM opportunities o WHERE o.owner_id = u.id AND "
		  "o.archived_at IS NULL AND o.first_won_at IS NOT NULL) AS first_won_at FROM users u "
		  "WHERE u.archived_at IS NULL AND u.role = 'rep' AND ");
	scope_owner(q, p, "u.id");
	qb_sql(q, " ORDER BY u.id");
}

/* team_subtree: {id}: team_id and every team below it */
static void an_team_subtree(struct qb *q, const struct an_params *p)
{
	struct an_params walk = *p;
	walk.teams = NULL;
	qb_sql(q, "SELECT ts.id FROM ");
	team_set(q, &walk, 1, 0);
	qb_sql(q, " ts ORDER BY ts.id");
}

static const struct {
	const char *name;
	void (*build)(struct qb *q, const struct an_params *p);
} an_queries[] = {
	{ "team_subtree", an_team_subtree },
	{ "funnel_open", an_funnel_open }, { "funnel_closed", an_funnel_closed },
	{ "funnel_reach", an_funnel_reach }, { "stage_days", an_stage_days },
	{ "open_by_month", an_open_by_month }, { "won_by_month", an_won_by_month },
	{ "touches_week", an_touches_week }, { "activity_totals", an_activity_totals },
	{ "by_channel", an_by_channel }, { "sleeping", an_sleeping },
	{ "intervention", an_intervention }, { "pool_size", an_pool_size },
	{ "pool_flows", an_pool_flows }, { "segments", an_segments },
	{ "won_total", an_won_total }, { "reps", an_reps }, { "quotas", an_quotas },
};

int sql_analytics(struct qb *q, const char *name, const struct an_params *p, struct dm_err *e)
{
	for (size_t i = 0; i < sizeof an_queries / sizeof an_queries[0]; i++)
		if (!strcmp(an_queries[i].name, name)) {
			an_queries[i].build(q, p);
			return 0;
		}
	return dm_fail(e, DM_EINVAL, NULL, "no analytics query %s", name);
}
