"""43: leads (issue 4; SPEC 1, 2, 6): CRUD and status, the distribution rules per source
(a named user, round-robin over a team's reps, round-robin over partners), conversion into
an account, a contact and an opportunity (or linking to the existing account of that name),
and what partners see."""

import unittest

from harness import PW, ApiTestCase, run_threads, uniq

STATUSES = ("new", "working", "converted", "disqualified")


def uid(v):
    return v["id"] if isinstance(v, dict) else v


class LeadsTest(ApiTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tag = uniq("L").replace("-", "")
        adm = cls.admin
        # a team of three reps and a manager, in id order
        r = adm.post("teams", {"name": "Leads team %s" % cls.tag, "parent_id": cls.org.teams["region"]})
        assert r.status == 201, r
        cls.lteam = r.json["id"]
        cls.lreps = []
        for i in range(3):
            r = adm.post("users", {"username": "lrep%d%s" % (i, cls.tag), "role": "rep", "team_id": cls.lteam,
                                   "password": PW})
            assert r.status == 201, r
            cls.lreps.append(r.json["id"])
            if i == 1:   # a manager of the team between the reps: not in the rotation
                r = adm.post("users", {"username": "lmgr%s" % cls.tag, "role": "manager", "team_id": cls.lteam,
                                       "password": PW})
                assert r.status == 201, r
                cls.lmgr = r.json["id"]
        # two partners
        cls.partners = []
        for i in range(2):
            u = "partner%d%s" % (i, cls.tag)
            r = adm.post("users", {"username": u, "role": "partner", "password": PW})
            assert r.status == 201, r
            cls.partners.append(cls.server.login(u, PW))
        cls.p1, cls.p2 = cls.partners

    # -- helpers
    def lead(self, client, status=201, **fields):
        fields.setdefault("company", uniq("Lead Co"))
        r = client.post("leads", fields)
        self.assertStatus(r, status, "POST leads %r" % fields)
        return r.json

    def get_lead(self, client, lead, status=200):
        r = client.get("leads/%d" % uid(lead))
        self.assertStatus(r, status)
        return r.json

    def rules(self, rules):
        r = self.admin.put("settings/lead-rules", {"rules": rules})
        self.assertStatus(r, 200, "PUT lead rules %r" % rules)
        return r

    def convert(self, client, lead, body=None, status=(200, 201)):
        r = client.post("leads/%d/convert" % uid(lead), body if body is not None else {})
        self.assertStatus(r, status)
        return r

    def owners(self, client, account_id):
        r = client.get("accounts/%d/owners" % account_id)
        self.assertStatus(r, 200)
        return [(uid(e["from"]), uid(e["to"]), e["reason"]) for e in r.json["items"]]

    def tearDown(self):
        r = self.admin.put("settings/lead-rules", {"rules": []})
        self.assertStatus(r, 200)

    # ------------------------------------------------------------------ CRUD

    def test_crud_and_status(self):
        rep = self.org.rep1
        body = {"company": uniq("Sunrise Packaging"), "contact_name": "王经理", "phone": "+86 21 5555 0101",
                "email": "wang@example.com", "source": "web", "assignee_id": rep.id}
        ld = self.lead(rep, **body)
        for k, v in body.items():
            self.assertEqual(ld[k], v, k)
        self.assertEqual(ld["status"], "new")
        self.assertEqual(ld["version"], 1)
        self.assertTimestamp(ld["created_at"])
        self.assertEqual(self.get_lead(rep, ld), ld)
        r = rep.patch("leads/%d" % ld["id"], {"status": "working", "phone": "+86 21 5555 0102"})
        self.assertStatus(r, 200)
        self.assertEqual((r.json["status"], r.json["phone"], r.json["version"]), ("working", "+86 21 5555 0102", 2))
        self.assertIn(ld["id"], self.ids(rep.list_all("leads", {"status": "working"})))
        self.assertNotIn(ld["id"], self.ids(rep.list_all("leads", {"status": "new"})))
        self.assertStatus(rep.patch("leads/%d" % ld["id"], {"status": "disqualified"}), 200)
        # visibility: the assignee's side only
        self.get_lead(self.org.mgr, ld)
        self.get_lead(self.admin, ld)
        for client in (self.org.rep2, self.org.rep3, self.org.other_mgr, self.p1):
            self.assertError(client.get("leads/%d" % ld["id"]), 404, "not_found")
            self.assertNotIn(ld["id"], self.ids(client.list_all("leads")))
            self.assertError(client.patch("leads/%d" % ld["id"], {"status": "new"}), 404)
        # archive and restore
        self.assertStatus(rep.delete("leads/%d" % ld["id"]), 200)
        self.assertError(rep.get("leads/%d" % ld["id"]), 404)
        self.assertNotIn(ld["id"], self.ids(rep.list_all("leads")))
        self.assertStatus(self.admin.post("leads/%d/restore" % ld["id"]), 200)
        self.assertEqual(self.get_lead(rep, ld)["status"], "disqualified")

    def test_a_lead_without_a_rule_stays_readable_by_whoever_created_it(self):
        # no distribution rules (tearDown clears them): nobody is picked
        for client in (self.org.mgr, self.org.rep1, self.admin):
            ld = self.lead(client, company=uniq("Walk-in"), source="walk-in")
            r = client.get("leads/%d" % ld["id"])
            self.assertStatus(r, 200, "the creator of lead %d (assignee %r) cannot read it back"
                              % (ld["id"], ld["assignee_id"]))
            self.assertIn(ld["id"], self.ids(client.list_all("leads")))

    def test_validation(self):
        rep = self.org.rep1
        self.assertError(rep.post("leads", {"source": "web", "assignee_id": rep.id}), 400, "required", field="company")
        for extra, field in (({"status": "won"}, "status"), ({"status": 1}, "status"), ({"company": 5}, "company"),
                             ({"assignee_id": "me"}, "assignee_id"), ({"colour": "red"}, "colour")):
            body = {"company": uniq("Bad"), "assignee_id": rep.id}
            body.update(extra)
            self.assertError(rep.post("leads", body), 400, field=field, msg=repr(extra))
        ld = self.lead(rep, assignee_id=rep.id)
        self.assertError(rep.patch("leads/%d" % ld["id"], {"status": "lost"}), 400, field="status")
        self.assertError(rep.get("leads", query={"status": "lost"}), 400, "invalid_param", field="status")

    # ------------------------------------------------------------------ distribution rules

    def test_rules_are_admin_only_and_validated(self):
        good = [{"source": "web", "assign": "team", "team_id": self.lteam},
                {"source": "fair", "assign": "user", "user_id": self.org.rep2.id},
                {"source": "*", "assign": "partners"}]
        for client in (self.org.rep1, self.org.mgr, self.p1):
            self.assertError(client.put("settings/lead-rules", {"rules": good}), 403, "forbidden")
        r = self.rules(good)
        got = self.admin.get("settings/lead-rules")
        self.assertStatus(got, 200)
        self.assertEqual(got.json["rules"], good)
        for bad in ([{"source": "web", "assign": "robot"}],
                    [{"source": "web", "assign": "user"}],
                    [{"source": "web", "assign": "user", "user_id": 987654}],
                    [{"source": "web", "assign": "team", "team_id": 987654}],
                    [{"assign": "partners"}],
                    "web"):
            self.assertError(self.admin.put("settings/lead-rules", {"rules": bad}), 400, msg=repr(bad))
        self.assertEqual(self.admin.get("settings/lead-rules").json["rules"], good, "a bad PUT changed the rules")

    def test_new_leads_are_assigned_by_their_sources_rule(self):
        self.rules([{"source": "web", "assign": "team", "team_id": self.lteam},
                    {"source": "fair", "assign": "user", "user_id": self.org.rep2.id},
                    {"source": "*", "assign": "partners"}])
        # round-robin over the team's reps in id order, wrapping; the team's manager is no rep
        got = [self.lead(self.admin, source="web")["assignee_id"] for _ in range(7)]
        r1, r2, r3 = sorted(self.lreps)
        self.assertEqual(got, [r1, r2, r3, r1, r2, r3, r1], "web leads: %r (reps %r)" % (got, self.lreps))
        self.assertNotIn(self.lmgr, got)
        # a named user
        got = [self.lead(self.admin, source="fair")["assignee_id"] for _ in range(3)]
        self.assertEqual(got, [self.org.rep2.id] * 3)
        # everything else: round-robin over the partners
        pids = sorted(p.id for p in self.partners)
        got = [self.lead(self.admin, source="expo")["assignee_id"] for _ in range(4)]
        self.assertEqual(got, [pids[0], pids[1], pids[0], pids[1]], "partner rotation %r" % got)
        # a lead that names its assignee keeps it
        ld = self.lead(self.admin, source="web", assignee_id=self.org.rep1.id)
        self.assertEqual(ld["assignee_id"], self.org.rep1.id)
        # the rotation went on where it stopped
        self.assertEqual(self.lead(self.admin, source="web")["assignee_id"], r2)
        # a rep's new lead follows the rule too
        ld = self.lead(self.org.rep1, source="fair")
        self.assertEqual(ld["assignee_id"], self.org.rep2.id)
        self.assertError(self.org.rep1.get("leads/%d" % ld["id"]), 404)
        self.get_lead(self.org.rep2, ld)

    def test_concurrent_new_leads_are_spread_evenly(self):
        src = uniq("ads")
        self.rules([{"source": src, "assign": "team", "team_id": self.lteam}])

        def post(i):
            c = self.server.client(token=self.admin.token)
            try:
                r = c.post("leads", {"company": uniq("Rush"), "source": src})
                return r.status, (r.json or {}).get("assignee_id")
            finally:
                c.close()
        results = run_threads(9, post)
        self.assertEqual([x for x in results if isinstance(x, BaseException)], [])
        self.assertEqual([s for s, _ in results], [201] * 9, results)
        got = [a for _, a in results]
        self.assertEqual(sorted(got), sorted(self.lreps * 3), "9 leads over 3 reps: %r" % got)

    # ------------------------------------------------------------------ partners

    def test_partners_see_their_own_leads_only(self):
        mine = [self.lead(self.admin, assignee_id=self.p1.id) for _ in range(2)]
        theirs = self.lead(self.admin, assignee_id=self.p2.id)
        reps = self.lead(self.admin, assignee_id=self.org.rep1.id)
        listed = set(self.ids(self.p1.list_all("leads")))
        self.assertTrue({m["id"] for m in mine} <= listed)
        self.assertFalse({theirs["id"], reps["id"]} & listed)
        self.assertTrue(all(ld["assignee_id"] == self.p1.id for ld in self.p1.list_all("leads")))
        self.assertError(self.p1.get("leads/%d" % theirs["id"]), 404, "not_found")
        self.assertError(self.p1.get("leads/%d" % reps["id"]), 404, "not_found")
        self.get_lead(self.p1, mine[0])
        # a partner works their lead
        self.assertStatus(self.p1.patch("leads/%d" % mine[0]["id"], {"status": "working"}), 200)

    def test_partner_sees_the_account_made_from_their_lead_and_no_other(self):
        company = uniq("Partner Find")
        ld = self.lead(self.admin, company=company, contact_name="Li Wei", assignee_id=self.p1.id)
        other = self.lead(self.admin, assignee_id=self.p2.id)
        reps_acc = self.account(self.org.rep1)
        r = self.convert(self.p1, ld)
        acc_id = r.json["account_id"]
        self.assertIs(r.json["linked"], False)
        a = self.p1.get("accounts/%d" % acc_id)
        self.assertStatus(a, 200)
        self.assertEqual(a.json["name"], company)
        self.assertEqual(self.ids(self.p1.list_all("accounts")), [acc_id],
                         "a partner lists exactly the accounts made from their leads")
        self.assertStatus(self.p1.get("contacts/%d" % r.json["contact_id"]), 200)
        self.assertError(self.p1.get("accounts/%d" % reps_acc["id"]), 404)
        # the other partner sees none of it
        self.assertError(self.p2.get("accounts/%d" % acc_id), 404)
        self.assertNotIn(acc_id, self.ids(self.p2.list_all("accounts")))
        self.assertError(self.p2.post("leads/%d/convert" % ld["id"], {}), 404)
        self.assertError(self.p1.post("leads/%d/convert" % other["id"], {}), 404)
        self.assertEqual(self.get_lead(self.p1, ld)["status"], "converted")

    # ------------------------------------------------------------------ conversion

    def test_convert_creates_account_contact_and_opportunity(self):
        rep = self.org.rep1
        company = uniq("Golden Bridge Printing")
        ld = self.lead(rep, company=company, contact_name="Zhang San", phone="+86 10 5555 0110",
                       email="zhang@example.com", source="web", assignee_id=rep.id)
        r = self.convert(rep, ld, {"create_opportunity": {"name": "Press line 2027", "amount": 3200000,
                                                          "stage": "interest"}})
        out = r.json
        self.assertEqual(set(out) >= {"lead_id", "account_id", "contact_id", "opportunity_id", "linked"}, True, out)
        self.assertEqual(out["lead_id"], ld["id"])
        self.assertIs(out["linked"], False)
        acc = rep.get("accounts/%d" % out["account_id"])
        self.assertStatus(acc, 200)
        self.assertEqual((acc.json["name"], acc.json["owner_id"]), (company, rep.id))
        ct = rep.get("contacts/%d" % out["contact_id"])
        self.assertStatus(ct, 200)
        self.assertEqual((ct.json["name"], ct.json["account_id"], ct.json["phone"], ct.json["email"]),
                         ("Zhang San", out["account_id"], "+86 10 5555 0110", "zhang@example.com"))
        op = rep.get("opportunities/%d" % out["opportunity_id"])
        self.assertStatus(op, 200)
        self.assertEqual((op.json["name"], op.json["amount"], op.json["stage"], op.json["account_id"]),
                         ("Press line 2027", 3200000, "interest", out["account_id"]))
        lead = self.get_lead(rep, ld)
        self.assertEqual(lead["status"], "converted")
        self.assertEqual(self.owners(rep, out["account_id"]), [(None, rep.id, "converted")])
        # once only
        r = rep.post("leads/%d/convert" % ld["id"], {})
        self.assertError(r, 409)
        self.assertEqual(len(self.admin.list_all("accounts", {"name": company})), 1)
        # without an opportunity
        ld2 = self.lead(rep, company=uniq("No Deal Yet"), contact_name="Qian", assignee_id=rep.id)
        out2 = self.convert(rep, ld2).json
        self.assertIsNone(out2["opportunity_id"])
        self.assertEqual(rep.list_all("opportunities", {"account_id": out2["account_id"]}), [])
        # others cannot convert what they cannot see
        ld3 = self.lead(rep, assignee_id=rep.id)
        self.assertError(self.org.rep2.post("leads/%d/convert" % ld3["id"], {}), 404)
        self.assertEqual(self.get_lead(rep, ld3)["status"], "new")
        # bad input
        self.assertError(rep.post("leads/%d/convert" % ld3["id"], {"create_opportunity": {"name": "x",
                                                                                          "stage": "nope"}}),
                         400, field="stage")
        self.assertError(rep.post("leads/%d/convert" % ld3["id"], {"colour": 1}), 400, field="colour")
        self.assertError(rep.post("leads/987654/convert", {}), 404)

    def test_concurrent_conversions_of_one_lead_succeed_once(self):
        rep = self.org.rep1
        company = uniq("Twice Co")
        ld = self.lead(rep, company=company, contact_name="Sun", assignee_id=rep.id)

        def conv(i):
            c = self.server.client(token=rep.token)
            try:
                return c.post("leads/%d/convert" % ld["id"], {}).status
            finally:
                c.close()
        results = run_threads(6, conv)
        self.assertEqual([x for x in results if isinstance(x, BaseException)], [])
        self.assertEqual(len([s for s in results if s in (200, 201)]), 1, results)
        self.assertEqual(sorted(s for s in results if s not in (200, 201)), [409] * 5, results)
        self.assertEqual(len(self.admin.list_all("accounts", {"name": company})), 1)

    def test_convert_links_to_the_existing_account_of_that_name(self):
        rep = self.org.rep1
        base = "Acme Printing %s" % self.tag
        existing = self.account(rep, name=base)
        before = self.owners(rep, existing["id"])
        fullwidth = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in base.upper())
        for company in (base.upper(), fullwidth, base.lower()):
            ld = self.lead(rep, company=company, contact_name=uniq("Buyer"), assignee_id=rep.id)
            r = self.convert(rep, ld, {"create_opportunity": {"name": uniq("Deal"), "amount": 1000,
                                                              "stage": "brewing"}})
            self.assertEqual(r.json["account_id"], existing["id"], "%r did not link" % company)
            self.assertIs(r.json["linked"], True)
            ct = rep.get("contacts/%d" % r.json["contact_id"]).json
            self.assertEqual(ct["account_id"], existing["id"])
            op = rep.get("opportunities/%d" % r.json["opportunity_id"]).json
            self.assertEqual(op["account_id"], existing["id"])
        self.assertEqual(self.ids(self.admin.list_all("accounts", {"name": base})), [existing["id"]])
        self.assertEqual(len(rep.list_all("contacts", {"account_id": existing["id"]})), 3)
        self.assertEqual(self.owners(rep, existing["id"]), before, "linking changed the owner history")
        self.assertEqual(rep.get("accounts/%d" % existing["id"]).json["owner_id"], rep.id)


if __name__ == "__main__":
    unittest.main()
