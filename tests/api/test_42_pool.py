"""42: parking and the public pool (issue 4; SPEC 6): the twelve-touch rule, never-park
levels, parking to the manager, the pool list, claims (concurrent ones decided once), the
holding limit, assigning within one's teams, the ownership history, and the reclaim sweep
(over HTTP and from the command line)."""

import datetime
import unittest

from harness import PW, ApiTestCase, run_threads, run_cli, uniq

SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))
POOL_BASIC = {"id", "name", "industry", "importance", "touches", "last_touch_at", "pool_reason", "pooled_at"}
REASONS = {"assigned", "claimed", "parked", "reclaimed", "reassigned", "converted"}


def today():
    return datetime.datetime.now(SHANGHAI).date()


def day(offset):
    return (today() + datetime.timedelta(days=offset)).isoformat()


def at(offset):
    """Noon in Shanghai (04:00Z) of today + offset days."""
    return day(offset) + "T04:00:00.000Z"


def uid(v):
    return v["id"] if isinstance(v, dict) else v


class PoolTest(ApiTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tag = uniq("P").replace("-", "")
        # a partner, and a rep of their own for the holding limit
        r = cls.admin.post("users", {"username": "partner" + cls.tag, "role": "partner", "password": PW})
        assert r.status == 201, r
        cls.partner = cls.server.login("partner" + cls.tag, PW)
        r = cls.admin.post("users", {"username": "holder" + cls.tag, "display_name": "HOLDER", "role": "rep",
                                     "team_id": cls.org.teams["branch"], "password": PW})
        assert r.status == 201, r
        cls.holder = cls.server.login("holder" + cls.tag, PW)

    # -- helpers
    def url(self, acc, tail=""):
        return "accounts/%d%s" % (uid(acc), tail)

    def touches(self, client, account_id, n, effective=True, offset=-1):
        for _ in range(n):
            self.activity(client, account_id, occurred_at=at(offset), effective=effective)

    def fetch(self, acc):
        """The account as the admin sees it."""
        r = self.admin.get(self.url(acc))
        self.assertStatus(r, 200)
        return r.json

    def park(self, client, acc, reason="no budget this year", status=200):
        r = client.post(self.url(acc, "/park"), {"reason": reason})
        self.assertStatus(r, status, "park %d" % uid(acc))
        return r

    def owners(self, client, acc):
        r = client.get(self.url(acc, "/owners"))
        self.assertStatus(r, 200)
        self.assertIsInstance(r.json.get("items"), list, r)
        for e in r.json["items"]:
            for k in ("from", "to", "reason", "by", "at"):
                self.assertIn(k, e, e)
            self.assertIn(e["reason"], REASONS, e)
            self.assertTimestamp(e["at"])
        return r.json["items"]

    def changes(self, client, acc):
        return [(uid(e["from"]), uid(e["to"]), e["reason"]) for e in self.owners(client, acc)]

    def pool_ids(self, client):
        return self.ids(client.list_all("pool"))

    def pooled(self, **fields):
        """A fresh account in the pool (created by rep2, parked by the manager)."""
        fields.setdefault("name", uniq("Pooled"))
        a = self.account(self.org.rep2, **fields)
        self.park(self.org.mgr, a)
        return a

    def set(self, body):
        r = self.admin.patch("settings", body)
        self.assertStatus(r, 200, "PATCH /settings %r" % (body,))

    def sweep(self, as_of, client=None, status=200):
        r = (client or self.admin).post("admin/sweep", {"as_of": as_of})
        self.assertStatus(r, status)
        if status != 200:
            return r
        self.assertIsInstance(r.json.get("moved"), list, r)
        for m in r.json["moved"]:
            self.assertIsInstance(m.get("account_id", m.get("id")), int, m)
            why = m.get("why", m.get("reason"))
            self.assertIsInstance(why, str, "a moved account without why: %r" % m)
            self.assertTrue(why, m)
        return r.json

    def moved_ids(self, answer):
        return {m.get("account_id", m.get("id")) for m in answer["moved"]}

    # ------------------------------------------------------------------ the twelve-touch rule

    def test_park_refused_at_eleven_touches_allowed_at_twelve(self):
        rep = self.org.rep1
        acc = self.account(rep)
        self.touches(rep, acc["id"], 11)
        self.touches(rep, acc["id"], 4, effective=False)   # not touches
        r = rep.post(self.url(acc, "/park"), {"reason": "gave up"})
        err = self.assertError(r, 409, "twelve_touch_rule")
        self.assertEqual(err.get("touches"), 11, err)
        self.assertEqual(err.get("required"), 12, err)
        a = self.fetch(acc)
        self.assertEqual(a["owner_id"], rep.id, "a refused park moved the account")
        self.assertNotIn(acc["id"], self.pool_ids(self.org.rep2))
        # the twelfth effective touch
        self.touches(rep, acc["id"], 1)
        r = self.park(rep, acc, reason="twelve calls, no budget")
        if r.json and "owner_id" in r.json:
            self.assertIsNone(r.json["owner_id"], r)
        a = self.fetch(acc)
        self.assertIsNone(a["owner_id"])
        self.assertIsInstance(a.get("pool_reason"), str, a)
        self.assertTrue(a["pool_reason"], a)
        self.assertTimestamp(a.get("pooled_at"))
        self.assertEqual(a["touches"], 12, "parking lost the follow-ups")
        self.assertIn(acc["id"], self.pool_ids(self.org.rep2))
        self.assertError(rep.get(self.url(acc)), 404, "not_found")
        self.assertNotIn(acc["id"], self.ids(rep.list_all("accounts", {"name": acc["name"]})))
        h = self.owners(self.admin, acc)
        self.assertEqual((uid(h[-1]["from"]), uid(h[-1]["to"]), h[-1]["reason"], uid(h[-1]["by"])),
                         (rep.id, None, "parked", rep.id), h)

    def test_park_needs_a_reason(self):
        rep = self.org.rep1
        acc = self.account(rep)
        self.touches(rep, acc["id"], 12)
        self.assertError(rep.post(self.url(acc, "/park"), {}), 400, field="reason")
        self.assertError(rep.post(self.url(acc, "/park")), 400, field="reason")
        self.assertError(rep.post(self.url(acc, "/park"), {"reason": ""}), 400, field="reason")
        self.assertError(rep.post(self.url(acc, "/park"), {"reason": 12}), 400, field="reason")
        self.assertError(self.org.mgr.post(self.url(acc, "/park"), {}), 400, field="reason")
        self.assertEqual(self.fetch(acc)["owner_id"], rep.id)

    def test_park_min_touches_is_a_setting(self):
        rep = self.org.rep1
        acc = self.account(rep)
        self.touches(rep, acc["id"], 5)
        try:
            self.set({"park_min_touches": 6})
            err = self.assertError(rep.post(self.url(acc, "/park"), {"reason": "x"}), 409, "twelve_touch_rule")
            self.assertEqual((err.get("touches"), err.get("required")), (5, 6), err)
            self.touches(rep, acc["id"], 1)
            self.park(rep, acc)
        finally:
            self.set({"park_min_touches": 12})
        self.assertIsNone(self.fetch(acc)["owner_id"])

    def test_only_the_owner_side_parks(self):
        acc = self.account(self.org.rep1)
        self.touches(self.org.rep1, acc["id"], 12)
        for client in (self.org.rep2, self.org.rep3, self.org.other_mgr, self.partner):
            self.assertError(client.post(self.url(acc, "/park"), {"reason": "x"}), (403, 404))
        self.assertEqual(self.fetch(acc)["owner_id"], self.org.rep1.id)

    def test_a_manager_parks_at_any_time(self):
        acc = self.account(self.org.rep1)
        self.touches(self.org.rep1, acc["id"], 2)
        self.park(self.org.mgr, acc, reason="moved to another supplier")
        a = self.fetch(acc)
        self.assertIsNone(a["owner_id"])
        self.assertTrue(a.get("pool_reason"))
        h = self.owners(self.admin, acc)
        self.assertEqual((uid(h[-1]["from"]), uid(h[-1]["to"]), h[-1]["reason"], uid(h[-1]["by"])),
                         (self.org.rep1.id, None, "parked", self.org.mgr.id))
        # the admin too, without touches
        acc2 = self.account(self.org.rep3)
        self.park(self.admin, acc2)
        self.assertIsNone(self.fetch(acc2)["owner_id"])

    # ------------------------------------------------------------------ never park

    def test_vvip_is_never_parked_by_anyone(self):
        rep = self.org.rep1
        acc = self.account(rep, importance="VVIP")
        self.touches(rep, acc["id"], 13)
        for client in (rep, self.org.mgr, self.org.top, self.admin):
            self.assertError(client.post(self.url(acc, "/park"), {"reason": "x"}), 409, "never_park")
        a = self.fetch(acc)
        self.assertEqual(a["owner_id"], rep.id)
        self.assertNotIn("parked", [c[2] for c in self.changes(self.admin, acc)])

    def test_never_park_levels_are_a_setting(self):
        acc = self.account(self.org.rep1, importance="B")
        try:
            self.set({"never_park": ["VVIP", "B"]})
            self.assertError(self.org.mgr.post(self.url(acc, "/park"), {"reason": "x"}), 409, "never_park")
            self.assertError(self.admin.post(self.url(acc, "/park"), {"reason": "x"}), 409, "never_park")
        finally:
            self.set({"never_park": ["VVIP"]})
        self.park(self.org.mgr, acc)
        self.assertIsNone(self.fetch(acc)["owner_id"])

    # ------------------------------------------------------------------ park to the manager

    def test_park_to_manager_sends_it_to_the_reps_team_manager(self):
        rep, boss = self.org.rep3, self.org.other_mgr     # rep3's team "sibling" is managed by other_mgr
        acc = self.account(rep)
        self.touches(rep, acc["id"], 12)
        try:
            self.set({"park_to": "manager"})
            self.park(rep, acc)
        finally:
            self.set({"park_to": "pool"})
        a = self.fetch(acc)
        self.assertEqual(a["owner_id"], boss.id, "parked with park_to=manager: %r" % a)
        self.assertNotIn(acc["id"], self.pool_ids(self.org.rep1))
        self.assertStatus(boss.get(self.url(acc)), 200)
        self.assertIn(acc["id"], self.ids(boss.list_all("accounts", {"name": acc["name"]})))
        h = self.owners(self.admin, acc)
        self.assertEqual((uid(h[-1]["from"]), uid(h[-1]["to"]), h[-1]["reason"]), (rep.id, boss.id, "parked"))

    def test_park_to_manager_when_the_reps_team_has_none_goes_to_the_manager_above(self):
        # rep1's team "branch" has no manager; its parent "region" is managed by mgr
        rep = self.org.rep1
        acc = self.account(rep)
        self.touches(rep, acc["id"], 12)
        try:
            self.set({"park_to": "manager"})
            self.park(rep, acc)
        finally:
            self.set({"park_to": "pool"})
        self.assertEqual(self.fetch(acc)["owner_id"], self.org.mgr.id,
                         "park_to=manager for a rep whose own team has no manager: expected the manager "
                         "of the team above (mgr)")

    # ------------------------------------------------------------------ the pool list

    def test_pool_list_reps_see_the_basic_fields_managers_more(self):
        acc = self.account(self.org.rep2, name=uniq("Pool fields"), industry="printing", importance="A",
                           phone="+86 21 5555 0199", notes="secret pricing notes")
        self.touches(self.org.rep2, acc["id"], 3)
        self.contact(self.org.rep2, acc["id"], name="Secret Buyer")
        self.park(self.org.mgr, acc, reason="budget frozen")
        owned = self.account(self.org.rep2)
        for rep in (self.org.rep1, self.org.rep3, self.holder):
            items = rep.list_all("pool")
            mine = [i for i in items if i["id"] == acc["id"]]
            self.assertEqual(len(mine), 1, "pool account missing for a rep")
            self.assertNotIn(owned["id"], self.ids(items), "an owned account in the pool")
            for i in items:
                self.assertTrue(set(i) <= POOL_BASIC, "a rep sees more than the basic fields: %r"
                                % sorted(set(i) - POOL_BASIC))
            it = mine[0]
            self.assertEqual(set(it), POOL_BASIC, it)
            self.assertEqual((it["name"], it["industry"], it["importance"], it["touches"]),
                             (acc["name"], "printing", "A", 3))
            self.assertTrue(it["pool_reason"])
            self.assertTimestamp(it["pooled_at"])
            self.assertTimestamp(it["last_touch_at"])
            r = rep.get("pool", query={"limit": 500})
            self.assertNotIn(b"secret pricing notes", r.body)
            self.assertNotIn(b"5555 0199", r.body)
            # nor by id, before claiming
            r = rep.get(self.url(acc))
            self.assertNotIn(b"secret pricing notes", r.body, "a rep reads a pool account's notes by id")
            self.assertNotIn(b"Secret Buyer", rep.get("contacts", query={"account_id": acc["id"]}).body)
        for boss in (self.org.mgr, self.org.other_mgr, self.admin):
            mine = [i for i in boss.list_all("pool") if i["id"] == acc["id"]]
            self.assertEqual(len(mine), 1)
            self.assertTrue(set(mine[0]) > POOL_BASIC, "a manager sees no more than a rep: %r" % mine[0])
        self.assertError(self.partner.get("pool"), 403, "forbidden")
        # paging through the pool gives the same accounts
        for client in (self.org.rep1, self.org.mgr):
            self.assertEqual(self.ids(client.list_all("pool", limit=2)), self.ids(client.list_all("pool")))

    # ------------------------------------------------------------------ claims

    def test_claim_moves_the_account_and_everything_under_it(self):
        rep1, rep2 = self.org.rep1, self.org.rep2
        acc = self.account(rep1, name=uniq("Claimable"))
        ct = self.contact(rep1, acc["id"])
        opp = self.opportunity(rep1, acc["id"], stage="design")
        acts = [self.activity(rep1, acc["id"], occurred_at=at(-k)) for k in range(1, 13)]
        self.park(rep1, acc)
        self.assertIn(acc["id"], self.pool_ids(rep2))
        r = rep2.post(self.url(acc, "/claim"))
        self.assertStatus(r, 200)
        self.assertEqual(r.json["owner_id"], rep2.id)
        a = self.fetch(acc)
        self.assertEqual(a["owner_id"], rep2.id)
        self.assertIsNone(a.get("pool_reason"), "pool_reason kept after the claim")
        self.assertNotIn(acc["id"], self.pool_ids(rep2), "a claimed account still in the pool")
        self.assertIn(acc["id"], self.ids(rep2.list_all("accounts", {"name": acc["name"]})))
        self.assertStatus(rep2.get(self.url(acc)), 200)
        # the contacts, opportunities and activities stay with the account
        self.assertEqual(self.ids(rep2.list_all("contacts", {"account_id": acc["id"]})), [ct["id"]])
        self.assertEqual(self.ids(rep2.list_all("opportunities", {"account_id": acc["id"]})), [opp["id"]])
        self.assertEqual(sorted(self.ids(rep2.list_all("activities", {"account_id": acc["id"]}))),
                         sorted(x["id"] for x in acts))
        self.assertEqual(rep2.get(self.url(acc)).json["touches"], 12)
        # claimed already
        for client in (rep1, self.org.rep3, rep2):
            self.assertError(client.post(self.url(acc, "/claim")), 409, "already_claimed")
        self.assertEqual(self.fetch(acc)["owner_id"], rep2.id)
        # the history
        ch = self.changes(rep2, acc)
        if ch and ch[0][2] == "assigned":
            self.assertEqual(ch[0], (None, rep1.id, "assigned"))
            ch = ch[1:]
        self.assertEqual(ch, [(rep1.id, None, "parked"), (None, rep2.id, "claimed")])
        self.assertEqual(uid(self.owners(rep2, acc)[-1]["by"]), rep2.id)
        self.assertEqual(self.owners(self.org.mgr, acc), self.owners(rep2, acc))

    def test_partners_do_not_claim(self):
        acc = self.pooled()
        self.assertError(self.partner.post(self.url(acc, "/claim")), (403, 404))
        self.assertIsNone(self.fetch(acc)["owner_id"])

    def test_concurrent_claims_exactly_one_wins(self):
        o = self.org
        users = [o.rep1, o.rep2, o.rep3, o.mgr, o.other_mgr, o.top, o.rep1, o.rep2]
        for rnd in range(4):
            acc = self.pooled(name=uniq("Race %d" % rnd))

            def claim(i):
                c = self.server.client(token=users[i].token)
                try:
                    r = c.post(self.url(acc, "/claim"))
                    return r.status, (r.error or {}).get("code"), users[i].id
                finally:
                    c.close()
            results = run_threads(len(users), claim)
            errs = [x for x in results if isinstance(x, BaseException)]
            self.assertEqual(errs, [], "threads raised")
            wins = [x for x in results if x[0] == 200]
            self.assertEqual(len(wins), 1, "round %d: %r" % (rnd, results))
            losers = [x for x in results if x[0] != 200]
            self.assertEqual([(s, c) for s, c, _ in losers], [(409, "already_claimed")] * (len(users) - 1),
                             "round %d: %r" % (rnd, results))
            a = self.fetch(acc)
            self.assertEqual(a["owner_id"], wins[0][2], "the winner does not own it")
            claims = [c for c in self.changes(self.admin, acc) if c[2] == "claimed"]
            self.assertEqual(claims, [(None, wins[0][2], "claimed")], "history of round %d" % rnd)
        self.assertAlive()

    def test_holding_limit(self):
        h = self.holder
        own = [self.account(h) for _ in range(2)]
        held = len(h.list_all("accounts"))
        p1, p2, p3 = self.pooled(), self.pooled(), self.pooled()
        try:
            self.set({"holding_limit": held + 1})
            self.assertStatus(h.post(self.url(p1, "/claim")), 200)          # at the limit now
            r = h.post(self.url(p2, "/claim"))
            self.assertError(r, 409, "holding_limit")
            self.assertIsNone(self.fetch(p2)["owner_id"], "claimed beyond the limit")
            # archived accounts are not held
            self.assertStatus(h.delete(self.url(own[0])), 200)
            self.assertStatus(h.post(self.url(p2, "/claim")), 200)
            self.assertError(h.post(self.url(p3, "/claim")), 409, "holding_limit")
            # others are not limited by the holder's count
            self.assertStatus(self.org.rep3.post(self.url(p3, "/claim")), 200)
        finally:
            self.set({"holding_limit": 500})
        self.assertEqual(self.fetch(p2)["owner_id"], h.id)

    def test_concurrent_claims_never_exceed_the_holding_limit(self):
        h = self.holder
        owned = len(h.list_all("accounts"))
        pool = [self.pooled(name=uniq("Limit race")) for _ in range(6)]
        try:
            self.set({"holding_limit": owned + 2})

            def claim(i):
                c = self.server.client(token=h.token)
                try:
                    r = c.post(self.url(pool[i], "/claim"))
                    return r.status, (r.error or {}).get("code")
                finally:
                    c.close()
            results = run_threads(len(pool), claim)
        finally:
            self.set({"holding_limit": 500})
        self.assertEqual([x for x in results if isinstance(x, BaseException)], [])
        self.assertEqual(sorted(results), [(200, None)] * 2 + [(409, "holding_limit")] * 4, results)
        self.assertEqual(len(h.list_all("accounts")), owned + 2)

    # ------------------------------------------------------------------ assign

    def test_assign_within_the_managers_teams(self):
        o = self.org
        acc = self.pooled()
        # a manager: to someone in their teams
        r = o.mgr.post(self.url(acc, "/assign"), {"user_id": o.rep1.id})
        self.assertStatus(r, 200)
        self.assertEqual(self.fetch(acc)["owner_id"], o.rep1.id)
        self.assertIn(acc["id"], self.ids(o.rep1.list_all("accounts", {"name": acc["name"]})))
        # not to another team's rep
        self.assertError(o.mgr.post(self.url(acc, "/assign"), {"user_id": o.rep3.id}), 403)
        self.assertEqual(self.fetch(acc)["owner_id"], o.rep1.id)
        # reassign within the team
        self.assertStatus(o.mgr.post(self.url(acc, "/assign"), {"user_id": o.rep2.id}), 200)
        self.assertEqual(self.fetch(acc)["owner_id"], o.rep2.id)
        # a rep cannot hand their own account over
        self.assertError(o.rep2.post(self.url(acc, "/assign"), {"user_id": o.rep1.id}), 403, "forbidden")
        # another manager does not see it
        self.assertError(o.other_mgr.post(self.url(acc, "/assign"), {"user_id": o.rep3.id}), 404)
        self.assertEqual(self.fetch(acc)["owner_id"], o.rep2.id)
        # a pool account to another team's rep: refused for mgr
        acc2 = self.pooled()
        self.assertError(o.mgr.post(self.url(acc2, "/assign"), {"user_id": o.rep3.id}), 403)
        self.assertIsNone(self.fetch(acc2)["owner_id"])
        # the admin assigns anywhere
        self.assertStatus(self.admin.post(self.url(acc, "/assign"), {"user_id": o.rep3.id}), 200)
        self.assertEqual(self.fetch(acc)["owner_id"], o.rep3.id)
        ch = [c for c in self.changes(self.admin, acc)]
        self.assertEqual(ch[-3:], [(None, o.rep1.id, "assigned"), (o.rep1.id, o.rep2.id, "reassigned"),
                                   (o.rep2.id, o.rep3.id, "reassigned")])
        bys = [uid(e["by"]) for e in self.owners(self.admin, acc)[-3:]]
        self.assertEqual(bys, [o.mgr.id, o.mgr.id, self.admin.id])
        # bad input
        self.assertError(self.admin.post(self.url(acc, "/assign"), {}), 400, field="user_id")
        self.assertError(self.admin.post(self.url(acc, "/assign"), {"user_id": "x"}), 400, field="user_id")
        self.assertError(self.admin.post(self.url(acc, "/assign"), {"user_id": 987654}), (400, 404),
                         field="user_id")
        self.assertError(self.admin.post("accounts/987654/assign", {"user_id": o.rep1.id}), 404)

    def test_reps_do_not_assign(self):
        o = self.org
        own = self.account(o.rep2)
        self.assertError(o.rep2.post(self.url(own, "/assign"), {"user_id": o.rep1.id}), 403, "forbidden")
        self.assertEqual(self.fetch(own)["owner_id"], o.rep2.id)
        # nor a pool account (which every rep sees in /pool): the endpoint is not theirs
        acc = self.pooled()
        self.assertIn(acc["id"], self.pool_ids(o.rep1))
        for body in ({"user_id": o.rep1.id}, {"user_id": o.rep2.id}):
            self.assertError(o.rep1.post(self.url(acc, "/assign"), body), 403, "forbidden")
        self.assertIsNone(self.fetch(acc)["owner_id"])
        self.assertError(self.partner.post(self.url(own, "/assign"), {"user_id": o.rep1.id}), (403, 404))

    # ------------------------------------------------------------------ ownership history

    def test_owners_history_is_visible_with_the_account_only(self):
        acc = self.account(self.org.rep1)
        self.owners(self.org.rep1, acc)
        self.owners(self.org.mgr, acc)
        for client in (self.org.rep2, self.org.rep3, self.org.other_mgr, self.partner):
            self.assertError(client.get(self.url(acc, "/owners")), 404, "not_found")
        self.assertError(self.admin.get("accounts/987654/owners"), 404, "not_found")
        # a change of owner_id through PATCH is an owner change too
        before = self.changes(self.admin, acc)
        self.assertStatus(self.org.mgr.patch(self.url(acc), {"owner_id": self.org.rep2.id}), 200)
        after = self.changes(self.admin, acc)
        self.assertEqual(after[:len(before)], before)
        self.assertEqual(after[len(before):], [(self.org.rep1.id, self.org.rep2.id, "reassigned")])
        self.assertEqual(uid(self.owners(self.org.rep2, acc)[-1]["by"]), self.org.mgr.id)

    # ------------------------------------------------------------------ the reclaim sweep (run last)

    def _sweep_fixture(self, as_of_offset):
        """Accounts of rep1 for a sweep as of today + as_of_offset; returns (expected moved, expected kept)."""
        rep, boss = self.org.rep1, self.org.mgr
        ao = as_of_offset
        mk = lambda label, **kw: self.account(rep, name=uniq("Sweep %s" % label), **kw)
        moved, kept = {}, {}
        moved["untouched"] = mk("untouched")
        a = mk("touched in the past")
        self.touches(rep, a["id"], 3, offset=-30)
        self.touches(rep, a["id"], 1, offset=0)
        moved["past"] = a
        a = mk("manager touch only")
        self.activity(boss, a["id"], occurred_at=at(ao - 10))
        moved["manager only"] = a
        a = mk("non-effective")
        self.activity(rep, a["id"], occurred_at=at(ao - 10), effective=False)
        moved["non-effective"] = a
        a = mk("recent owner touch")
        self.activity(rep, a["id"], occurred_at=at(ao - 10))
        kept["recent"] = a
        a = mk("vvip", importance="VVIP")
        kept["vvip"] = a
        return moved, kept

    def _check_swept(self, moved, kept):
        for label, a in moved.items():
            rec = self.fetch(a)
            self.assertIsNone(rec["owner_id"], "%s: not moved" % label)
            self.assertTrue(rec.get("pool_reason"), label)
            ch = self.changes(self.admin, a)
            self.assertEqual(ch[-1], (self.org.rep1.id, None, "reclaimed"), label)
            self.assertEqual([c[2] for c in ch].count("reclaimed"), 1, "%s moved twice: %r" % (label, ch))
            self.assertError(self.org.rep1.get(self.url(a)), 404)
        for label, a in kept.items():
            self.assertEqual(self.fetch(a)["owner_id"], self.org.rep1.id, "%s: moved" % label)
            self.assertNotIn("reclaimed", [c[2] for c in self.changes(self.admin, a)], label)
        pool = set(self.pool_ids(self.org.rep2))
        self.assertTrue({a["id"] for a in moved.values()} <= pool)
        self.assertFalse({a["id"] for a in kept.values()} & pool)

    def test_z1_sweep_over_http_moves_exactly_the_neglected_accounts(self):
        as_of = day(100)
        moved, kept = self._sweep_fixture(100)
        mine = {a["id"] for a in list(moved.values()) + list(kept.values())}
        for client in (self.org.rep1, self.org.mgr, self.org.top):
            self.assertError(client.post("admin/sweep", {"as_of": as_of}), 403, "forbidden")
        self.assertEqual(self.fetch(moved["untouched"])["owner_id"], self.org.rep1.id, "a refused sweep ran")
        for bad in ("2026-02-30", "soon", 20270101):
            self.assertError(self.admin.post("admin/sweep", {"as_of": bad}), 400, field="as_of")
        ans = self.sweep(as_of)
        self.assertEqual(self.moved_ids(ans) & mine, {a["id"] for a in moved.values()},
                         "moved: %r" % ans["moved"])
        self._check_swept(moved, kept)
        again = self.sweep(as_of)
        self.assertEqual(again["moved"], [], "a second sweep moved accounts")
        self._check_swept(moved, kept)

    def test_z2_sweep_from_the_command_line(self):
        as_of = day(100)
        moved, kept = self._sweep_fixture(100)
        r = run_cli(["sweep", "--db", self.server.db, "--as-of", as_of])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self._check_swept(moved, kept)
        r = run_cli(["sweep", "--db", self.server.db, "--as-of", as_of])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self._check_swept(moved, kept)      # each still reclaimed exactly once
        self.assertEqual(self.sweep(as_of)["moved"], [], "the command line sweep left accounts behind")
        r = run_cli(["sweep", "--db", self.server.db, "--as-of", "2026-02-30"])
        self.assertNotEqual(r.returncode, 0, "a bad --as-of was accepted")
        self.assertAlive()

    def test_z3_sweep_reclaims_accounts_without_a_won_deal(self):
        rep = self.org.rep1
        mk = lambda label: self.account(rep, name=uniq("NoDeal %s" % label))
        idle, won, open_ = mk("idle"), mk("won"), mk("open")
        for a in (idle, won, open_):
            self.activity(rep, a["id"], occurred_at=at(50))     # followed up 10 days before as_of
        self.opportunity(rep, won["id"], stage="won")
        self.opportunity(rep, open_["id"], stage="commit")
        try:
            self.set({"reclaim_no_deal_days": 50})
            ans = self.sweep(day(60))
        finally:
            self.set({"reclaim_no_deal_days": 365})
        mine = {idle["id"], won["id"], open_["id"]}
        self.assertEqual(self.moved_ids(ans) & mine, {idle["id"], open_["id"]}, ans["moved"])
        self.assertEqual(self.fetch(won)["owner_id"], rep.id)
        for a in (idle, open_):
            self.assertIsNone(self.fetch(a)["owner_id"])
            self.assertEqual(self.changes(self.admin, a)[-1], (rep.id, None, "reclaimed"))


if __name__ == "__main__":
    unittest.main()
