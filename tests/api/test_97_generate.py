"""97: `dealmap generate` (the benchmark's large company, issue 9) at a small scale: deals and their
stage moves are dated over the last two years, in order, never after the load, and the funnel's
maintained tables hold exactly the sums recomputed from the records they were generated into;
over that history, a funnel for any period (whole months read from the month twins of
migration 19, partial months from the day rows) answers exactly the day rows' sums.
The activities' bulk path (the store's bulk bracket: their insert triggers away, what they did
done set-wise at the end of each transaction) leaves exactly what the triggers leave row by row
(--no-bulk), table by table, zero rows included, over one transaction or several."""

import datetime
import os
import subprocess
import tempfile
import unittest

from harness import BIN, Server, db_rows, only_sqlite
from test_52_funnel_aggregates import kept_and_recomputed


@only_sqlite("generates into a SQLite file (the PostgreSQL path is make bench STORE=pg)")
class GenerateTest(unittest.TestCase):

    def test_deals_dated_over_two_years(self):
        d = tempfile.mkdtemp(prefix="dealmap-gen-")
        db = os.path.join(d, "g.db")
        r = subprocess.run([BIN, "generate", "--db", db, "--scale", "0.001", "--seed", "3"],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.999Z")

        first, last = db_rows(db, "SELECT min(created_at), max(created_at) FROM opportunities")[0]
        span = (datetime.date.fromisoformat(last[:10]) - datetime.date.fromisoformat(first[:10])).days
        self.assertGreater(span, 600, "opportunities created from %s to %s" % (first, last))
        self.assertLessEqual(last, now)
        moves = db_rows(db, "SELECT count(*), count(DISTINCT substr(at, 1, 10)), max(at) FROM stage_history")[0]
        self.assertGreater(moves[1], 300, "stage moves on %d days only" % moves[1])
        self.assertLessEqual(moves[2], now)
        # each deal's first history row is its creation, and its moves follow in time
        self.assertEqual(db_rows(db, "SELECT count(*) FROM opportunities o WHERE o.created_at <>"
                                     " (SELECT h.at FROM stage_history h WHERE h.opportunity_id ="
                                     " o.id ORDER BY h.id LIMIT 1)")[0][0], 0)
        self.assertEqual(db_rows(db, "SELECT count(*) FROM stage_history h JOIN stage_history p ON"
                                     " p.opportunity_id = h.opportunity_id AND p.id = (SELECT max(q.id)"
                                     " FROM stage_history q WHERE q.opportunity_id = h.opportunity_id"
                                     " AND q.id < h.id) WHERE p.at > h.at")[0][0], 0)
        # won and lost deals closed on many days: the funnel's closing sums spread with them
        self.assertGreater(db_rows(db, "SELECT count(*) FROM agg_closed WHERE owner_id = -1")[0][0], 100)
        for name, (got, want) in kept_and_recomputed(db).items():
            self.assertEqual(got, want, "agg_%s differs from the recomputation" % name)
        self.check_funnel_periods(db)

    def check_funnel_periods(self, db):
        """The funnel of the company and of department 1 over periods that cut months anywhere
        equals the sums of the day rows of agg_closed, agg_reach and agg_stays in the period."""
        srv = Server(db=db)
        self.addCleanup(srv.cleanup)
        srv.start(init=False)
        admin = srv.login("admin", "Bench-Password-2026")
        mgr = srv.login("mgr1", "Bench-Password-2026")
        team = mgr.get("me").json["team_id"]
        # the department's key holds its whole subtree's sums (migration 22: its ten groups'
        # reps and its own manager; kept_and_recomputed checks them against the records)
        subtree = [str(-1 - int(team))]
        self.assertEqual(len(db_rows(db, "SELECT id FROM teams WHERE parent_id = %d" % team)), 10)
        today = datetime.date.today()
        y = today.year - 1
        periods = [("%d-01-01" % y, "%d-12-31" % y), ("%d-03-15" % y, "%d-06-10" % y),
                   ("%d-03-15" % y, "%d-03-20" % y), ("%d-12-20" % (y - 1), "%d-01-10" % y),
                   ("%d-02-01" % y, "%d-02-28" % y), ("%d-02-02" % y, "%d-03-31" % y),
                   ("%d-11-30" % (y - 1), "%d-02-01" % y), (today.replace(day=1).isoformat(), None),
                   (None, None), ("%d-01-01" % (y - 1), None), ("%d-06-15" % (y - 1), "%d-02-10" % y),
                   ("%d-01-02" % y, "%d-12-30" % y), ("%d-12-31" % (y - 1), "%d-01-01" % (y + 1)),
                   ("%d-03-03" % y, "%d-12-31" % (y + 1)), ("%d-02-28" % y, "%d-03-01" % y),
                   (today.isoformat(), today.isoformat())]
        for client, keys in ((admin, ["-1"]), (mgr, subtree)):
            for frm, to in periods:
                q = {"scope": "company" if keys == ["-1"] else "team:%d" % team}
                if frm:
                    q["from"] = frm
                if to:
                    q["to"] = to
                r = client.get("analytics/funnel", query=q)
                self.assertEqual(r.status, 200, r.body)
                f = r.json
                d0, d1 = f["from"], f["to"]
                where = "owner_id IN (%s) AND day >= '%s' AND day <= '%s'" % (",".join(keys), d0, d1)

                def total(sql):
                    return int(db_rows(db, sql % where)[0][0] or 0)
                label = "%s %s..%s" % (q["scope"], d0, d1)
                for st in ("won", "lost"):
                    self.assertEqual(f[st]["count"], total(
                        "SELECT sum(n) FROM agg_closed WHERE %%s AND stage = '%s'" % st), label)
                    self.assertEqual(f[st]["amount"], total(
                        "SELECT sum(amount) FROM agg_closed WHERE %%s AND stage = '%s'" % st), label)
                for k, c in enumerate(f["conversion"], 1):
                    self.assertEqual(c["reached_from"], total(
                        "SELECT sum(n) FROM agg_reach WHERE %%s AND rank >= %d" % k), label)
                for s in f["avg_days_in_stage"]:
                    self.assertEqual(s["stays"], total(
                        "SELECT sum(n) FROM agg_stays WHERE %%s AND stage = '%s'" % s["stage"]), label)
            self.assertGreater(f["conversion"][0]["reached_from"], 0)

    def test_bulk_activities_equal_triggers(self):
        d = tempfile.mkdtemp(prefix="dealmap-gen-")

        def gen(name, *extra):
            db = os.path.join(d, name)
            r = subprocess.run([BIN, "generate", "--db", db, "--scale", "0.001", "--seed", "5",
                                "--cache-mb", "64"] + list(extra),
                               capture_output=True, text=True, timeout=300)
            self.assertEqual(r.returncode, 0, r.stderr)
            return db
        ref = gen("triggers.db", "--no-bulk")
        # the rows of the activities and everything derived from them (the deals' dates depend
        # on the minute of the run: the funnel's tables are test_deals_dated_over_two_years')
        queries = {
            "activities": "SELECT id, account_id, user_id, opportunity_id, occurred_at, channel,"
                          " effective, next_touch_on, contact_ids, archived_at FROM activities",
            "accounts": "SELECT id, owner_id, touch_count, touched_at, latest_next_touch,"
                        " latest_contact_ids, open_opps, won_opps, order_count, first_order_on"
                        " FROM accounts",
            "agg_touch_day": "SELECT * FROM agg_touch_day",
            "agg_touch_channel": "SELECT * FROM agg_touch_channel",
            "touch_pairs": "SELECT * FROM touch_pairs",
            "agg_touch_last": "SELECT * FROM agg_touch_last",
            "agg_segments": "SELECT * FROM agg_segments",
        }
        want = {name: sorted(db_rows(ref, q), key=repr) for name, q in queries.items()}
        self.assertGreater(len(want["activities"]), 9000)
        self.assertGreater(len([r for r in want["agg_touch_last"] if r[1] == 0]), 0,
                           "the triggers leave rows at zero: the comparison must see them")
        triggers = "SELECT name FROM sqlite_schema WHERE type = 'trigger' ORDER BY name"
        for label, extra in (("one transaction", ()), ("transactions of 1,500 rows",
                                                          ("--batch", "1500"))):
            db = gen("bulk-%s.db" % len(extra), *extra)
            for name, q in queries.items():
                got = sorted(db_rows(db, q), key=repr)
                self.assertEqual(len(got), len(want[name]), "%s: %s" % (label, name))
                self.assertTrue(got == want[name], "%s: %s differs from the triggers'" % (label, name))
            self.assertEqual(db_rows(db, triggers), db_rows(ref, triggers), label)


if __name__ == "__main__":
    unittest.main()
