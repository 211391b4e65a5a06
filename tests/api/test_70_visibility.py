"""70: visibility (SPEC section 2): rep, other rep, manager above, other
manager, top manager, admin, partner; the public pool; moving people."""

import unittest

from harness import PW, ApiTestCase, uniq

KINDS = ("accounts", "contacts", "opportunities", "activities")


class VisibilityTest(ApiTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tag = uniq("Vis").replace("-", "")
        o = cls.org
        cls.rec = {}
        for key, client in (("r1", o.rep1), ("r2", o.rep2), ("r3", o.rep3)):
            cls.rec[key] = cls._tree(client, "%s %s account" % (cls.tag, key))
        # the public pool: no owner
        r = cls.admin.post("accounts", {"name": "%s pool account" % cls.tag, "owner_id": None})
        assert r.status == 201, r
        assert r.json["owner_id"] is None, r
        cls.pool = r.json

    @classmethod
    def _tree(cls, client, name):
        out = {}
        r = client.post("accounts", {"name": name})
        assert r.status == 201, r
        out["accounts"] = r.json
        aid = r.json["id"]
        for kind, body in (("contacts", {"account_id": aid, "name": name + " contact"}),
                           ("opportunities", {"account_id": aid, "name": name + " opp", "stage": "design",
                                              "amount": 5000}),
                           ("activities", {"account_id": aid, "channel": "visit", "summary": name + " visit",
                                           "occurred_at": "2026-10-10T10:00:00.000Z"})):
            r = client.post(kind, body)
            assert r.status == 201, r
            out[kind] = r.json
        return out

    # -- helpers
    def assertSees(self, client, key, who):
        tree = self.rec[key]
        aid = tree["accounts"]["id"]
        for kind in KINDS:
            rec = tree[kind]
            r = client.get("%s/%d" % (kind, rec["id"]))
            self.assertStatus(r, 200, "%s should see %s of %s" % (who, kind, key))
            if kind == "accounts":
                items = client.list_all("accounts", {"name": self.tag})
            else:
                items = client.list_all(kind, {"account_id": aid})
                self.assertIn(rec["id"], self.ids(client.list_all(kind)), "%s: %s %s unfiltered list" % (who, kind, key))
            self.assertIn(rec["id"], self.ids(items), "%s should list %s of %s" % (who, kind, key))

    def assertBlind(self, client, key, who):
        tree = self.rec[key] if isinstance(key, str) else key
        aid = tree["accounts"]["id"]
        name = tree["accounts"]["name"]
        for kind in KINDS:
            rec = tree.get(kind)
            if rec is None:
                continue
            url = "%s/%d" % (kind, rec["id"])
            r = client.get(url)
            self.assertError(r, 404, "not_found", msg="%s must not see %s of %s" % (who, kind, key))
            self.assertNotIn(name.encode(), r.body)
            self.assertNotIn(rec["id"], self.ids(client.list_all(kind)), "%s lists %s of %s" % (who, kind, key))
            if kind != "accounts":
                # filtering by the hidden account does not reveal its records (it
                # may list the caller's own opportunities on that account)
                r = client.get(kind, query={"account_id": aid, "limit": 500})
                if r.status == 200:
                    self.assertNotIn(rec["id"], self.ids(r.json["items"]),
                                     "%s: %s filtered by a hidden account" % (who, kind))
                    if kind != "opportunities":
                        self.assertEqual(r.json["items"], [], "%s: %s filtered by a hidden account" % (who, kind))
                else:
                    self.assertError(r, (400, 404))
            # writes answer 404 too, and change nothing
            self.assertError(client.patch(url, {"name": "pwned"} if kind in ("accounts", "contacts", "opportunities")
                                          else {"summary": "pwned"}), 404, "not_found", msg="%s PATCH %s" % (who, url))
            self.assertError(client.delete(url), 404, "not_found", msg="%s DELETE %s" % (who, url))
            fresh = self.admin.get(url).json
            self.assertIsNone(fresh["archived_at"])
            self.assertNotIn("pwned", str(fresh))
        # search by name does not find it
        self.assertNotIn(aid, self.ids(client.list_all("accounts", {"name": name})))
        # and it cannot be the parent of a new record
        for kind, body in (("contacts", {"name": "x"}),
                           ("opportunities", {"name": "x", "stage": "interest", "amount": 1}),
                           ("activities", {"channel": "phone", "occurred_at": "2026-10-10T10:00:00.000Z"})):
            body["account_id"] = aid
            r = client.post(kind, body)
            self.assertError(r, 404, "not_found", field="account_id", msg="%s creating %s under %s" % (who, kind, key))

    # -- the cases
    def test_rep_sees_own(self):
        self.assertSees(self.org.rep1, "r1", "rep1")
        self.assertSees(self.org.rep2, "r2", "rep2")

    def test_rep_does_not_see_other_reps(self):
        self.assertBlind(self.org.rep1, "r2", "rep1")
        self.assertBlind(self.org.rep1, "r3", "rep1")
        self.assertBlind(self.org.rep2, "r1", "rep2")

    def test_rep_list_contains_only_own(self):
        items = self.org.rep1.list_all("accounts")
        self.assertTrue(items)
        self.assertTrue(all(a["owner_id"] == self.org.rep1.id for a in items), items)
        self.assertEqual(self.org.rep1.list_all("accounts", {"owner_id": self.org.rep2.id}), [])

    def test_manager_above_sees_the_reps_below(self):
        self.assertSees(self.org.mgr, "r1", "mgr")
        self.assertSees(self.org.mgr, "r2", "mgr")
        self.assertBlind(self.org.mgr, "r3", "mgr")

    def test_manager_above_can_write_below(self):
        acc = self.account(self.org.rep1)
        r = self.org.mgr.patch("accounts/%d" % acc["id"], {"importance": "VVIP"})
        self.assertStatus(r, 200)
        self.assertEqual(self.org.rep1.get("accounts/%d" % acc["id"]).json["importance"], "VVIP")
        c = self.contact(self.org.mgr, acc["id"])
        self.assertStatus(self.org.rep1.get("contacts/%d" % c["id"]), 200)

    def test_manager_sees_what_they_own(self):
        acc = self.account(self.org.mgr)
        self.assertEqual(acc["owner_id"], self.org.mgr.id)
        url = "accounts/%d" % acc["id"]
        self.assertStatus(self.org.mgr.get(url), 200)
        self.assertStatus(self.org.top.get(url), 200)
        for who in ("other_mgr", "rep1", "rep2"):
            self.assertError(getattr(self.org, who).get(url), 404, "not_found", msg=who)

    def test_other_manager_sees_own_team_only(self):
        self.assertSees(self.org.other_mgr, "r3", "other_mgr")
        self.assertBlind(self.org.other_mgr, "r1", "other_mgr")
        self.assertBlind(self.org.other_mgr, "r2", "other_mgr")

    def test_top_manager_sees_the_whole_tree(self):
        for key in ("r1", "r2", "r3"):
            self.assertSees(self.org.top, key, "top")

    def test_admin_sees_everything(self):
        for key in ("r1", "r2", "r3"):
            self.assertSees(self.admin, key, "admin")
        self.assertStatus(self.admin.get("accounts/%d" % self.pool["id"]), 200)

    def test_pool_accounts_are_listed_for_admins_only(self):
        url = "accounts/%d" % self.pool["id"]
        self.assertIn(self.pool["id"], self.ids(self.admin.list_all("accounts", {"name": self.tag})))
        for who in ("rep1", "mgr", "top", "other_mgr"):
            c = getattr(self.org, who)
            self.assertError(c.get(url), 404, "not_found", msg=who)
            self.assertNotIn(self.pool["id"], self.ids(c.list_all("accounts", {"name": self.tag})), who)

    def test_opportunity_visible_through_its_owner(self):
        # an opportunity of rep3's account, owned by rep1
        r = self.admin.post("opportunities", {"account_id": self.rec["r3"]["accounts"]["id"], "name": uniq("Shared"),
                                              "stage": "compare", "amount": 7, "owner_id": self.org.rep1.id})
        self.assertStatus(r, 201)
        oid = r.json["id"]
        for who in ("rep1", "mgr", "other_mgr", "rep3", "top"):
            self.assertStatus(getattr(self.org, who).get("opportunities/%d" % oid), 200, who)
            self.assertIn(oid, self.ids(getattr(self.org, who).list_all("opportunities")), who)
        self.assertError(self.org.rep2.get("opportunities/%d" % oid), 404, "not_found")
        self.assertNotIn(oid, self.ids(self.org.rep2.list_all("opportunities")))
        # the account itself stays hidden from rep1
        self.assertError(self.org.rep1.get("accounts/%d" % self.rec["r3"]["accounts"]["id"]), 404)

    def test_lists_are_filtered_in_the_query_not_afterwards(self):
        tag = uniq("Mix").replace("-", "")
        mine = []
        for i in range(9):
            for c in (self.org.rep2, self.org.rep3, self.org.rep1):
                a = self.account(c, name="%s %02d %d" % (tag, i, c.id))
                if c is self.org.rep1:
                    mine.append(a["id"])
        pages, q = [], {"name": tag, "limit": 3}
        while True:
            r = self.org.rep1.get("accounts", query=q)
            self.assertStatus(r, 200)
            pages.append(self.ids(r.json["items"]))
            if not r.json["next"]:
                break
            q["cursor"] = r.json["next"]
        self.assertEqual([i for p in pages for i in p], mine)
        for p in pages[:-1]:
            self.assertEqual(len(p), 3, "short page before the last: %s" % pages)

    def test_reassignment_moves_visibility(self):
        acc = self.account(self.org.rep1)
        url = "accounts/%d" % acc["id"]
        r = self.org.mgr.patch(url, {"owner_id": self.org.rep2.id})
        self.assertStatus(r, 200)
        self.assertEqual(r.json["owner_id"], self.org.rep2.id)
        self.assertError(self.org.rep1.get(url), 404, "not_found")
        self.assertStatus(self.org.rep2.get(url), 200)
        # a manager cannot hand it to someone outside their teams
        r = self.org.mgr.patch(url, {"owner_id": self.org.rep3.id})
        self.assertError(r, (400, 403, 404), field="owner_id")
        self.assertEqual(self.admin.get(url).json["owner_id"], self.org.rep2.id)

    def test_moving_a_rep_to_another_team_moves_visibility(self):
        u = "mover" + uniq("m").replace("-", "")
        r = self.admin.post("users", {"username": u, "role": "rep", "password": PW,
                                      "team_id": self.org.teams["branch"]})
        self.assertStatus(r, 201)
        uid = r.json["id"]
        mover = self.server.login(u, PW)
        acc = self.account(mover)
        url = "accounts/%d" % acc["id"]
        self.assertStatus(self.org.mgr.get(url), 200)
        self.assertError(self.org.other_mgr.get(url), 404)
        self.assertStatus(self.admin.patch("users/%d" % uid, {"team_id": self.org.teams["sibling"]}), 200)
        self.assertError(self.org.mgr.get(url), 404, "not_found")
        self.assertStatus(self.org.other_mgr.get(url), 200)
        self.assertStatus(self.org.top.get(url), 200)
        self.assertStatus(mover.get(url), 200)

    def test_managing_a_team_grants_its_subtree(self):
        ext = self.admin.post("teams", {"name": uniq("Extra"), "parent_id": self.org.teams["company"]}).json
        sub = self.admin.post("teams", {"name": uniq("ExtraSub"), "parent_id": ext["id"]}).json
        u = "sub" + uniq("s").replace("-", "")
        self.assertStatus(self.admin.post("users", {"username": u, "role": "rep", "password": PW,
                                                    "team_id": sub["id"]}), 201)
        acc = self.account(self.server.login(u, PW))
        url = "accounts/%d" % acc["id"]
        self.assertError(self.org.other_mgr.get(url), 404)
        self.assertStatus(self.admin.patch("teams/%d" % ext["id"], {"manager_id": self.org.other_mgr.id}), 200)
        self.assertStatus(self.org.other_mgr.get(url), 200)
        self.assertIn(acc["id"], self.ids(self.org.other_mgr.list_all("accounts", {"name": acc["name"]})))
        self.assertStatus(self.admin.patch("teams/%d" % ext["id"], {"manager_id": None}), 200)
        self.assertError(self.org.other_mgr.get(url), 404)

    def test_moving_a_team_moves_a_managers_reach_everywhere_at_once(self):
        # A team with a team below it, and a rep of the lower one with a record of each kind
        # and a quota on the upper team, moved under another manager's team, to the top and
        # back: every read of a manager (GET by id, the lists, the name search) follows the
        # tree as it is now (the reach is read from the tree's closure, team_paths).
        o = self.org
        moved = self.admin.post("teams", {"name": uniq("Moved"), "parent_id": o.teams["branch"]}).json
        below = self.admin.post("teams", {"name": uniq("MovedSub"), "parent_id": moved["id"]}).json
        u = "deep" + uniq("d").replace("-", "")
        r = self.admin.post("users", {"username": u, "role": "rep", "password": PW, "team_id": below["id"]})
        self.assertStatus(r, 201)
        uid = r.json["id"]
        tree = self._tree(self.server.login(u, PW), "%s deep %s account" % (self.tag, u))
        r = self.admin.post("quotas", {"team_id": moved["id"], "period": "2026-Q4", "amount": 4242})
        self.assertStatus(r, 201)
        tree["quotas"] = r.json
        name = tree["accounts"]["name"]

        def reach(client, who, sees):
            for kind, rec in tree.items():
                r = client.get("%s/%d" % (kind, rec["id"]))
                if sees:
                    self.assertStatus(r, 200, "%s GET %s" % (who, kind))
                else:
                    self.assertError(r, 404, "not_found", msg="%s GET %s" % (who, kind))
                listed = rec["id"] in self.ids(client.list_all(kind))
                self.assertEqual(listed, sees, "%s lists %s" % (who, kind))
            listed = self.ids(client.list_all("accounts", {"owner_id": uid, "sort": "-last_touch_at"}))
            self.assertEqual(tree["accounts"]["id"] in listed, sees, "%s: the owner's list" % who)
            found = self.ids(client.list_all("accounts", {"name": name}))
            self.assertEqual(tree["accounts"]["id"] in found, sees, "%s: the name search" % who)

        def move(parent):
            self.assertStatus(self.admin.patch("teams/%d" % moved["id"], {"parent_id": parent}), 200)

        reach(o.mgr, "mgr", True)
        reach(o.top, "top", True)
        reach(o.other_mgr, "other_mgr", False)
        move(o.teams["sibling"])
        reach(o.mgr, "mgr after the move", False)
        reach(o.other_mgr, "other_mgr after the move", True)
        reach(o.top, "top after the move", True)
        move(None)
        reach(o.mgr, "mgr, moved to the top", False)
        reach(o.other_mgr, "other_mgr, moved to the top", False)
        reach(o.top, "top, moved to the top", False)
        move(o.teams["region"])
        reach(o.mgr, "mgr, moved back", True)
        reach(o.other_mgr, "other_mgr, moved back", False)
        reach(o.top, "top, moved back", True)

    def test_owner_filtered_lists_are_the_unfiltered_lists_owners(self):
        # A list filtered by owner_id is the unfiltered list's rows of that owner, in the same
        # order, for every viewer and owner: the owner's own list and a manager's list of a rep
        # within reach test no row's visibility (sqlbuild.c list_vis), so what else an owner's
        # list may show must still come through: an account shared with the viewer
        # (account_team) or an opportunity on a visible account when the owner is outside the
        # reach, nothing archived, nothing of the pool, a partner's converted account only.
        o = self.org
        tag = uniq("Own").replace("-", "")

        def acc(client, suffix):
            return self.account(client, name="%s %s" % (tag, suffix))

        def share(owner, a, user):
            r = owner.post("accounts/%d/team" % a["id"], {"user_id": user.id, "access": "read"})
            self.assertStatus(r, 201)

        r3_shared = acc(o.rep3, "rep3 shared with mgr")
        share(o.rep3, r3_shared, o.mgr)
        r3_hidden = acc(o.rep3, "rep3 not shared")
        r1_other = acc(o.rep1, "rep1 shared with other_mgr")
        share(o.rep1, r1_other, o.other_mgr)
        r1_rep2 = acc(o.rep1, "rep1 shared with rep2")
        share(o.rep1, r1_rep2, o.rep2)
        r1_gone = acc(o.rep1, "rep1 archived")
        self.assertStatus(o.rep1.delete("accounts/%d" % r1_gone["id"]), (200, 204))
        # an opportunity rep3 owns on rep1's account, one on rep3's own
        opp_on_r1 = self.opportunity(self.admin, acc(o.rep1, "rep1 with rep3's deal")["id"],
                                     owner_id=o.rep3.id)
        opp_on_r3 = self.opportunity(o.rep3, r3_hidden["id"])
        u = "ownpartner" + uniq("p").replace("-", "")
        self.assertStatus(self.admin.post("users", {"username": u, "role": "partner", "password": PW}), 201)
        partner = self.server.login(u, PW)
        r = self.admin.post("leads", {"company": "%s partner lead" % tag, "assignee_id": partner.id})
        self.assertStatus(r, 201)
        r = partner.post("leads/%d/convert" % r.json["id"], {})
        self.assertStatus(r, (200, 201))
        converted = self.admin.get("accounts/%d" % r.json["account_id"]).json
        owners = {o.rep1.id, o.rep2.id, o.rep3.id, o.mgr.id, o.other_mgr.id, o.top.id, partner.id,
                  converted["owner_id"], None, 987654}
        viewers = {"rep1": o.rep1, "rep2": o.rep2, "rep3": o.rep3, "mgr": o.mgr,
                   "other_mgr": o.other_mgr, "top": o.top, "partner": partner, "admin": self.admin}
        seen = {}
        for who, client in viewers.items():
            for kind in ("accounts", "opportunities"):
                for sort in ("id", "-last_touch_at" if kind == "accounts" else "-amount"):
                    every = client.list_all(kind, {"sort": sort})
                    for owner in owners:
                        q = {"sort": sort, "owner_id": "null" if owner is None else owner}
                        got = self.ids(client.list_all(kind, q, limit=2))
                        want = [x["id"] for x in every if x["owner_id"] == owner]
                        self.assertEqual(got, want, "%s: %s of owner %s by %s" % (who, kind, owner, sort))
                        seen[who, kind, owner] = got
        # the cases above are there to be seen or hidden
        mgr_r3 = seen["mgr", "accounts", o.rep3.id]
        self.assertIn(r3_shared["id"], mgr_r3)
        self.assertNotIn(r3_hidden["id"], mgr_r3)
        self.assertIn(r3_hidden["id"], seen["other_mgr", "accounts", o.rep3.id])
        self.assertEqual(seen["other_mgr", "accounts", o.rep1.id], [r1_other["id"]])
        self.assertEqual(seen["rep2", "accounts", o.rep1.id], [r1_rep2["id"]])
        mine = seen["rep1", "accounts", o.rep1.id]
        self.assertIn(r1_rep2["id"], mine)
        self.assertNotIn(r1_gone["id"], mine)
        self.assertIn(r1_gone["id"], self.ids(self.admin.list_all("accounts", {"owner_id": o.rep1.id,
                                                                              "archived": "true"})))
        self.assertNotIn(r1_gone["id"], seen["mgr", "accounts", o.rep1.id])
        self.assertNotIn(r1_gone["id"], seen["top", "accounts", o.rep1.id])
        self.assertIn(self.pool["id"], seen["admin", "accounts", None])
        for who in ("rep1", "mgr", "top"):
            self.assertEqual(seen[who, "accounts", None], [], who)
        self.assertIn(opp_on_r1["id"], seen["mgr", "opportunities", o.rep3.id])
        self.assertNotIn(opp_on_r3["id"], seen["mgr", "opportunities", o.rep3.id])
        self.assertIn(opp_on_r1["id"], seen["rep1", "opportunities", o.rep3.id])
        self.assertIn(opp_on_r3["id"], seen["other_mgr", "opportunities", o.rep3.id])
        # the partner's converted account (in the pool) under its owner's filter alone
        self.assertEqual([a for w, k, x in seen if w == "partner" and k == "accounts"
                          for a in seen[w, k, x]], [converted["id"]])
        self.assertEqual(seen["partner", "accounts", converted["owner_id"]], [converted["id"]])
        self.assertEqual(seen["rep1", "accounts", 987654], [])

    def test_partner_sees_no_accounts(self):
        u = "partner" + uniq("p").replace("-", "")
        self.assertStatus(self.admin.post("users", {"username": u, "role": "partner", "password": PW}), 201)
        p = self.server.login(u, PW)
        self.assertEqual(p.list_all("accounts"), [])
        for key in ("r1", "r2", "r3"):
            for kind in KINDS:
                self.assertError(p.get("%s/%d" % (kind, self.rec[key][kind]["id"])), 404, msg=kind)

    def test_rep_cannot_restore_or_audit_what_they_cannot_see(self):
        url = "accounts/%d" % self.rec["r2"]["accounts"]["id"]
        self.assertError(self.org.rep1.post(url + "/restore"), (403, 404))
        r = self.org.other_mgr.get("audit", query={"object": "account", "id": self.rec["r1"]["accounts"]["id"]})
        self.assertError(r, 404, "not_found")
        self.assertNotIn(self.rec["r1"]["accounts"]["name"].encode(), r.body)


if __name__ == "__main__":
    unittest.main()
