"""54: the activity figures' maintained tables (issue 5, migration 18: agg_touch_day,
agg_touch_channel, touch_pairs and agg_touch_last, kept by triggers per user and for the whole
company; each opportunity's first_won_at) always equal the same figures recomputed from the
activities and the stage history, after a mixed workload: activities of several users (and of
none: a command-line import) logged in order and after the fact, effective or not, their channel,
time and effectiveness changed, archived and restored, and opportunities won, reopened and won
again, archived."""

import os
import tempfile
import unittest

from harness import ApiTestCase, db_rows, is_pg, run_cli, uniq

# Each pair: (what the triggers kept, the same from the records), as sets of rows, for the users
# ({u} = the user, 0 for none) and for the company ({u} = -1); daily rows kept with a zero count
# must have zero sums.
DAY8 = "date(%s, '+8 hours')"
DAY8_PG = "to_char(((%s)::timestamptz AT TIME ZONE 'UTC') + interval '8 hours', 'YYYY-MM-DD')"


def pairs(day8, first, last):
    return {
        "day": (
            "SELECT user_id, day, n, eff FROM agg_touch_day WHERE n <> 0",
            "SELECT {u}, " + day8 % "occurred_at" + ", count(*), sum(effective) FROM activities"
            " WHERE archived_at IS NULL GROUP BY 1, 2"),
        "channel": (
            "SELECT user_id, day, channel, n FROM agg_touch_channel WHERE n <> 0",
            "SELECT {u}, " + day8 % "occurred_at" + ", channel, count(*) FROM activities"
            " WHERE archived_at IS NULL AND effective = 1 GROUP BY 1, 2, 3"),
        "pairs": (
            "SELECT user_id, account_id, first_at, last_at FROM touch_pairs",
            "SELECT {u}, account_id, " + first + ", " + last + " FROM activities"
            " WHERE archived_at IS NULL AND effective = 1 GROUP BY 1, 2"),
    }


PAIRS = pairs(DAY8, "min(occurred_at)", "max(occurred_at)")
PAIRS_PG = pairs(DAY8_PG, 'min(occurred_at COLLATE "C")', 'max(occurred_at COLLATE "C")')
# the company's accounts by the day of their last touch
LAST = ("SELECT day, n FROM agg_touch_last WHERE n <> 0",
        "SELECT d, count(*) FROM (SELECT account_id, %s AS d FROM activities WHERE archived_at IS"
        " NULL AND effective = 1 GROUP BY account_id) w GROUP BY d")
ZERO_ROWS = ("SELECT count(*) FROM agg_touch_day WHERE n = 0 AND eff <> 0 OR n < 0 OR eff < 0",
             "SELECT count(*) FROM agg_touch_channel WHERE n < 0",
             "SELECT count(*) FROM agg_touch_last WHERE n < 0")
FIRST_WON = ("SELECT id, first_won_at FROM opportunities WHERE first_won_at IS NOT NULL",
             "SELECT opportunity_id, min(at) FROM stage_history WHERE to_stage = 'won'"
             " GROUP BY opportunity_id")


class TouchAggregatesTest(ApiTestCase):

    def check_all(self, label):
        db = self.server.db
        pg = is_pg(db)

        def rows(sql):   # as text, so both stores compare alike
            return sorted(tuple(str(v) for v in r) for r in db_rows(db, sql))
        for name, (kept, recomputed) in (PAIRS_PG if pg else PAIRS).items():
            got = rows(kept)
            want = sorted(rows(recomputed.format(u="COALESCE(user_id, 0)")) +
                          rows(recomputed.format(u="-1")))
            self.assertEqual(got, want, "%s: %s differs from the recomputation" % (label, name))
        last = LAST[1] % ((DAY8_PG % 'max(occurred_at COLLATE "C")') if pg else (DAY8 % "max(occurred_at)"))
        self.assertEqual(rows(LAST[0]), rows(last), "%s: agg_touch_last" % label)
        for sql in ZERO_ROWS:
            self.assertEqual(int(db_rows(db, sql)[0][0]), 0, "%s: %s" % (label, sql))
        self.assertEqual(rows(FIRST_WON[0]), rows(FIRST_WON[1]), "%s: first_won_at" % label)
        self.assertGreater(int(db_rows(db, "SELECT count(*) FROM activities")[0][0]), 0)

    def act(self, client, account, when, channel="phone", effective=True):
        body = {"account_id": account["id"], "channel": channel, "effective": effective,
                "occurred_at": when}
        r = client.post("activities", body)
        self.assertStatus(r, 201, "log %r" % (body,))
        return r.json

    def patch(self, client, a, **changes):
        r = client.patch("activities/%d" % a["id"], changes)
        self.assertStatus(r, 200, "change %d: %r" % (a["id"], changes))

    def test_mixed_workload(self):
        rep1, rep2, mgr = self.org.rep1, self.org.rep2, self.org.mgr
        a1 = rep1.post("accounts", {"name": uniq("TA1")}).json
        a2 = rep2.post("accounts", {"name": uniq("TA2")}).json
        # in order, then after the fact (an earlier first touch), two users on one account, a
        # day boundary of UTC+8 (16:00Z), ineffective ones
        x1 = self.act(rep1, a1, "2026-03-02T15:59:59.999Z")
        x2 = self.act(rep1, a1, "2026-03-02T16:00:00Z", "wechat")
        x3 = self.act(rep1, a1, "2026-01-10T08:00:00Z", "visit")
        x4 = self.act(rep1, a1, "2026-02-01T08:00:00Z", "phone", effective=False)
        x5 = self.act(mgr, a1, "2025-12-31T20:00:00Z", "meeting")
        x6 = self.act(rep2, a2, "2026-04-01T01:00:00Z", "email")
        x7 = self.act(rep2, a2, "2026-04-01T02:00:00Z", "email")
        x8 = self.act(mgr, a2, "2026-05-05T05:00:00Z", "quote", effective=False)
        self.check_all("logged")
        # the account's last touch again on its day (earlier, then later: migration 20 moves
        # agg_touch_last only when the day changes), then on the next day
        self.act(rep2, a2, "2026-04-01T00:30:00Z", "phone")
        self.act(rep2, a2, "2026-04-01T03:00:00Z", "phone")
        self.check_all("same day")
        self.act(mgr, a2, "2026-04-01T16:00:00Z", "sms")
        self.check_all("next day")

        # activities of no user: a command-line import runs as the system
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "acts.csv")
            with open(src, "w", encoding="utf-8") as f:
                f.write("account_id,channel,occurred_at,effective\n")
                f.write("%d,phone,2026-01-01T00:00:00Z,true\n" % a1["id"])
                f.write("%d,sms,2026-06-01T00:00:00Z,false\n" % a2["id"])
            r = run_cli(["import", "--db", self.server.db, "activities", src])
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.check_all("imported")

        # channel, time (later, earlier, across days), effectiveness both ways
        self.patch(rep1, x1, channel="demo")
        self.patch(rep1, x2, occurred_at="2025-11-01T00:00:00Z")
        self.patch(rep1, x3, occurred_at="2026-07-01T00:00:00Z", channel="sms")
        self.patch(rep1, x4, effective=True)
        self.patch(rep2, x6, effective=False)
        self.patch(self.admin, x8, effective=True, occurred_at="2026-04-01T00:30:00Z")
        self.check_all("changed")

        # archive (the first, the last and the only touch of a pair) and restore
        for client, x in ((rep1, x2), (rep1, x3), (mgr, x5), (rep2, x7)):
            self.assertStatus(client.delete("activities/%d" % x["id"]), 200)
        self.check_all("archived")
        self.assertStatus(self.admin.post("activities/%d/restore" % x5["id"]), 200)
        self.assertStatus(self.admin.post("activities/%d/restore" % x3["id"]), 200)
        self.check_all("restored")

        # the account to the pool and back: activities keep who logged them
        self.assertStatus(mgr.post("accounts/%d/park" % a1["id"], {"reason": "no budget"}), 200)
        self.assertStatus(rep2.post("accounts/%d/claim" % a1["id"]), 200)
        self.act(rep2, a1, "2026-08-01T00:00:00Z")
        self.check_all("parked and claimed")

        # opportunities: won, reopened, won again (the first win stays), archived
        o1 = rep2.post("opportunities", {"account_id": a2["id"], "name": uniq("TO"),
                                         "stage": "commit"}).json
        o2 = rep2.post("opportunities", {"account_id": a2["id"], "name": uniq("TO"),
                                         "stage": "won"}).json
        for client, stage in ((rep2, "won"), (mgr, "use"), (rep2, "won")):
            self.assertStatus(client.patch("opportunities/%d" % o1["id"], {"stage": stage}), 200)
        self.check_all("won")
        first = db_rows(self.server.db, "SELECT first_won_at, won_at FROM opportunities"
                        " WHERE id = %d" % o1["id"])[0]
        self.assertLess(first[0], first[1])
        self.assertStatus(mgr.delete("opportunities/%d" % o2["id"]), 200)
        self.check_all("opportunity archived")


if __name__ == "__main__":
    unittest.main()
