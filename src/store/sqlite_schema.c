/* sqlite_schema.c — the numbered migrations of the SQLite backend. Never edit a released one:
 * add the next. Migration N sets PRAGMA user_version = N. */
#include "sqlite_schema.h"
#include "schema_sql.h"
#include "sqlbuild.h"
#include <stddef.h>

#define LIVE "id INTEGER PRIMARY KEY, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, " \
	     "version INTEGER NOT NULL DEFAULT 1, archived_at TEXT"

/* Migrations 9 and 10: the triggers that keep the account name index, quiet for the accounts a
 * bulk load has not indexed yet (name_index_defer, see migration 9). */
#define NAME_INDEX_TRIGGERS \
	"CREATE TRIGGER accounts_name_fts_ai AFTER INSERT ON accounts" \
	"  WHEN NOT EXISTS (SELECT 1 FROM name_index_defer) BEGIN" \
	"  INSERT INTO accounts_name_fts(rowid, name_key) VALUES (new.id, new.name_key); END;" \
	"CREATE TRIGGER accounts_name_fts_ad AFTER DELETE ON accounts" \
	"  WHEN old.id < IFNULL((SELECT min(first_id) FROM name_index_defer), old.id + 1) BEGIN" \
	"  INSERT INTO accounts_name_fts(accounts_name_fts, rowid, name_key)" \
	"  VALUES ('delete', old.id, old.name_key); END;" \
	"CREATE TRIGGER accounts_name_fts_au AFTER UPDATE OF name_key ON accounts" \
	"  WHEN old.id < IFNULL((SELECT min(first_id) FROM name_index_defer), old.id + 1) BEGIN" \
	"  INSERT INTO accounts_name_fts(accounts_name_fts, rowid, name_key)" \
	"  VALUES ('delete', old.id, old.name_key);" \
	"  INSERT INTO accounts_name_fts(rowid, name_key) VALUES (new.id, new.name_key); END;"

/* Migration 11: the funnel's maintained aggregates (issue 5, issue 9). Every figure of the funnel
 * is a sum over opportunities (or their stays in a stage) of one owner, bucketed by a UTC+8 day,
 * so the four tables below hold those sums per owner (0 = no owner), day and stage, and a funnel
 * reads at most owners x days x stages rows instead of the opportunities and their history.
 *
 *   agg_open   (owner_id, stage, cents) -> n, amount: live open opportunities now, by stage and
 *              by amount % 100 (the weighted amount rounds per opportunity: with a = 100q + c,
 *              (a r + 50) / 100 = q r + (c r + 50) / 100, so it is exact for any win rate and
 *              the rates stay settings, not stored figures)
 *   agg_closed (owner_id, day, stage) -> n, amount, cycle_ms: live won/lost opportunities by the
 *              day of their last move to that stage; cycle_ms sums closed_at - created_at
 *   agg_reach  (owner_id, day, rank) -> n: live opportunities by creation day and the furthest
 *              stage their history reached (1 interest .. 6 use, 7 won, 0 lost only)
 *   agg_stays  (owner_id, day, stage) -> n, stay_ms: stays in an open stage of live
 *              opportunities by the day they ended (the next history row), summed length
 *
 * Every sum is kept twice: per owner, and for the whole company under owner_id -1 (so the company
 * scope reads days x stages rows, not owners x days x stages); since migration 15 three times:
 * also for the owner's team under owner_id -1 - team_id (a team scope reads its subtree's teams'
 * rows).
 *
 * Each opportunity keeps the facts of its history the sums need (won_at, lost_at: the last
 * move to won / lost; reach), set by the trigger on stage_history. The triggers on
 * opportunities subtract a row's old contribution and add its new one; the stays of an
 * opportunity move with its owner and its archiving. Opportunities and their stage history are
 * never deleted (archived instead), so there are no delete triggers. Rows whose counts fall to
 * zero stay (bounded by owners x days x stages); readers skip them. Plain SQL: upserts
 * (ON CONFLICT DO UPDATE) port to PostgreSQL as they are; date(x, '+8 hours') is
 * (x::timestamptz AT TIME ZONE 'Asia/Shanghai')::date there, julianday differences
 * extract(epoch from ...). */
#define DAY8(x) "date(" x ", '+8 hours')"
#define SPAN_MS(a, b) "CAST(round((julianday(" b ") - julianday(" a ")) * 86400000) AS INTEGER)"
#define RANK(s) "CASE " s " WHEN 'interest' THEN 1 WHEN 'brewing' THEN 2 WHEN 'design' THEN 3 " \
		"WHEN 'compare' THEN 4 WHEN 'commit' THEN 5 WHEN 'use' THEN 6 WHEN 'won' THEN 7 " \
		"ELSE 0 END"
#define CLOSED_AT(X) "(CASE " X ".stage WHEN 'won' THEN " X ".won_at WHEN 'lost' THEN " X \
		     ".lost_at END)"
#define OWNER(X) "IFNULL(" X ".owner_id, 0)"
/* each contribution goes to two rows: w.r = 0 the owner's, w.r = 1 the company's (-1) */
#define KEYS "(SELECT 0 AS r UNION ALL SELECT 1) w"
#define KEY(X) "CASE w.r WHEN 1 THEN -1 ELSE " OWNER(X) " END"
/* add (S = "1") or subtract (S = "-1") the contribution of opportunity row X to the rows of the
 * key set KS (a FROM item, alias w), keyed by K; KW filters the key set further */
#define AGG_OPEN_K(X, S, KS, K, KW) \
	"INSERT INTO agg_open (owner_id, stage, cents, n, amount) SELECT " K ", " X \
	".stage, " X ".amount % 100, " S ", " S " * " X ".amount FROM " KS " WHERE " X \
	".archived_at IS NULL" KW \
	"  AND " X ".stage NOT IN ('won', 'lost') ON CONFLICT (owner_id, stage, cents) DO UPDATE" \
	"  SET n = n + excluded.n, amount = amount + excluded.amount;"
#define AGG_CLOSED_K(X, S, KS, K, KW) \
	"INSERT INTO agg_closed (owner_id, day, stage, n, amount, cycle_ms) SELECT " K ", " \
	DAY8(CLOSED_AT(X)) ", " X ".stage, " S ", " S " * " X ".amount, " S " * " \
	SPAN_MS(X ".created_at", CLOSED_AT(X)) " FROM " KS " WHERE " X ".archived_at IS NULL" KW \
	" AND " CLOSED_AT(X) " IS NOT NULL ON CONFLICT (owner_id, day, stage) DO UPDATE SET n = n +" \
	"  excluded.n, amount = amount + excluded.amount, cycle_ms = cycle_ms + excluded.cycle_ms;"
#define AGG_REACH_K(X, S, KS, K, KW) \
	"INSERT INTO agg_reach (owner_id, day, rank, n) SELECT " K ", " \
	DAY8(X ".created_at") ", " X ".reach, " S " FROM " KS " WHERE " X ".archived_at IS NULL" KW \
	"  AND " X \
	".reach IS NOT NULL ON CONFLICT (owner_id, day, rank) DO UPDATE SET n = n + excluded.n;"
#define AGG_STAYS_K(X, S, KS, K, KW) \
	"INSERT INTO agg_stays (owner_id, day, stage, n, stay_ms) SELECT " K " AS k, " \
	DAY8("s.left_at") " AS d, s.stage, " S " * count(*), " S " * sum(" \
	SPAN_MS("s.at", "s.left_at") ") FROM (SELECT h.to_stage AS stage, h.at, lead(h.at) OVER" \
	"  (ORDER BY h.id) AS left_at FROM stage_history h WHERE h.opportunity_id = " X ".id) s" \
	"  CROSS JOIN " KS " WHERE " X ".archived_at IS NULL" KW " AND s.left_at IS NOT NULL AND" \
	"  s.stage NOT IN ('won', 'lost') GROUP BY k, d, s.stage ON CONFLICT (owner_id, day, stage) DO UPDATE SET" \
	"  n = n + excluded.n, stay_ms = stay_ms + excluded.stay_ms;"
/* migration 11's key set: the owner's row and the company's */
#define AGG_OPEN(X, S) AGG_OPEN_K(X, S, KEYS, KEY(X), "")
#define AGG_CLOSED(X, S) AGG_CLOSED_K(X, S, KEYS, KEY(X), "")
#define AGG_REACH(X, S) AGG_REACH_K(X, S, KEYS, KEY(X), "")
#define AGG_STAYS(X, S) AGG_STAYS_K(X, S, KEYS, KEY(X), "")
/* a user's team change moves their rows of table T (key columns C, sums V = V1, V2...; SETV
 * the upsert's additions) from the old team's key (TEAM = "old", SIGN = "-") to the new one's
 * (TEAM = "new", SIGN = "") */
#define MOVE_TEAM(T, C, NEG, POS, SETV, TEAM) \
	"INSERT INTO " T " (owner_id, " C ", " POS ") SELECT -1 - " TEAM ".team_id, " C ", " \
	NEG " FROM " T " WHERE owner_id = new.id AND " TEAM ".team_id IS NOT NULL ON CONFLICT" \
	"  (owner_id, " C ") DO UPDATE SET " SETV ";"
#define MOVE_TEAM2(T, C, NEG, POS, SETV) \
	MOVE_TEAM(T, C, NEG, POS, SETV, "old") MOVE_TEAM(T, C, POS, POS, SETV, "new")
/* the columns whose change moves an opportunity's open/closed/reach contribution */
#define FUNNEL_CHANGED \
	"old.owner_id IS NOT new.owner_id OR old.stage IS NOT new.stage OR old.amount IS NOT" \
	"  new.amount OR old.archived_at IS NOT new.archived_at OR old.created_at IS NOT" \
	"  new.created_at OR old.won_at IS NOT new.won_at OR old.lost_at IS NOT new.lost_at OR" \
	"  old.reach IS NOT new.reach"

/* Migration 17's SQL is schema_sql.h's (written once for both stores) but for this: account
 * X's order facts, from its live orders (PostgreSQL takes the minimum in byte order) */
#define ORDER_FACTS(X) \
	"UPDATE accounts SET order_count = (SELECT count(*) FROM orders fo WHERE fo.account_id = " \
	X " AND fo.archived_at IS NULL), first_order_on = (SELECT min(fo.ordered_on) FROM orders fo" \
	"  WHERE fo.account_id = " X " AND fo.archived_at IS NULL) WHERE id = " X ";"
/* Migration 27: account X's orders as the repurchase forecast reads them (sqlbuild.c, the
 * derived field _orders): [[product, ordered_on], ...] of its live orders in that order, when
 * it has 3 or more (the forecast needs three of one product), else NULL. */
#define ORDERS_TEXT(X) \
	"UPDATE accounts SET orders_text = (SELECT CASE WHEN count(*) >= 3 THEN" \
	"  json_group_array(json_array(od.product, od.ordered_on)) END FROM (SELECT product," \
	"  ordered_on FROM orders INDEXED BY orders_account_live WHERE account_id = " X " AND" \
	"  archived_at IS NULL ORDER BY product, ordered_on) od) WHERE id = " X ";"
/* Migration 18: the activity figures' maintained tables (issue 5). The activity report and the
 * reps' touches read every activity of the scope in the period (10M rows for the company at full
 * scale, minutes); these keep what they count, by the triggers on activities in the transaction
 * of every write (schema_sql.h holds their SQL, the same on both stores):
 *
 *   agg_touch_day     (user_id, day) -> n, eff: live activities logged by the user (0 = none)
 *                     on that UTC+8 day, and the effective ones among them
 *   agg_touch_channel (user_id, day, channel) -> n: live effective activities by channel
 *   touch_pairs       (user_id, account_id) -> first_at, last_at: the first and last live
 *                     effective activity of the user on the account; accounts_touched and
 *                     new_accounts_touched are distinct counts, which no sum of daily rows gives
 *   agg_touch_last    (day) -> n: accounts whose last live effective touch (by anyone: their
 *                     pair -1) is on that day, so that the company's accounts touched in a
 *                     period reaching the present are a sum over its days
 *   activities_touch_user, a partial index (user, occurred_at, account) of the live effective
 *                     activities: the accounts touched by a scope of users (or by the company
 *                     in a past period), a range per user; effective and archived_at are columns
 *                     too, as SQLite 3.40 counts a partial index as covering only then
 *
 * Every row is kept for the user and for the company (user_id -1), so the company scope reads
 * days (x channels) rows, and one row per account for its distinct accounts. Each opportunity
 * also keeps first_won_at (its first move to won; won_at of migration 11 is the last), set by a
 * trigger on stage_history, for the reps' ramp time. The intervention list counts a range of
 * accounts_owner_unwon (owner, touch_count where won_opps = 0: the counts kept on the account
 * by migrations 6 and 16) instead of looking up every owned account's opportunities. Activities are never deleted (archived
 * instead); a delete trigger keeps the tables right anyway. Rows whose counts fall to zero stay;
 * readers skip them. */
#define BYTES ""

const char *const sqlite_migrations[] = {
	/* 1: the foundation */
	"CREATE TABLE teams (" LIVE ", name TEXT NOT NULL, name_key TEXT,"
	"  parent_id INTEGER REFERENCES teams(id), manager_id INTEGER REFERENCES users(id));"
	"CREATE TABLE users (" LIVE ", username TEXT NOT NULL, display_name TEXT, name_key TEXT,"
	"  role TEXT NOT NULL, team_id INTEGER REFERENCES teams(id), hired_on TEXT,"
	"  active INTEGER NOT NULL DEFAULT 1, locale TEXT NOT NULL DEFAULT 'zh-CN',"
	"  password_hash TEXT);"
	"CREATE UNIQUE INDEX users_username ON users(username);"
	"CREATE INDEX users_team ON users(team_id);"
	"CREATE INDEX teams_parent ON teams(parent_id);"
	"CREATE INDEX teams_manager ON teams(manager_id);"
	"CREATE TABLE accounts (" LIVE ", name TEXT NOT NULL, name_key TEXT NOT NULL,"
	"  industry TEXT, scale TEXT, nature TEXT, address TEXT, website TEXT, phone TEXT,"
	"  source TEXT, owner_id INTEGER REFERENCES users(id), importance TEXT NOT NULL,"
	"  lifecycle TEXT NOT NULL, first_deal_on TEXT, installed_base TEXT NOT NULL DEFAULT '[]',"
	"  notes TEXT);"
	"CREATE UNIQUE INDEX accounts_name_key ON accounts(name_key) WHERE archived_at IS NULL;"
	"CREATE INDEX accounts_owner ON accounts(owner_id, id);"
	"CREATE TABLE contacts (" LIVE ", account_id INTEGER NOT NULL REFERENCES accounts(id),"
	"  name TEXT NOT NULL, name_key TEXT, title TEXT, department TEXT, rank TEXT,"
	"  reports_to_id INTEGER REFERENCES contacts(id), faction TEXT, phone TEXT, email TEXT,"
	"  wechat TEXT);"
	"CREATE INDEX contacts_account ON contacts(account_id);"
	"CREATE TABLE opportunities (" LIVE ", account_id INTEGER NOT NULL REFERENCES accounts(id),"
	"  name TEXT NOT NULL, name_key TEXT, owner_id INTEGER REFERENCES users(id),"
	"  amount INTEGER NOT NULL DEFAULT 0, currency TEXT NOT NULL DEFAULT 'CNY',"
	"  stage TEXT NOT NULL, expected_close_on TEXT, competitors TEXT NOT NULL DEFAULT '[]',"
	"  purchase_criteria TEXT NOT NULL DEFAULT '[]', assessment TEXT, lost_reason TEXT);"
	"CREATE INDEX opportunities_account ON opportunities(account_id);"
	"CREATE INDEX opportunities_owner ON opportunities(owner_id);"
	"CREATE INDEX opportunities_stage ON opportunities(stage);"
	"CREATE TABLE activities (" LIVE ", account_id INTEGER NOT NULL REFERENCES accounts(id),"
	"  contact_ids TEXT NOT NULL DEFAULT '[]',"
	"  opportunity_id INTEGER REFERENCES opportunities(id), channel TEXT NOT NULL,"
	"  occurred_at TEXT NOT NULL, effective INTEGER NOT NULL DEFAULT 1, summary TEXT,"
	"  next_touch_on TEXT, user_id INTEGER REFERENCES users(id));"
	"CREATE INDEX activities_account ON activities(account_id, effective, occurred_at);"
	"CREATE INDEX activities_opportunity ON activities(opportunity_id);"
	"CREATE TABLE audit (id INTEGER PRIMARY KEY, object TEXT NOT NULL,"
	"  object_id INTEGER NOT NULL, actor_id INTEGER, at TEXT NOT NULL, action TEXT NOT NULL,"
	"  field TEXT, old TEXT, new TEXT);"
	"CREATE INDEX audit_object ON audit(object, object_id, id);"
	"CREATE TABLE sessions (token_hash TEXT PRIMARY KEY, user_id INTEGER NOT NULL"
	"  REFERENCES users(id), csrf TEXT NOT NULL, created_ms INTEGER NOT NULL,"
	"  seen_ms INTEGER NOT NULL);"
	"CREATE INDEX sessions_user ON sessions(user_id);",

	/* 2: the sales method — settings, stage history, the buyer map, portraits, account teams */
	"CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at TEXT NOT NULL);"
	"CREATE TABLE stage_history (id INTEGER PRIMARY KEY, opportunity_id INTEGER NOT NULL"
	"  REFERENCES opportunities(id), from_stage TEXT, to_stage TEXT NOT NULL, at TEXT NOT NULL,"
	"  by_id INTEGER REFERENCES users(id));"
	"CREATE INDEX stage_history_opportunity ON stage_history(opportunity_id, id);"
	"CREATE TABLE stakeholders (" LIVE ", opportunity_id INTEGER NOT NULL"
	"  REFERENCES opportunities(id), contact_id INTEGER NOT NULL REFERENCES contacts(id),"
	"  role TEXT, tags TEXT NOT NULL DEFAULT '[]', attitude TEXT NOT NULL DEFAULT 'neutral',"
	"  influence INTEGER NOT NULL DEFAULT 3, company_needs TEXT, personal_needs TEXT);"
	"CREATE UNIQUE INDEX stakeholders_contact ON stakeholders(opportunity_id, contact_id)"
	"  WHERE archived_at IS NULL;"
	"CREATE TABLE stakeholder_links (id INTEGER PRIMARY KEY, opportunity_id INTEGER NOT NULL"
	"  REFERENCES opportunities(id), from_id INTEGER NOT NULL REFERENCES stakeholders(id),"
	"  to_id INTEGER NOT NULL REFERENCES stakeholders(id), kind TEXT NOT NULL,"
	"  created_at TEXT NOT NULL, UNIQUE (from_id, to_id));"
	"CREATE INDEX stakeholder_links_opportunity ON stakeholder_links(opportunity_id);"
	"CREATE TABLE account_team (account_id INTEGER NOT NULL REFERENCES accounts(id),"
	"  user_id INTEGER NOT NULL REFERENCES users(id), access TEXT NOT NULL,"
	"  sensitive INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, by_id INTEGER,"
	"  PRIMARY KEY (account_id, user_id));"
	"CREATE INDEX account_team_user ON account_team(user_id, account_id);"
	"ALTER TABLE contacts ADD COLUMN portrait TEXT NOT NULL DEFAULT '{}';"
	"CREATE INDEX activities_opportunity_channel ON activities(opportunity_id, channel);",

	/* 3: follow-up discipline, the public pool, leads, orders */
	"ALTER TABLE accounts ADD COLUMN pool_reason TEXT;"
	"ALTER TABLE accounts ADD COLUMN pooled_at TEXT;"
	"ALTER TABLE accounts ADD COLUMN assigned_at TEXT;"
	"UPDATE accounts SET assigned_at = created_at WHERE owner_id IS NOT NULL;"
	"CREATE TABLE owner_history (id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL"
	"  REFERENCES accounts(id), from_id INTEGER REFERENCES users(id), to_id INTEGER"
	"  REFERENCES users(id), reason TEXT NOT NULL, note TEXT, by_id INTEGER, at TEXT NOT NULL,"
	"  sweep_id INTEGER);"
	"CREATE INDEX owner_history_account ON owner_history(account_id, id);"
	"CREATE INDEX owner_history_at ON owner_history(at, reason);"
	"CREATE TABLE sweeps (id INTEGER PRIMARY KEY, as_of TEXT NOT NULL, at TEXT NOT NULL,"
	"  by_id INTEGER, moved INTEGER NOT NULL);"
	"CREATE TABLE leads (" LIVE ", company TEXT NOT NULL, name_key TEXT, contact_name TEXT,"
	"  phone TEXT, email TEXT, source TEXT, assignee_id INTEGER REFERENCES users(id),"
	"  status TEXT NOT NULL, notes TEXT, converted_account_id INTEGER REFERENCES accounts(id),"
	"  converted_contact_id INTEGER REFERENCES contacts(id),"
	"  converted_opportunity_id INTEGER REFERENCES opportunities(id));"
	"CREATE INDEX leads_assignee ON leads(assignee_id);"
	"CREATE INDEX leads_account ON leads(converted_account_id);"
	"CREATE TABLE orders (" LIVE ", account_id INTEGER NOT NULL REFERENCES accounts(id),"
	"  product TEXT NOT NULL, quantity INTEGER NOT NULL DEFAULT 1, amount INTEGER NOT NULL"
	"  DEFAULT 0, ordered_on TEXT NOT NULL, paid_on TEXT);"
	"CREATE INDEX orders_account ON orders(account_id, product, ordered_on);"
	"CREATE INDEX activities_user ON activities(user_id, account_id, effective, occurred_at);",

	/* 4: quotas, and the covering indexes of the analytics queries */
	"CREATE TABLE quotas (" LIVE ", user_id INTEGER REFERENCES users(id),"
	"  team_id INTEGER REFERENCES teams(id), period TEXT NOT NULL, amount INTEGER NOT NULL);"
	"CREATE UNIQUE INDEX quotas_user_period ON quotas(user_id, period)"
	"  WHERE archived_at IS NULL AND user_id IS NOT NULL;"
	"CREATE UNIQUE INDEX quotas_team_period ON quotas(team_id, period)"
	"  WHERE archived_at IS NULL AND team_id IS NOT NULL;"
	"CREATE INDEX opportunities_owner_stage ON opportunities(owner_id, stage, amount,"
	"  expected_close_on) WHERE archived_at IS NULL;"
	"CREATE INDEX stage_history_to ON stage_history(to_stage, at, opportunity_id);"
	"CREATE INDEX orders_day ON orders(ordered_on, account_id, amount);"
	"CREATE INDEX activities_when ON activities(occurred_at, user_id, effective);",

	/* 5: account name search through an FTS5 trigram index of name_key (issue 9), kept by
	 * triggers in the transaction of every write; queries under 3 characters still use instr() */
	"CREATE VIRTUAL TABLE accounts_name_fts USING fts5(name_key, content='accounts',"
	"  content_rowid='id', tokenize='trigram');"
	"CREATE TRIGGER accounts_name_fts_ai AFTER INSERT ON accounts BEGIN"
	"  INSERT INTO accounts_name_fts(rowid, name_key) VALUES (new.id, new.name_key); END;"
	"CREATE TRIGGER accounts_name_fts_ad AFTER DELETE ON accounts BEGIN"
	"  INSERT INTO accounts_name_fts(accounts_name_fts, rowid, name_key)"
	"  VALUES ('delete', old.id, old.name_key); END;"
	"CREATE TRIGGER accounts_name_fts_au AFTER UPDATE OF name_key ON accounts BEGIN"
	"  INSERT INTO accounts_name_fts(accounts_name_fts, rowid, name_key)"
	"  VALUES ('delete', old.id, old.name_key);"
	"  INSERT INTO accounts_name_fts(rowid, name_key) VALUES (new.id, new.name_key); END;"
	"INSERT INTO accounts_name_fts(accounts_name_fts) VALUES ('rebuild');",

	/* 6: follow-up facts kept on the account (issue 9): touches, the last touch, the latest
	 * activity's planned next touch and contacts, maintained by triggers in the transaction of
	 * every activity write instead of four correlated subqueries per account read */
	"ALTER TABLE accounts ADD COLUMN touch_count INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE accounts ADD COLUMN touched_at TEXT;"
	"ALTER TABLE accounts ADD COLUMN latest_next_touch TEXT;"
	"ALTER TABLE accounts ADD COLUMN latest_contact_ids TEXT;"
	"CREATE INDEX activities_account_latest ON activities(account_id, occurred_at, id)"
	"  WHERE archived_at IS NULL;"
	"UPDATE accounts SET " TOUCH_FACTS("accounts.id") ";"
	"CREATE INDEX accounts_owner_touched ON accounts(owner_id, touched_at)"
	"  WHERE archived_at IS NULL;"
	"CREATE TRIGGER activities_touch_ai AFTER INSERT ON activities BEGIN"
	"  UPDATE accounts SET " TOUCH_FACTS("new.account_id") " WHERE id = new.account_id; END;"
	"CREATE TRIGGER activities_touch_au AFTER UPDATE OF account_id, effective, occurred_at,"
	"  archived_at, next_touch_on, contact_ids ON activities BEGIN"
	"  UPDATE accounts SET " TOUCH_FACTS("new.account_id") " WHERE id = new.account_id;"
	"  UPDATE accounts SET " TOUCH_FACTS("old.account_id") " WHERE id = old.account_id"
	"    AND old.account_id <> new.account_id; END;"
	"CREATE TRIGGER activities_touch_ad AFTER DELETE ON activities BEGIN"
	"  UPDATE accounts SET " TOUCH_FACTS("old.account_id") " WHERE id = old.account_id; END;",

	/* 7: an owner's accounts by last touch (the bench's and the web app's "my accounts" order)
	 * read in index order and stop after one page, instead of sorting every account of the
	 * owner: the indexed expression is exactly the list's sort expression (sort_expr in
	 * sqlite.c: IFNULL with the keyset sentinel), which SQLite requires to use it */
	"CREATE INDEX accounts_owner_touch_sort ON accounts(owner_id, IFNULL(touched_at, ''))"
	"  WHERE archived_at IS NULL;",

	/* 8: a new activity adds to its account's touch facts instead of recounting them: the
	 * count and the last effective touch of migration 6's insert trigger scanned every activity
	 * of the account (O(n) per insert, 75 % of the writer's time under POST /activities on a
	 * busy account); the latest activity's next touch and contacts stay an index seek. Updates
	 * and deletes (rare) still recompute. */
	"DROP TRIGGER activities_touch_ai;"
	"CREATE TRIGGER activities_touch_ai AFTER INSERT ON activities BEGIN"
	"  UPDATE accounts SET"
	"  touch_count = touch_count + (new.effective = 1 AND new.archived_at IS NULL),"
	"  touched_at = CASE WHEN new.effective = 1 AND new.archived_at IS NULL AND"
	"    (touched_at IS NULL OR new.occurred_at > touched_at) THEN new.occurred_at"
	"    ELSE touched_at END,"
	"  latest_next_touch = (SELECT la.next_touch_on FROM activities la WHERE"
	"    la.account_id = new.account_id AND la.archived_at IS NULL"
	"    ORDER BY la.occurred_at DESC, la.id DESC LIMIT 1),"
	"  latest_contact_ids = (SELECT la.contact_ids FROM activities la WHERE"
	"    la.account_id = new.account_id AND la.archived_at IS NULL"
	"    ORDER BY la.occurred_at DESC, la.id DESC LIMIT 1)"
	"  WHERE id = new.account_id; END;",

	/* 9: bulk loads fill the account name index once, at their end (store_bulk_begin/end).
	 * Filled row by row from the insert trigger, FTS5 flushes its pending terms at every
	 * statement inside a transaction (its xSavepoint), writing a tiny segment per account and
	 * merging them: ≈ 25 µs of a ≈ 35 µs account import, against ≈ 5 µs per row for one
	 * INSERT … SELECT. While a row of name_index_defer says from which id the accounts are not
	 * yet indexed, the insert trigger stays quiet and the update and delete triggers leave
	 * those accounts alone (an FTS5 'delete' of a row it never indexed corrupts the index). */
	"CREATE TABLE name_index_defer (first_id INTEGER NOT NULL);"
	"DROP TRIGGER accounts_name_fts_ai;"
	"DROP TRIGGER accounts_name_fts_ad;"
	"DROP TRIGGER accounts_name_fts_au;"
	NAME_INDEX_TRIGGERS,

	/* 10: the name index by character pairs (the dm_bigram tokenizer of sqlite_bigram.c)
	 * instead of trigrams, so two-character names (鑫源) are found through it too; same table
	 * name, same triggers as 9 */
	"DROP TRIGGER accounts_name_fts_ai;"
	"DROP TRIGGER accounts_name_fts_ad;"
	"DROP TRIGGER accounts_name_fts_au;"
	"DROP TABLE accounts_name_fts;"
	"CREATE VIRTUAL TABLE accounts_name_fts USING fts5(name_key, content='accounts',"
	"  content_rowid='id', tokenize='dm_bigram');"
	NAME_INDEX_TRIGGERS
	"INSERT INTO accounts_name_fts(accounts_name_fts) VALUES ('rebuild');",

	/* 11: the funnel's maintained aggregates (issue 5, issue 9; see above): the facts on each
	 * opportunity, the four tables filled by one GROUP BY each, then the triggers */
	"ALTER TABLE opportunities ADD COLUMN won_at TEXT;"
	"ALTER TABLE opportunities ADD COLUMN lost_at TEXT;"
	"ALTER TABLE opportunities ADD COLUMN reach INTEGER;"
	"CREATE TABLE agg_open (owner_id INTEGER NOT NULL, stage TEXT NOT NULL, cents INTEGER NOT"
	"  NULL, n INTEGER NOT NULL, amount INTEGER NOT NULL, PRIMARY KEY (owner_id, stage, cents))"
	"  WITHOUT ROWID;"
	"CREATE TABLE agg_closed (owner_id INTEGER NOT NULL, day TEXT NOT NULL, stage TEXT NOT NULL,"
	"  n INTEGER NOT NULL, amount INTEGER NOT NULL, cycle_ms INTEGER NOT NULL,"
	"  PRIMARY KEY (owner_id, day, stage)) WITHOUT ROWID;"
	"CREATE TABLE agg_reach (owner_id INTEGER NOT NULL, day TEXT NOT NULL, rank INTEGER NOT NULL,"
	"  n INTEGER NOT NULL, PRIMARY KEY (owner_id, day, rank)) WITHOUT ROWID;"
	"CREATE TABLE agg_stays (owner_id INTEGER NOT NULL, day TEXT NOT NULL, stage TEXT NOT NULL,"
	"  n INTEGER NOT NULL, stay_ms INTEGER NOT NULL, PRIMARY KEY (owner_id, day, stage))"
	"  WITHOUT ROWID;"
	"UPDATE opportunities SET won_at = h.won_at, lost_at = h.lost_at, reach = h.reach FROM"
	"  (SELECT opportunity_id, max(CASE WHEN to_stage = 'won' THEN at END) AS won_at,"
	"  max(CASE WHEN to_stage = 'lost' THEN at END) AS lost_at, max(" RANK("to_stage") ") AS"
	"  reach FROM stage_history GROUP BY opportunity_id) h WHERE h.opportunity_id ="
	"  opportunities.id;"
	"INSERT INTO agg_open SELECT " OWNER("o") ", o.stage, o.amount % 100, count(*),"
	"  sum(o.amount) FROM opportunities o WHERE o.archived_at IS NULL AND o.stage NOT IN"
	"  ('won', 'lost') GROUP BY 1, 2, 3;"
	"INSERT INTO agg_closed SELECT " OWNER("o") ", " DAY8(CLOSED_AT("o")) ", o.stage, count(*),"
	"  sum(o.amount), sum(" SPAN_MS("o.created_at", CLOSED_AT("o")) ") FROM opportunities o"
	"  WHERE o.archived_at IS NULL AND " CLOSED_AT("o") " IS NOT NULL GROUP BY 1, 2, 3;"
	"INSERT INTO agg_reach SELECT " OWNER("o") ", " DAY8("o.created_at") ", o.reach, count(*)"
	"  FROM opportunities o WHERE o.archived_at IS NULL AND o.reach IS NOT NULL"
	"  GROUP BY 1, 2, 3;"
	"INSERT INTO agg_stays SELECT " OWNER("o") ", " DAY8("s.left_at") ", s.stage, count(*),"
	"  sum(" SPAN_MS("s.at", "s.left_at") ") FROM (SELECT h.opportunity_id, h.to_stage AS stage,"
	"  h.at, lead(h.at) OVER (PARTITION BY h.opportunity_id ORDER BY h.id) AS left_at FROM"
	"  stage_history h) s JOIN opportunities o ON o.id = s.opportunity_id WHERE o.archived_at IS"
	"  NULL AND s.left_at IS NOT NULL AND s.stage NOT IN ('won', 'lost') GROUP BY 1, 2, 3;"
	"INSERT INTO agg_open SELECT -1, stage, cents, sum(n), sum(amount) FROM agg_open"
	"  GROUP BY stage, cents;"
	"INSERT INTO agg_closed SELECT -1, day, stage, sum(n), sum(amount), sum(cycle_ms) FROM"
	"  agg_closed GROUP BY day, stage;"
	"INSERT INTO agg_reach SELECT -1, day, rank, sum(n) FROM agg_reach GROUP BY day, rank;"
	"INSERT INTO agg_stays SELECT -1, day, stage, sum(n), sum(stay_ms) FROM agg_stays"
	"  GROUP BY day, stage;"
	/* a move ends the stay in the stage before it, and may raise reach, won_at or lost_at */
	"CREATE TRIGGER stage_history_funnel_ai AFTER INSERT ON stage_history BEGIN"
	"  INSERT INTO agg_stays (owner_id, day, stage, n, stay_ms) SELECT " KEY("o") ", "
	DAY8("new.at") ", p.to_stage, 1, " SPAN_MS("p.at", "new.at") " FROM stage_history p JOIN"
	"  opportunities o ON o.id = new.opportunity_id CROSS JOIN " KEYS " WHERE p.id = (SELECT max(q.id) FROM"
	"  stage_history q WHERE q.opportunity_id = new.opportunity_id AND q.id < new.id) AND"
	"  o.archived_at IS NULL AND p.to_stage NOT IN ('won', 'lost') ON CONFLICT (owner_id, day,"
	"  stage) DO UPDATE SET n = n + excluded.n, stay_ms = stay_ms + excluded.stay_ms;"
	"  UPDATE opportunities SET reach = max(IFNULL(reach, 0), " RANK("new.to_stage") "),"
	"  won_at = CASE WHEN new.to_stage = 'won' AND (won_at IS NULL OR new.at > won_at) THEN"
	"  new.at ELSE won_at END, lost_at = CASE WHEN new.to_stage = 'lost' AND (lost_at IS NULL"
	"  OR new.at > lost_at) THEN new.at ELSE lost_at END WHERE id = new.opportunity_id; END;"
	"CREATE TRIGGER opportunities_funnel_ai AFTER INSERT ON opportunities BEGIN "
	AGG_OPEN("new", "1") AGG_CLOSED("new", "1") AGG_REACH("new", "1") AGG_STAYS("new", "1")
	" END;"
	"CREATE TRIGGER opportunities_funnel_au AFTER UPDATE OF owner_id, stage, amount, archived_at,"
	"  created_at, won_at, lost_at, reach ON opportunities WHEN " FUNNEL_CHANGED " BEGIN "
	AGG_OPEN("old", "-1") AGG_CLOSED("old", "-1") AGG_REACH("old", "-1")
	AGG_OPEN("new", "1") AGG_CLOSED("new", "1") AGG_REACH("new", "1") " END;"
	"CREATE TRIGGER opportunities_stays_au AFTER UPDATE OF owner_id, archived_at ON opportunities"
	"  WHEN old.owner_id IS NOT new.owner_id OR (old.archived_at IS NULL) <> (new.archived_at IS"
	"  NULL) BEGIN " AGG_STAYS("old", "-1") AGG_STAYS("new", "1") " END;",

	/* 12: a rep's agenda selects the accounts that may be due or sleeping from the owner's range
	 * of this covering index (issue 9), instead of presenting every account the rep owns;
	 * archived_at (always null here) is a column too: SQLite 3.40 counts a partial index as
	 * covering only when it holds every column the query names */
	("CREATE INDEX accounts_owner_agenda ON accounts(owner_id, latest_next_touch, touched_at,"
	 "  created_at, archived_at) WHERE archived_at IS NULL;"),

	/* 13: failed sign-ins and import jobs kept in the database, so that every server sharing a
	 * database (PostgreSQL) counts the one and shows the other (issue 8) */
	"CREATE TABLE login_failures (key TEXT PRIMARY KEY, fails INTEGER NOT NULL,"
	"  since_ms INTEGER NOT NULL);"
	"CREATE TABLE jobs (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, object TEXT NOT NULL,"
	"  user_id INTEGER, state TEXT NOT NULL, rows_done INTEGER NOT NULL DEFAULT 0,"
	"  bytes_done INTEGER NOT NULL DEFAULT 0, bytes_total INTEGER NOT NULL, report TEXT,"
	"  error TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);",

	/* 14: the pool report's flows read only the owner changes that are flows: every new account
	 * writes a "created" row, so the period's range of owner_history_at held a million rows to
	 * skip at full scale (17 s for the company's pool report); the predicate is the report's own
	 * (sqlbuild.c an_pool_flows), as a partial index needs */
	("CREATE INDEX owner_history_flows ON owner_history(at, to_id, from_id, reason)"
	 "  WHERE COALESCE(note, '') <> 'created';"),

	/* 15: the funnel's sums kept per team as well (issue 9): a team's funnel read its owners'
	 * rows, 111 owner ranges for a department of the benchmark, and grows with days x owners;
	 * now it reads the rows of the teams of its subtree under key -1 - team_id (the owner's
	 * team now; a user's team change moves their rows). The triggers of migration 11 are
	 * replaced by the same ones over three keys. */
	"DROP TRIGGER stage_history_funnel_ai;"
	"DROP TRIGGER opportunities_funnel_ai;"
	"DROP TRIGGER opportunities_funnel_au;"
	"DROP TRIGGER opportunities_stays_au;"
	"INSERT INTO agg_open SELECT -1 - u.team_id, a.stage, a.cents, sum(a.n), sum(a.amount) FROM"
	"  agg_open a JOIN users u ON u.id = a.owner_id WHERE a.owner_id > 0 AND u.team_id IS NOT"
	"  NULL GROUP BY 1, 2, 3;"
	"INSERT INTO agg_closed SELECT -1 - u.team_id, a.day, a.stage, sum(a.n), sum(a.amount),"
	"  sum(a.cycle_ms) FROM agg_closed a JOIN users u ON u.id = a.owner_id WHERE a.owner_id > 0"
	"  AND u.team_id IS NOT NULL GROUP BY 1, 2, 3;"
	"INSERT INTO agg_reach SELECT -1 - u.team_id, a.day, a.rank, sum(a.n) FROM agg_reach a JOIN"
	"  users u ON u.id = a.owner_id WHERE a.owner_id > 0 AND u.team_id IS NOT NULL"
	"  GROUP BY 1, 2, 3;"
	"INSERT INTO agg_stays SELECT -1 - u.team_id, a.day, a.stage, sum(a.n), sum(a.stay_ms) FROM"
	"  agg_stays a JOIN users u ON u.id = a.owner_id WHERE a.owner_id > 0 AND u.team_id IS NOT"
	"  NULL GROUP BY 1, 2, 3;"
	"CREATE TRIGGER stage_history_funnel_ai AFTER INSERT ON stage_history BEGIN"
	"  INSERT INTO agg_stays (owner_id, day, stage, n, stay_ms) SELECT " KEY3("o") ", "
	DAY8("new.at") ", p.to_stage, 1, " SPAN_MS("p.at", "new.at") " FROM stage_history p JOIN"
	"  opportunities o ON o.id = new.opportunity_id CROSS JOIN " KEYS3("o") " WHERE p.id ="
	"  (SELECT max(q.id) FROM stage_history q WHERE q.opportunity_id = new.opportunity_id AND"
	"  q.id < new.id) AND o.archived_at IS NULL" KW3 " AND p.to_stage NOT IN ('won', 'lost')"
	"  ON CONFLICT (owner_id, day, stage) DO UPDATE SET n = n + excluded.n, stay_ms = stay_ms +"
	"  excluded.stay_ms;"
	"  UPDATE opportunities SET reach = max(IFNULL(reach, 0), " RANK("new.to_stage") "),"
	"  won_at = CASE WHEN new.to_stage = 'won' AND (won_at IS NULL OR new.at > won_at) THEN"
	"  new.at ELSE won_at END, lost_at = CASE WHEN new.to_stage = 'lost' AND (lost_at IS NULL"
	"  OR new.at > lost_at) THEN new.at ELSE lost_at END WHERE id = new.opportunity_id; END;"
	"CREATE TRIGGER opportunities_funnel_ai AFTER INSERT ON opportunities BEGIN "
	AGG_OPEN3("new", "1") AGG_CLOSED3("new", "1") AGG_REACH3("new", "1")
	AGG_STAYS3("new", "1") " END;"
	"CREATE TRIGGER opportunities_funnel_au AFTER UPDATE OF owner_id, stage, amount, archived_at,"
	"  created_at, won_at, lost_at, reach ON opportunities WHEN " FUNNEL_CHANGED " BEGIN "
	AGG_OPEN3("old", "-1") AGG_CLOSED3("old", "-1") AGG_REACH3("old", "-1")
	AGG_OPEN3("new", "1") AGG_CLOSED3("new", "1") AGG_REACH3("new", "1") " END;"
	"CREATE TRIGGER opportunities_stays_au AFTER UPDATE OF owner_id, archived_at ON opportunities"
	"  WHEN old.owner_id IS NOT new.owner_id OR (old.archived_at IS NULL) <> (new.archived_at IS"
	"  NULL) BEGIN " AGG_STAYS3("old", "-1") AGG_STAYS3("new", "1") " END;"
	"CREATE TRIGGER users_team_funnel_au AFTER UPDATE OF team_id ON users WHEN old.team_id IS"
	"  NOT new.team_id BEGIN "
	MOVE_TEAM2("agg_open", "stage, cents", "-n, -amount", "n, amount",
		   "n = n + excluded.n, amount = amount + excluded.amount")
	MOVE_TEAM2("agg_closed", "day, stage", "-n, -amount, -cycle_ms", "n, amount, cycle_ms",
		   "n = n + excluded.n, amount = amount + excluded.amount, cycle_ms = cycle_ms +"
		   " excluded.cycle_ms")
	MOVE_TEAM2("agg_reach", "day, rank", "-n", "n", "n = n + excluded.n")
	MOVE_TEAM2("agg_stays", "day, stage", "-n, -stay_ms", "n, stay_ms",
		   "n = n + excluded.n, stay_ms = stay_ms + excluded.stay_ms")
	" END;",

	/* 16: each account keeps the counts of its live open and won opportunities (issue 9): the
	 * agenda and every presented account counted them with a subquery per account (an index
	 * seek and an opportunity row each: most of a rep's agenda at full scale, 2,000 candidates);
	 * the agenda's index now holds the open count, so its candidates are decided from the
	 * index alone. Opportunities are archived, never deleted; should one ever move to
	 * another account (no code does so today), the update trigger follows account_id. */
	"ALTER TABLE accounts ADD COLUMN open_opps INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE accounts ADD COLUMN won_opps INTEGER NOT NULL DEFAULT 0;"
	"UPDATE accounts SET open_opps = o.open, won_opps = o.won FROM (SELECT account_id,"
	"  sum(stage NOT IN ('won', 'lost')) AS open, sum(stage = 'won') AS won FROM opportunities"
	"  WHERE archived_at IS NULL GROUP BY account_id) o WHERE o.account_id = accounts.id;"
	"DROP INDEX accounts_owner_agenda;"
	"CREATE INDEX accounts_owner_agenda ON accounts(owner_id, latest_next_touch, touched_at,"
	"  created_at, open_opps, archived_at) WHERE archived_at IS NULL;"
	"CREATE TRIGGER opportunities_account_ai AFTER INSERT ON opportunities WHEN new.archived_at"
	"  IS NULL BEGIN UPDATE accounts SET open_opps = open_opps + (new.stage NOT IN ('won',"
	"  'lost')), won_opps = won_opps + (new.stage = 'won') WHERE id = new.account_id; END;"
	"CREATE TRIGGER opportunities_account_au AFTER UPDATE OF account_id, stage, archived_at ON"
	"  opportunities WHEN old.account_id IS NOT new.account_id OR old.stage IS NOT new.stage OR"
	"  (old.archived_at IS NULL) <> (new.archived_at IS NULL) BEGIN"
	"  UPDATE accounts SET open_opps = open_opps - (old.stage NOT IN ('won', 'lost')), won_opps"
	"  = won_opps - (old.stage = 'won') WHERE id = old.account_id AND old.archived_at IS NULL;"
	"  UPDATE accounts SET open_opps = open_opps + (new.stage NOT IN ('won', 'lost')), won_opps"
	"  = won_opps + (new.stage = 'won') WHERE id = new.account_id AND new.archived_at IS NULL;"
	" END;",

	/* 17: the forecast's and the segments' maintained aggregates (issue 5; schema_sql.h says
	 * what each table holds): the order facts on each account, the two tables filled by one
	 * GROUP BY each (the company's and the teams' rows from the owners'), then the triggers */
	"ALTER TABLE accounts ADD COLUMN order_count INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE accounts ADD COLUMN first_order_on TEXT;"
	"UPDATE accounts SET order_count = f.n, first_order_on = f.first FROM (SELECT account_id,"
	"  count(*) AS n, min(ordered_on) AS first FROM orders WHERE archived_at IS NULL GROUP BY"
	"  account_id) f WHERE f.account_id = accounts.id;"
	"CREATE TABLE agg_close (owner_id INTEGER NOT NULL, day TEXT NOT NULL, stage TEXT NOT NULL,"
	"  cents INTEGER NOT NULL, n INTEGER NOT NULL, amount INTEGER NOT NULL,"
	"  PRIMARY KEY (owner_id, day, stage, cents)) WITHOUT ROWID;"
	CLOSE_FILL
	"CREATE TABLE agg_segments (owner_id INTEGER NOT NULL, bucket INTEGER NOT NULL, first_on TEXT"
	"  NOT NULL, day TEXT NOT NULL, accounts INTEGER NOT NULL, revenue INTEGER NOT NULL,"
	"  touches INTEGER NOT NULL, PRIMARY KEY (owner_id, bucket, first_on, day)) WITHOUT ROWID;"
	SEG_FILL
	"CREATE TRIGGER opportunities_close_ai AFTER INSERT ON opportunities BEGIN "
	AGG_CLOSE("new", "1") " END;"
	"CREATE TRIGGER opportunities_close_au AFTER UPDATE OF owner_id, stage, amount, archived_at,"
	"  expected_close_on ON opportunities WHEN " CLOSE_CHANGED " BEGIN " AGG_CLOSE("old", "-1")
	AGG_CLOSE("new", "1") " END;"
	"CREATE TRIGGER accounts_segments_ai AFTER INSERT ON accounts BEGIN "
	SEG_ACCOUNT("new", "1") " END;"
	"CREATE TRIGGER accounts_segments_au AFTER UPDATE OF owner_id, archived_at, order_count,"
	"  first_order_on ON accounts WHEN " SEG_CHANGED " BEGIN " SEG_ACCOUNT_ALL("old", "-1")
	SEG_ACCOUNT_ALL("new", "1") " END;"
	"CREATE TRIGGER orders_segments_ai AFTER INSERT ON orders BEGIN " SEG_ORDER("new", "1")
	ORDER_FACTS("new.account_id") " END;"
	"CREATE TRIGGER orders_segments_au AFTER UPDATE OF account_id, amount, ordered_on,"
	"  archived_at ON orders WHEN old.account_id IS NOT new.account_id OR old.amount IS NOT"
	"  new.amount OR old.ordered_on IS NOT new.ordered_on OR old.archived_at IS NOT"
	"  new.archived_at BEGIN " SEG_ORDER("old", "-1") SEG_ORDER("new", "1")
	ORDER_FACTS("new.account_id") ORDER_FACTS("old.account_id") " END;"
	"CREATE TRIGGER activities_segments_ai AFTER INSERT ON activities BEGIN "
	SEG_TOUCH("new", "1") " END;"
	"CREATE TRIGGER activities_segments_au AFTER UPDATE OF account_id, effective, occurred_at,"
	"  archived_at ON activities WHEN old.account_id IS NOT new.account_id OR old.effective IS"
	"  NOT new.effective OR old.occurred_at IS NOT new.occurred_at OR old.archived_at IS NOT"
	"  new.archived_at BEGIN " SEG_TOUCH("old", "-1") SEG_TOUCH("new", "1") " END;"
	"CREATE TRIGGER users_team_segments_au AFTER UPDATE OF team_id ON users WHEN old.team_id IS"
	"  NOT new.team_id BEGIN "
	SEG_MOVE_TEAM
	" END;",
	/* 18: the activity figures' maintained tables (issue 5; see above): the tables and the
	 * opportunities' first win filled from the records, then the triggers */
	"CREATE TABLE agg_touch_day (user_id INTEGER NOT NULL, day TEXT NOT NULL, n INTEGER NOT"
	"  NULL, eff INTEGER NOT NULL, PRIMARY KEY (user_id, day)) WITHOUT ROWID;"
	"CREATE TABLE agg_touch_channel (user_id INTEGER NOT NULL, day TEXT NOT NULL, channel TEXT"
	"  NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (user_id, day, channel)) WITHOUT ROWID;"
	"CREATE TABLE touch_pairs (user_id INTEGER NOT NULL, account_id INTEGER NOT NULL, first_at"
	"  TEXT NOT NULL, last_at TEXT NOT NULL, PRIMARY KEY (user_id, account_id)) WITHOUT ROWID;"
	"CREATE TABLE agg_touch_last (day TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;"
	"ALTER TABLE opportunities ADD COLUMN first_won_at TEXT;"
	TOUCH_BACKFILL
	"CREATE TRIGGER stage_history_first_won_ai AFTER INSERT ON stage_history WHEN new.to_stage"
	"  = 'won' BEGIN UPDATE opportunities SET first_won_at = new.at WHERE id ="
	"  new.opportunity_id AND (first_won_at IS NULL OR first_won_at > new.at); END;"
	"CREATE TRIGGER activities_touch_agg_ai AFTER INSERT ON activities BEGIN "
	TOUCH_DAY("new", "1") TOUCH_PAIRS_ADD("new") " END;"
	"CREATE TRIGGER activities_touch_agg_au AFTER UPDATE OF account_id, user_id, channel,"
	"  occurred_at, effective, archived_at ON activities WHEN old.account_id IS NOT"
	"  new.account_id OR old.user_id IS NOT new.user_id OR old.channel IS NOT new.channel OR"
	"  old.occurred_at IS NOT new.occurred_at OR old.effective IS NOT new.effective OR"
	"  (old.archived_at IS NULL) <> (new.archived_at IS NULL) BEGIN "
	TOUCH_DAY("old", "-1") TOUCH_DAY("new", "1") TOUCH_PAIRS_REDO("old") TOUCH_PAIRS_REDO("new")
	" END;"
	"CREATE TRIGGER activities_touch_agg_ad AFTER DELETE ON activities BEGIN "
	TOUCH_DAY("old", "-1") TOUCH_PAIRS_REDO("old") " END;",
	/* 19: the funnel's period sums by month and by year beside those by day (schema_sql.h
	 * says why): the twins, filled from the day tables, then kept by the day tables' triggers */
	TWIN_TABLES_BOTH("INTEGER", "TEXT", " WITHOUT ROWID")
	TWIN_FILLS
	"CREATE TRIGGER agg_closed_twins_ai AFTER INSERT ON agg_closed BEGIN " TWINS(CLOSED_ADD)
	" END;"
	"CREATE TRIGGER agg_closed_twins_au AFTER UPDATE ON agg_closed BEGIN " TWINS(CLOSED_DIFF)
	" END;"
	"CREATE TRIGGER agg_reach_twins_ai AFTER INSERT ON agg_reach BEGIN " TWINS(REACH_ADD)
	" END;"
	"CREATE TRIGGER agg_reach_twins_au AFTER UPDATE ON agg_reach BEGIN " TWINS(REACH_DIFF)
	" END;"
	"CREATE TRIGGER agg_stays_twins_ai AFTER INSERT ON agg_stays BEGIN " TWINS(STAYS_ADD)
	" END;"
	"CREATE TRIGGER agg_stays_twins_au AFTER UPDATE ON agg_stays BEGIN " TWINS(STAYS_DIFF)
	" END;",
	/* 20: less written per new activity (issue 9: POST /activities). Two indexes no query
	 * needs: activities_opportunity is a prefix of activities_opportunity_channel (migration
	 * 2), and accounts_owner_touched (6) serves no query since the list's sort has its own
	 * index (7) and the sleeping count reads accounts_owner_agenda (12, 16); each activity moved
	 * an entry of the latter. The account's latest next touch and contacts come from one read
	 * of its latest activity instead of two, and the account's last-touch day moves only when it
	 * changes (TOUCH_PAIRS_ADD20). */
	"DROP INDEX activities_opportunity;"
	"DROP INDEX accounts_owner_touched;"
	"DROP TRIGGER activities_touch_ai;"
	"CREATE TRIGGER activities_touch_ai AFTER INSERT ON activities BEGIN"
	"  UPDATE accounts SET"
	"  touch_count = touch_count + (new.effective = 1 AND new.archived_at IS NULL),"
	"  touched_at = CASE WHEN new.effective = 1 AND new.archived_at IS NULL AND"
	"    (touched_at IS NULL OR new.occurred_at > touched_at) THEN new.occurred_at"
	"    ELSE touched_at END,"
	"  (latest_next_touch, latest_contact_ids) = (SELECT la.next_touch_on, la.contact_ids"
	"    FROM activities la WHERE la.account_id = new.account_id AND la.archived_at IS NULL"
	"    ORDER BY la.occurred_at DESC, la.id DESC LIMIT 1)"
	"  WHERE id = new.account_id; END;"
	"DROP TRIGGER activities_touch_agg_ai;"
	"CREATE TRIGGER activities_touch_agg_ai AFTER INSERT ON activities BEGIN "
	TOUCH_DAY("new", "1") TOUCH_PAIRS_ADD20("new") " END;",
	/* 21: covering indexes of the quotes and the live orders (schema_sql.h) */
	READ_INDEXES,
	/* 22: a team's funnel sums for its whole subtree under its key (schema_sql.h says why):
	 * the tree's closure, the ancestors' rows filled from their subtrees' team rows, then
	 * migration 15's triggers over the owner's path instead of the owner's team (the update's
	 * split per table), and the triggers on teams */
	TEAM_PATHS_TABLE("INTEGER", " WITHOUT ROWID")
	FUNNEL_TABLES(TREE_FILL)
	"DROP TRIGGER stage_history_funnel_ai;"
	"DROP TRIGGER opportunities_funnel_ai;"
	"DROP TRIGGER opportunities_funnel_au;"
	"DROP TRIGGER opportunities_stays_au;"
	"DROP TRIGGER users_team_funnel_au;"
	"CREATE TRIGGER stage_history_funnel_ai AFTER INSERT ON stage_history BEGIN"
	"  INSERT INTO agg_stays (owner_id, day, stage, n, stay_ms) SELECT w.k, " DAY8("new.at")
	", p.to_stage, 1, " SPAN_MS("p.at", "new.at") " FROM stage_history p JOIN opportunities o ON"
	"  o.id = new.opportunity_id CROSS JOIN " TREE_KEYS_OPP("new.opportunity_id") " WHERE p.id ="
	"  (SELECT max(q.id) FROM stage_history q WHERE q.opportunity_id = new.opportunity_id AND"
	"  q.id < new.id) AND o.archived_at IS NULL AND p.to_stage NOT IN ('won', 'lost')"
	"  ON CONFLICT (owner_id, day, stage) DO UPDATE SET n = n + excluded.n, stay_ms = stay_ms +"
	"  excluded.stay_ms;"
	"  UPDATE opportunities SET reach = max(IFNULL(reach, 0), " RANK("new.to_stage") "),"
	"  won_at = CASE WHEN new.to_stage = 'won' AND (won_at IS NULL OR new.at > won_at) THEN"
	"  new.at ELSE won_at END, lost_at = CASE WHEN new.to_stage = 'lost' AND (lost_at IS NULL"
	"  OR new.at > lost_at) THEN new.at ELSE lost_at END WHERE id = new.opportunity_id; END;"
	"CREATE TRIGGER opportunities_funnel_ai AFTER INSERT ON opportunities BEGIN "
	AGG_OPEN22("new", "1") AGG_CLOSED22("new", "1") AGG_REACH22("new", "1")
	AGG_STAYS22("new", "1") " END;"
	"CREATE TRIGGER opportunities_open_au AFTER UPDATE OF owner_id, stage, amount, archived_at"
	"  ON opportunities WHEN " OPEN_CHANGED " BEGIN " AGG_OPEN22("old", "-1")
	AGG_OPEN22("new", "1") " END;"
	"CREATE TRIGGER opportunities_closed_au AFTER UPDATE OF owner_id, stage, amount, archived_at,"
	"  created_at, won_at, lost_at ON opportunities WHEN " CLOSED_CHANGED " BEGIN "
	AGG_CLOSED22("old", "-1") AGG_CLOSED22("new", "1") " END;"
	"CREATE TRIGGER opportunities_reach_au AFTER UPDATE OF owner_id, archived_at, created_at,"
	"  reach ON opportunities WHEN " REACH_CHANGED " BEGIN " AGG_REACH22("old", "-1")
	AGG_REACH22("new", "1") " END;"
	"CREATE TRIGGER opportunities_stays_au AFTER UPDATE OF owner_id, archived_at ON opportunities"
	"  WHEN old.owner_id IS NOT new.owner_id OR (old.archived_at IS NULL) <> (new.archived_at IS"
	"  NULL) BEGIN " AGG_STAYS22("old", "-1") AGG_STAYS22("new", "1") " END;"
	"CREATE TRIGGER users_team_funnel_au AFTER UPDATE OF team_id ON users WHEN old.team_id IS"
	"  NOT new.team_id BEGIN " FUNNEL_TABLES(TREE_MOVE_USER6) " END;"
	"CREATE TRIGGER teams_paths_ai AFTER INSERT ON teams BEGIN " TEAM_PATHS_ADD " END;"
	"CREATE TRIGGER teams_tree_au AFTER UPDATE OF parent_id ON teams WHEN old.parent_id IS NOT"
	"  new.parent_id BEGIN " FUNNEL_TABLES(TREE_MOVE_TEAM6) TEAM_PATHS_MOVE " END;",
	/* 23 (issue 9: POST /activities): the three insert triggers of the activities, quiet
	 * while a row of activity_defer says that the writer does their work itself, set-wise,
	 * once per batch of writes (sqlite.c, "deferred activity sums": the statements of a bulk
	 * load, sqlite_bulk_activities, for the activities from first_id on). Each fired about
	 * twenty upserts per activity, most of them on the same rows for every activity of a
	 * batch (the rep's and the company's day and channel counts, the account's segment rows).
	 * The same bodies as migrations 17 and 20. */
	"CREATE TABLE activity_defer (first_id INTEGER NOT NULL);"
	"DROP TRIGGER activities_touch_ai;"
	"CREATE TRIGGER activities_touch_ai AFTER INSERT ON activities"
	"  WHEN NOT EXISTS (SELECT 1 FROM activity_defer) BEGIN"
	"  UPDATE accounts SET"
	"  touch_count = touch_count + (new.effective = 1 AND new.archived_at IS NULL),"
	"  touched_at = CASE WHEN new.effective = 1 AND new.archived_at IS NULL AND"
	"    (touched_at IS NULL OR new.occurred_at > touched_at) THEN new.occurred_at"
	"    ELSE touched_at END,"
	"  (latest_next_touch, latest_contact_ids) = (SELECT la.next_touch_on, la.contact_ids"
	"    FROM activities la WHERE la.account_id = new.account_id AND la.archived_at IS NULL"
	"    ORDER BY la.occurred_at DESC, la.id DESC LIMIT 1)"
	"  WHERE id = new.account_id; END;"
	"DROP TRIGGER activities_segments_ai;"
	"CREATE TRIGGER activities_segments_ai AFTER INSERT ON activities"
	"  WHEN NOT EXISTS (SELECT 1 FROM activity_defer) BEGIN " SEG_TOUCH("new", "1") " END;"
	"DROP TRIGGER activities_touch_agg_ai;"
	"CREATE TRIGGER activities_touch_agg_ai AFTER INSERT ON activities"
	"  WHEN NOT EXISTS (SELECT 1 FROM activity_defer) BEGIN "
	TOUCH_DAY("new", "1") TOUCH_PAIRS_ADD20("new") " END;",
	/* 24: the sign-in state's generation, for the server's session cache (sqlite.c,
	 * sq_session_get): a new random value (so no two states share one, even across a restored
	 * copy) set in the writing transaction by every change that can end a session or
	 * change what it grants — any update or delete of a user (role, team, active, archived,
	 * password), a session deleted (sign-out, expiry, a user's sessions ended) or changed other
	 * than by its activity moving forward. Triggers, so that the command line (`dealmap user`,
	 * import, sweep), another process on the same file, bumps it too. */
	"CREATE TABLE auth_gen (id INTEGER PRIMARY KEY CHECK (id = 1), gen INTEGER NOT NULL);"
	"INSERT INTO auth_gen (id, gen) VALUES (1, random());"
	"CREATE TRIGGER auth_gen_users_au AFTER UPDATE ON users BEGIN"
	"  UPDATE auth_gen SET gen = random() WHERE id = 1; END;"
	"CREATE TRIGGER auth_gen_users_ad AFTER DELETE ON users BEGIN"
	"  UPDATE auth_gen SET gen = random() WHERE id = 1; END;"
	"CREATE TRIGGER auth_gen_sessions_ad AFTER DELETE ON sessions BEGIN"
	"  UPDATE auth_gen SET gen = random() WHERE id = 1; END;"
	"CREATE TRIGGER auth_gen_sessions_au AFTER UPDATE ON sessions WHEN NOT ("
	"  new.seen_ms >= old.seen_ms AND new.token_hash IS old.token_hash AND new.user_id IS"
	"  old.user_id AND new.csrf IS old.csrf AND new.created_ms IS old.created_ms) BEGIN"
	"  UPDATE auth_gen SET gen = random() WHERE id = 1; END;",
	/* 25: a rep's agenda in ranges (issue 9; followup.c agenda_by_ranges, sqlbuild.c
	 * sql_agenda_range). Replaces migration 16's accounts_owner_agenda, so each write moves
	 * one entry of it as before. Its keys after the owner: the account's class (0 a planned
	 * next touch, 1 none and an open opportunity, 2 none and no open opportunity) and the
	 * date the class's due day follows from, as text (the planned date; else the last touch,
	 * else the creation). Within a class the due day is that key's day plus one constant (the
	 * class's cadence, none for a plan), so the accounts due on a day are one range of each
	 * class, counted, and their page is each class's first entries in order; the sleeping
	 * accounts are a range of classes 1 and 2 and a filter of class 0's (the planned).
	 * Nothing depends on the settings, so a change of the cadences moves no entry. The id
	 * after the key keeps a range in (key, id) order without a sort of equal keys; the plain
	 * columns after it make it covering for SQLite 3.40 (which reads the row for any column
	 * an indexed expression names unless the index also holds it). */
	"DROP INDEX accounts_owner_agenda;"
	"CREATE INDEX accounts_owner_due ON accounts(owner_id, " AGENDA_CLASS("") ", "
	AGENDA_KEY("") ", id, touched_at, created_at, latest_next_touch, open_opps, archived_at)"
	"  WHERE archived_at IS NULL;",
	/* 26 (issue 9: POST /activities): one index of the activities by account instead of two,
	 * one by user instead of two (schema_sql.h), and their sizes for the planner (≈ 9 s at full
	 * scale): without them it read the sweep's last touch by the owner from the user's range
	 * (thousands of entries an account) rather than the account's */
	ACTIVITY_INDEXES26
	"ANALYZE activities_account_at;"
	"ANALYZE activities_user_at;",
	/* 27 (issue 9: the list of 50): each account keeps the text of its live orders that the
	 * list and GET by id read for the repurchase forecast (ORDERS_TEXT), instead of a
	 * correlated subquery per account with 3+ orders (≈ 40 % of the list's statement at full
	 * scale: 20 of a rep's 50). Kept by triggers on orders, in the writing transaction (orders
	 * are rare next to reads; the activities' writes do not touch it). The fill reads the
	 * accounts whose order facts (migration 17) say 3+, the only ones with a text. */
	"ALTER TABLE accounts ADD COLUMN orders_text TEXT;"
	"CREATE TRIGGER orders_text_ai AFTER INSERT ON orders BEGIN " ORDERS_TEXT("new.account_id")
	" END;"
	"CREATE TRIGGER orders_text_au AFTER UPDATE OF account_id, product, ordered_on, archived_at"
	"  ON orders WHEN old.account_id IS NOT new.account_id OR old.product IS NOT new.product OR"
	"  old.ordered_on IS NOT new.ordered_on OR old.archived_at IS NOT new.archived_at BEGIN "
	ORDERS_TEXT("new.account_id") ORDERS_TEXT("old.account_id") " END;"
	"CREATE TRIGGER orders_text_ad AFTER DELETE ON orders BEGIN " ORDERS_TEXT("old.account_id")
	" END;"
	"UPDATE accounts SET orders_text = (SELECT json_group_array(json_array(od.product,"
	"  od.ordered_on)) FROM (SELECT product, ordered_on FROM orders INDEXED BY orders_account_live"
	"  WHERE account_id = accounts.id AND archived_at IS NULL ORDER BY product, ordered_on) od)"
	"  WHERE order_count >= 3;",
	/* 28 (issue 9: a rep's agenda): the planned accounts by their quiet (followup.c
	 * agenda_by_ranges, sqlbuild.c sql_agenda_range). A planned account is sleeping by its
	 * last touch (else creation), which accounts_owner_due keys only for the unplanned ones:
	 * the planned ones' quiet was a filter of all of an owner's plans, walked whole each
	 * agenda (rep1: 466 entries, ≈ a fifth of its CPU). Keyed by that "since", the sleeping
	 * planned accounts are a range, counted with the agenda's other ranges, and the page's
	 * first ones the range's first entries. Nothing depends on the settings. The columns after
	 * the key make it covering for SQLite 3.40 (QUIET_PLANNED_COLUMNS, sqlbuild.h). Only the
	 * planned live accounts have an entry (≈ a quarter); an activity moves one when its
	 * account is or becomes planned. */
	"CREATE INDEX accounts_owner_quiet_plan ON accounts" QUIET_PLANNED_COLUMNS
	"  WHERE latest_next_touch IS NOT NULL AND archived_at IS NULL;"
	"ANALYZE accounts_owner_quiet_plan;",
	/* 29 (issue 9: the list of 50): each account's revision, a value that every change of its
	 * row changes, so that a list can tell which of its rows the account texts' memo holds
	 * from the revisions alone and read the columns of the others only (followup.c, sqlite.c
	 * list_keyed). A random value, not a count: a write rolled back never makes a revision
	 * that a later one takes again. 0 means "not known": a new row (an insert leaves it 0;
	 * this migration gives the existing rows one) is read whole until its first change, as
	 * is one whose random() gave 0. Every UPDATE that leaves it as it was is followed by one
	 * that sets it (the trigger: whoever writes, the API, a trigger, an import, the command
	 * line or SQL by hand); the sums of the writer's batches set it themselves
	 * (sqlite_bulk_activities), so an activity costs no second write. The index of an
	 * owner's accounts by last touch holds it and the other columns the list's keys read
	 * (covering for SQLite 3.40: see migration 25), so the keys of a page by last touch are
	 * read from the index alone. */
	"ALTER TABLE accounts ADD COLUMN rev INTEGER NOT NULL DEFAULT 0;"
	"UPDATE accounts SET rev = random();"
	"CREATE TRIGGER accounts_rev_au AFTER UPDATE ON accounts WHEN new.rev IS old.rev BEGIN"
	"  UPDATE accounts SET rev = random() WHERE id = new.id; END;"
	"DROP INDEX accounts_owner_touch_sort;"
	"CREATE INDEX accounts_owner_touch_sort ON accounts(owner_id, IFNULL(touched_at, ''), id,"
	"  rev, touched_at, archived_at) WHERE archived_at IS NULL;",
};

const int sqlite_migration_count = sizeof sqlite_migrations / sizeof sqlite_migrations[0];

/* SEG_ACCOUNT("new", "1") of accounts_segments_ai for the new accounts of a bulk load at once:
 * a new account has no orders nor activities, so its contribution is the account itself. The
 * accounts are first counted by what their keys depend on (owner, order count, first order
 * day), then those counts spread over the keys: the same sums, but the owner's team looked up
 * and a row sorted per group instead of per account (three rows an owned account before: with
 * 100,000 imported accounts of one owner, 300,000 rows sorted and 100,000 look-ups of the
 * owner, ≈ 10 % of the writer thread of an import with an owner column). */
const char sqlite_bulk_segments[] =
	SEG_INTO SEG_KEY("t") ", '', sum(t.n), 0, 0 FROM (SELECT owner_id, order_count, "
	"first_order_on, archived_at, count(*) AS n FROM accounts WHERE id >= ?1 AND archived_at "
	"IS NULL AND owner_id IS NOT NULL GROUP BY owner_id, order_count, first_order_on) t "
	"CROSS JOIN " SEG_KEYS("t") " GROUP BY 1, 2, 3, 4" SEG_UPSERT;

/* The three insert triggers of the activities (activities_touch_agg_ai of migration 18,
 * activities_segments_ai of 17, activities_touch_ai of 8) for every activity from id ?1 on at
 * once, for a bulk load of activities and for the new activities of a batch of the writer
 * (sqlite.c, deferred activity sums): the same rows and the same sums. Run in this order.
 * The insert trigger keeps agg_touch_last by moves of each account's last touch (pair -1): a
 * move subtracts one at the old day and adds one at the new, so every day that was ever a last
 * touch has a row, at zero when none is now. The first statement creates those rows (the days
 * of the moves, in id order, with the rows of the load before each); the next three subtract
 * the loaded accounts' last days, merge the pairs, and add the new last days (an account whose
 * last touch did not move adds back what it took, on the same row). */
#define BULK_ACT "FROM activities a WHERE a.id >= ?1 AND a.archived_at IS NULL"
/* the load's rows by id, not an index by account read whole (every activity, each load) */
#define BULK_ACT_IDS "FROM activities a NOT INDEXED WHERE a.id >= ?1 AND a.archived_at IS NULL"
#define BULK_TOUCHED "(SELECT a.account_id " BULK_ACT " AND a.effective = 1)"
const char *const sqlite_bulk_activities[] = {
	"INSERT INTO agg_touch_last (day, n) SELECT " DAY8("m.occurred_at") ", 0 FROM (SELECT"
	"  a.occurred_at, max(a.occurred_at) OVER (PARTITION BY a.account_id ORDER BY a.id ROWS"
	"  BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before, (SELECT t.last_at FROM"
	"  touch_pairs t WHERE t.user_id = -1 AND t.account_id = a.account_id) AS had " BULK_ACT_IDS
	"  AND a.effective = 1) m WHERE (m.before IS NULL OR m.occurred_at > m.before) AND (m.had IS"
	"  NULL OR m.occurred_at > m.had) GROUP BY 1 ON CONFLICT (day) DO NOTHING",
	"INSERT INTO agg_touch_last (day, n) SELECT " DAY8("t.last_at") ", -count(*) FROM"
	"  touch_pairs t WHERE t.user_id = -1 AND t.account_id IN " BULK_TOUCHED " GROUP BY 1"
	"  ON CONFLICT (day) DO UPDATE SET n = agg_touch_last.n + excluded.n",
	/* a pair's last touch here, its first in the next statement, only where it moves: a
	 * column in an upsert's SET has its index entries (touch_pairs_first) deleted and inserted
	 * again whether or not its value changes, a random page of the index dirtied per pair
	 * (the company's, by first touch) when the new activities are the latest, as nearly all
	 * are */
	"INSERT INTO touch_pairs (user_id, account_id, first_at, last_at) SELECT " TOUCH_KEY("a")
	", a.account_id, min(a.occurred_at), max(a.occurred_at) FROM activities a CROSS JOIN "
	TOUCH_KEYS " WHERE a.id >= ?1 AND a.archived_at IS NULL AND a.effective = 1 GROUP BY 1, 2"
	"  ON CONFLICT (user_id, account_id) DO UPDATE SET last_at = max(touch_pairs.last_at,"
	"  excluded.last_at)",
	/* only an activity earlier than the latest one before the load can be earlier than a
	 * pair's first touch (that is no later than the pair's last, an activity before the
	 * load): that one index entry read, a batch of activities later than it groups and
	 * looks up nothing */
	"UPDATE touch_pairs SET first_at = m.first FROM (SELECT " TOUCH_KEY("a") " AS k,"
	"  a.account_id AS account_id, min(a.occurred_at) AS first FROM activities a CROSS JOIN "
	TOUCH_KEYS " WHERE a.id >= ?1 AND a.archived_at IS NULL AND a.effective = 1 AND"
	"  a.occurred_at < (SELECT x.occurred_at FROM activities x INDEXED BY activities_when WHERE"
	"  x.id < ?1 ORDER BY x.occurred_at DESC LIMIT 1) GROUP BY 1, 2) m"
	"  WHERE touch_pairs.user_id = m.k AND touch_pairs.account_id = m.account_id AND"
	"  touch_pairs.first_at > m.first",
	"INSERT INTO agg_touch_last (day, n) SELECT " DAY8("t.last_at") ", count(*) FROM"
	"  touch_pairs t WHERE t.user_id = -1 AND t.account_id IN " BULK_TOUCHED " GROUP BY 1"
	"  ON CONFLICT (day) DO UPDATE SET n = agg_touch_last.n + excluded.n",
	"INSERT INTO agg_touch_day (user_id, day, n, eff) SELECT " TOUCH_KEY("a") ", "
	DAY8("a.occurred_at") ", count(*), sum(a.effective) FROM activities a CROSS JOIN "
	TOUCH_KEYS " WHERE a.id >= ?1 AND a.archived_at IS NULL GROUP BY 1, 2 ON CONFLICT"
	"  (user_id, day) DO UPDATE SET n = agg_touch_day.n + excluded.n, eff = agg_touch_day.eff +"
	"  excluded.eff",
	"INSERT INTO agg_touch_channel (user_id, day, channel, n) SELECT " TOUCH_KEY("a") ", "
	DAY8("a.occurred_at") ", a.channel, count(*) FROM activities a CROSS JOIN " TOUCH_KEYS
	" WHERE a.id >= ?1 AND a.archived_at IS NULL AND a.effective = 1 GROUP BY 1, 2, 3"
	"  ON CONFLICT (user_id, day, channel) DO UPDATE SET n = agg_touch_channel.n + excluded.n",
	/* likelihood: told nothing, SQLite guesses that a quarter of the activities are from ?1
	 * on, and for so many lookups builds a Bloom filter of the accounts' ids first, a scan of
	 * every account: 0.3-0.6 s per load at full scale (1M accounts), whatever its size (≈ 1 ms
	 * without it for 30 activities) */
	SEG_INTO SEG_KEY("t") ", " DAY8("a.occurred_at") ", 0, 0, count(*) FROM activities a JOIN"
	"  accounts t ON t.id = a.account_id CROSS JOIN " SEG_KEYS("t") " AND"
	"  likelihood(a.id >= ?1, 0.000001) AND a.archived_at IS NULL AND a.effective = 1"
	"  GROUP BY 1, 2, 3, 4" SEG_UPSERT,
	/* the latest live activity's two columns from one seek (a row value), not one each */
	"UPDATE accounts SET rev = random(), touch_count = touch_count + n.cnt, touched_at = CASE"
	"  WHEN n.last IS NOT NULL AND (touched_at IS NULL OR n.last > touched_at) THEN n.last"
	"  ELSE touched_at END,"
	"  (latest_next_touch, latest_contact_ids) = (SELECT la.next_touch_on, la.contact_ids FROM"
	"  activities la WHERE la.account_id = accounts.id AND la.archived_at IS NULL ORDER BY"
	"  la.occurred_at DESC, la.id DESC LIMIT 1)"
	"  FROM (SELECT account_id, sum(effective = 1 AND archived_at IS NULL) AS cnt,"
	"  max(CASE WHEN effective = 1 AND archived_at IS NULL THEN occurred_at END) AS last FROM"
	"  activities NOT INDEXED WHERE id >= ?1 GROUP BY account_id) n WHERE accounts.id ="
	"  n.account_id",
	NULL,
};
