"""40: contacts: fields, the org chart (reports_to_id), parents, archive."""

import unittest

from harness import ApiTestCase, uniq


class ContactsTest(ApiTestCase):
    ORG_USERS = ("mgr", "other_mgr", "rep1", "rep2")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        r = cls.org.rep1.post("accounts", {"name": uniq("ContactCo")})
        assert r.status == 201, r
        cls.acc = r.json
        r = cls.org.rep1.post("accounts", {"name": uniq("OtherCo")})
        assert r.status == 201, r
        cls.acc2 = r.json
        r = cls.org.rep2.post("accounts", {"name": uniq("Rep2Co")})
        assert r.status == 201, r
        cls.acc_rep2 = r.json

    def test_create_full_contact(self):
        body = {"account_id": self.acc["id"], "name": "张伟", "title": "采购总监", "department": "采购部",
                "rank": "director", "faction": "老板派", "phone": "+86 138 0000 0000",
                "email": "zhang@example.com", "wechat": "zhangwei88"}
        r = self.org.rep1.post("contacts", body)
        self.assertStatus(r, 201)
        c = r.json
        for k, v in body.items():
            self.assertEqual(c[k], v, k)
        self.assertIsNone(c["reports_to_id"])
        self.assertEqual(c["version"], 1)
        self.assertIsNone(c["archived_at"])
        self.assertTimestamp(c["created_at"])
        g = self.org.rep1.get("contacts/%d" % c["id"])
        self.assertStatus(g, 200)
        self.assertEqual(g.json, c)
        self.assertEqual(g.header("ETag"), '"1"')

    def test_org_chart_same_account_only(self):
        rep = self.org.rep1
        boss = self.contact(rep, self.acc["id"], rank="executive")
        mid = self.contact(rep, self.acc["id"], rank="manager", reports_to_id=boss["id"])
        self.assertEqual(mid["reports_to_id"], boss["id"])
        low = self.contact(rep, self.acc["id"], rank="staff")
        r = rep.patch("contacts/%d" % low["id"], {"reports_to_id": mid["id"]})
        self.assertStatus(r, 200)
        self.assertEqual(r.json["reports_to_id"], mid["id"])
        self.assertEqual(r.json["version"], 2)
        # a contact of another account is refused, on create and on patch
        foreign = self.contact(rep, self.acc2["id"])
        r = rep.post("contacts", {"account_id": self.acc["id"], "name": "X", "reports_to_id": foreign["id"]})
        self.assertError(r, 400, "invalid_field", field="reports_to_id")
        r = rep.patch("contacts/%d" % low["id"], {"reports_to_id": foreign["id"]})
        self.assertError(r, 400, "invalid_field", field="reports_to_id")
        self.assertEqual(rep.get("contacts/%d" % low["id"]).json["reports_to_id"], mid["id"])
        # a contact that does not exist, and one the caller may not see, answer alike
        r1 = rep.post("contacts", {"account_id": self.acc["id"], "name": "Y", "reports_to_id": 987654})
        self.assertError(r1, 400, "invalid_field", field="reports_to_id")
        hidden = self.contact(self.org.rep2, self.acc_rep2["id"])
        r2 = rep.post("contacts", {"account_id": self.acc["id"], "name": "Z", "reports_to_id": hidden["id"]})
        self.assertError(r2, 400, "invalid_field", field="reports_to_id")
        self.assertEqual(r1.error["message"].replace("987654", "#"),
                         r2.error["message"].replace(str(hidden["id"]), "#"))
        # clearing the link is fine
        r = rep.patch("contacts/%d" % mid["id"], {"reports_to_id": None})
        self.assertStatus(r, 200)
        self.assertIsNone(r.json["reports_to_id"])

    def test_moving_a_contact_to_another_account_keeps_the_chart_consistent(self):
        rep = self.org.rep1
        boss = self.contact(rep, self.acc["id"])
        sub = self.contact(rep, self.acc["id"], reports_to_id=boss["id"])
        r = rep.patch("contacts/%d" % sub["id"], {"account_id": self.acc2["id"]})
        if r.status == 200:
            self.assertIsNone(r.json["reports_to_id"], "a contact cannot report to someone of another account")
        else:
            err = self.assertError(r, 400)
            self.assertIn(err["field"], ("reports_to_id", "account_id"), r)
            self.assertEqual(rep.get("contacts/%d" % sub["id"]).json["account_id"], self.acc["id"])

    def test_parent_account_must_be_visible(self):
        r = self.org.rep1.post("contacts", {"account_id": self.acc_rep2["id"], "name": "Spy"})
        self.assertError(r, 404, "not_found", field="account_id")
        r = self.org.rep1.post("contacts", {"account_id": 987654, "name": "Nobody"})
        self.assertError(r, 404, "not_found", field="account_id")
        r = self.org.other_mgr.post("contacts", {"account_id": self.acc["id"], "name": "Spy"})
        self.assertError(r, 404, "not_found", field="account_id")
        # the manager above may add one
        c = self.contact(self.org.mgr, self.acc["id"])
        self.assertStatus(self.org.rep1.get("contacts/%d" % c["id"]), 200)
        # and cannot be moved under an account the caller may not see (moving may
        # be refused altogether: account_id may be create-only)
        r = self.org.rep1.patch("contacts/%d" % c["id"], {"account_id": self.acc_rep2["id"]})
        self.assertError(r, (400, 404), ("not_found", "read_only"), field="account_id")
        self.assertEqual(self.admin.get("contacts/%d" % c["id"]).json["account_id"], self.acc["id"])

    def test_validation(self):
        rep = self.org.rep1
        self.assertError(rep.post("contacts", {"name": "No account"}), 400, "required", field="account_id")
        self.assertError(rep.post("contacts", {"account_id": self.acc["id"]}), 400, "required", field="name")
        for extra, field in (({"rank": "ceo"}, "rank"), ({"rank": 1}, "rank"), ({"account_id": "1"}, "account_id"),
                             ({"reports_to_id": "boss"}, "reports_to_id"), ({"email": 5}, "email"),
                             ({"wechat": True}, "wechat")):
            body = {"account_id": self.acc["id"], "name": uniq("V")}
            body.update(extra)
            self.assertError(rep.post("contacts", body), 400, "invalid_field", field=field, msg=repr(extra))
        r = rep.post("contacts", {"account_id": self.acc["id"], "name": "U", "hobby": "golf"})
        self.assertError(r, 400, "unknown_field", field="hobby")

    def test_list_by_account_and_name(self):
        acc = self.account(self.org.rep1)
        names = ["Li Lei", "Han Meimei", "Li Na"]
        made = [self.contact(self.org.rep1, acc["id"], name=n) for n in names]
        items = self.org.rep1.list_all("contacts", {"account_id": acc["id"]})
        self.assertEqual(self.ids(items), self.ids(made))
        items = self.org.rep1.list_all("contacts", {"account_id": acc["id"], "name": "li "})
        self.assertEqual(self.ids(items), [made[0]["id"], made[2]["id"]])
        items = self.org.rep1.list_all("contacts", {"account_id": acc["id"], "sort": "-name"})
        self.assertEqual([c["name"] for c in items], sorted(names, reverse=True))

    def test_if_match_and_archive_restore(self):
        rep = self.org.rep1
        c = self.contact(rep, self.acc["id"], title="Engineer")
        url = "contacts/%d" % c["id"]
        self.assertStatus(rep.patch(url, {"title": "Lead"}, headers={"If-Match": '"1"'}), 200)
        self.assertError(rep.patch(url, {"title": "Chief"}, headers={"If-Match": '"1"'}), 412, "version_mismatch")
        r = rep.delete(url)
        self.assertStatus(r, 200)
        self.assertIsNotNone(r.json["archived_at"])
        self.assertError(rep.get(url), 404, "not_found")
        self.assertNotIn(c["id"], self.ids(rep.list_all("contacts", {"account_id": self.acc["id"]})))
        self.assertIn(c["id"], self.ids(self.admin.list_all("contacts", {"archived": "true"})))
        r = self.admin.post(url + "/restore")
        self.assertStatus(r, 200)
        self.assertIsNone(r.json["archived_at"])
        self.assertEqual(rep.get(url).json["title"], "Lead")


if __name__ == "__main__":
    unittest.main()
