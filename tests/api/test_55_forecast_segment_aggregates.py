"""55: the forecast's and the segments' maintained aggregates (issue 5, migration 17: agg_close,
agg_segments, and the order facts on each account, kept by triggers per owner, per team and for
the whole company) always equal the same sums recomputed from the records, after a mixed workload through
the API: opportunities created, moved, re-dated, won and reopened, re-owned, archived and
restored; orders added (an account's first, second and later ones, recent and old), changed in
amount and day, archived and restored; activities logged, made ineffective, re-dated, archived
and restored; accounts parked, claimed, re-assigned, archived and restored; a rep moved to
another team and back."""

import datetime
import unittest

from harness import ApiTestCase, db_rows, is_pg, uniq

SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))


def day(offset):
    return (datetime.datetime.now(SHANGHAI).date() + datetime.timedelta(days=offset)).isoformat()


def instant(offset_days, hour):
    d = datetime.datetime.now(datetime.timezone.utc).date() + datetime.timedelta(days=offset_days)
    return "%sT%02d:30:00.000Z" % (d.isoformat(), hour)


# (what the triggers kept, the same sums from the records); {o} = the owner's key, {day8} the
# UTC+8 day of an instant in the store's SQL. Rows whose sums are all zero are left out on both
# sides (a kept row may fall back to zero).
CLOSE = (
    "SELECT owner_id, day, stage, cents, n, amount FROM agg_close WHERE n <> 0 OR amount <> 0",
    "SELECT {o}, expected_close_on, stage, amount % 100, count(*), sum(amount) FROM opportunities"
    " WHERE archived_at IS NULL AND stage NOT IN ('won', 'lost') AND expected_close_on IS NOT NULL"
    " GROUP BY 1, 2, 3, 4")
# An account's orders bucket and first order day from its orders (not from the facts the
# triggers keep on it), then its rows: itself, its live orders, its live effective activities.
SEGMENTS = (
    "SELECT owner_id, bucket, first_on, day, accounts, revenue, touches FROM agg_segments"
    " WHERE accounts <> 0 OR revenue <> 0 OR touches <> 0",
    "WITH f AS (SELECT t.id, t.owner_id, (SELECT count(*) FROM orders o WHERE o.account_id ="
    " t.id AND o.archived_at IS NULL) AS n, (SELECT min(o.ordered_on) FROM orders o WHERE"
    " o.account_id = t.id AND o.archived_at IS NULL) AS first FROM accounts t WHERE"
    " t.archived_at IS NULL AND t.owner_id IS NOT NULL),"
    " k AS (SELECT id, owner_id, CASE WHEN n >= 2 THEN 2 ELSE n END AS bucket, '' AS first_on"
    " FROM f UNION ALL SELECT id, owner_id, 3, first FROM f WHERE n >= 2),"
    " c AS (SELECT k.owner_id, k.bucket, k.first_on, '' AS day, 1 AS acc, 0 AS rev, 0 AS tch"
    " FROM k UNION ALL SELECT k.owner_id, k.bucket, k.first_on, o.ordered_on, 0, o.amount, 0"
    " FROM k JOIN orders o ON o.account_id = k.id WHERE o.archived_at IS NULL UNION ALL SELECT"
    " k.owner_id, k.bucket, k.first_on, {day8}, 0, 0, 1 FROM k JOIN activities a ON"
    " a.account_id = k.id WHERE a.archived_at IS NULL AND a.effective = 1)"
    " SELECT {o}, bucket, first_on, day, sum(acc), sum(rev), sum(tch) FROM c GROUP BY 1, 2, 3, 4"
    " HAVING sum(acc) <> 0 OR sum(rev) <> 0 OR sum(tch) <> 0")
FACTS = (
    "SELECT id, order_count, COALESCE(first_order_on, '') FROM accounts",
    "SELECT t.id, (SELECT count(*) FROM orders o WHERE o.account_id = t.id AND o.archived_at IS"
    " NULL), COALESCE((SELECT min(o.ordered_on) FROM orders o WHERE o.account_id = t.id AND"
    " o.archived_at IS NULL), '') FROM accounts t")
DAY8 = "date(a.occurred_at, '+8 hours')"
DAY8_PG = "to_char(((a.occurred_at)::timestamptz AT TIME ZONE 'UTC') + interval '8 hours', 'YYYY-MM-DD')"


class ForecastSegmentAggregatesTest(ApiTestCase):

    def check_all(self, label):
        db = self.server.db
        day8 = DAY8_PG if is_pg(db) else DAY8

        def rows(sql):   # as text, so both stores compare alike
            return sorted(tuple(str(v) for v in r) for r in db_rows(db, sql))
        team_of = {str(u): str(t) for u, t in db_rows(db, "SELECT id, team_id FROM users")}
        for name, (kept, recomputed), owner in (("agg_close", CLOSE, "COALESCE(owner_id, 0)"),
                                                ("agg_segments", SEGMENTS, "owner_id")):
            got = rows(kept)
            owners = rows(recomputed.format(o=owner, day8=day8))
            # the teams' rows: the owners' sums by the owner's team now, key -1 - team id (key
            # columns: the three after the owner; the rest are sums)
            teams = {}
            for r in owners:
                if team_of.get(r[0], "None") not in ("None", ""):
                    key = (str(-1 - int(team_of[r[0]])),) + r[1:4]
                    teams[key] = [a + int(b) for a, b in zip(teams.get(key, [0] * (len(r) - 4)), r[4:])]
            want = sorted(owners + rows(recomputed.format(o="-1", day8=day8)) +
                          [k + tuple(str(v) for v in sums) for k, sums in teams.items() if any(sums)])
            self.assertEqual(got, want, "%s: %s differs from the recomputation" % (label, name))
            self.assertTrue(got, "%s: %s is empty" % (label, name))
        self.assertEqual(rows(FACTS[0]), rows(FACTS[1]), "%s: the accounts' order facts" % label)

    def post(self, client, what, body):
        r = client.post(what, body)
        self.assertStatus(r, 201, "create %s %r" % (what, body))
        return r.json

    def patch(self, client, what, rec, body):
        r = client.patch("%s/%d" % (what, rec["id"]), body)
        self.assertStatus(r, 200, "patch %s %d %r" % (what, rec["id"], body))
        return r.json

    def archive(self, client, what, rec):
        self.assertStatus(client.delete("%s/%d" % (what, rec["id"])), 200)

    def restore(self, client, what, rec):
        self.assertStatus(client.post("%s/%d/restore" % (what, rec["id"])), 200)

    def order(self, client, acc, offset, amount):
        return self.post(client, "orders", {"account_id": acc["id"], "product": "Ink",
                                            "ordered_on": day(offset), "amount": amount})

    def touch(self, client, acc, offset, hour, effective=True):
        return self.post(client, "activities", {"account_id": acc["id"], "channel": "phone",
                                                "occurred_at": instant(offset, hour),
                                                "effective": effective})

    def test_mixed_workload(self):
        rep1, rep2, mgr = self.org.rep1, self.org.rep2, self.org.mgr
        a1 = self.post(rep1, "accounts", {"name": uniq("SA1")})
        a2 = self.post(rep1, "accounts", {"name": uniq("SA2")})
        a3 = self.post(rep1, "accounts", {"name": uniq("SA3")})
        b1 = self.post(rep2, "accounts", {"name": uniq("SB1")})

        # forecast: open deals with and without close days, then moved, re-dated, closed
        opp = {"stage": "interest"}
        o1 = self.post(rep1, "opportunities", dict(opp, account_id=a1["id"], name=uniq("SO"),
                                                   amount=123457, expected_close_on=day(20)))
        o2 = self.post(rep1, "opportunities", dict(opp, account_id=a1["id"], name=uniq("SO"),
                                                   amount=1050, expected_close_on=day(20)))
        o3 = self.post(rep2, "opportunities", dict(opp, account_id=b1["id"], name=uniq("SO"),
                                                   amount=77, expected_close_on=day(45)))
        o4 = self.post(rep2, "opportunities", dict(opp, account_id=b1["id"], name=uniq("SO"),
                                                   amount=500))
        self.check_all("opportunities created")
        self.patch(rep1, "opportunities", o1, {"stage": "design", "amount": 123499})
        self.patch(rep1, "opportunities", o2, {"expected_close_on": day(-3)})
        self.patch(rep2, "opportunities", o4, {"expected_close_on": day(70)})
        self.patch(rep2, "opportunities", o3, {"stage": "won"})
        self.check_all("opportunities moved")
        self.patch(mgr, "opportunities", o3, {"stage": "commit"})
        self.patch(mgr, "opportunities", o1, {"owner_id": rep2.id})
        self.patch(rep2, "opportunities", o4, {"expected_close_on": None})
        self.archive(mgr, "opportunities", o2)
        self.check_all("opportunities reopened, re-owned, archived")
        self.restore(self.admin, "opportunities", o2)
        self.check_all("opportunity restored")

        # touches before any order, ineffective ones, both edges of a UTC+8 day
        t1 = self.touch(rep1, a1, -5, 15)
        self.touch(rep1, a1, -5, 16)
        self.touch(rep1, a2, -1, 2, effective=False)
        t3 = self.touch(rep1, a3, -40, 9)
        self.touch(rep2, b1, -2, 23)
        self.check_all("touches of prospects")

        # orders: a1 an old first order, then a recent one (habitual); a2 two recent ones
        # (a recent beginner); b1 one (a beginner); a3 none
        r1 = self.order(rep1, a1, -400, 3000)
        self.check_all("a first order")
        self.order(rep1, a1, -10, 4000)
        r3 = self.order(rep1, a2, -30, 250)
        r4 = self.order(rep1, a2, -5, 999)
        self.order(rep2, b1, -2, 10)
        self.order(rep1, a1, -2, 1)
        self.check_all("orders")
        self.touch(rep1, a2, -3, 8)
        t6 = self.touch(rep1, a1, 0, 1)
        self.check_all("touches of buyers")

        # orders changed: amount, an earlier first day, archived (a2 back to one order), restored
        self.patch(rep1, "orders", r3, {"amount": 251})
        self.patch(rep1, "orders", r3, {"ordered_on": day(-300)})
        self.check_all("an order re-dated")
        self.archive(rep1, "orders", r4)
        self.check_all("an order archived")
        self.archive(rep1, "orders", r1)
        self.restore(self.admin, "orders", r4)
        self.check_all("orders archived and restored")
        self.restore(self.admin, "orders", r1)

        # activities changed: ineffective, re-dated across a day, archived, restored
        self.patch(rep1, "activities", t1, {"effective": False})
        self.patch(rep1, "activities", t6, {"occurred_at": instant(-60, 17)})
        self.archive(rep1, "activities", t3)
        self.check_all("activities changed")
        self.patch(rep1, "activities", t1, {"effective": True})
        self.restore(self.admin, "activities", t3)
        self.check_all("activities restored")

        # accounts: to the pool and claimed by another rep, re-assigned, archived and restored
        self.assertStatus(mgr.post("accounts/%d/park" % a1["id"], {"reason": "no budget this year"}), 200)
        self.check_all("parked")
        self.assertStatus(rep2.post("accounts/%d/claim" % a1["id"]), 200)
        self.check_all("claimed")
        self.patch(mgr, "accounts", a2, {"owner_id": rep2.id})
        self.check_all("re-assigned")
        self.archive(mgr, "accounts", a2)
        self.archive(mgr, "accounts", a3)
        self.check_all("accounts archived")
        self.order(rep2, a1, -1, 5)
        self.restore(self.admin, "accounts", a2)
        self.check_all("accounts restored")

        # rep2 (a1, a2, b1 and three deals) to the sibling team and back: the teams' rows follow,
        # and so do the team reports (the region's includes the branch; the sibling's is rep2's)
        def report(name, scope, client=None):
            r = (client or self.admin).get("analytics/" + name, query={
                "scope": scope, "from": day(-450), "to": day(200)})
            self.assertStatus(r, 200)
            return {k: v for k, v in r.json.items() if k != "scope"}
        branch, region, sibling = (self.org.teams[k] for k in ("branch", "region", "sibling"))
        before = [report(n, "team:%d" % region) for n in ("forecast", "segments")]
        self.assertStatus(self.admin.patch("users/%d" % rep2.id, {"team_id": sibling}), 200)
        self.check_all("rep2 to the sibling team")
        for n in ("forecast", "segments"):
            mine = report(n, "me", rep2)
            mine.pop("quotas", None)
            moved = report(n, "team:%d" % sibling)
            moved.pop("quotas", None)
            self.assertEqual(moved, mine, n)
        self.assertNotEqual([report(n, "team:%d" % region) for n in ("forecast", "segments")], before)
        self.assertStatus(self.admin.patch("users/%d" % rep2.id, {"team_id": branch}), 200)
        self.check_all("rep2 back")
        self.assertEqual([report(n, "team:%d" % region) for n in ("forecast", "segments")], before)


if __name__ == "__main__":
    unittest.main()
