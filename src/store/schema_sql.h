/* schema_sql.h — SQL text the migrations of both backends share. */
#ifndef DM_SCHEMA_SQL_H
#define DM_SCHEMA_SQL_H

/* Migration 6: the follow-up facts of account X, recomputed from its activities (as the derived
 * fields of the accounts were, per read, before it). */
#define TOUCH_FACTS(X) \
	"touch_count = (SELECT count(*) FROM activities da WHERE da.account_id = " X \
	"  AND da.effective = 1 AND da.archived_at IS NULL)," \
	"touched_at = (SELECT max(da.occurred_at) FROM activities da WHERE da.account_id = " X \
	"  AND da.effective = 1 AND da.archived_at IS NULL)," \
	"latest_next_touch = (SELECT la.next_touch_on FROM activities la WHERE la.account_id = " X \
	"  AND la.archived_at IS NULL ORDER BY la.occurred_at DESC, la.id DESC LIMIT 1)," \
	"latest_contact_ids = (SELECT la.contact_ids FROM activities la WHERE la.account_id = " X \
	"  AND la.archived_at IS NULL ORDER BY la.occurred_at DESC, la.id DESC LIMIT 1)"

/* Migration 15: each sum of the funnel's aggregates goes to three rows (a FROM item, alias w,
 * over opportunity row X): the owner's (w.r = 0; 0 for no owner), the company's (-1) and the
 * owner's team's (-1 - team_id; none for an owner without a team, or no owner). The including
 * file defines OWNER(X) and the AGG_*_K upserts in its dialect. */
#define KEYS3(X) "(SELECT 0 AS r UNION ALL SELECT 1 UNION ALL SELECT 2) w LEFT JOIN users tu ON" \
		 "  w.r = 2 AND tu.id = " X ".owner_id"
#define KEY3(X) "CASE w.r WHEN 0 THEN " OWNER(X) " WHEN 1 THEN -1 ELSE -1 - tu.team_id END"
#define KW3 " AND (w.r < 2 OR tu.team_id IS NOT NULL)"
#define AGG_OPEN3(X, S) AGG_OPEN_K(X, S, KEYS3(X), KEY3(X), KW3)
#define AGG_CLOSED3(X, S) AGG_CLOSED_K(X, S, KEYS3(X), KEY3(X), KW3)
#define AGG_REACH3(X, S) AGG_REACH_K(X, S, KEYS3(X), KEY3(X), KW3)
#define AGG_STAYS3(X, S) AGG_STAYS_K(X, S, KEYS3(X), KEY3(X), KW3)

/* Migration 17: the forecast's and the segments' maintained aggregates (issue 5), kept like
 * migration 11's in the transaction of every write, written once in SQL both stores accept (the
 * including file defines DAY8, the UTC+8 day of an instant; the key set is migration 15's above:
 * the owner's row, the company's, the owner's team's):
 *
 *   agg_close    (owner_id, day, stage, cents) -> n, amount: live open opportunities with an
 *                expected close day, by that day, stage and amount % 100 (agg_open's cents, for
 *                the weighted amount); the forecast reads the period's days and folds them into
 *                months, so a period that starts or ends inside a month is exact
 *   agg_segments (owner_id, bucket, first_on, day) -> accounts, revenue, touches: live owned
 *                accounts by their orders bucket (0, 1, 2: none, one, two or more live orders),
 *                with first_on '' and day '' (accounts), or day = a live order's ordered_on
 *                (revenue, its amount) or a live effective activity's UTC+8 day (touches, 1).
 *                An account of bucket 2 contributes the same rows a second time under bucket 3
 *                and its first order's day (first_on), so a report splits bucket 2 at the
 *                beginner cut-off (today - 180 days, which moves daily) by reading only the
 *                bucket 3 rows from the cut-off on.
 *
 * Each account keeps the facts the key needs (order_count, first_order_on: its live orders),
 * recomputed by the triggers on orders. A change of an account's key (owner, archiving, bucket,
 * or first order day while in bucket 2) moves its whole contribution: the trigger on accounts
 * subtracts it as the records now stand under the old key and adds it under the new. So that
 * this is exact, the triggers on orders first move the order's own contribution under the key
 * the account has now, then recompute the account's facts. Activities and orders are never
 * deleted (archived), nor are accounts, so there are no delete triggers. Every sum is kept per
 * owner, for the owner's team (owner -1 - team_id, moved by a user's team change as migration
 * 15's) and for the whole company (owner -1); an opportunity without owner counts under 0, an
 * account without owner (in the pool) nowhere, as the reports read them. */
#define AGG_CLOSE(X, S) \
	"INSERT INTO agg_close (owner_id, day, stage, cents, n, amount) SELECT " KEY3(X) ", " X \
	".expected_close_on, " X ".stage, " X ".amount % 100, " S ", " S " * " X ".amount FROM " \
	KEYS3(X) " WHERE " X ".archived_at IS NULL" KW3 " AND " X ".stage NOT IN ('won', 'lost')" \
	"  AND " X ".expected_close_on IS NOT NULL ON CONFLICT (owner_id, day, stage, cents) DO" \
	"  UPDATE SET n = agg_close.n + excluded.n, amount = agg_close.amount + excluded.amount;"
#define CLOSE_CHANGED \
	"OLD.owner_id IS DISTINCT FROM NEW.owner_id OR OLD.stage IS DISTINCT FROM NEW.stage OR" \
	"  OLD.amount IS DISTINCT FROM NEW.amount OR OLD.archived_at IS DISTINCT FROM" \
	"  NEW.archived_at OR OLD.expected_close_on IS DISTINCT FROM NEW.expected_close_on"
/* v.s = 0: the row of account T's bucket; v.s = 1: bucket 3 by its first order day */
#define SEG_SPLIT "(SELECT 0 AS s UNION ALL SELECT 1) v"
#define SEG_BUCKET(T) "CASE WHEN v.s = 1 THEN 3 WHEN " T ".order_count >= 2 THEN 2 ELSE " T \
			  ".order_count END"
#define SEG_FIRST(T) "CASE v.s WHEN 1 THEN " T ".first_order_on ELSE '' END"
#define SEG_KEY(T) KEY3(T) ", " SEG_BUCKET(T) ", " SEG_FIRST(T)
#define SEG_IN(T) T ".archived_at IS NULL AND " T ".owner_id IS NOT NULL AND (v.s = 0 OR " T \
		  ".order_count >= 2)"
/* the rows account T contributes to: its owner's, its owner's team's, the company's (w.r),
 * each for its bucket and (two or more orders) bucket 3 (v.s) */
#define SEG_KEYS(T) KEYS3(T) " CROSS JOIN " SEG_SPLIT " WHERE " SEG_IN(T) KW3
#define SEG_INTO "INSERT INTO agg_segments (owner_id, bucket, first_on, day, accounts, revenue," \
		 "  touches) SELECT "
#define SEG_UPSERT " ON CONFLICT (owner_id, bucket, first_on, day) DO UPDATE SET accounts =" \
		   "  agg_segments.accounts + excluded.accounts, revenue = agg_segments.revenue +" \
		   "  excluded.revenue, touches = agg_segments.touches + excluded.touches;"
/* add (S = "1") or subtract (S = "-1") account row T itself, its live orders' revenue and its
 * live effective activities' touches */
#define SEG_ACCOUNT(T, S) \
	SEG_INTO SEG_KEY(T) ", '', " S ", 0, 0 FROM " SEG_KEYS(T) SEG_UPSERT
#define SEG_ACCOUNT_ALL(T, S) SEG_ACCOUNT(T, S) \
	SEG_INTO SEG_KEY(T) ", o.ordered_on, 0, " S " * sum(o.amount), 0 FROM orders o CROSS JOIN " \
	SEG_KEYS(T) " AND o.account_id = " T ".id AND o.archived_at IS NULL GROUP BY 1, 2, 3, 4" \
	SEG_UPSERT \
	SEG_INTO SEG_KEY(T) ", " DAY8("a.occurred_at") ", 0, 0, " S " * count(*) FROM activities a" \
	"  CROSS JOIN " SEG_KEYS(T) " AND a.account_id = " T ".id AND a.archived_at IS NULL AND" \
	"  a.effective = 1 GROUP BY 1, 2, 3, 4" SEG_UPSERT
/* add or subtract order row O (activity row A) under its account's key as it stands */
#define SEG_ORDER(O, S) \
	SEG_INTO SEG_KEY("t") ", " O ".ordered_on, 0, " S " * " O ".amount, 0 FROM accounts t" \
	"  CROSS JOIN " SEG_KEYS("t") " AND t.id = " O ".account_id AND " O ".archived_at IS NULL" \
	SEG_UPSERT
#define SEG_TOUCH(A, S) \
	SEG_INTO SEG_KEY("t") ", " DAY8(A ".occurred_at") ", 0, 0, " S " FROM accounts t CROSS JOIN " \
	SEG_KEYS("t") " AND t.id = " A ".account_id AND " A ".archived_at IS NULL AND " A \
	".effective = 1" SEG_UPSERT
/* The migration's fill, one GROUP BY per table over the records (set-based: 5 minutes at full
 * scale), the company's and the teams' rows then summed from the owners' */
#define CLOSE_FILL \
	"INSERT INTO agg_close SELECT " OWNER("o") ", o.expected_close_on, o.stage, o.amount % 100," \
	"  count(*), sum(o.amount) FROM opportunities o WHERE o.archived_at IS NULL AND o.stage NOT" \
	"  IN ('won', 'lost') AND o.expected_close_on IS NOT NULL GROUP BY 1, 2, 3, 4;" \
	"INSERT INTO agg_close SELECT -1, day, stage, cents, sum(n), sum(amount) FROM agg_close" \
	"  GROUP BY day, stage, cents;" \
	"INSERT INTO agg_close SELECT -1 - u.team_id, a.day, a.stage, a.cents, sum(a.n)," \
	"  sum(a.amount) FROM agg_close a JOIN users u ON u.id = a.owner_id WHERE a.owner_id > 0 AND" \
	"  u.team_id IS NOT NULL GROUP BY 1, 2, 3, 4;"
#define SEG_FILL \
	"INSERT INTO agg_segments SELECT owner_id, bucket, first_on, day, sum(accounts), sum(revenue)," \
	"  sum(touches) FROM (SELECT t.owner_id, " SEG_BUCKET("t") " AS bucket, " SEG_FIRST("t") \
	"  AS first_on, '' AS day, 1 AS accounts, 0 AS revenue, 0 AS touches FROM accounts t CROSS" \
	"  JOIN " SEG_SPLIT " WHERE " SEG_IN("t") " UNION ALL SELECT t.owner_id, " SEG_BUCKET("t") \
	", " SEG_FIRST("t") ", o.ordered_on, 0, o.amount, 0 FROM orders o JOIN accounts t ON t.id =" \
	"  o.account_id CROSS JOIN " SEG_SPLIT " WHERE o.archived_at IS NULL AND " SEG_IN("t") \
	"  UNION ALL SELECT t.owner_id, " SEG_BUCKET("t") ", " SEG_FIRST("t") ", " \
	DAY8("a.occurred_at") ", 0, 0, 1 FROM activities a JOIN accounts t ON t.id = a.account_id" \
	"  CROSS JOIN " SEG_SPLIT " WHERE a.archived_at IS NULL AND a.effective = 1 AND " \
	SEG_IN("t") ") u GROUP BY 1, 2, 3, 4;" \
	"INSERT INTO agg_segments SELECT -1, bucket, first_on, day, sum(accounts), sum(revenue)," \
	"  sum(touches) FROM agg_segments GROUP BY bucket, first_on, day;" \
	"INSERT INTO agg_segments SELECT -1 - u.team_id, a.bucket, a.first_on, a.day, sum(a.accounts)," \
	"  sum(a.revenue), sum(a.touches) FROM agg_segments a JOIN users u ON u.id = a.owner_id" \
	"  WHERE a.owner_id > 0 AND u.team_id IS NOT NULL GROUP BY 1, 2, 3, 4;"
/* a user's team change moves their rows from the old team's key to the new one's (MOVE_TEAM2:
 * migration 15's, the including file's) */
#define SEG_MOVE_TEAM \
	MOVE_TEAM2("agg_close", "day, stage, cents", "-n, -amount", "n, amount", \
		   "n = agg_close.n + excluded.n, amount = agg_close.amount + excluded.amount") \
	MOVE_TEAM2("agg_segments", "bucket, first_on, day", "-accounts, -revenue, -touches", \
		   "accounts, revenue, touches", "accounts = agg_segments.accounts +" \
		   " excluded.accounts, revenue = agg_segments.revenue + excluded.revenue, touches =" \
		   " agg_segments.touches + excluded.touches")
/* the changes of an account that change its key */
#define SEG_CHANGED \
	"OLD.owner_id IS DISTINCT FROM NEW.owner_id OR (OLD.archived_at IS NULL) <> (NEW.archived_at" \
	"  IS NULL) OR (OLD.order_count >= 2) <> (NEW.order_count >= 2) OR (NEW.order_count < 2 AND" \
	"  OLD.order_count <> NEW.order_count) OR (NEW.order_count >= 2 AND OLD.first_order_on IS" \
	"  DISTINCT FROM NEW.first_order_on)"
/* Migration 18: the activity figures' maintained tables (sqlite_schema.c says what each holds),
 * one SQL for both stores. The including file defines DAY8(x), the UTC+8 day of instant text x,
 * and BYTES, the byte-order collation min/max of instants take (nothing on SQLite, COLLATE "C"
 * on PostgreSQL). Each contribution goes to two rows: w.r = 0 the user's (0 = no user), w.r = 1
 * the company's (-1). */
#define TOUCH_KEYS "(SELECT 0 AS r UNION ALL SELECT 1) w"
#define TOUCH_KEY(X) "CASE w.r WHEN 1 THEN -1 ELSE COALESCE(" X ".user_id, 0) END"
/* add (S = "1") or subtract (S = "-1") activity row X's count to its day, and if it is
 * effective, to its day and channel */
#define TOUCH_DAY(X, S) \
	"INSERT INTO agg_touch_day (user_id, day, n, eff) SELECT " TOUCH_KEY(X) ", " \
	DAY8(X ".occurred_at") ", " S ", " S " * " X ".effective FROM " TOUCH_KEYS " WHERE " X \
	".archived_at IS NULL ON CONFLICT (user_id, day) DO UPDATE SET n = agg_touch_day.n +" \
	"  excluded.n, eff = agg_touch_day.eff + excluded.eff;" \
	"INSERT INTO agg_touch_channel (user_id, day, channel, n) SELECT " TOUCH_KEY(X) ", " \
	DAY8(X ".occurred_at") ", " X ".channel, " S " FROM " TOUCH_KEYS " WHERE " X \
	".archived_at IS NULL AND " X ".effective = 1 ON CONFLICT (user_id, day, channel) DO" \
	"  UPDATE SET n = agg_touch_channel.n + excluded.n;"
/* add (S = "1") or subtract (S = "-1") account A's last touch to the company's count of
 * accounts by the day of their last touch (its pair -1's last_at) */
#define TOUCH_LAST(A, S) \
	"INSERT INTO agg_touch_last (day, n) SELECT " DAY8("t.last_at") ", " S " FROM touch_pairs t" \
	"  WHERE t.user_id = -1 AND t.account_id = " A " ON CONFLICT (day) DO UPDATE SET n =" \
	"  agg_touch_last.n + excluded.n;"
/* a new live effective activity X moves its pairs' last touch forward (or starts them), and
 * their first touch back if it is earlier (rare: an activity logged after the fact); the first
 * touch is set apart so that the common case leaves touch_pairs_first alone. The account's last
 * touch moves from its old day to X's day first. */
#define TOUCH_PAIRS_ADD(X) \
	"INSERT INTO agg_touch_last (day, n) SELECT " DAY8("t.last_at") ", -1 FROM touch_pairs t" \
	"  WHERE t.user_id = -1 AND t.account_id = " X ".account_id AND t.last_at < " X \
	".occurred_at AND " X ".effective = 1 AND " X ".archived_at IS NULL ON CONFLICT (day) DO" \
	"  UPDATE SET n = agg_touch_last.n + excluded.n;" \
	"INSERT INTO agg_touch_last (day, n) SELECT " DAY8(X ".occurred_at") ", 1 WHERE " X \
	".effective = 1 AND " X ".archived_at IS NULL AND NOT EXISTS (SELECT 1 FROM touch_pairs t" \
	"  WHERE t.user_id = -1 AND t.account_id = " X ".account_id AND t.last_at >= " X \
	".occurred_at) ON CONFLICT (day) DO UPDATE SET n = agg_touch_last.n + excluded.n;" \
	TOUCH_PAIRS_ONLY(X)
/* Migration 20: TOUCH_PAIRS_ADD with the account's last touch moved from its old day to X's in
 * one statement, which writes nothing when the day stays (the common case: an account touched
 * again the same day; two upserts that cancelled out before) */
#define TOUCH_PAIRS_ADD20(X) \
	"INSERT INTO agg_touch_last (day, n) SELECT d.day, sum(d.n) FROM (SELECT " \
	DAY8("t.last_at") " AS day, -1 AS n FROM touch_pairs t WHERE t.user_id = -1 AND" \
	"  t.account_id = " X ".account_id AND t.last_at < " X ".occurred_at UNION ALL SELECT " \
	DAY8(X ".occurred_at") ", 1 WHERE NOT EXISTS (SELECT 1 FROM touch_pairs t WHERE t.user_id" \
	"  = -1 AND t.account_id = " X ".account_id AND t.last_at >= " X ".occurred_at)) d WHERE " \
	X ".effective = 1 AND " X ".archived_at IS NULL GROUP BY d.day HAVING sum(d.n) <> 0 ON" \
	"  CONFLICT (day) DO UPDATE SET n = agg_touch_last.n + excluded.n;" \
	TOUCH_PAIRS_ONLY(X)
/* X's pairs (the user's and the company's): last touch forward, first touch back */
#define TOUCH_PAIRS_ONLY(X) \
	"INSERT INTO touch_pairs (user_id, account_id, first_at, last_at) SELECT " TOUCH_KEY(X) \
	", " X ".account_id, " X ".occurred_at, " X ".occurred_at FROM " TOUCH_KEYS " WHERE " X \
	".effective = 1 AND " X ".archived_at IS NULL ON CONFLICT (user_id, account_id) DO UPDATE" \
	"  SET last_at = excluded.last_at WHERE excluded.last_at > touch_pairs.last_at;" \
	"UPDATE touch_pairs SET first_at = " X ".occurred_at WHERE user_id IN (COALESCE(" X \
	".user_id, 0), -1) AND account_id = " X ".account_id AND first_at > " X ".occurred_at" \
	"  AND " X ".effective = 1 AND " X ".archived_at IS NULL;"
/* pair (U, account A) recomputed from its activities (WHO: the user's only): an update or a
 * delete may remove its first or last touch; rare, and an index seek on the account */
#define TOUCH_PAIR_REDO(U, A, WHO) \
	"DELETE FROM touch_pairs WHERE user_id = " U " AND account_id = " A ";" \
	"INSERT INTO touch_pairs (user_id, account_id, first_at, last_at) SELECT " U ", " A \
	", min(x.occurred_at" BYTES "), max(x.occurred_at" BYTES ") FROM activities x WHERE" \
	"  x.account_id = " A " AND x.effective = 1 AND x.archived_at IS NULL" WHO \
	"  GROUP BY x.account_id;"
#define TOUCH_PAIRS_REDO(X) \
	TOUCH_PAIR_REDO("COALESCE(" X ".user_id, 0)", X ".account_id", \
			"  AND COALESCE(x.user_id, 0) = COALESCE(" X ".user_id, 0)") \
	TOUCH_LAST(X ".account_id", "-1") TOUCH_PAIR_REDO("-1", X ".account_id", "") \
	TOUCH_LAST(X ".account_id", "1")
/* the tables filled from the records, set-based: one GROUP BY over the activities per table,
 * the company's rows summed from the users' rows; each opportunity's first win from its history;
 * the intervention list's index over the accounts' touch and won counts (migrations 6 and 16) */
#define TOUCH_BACKFILL \
	"INSERT INTO agg_touch_day SELECT COALESCE(user_id, 0), " DAY8("occurred_at") ", count(*)," \
	"  sum(effective) FROM activities WHERE archived_at IS NULL GROUP BY 1, 2;" \
	"INSERT INTO agg_touch_channel SELECT COALESCE(user_id, 0), " DAY8("occurred_at") \
	", channel, count(*) FROM activities WHERE archived_at IS NULL AND effective = 1" \
	"  GROUP BY 1, 2, 3;" \
	"INSERT INTO touch_pairs SELECT COALESCE(user_id, 0), account_id, min(occurred_at" BYTES \
	"), max(occurred_at" BYTES ") FROM activities WHERE archived_at IS NULL AND effective = 1" \
	"  GROUP BY 1, 2;" \
	"INSERT INTO agg_touch_day SELECT -1, day, sum(n), sum(eff) FROM agg_touch_day GROUP BY day;" \
	"INSERT INTO agg_touch_channel SELECT -1, day, channel, sum(n) FROM agg_touch_channel" \
	"  GROUP BY day, channel;" \
	"INSERT INTO touch_pairs SELECT -1, account_id, min(first_at), max(last_at) FROM" \
	"  touch_pairs GROUP BY account_id;" \
	"INSERT INTO agg_touch_last SELECT " DAY8("last_at") ", count(*) FROM touch_pairs WHERE" \
	"  user_id = -1 GROUP BY 1;" \
	"CREATE INDEX touch_pairs_first ON touch_pairs(user_id, first_at);" \
	"CREATE INDEX activities_touch_user ON activities(user_id, occurred_at, account_id," \
	"  effective, archived_at) WHERE effective = 1 AND archived_at IS NULL;" \
	"UPDATE opportunities SET first_won_at = h.at FROM (SELECT opportunity_id, min(at" BYTES \
	") AS at FROM stage_history WHERE to_stage = 'won' GROUP BY opportunity_id) h WHERE" \
	"  h.opportunity_id = opportunities.id;" \
	"CREATE INDEX opportunities_first_won ON opportunities(owner_id, first_won_at) WHERE" \
	"  archived_at IS NULL AND first_won_at IS NOT NULL;" \
	"CREATE INDEX accounts_owner_unwon ON accounts(owner_id, touch_count) WHERE archived_at IS" \
	"  NULL AND won_opps = 0;"

/* Migration 19: the funnel's period sums by month and by year beside those by day (issue 9). A
 * period of the funnel read a row per key, day and stage of agg_closed, agg_reach and agg_stays:
 * with years of history a department's funnel over this year read ≈ 58,000 rows. Each table
 * gets two twins, by month (T_m, key 'YYYY-MM') and by year (T_y, 'YYYY'), kept by the day
 * table's own triggers (whatever changes a day row changes its month's and year's rows by the
 * same amounts; day rows are only inserted and their sums updated, never re-keyed nor deleted).
 * A period is read as a few signed ranges of years, months and days (sqlbuild.c,
 * cover_range): this year so far is this year's row less the days after today (none). */
#define TWIN_FILL(T, SFX, BCOL, LEN, K, COLS, SUMMED) \
	"INSERT INTO " T SFX " (owner_id, " BCOL ", " K ", " COLS ") SELECT owner_id," \
	"  substr(day, 1, " LEN "), " K ", " SUMMED " FROM " T " GROUP BY 1, 2, 3;"
/* into twin T SFX (bucket column BCOL) the row VALUES; ADD the upsert's additions, columns
 * qualified by the table's name (PostgreSQL finds a bare one ambiguous with excluded's) */
#define TWIN_UPSERT(T, SFX, BCOL, K, SUMS, VALUES, ADD) \
	"INSERT INTO " T SFX " (owner_id, " BCOL ", " K ", " SUMS ") VALUES " VALUES \
	" ON CONFLICT (owner_id, " BCOL ", " K ") DO UPDATE SET " ADD ";"
#define TWIN_KEY(LEN) "(new.owner_id, substr(new.day, 1, " LEN "), "
#define CLOSED_T(SFX, BCOL, V) \
	TWIN_UPSERT("agg_closed", SFX, BCOL, "stage", "n, amount, cycle_ms", V, "n = agg_closed" \
	SFX ".n + excluded.n, amount = agg_closed" SFX ".amount + excluded.amount, cycle_ms =" \
	" agg_closed" SFX ".cycle_ms + excluded.cycle_ms")
#define REACH_T(SFX, BCOL, V) TWIN_UPSERT("agg_reach", SFX, BCOL, "rank", "n", V, \
	"n = agg_reach" SFX ".n + excluded.n")
#define STAYS_T(SFX, BCOL, V) TWIN_UPSERT("agg_stays", SFX, BCOL, "stage", "n, stay_ms", V, \
	"n = agg_stays" SFX ".n + excluded.n, stay_ms = agg_stays" SFX ".stay_ms + excluded.stay_ms")
/* a day row inserted (ADD) or its sums changed (DIFF), for the twin SFX */
#define CLOSED_ADD(SFX, BCOL, LEN) CLOSED_T(SFX, BCOL, TWIN_KEY(LEN) \
	"new.stage, new.n, new.amount, new.cycle_ms)")
#define CLOSED_DIFF(SFX, BCOL, LEN) CLOSED_T(SFX, BCOL, TWIN_KEY(LEN) \
	"new.stage, new.n - old.n, new.amount - old.amount, new.cycle_ms - old.cycle_ms)")
#define REACH_ADD(SFX, BCOL, LEN) REACH_T(SFX, BCOL, TWIN_KEY(LEN) "new.rank, new.n)")
#define REACH_DIFF(SFX, BCOL, LEN) REACH_T(SFX, BCOL, TWIN_KEY(LEN) "new.rank, new.n - old.n)")
#define STAYS_ADD(SFX, BCOL, LEN) STAYS_T(SFX, BCOL, TWIN_KEY(LEN) \
	"new.stage, new.n, new.stay_ms)")
#define STAYS_DIFF(SFX, BCOL, LEN) STAYS_T(SFX, BCOL, TWIN_KEY(LEN) \
	"new.stage, new.n - old.n, new.stay_ms - old.stay_ms)")
/* M for both twins */
#define TWINS(M) M("_m", "month", "7") M("_y", "year", "4")
#define FILL_BOTH(T, K, COLS, SUMMED) TWIN_FILL(T, "_m", "month", "7", K, COLS, SUMMED) \
	TWIN_FILL(T, "_y", "year", "4", K, COLS, SUMMED)
#define TWIN_FILLS \
	FILL_BOTH("agg_closed", "stage", "n, amount, cycle_ms", "sum(n), sum(amount), sum(cycle_ms)") \
	FILL_BOTH("agg_reach", "rank", "n", "sum(n)") \
	FILL_BOTH("agg_stays", "stage", "n, stay_ms", "sum(n), sum(stay_ms)")
/* the twins' tables; TYPE_INT, TYPE_TEXT and TAIL per dialect */
#define TWIN_TABLES(SFX, BCOL, TYPE_INT, TYPE_TEXT, TAIL) \
	"CREATE TABLE agg_closed" SFX " (owner_id " TYPE_INT " NOT NULL, " BCOL " " TYPE_TEXT \
	" NOT NULL, stage text NOT NULL, n " TYPE_INT " NOT NULL, amount " TYPE_INT " NOT NULL," \
	" cycle_ms " TYPE_INT " NOT NULL, PRIMARY KEY (owner_id, " BCOL ", stage))" TAIL ";" \
	"CREATE TABLE agg_reach" SFX " (owner_id " TYPE_INT " NOT NULL, " BCOL " " TYPE_TEXT \
	" NOT NULL, rank " TYPE_INT " NOT NULL, n " TYPE_INT " NOT NULL, PRIMARY KEY (owner_id, " \
	BCOL ", rank))" TAIL ";" \
	"CREATE TABLE agg_stays" SFX " (owner_id " TYPE_INT " NOT NULL, " BCOL " " TYPE_TEXT \
	" NOT NULL, stage text NOT NULL, n " TYPE_INT " NOT NULL, stay_ms " TYPE_INT " NOT NULL," \
	" PRIMARY KEY (owner_id, " BCOL ", stage))" TAIL ";"
#define TWIN_TABLES_BOTH(TYPE_INT, TYPE_TEXT, TAIL) \
	TWIN_TABLES("_m", "month", TYPE_INT, TYPE_TEXT, TAIL) \
	TWIN_TABLES("_y", "year", TYPE_INT, TYPE_TEXT, TAIL)
/* Migration 21: two derived reads of every presented record answered from an index alone
 * (archived_at is in them so that the read needs no table row; SQLite 3.40 counts a partial
 * index as covering only for its columns):
 * - an opportunity's quotes (its live quote and demo activities: the warnings, the stage rules);
 *   the index replaces migration 1's activities_opportunity_channel with archived_at added, so
 *   an activity's write keeps the same number of index entries; it is not partial, because
 *   since migration 20 it is also the only index by opportunity (the activities of a deal,
 *   archived ones included for admins);
 * - an account's live orders by product (the repurchase forecast; orders_account still serves
 *   the archived orders and the foreign key).
 * At full scale each presented opportunity read its quotes' activities (random table pages of
 * 10M rows), each account its orders. */
#define READ_INDEXES \
	"DROP INDEX activities_opportunity_channel;" \
	"CREATE INDEX activities_opportunity_quotes ON activities(opportunity_id, channel," \
	"  archived_at);" \
	"CREATE INDEX orders_account_live ON orders(account_id, product, ordered_on, archived_at)" \
	"  WHERE archived_at IS NULL;"

/* Migration 22: a team's funnel sums for its whole subtree under its one key (issue 9). Since
 * migration 15 the four funnel tables kept each sum under the owner's own team (-1 - team id),
 * and a department's funnel read its 11 teams' keys: four GROUP BYs over UNION ALLs of 11-key
 * ranges (≈ 0.29 ms of CPU a request at full scale). Now key -1 - T of agg_open, agg_closed,
 * agg_reach, agg_stays (and so of migration 19's twins, which follow the day tables) holds the
 * sums of every owner whose team is T or a team below T, and a team scope reads that one key,
 * as the company reads -1. (agg_close and agg_segments of migration 17 keep the owner's own
 * team: their reports still sum the subtree's keys.)
 *
 *   team_paths (team_id, ancestor_id): every team with itself and each team above it (the tree's
 *              closure), kept by the triggers on teams: a new team's paths are its parent's plus
 *              itself; a team moved to another parent leaves its old ancestors and joins the new
 *              ones with its whole subtree.
 *
 * Each contribution of an opportunity goes to its owner's key (0 for none), the company's (-1)
 * and the key of each team on the owner's path (TREE_KEYS: one users row and a range of
 * team_paths). A user's team change moves the user's rows from the keys of the old team's path
 * to those of the new one's; a team's parent change moves the team's key's rows (its subtree's
 * sums) from the keys of the old parent's path to those of the new parent's, before the paths
 * change (a parent's path does not contain the moved team). The including file defines OWNER,
 * DAY8 and the AGG_*_K upserts in its dialect; the upserts' additions are qualified by the
 * table's name, which both stores accept. */
#define TREE_KEYS(X) "(SELECT COALESCE(" X ".owner_id, 0) AS k UNION ALL SELECT -1 UNION ALL" \
	"  SELECT -1 - tp.ancestor_id FROM users tu JOIN team_paths tp ON tp.team_id = tu.team_id" \
	"  WHERE tu.id = " X ".owner_id) w"
/* the same for the opportunity of id ID (the trigger on stage_history) */
#define TREE_KEYS_OPP(ID) "(SELECT COALESCE(so.owner_id, 0) AS k FROM opportunities so WHERE" \
	"  so.id = " ID " UNION ALL SELECT -1 UNION ALL SELECT -1 - tp.ancestor_id FROM" \
	"  opportunities so JOIN users tu ON tu.id = so.owner_id JOIN team_paths tp ON tp.team_id =" \
	"  tu.team_id WHERE so.id = " ID ") w"
#define AGG_OPEN22(X, S) AGG_OPEN_K(X, S, TREE_KEYS(X), "w.k", "")
#define AGG_CLOSED22(X, S) AGG_CLOSED_K(X, S, TREE_KEYS(X), "w.k", "")
#define AGG_REACH22(X, S) AGG_REACH_K(X, S, TREE_KEYS(X), "w.k", "")
#define AGG_STAYS22(X, S) AGG_STAYS_K(X, S, TREE_KEYS(X), "w.k", "")
/* The columns each table's contribution of an opportunity depends on: migration 15's update
 * trigger subtracted and added all three tables' contributions whenever any of them changed, so
 * a stage move (stage, then reach by the history's trigger) wrote pairs of upserts that cancel
 * out for every key (agg_reach's and its twins' at the stage change, agg_open's at the reach
 * change); since keys are a path, each table's pair runs only when its own columns change. */
#define OPEN_CHANGED \
	"OLD.owner_id IS DISTINCT FROM NEW.owner_id OR OLD.stage IS DISTINCT FROM NEW.stage OR" \
	"  OLD.amount IS DISTINCT FROM NEW.amount OR OLD.archived_at IS DISTINCT FROM" \
	"  NEW.archived_at"
#define CLOSED_CHANGED \
	OPEN_CHANGED " OR OLD.created_at IS DISTINCT FROM NEW.created_at OR OLD.won_at IS" \
	"  DISTINCT FROM NEW.won_at OR OLD.lost_at IS DISTINCT FROM NEW.lost_at"
#define REACH_CHANGED \
	"OLD.owner_id IS DISTINCT FROM NEW.owner_id OR OLD.archived_at IS DISTINCT FROM" \
	"  NEW.archived_at OR OLD.created_at IS DISTINCT FROM NEW.created_at OR OLD.reach IS" \
	"  DISTINCT FROM NEW.reach"
/* M(table, key columns after the owner, sums negated, sums, sums summed, the upsert's
 * additions) for each of the four tables */
#define FUNNEL_TABLES(M) \
	M("agg_open", "stage, cents", "-n, -amount", "n, amount", "sum(n), sum(amount)", \
	  "n = agg_open.n + excluded.n, amount = agg_open.amount + excluded.amount") \
	M("agg_closed", "day, stage", "-n, -amount, -cycle_ms", "n, amount, cycle_ms", \
	  "sum(n), sum(amount), sum(cycle_ms)", "n = agg_closed.n + excluded.n, amount =" \
	  " agg_closed.amount + excluded.amount, cycle_ms = agg_closed.cycle_ms + excluded.cycle_ms") \
	M("agg_reach", "day, rank", "-n", "n", "sum(n)", "n = agg_reach.n + excluded.n") \
	M("agg_stays", "day, stage", "-n, -stay_ms", "n, stay_ms", "sum(n), sum(stay_ms)", \
	  "n = agg_stays.n + excluded.n, stay_ms = agg_stays.stay_ms + excluded.stay_ms")
/* add (VALS = POS) or subtract (VALS = NEG) the rows of key FROM_KEY of table T to the keys of
 * team TEAM's path (TEAM NULL: none) */
#define TREE_MOVE(T, C, VALS, POS, SETV, FROM_KEY, TEAM) \
	"INSERT INTO " T " (owner_id, " C ", " POS ") SELECT -1 - tp.ancestor_id, " C ", " VALS \
	" FROM " T " x JOIN team_paths tp ON tp.team_id = " TEAM " WHERE x.owner_id = " FROM_KEY \
	" ON CONFLICT (owner_id, " C ") DO UPDATE SET " SETV ";"
/* a user's team change (trigger on users; row NEW/OLD) */
#define TREE_MOVE_USER(T, C, NEG, POS, SETV) \
	TREE_MOVE(T, C, NEG, POS, SETV, "new.id", "old.team_id") \
	TREE_MOVE(T, C, POS, POS, SETV, "new.id", "new.team_id")
/* a team's parent change (trigger on teams): its key's rows are its subtree's sums */
#define TREE_MOVE_TEAM(T, C, NEG, POS, SETV) \
	TREE_MOVE(T, C, NEG, POS, SETV, "-1 - new.id", "old.parent_id") \
	TREE_MOVE(T, C, POS, POS, SETV, "-1 - new.id", "new.parent_id")
/* the moved team's subtree leaves the old parent's path and joins the new parent's */
#define TEAM_PATHS_MOVE \
	"DELETE FROM team_paths WHERE team_id IN (SELECT d.team_id FROM team_paths d WHERE" \
	"  d.ancestor_id = new.id) AND ancestor_id IN (SELECT a.ancestor_id FROM team_paths a WHERE" \
	"  a.team_id = old.parent_id);" \
	"INSERT INTO team_paths (team_id, ancestor_id) SELECT d.team_id, a.ancestor_id FROM" \
	"  team_paths d JOIN team_paths a ON a.team_id = new.parent_id WHERE d.ancestor_id = new.id;"
#define TEAM_PATHS_ADD \
	"INSERT INTO team_paths (team_id, ancestor_id) SELECT new.id, new.id UNION ALL SELECT" \
	"  new.id, a.ancestor_id FROM team_paths a WHERE a.team_id = new.parent_id;"
/* the table (TYPE_INT, TAIL per dialect) and its fill from the teams' tree */
#define TEAM_PATHS_TABLE(TYPE_INT, TAIL) \
	"CREATE TABLE team_paths (team_id " TYPE_INT " NOT NULL, ancestor_id " TYPE_INT " NOT NULL," \
	"  PRIMARY KEY (team_id, ancestor_id))" TAIL ";" \
	"CREATE INDEX team_paths_ancestor ON team_paths(ancestor_id, team_id);" \
	"WITH RECURSIVE p(team_id, ancestor_id) AS (SELECT id, id FROM teams UNION SELECT p.team_id," \
	"  t.parent_id FROM p JOIN teams t ON t.id = p.ancestor_id WHERE t.parent_id IS NOT NULL)" \
	"  INSERT INTO team_paths (team_id, ancestor_id) SELECT team_id, ancestor_id FROM p;"
/* the migration's fill: each team key's rows (its own owners' sums, migration 15) added to the
 * keys of the teams above it, one statement per table (its SELECT reads the rows as they were
 * before it; the day tables' triggers carry the sums to their twins) */
#define TREE_FILL(T, C, NEG, POS, SUMMED, SETV) \
	"INSERT INTO " T " (owner_id, " C ", " POS ") SELECT -1 - tp.ancestor_id, " C ", " SUMMED \
	" FROM " T " x JOIN team_paths tp ON x.owner_id = -1 - tp.team_id WHERE tp.ancestor_id <>" \
	"  tp.team_id GROUP BY tp.ancestor_id, " C " ON CONFLICT (owner_id, " C ") DO UPDATE SET " \
	SETV ";"
#define TREE_MOVE_USER6(T, C, NEG, POS, SUMMED, SETV) TREE_MOVE_USER(T, C, NEG, POS, SETV)
#define TREE_MOVE_TEAM6(T, C, NEG, POS, SUMMED, SETV) TREE_MOVE_TEAM(T, C, NEG, POS, SETV)

/* Migration 26: one index of the activities by account instead of two, and one by user
 * instead of two (issue 9: POST /activities). Each new activity took an entry in four indexes
 * keyed by its account or its user:
 * - activities_account (account_id, effective, occurred_at: the touch facts' counts, a pair's
 *   first and last touch, the segment rows' touches, the lists by account, the foreign key) and
 *   activities_account_latest (account_id, occurred_at, id, live only: an account's latest
 *   activity), each on a random page of its own (the account's), which the commit wrote;
 * - activities_user (user_id, account_id, effective, occurred_at: the sweep's last touch by the
 *   owner, the lists by user), on a random page of the user's range, and activities_touch_user
 *   (user_id, occurred_at, account_id, effective, archived_at, live effective only: the
 *   accounts a scope's users touched in a period), at the end of the user's range.
 * Now one by account in the latter's order with effective, archived_at and user_id after it:
 * the latest activity is the first live entry of the account's range read backwards; a count,
 * a first or last touch, the owner's last touch (the sweep) read the range (an account's few
 * activities) without the table. And one by user in activities_touch_user's order, every
 * activity in it: a new activity's entry goes at the end of its user's range, where the
 * batch's others go. Both hold archived activities too (the lists', the foreign key's). */
#define ACTIVITY_INDEXES26 \
	"DROP INDEX activities_account;" \
	"DROP INDEX activities_account_latest;" \
	"DROP INDEX activities_user;" \
	"DROP INDEX activities_touch_user;" \
	"CREATE INDEX activities_account_at ON activities(account_id, occurred_at, id, effective," \
	"  archived_at, user_id);" \
	"CREATE INDEX activities_user_at ON activities(user_id, occurred_at, account_id, effective," \
	"  archived_at);"

#endif
