"""72: exports (issue 7; SPEC 9): CSV (UTF-8 with BOM) and XLSX with the list filters, only what
the caller may see (and never a VVIP account's sensitive blocks without need to know), formula
neutralisation, and the round trip: export, import into a fresh server, export again."""

import csv
import io
import json
import unittest
import zipfile

from harness import ApiTestCase, Server, uniq

FORMULAS = ["=1+1", "+86 21 5555", "-2", "@SUM(A1)", "\tTAB", "\rCR"]


def rows(body):
    text = body.decode("utf-8")
    assert text.startswith("\ufeff"), "no BOM"
    return list(csv.DictReader(io.StringIO(text[1:], newline="")))


class ExportTest(ApiTestCase):
    ORG_USERS = ("mgr", "rep1", "rep2")

    def export(self, client, obj, fmt="csv", status=200, **query):
        r = client.get("export/%s.%s" % (obj, fmt), query=query or None)
        self.assertStatus(r, status)
        return r

    def test_csv_has_bom_header_and_only_visible_records(self):
        p = uniq("Vis")
        mine = self.account(self.org.rep1, name=p + "-mine", industry="印刷")
        theirs = self.account(self.org.rep2, name=p + "-theirs", industry="印刷")
        r = self.export(self.org.rep1, "accounts", name=p)
        self.assertIn("text/csv", r.header("Content-Type"))
        self.assertIn("accounts.csv", r.header("Content-Disposition"))
        got = rows(r.body)
        self.assertEqual([x["name"] for x in got], [p + "-mine"])
        self.assertEqual(got[0]["id"], str(mine["id"]))
        self.assertIn("touches", got[0])
        self.assertNotIn("_orders", got[0])
        names = [x["name"] for x in rows(self.export(self.org.mgr, "accounts", name=p).body)]
        self.assertEqual(sorted(names), [p + "-mine", p + "-theirs"])
        self.assertEqual(len(rows(self.export(self.org.mgr, "accounts", name=p, owner_id=self.org.rep2.id).body)), 1)
        self.assertIn(str(theirs["id"]), self.export(self.admin, "accounts", name=p).body.decode())
        self.assertError(self.org.rep1.get("export/accounts.csv", query={"limit": 5}), 400, "invalid_param", "limit")
        self.assertError(self.org.rep1.get("export/accounts.csv", query={"colour": "red"}), 400, "invalid_param")

    def test_formulas_neutralised_in_csv_and_xlsx(self):
        p = uniq("Formula")
        for i, f in enumerate(FORMULAS):
            self.account(self.org.rep1, name="%s-%d" % (p, i), notes=f, phone=f if i < 3 else None)
        got = {x["name"]: x for x in rows(self.export(self.org.rep1, "accounts", name=p).body)}
        for i, f in enumerate(FORMULAS):
            self.assertEqual(got["%s-%d" % (p, i)]["notes"], "'" + f)
        self.assertEqual(got[p + "-0"]["phone"], "'=1+1")
        r = self.export(self.org.rep1, "accounts", "xlsx", name=p)
        self.assertIn("spreadsheetml", r.header("Content-Type"))
        z = zipfile.ZipFile(io.BytesIO(r.body))
        sheet = z.read("xl/worksheets/sheet1.xml").decode("utf-8")
        strings = z.read("xl/sharedStrings.xml").decode("utf-8") if "xl/sharedStrings.xml" in z.namelist() else ""
        text = sheet + strings
        for cell in ("'=1+1", "'@SUM(A1)", "'-2"):
            self.assertTrue(cell in text or cell.replace("'", "&apos;") in text, cell)
        self.assertNotIn("<f>", sheet)

    def test_sensitive_blocks_never_exported_without_need_to_know(self):
        acc = self.account(self.org.rep1, name=uniq("VVIP"), importance="VVIP")
        self.contact(self.org.rep1, acc["id"], portrait={"basic": {"m": "1"}, "deep": {"secret": "SENSITIVE-XYZ"}})
        self.assertStatus(self.org.rep1.post("accounts/%d/team" % acc["id"], {"user_id": self.org.rep2.id,
                                                                            "access": "read", "sensitive": False}), (200, 201))
        mine = self.export(self.org.rep1, "contacts", account_id=acc["id"]).body.decode()
        self.assertIn("SENSITIVE-XYZ", mine)
        for fmt in ("csv", "xlsx"):
            body = self.export(self.org.rep2, "contacts", fmt, account_id=acc["id"]).body
            if fmt == "xlsx":
                z = zipfile.ZipFile(io.BytesIO(body))
                body = b"".join(z.read(n) for n in z.namelist())
            self.assertNotIn(b"SENSITIVE-XYZ", body, fmt)
        self.assertEqual(len(rows(self.export(self.org.rep2, "contacts", account_id=acc["id"]).body)), 1)

    def test_round_trip_into_a_fresh_server(self):
        p = uniq("Trip")
        specs = [dict(name=p + "-1", industry="印刷包装", notes="第一行\n第二行, \"引号\"", importance="A",
                      installed_base=[{"brand": "海德堡", "quantity": 2, "years": 3}], phone="+86 21 1"),
                 dict(name=p + "-2", industry="物流", notes="=cmd|' /C calc'!A0", lifecycle="grow",
                      first_deal_on="2025-03-01", website="https://example.com"),
                 dict(name=p + "-3;semi", address="上海市\t浦东新区", scale="200-500人")]
        for s in specs:
            self.account(self.admin, **s)
        first = self.export(self.admin, "accounts", name=p, owner_id=self.admin.id).body
        other = Server()
        try:
            other.start()
            admin2 = other.admin()
            self.assertEqual(admin2.id, self.admin.id)
            r = admin2.request("POST", "import/accounts", raw=first, headers={"Content-Type": "text/csv"})
            self.assertStatus(r, 200)
            self.assertEqual(r.json["created"], 3, r)
            second = admin2.get("export/accounts.csv", query={"name": p}).body
        finally:
            other.stop()
            other.cleanup()
        skip = {"id", "created_at", "updated_at", "assigned_at", "next_touch_on"}
        a = [{k: v for k, v in x.items() if k not in skip} for x in rows(first)]
        b = [{k: v for k, v in x.items() if k not in skip} for x in rows(second)]
        self.assertEqual(a, b)
        self.assertEqual(len(a), 3)
        self.assertEqual(json.loads(a[0]["installed_base"]), specs[0]["installed_base"])


if __name__ == "__main__":
    unittest.main()
