"""37: the account name search (issue 9): the trigram index (3+ characters) and the instr()
fallback (1-2 characters) answer exactly the substring matches, follow renames, archives and
visibility, and take quotes and FTS syntax as plain text."""

import unittest

from harness import ApiTestCase, uniq


class NameSearchTest(ApiTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tag = uniq("搜")[-6:]   # digits: unique to this run
        rep = cls.org.rep1
        cls.a = rep.post("accounts", {"name": "上海%s宏图机械有限公司" % cls.tag}).json
        cls.b = rep.post("accounts", {"name": "杭州%s宏图电子 \"Star\" AND Co" % cls.tag}).json
        cls.c = rep.post("accounts", {"name": "Suzhou %s Hongtu OR Machinery" % cls.tag}).json

    def ids(self, who, q):
        return sorted(x["id"] for x in who.get("accounts", query={"name": q, "limit": 200}).json["items"])

    def test_long_and_short_queries(self):
        rep = self.org.rep1
        self.assertEqual(self.ids(rep, self.tag + "宏图机械"), [self.a["id"]])
        self.assertEqual(self.ids(rep, self.tag + "宏图"), sorted([self.a["id"], self.b["id"]]))
        self.assertEqual(self.ids(rep, "图机"), [x for x in self.ids(rep, "图机")])
        self.assertIn(self.a["id"], self.ids(rep, "图机"))
        self.assertNotIn(self.b["id"], self.ids(rep, "图机"))

    def test_case_width_and_syntax_are_text(self):
        rep = self.org.rep1
        self.assertEqual(self.ids(rep, self.tag + " HONGTU or"), [self.c["id"]])
        self.assertEqual(self.ids(rep, '"star" and'), [self.b["id"]])
        self.assertEqual(self.ids(rep, self.tag + " Hongtu NEAR"), [])

    def test_rename_archive_and_visibility(self):
        rep = self.org.rep1
        d = rep.post("accounts", {"name": "天津%s旧名称公司" % self.tag}).json
        self.assertEqual(self.ids(rep, self.tag + "旧名称"), [d["id"]])
        rep.patch("accounts/%d" % d["id"], {"name": "天津%s新名称公司" % self.tag})
        self.assertEqual(self.ids(rep, self.tag + "旧名称"), [])
        self.assertEqual(self.ids(rep, self.tag + "新名称"), [d["id"]])
        self.assertEqual(self.ids(self.org.rep2, self.tag + "新名称"), [])
        rep.delete("accounts/%d" % d["id"])
        self.assertEqual(self.ids(rep, self.tag + "新名称"), [])


if __name__ == "__main__":
    unittest.main()
