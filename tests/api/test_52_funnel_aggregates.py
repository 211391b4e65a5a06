"""52: the funnel's maintained aggregates (issue 5 and 9, migration 11: agg_open, agg_closed,
agg_reach, agg_stays, kept by triggers per owner and for the whole company) always equal the same sums recomputed from the
opportunities and their stage history, after a mixed workload through the API: creation, stage
moves forward and back, won and lost, reopening and winning again, amount changes, owner
changes, archive and restore, and parking the account to the pool and claiming it back."""

import unittest

from harness import ApiTestCase, db_rows, is_pg, uniq

# Each pair: (what the triggers kept, the same sums from the records), as sets of rows with a
# non-zero count, for the owners ({o} = the owner, 0 for none) and for the company (owner -1,
# {o} = -1); rows kept with a zero count must have zero sums.
CLOSED_AT = ("(SELECT max(h.at) FROM stage_history h WHERE h.opportunity_id = o.id"
             " AND h.to_stage = o.stage)")
SPAN = "CAST(round((julianday(%s) - julianday(%s)) * 86400000) AS INTEGER)"
PAIRS = {
    "open": (
        "SELECT owner_id, stage, cents, n, amount FROM agg_open WHERE n <> 0",
        "SELECT {o}, stage, amount % 100, count(*), sum(amount) FROM opportunities"
        " WHERE archived_at IS NULL AND stage NOT IN ('won', 'lost') GROUP BY 1, 2, 3"),
    "closed": (
        "SELECT owner_id, day, stage, n, amount, cycle_ms FROM agg_closed WHERE n <> 0",
        "SELECT {o}, date(closed_at, '+8 hours'), stage, count(*), sum(amount),"
        " sum(" + SPAN % ("closed_at", "created_at") + ") FROM (SELECT o.owner_id, o.stage,"
        " o.amount, o.created_at, " + CLOSED_AT + " AS closed_at FROM opportunities o WHERE"
        " o.archived_at IS NULL AND o.stage IN ('won', 'lost')) WHERE closed_at IS NOT NULL"
        " GROUP BY 1, 2, 3"),
    "reach": (
        "SELECT owner_id, day, rank, n FROM agg_reach WHERE n <> 0",
        "SELECT {o}, day, r, count(*) FROM (SELECT o.owner_id, date(o.created_at, '+8 hours')"
        " AS day, max(CASE h.to_stage WHEN 'interest' THEN 1 WHEN 'brewing' THEN 2 WHEN 'design'"
        " THEN 3 WHEN 'compare' THEN 4 WHEN 'commit' THEN 5 WHEN 'use' THEN 6 WHEN 'won' THEN 7"
        " ELSE 0 END) AS r FROM opportunities o JOIN stage_history h ON h.opportunity_id = o.id"
        " WHERE o.archived_at IS NULL GROUP BY o.id) GROUP BY 1, 2, 3"),
    "stays": (
        "SELECT owner_id, day, stage, n, stay_ms FROM agg_stays WHERE n <> 0",
        "SELECT {o}, date(left_at, '+8 hours'), stage, count(*),"
        " sum(" + SPAN % ("left_at", "at") + ") FROM (SELECT o.owner_id, h.to_stage AS stage,"
        " h.at, lead(h.at) OVER (PARTITION BY h.opportunity_id ORDER BY h.id) AS left_at FROM"
        " stage_history h JOIN opportunities o ON o.id = h.opportunity_id WHERE o.archived_at IS"
        " NULL) WHERE left_at IS NOT NULL AND stage NOT IN ('won', 'lost') GROUP BY 1, 2, 3"),
}
# The same recomputation in PostgreSQL's spelling (the day of an instant in UTC+8, instants'
# differences in ms, aliased subqueries).
DAY8_PG = "to_char(((%s)::timestamptz AT TIME ZONE 'UTC') + interval '8 hours', 'YYYY-MM-DD')"
SPAN_PG = "CAST(round(extract(epoch from (%s)::timestamptz - (%s)::timestamptz) * 1000) AS bigint)"
PAIRS_PG = {
    "open": (PAIRS["open"][0], PAIRS["open"][1]),
    "closed": (
        PAIRS["closed"][0],
        "SELECT {o}, " + DAY8_PG % "closed_at" + ", stage, count(*), sum(amount),"
        " sum(" + SPAN_PG % ("closed_at", "created_at") + ") FROM (SELECT o.owner_id, o.stage,"
        " o.amount, o.created_at, " + CLOSED_AT + " AS closed_at FROM opportunities o WHERE"
        " o.archived_at IS NULL AND o.stage IN ('won', 'lost')) w WHERE closed_at IS NOT NULL"
        " GROUP BY 1, 2, 3"),
    "reach": (
        PAIRS["reach"][0],
        "SELECT {o}, day, r, count(*) FROM (SELECT o.owner_id, " + DAY8_PG % "o.created_at" +
        " AS day, max(CASE h.to_stage WHEN 'interest' THEN 1 WHEN 'brewing' THEN 2 WHEN 'design'"
        " THEN 3 WHEN 'compare' THEN 4 WHEN 'commit' THEN 5 WHEN 'use' THEN 6 WHEN 'won' THEN 7"
        " ELSE 0 END) AS r FROM opportunities o JOIN stage_history h ON h.opportunity_id = o.id"
        " WHERE o.archived_at IS NULL GROUP BY o.id) w GROUP BY 1, 2, 3"),
    "stays": (
        PAIRS["stays"][0],
        "SELECT {o}, " + DAY8_PG % "left_at" + ", stage, count(*),"
        " sum(" + SPAN_PG % ("left_at", "at") + ") FROM (SELECT o.owner_id, h.to_stage AS stage,"
        " h.at, lead(h.at) OVER (PARTITION BY h.opportunity_id ORDER BY h.id) AS left_at FROM"
        " stage_history h JOIN opportunities o ON o.id = h.opportunity_id WHERE o.archived_at IS"
        " NULL) w WHERE left_at IS NOT NULL AND stage NOT IN ('won', 'lost') GROUP BY 1, 2, 3"),
}
ZERO_ROWS = {
    "open": "SELECT count(*) FROM agg_open WHERE n = 0 AND amount <> 0",
    "closed": "SELECT count(*) FROM agg_closed WHERE n = 0 AND (amount <> 0 OR cycle_ms <> 0)",
    "reach": "SELECT count(*) FROM agg_reach WHERE n < 0",
    "stays": "SELECT count(*) FROM agg_stays WHERE n = 0 AND stay_ms <> 0",
}


def kept_and_recomputed(db):
    """For each funnel table: (its rows with a non-zero count, the same recomputed from the
    records for the owners, the company and the owners' teams), as sorted text tuples."""
    def rows(sql):   # as text, so both stores compare alike
        return sorted(tuple(str(v) for v in r) for r in db_rows(db, sql))
    team_of = {str(u): str(t) for u, t in db_rows(db, "SELECT id, team_id FROM users")}
    parent_of = {str(t): str(p) for t, p in db_rows(db, "SELECT id, parent_id FROM teams")}

    def path(team):   # the team and every team above it, from the teams' own parent_id
        while team not in ("None", ""):
            yield team
            team = parent_of[team]
    out = {}
    for name, (kept, recomputed) in (PAIRS_PG if is_pg(db) else PAIRS).items():
        owners = rows(recomputed.format(o="COALESCE(owner_id, 0)"))
        # the teams' rows (migrations 15, 22): the owners' sums under the key -1 - team id of
        # the owner's team now and of every team above it (key columns: the two after the
        # owner; the rest are sums)
        teams = {}
        for r in owners:
            for team in path(team_of.get(r[0], "None")):
                key = (str(-1 - int(team)),) + r[1:3]
                teams[key] = [a + int(b) for a, b in zip(teams.get(key, [0] * (len(r) - 3)), r[3:])]
        want = sorted(owners + rows(recomputed.format(o="-1")) +
                      [k + tuple(str(v) for v in sums) for k, sums in teams.items() if sums[0]])
        out[name] = (rows(kept), want)
    return out


class FunnelAggregatesTest(ApiTestCase):

    def check_all(self, label):
        db = self.server.db

        def rows(sql):   # as text, so both stores compare alike
            return sorted(tuple(str(v) for v in r) for r in db_rows(db, sql))
        for name, (got, want) in kept_and_recomputed(db).items():
            self.assertEqual(got, want, "%s: agg_%s differs from the recomputation" % (label, name))
            self.assertEqual(int(db_rows(db, ZERO_ROWS[name])[0][0]), 0, "%s: agg_%s" % (label, name))
        # each day table's twins (migration 19) hold its rows summed by month and by year
        for table, key, sums in (("closed", "stage", "n, amount, cycle_ms"), ("reach", "rank", "n"),
                                 ("stays", "stage", "n, stay_ms")):
            summed = ", ".join("sum(%s)" % c for c in sums.split(", "))
            for sfx, col, n in (("_m", "month", 7), ("_y", "year", 4)):
                self.assertEqual(
                    rows("SELECT owner_id, %s, %s, %s FROM agg_%s%s" % (col, key, sums, table, sfx)),
                    rows("SELECT owner_id, substr(day, 1, %d), %s, %s FROM agg_%s GROUP BY 1, 2, 3"
                         % (n, key, summed, table)),
                    "%s: agg_%s%s differs from agg_%s" % (label, table, sfx, table))
        # the teams' tree closure (migration 22): each team with itself and every team above it
        parent_of = dict(rows("SELECT id, parent_id FROM teams"))
        want = []
        for team in parent_of:
            up = team
            while up not in ("None", ""):
                want.append((team, up))
                up = parent_of[up]
        self.assertEqual(rows("SELECT team_id, ancestor_id FROM team_paths"), sorted(want),
                         "%s: team_paths differs from the teams' tree" % label)
        opps = int(db_rows(db, "SELECT count(*) FROM opportunities")[0][0])
        self.assertGreater(opps, 0)
        # each account's counts of live open and won opportunities (migration 16)
        kept = rows("SELECT id, open_opps, won_opps FROM accounts")
        want = rows("SELECT a.id, (SELECT count(*) FROM opportunities o WHERE o.account_id = a.id"
                    " AND o.archived_at IS NULL AND o.stage NOT IN ('won', 'lost')), (SELECT"
                    " count(*) FROM opportunities o WHERE o.account_id = a.id AND o.archived_at"
                    " IS NULL AND o.stage = 'won') FROM accounts a")
        self.assertEqual(kept, want, "%s: accounts.open_opps/won_opps differ" % label)
        self.assertTrue(any(r[1] != "0" for r in kept), label)

    def opp(self, client, account, stage="interest", amount=0, **kw):
        body = dict({"account_id": account["id"], "name": uniq("FA"), "stage": stage, "amount": amount}, **kw)
        r = client.post("opportunities", body)
        self.assertStatus(r, 201, "create %r" % (body,))
        return r.json

    def move(self, client, o, stage, **kw):
        body = dict({"stage": stage}, **kw)
        if stage == "lost":
            body.setdefault("lost_reason", "price")
        r = client.patch("opportunities/%d" % o["id"], body)
        self.assertStatus(r, 200, "move %d to %s" % (o["id"], stage))
        return r.json

    def test_mixed_workload(self):
        org, rep1, rep2, mgr = self.org, self.org.rep1, self.org.rep2, self.org.mgr
        a1 = rep1.post("accounts", {"name": uniq("FA1")}).json
        a2 = rep2.post("accounts", {"name": uniq("FA2")}).json
        o1 = self.opp(rep1, a1, amount=123457)
        o2 = self.opp(rep1, a1, stage="design", amount=999)
        o3 = self.opp(rep2, a2, amount=1050)
        o4 = self.opp(mgr, a2, stage="compare", amount=77, owner_id=rep2.id)
        o5 = self.opp(rep1, a1, amount=0)
        self.check_all("created")

        # forward, back, won, lost; amounts changed while open and after closing
        for s in ("brewing", "design", "compare"):
            self.move(rep1, o1, s)
        self.move(rep1, o1, "brewing")
        self.move(rep1, o1, "commit", amount=123499)
        self.move(rep1, o2, "won")
        self.move(rep2, o3, "lost")
        self.move(rep2, o4, "use")
        self.move(rep2, o4, "won")
        self.move(rep1, o5, "brewing", amount=5)
        self.check_all("moved")
        self.assertStatus(mgr.patch("opportunities/%d" % o2["id"], {"amount": 1001}), 200)
        self.assertStatus(rep1.patch("opportunities/%d" % o1["id"], {"amount": 40}), 200)
        self.check_all("amounts")

        # reopen a won and a lost deal (a manager), win again, lose again
        self.move(mgr, o2, "commit")
        self.move(mgr, o3, "interest")
        self.check_all("reopened")
        self.move(rep1, o2, "won")
        self.move(rep2, o3, "lost")
        self.check_all("closed again")

        # owner changes of opportunities, open and closed
        for o, to in ((o1, rep2), (o2, rep2), (o4, rep1), (o5, rep2)):
            r = mgr.patch("opportunities/%d" % o["id"], {"owner_id": to.id})
            self.assertStatus(r, 200, "owner of %d" % o["id"])
        self.check_all("owners")

        # archive and restore, and changes made in between
        for o in (o1, o2, o3):
            self.assertStatus(mgr.delete("opportunities/%d" % o["id"]), 200)
        self.check_all("archived")
        self.assertStatus(self.admin.patch("opportunities/%d" % o1["id"], {"stage": "compare"}), (200, 404, 409))
        self.assertStatus(self.admin.post("opportunities/%d/restore" % o1["id"]), 200)
        self.assertStatus(self.admin.post("opportunities/%d/restore" % o2["id"]), 200)
        self.check_all("restored")
        self.move(rep2, o1, "use")
        self.move(mgr, o2, "use")
        self.check_all("moved after restore")

        # the account to the pool and back: opportunities keep their owners
        r = mgr.post("accounts/%d/park" % a1["id"], {"reason": "no budget this year"})
        self.assertStatus(r, 200)
        self.check_all("parked")
        r = rep2.post("accounts/%d/claim" % a1["id"])
        self.assertStatus(r, 200)
        self.move(rep2, o5, "won")
        self.check_all("claimed")

        # a rep moves to another team and back: their sums move between the teams' rows, and
        # the team funnels follow (the region's includes the branch below it; the sibling not)
        def funnel(team):
            r = self.admin.get("analytics/funnel", query={"scope": "team:%d" % team, "from": "2020-01-01"})
            self.assertStatus(r, 200)
            return r.json
        branch, region, sibling = (org.teams[k] for k in ("branch", "region", "sibling"))
        before = funnel(region)
        self.assertStatus(self.admin.patch("users/%d" % rep2.id, {"team_id": sibling}), 200)
        self.check_all("rep2 to the sibling team")
        self.assertNotEqual(funnel(region), before)
        mine = rep2.get("analytics/funnel", query={"scope": "me", "from": "2020-01-01"})
        self.assertStatus(mine, 200)
        moved = funnel(sibling)   # rep3 and other_mgr own nothing: the sibling's funnel is rep2's
        for key in ("stages", "open", "won", "lost", "conversion", "avg_days_in_stage", "avg_cycle_days"):
            self.assertEqual(moved[key], mine.json[key], key)
        self.assertEqual(moved["won"], {"count": 1, "amount": 5})
        self.assertStatus(self.admin.patch("users/%d" % rep2.id, {"team_id": branch}), 200)
        self.check_all("rep2 back")
        self.assertEqual(funnel(region), before)

        # the branch (rep1, rep2) moves under the sibling team: its sums leave the region's key
        # and join the sibling's (migration 22); the region's funnel is its manager's, who owns
        # nothing; the sibling's is the branch's (rep3 and other_mgr own nothing)
        figures = ("stages", "open", "won", "lost", "conversion", "avg_days_in_stage", "avg_cycle_days")
        top = org.teams["company"]
        whole = funnel(top)
        branch_alone = funnel(branch)
        self.assertGreater(branch_alone["open"]["count"], 0)
        self.assertStatus(self.admin.patch("teams/%d" % branch, {"parent_id": sibling}), 200)
        self.check_all("branch under the sibling")
        self.assertEqual(funnel(region)["open"], {"count": 0, "amount": 0, "weighted_amount": 0})
        self.assertEqual(funnel(region)["won"]["count"], 0)
        under = funnel(sibling)
        for key in figures:
            self.assertEqual(under[key], branch_alone[key], key)
            self.assertEqual(funnel(top)[key], whole[key], key)
        # a team created below the moved branch is below the sibling too; a rep moved into it
        # counts for the new team, the branch, the sibling and the company
        r = self.admin.post("teams", {"name": uniq("Sub"), "parent_id": branch})
        self.assertStatus(r, 201)
        sub = r.json["id"]
        self.assertStatus(self.admin.patch("users/%d" % rep2.id, {"team_id": sub}), 200)
        self.check_all("rep2 into a team below the moved branch")
        self.assertEqual(funnel(sub)["won"], moved["won"])
        self.assertEqual(funnel(sibling), under)
        # the branch becomes a root of its own, then goes back under the region
        self.assertStatus(self.admin.patch("teams/%d" % branch, {"parent_id": None}), 200)
        self.check_all("branch at the root")
        self.assertEqual(funnel(sibling)["open"], {"count": 0, "amount": 0, "weighted_amount": 0})
        self.assertEqual(funnel(branch)["open"], branch_alone["open"])
        self.assertStatus(self.admin.patch("teams/%d" % branch, {"parent_id": region}), 200)
        self.assertStatus(self.admin.patch("users/%d" % rep2.id, {"team_id": branch}), 200)
        self.check_all("branch back under the region")
        self.assertEqual(funnel(region), before)


if __name__ == "__main__":
    unittest.main()
