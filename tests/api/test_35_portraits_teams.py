"""35: portraits and relationship levels (issue 3; SPEC 5), account teams
(SPEC 2) and the need-to-know rule for the sensitive portrait blocks of VVIP
accounts: owner, manager above, admin, team member with and without
`sensitive`, a rep of another team."""

import json
import unittest

from harness import PW, ApiTestCase, uniq

BLOCKS = ("basic", "background", "needs", "relations", "deep", "extended")
OPEN_BLOCKS = ("basic", "background", "needs", "relations")


def full_portrait(tag):
    return {
        "basic": {"mobile": "13800000000", "office": "Building 3"},
        "background": {"career": "20 years in print", "duty": "plant director"},
        "needs": {"company": "faster make-ready", "own": "recognition"},
        "relations": {"allies": "the CFO", "competitors": "likes Heidelberg"},
        "deep": {"personnel": "DEEPSECRET-%s reorg in March" % tag, "policy": "DEEPSECRET-%s two suppliers" % tag},
        "extended": {"birthday": "EXTSECRET-%s 05-12" % tag, "hobby": "EXTSECRET-%s go (weiqi)" % tag},
    }


class PortraitTeamTest(ApiTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        o = cls.org
        # a second rep of another team (the sibling team of rep3)
        uname = "rep4%s" % o.tag
        r = cls.admin.post("users", {"username": uname, "display_name": "REP4", "role": "rep",
                                     "team_id": o.teams["sibling"], "password": PW})
        assert r.status == 201, r
        cls.rep4 = cls.server.login(uname, PW)

        # the VVIP account of rep1, shared with rep2 (read + sensitive), rep3 (write, not sensitive)
        # and other_mgr (read, not sensitive: a manager who may read the audit trail)
        cls.tag = uniq("V").replace("-", "")
        cls.vvip = cls._post(o.rep1, "accounts", {"name": "VVIP %s" % cls.tag, "importance": "VVIP"})
        cls.secret = full_portrait(cls.tag)
        cls.vc = cls._post(o.rep1, "contacts", {"account_id": cls.vvip["id"], "name": "Director %s" % cls.tag,
                                                "portrait": cls.secret})
        cls.vopp = cls._post(o.rep1, "opportunities", {"account_id": cls.vvip["id"], "name": uniq("VVIP deal")})
        for user, access, sens in ((o.rep2, "read", True), (o.rep3, "write", False), (o.other_mgr, "read", False)):
            r = o.rep1.post("accounts/%d/team" % cls.vvip["id"],
                            {"user_id": user.id, "access": access, "sensitive": sens})
            assert r.status == 201, r
        r = o.rep1.post("opportunities/%d/stakeholders" % cls.vopp["id"],
                        {"contact_id": cls.vc["id"], "role": "decision_maker"})
        assert r.status == 201, r

    @classmethod
    def _post(cls, client, path, body):
        r = client.post(path, body)
        assert r.status == 201, r
        return r.json

    # -- helpers
    def team_url(self, acc, uid=None):
        u = "accounts/%d/team" % (acc["id"] if isinstance(acc, dict) else acc)
        return u if uid is None else "%s/%d" % (u, uid)

    def share(self, by, acc, user, access="read", sensitive=False, status=201):
        r = by.post(self.team_url(acc), {"user_id": user.id, "access": access, "sensitive": sensitive})
        self.assertStatus(r, status, "share %s with %s" % (acc["id"], user.user["username"]))
        return r

    def members(self, client, acc):
        r = client.get(self.team_url(acc))
        self.assertStatus(r, 200)
        return {m["user_id"]: m for m in r.json["items"]}

    def secrets_of(self, portrait):
        return [v for b in ("deep", "extended") for v in portrait.get(b, {}).values()]

    def all_secrets(self):
        return self.secrets_of(self.secret)

    def contact_views(self, client, cid, name, account_id):
        """The contact as GET, list, account-filtered list and name search return it."""
        views = []
        r = client.get("contacts/%d" % cid)
        self.assertStatus(r, 200)
        views.append(("GET", r.json, r.body))
        for q in (None, {"account_id": account_id}, {"name": name}, {"name": name.split()[-1].lower()}):
            items = client.list_all("contacts", q)
            mine = [i for i in items if i["id"] == cid]
            self.assertEqual(len(mine), 1, "contact missing from list %r" % (q,))
            views.append(("list %r" % (q,), mine[0], json.dumps(items, ensure_ascii=False).encode()))
        return views

    def assertSeesSensitive(self, client, who, contact=None, secret=None):
        contact = contact or self.vc
        secret = secret or self.secret
        for where, c, _ in self.contact_views(client, contact["id"], contact["name"], contact["account_id"]):
            for b in BLOCKS:
                self.assertEqual(c["portrait"].get(b), secret[b], "%s should see %s in %s" % (who, b, where))
            self.assertEqual(c["relationship_level"], "brother", where)

    def assertNoSensitive(self, client, who, contact=None, secret=None):
        contact = contact or self.vc
        secret = secret or self.secret
        for where, c, body in self.contact_views(client, contact["id"], contact["name"], contact["account_id"]):
            self.assertIsInstance(c["portrait"], dict)
            for b in ("deep", "extended"):
                self.assertNotIn(b, c["portrait"], "%s: %s must be absent (not null) in %s" % (who, b, where))
            for b in OPEN_BLOCKS:
                self.assertEqual(c["portrait"].get(b), secret[b], "%s should see %s in %s" % (who, b, where))
            for s in self.secrets_of(secret):
                self.assertNotIn(s.encode(), body, "%s: a sensitive value leaks in %s" % (who, where))

    # ------------------------------------------------------------------ portrait and relationship level

    def test_relationship_levels(self):
        rep = self.org.rep1
        acc = self._post(rep, "accounts", {"name": uniq("Levels"), "importance": "A"})
        f = {"basic": {"phone": "1"}, "background": {"career": "x"}, "needs": {"own": "y"},
             "relations": {"allies": "z"}, "deep": {"policy": "p"}, "extended": {"hobby": "h"}}
        cases = [
            ({}, "none"),
            ({"basic": f["basic"]}, "none"),
            ({"background": f["background"]}, "none"),
            ({"basic": {"phone": ""}, "background": f["background"]}, "none"),     # an empty field is not known
            ({"basic": {}, "background": f["background"]}, "none"),
            ({"basic": f["basic"], "background": f["background"]}, "doctor"),
            ({"basic": f["basic"], "background": f["background"], "needs": f["needs"]}, "doctor"),
            ({"basic": f["basic"], "background": f["background"], "relations": f["relations"]}, "doctor"),
            ({"basic": f["basic"], "background": f["background"], "needs": f["needs"], "relations": {"a": ""}},
             "doctor"),
            ({k: f[k] for k in OPEN_BLOCKS}, "teacher"),
            (dict({k: f[k] for k in OPEN_BLOCKS}, extended=f["extended"]), "teacher"),   # friend needs deep
            (dict({k: f[k] for k in OPEN_BLOCKS}, deep=f["deep"]), "friend"),
            (dict({k: f[k] for k in OPEN_BLOCKS}, deep=f["deep"], extended={"hobby": ""}), "friend"),
            (dict(f), "brother"),
            ({"deep": f["deep"], "extended": f["extended"], "needs": f["needs"], "relations": f["relations"]}, "none"),
            ({"basic": {"phone": "", "mobile": "139"}, "background": {"a": "", "b": "c"}}, "doctor"),
        ]
        for portrait, level in cases:
            c = self.contact(rep, acc["id"], portrait=portrait)
            self.assertEqual(c["relationship_level"], level, "create %r" % portrait)
            g = rep.get("contacts/%d" % c["id"]).json
            self.assertEqual(g["relationship_level"], level, "GET %r" % portrait)
            self.assertEqual(g["portrait"], portrait)
        # the level follows the portrait
        c = self.contact(rep, acc["id"])
        self.assertEqual(c["relationship_level"], "none")
        self.assertEqual(c["portrait"], {})
        for upto, level in ((2, "doctor"), (4, "teacher"), (5, "friend"), (6, "brother"), (1, "none")):
            r = rep.patch("contacts/%d" % c["id"], {"portrait": {b: f[b] for b in BLOCKS[:upto]}})
            self.assertStatus(r, 200)
            self.assertEqual(r.json["relationship_level"], level, "PATCH up to %s" % BLOCKS[upto - 1])
        self.assertError(rep.patch("contacts/%d" % c["id"], {"relationship_level": "brother"}), 400, "read_only",
                         field="relationship_level")

    def test_portrait_validation(self):
        rep = self.org.rep1
        acc = self._post(rep, "accounts", {"name": uniq("Portrait bad")})
        c = self.contact(rep, acc["id"])
        url = "contacts/%d" % c["id"]
        self.assertError(rep.patch(url, {"portrait": {"gossip": {"a": "b"}}}), 400, field_prefix="portrait")
        self.assertError(rep.patch(url, {"portrait": {"basic": "13800000000"}}), 400, field="portrait.basic")
        self.assertError(rep.patch(url, {"portrait": {"basic": {"age": 42}}}), 400, field="portrait.basic")
        self.assertError(rep.patch(url, {"portrait": {"deep": {"x": ["a"]}}}), 400, field="portrait.deep")
        self.assertError(rep.patch(url, {"portrait": "everything"}), 400, field="portrait")
        self.assertEqual(rep.get(url).json["portrait"], {})

    # ------------------------------------------------------------------ account teams

    def test_team_share_list_and_remove(self):
        o = self.org
        acc = self._post(o.rep1, "accounts", {"name": uniq("Team Co")})
        c = self.contact(o.rep1, acc["id"])
        opp = self.opportunity(o.rep1, acc["id"])
        act = self.activity(o.rep1, acc["id"])
        for kind, rec in (("accounts", acc), ("contacts", c), ("opportunities", opp), ("activities", act)):
            self.assertError(self.rep4.get("%s/%d" % (kind, rec["id"])), 404, "not_found")
        self.assertEqual(self.members(o.rep1, acc), {})
        r = self.share(o.rep1, acc, self.rep4, "read", False)
        self.assertEqual((r.json["user_id"], r.json["access"], r.json["sensitive"]), (self.rep4.id, "read", False))
        m = self.members(o.rep1, acc)
        self.assertEqual(set(m), {self.rep4.id})
        self.assertEqual((m[self.rep4.id]["access"], m[self.rep4.id]["sensitive"]), ("read", False))
        # the member sees the account and what is under it
        for kind, rec in (("accounts", acc), ("contacts", c), ("opportunities", opp), ("activities", act)):
            self.assertStatus(self.rep4.get("%s/%d" % (kind, rec["id"])), 200, "member reads %s" % kind)
            if kind == "accounts":
                self.assertIn(acc["id"], self.ids(self.rep4.list_all("accounts")))
            else:
                self.assertIn(rec["id"], self.ids(self.rep4.list_all(kind, {"account_id": acc["id"]})))
        self.assertStatus(self.rep4.get("opportunities/%d/map" % opp["id"]), 200)
        self.assertEqual(set(self.members(self.rep4, acc)), {self.rep4.id}, "a member reads the team")
        # sharing again changes the access
        r = self.share(o.rep1, acc, self.rep4, "write", True, status=(200, 201))
        self.assertEqual((r.json["access"], r.json["sensitive"]), ("write", True))
        m = self.members(o.mgr, acc)
        self.assertEqual(len(m), 1)
        self.assertEqual((m[self.rep4.id]["access"], m[self.rep4.id]["sensitive"]), ("write", True))
        # removing ends it
        r = o.rep1.delete(self.team_url(acc, self.rep4.id))
        self.assertStatus(r, 200)
        self.assertEqual(self.members(o.rep1, acc), {})
        for kind, rec in (("accounts", acc), ("contacts", c), ("opportunities", opp), ("activities", act)):
            self.assertError(self.rep4.get("%s/%d" % (kind, rec["id"])), 404, "not_found")
        self.assertNotIn(acc["id"], self.ids(self.rep4.list_all("accounts")))
        self.assertError(o.rep1.delete(self.team_url(acc, self.rep4.id)), 404)
        self.assertError(self.rep4.get(self.team_url(acc)), 404, "not_found")

    def test_team_validation(self):
        o = self.org
        acc = self._post(o.rep1, "accounts", {"name": uniq("Team bad")})
        url = self.team_url(acc)
        self.assertError(o.rep1.post(url, {"user_id": self.rep4.id, "access": "admin"}), 400, field="access")
        self.assertError(o.rep1.post(url, {"user_id": self.rep4.id, "access": "read", "sensitive": "yes"}), 400,
                         field="sensitive")
        self.assertError(o.rep1.post(url, {"access": "read"}), 400, "required", field="user_id")
        self.assertError(o.rep1.post(url, {"user_id": "rep4", "access": "read"}), 400, field="user_id")
        self.assertError(o.rep1.post(url, {"user_id": 99999999, "access": "read"}), (400, 404), field="user_id")
        self.assertError(o.rep1.post(url, {"user_id": self.rep4.id, "access": "read", "until": "2027"}), 400,
                         field="until")
        self.assertEqual(self.members(o.rep1, acc), {})
        self.assertError(o.rep1.post(self.team_url(99999999), {"user_id": self.rep4.id, "access": "read"}), 404,
                         "not_found")

    def test_who_may_share(self):
        o = self.org
        acc = self._post(o.rep1, "accounts", {"name": uniq("Share rules")})
        # the owner, the managers above, an admin
        for by, user in ((o.rep1, self.rep4), (o.mgr, o.rep2), (o.top, o.other_mgr), (self.admin, o.rep3)):
            self.share(by, acc, user, "write", False)
        self.assertEqual(set(self.members(o.rep1, acc)), {self.rep4.id, o.rep2.id, o.other_mgr.id, o.rep3.id})
        # a member (even with write access) does not share further or unshare others
        fresh = self._post(self.admin, "users", {"username": "fresh%s" % o.tag, "display_name": "FRESH",
                                                 "role": "rep", "team_id": o.teams["sibling"], "password": PW})
        r = o.rep3.post(self.team_url(acc), {"user_id": fresh["id"], "access": "read", "sensitive": True})
        self.assertError(r, 403, "forbidden")
        self.assertError(o.rep3.post(self.team_url(acc), {"user_id": o.rep3.id, "access": "write", "sensitive": True}),
                         403, "forbidden")
        self.assertError(o.rep3.delete(self.team_url(acc, self.rep4.id)), 403, "forbidden")
        self.assertEqual(self.members(o.rep1, acc)[o.rep3.id]["sensitive"], False)
        # a rep who does not see the account: 404
        other = self._post(o.rep1, "accounts", {"name": uniq("Share hidden")})
        for client in (o.rep2, o.rep3, o.other_mgr, self.rep4):
            self.assertError(client.post(self.team_url(other), {"user_id": client.id, "access": "write"}), 404,
                             "not_found")
            self.assertError(client.get(self.team_url(other)), 404, "not_found")
            self.assertError(client.delete(self.team_url(other, o.rep1.id)), 404, "not_found")
        self.assertEqual(self.members(o.rep1, other), {})
        # the owner removes; the manager above removes
        self.assertStatus(o.rep1.delete(self.team_url(acc, o.rep3.id)), 200)
        self.assertStatus(o.mgr.delete(self.team_url(acc, o.other_mgr.id)), 200)
        self.assertEqual(set(self.members(o.rep1, acc)), {self.rep4.id, o.rep2.id})

    def test_read_only_member_gets_403_on_writes(self):
        o = self.org
        rep = o.rep1
        acc = self._post(rep, "accounts", {"name": uniq("Read only")})
        c = self.contact(rep, acc["id"])
        opp = self.opportunity(rep, acc["id"], stage="design")
        act = self.activity(rep, acc["id"])
        sh = self._post(rep, "opportunities/%d/stakeholders" % opp["id"], {"contact_id": c["id"]})
        c2 = self.contact(rep, acc["id"])
        sh2 = self._post(rep, "opportunities/%d/stakeholders" % opp["id"], {"contact_id": c2["id"]})
        c3 = self.contact(rep, acc["id"])
        self.share(rep, acc, self.rep4, "read", True)
        m = self.rep4
        writes = [
            ("PATCH", "accounts/%d" % acc["id"], {"notes": "pwned"}),
            ("DELETE", "accounts/%d" % acc["id"], None),
            ("POST", "contacts", {"account_id": acc["id"], "name": "intruder"}),
            ("PATCH", "contacts/%d" % c["id"], {"title": "pwned"}),
            ("PATCH", "contacts/%d" % c["id"], {"portrait": {"basic": {"x": "pwned"}}}),
            ("DELETE", "contacts/%d" % c["id"], None),
            ("POST", "opportunities", {"account_id": acc["id"], "name": "side deal"}),
            ("PATCH", "opportunities/%d" % opp["id"], {"amount": 1}),
            ("PATCH", "opportunities/%d" % opp["id"], {"stage": "compare"}),
            ("DELETE", "opportunities/%d" % opp["id"], None),
            ("POST", "activities", {"account_id": acc["id"], "channel": "phone", "summary": "pwned"}),
            ("PATCH", "activities/%d" % act["id"], {"summary": "pwned"}),
            ("DELETE", "activities/%d" % act["id"], None),
            ("POST", "opportunities/%d/stakeholders" % opp["id"], {"contact_id": c3["id"]}),
            ("PATCH", "opportunities/%d/stakeholders/%d" % (opp["id"], sh["id"]), {"attitude": "opponent"}),
            ("DELETE", "opportunities/%d/stakeholders/%d" % (opp["id"], sh["id"]), None),
            ("POST", "opportunities/%d/stakeholders/%d/links" % (opp["id"], sh["id"]), {"to": sh2["id"], "kind": "ally"}),
            ("POST", "accounts/%d/team" % acc["id"], {"user_id": o.rep3.id, "access": "read"}),
        ]
        for method, url, body in writes:
            r = m.request(method, url, body) if body is not None else m.request(method, url)
            self.assertError(r, 403, "forbidden", msg="read-only member %s %s" % (method, url))
        # nothing changed
        self.assertEqual(rep.get("accounts/%d" % acc["id"]).json["version"], acc["version"])
        self.assertEqual(rep.get("contacts/%d" % c["id"]).json["version"], c["version"])
        self.assertEqual(rep.get("opportunities/%d" % opp["id"]).json["stage"], "design")
        self.assertEqual(self.ids(rep.list_all("opportunities", {"account_id": acc["id"]})), [opp["id"]])
        self.assertEqual(rep.get("activities/%d" % act["id"]).json["summary"], act["summary"])
        self.assertEqual(len(rep.list_all("opportunities/%d/stakeholders" % opp["id"])), 2)
        self.assertEqual(rep.get("opportunities/%d/map" % opp["id"]).json["links"], [])
        self.assertEqual(set(self.members(rep, acc)), {self.rep4.id})
        # reads still work
        for url in ("accounts/%d" % acc["id"], "contacts/%d" % c["id"], "opportunities/%d" % opp["id"],
                    "activities/%d" % act["id"], "opportunities/%d/stakeholders" % opp["id"],
                    "opportunities/%d/history" % opp["id"], "opportunities/%d/map" % opp["id"]):
            self.assertStatus(m.get(url), 200, url)
        # with write access the same member writes
        self.share(rep, acc, self.rep4, "write", True, status=(200, 201))
        self.assertStatus(m.patch("accounts/%d" % acc["id"], {"notes": "met the plant director"}), 200)
        self.assertStatus(m.post("contacts", {"account_id": acc["id"], "name": "new engineer"}), 201)
        self.assertStatus(m.patch("opportunities/%d" % opp["id"], {"amount": 5000}), 200)
        self.assertStatus(m.post("activities", {"account_id": acc["id"], "channel": "visit", "summary": "demo day"}),
                          201)
        self.assertStatus(m.patch("opportunities/%d/stakeholders/%d" % (opp["id"], sh["id"]),
                                  {"attitude": "supporter"}), 200)
        self.assertStatus(m.post("opportunities/%d/stakeholders/%d/links" % (opp["id"], sh["id"]),
                                 {"to": sh2["id"], "kind": "ally"}), 201)

    # ------------------------------------------------------------------ sensitive blocks of VVIP accounts

    def test_vvip_owner_sees_sensitive_blocks(self):
        self.assertEqual(self.vc["portrait"], self.secret, "the create response of the owner")
        self.assertSeesSensitive(self.org.rep1, "owner")

    def test_vvip_managers_above_and_admin_see_sensitive_blocks(self):
        self.assertSeesSensitive(self.org.mgr, "manager above")
        self.assertSeesSensitive(self.org.top, "top manager")
        self.assertSeesSensitive(self.admin, "admin")

    def test_vvip_team_member_with_sensitive_sees_them(self):
        self.assertSeesSensitive(self.org.rep2, "member with sensitive")

    def test_vvip_team_member_without_sensitive_does_not(self):
        self.assertNoSensitive(self.org.rep3, "write member without sensitive")
        self.assertNoSensitive(self.org.other_mgr, "read member without sensitive (a manager)")
        # nor through the buyer map of the account's opportunity
        for client in (self.org.rep3, self.org.other_mgr):
            r = client.get("opportunities/%d/map" % self.vopp["id"])
            self.assertStatus(r, 200)
            for s in self.all_secrets():
                self.assertNotIn(s.encode(), r.body, "the map leaks a sensitive value")

    def test_vvip_rep_of_another_team_gets_404(self):
        r = self.rep4.get("contacts/%d" % self.vc["id"])
        self.assertError(r, 404, "not_found")
        for q in (None, {"name": self.vc["name"]}, {"name": self.tag}):
            items = self.rep4.list_all("contacts", q)
            self.assertNotIn(self.vc["id"], self.ids(items), "listed for another team's rep (%r)" % (q,))
        r = self.rep4.get("contacts", query={"account_id": self.vvip["id"]})
        if r.status == 200:
            self.assertEqual(r.json["items"], [])
        else:
            self.assertError(r, (400, 404))
        for s in self.all_secrets():
            self.assertNotIn(s.encode(), r.body)
        self.assertError(self.rep4.get("accounts/%d" % self.vvip["id"]), 404, "not_found")
        self.assertError(self.rep4.patch("contacts/%d" % self.vc["id"], {"portrait": {}}), 404, "not_found")
        self.assertError(self.rep4.get("opportunities/%d/map" % self.vopp["id"]), 404, "not_found")
        self.assertSeesSensitive(self.org.rep1, "owner, after the outsider's attempts")

    def test_vvip_sensitive_blocks_stay_out_of_the_audit_trail(self):
        """other_mgr is a manager (may read the audit trail) and a member without sensitive."""
        c = self._post(self.org.rep1, "contacts", {"account_id": self.vvip["id"], "name": uniq("Audited"),
                                                   "portrait": {"basic": {"phone": "1"}}})
        secret = full_portrait(uniq("aud").replace("-", ""))
        self.assertStatus(self.org.rep1.patch("contacts/%d" % c["id"], {"portrait": secret}), 200)
        r = self.org.mgr.get("audit", query={"object": "contact", "id": c["id"]})
        self.assertStatus(r, 200)
        self.assertIn(self.secrets_of(secret)[0].encode(), r.body, "the manager above reads the whole trail")
        r = self.org.other_mgr.get("audit", query={"object": "contact", "id": c["id"]})
        if r.status == 200:
            for s in self.secrets_of(secret):
                self.assertNotIn(s.encode(), r.body, "GET /audit leaks a sensitive value to a member "
                                                     "without need to know")
        else:
            self.assertError(r, (403, 404))

    def test_vvip_sensitive_blocks_stay_out_of_a_create_entry(self):
        """A create's one audit entry holds the record as made (portrait and all): the blocks a
        member without need to know may not read are taken out of it as out of a change's."""
        secret = full_portrait(uniq("made").replace("-", ""))
        c = self._post(self.org.rep1, "contacts", {"account_id": self.vvip["id"], "name": uniq("Made"),
                                                   "portrait": secret})
        r = self.org.mgr.get("audit", query={"object": "contact", "id": c["id"]})
        self.assertStatus(r, 200)
        self.assertIn(self.secrets_of(secret)[0].encode(), r.body, "the manager above reads the whole trail")
        r = self.org.other_mgr.get("audit", query={"object": "contact", "id": c["id"]})
        self.assertStatus(r, 200)
        made = [e for e in r.json["items"] if e["action"] == "create"]
        self.assertEqual(len(made), 1, r.json)
        self.assertEqual(made[0]["new"]["portrait"].get("basic"), secret["basic"])
        for s in self.secrets_of(secret):
            self.assertNotIn(s.encode(), r.body, "GET /audit leaks a sensitive value of a create")

    def test_vvip_patch_without_need_to_know_cannot_change_or_wipe(self):
        o = self.org
        c = self._post(o.rep1, "contacts", {"account_id": self.vvip["id"], "name": uniq("Guarded"),
                                            "portrait": full_portrait("G1")})
        url = "contacts/%d" % c["id"]
        want = full_portrait("G1")

        def owner_sees():
            return o.rep1.get(url).json["portrait"]

        # a PATCH of the open blocks: applied, and deep/extended kept
        new_basic = {"mobile": "13900000000"}
        r = o.rep3.patch(url, {"portrait": {"basic": new_basic, "background": want["background"],
                                            "needs": want["needs"], "relations": want["relations"]}})
        self.assertStatus(r, 200)
        self.assertNotIn("deep", r.json["portrait"], "the PATCH response shows deep")
        self.assertNotIn("extended", r.json["portrait"], "the PATCH response shows extended")
        p = owner_sees()
        self.assertEqual(p["basic"], new_basic)
        self.assertEqual((p.get("deep"), p.get("extended")), (want["deep"], want["extended"]),
                         "a PATCH of the open blocks wiped the sensitive ones")
        want["basic"] = new_basic
        # wiping attempts
        for body in ({"portrait": {}}, {"portrait": {"basic": new_basic}}, {"title": "Plant director"}):
            r = o.rep3.patch(url, body)
            self.assertIn(r.status, (200, 400, 403), r)
            p = owner_sees()
            self.assertEqual((p.get("deep"), p.get("extended")), (want["deep"], want["extended"]),
                             "PATCH %r by a member without need to know wiped the sensitive blocks" % body)
        # change attempts
        for body in ({"portrait": dict(want, deep={"personnel": "hacked"})},
                     {"portrait": {"deep": {}}},
                     {"portrait": {"extended": {"birthday": "hacked"}, "basic": new_basic}},
                     {"portrait": {"deep": {"personnel": "hacked"}, "extended": {}}}):
            r = o.rep3.patch(url, body)
            self.assertIn(r.status, (200, 400, 403), r)
            if r.status == 200:
                self.assertNotIn("deep", r.json["portrait"])
                self.assertNotIn("extended", r.json["portrait"])
            p = owner_sees()
            self.assertEqual((p.get("deep"), p.get("extended")), (want["deep"], want["extended"]),
                             "PATCH %r by a member without need to know changed the sensitive blocks" % body)
        # the owner and a member with need to know may change them
        r = o.rep1.patch(url, {"portrait": dict(want, deep={"personnel": "new CFO in May"})})
        self.assertStatus(r, 200)
        self.assertEqual(r.json["portrait"]["deep"], {"personnel": "new CFO in May"})
        r = o.mgr.patch(url, {"portrait": dict(want, extended={"hobby": "fishing"})})
        self.assertStatus(r, 200)
        self.assertEqual(owner_sees()["extended"], {"hobby": "fishing"})

    def test_vvip_member_without_sensitive_cannot_unlock_by_downgrading(self):
        """A write member without need to know must not reach the blocks by making the account
        non-VVIP (the blocks would then show to everyone who sees the account)."""
        o = self.org
        acc = self._post(o.rep1, "accounts", {"name": uniq("Downgrade"), "importance": "VVIP"})
        c = self._post(o.rep1, "contacts", {"account_id": acc["id"], "name": uniq("Secretive"),
                                            "portrait": full_portrait("DG")})
        self.share(o.rep1, acc, self.rep4, "write", False)
        self.assertNoSensitive(self.rep4, "write member", contact=c, secret=full_portrait("DG"))
        r = self.rep4.patch("accounts/%d" % acc["id"], {"importance": "A"})
        g = self.rep4.get("contacts/%d" % c["id"])
        self.assertStatus(g, 200)
        self.assertNotIn("deep", g.json["portrait"],
                         "importance VVIP -> A by a member without need to know (%d) revealed deep" % r.status)
        self.assertNotIn("extended", g.json["portrait"])

    def test_importance_decides_and_non_vvip_shows_everything(self):
        o = self.org
        acc = self._post(o.rep1, "accounts", {"name": uniq("Plain"), "importance": "A"})
        secret = full_portrait("PL")
        c = self._post(o.rep1, "contacts", {"account_id": acc["id"], "name": uniq("Open"), "portrait": secret})
        self.share(o.rep1, acc, self.rep4, "read", False)
        self.share(o.rep1, acc, o.rep3, "write", False)
        for who, client in (("owner", o.rep1), ("manager", o.mgr), ("admin", self.admin),
                            ("read member without sensitive", self.rep4),
                            ("write member without sensitive", o.rep3)):
            self.assertSeesSensitive(client, who + " (importance A)", contact=c, secret=secret)
        # a member without need to know changes the blocks of a non-VVIP account
        r = o.rep3.patch("contacts/%d" % c["id"], {"portrait": dict(secret, deep={"policy": "single source"})})
        self.assertStatus(r, 200)
        self.assertEqual(r.json["portrait"]["deep"], {"policy": "single source"})
        secret["deep"] = {"policy": "single source"}
        # made VVIP: hidden from the members without sensitive, from then on
        self.assertStatus(o.rep1.patch("accounts/%d" % acc["id"], {"importance": "VVIP"}), 200)
        self.assertNoSensitive(self.rep4, "read member after VVIP", contact=c, secret=secret)
        self.assertNoSensitive(o.rep3, "write member after VVIP", contact=c, secret=secret)
        self.assertSeesSensitive(o.rep1, "owner after VVIP", contact=c, secret=secret)
        # granted sensitive: visible again
        self.share(o.rep1, acc, self.rep4, "read", True, status=(200, 201))
        self.assertSeesSensitive(self.rep4, "member granted sensitive", contact=c, secret=secret)
        # back to B: everyone who sees it sees everything
        self.assertStatus(o.rep1.patch("accounts/%d" % acc["id"], {"importance": "B"}), 200)
        self.assertSeesSensitive(o.rep3, "write member, importance B", contact=c, secret=secret)

    def test_vvip_sensitive_blocks_survive_for_the_admin_on_an_archived_account(self):
        o = self.org
        acc = self._post(o.rep1, "accounts", {"name": uniq("Archived VVIP"), "importance": "VVIP"})
        secret = full_portrait("AR")
        c = self._post(o.rep1, "contacts", {"account_id": acc["id"], "name": uniq("Kept"), "portrait": secret})
        self.assertStatus(o.rep1.delete("accounts/%d" % acc["id"]), 200)
        r = self.admin.get("contacts/%d" % c["id"])
        self.assertStatus(r, 200)
        self.assertEqual(r.json["portrait"].get("deep"), secret["deep"], "the admin sees everything")
        self.assertEqual(r.json["portrait"].get("extended"), secret["extended"])

    def test_vvip_admin_writes_sensitive_blocks_on_an_archived_account(self):
        o = self.org
        acc = self._post(o.rep1, "accounts", {"name": uniq("Archived VVIP w"), "importance": "VVIP"})
        secret = full_portrait("AW")
        c = self._post(o.rep1, "contacts", {"account_id": acc["id"], "name": uniq("Kept"), "portrait": secret})
        self.assertStatus(o.rep1.delete("accounts/%d" % acc["id"]), 200)
        r = self.admin.patch("contacts/%d" % c["id"], {"portrait": dict(secret, deep={"policy": "changed by admin"})})
        self.assertStatus(r, 200, "an admin writes archived records, sensitive blocks included")
        self.assertStatus(self.admin.post("accounts/%d/restore" % acc["id"]), 200)
        self.assertEqual(o.rep1.get("contacts/%d" % c["id"]).json["portrait"].get("deep"),
                         {"policy": "changed by admin"})


if __name__ == "__main__":
    unittest.main()
