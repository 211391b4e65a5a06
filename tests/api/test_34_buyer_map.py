"""34: the buyer map (issue 3; SPEC 4): stakeholders under
/opportunities/{id}/stakeholders[/{sid}], their links, and GET /map on a
four-level org chart (tree, coverage, decision makers' attitude, opponents,
next moves)."""

import unittest

from harness import ApiTestCase, uniq

ATTITUDES = ("coach", "supporter", "neutral", "non_supporter", "opponent")
WARMER = {"supporter": "coach", "neutral": "supporter", "non_supporter": "neutral", "opponent": "non_supporter"}


class BuyerMapTest(ApiTestCase):
    ORG_USERS = ("mgr", "other_mgr", "rep1", "rep2", "rep3")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        rep = cls.org.rep1
        cls.acc = cls._post(rep, "accounts", {"name": uniq("Map Co")})
        cls.acc_b = cls._post(rep, "accounts", {"name": uniq("Map Other")})
        cls.acc_c = cls._post(cls.org.rep3, "accounts", {"name": uniq("Map Rep3")})
        cls.xb = cls._post(rep, "contacts", {"account_id": cls.acc_b["id"], "name": "Other-account buyer"})
        cls.xc = cls._post(cls.org.rep3, "contacts", {"account_id": cls.acc_c["id"], "name": "Rep3 buyer"})
        cls.opp_c = cls._post(cls.org.rep3, "opportunities", {"account_id": cls.acc_c["id"], "name": uniq("Rep3 deal")})

    @classmethod
    def _post(cls, client, path, body):
        r = client.post(path, body)
        assert r.status == 201, r
        return r.json

    # -- helpers
    def sh_url(self, opp, sid=None):
        oid = opp["id"] if isinstance(opp, dict) else opp
        u = "opportunities/%d/stakeholders" % oid
        return u if sid is None else "%s/%d" % (u, sid["id"] if isinstance(sid, dict) else sid)

    def add(self, client, opp, contact, status=201, **fields):
        body = dict(fields)
        body["contact_id"] = contact["id"] if isinstance(contact, dict) else contact
        r = client.post(self.sh_url(opp), body)
        self.assertStatus(r, status, "POST stakeholder %r" % body)
        return r.json if status == 201 else r

    def the_map(self, client, opp, status=200):
        r = client.get("opportunities/%d/map" % (opp["id"] if isinstance(opp, dict) else opp))
        self.assertStatus(r, status)
        return r.json if status == 200 else r

    def nodes(self, forest):
        """Flatten the org tree: {contact_id: (node, parent_contact_id, depth)}."""
        out = {}

        def walk(node, parent, depth):
            cid = node.get("contact_id", node.get("id"))
            self.assertIsInstance(cid, int, node)
            self.assertNotIn(cid, out, "contact %d twice in the tree" % cid)
            out[cid] = (node, parent, depth)
            kids = node.get("children")
            self.assertIsInstance(kids, list, node)
            for k in kids:
                walk(k, cid, depth + 1)

        self.assertIsInstance(forest, list)
        for root in forest:
            walk(root, None, 1)
        return out

    def part(self, node):
        """The stakeholder data of a tree node, or None."""
        return node.get("stakeholder")

    # ------------------------------------------------------------------ CRUD

    def test_stakeholder_crud(self):
        rep = self.org.rep1
        opp = self.opportunity(rep, self.acc["id"], stage="design")
        c = self.contact(rep, self.acc["id"], rank="director")
        body = {"contact_id": c["id"], "role": "technical_gatekeeper", "tags": ["initiator", "operator"],
                "attitude": "non_supporter", "influence": 4,
                "company_needs": {"text": "lower unit cost", "tags": ["cost", "quality"]},
                "personal_needs": {"text": "wants the promotion", "tags": ["promotion"]}}
        r = rep.post(self.sh_url(opp), body)
        self.assertStatus(r, 201)
        s = r.json
        for k, v in body.items():
            self.assertEqual(s[k], v, k)
        self.assertEqual(s["opportunity_id"], opp["id"])
        self.assertIsInstance(s["id"], int)
        self.assertEqual(s["version"], 1)
        self.assertTimestamp(s["created_at"])
        # defaults
        c2 = self.contact(rep, self.acc["id"])
        d = self.add(rep, opp, c2)
        self.assertEqual(d["attitude"], "neutral")
        self.assertEqual(d["influence"], 3)
        self.assertIsNone(d["role"])
        self.assertEqual(d["tags"], [])
        # read
        g = rep.get(self.sh_url(opp, s))
        self.assertStatus(g, 200)
        self.assertEqual(g.json, s)
        items = rep.list_all(self.sh_url(opp))
        self.assertEqual(sorted(self.ids(items)), sorted([s["id"], d["id"]]))
        # update
        r = rep.patch(self.sh_url(opp, s), {"attitude": "supporter", "influence": 5, "role": "decision_maker",
                                            "personal_needs": {"text": "recognition", "tags": []}})
        self.assertStatus(r, 200)
        self.assertEqual((r.json["attitude"], r.json["influence"], r.json["role"]), ("supporter", 5, "decision_maker"))
        self.assertEqual(r.json["personal_needs"], {"text": "recognition", "tags": []})
        self.assertEqual(r.json["company_needs"], body["company_needs"])
        self.assertEqual(r.json["version"], 2)
        self.assertEqual(rep.get(self.sh_url(opp, s)).json["attitude"], "supporter")
        r = rep.patch(self.sh_url(opp, s), {"role": None})
        self.assertStatus(r, 200)
        self.assertIsNone(r.json["role"])
        # contact and opportunity are fixed
        self.assertError(rep.patch(self.sh_url(opp, s), {"contact_id": c2["id"]}), 400)
        self.assertError(rep.patch(self.sh_url(opp, s), {"opportunity_id": self.opp_c["id"]}), 400)
        # delete archives
        r = rep.delete(self.sh_url(opp, d))
        self.assertStatus(r, 200)
        self.assertIsNotNone(r.json["archived_at"])
        self.assertError(rep.get(self.sh_url(opp, d)), 404, "not_found")
        self.assertEqual(self.ids(rep.list_all(self.sh_url(opp))), [s["id"]])
        # the manager above reads and writes them too
        self.assertStatus(self.org.mgr.get(self.sh_url(opp, s)), 200)
        self.assertStatus(self.org.mgr.patch(self.sh_url(opp, s), {"influence": 2}), 200)

    def test_stakeholder_validation(self):
        rep = self.org.rep1
        opp = self.opportunity(rep, self.acc["id"])
        c = self.contact(rep, self.acc["id"])
        bad = [
            ({"role": "boss"}, "role"), ({"role": 3}, "role"),
            ({"attitude": "hostile"}, "attitude"), ({"attitude": None}, "attitude"),
            ({"influence": 0}, "influence"), ({"influence": 6}, "influence"), ({"influence": "3"}, "influence"),
            ({"influence": 2.5}, "influence"),
            ({"tags": ["boss"]}, "tags"), ({"tags": "initiator"}, "tags"),
            ({"company_needs": "cheaper"}, "company_needs"), ({"personal_needs": {"text": 5}}, "personal_needs"),
        ]
        for extra, field in bad:
            r = rep.post(self.sh_url(opp), dict(extra, contact_id=c["id"]))
            self.assertError(r, 400, field=field, msg="POST %r" % extra)
        self.assertError(rep.post(self.sh_url(opp), {"role": "user"}), 400, "required", field="contact_id")
        self.assertError(rep.post(self.sh_url(opp), {"contact_id": c["id"], "mood": "good"}), 400, "unknown_field",
                         field="mood")
        self.assertEqual(rep.list_all(self.sh_url(opp)), [], "a refused stakeholder was stored")
        s = self.add(rep, opp, c)
        for extra, field in bad:
            self.assertError(rep.patch(self.sh_url(opp, s), extra), 400, field=field, msg="PATCH %r" % extra)
        for att in ATTITUDES:
            self.assertStatus(rep.patch(self.sh_url(opp, s), {"attitude": att}), 200)
        for role in ("decision_maker", "user", "technical_gatekeeper", "coach"):
            self.assertStatus(rep.patch(self.sh_url(opp, s), {"role": role}), 200)
        self.assertStatus(rep.patch(self.sh_url(opp, s), {"tags": ["initiator", "purchaser", "operator"]}), 200)

    def test_contact_of_another_account_is_400_contact_id(self):
        rep = self.org.rep1
        opp = self.opportunity(rep, self.acc["id"])
        for cid in (self.xb["id"], self.xc["id"], 99999999):
            r = rep.post(self.sh_url(opp), {"contact_id": cid, "role": "user"})
            err = self.assertError(r, 400, field="contact_id", msg="contact %d" % cid)
            self.assertNotIn(b"Rep3 buyer", r.body)
            self.assertNotIn("Rep3", err["message"])
        self.assertEqual(rep.list_all(self.sh_url(opp)), [])

    def test_one_stakeholder_per_contact_per_opportunity(self):
        rep = self.org.rep1
        opp = self.opportunity(rep, self.acc["id"])
        opp2 = self.opportunity(rep, self.acc["id"])
        c = self.contact(rep, self.acc["id"])
        s = self.add(rep, opp, c, role="user")
        r = rep.post(self.sh_url(opp), {"contact_id": c["id"], "role": "coach"})
        self.assertError(r, 409, ("conflict", "duplicate"))
        self.assertEqual(self.ids(rep.list_all(self.sh_url(opp))), [s["id"]])
        # the same contact plays a part in another deal
        s2 = self.add(rep, opp2, c, role="decision_maker")
        self.assertEqual(s2["opportunity_id"], opp2["id"])
        # once archived, the contact can be added again
        self.assertStatus(rep.delete(self.sh_url(opp, s)), 200)
        s3 = self.add(rep, opp, c, role="coach")
        self.assertNotEqual(s3["id"], s["id"])

    def test_paths_and_visibility(self):
        rep = self.org.rep1
        opp = self.opportunity(rep, self.acc["id"])
        opp2 = self.opportunity(rep, self.acc["id"])
        c = self.contact(rep, self.acc["id"])
        s = self.add(rep, opp, c)
        s2 = self.add(rep, opp, self.contact(rep, self.acc["id"]))
        # a stakeholder under another opportunity's path is not there
        self.assertError(rep.get(self.sh_url(opp2, s)), 404, "not_found")
        self.assertError(rep.patch(self.sh_url(opp2, s), {"influence": 5}), 404, "not_found")
        self.assertError(rep.delete(self.sh_url(opp2, s)), 404, "not_found")
        self.assertEqual(rep.get(self.sh_url(opp, s)).json["influence"], 3)
        self.assertError(rep.get(self.sh_url(99999999)), 404, "not_found")
        self.assertError(rep.post(self.sh_url(99999999), {"contact_id": c["id"]}), 404, "not_found")
        # nobody outside the account sees or writes them
        for client in (self.org.rep2, self.org.rep3, self.org.other_mgr):
            who = client.user["username"]
            self.assertError(client.get(self.sh_url(opp)), 404, "not_found", msg=who)
            self.assertError(client.get(self.sh_url(opp, s)), 404, "not_found", msg=who)
            self.assertError(client.patch(self.sh_url(opp, s), {"attitude": "opponent"}), 404, "not_found", msg=who)
            self.assertError(client.delete(self.sh_url(opp, s)), 404, "not_found", msg=who)
            self.assertError(client.post(self.sh_url(opp), {"contact_id": c["id"]}), 404, "not_found", msg=who)
            self.assertError(client.post(self.sh_url(opp, s) + "/links", {"to": s2["id"], "kind": "ally"}), 404,
                             "not_found", msg=who)
            self.assertError(self.the_map(client, opp, status=404), 404, "not_found", msg=who)
        self.assertEqual(rep.get(self.sh_url(opp, s)).json["attitude"], "neutral")
        self.assertIsNone(rep.get(self.sh_url(opp, s)).json["archived_at"])
        self.assertEqual(self.the_map(rep, opp)["links"], [])
        self.assertError(self.the_map(rep, 99999999, status=404), 404, "not_found")

    # ------------------------------------------------------------------ links

    def test_links_ally_and_rival(self):
        rep = self.org.rep1
        opp = self.opportunity(rep, self.acc["id"])
        other = self.opportunity(rep, self.acc["id"])
        a, b, c = (self.add(rep, opp, self.contact(rep, self.acc["id"])) for _ in range(3))
        x = self.add(rep, other, self.contact(rep, self.acc["id"]))
        r = rep.post(self.sh_url(opp, a) + "/links", {"to": b["id"], "kind": "ally"})
        self.assertStatus(r, 201)
        self.assertIsInstance(r.json["id"], int)
        self.assertEqual((r.json["from"], r.json["to"], r.json["kind"]), (a["id"], b["id"], "ally"))
        ally = r.json
        r = rep.post(self.sh_url(opp, c) + "/links", {"to": a["id"], "kind": "rival"})
        self.assertStatus(r, 201)
        self.assertEqual((r.json["from"], r.json["to"], r.json["kind"]), (c["id"], a["id"], "rival"))
        rival = r.json
        # bad links
        url = self.sh_url(opp, b) + "/links"
        self.assertError(rep.post(url, {"to": c["id"], "kind": "friend"}), 400, field="kind")
        self.assertError(rep.post(url, {"to": c["id"]}), 400, field="kind")
        self.assertError(rep.post(url, {"kind": "ally"}), 400, field="to")
        self.assertError(rep.post(url, {"to": "c", "kind": "ally"}), 400, field="to")
        self.assertError(rep.post(url, {"to": b["id"], "kind": "ally"}), 400, field="to")      # itself
        self.assertError(rep.post(url, {"to": x["id"], "kind": "ally"}), 400, field="to")      # another deal
        self.assertError(rep.post(url, {"to": 99999999, "kind": "ally"}), 400, field="to")
        self.assertError(rep.post(url, {"to": c["id"], "kind": "ally", "note": "x"}), 400, field="note")
        self.assertError(rep.post(self.sh_url(other, a) + "/links", {"to": x["id"], "kind": "ally"}), 404,
                         "not_found")
        # the map carries the links
        m = self.the_map(rep, opp)
        links = {(l["from"], l["to"], l["kind"]) for l in m["links"]}
        self.assertEqual(links, {(a["id"], b["id"], "ally"), (c["id"], a["id"], "rival")})
        self.assertEqual({l["id"] for l in m["links"]}, {ally["id"], rival["id"]})
        self.assertEqual(self.the_map(rep, other)["links"], [])
        # the manager above may link too; a read of the map by them shows the same
        self.assertStatus(self.org.mgr.post(self.sh_url(opp, b) + "/links", {"to": c["id"], "kind": "rival"}), 201)
        self.assertEqual(len(self.the_map(self.org.mgr, opp)["links"]), 3)

    # ------------------------------------------------------------------ the map

    def build_chart(self, rep, acc):
        """A four-level org chart:

            ceo (executive)
            ├── cto (director)
            │   └── itm (manager)
            │       └── eng (staff)
            ├── cfo (director)
            │   └── buyer (manager)
            └── pa (staff, no part in the deal)
        """
        c = {}

        def person(key, rank, boss=None, **kw):
            c[key] = self.contact(rep, acc["id"], name="%s %s" % (key.upper(), uniq("p")), rank=rank,
                                  reports_to_id=c[boss]["id"] if boss else None, **kw)

        person("ceo", "executive", title="CEO", faction="founders")
        person("cto", "director", "ceo", title="CTO", faction="engineering")
        person("cfo", "director", "ceo", title="CFO")
        person("pa", "staff", "ceo", title="Assistant")
        person("itm", "manager", "cto", title="IT manager")
        person("eng", "staff", "itm", title="Engineer")
        person("buyer", "manager", "cfo", title="Purchasing")
        return c

    def test_map_on_a_four_level_org_chart(self):
        rep = self.org.rep1
        acc = self._post(rep, "accounts", {"name": uniq("Map Four")})
        c = self.build_chart(rep, acc)
        opp = self.opportunity(rep, acc["id"], stage="compare")
        s = {}
        s["ceo"] = self.add(rep, opp, c["ceo"], role="decision_maker", attitude="supporter", influence=5)
        s["cfo"] = self.add(rep, opp, c["cfo"], role="decision_maker", attitude="neutral", influence=4,
                            tags=["purchaser"])
        s["cto"] = self.add(rep, opp, c["cto"], role="technical_gatekeeper", attitude="opponent", influence=4)
        s["itm"] = self.add(rep, opp, c["itm"], role="user", attitude="non_supporter", influence=3)
        s["eng"] = self.add(rep, opp, c["eng"], role="user", attitude="neutral", influence=2, tags=["operator"])
        s["buyer"] = self.add(rep, opp, c["buyer"], attitude="supporter", influence=1, tags=["purchaser"])
        # another deal on the same account: its stakeholders are not on this map
        other = self.opportunity(rep, acc["id"])
        self.add(rep, other, c["pa"], role="coach", attitude="coach")

        m = self.the_map(rep, opp)
        # org: the account's contacts as a tree by reports_to_id
        n = self.nodes(m["org"])
        self.assertEqual(set(n), {x["id"] for x in c.values()}, "the tree must hold every contact once")
        self.assertEqual([r.get("contact_id", r.get("id")) for r in m["org"]], [c["ceo"]["id"]], "one root: the CEO")
        parent = {k: n[c[k]["id"]][1] for k in c}
        self.assertEqual(parent, {"ceo": None, "cto": c["ceo"]["id"], "cfo": c["ceo"]["id"], "pa": c["ceo"]["id"],
                                  "itm": c["cto"]["id"], "eng": c["itm"]["id"], "buyer": c["cfo"]["id"]})
        self.assertEqual(n[c["eng"]["id"]][2], 4, "four levels")
        self.assertEqual(max(d for _, _, d in n.values()), 4)
        self.assertEqual(n[c["cto"]["id"]][0].get("name"), c["cto"]["name"])
        self.assertEqual(n[c["cto"]["id"]][0].get("rank"), "director")
        # each node with its part in this opportunity
        for k, sh in s.items():
            p = self.part(n[c[k]["id"]][0])
            self.assertIsInstance(p, dict, "node %s has no stakeholder data" % k)
            self.assertEqual(p["id"], sh["id"], k)
            self.assertEqual((p["role"], p["attitude"], p["influence"]), (sh["role"], sh["attitude"], sh["influence"]), k)
        self.assertIsNone(self.part(n[c["pa"]["id"]][0]), "the assistant has a part only in the other deal")
        # coverage, decision makers, opponents
        self.assertEqual(m["coverage"], {"decision_maker": True, "user": True, "technical_gatekeeper": True,
                                         "coach": False})
        self.assertAlmostEqual(m["decision_maker_attitude"], 0.5)   # (+1 + 0) / 2
        self.assertEqual(m["opponents"], [s["cto"]["id"]])
        # next moves: every non-opponent below coach, one step warmer, most influential first
        moves = m["next_moves"]
        self.assertEqual([mv["stakeholder_id"] for mv in moves],
                         [s[k]["id"] for k in ("ceo", "cfo", "itm", "eng", "buyer")])
        self.assertEqual([mv["to"] for mv in moves], ["coach", "supporter", "neutral", "supporter", "coach"])
        for mv in moves:
            sid = mv["stakeholder_id"]
            k = [k for k in s if s[k]["id"] == sid][0]
            self.assertEqual(mv["to"], WARMER[s[k]["attitude"]])

        # a coach joins; the opponent softens; a stakeholder is archived
        pa = self.add(rep, opp, c["pa"], role="coach", attitude="coach", influence=2)
        self.assertStatus(rep.patch(self.sh_url(opp, s["cto"]), {"attitude": "non_supporter", "influence": 5}), 200)
        self.assertStatus(rep.delete(self.sh_url(opp, s["eng"])), 200)
        self.assertStatus(rep.patch(self.sh_url(opp, s["cfo"]), {"attitude": "opponent"}), 200)
        m = self.the_map(rep, opp)
        n = self.nodes(m["org"])
        self.assertEqual(m["coverage"], {"decision_maker": True, "user": True, "technical_gatekeeper": True,
                                         "coach": True})
        self.assertAlmostEqual(m["decision_maker_attitude"], -0.5)  # (+1 - 2) / 2
        self.assertEqual(m["opponents"], [s["cfo"]["id"]])
        ids = [mv["stakeholder_id"] for mv in m["next_moves"]]
        self.assertNotIn(pa["id"], ids, "a coach is not moved")
        self.assertNotIn(s["eng"]["id"], ids, "an archived stakeholder is not on the map")
        self.assertNotIn(s["cfo"]["id"], ids, "an opponent is isolated, not moved")
        self.assertEqual(set(ids[:2]), {s["ceo"]["id"], s["cto"]["id"]}, "influence 5 first")
        self.assertEqual(ids[2:], [s[k]["id"] for k in ("itm", "buyer")])
        to = {mv["stakeholder_id"]: mv["to"] for mv in m["next_moves"]}
        self.assertEqual(to[s["cto"]["id"]], "neutral")
        self.assertEqual(to[s["ceo"]["id"]], "coach")
        self.assertIsNone(self.part(n[c["eng"]["id"]][0]), "archived stakeholder still on the tree")
        self.assertEqual(self.part(n[c["pa"]["id"]][0])["id"], pa["id"])
        # removing the last user uncovers the role
        self.assertStatus(rep.delete(self.sh_url(opp, s["itm"])), 200)
        self.assertFalse(self.the_map(rep, opp)["coverage"]["user"])
        # the manager above sees the same map
        self.assertEqual(self.the_map(self.org.mgr, opp)["opponents"], [s["cfo"]["id"]])

    def test_map_without_decision_makers_and_without_stakeholders(self):
        rep = self.org.rep1
        acc = self._post(rep, "accounts", {"name": uniq("Map Empty")})
        boss = self.contact(rep, acc["id"], rank="executive")
        clerk = self.contact(rep, acc["id"], rank="staff", reports_to_id=boss["id"])
        loner = self.contact(rep, acc["id"])
        opp = self.opportunity(rep, acc["id"])
        m = self.the_map(rep, opp)
        self.assertEqual(m["coverage"], {"decision_maker": False, "user": False, "technical_gatekeeper": False,
                                         "coach": False})
        self.assertIsNone(m["decision_maker_attitude"])
        self.assertEqual(m["opponents"], [])
        self.assertEqual(m["next_moves"], [])
        self.assertEqual(m["links"], [])
        n = self.nodes(m["org"])
        self.assertEqual(set(n), {boss["id"], clerk["id"], loner["id"]})
        self.assertEqual(sorted(r.get("contact_id", r.get("id")) for r in m["org"]), sorted([boss["id"], loner["id"]]))
        self.assertEqual(n[clerk["id"]][1], boss["id"])
        self.assertTrue(all(self.part(x[0]) is None for x in n.values()))
        self.add(rep, opp, clerk, role="user", attitude="opponent", influence=1)
        m = self.the_map(rep, opp)
        self.assertIsNone(m["decision_maker_attitude"], "a user is not a decision maker")
        self.assertEqual(m["coverage"]["user"], True)
        self.assertEqual(len(m["opponents"]), 1)
        self.assertEqual(m["next_moves"], [])
        # a single decision maker who is an opponent scores -2
        self.add(rep, opp, boss, role="decision_maker", attitude="opponent", influence=5)
        self.assertAlmostEqual(self.the_map(rep, opp)["decision_maker_attitude"], -2)
        # archived contacts are not on the chart
        self.assertStatus(rep.delete("contacts/%d" % loner["id"]), 200)
        self.assertNotIn(loner["id"], self.nodes(self.the_map(rep, opp)["org"]))


if __name__ == "__main__":
    unittest.main()
