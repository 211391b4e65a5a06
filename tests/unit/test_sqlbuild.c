/* test_sqlbuild.c — unit tests of src/store/sqlbuild.c, the SQL both backends build: each
 * dialect's placeholders, the PostgreSQL spellings where the dialects differ (text order, name
 * search, JSON), values never written into the text; and the CLI's masking of a PostgreSQL
 * password. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "cli/cli.h"
#include "model/model.h"
#include "base/timeutil.h"
#include "store/sqlbuild.h"

static void placeholders_per_dialect(void **state)
{
	(void)state;
	struct qb q;
	qb_init(&q, SQL_SQLITE);
	qb_sql(&q, "SELECT 1 WHERE a = ");
	qb_int(&q, 5);
	qb_sql(&q, " AND b = ");
	qb_text(&q, "x");
	assert_string_equal(q.sql.data, "SELECT 1 WHERE a = ? AND b = ?");
	assert_int_equal(q.n, 2);
	qb_release(&q);
	qb_init(&q, SQL_PG);
	qb_sql(&q, "SELECT 1 WHERE a = ");
	qb_int(&q, 5);
	qb_sql(&q, " AND b = ");
	qb_text(&q, "x");
	qb_sql(&q, " AND c = ");
	qb_text(&q, NULL);
	/* integers are typed: "SELECT $1 UNION ..." would otherwise be text */
	assert_string_equal(q.sql.data, "SELECT 1 WHERE a = $1::bigint AND b = $2 AND c = $3");
	assert_int_equal(q.b[0].type, QB_INT);
	assert_int_equal(q.b[0].i, 5);
	assert_int_equal(q.b[1].type, QB_TEXT);
	assert_int_equal(q.b[2].type, QB_NULL);
	qb_release(&q);
}

/* The list query of accounts by name, sorted by name, after a cursor. */
static char *list_sql(enum sql_dialect d, const char *name_sub, const char **bound)
{
	static const struct viewer rep = { .user_id = 7, .role = ROLE_REP, .team_id = 3 };
	struct store_query sq = { .kind = &kind_account, .viewer = &rep, .limit = 50,
				  .sort = model_field(&kind_account, "name"), .name_sub = name_sub,
				  .after_value = json_string("O'Neil"), .after_id = 9 };
	struct qb q;
	qb_init(&q, d);
	sql_list(&q, &sq);
	char *sql = strdup(q.sql.data);
	*bound = NULL;
	for (int i = 0; i < q.n; i++)   /* the search pattern, to look at after release: a copy */
		if (q.b[i].type == QB_TEXT && strstr(q.b[i].s, "\\_"))
			*bound = strdup(q.b[i].s);
	json_decref(sq.after_value);
	qb_release(&q);
	return sql;
}

static void list_query_per_dialect(void **state)
{
	(void)state;
	const char *bound;
	char *pg = list_sql(SQL_PG, "ab_c%", &bound);
	/* text sorts bytewise whatever the database's locale */
	assert_non_null(strstr(pg, "COALESCE(t.name, '') COLLATE \"C\""));
	/* 3+ characters: LIKE (pg_trgm's index), the pattern bound with % _ \ escaped */
	assert_non_null(strstr(pg, "t.name_key LIKE $"));
	assert_non_null(bound);
	assert_string_equal(bound, "%ab\\_c\\%%");
	free((char *)bound);
	/* the cursor's value is bound, never written into the text */
	assert_null(strstr(pg, "O'Neil"));
	assert_null(strstr(pg, "?"));
	free(pg);
	pg = list_sql(SQL_PG, "鑫源", &bound);
	assert_non_null(strstr(pg, "strpos(t.name_key, $"));   /* 1-2 characters: a scan */
	assert_null(strstr(pg, "LIKE"));
	free(pg);
	char *lite = list_sql(SQL_SQLITE, "abc", &bound);
	assert_non_null(strstr(lite, "accounts_name_fts MATCH ?"));
	assert_non_null(strstr(lite, "instr(t.name_key, ?)"));
	assert_null(strstr(lite, "COLLATE"));
	assert_null(strstr(lite, "$1"));
	free(lite);
	/* SQLite's name index is by character pairs (migration 10): two characters use it too */
	lite = list_sql(SQL_SQLITE, "鑫源", &bound);
	assert_non_null(strstr(lite, "accounts_name_fts MATCH ?"));
	free(lite);
}

/* FILTER_IN: a placeholder per value, bound, never written into the text; an empty set
 * matches nothing (GET /warnings' stages of a code). */
static void list_filter_in(void **state)
{
	(void)state;
	static const struct viewer rep = { .user_id = 7, .role = ROLE_REP, .team_id = 3 };
	for (int d = 0; d < 2; d++) {
		struct store_query sq = { .kind = &kind_opportunity, .viewer = &rep, .limit = 5,
					  .nfilters = 1 };
		sq.filters[0].field = model_field(&kind_opportunity, "stage");
		sq.filters[0].op = FILTER_IN;
		sq.filters[0].value = json_pack("[ss]", "commit", "us'e");
		struct qb q;
		qb_init(&q, d ? SQL_PG : SQL_SQLITE);
		sql_list(&q, &sq);
		assert_non_null(strstr(q.sql.data, d ? "t.stage IN ($4, $5)" : "t.stage IN (?, ?)"));
		assert_null(strstr(q.sql.data, "us'e"));
		int seen = 0;
		for (int i = 0; i < q.n; i++)
			seen += q.b[i].type == QB_TEXT && (!strcmp(q.b[i].s, "commit") ||
							 !strcmp(q.b[i].s, "us'e"));
		assert_int_equal(seen, 2);
		qb_release(&q);
		json_array_clear(sq.filters[0].value);
		qb_init(&q, d ? SQL_PG : SQL_SQLITE);
		sql_list(&q, &sq);
		assert_non_null(strstr(q.sql.data, "t.stage IS NULL AND FALSE"));
		qb_release(&q);
		json_decref(sq.filters[0].value);
	}
}

/* A list filtered by owner_id: the viewer's own (a rep's, a manager's) tests no row's
 * visibility; a manager's of another owner asks once whether the owner is within reach, the row
 * tests as before otherwise; other owners, a partner and a null owner keep the whole clause. */
static char *owner_list_sql(enum sql_dialect d, const struct kind *k, int role, json_t *owner,
			    int64_t *reach_owner)
{
	const struct viewer v = { .user_id = 7, .role = role, .team_id = 3 };
	struct store_query sq = { .kind = k, .viewer = &v, .limit = 51, .nfilters = 1,
				  .sort = model_field(k, "id") };
	sq.filters[0].field = model_field(k, "owner_id");
	sq.filters[0].value = owner;
	struct qb q;
	qb_init(&q, d);
	sql_list(&q, &sq);
	char *sql = strdup(q.sql.data);
	/* the value bound to the reach's "vu.id = ?": the third of the statement (after the
	 * manager's id and team) */
	*reach_owner = strstr(sql, "vu.id = ") && q.n > 2 && q.b[2].type == QB_INT ? q.b[2].i : 0;
	qb_release(&q);
	json_decref(owner);
	return sql;
}

static void list_owner_filter_visibility(void **state)
{
	(void)state;
	int64_t bound;
	for (int d = 0; d < 2; d++) {
		enum sql_dialect dl = d ? SQL_PG : SQL_SQLITE;
		for (int kk = 0; kk < 2; kk++) {
			const struct kind *k = kk ? &kind_opportunity : &kind_account;
			for (int r = 0; r < 2; r++) {
				char *own = owner_list_sql(dl, k, r ? ROLE_MANAGER : ROLE_REP,
							   json_integer(7), &bound);
				assert_null(strstr(own, "account_team"));
				assert_null(strstr(own, "team_paths"));
				assert_non_null(strstr(own, "IS NULL AND TRUE AND t.owner_id = "));
				free(own);
			}
			char *other = owner_list_sql(dl, k, ROLE_REP, json_integer(8), &bound);
			assert_non_null(strstr(other, "account_team"));
			assert_null(strstr(other, "team_paths"));
			free(other);
			char *mgr = owner_list_sql(dl, k, ROLE_MANAGER, json_integer(8), &bound);
			assert_non_null(strstr(mgr, d ? "IS NULL AND (EXISTS (SELECT 1 FROM team_paths vp "
							"JOIN teams vm ON vm.id = vp.ancestor_id AND "
							"(vm.manager_id = $1::bigint OR vm.id = $2::bigint) "
							"JOIN users vu ON vu.team_id = vp.team_id WHERE "
							"vu.id = $3::bigint) OR (" :
						       "IS NULL AND (EXISTS (SELECT 1 FROM team_paths vp "
						       "JOIN teams vm ON vm.id = vp.ancestor_id AND "
						       "(vm.manager_id = ? OR vm.id = ?) JOIN users vu ON "
						       "vu.team_id = vp.team_id WHERE vu.id = ?) OR ("));
			assert_int_equal(bound, 8);
			assert_non_null(strstr(mgr, "account_team"));   /* the rows' test, else */
			free(mgr);
			char *partner = owner_list_sql(dl, k, ROLE_PARTNER, json_integer(7), &bound);
			assert_null(strstr(partner, "vu.id = "));
			assert_non_null(strstr(partner, "FALSE"));
			free(partner);
			char *pool = owner_list_sql(dl, k, ROLE_MANAGER, json_null(), &bound);
			assert_null(strstr(pool, "vu.id = "));
			assert_non_null(strstr(pool, "account_team"));
			free(pool);
		}
	}
}

/* A gated derived field of the list's only is computed in the rows its gate names alone (the
 * warnings' facts: a subquery each), null in the others; a plain field is never gated, nor by a
 * derived one. */
static void list_gates_a_derived_field(void **state)
{
	(void)state;
	static const struct viewer rep = { .user_id = 7, .role = ROLE_REP, .team_id = 3 };
	static const char *const only[] = { "id", "name", "stage", "_quotes", "_coaches",
					    "_opponents", "_account_last_touch", NULL };
	static const char *const early[] = { "interest", "brewing", NULL };
	static const char *const none[] = { NULL };
	const struct store_gate gates[] = {
		{ "_quotes", "stage", early },
		{ "_opponents", "stage", none },
		{ "name", "stage", early },
		{ "_account_last_touch", "_coaches", early },
	};
	for (int d = 0; d < 2; d++) {
		struct store_query sq = { .kind = &kind_opportunity, .viewer = &rep, .limit = 5,
					  .only = only, .gates = gates, .ngates = 4 };
		struct qb q;
		qb_init(&q, d ? SQL_PG : SQL_SQLITE);
		sql_list(&q, &sq);
		const char *sql = q.sql.data;
		assert_non_null(strstr(sql, d ? "CASE WHEN t.stage IN ($1, $2) THEN (SELECT count(*) "
						"FROM activities qa WHERE qa.opportunity_id = t.id" :
					       "CASE WHEN t.stage IN (?, ?) THEN (SELECT count(*) "
						"FROM activities qa WHERE qa.opportunity_id = t.id"));
		assert_int_equal(q.b[0].type, QB_TEXT);
		assert_string_equal(q.b[0].s, "interest");
		assert_string_equal(q.b[1].s, "brewing");
		assert_null(strstr(sql, "sh.attitude"));      /* in no stage: null */
		assert_non_null(strstr(sql, "SELECT t.id, t.name, t.stage, CASE"));
		assert_non_null(strstr(sql, "END, (SELECT count(*) FROM stakeholders sh"));
		assert_non_null(strstr(sql, ", NULL, (SELECT ao.touched_at FROM accounts ao"));
		qb_release(&q);
		/* without only, every field as it is */
		sq.only = NULL;
		qb_init(&q, d ? SQL_PG : SQL_SQLITE);
		sql_list(&q, &sq);
		assert_null(strstr(q.sql.data, "CASE WHEN t.stage"));
		assert_non_null(strstr(q.sql.data, "sh.attitude"));
		qb_release(&q);
	}
}

static void derived_json_per_dialect(void **state)
{
	(void)state;
	struct qb q;
	qb_init(&q, SQL_PG);
	select_list(&q, &kind_account);
	assert_non_null(strstr(q.sql.data, "json_agg(json_build_array(od.product, od.ordered_on)"));
	assert_null(strstr(q.sql.data, "json_group_array"));
	qb_release(&q);
	/* SQLite reads the text migration 27's triggers keep on the account: no order read */
	qb_init(&q, SQL_SQLITE);
	select_list(&q, &kind_account);
	assert_non_null(strstr(q.sql.data, "t.orders_text"));
	assert_null(strstr(q.sql.data, "json_group_array"));
	assert_null(strstr(q.sql.data, "FROM orders"));
	qb_release(&q);
}

static void analytics_names(void **state)
{
	(void)state;
	static const struct an_rate rates[] = { { "interest", 10 }, { "won", 100 } };
	struct an_params p = { .scope = SCOPE_TEAM, .team_id = 4, .from = "2026-01-01T00:00:00.000Z",
			       .to = "2026-02-01T00:00:00.000Z", .from_day = "2026-01-01",
			       .to_day = "2026-01-31", .rates = rates, .nrates = 2 };
	struct dm_err e;
	struct qb q;
	qb_init(&q, SQL_PG);
	assert_int_equal(sql_analytics(&q, "won_by_month", &p, &e), 0);
	/* the funnel's figures read the aggregates of migration 11, by UTC+8 day */
	assert_non_null(strstr(q.sql.data, "FROM agg_closed a"));
	assert_null(strstr(q.sql.data, "strftime"));
	assert_null(strstr(q.sql.data, "WHERE 1"));
	qb_release(&q);
	static const char *const agg[] = { "funnel_open", "funnel_closed", "funnel_reach",
					   "stage_days", "won_total", "reps" };
	for (size_t i = 0; i < sizeof agg / sizeof agg[0]; i++) {
		qb_init(&q, SQL_PG);
		assert_int_equal(sql_analytics(&q, agg[i], &p, &e), 0);
		assert_non_null(strstr(q.sql.data, "FROM agg_"));
		assert_null(strstr(q.sql.data, "json_extract"));
		assert_null(strstr(q.sql.data, "IFNULL"));
		assert_null(strstr(q.sql.data, "?"));
		qb_release(&q);
	}
	/* the rates are bound values in a CASE (a JSON object read per row was half the team
	 * funnel's time): two stages, each a text and an integer, twice in the weighted sum */
	qb_init(&q, SQL_SQLITE);
	assert_int_equal(sql_analytics(&q, "funnel_open", &p, &e), 0);
	assert_null(strstr(q.sql.data, "json_extract("));
	assert_non_null(strstr(q.sql.data, "(CASE a.stage WHEN ? THEN ? WHEN ? THEN ? ELSE 0 END)"));
	int ints = 0;
	for (int i = 0; i < q.n; i++)
		ints += q.b[i].type == QB_INT && (q.b[i].i == 10 || q.b[i].i == 100);
	assert_int_equal(ints, 4);
	qb_release(&q);
	/* a team scope reads its teams' rows of agg_close (key -1 - id): the teams whose path
	 * holds team_id (team_paths) in the query, or the subtree the caller resolved, bound as
	 * values */
	qb_init(&q, SQL_SQLITE);
	assert_int_equal(sql_analytics(&q, "open_by_month", &p, &e), 0);
	assert_null(strstr(q.sql.data, "RECURSIVE"));
	assert_non_null(strstr(q.sql.data, "(SELECT -st.team_id + -1 AS id FROM team_paths st WHERE "
				   "st.ancestor_id = ?)"));
	qb_release(&q);
	static const int64_t subtree[] = { 4, 9 };
	struct an_params pt = p;
	pt.teams = subtree;
	pt.nteams = 2;
	qb_init(&q, SQL_SQLITE);
	assert_int_equal(sql_analytics(&q, "open_by_month", &pt, &e), 0);
	assert_null(strstr(q.sql.data, "RECURSIVE"));
	assert_non_null(strstr(q.sql.data, "c.owner_id IN (?, ?)"));
	qb_release(&q);
	/* the funnel's four tables keep a team's whole subtree under its key (migration 22): one
	 * key, neither walked nor the resolved list, for each of the funnel's queries and the
	 * won sums of the forecast and the quotas */
	static const char *const tree[] = { "funnel_open", "funnel_closed", "funnel_reach",
					    "stage_days", "won_by_month", "won_total" };
	for (size_t i = 0; i < sizeof tree / sizeof tree[0]; i++) {
		qb_init(&q, SQL_SQLITE);
		assert_int_equal(sql_analytics(&q, tree[i], &pt, &e), 0);
		assert_null(strstr(q.sql.data, "RECURSIVE"));
		assert_null(strstr(q.sql.data, " IN ("));
		assert_non_null(strstr(q.sql.data, "owner_id = ?"));
		int keys = 0;
		for (int k = 0; k < q.n; k++) {
			assert_false(q.b[k].type == QB_INT && q.b[k].i == -10);
			keys += q.b[k].type == QB_INT && q.b[k].i == -5;
		}
		assert_true(keys >= 1);
		qb_release(&q);
	}
	qb_init(&q, SQL_SQLITE);
	assert_int_equal(sql_analytics(&q, "funnel_reach", &pt, &e), 0);
	assert_non_null(strstr(q.sql.data, "x.owner_id = ?"));
	assert_int_equal(q.b[0].i, -5);
	/* a past whole month is one row per key and rank of the month twin (migration 19) */
	assert_non_null(strstr(q.sql.data, "FROM agg_reach_m x"));
	assert_null(strstr(q.sql.data, "UNION ALL"));
	assert_string_equal(q.b[1].s, "2026-01");
	assert_string_equal(q.b[2].s, "2026-01");
	qb_release(&q);
	/* this year so far: the year's row less the days after today (nothing is dated there) */
	char today[DATE_STR_LEN];
	date_today_offset(480, today);
	memcpy(pt.from_day, today, 4);
	memcpy(pt.from_day + 4, "-01-01", 7);
	memcpy(pt.to_day, today, sizeof pt.to_day);
	qb_init(&q, SQL_SQLITE);
	assert_int_equal(sql_analytics(&q, "stage_days", &pt, &e), 0);
	assert_non_null(strstr(q.sql.data, "FROM agg_stays_y x"));
	assert_null(strstr(q.sql.data, "agg_stays_m"));
	if (strcmp(today + 5, "12-31"))
		assert_non_null(strstr(q.sql.data, "SELECT stage, -n AS n, -stay_ms AS stay_ms FROM "
					   "agg_stays x"));
	qb_release(&q);
	qb_init(&q, SQL_PG);
	assert_int_equal(sql_analytics(&q, "no_such_report", &p, &e), DM_EINVAL);
	qb_release(&q);
}

/* The agenda's candidates are decided from the covering index alone (named for SQLite, whose
 * planner took the non-covering accounts_owner with a bound owner); the page's names and latest
 * contacts are a second query over the page's ids. */
static void agenda_reads_an_index(void **state)
{
	(void)state;
	struct viewer v = { .user_id = 4, .role = ROLE_REP, .team_id = 2 };
	struct agenda_cut cut = { .planned_before = "2026-11-27", .due_before = "2026-11-20T00:00:00Z",
				  .sleep_before = "2026-10-01T00:00:00Z" };
	struct qb q;
	qb_init(&q, SQL_SQLITE);
	sql_agenda_accounts(&q, &v, 4, &cut);
	assert_non_null(strstr(q.sql.data, "FROM accounts t INDEXED BY accounts_owner_due WHERE"));
	assert_null(strstr(q.sql.data, "t.name"));
	assert_null(strstr(q.sql.data, "opportunities"));
	qb_release(&q);
	qb_init(&q, SQL_PG);
	sql_agenda_accounts(&q, &v, 4, &cut);
	assert_null(strstr(q.sql.data, "INDEXED BY"));
	qb_release(&q);
	static const int64_t ids[] = { 7, 9 };
	cut.ids = ids;
	cut.nids = 2;
	qb_init(&q, SQL_SQLITE);
	sql_agenda_accounts(&q, &v, 4, &cut);
	assert_non_null(strstr(q.sql.data, "SELECT t.id, t.name, c.id AS contact_id, c.name AS "
					   "contact_name FROM accounts t LEFT JOIN contacts c ON c.id = "
					   "json_extract(t.latest_contact_ids, '$[0]')"));
	assert_non_null(strstr(q.sql.data, "t.id IN (?, ?)"));
	qb_release(&q);
	/* the ranges (migration 25) name the index and spell its expressions as it does */
	struct agenda_range r = { AGENDA_OPEN, "2026-01-01T00:00:00.000Z", "2026-02-01T00:00:00.000Z" };
	qb_init(&q, SQL_SQLITE);
	sql_agenda_range(&q, &v, 4, &r, 0);
	assert_non_null(strstr(q.sql.data, "FROM accounts t INDEXED BY accounts_owner_due WHERE"));
	assert_non_null(strstr(q.sql.data, " AND " AGENDA_CLASS("t.") " = ? AND " AGENDA_KEY("t.")
					   " >= ? AND " AGENDA_KEY("t.") " < ?"));
	assert_non_null(strstr(q.sql.data, " ORDER BY " AGENDA_KEY("t.") ", t.id"));
	qb_release(&q);
	/* the owner's own range: every entry is the viewer's own, which the visibility admits
	 * for a rep, a manager and an admin; anyone else's, or a partner's, keeps the clause */
	qb_init(&q, SQL_SQLITE);
	sql_agenda_range(&q, &v, 4, &r, 0);
	assert_null(strstr(q.sql.data, "account_team"));
	assert_non_null(strstr(q.sql.data, " AND TRUE ORDER BY"));
	qb_release(&q);
	qb_init(&q, SQL_SQLITE);
	sql_agenda_range(&q, &v, 5, &r, 1);
	assert_non_null(strstr(q.sql.data, "account_team"));
	qb_release(&q);
	struct viewer partner = { .user_id = 4, .role = ROLE_PARTNER };
	qb_init(&q, SQL_SQLITE);
	sql_agenda_range(&q, &partner, 4, &r, 1);
	assert_non_null(strstr(q.sql.data, "account_team"));
	assert_non_null(strstr(q.sql.data, "leads"));
	qb_release(&q);
	struct viewer mgr = { .user_id = 4, .role = ROLE_MANAGER, .team_id = 2 };
	qb_init(&q, SQL_SQLITE);
	sql_agenda_range(&q, &mgr, 4, &r, 1);
	assert_null(strstr(q.sql.data, "account_team"));
	qb_release(&q);
	r.part = AGENDA_PLANNED | AGENDA_ANY;
	r.lo = NULL;
	qb_init(&q, SQL_SQLITE);
	sql_agenda_range(&q, &v, 4, &r, 1);
	assert_true(!strncmp(q.sql.data, "SELECT 1 FROM", 13));
	assert_non_null(strstr(q.sql.data, " LIMIT 1"));
	assert_null(strstr(q.sql.data, " >= ?"));
	qb_release(&q);
	qb_init(&q, SQL_PG);
	sql_agenda_accounts(&q, &v, 4, &cut);
	assert_non_null(strstr(q.sql.data, "CAST(t.latest_contact_ids AS jsonb) ->> 0"));
	qb_release(&q);
}

static void cli_hides_postgres_passwords(void **state)
{
	(void)state;
	assert_string_equal(cli_db_shown("postgres://dm:s3cret@db:5432/crm"),
			    "postgres://dm:***@db:5432/crm");
	assert_string_equal(cli_db_shown("postgresql://dm@db/crm?sslmode=require&password=s3cret"),
			    "postgresql://dm@db/crm?sslmode=require&password=***");
	assert_string_equal(cli_db_shown("postgres://db/crm"), "postgres://db/crm");
	assert_string_equal(cli_db_shown("/var/lib/dealmap/a:b@c.db"), "/var/lib/dealmap/a:b@c.db");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(placeholders_per_dialect),
		cmocka_unit_test(list_query_per_dialect),
		cmocka_unit_test(list_filter_in),
		cmocka_unit_test(list_owner_filter_visibility),
		cmocka_unit_test(derived_json_per_dialect),
		cmocka_unit_test(analytics_names),
		cmocka_unit_test(agenda_reads_an_index),
		cmocka_unit_test(list_gates_a_derived_field),
		cmocka_unit_test(cli_hides_postgres_passwords),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
