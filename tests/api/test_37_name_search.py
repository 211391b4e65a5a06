"""37: the account name search (issue 9): the trigram index (3+ characters) and the instr()
fallback (1-2 characters) answer exactly the substring matches, follow renames, archives and
visibility, and take quotes and FTS syntax as plain text."""

import sqlite3
import unittest

from harness import ApiTestCase, is_pg, uniq


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

    def import_names(self, names, status=200, bad=None):
        data = ("name,importance\n" + "".join(n + ("," + ("Z" if i == bad else "B")) + "\n"
                                                for i, n in enumerate(names))).encode()
        r = self.org.rep1.request("POST", "import/accounts", raw=data,
                                  headers={"Content-Type": "text/csv"})
        self.assertEqual(r.status, status, r.body)
        return r.json

    def index_agrees(self, who, queries):
        """Every query's answer equals the substring matches among all the accounts `who`
        sees, and no bulk load left the index deferred."""
        names, after = {}, None
        while True:
            q = {"limit": 200}
            if after:
                q["cursor"] = after
            page = who.get("accounts", query=q).json
            names.update({a["id"]: a["name"] for a in page["items"]})
            after = page["next"]
            if not after:
                break
        for q in queries:
            self.assertEqual(self.ids(who, q), sorted(i for i, n in names.items() if q in n), q)
        if is_pg(self.server.db):   # pg_trgm's index needs no deferral (migrations 9, 10: none)
            return True
        db = sqlite3.connect(self.server.db)
        try:
            return db.execute("SELECT count(*) FROM name_index_defer").fetchone()[0] == 0
        finally:
            db.close()

    def test_imported_names_are_found(self):
        """An import fills the name index once at its end (migration 9): its accounts are
        found at once, renames and archives of them follow, and a failed import leaves the
        index as it was."""
        rep = self.org.rep1
        names = ["广州%s导入%03d号贸易公司" % (self.tag, i) for i in range(60)]
        self.import_names(names)
        self.assertEqual(len(self.ids(rep, self.tag + "导入")), 60)
        one = self.ids(rep, self.tag + "导入007号")
        self.assertEqual(len(one), 1)
        rep.patch("accounts/%d" % one[0], {"name": "广州%s改名007号贸易公司" % self.tag})
        self.assertEqual(self.ids(rep, self.tag + "导入007号"), [])
        self.assertEqual(self.ids(rep, self.tag + "改名007号"), one)
        # a bad row (no such importance) in the middle: nothing written, nothing indexed
        self.import_names(["深圳%s失败%d号公司" % (self.tag, i) for i in range(7)], status=422,
                          bad=4)
        self.assertEqual(self.ids(rep, self.tag + "失败"), [])
        # accounts created one by one afterwards are indexed by the trigger again
        e = rep.post("accounts", {"name": "珠海%s单建公司" % self.tag}).json
        self.assertEqual(self.ids(rep, self.tag + "单建公"), [e["id"]])
        self.assertTrue(self.index_agrees(rep, [self.tag + "导入", "改名", "导入00", "贸易",
                                                self.tag, "单建", "失败", "公司"]))

    def test_rare_pair_among_common_ones(self):
        """A query whose first pairs are in many names and a later one in few: SQLite looks up
        the rare pair alone (sqlite.c name_rare_pair) and instr keeps the answer exactly the
        substring's, among names that hold the rare pair elsewhere."""
        rep, t = self.org.rep1, self.tag
        self.import_names(["南京%s甲乙%03d号公司" % (t, i) for i in range(70)] +
                          ["Many %s-abc %03d" % (t, i) for i in range(70)])
        hit = rep.post("accounts", {"name": "南京%s甲乙丙丁公司" % t}).json
        near = [rep.post("accounts", {"name": n % t}).json for n in
                ("乙丙丁%s南京甲", "南京%s甲丙乙丙丁", "Few %s-abXY abcXY")]
        self.assertEqual(self.ids(rep, t + "甲乙丙"), [hit["id"]])
        self.assertEqual(self.ids(rep, t[-3:] + "甲乙丙丁"), [hit["id"]])
        self.assertEqual(self.ids(rep, "乙丙丁"), sorted([hit["id"], near[0]["id"], near[1]["id"]]))
        self.assertEqual(self.ids(rep, t + "-abcXY"), [])
        self.assertEqual(self.ids(rep, "abcXY"), [near[2]["id"]])
        self.assertEqual(self.ids(self.org.rep2, t + "甲乙丙"), [])
        self.assertTrue(self.index_agrees(rep, [t + "甲乙丙", "甲乙丙丁", "乙丙", "丙丁公",
                                                t + "-abc", "-abXY", "bcXY", t + "甲乙00"]))


if __name__ == "__main__":
    unittest.main()
