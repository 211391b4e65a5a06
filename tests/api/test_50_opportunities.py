"""50: opportunities: fields, stages, amounts, owner, parents, filters."""

import unittest

from harness import ApiTestCase, uniq

STAGES = ("interest", "brewing", "design", "compare", "commit", "use", "won", "lost")


class OpportunitiesTest(ApiTestCase):
    ORG_USERS = ("mgr", "other_mgr", "rep1", "rep2")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        r = cls.org.rep1.post("accounts", {"name": uniq("OppCo")})
        assert r.status == 201, r
        cls.acc = r.json
        r = cls.org.rep2.post("accounts", {"name": uniq("Rep2OppCo")})
        assert r.status == 201, r
        cls.acc_rep2 = r.json

    def test_create_full(self):
        body = {"account_id": self.acc["id"], "name": "2027 press line", "amount": 1250000000,
                "stage": "design", "expected_close_on": "2027-03-31",
                "competitors": ["Heidelberg", "小森"], "lost_reason": None}
        r = self.org.rep1.post("opportunities", body)
        self.assertStatus(r, 201)
        o = r.json
        for k, v in body.items():
            self.assertEqual(o[k], v, k)
        self.assertEqual(o["currency"], "CNY")
        self.assertEqual(o["owner_id"], self.org.rep1.id)
        self.assertEqual(o["version"], 1)
        self.assertIsNone(o["archived_at"])
        self.assertTimestamp(o["updated_at"])
        g = self.org.rep1.get("opportunities/%d" % o["id"])
        self.assertStatus(g, 200)
        self.assertEqual(g.json, o)

    def test_every_stage_is_accepted(self):
        for st in STAGES:
            o = self.opportunity(self.org.rep1, self.acc["id"], stage=st,
                                 **({"lost_reason": "price"} if st == "lost" else {}))
            self.assertEqual(o["stage"], st)

    def test_stage_moves_by_patch(self):
        o = self.opportunity(self.org.rep1, self.acc["id"], stage="interest")
        url = "opportunities/%d" % o["id"]
        for i, st in enumerate(("brewing", "design", "compare", "commit"), start=2):
            r = self.org.rep1.patch(url, {"stage": st}, headers={"If-Match": str(i - 1)})
            self.assertStatus(r, 200)
            self.assertEqual(r.json["stage"], st)
            self.assertEqual(r.json["version"], i)
        self.assertError(self.org.rep1.patch(url, {"stage": "signed"}), 400, "invalid_field", field="stage")
        self.assertEqual(self.org.rep1.get(url).json["stage"], "commit")

    def test_amount_is_an_exact_integer(self):
        big = 2 ** 53 - 1
        o = self.opportunity(self.org.rep1, self.acc["id"], amount=big, currency="USD")
        self.assertEqual(o["amount"], big)
        self.assertEqual(o["currency"], "USD")
        g = self.org.rep1.get("opportunities/%d" % o["id"])
        self.assertEqual(g.json["amount"], big)
        self.assertIn(b'"amount":%d' % big, g.body.replace(b" ", b""), "amount must be written as an integer")
        o0 = self.opportunity(self.org.rep1, self.acc["id"], amount=0)
        self.assertEqual(o0["amount"], 0)
        # beyond what the server stores exactly: refused, never rounded
        huge = 2 ** 62 + 1
        r = self.org.rep1.post("opportunities", {"account_id": self.acc["id"], "name": uniq("Huge"),
                                                 "stage": "interest", "amount": huge})
        if r.status == 201:
            self.assertEqual(r.json["amount"], huge)
            self.assertEqual(self.org.rep1.get("opportunities/%d" % r.json["id"]).json["amount"], huge)
        else:
            self.assertError(r, 400, "invalid_field", field="amount")

    def test_validation(self):
        rep = self.org.rep1
        cases = [
            ({"amount": "100"}, "amount"),
            ({"amount": 1.5}, "amount"),
            ({"amount": 1e3}, "amount"),
            ({"amount": True}, "amount"),
            ({"stage": "won!"}, "stage"),
            ({"stage": "Interest"}, "stage"),
            ({"stage": None}, "stage"),
            ({"expected_close_on": "2027-02-29"}, "expected_close_on"),
            ({"expected_close_on": "31/03/2027"}, "expected_close_on"),
            ({"competitors": "Heidelberg"}, "competitors"),
            ({"competitors": [1, 2]}, "competitors"),
            ({"currency": 156}, "currency"),
            ({"owner_id": "me"}, "owner_id"),
        ]
        for extra, field in cases:
            body = {"account_id": self.acc["id"], "name": uniq("BadOpp"), "stage": "interest", "amount": 1}
            body.update(extra)
            r = rep.post("opportunities", body)
            self.assertError(r, 400, ("invalid_field", "required"), field=field, msg=repr(extra))
        self.assertError(rep.post("opportunities", {"name": "x", "stage": "interest", "amount": 1}), 400,
                         "required", field="account_id")
        self.assertError(rep.post("opportunities", {"account_id": self.acc["id"], "stage": "interest", "amount": 1}),
                         400, "required", field="name")
        self.assertError(rep.post("opportunities", dict(account_id=self.acc["id"], name="x", stage="interest",
                                                        amount=1, weighted=5)), 400, "unknown_field", field="weighted")
        self.assertEqual(self.admin.list_all("opportunities", {"name": "BadOpp"}), [])

    def test_integer_beyond_64_bits_names_the_field(self):
        # valid JSON, out of range: invalid_field naming amount (API.md), not invalid_json
        for v in (2 ** 63, -(2 ** 63) - 1, 10 ** 30):
            r = self.org.rep1.post("opportunities", {"account_id": self.acc["id"], "name": uniq("Big"),
                                                     "stage": "interest", "amount": v})
            self.assertError(r, 400, "invalid_field", field="amount", msg=str(v))

    def test_parent_account_must_be_visible(self):
        r = self.org.rep1.post("opportunities", {"account_id": self.acc_rep2["id"], "name": "Steal",
                                                 "stage": "interest", "amount": 1})
        self.assertError(r, 404, "not_found", field="account_id")
        r = self.org.other_mgr.post("opportunities", {"account_id": self.acc["id"], "name": "Steal",
                                                      "stage": "interest", "amount": 1})
        self.assertError(r, 404, "not_found", field="account_id")
        self.assertEqual(self.admin.list_all("opportunities", {"name": "Steal"}), [])

    def test_owner_rules(self):
        # a rep's opportunity is theirs, whatever they send
        r = self.org.rep1.post("opportunities", {"account_id": self.acc["id"], "name": uniq("Own"),
                                                 "stage": "interest", "amount": 1, "owner_id": self.org.rep2.id})
        if r.status == 201:
            self.assertEqual(r.json["owner_id"], self.org.rep1.id)
        else:
            self.assertError(r, (400, 403, 404), field="owner_id")
        # a manager may hand one to a rep below
        o = self.opportunity(self.org.mgr, self.acc["id"], owner_id=self.org.rep2.id)
        self.assertEqual(o["owner_id"], self.org.rep2.id)

    def test_filters(self):
        acc = self.account(self.org.rep1)
        a = self.opportunity(self.org.rep1, acc["id"], stage="design", name="Filter alpha")
        b = self.opportunity(self.org.rep1, acc["id"], stage="commit", name="Filter beta")
        c = self.opportunity(self.org.mgr, acc["id"], stage="design", name="Filter gamma", owner_id=self.org.rep2.id)
        q = lambda **kw: self.ids(self.admin.list_all("opportunities", dict({"account_id": acc["id"]}, **kw)))
        self.assertEqual(q(), [a["id"], b["id"], c["id"]])
        self.assertEqual(q(stage="design"), [a["id"], c["id"]])
        self.assertEqual(q(owner_id=self.org.rep2.id), [c["id"]])
        self.assertEqual(q(name="BETA"), [b["id"]])
        self.assertError(self.admin.get("opportunities", query={"stage": "signed"}), 400, "invalid_param",
                         field="stage")

    def test_sort_by_amount(self):
        acc = self.account(self.org.rep1)
        amounts = [500, 100, 900, 100, 300]
        made = [self.opportunity(self.org.rep1, acc["id"], amount=x) for x in amounts]
        exp = [o["id"] for o in sorted(made, key=lambda o: (o["amount"], o["id"]))]
        got = self.ids(self.org.rep1.list_all("opportunities", {"account_id": acc["id"], "sort": "amount"}, limit=2))
        self.assertEqual(got, exp)
        got = self.ids(self.org.rep1.list_all("opportunities", {"account_id": acc["id"], "sort": "-amount"}, limit=2))
        self.assertEqual([next(o["amount"] for o in made if o["id"] == i) for i in got], sorted(amounts, reverse=True))
        self.assertEqual(len(set(got)), len(made))

    def test_archive_restore(self):
        o = self.opportunity(self.org.rep1, self.acc["id"])
        url = "opportunities/%d" % o["id"]
        self.assertStatus(self.org.rep1.delete(url), 200)
        self.assertError(self.org.rep1.get(url), 404, "not_found")
        self.assertNotIn(o["id"], self.ids(self.org.rep1.list_all("opportunities", {"account_id": self.acc["id"]})))
        self.assertStatus(self.admin.post(url + "/restore"), 200)
        self.assertStatus(self.org.rep1.get(url), 200)


if __name__ == "__main__":
    unittest.main()
