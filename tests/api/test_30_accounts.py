"""30: accounts: fields, validation, duplicates, If-Match, archive/restore,
list filters and pagination."""

import datetime
import unittest

from harness import ApiTestCase, uniq


def fullwidth(s):
    """ASCII -> full-width forms (space -> U+3000 ideographic space)."""
    out = []
    for ch in s:
        if ch == " ":
            out.append("\u3000")
        elif "!" <= ch <= "~":
            out.append(chr(ord(ch) + 0xFEE0))
        else:
            out.append(ch)
    return "".join(out)


FULL = {
    "industry": "printing",
    "scale": "500-1000",
    "nature": "private",
    "address": "上海市浦东新区 1 号",
    "website": "https://example.com",
    "phone": "+86 21 5555 0000",
    "source": "trade show",
    "importance": "A",
    "lifecycle": "grow",
    "first_deal_on": "2024-05-17",
    "installed_base": [{"brand": "Heidelberg", "quantity": 3, "years": 7},
                       {"brand": "Komori", "quantity": 1, "years": 2}],
    "notes": "大客户，注意交期",
}


class AccountsTest(ApiTestCase):

    # -- create / read
    def test_create_returns_full_record_owned_by_rep(self):
        name = uniq("Full Co")
        r = self.org.rep1.post("accounts", dict(FULL, name=name))
        self.assertStatus(r, 201)
        a = r.json
        self.assertIsInstance(a["id"], int)
        self.assertEqual(a["name"], name)
        for k, v in FULL.items():
            self.assertEqual(a[k], v, k)
        self.assertEqual(a["owner_id"], self.org.rep1.id)
        self.assertEqual(a["version"], 1)
        self.assertIsNone(a["archived_at"])
        self.assertTimestamp(a["created_at"])
        self.assertTimestamp(a["updated_at"])
        self.assertEqual(a["touches"], 0)
        self.assertIsNone(a["last_touch_at"])
        g = self.org.rep1.get("accounts/%d" % a["id"])
        self.assertStatus(g, 200)
        self.assertEqual(g.json, a)
        self.assertEqual(g.header("ETag"), '"1"')

    def test_unicode_roundtrip(self):
        name = uniq("北京印刷厂 😀")
        a = self.account(self.org.rep1, name=name, notes="line1\nline2\t\"quoted\" \\ back")
        g = self.org.rep1.get("accounts/%d" % a["id"]).json
        self.assertEqual(g["name"], name)
        self.assertEqual(g["notes"], "line1\nline2\t\"quoted\" \\ back")

    def test_rep_cannot_create_for_someone_else(self):
        name = uniq("NotMine")
        r = self.org.rep1.post("accounts", {"name": name, "owner_id": self.org.rep2.id})
        if r.status == 201:
            self.assertEqual(r.json["owner_id"], self.org.rep1.id)
        else:
            self.assertError(r, (400, 403, 404), field="owner_id")
        for a in self.admin.list_all("accounts", {"name": name}):
            self.assertNotEqual(a["owner_id"], self.org.rep2.id)

    def test_manager_creates_for_a_rep_below(self):
        a = self.account(self.org.mgr, owner_id=self.org.rep1.id)
        self.assertEqual(a["owner_id"], self.org.rep1.id)
        self.assertStatus(self.org.rep1.get("accounts/%d" % a["id"]), 200)

    def test_manager_cannot_create_for_a_rep_outside_their_teams(self):
        name = uniq("Poach")
        r = self.org.other_mgr.post("accounts", {"name": name, "owner_id": self.org.rep1.id})
        self.assertError(r, (400, 403, 404), field="owner_id")
        self.assertEqual(self.admin.list_all("accounts", {"name": name}), [])

    # -- validation
    def test_required_and_types(self):
        c = self.org.rep1
        self.assertError(c.post("accounts", {"industry": "x"}), 400, "required", field="name")
        self.assertError(c.post("accounts", {"name": None}), 400, "required", field="name")
        self.assertError(c.post("accounts", {"name": ""}), 400, ("invalid_field", "required"), field="name")
        bad = [
            ({"name": 123}, "name"),
            ({"name": ["a"]}, "name"),
            ({"importance": "D"}, "importance"),
            ({"importance": "a"}, "importance"),
            ({"lifecycle": "dead"}, "lifecycle"),
            ({"first_deal_on": "2026-02-30"}, "first_deal_on"),
            ({"first_deal_on": "yesterday"}, "first_deal_on"),
            ({"owner_id": "me"}, "owner_id"),
            ({"owner_id": 1.5}, "owner_id"),
            ({"website": 5}, "website"),
            ({"notes": ["x"]}, "notes"),
            ({"phone": {"a": 1}}, "phone"),
        ]
        for extra, field in bad:
            body = {"name": uniq("Bad")}
            body.update(extra)
            self.assertError(c.post("accounts", body), 400, "invalid_field", field=field, msg=repr(extra))
        for ib in ("lots", {"brand": "x"}, [1], [{"brand": "X", "quantity": "many", "years": 1}],
                   [{"brand": "X", "quantity": 1, "years": 1, "colour": "red"}]):
            r = c.post("accounts", {"name": uniq("BadIB"), "installed_base": ib})
            self.assertError(r, 400, ("invalid_field", "unknown_field"), field_prefix="installed_base", msg=repr(ib))
        r = c.post("accounts", {"name": uniq("Unk"), "colour": "red"})
        self.assertError(r, 400, "unknown_field", field="colour")
        # nothing was created by any of these
        self.assertEqual(self.admin.list_all("accounts", {"name": "Bad"}), [])

    def test_blank_name_is_refused(self):
        # a name of only spaces is no name (and cannot be told apart from others)
        for blank in ("   ", "\u3000", "\t"):
            r = self.org.rep1.post("accounts", {"name": blank})
            self.assertError(r, 400, ("invalid_field", "required"), field="name", msg=repr(blank))

    def test_read_only_fields(self):
        c = self.org.rep1
        for field, value in (("id", 999), ("version", 7), ("created_at", "2020-01-01T00:00:00.000Z"),
                             ("updated_at", "2020-01-01T00:00:00.000Z"), ("archived_at", None),
                             ("touches", 12), ("last_touch_at", "2020-01-01T00:00:00.000Z")):
            r = c.post("accounts", {"name": uniq("RO"), field: value})
            self.assertError(r, 400, "read_only", field=field, msg="POST " + field)
        a = self.account(c)
        for field, value in (("id", 999), ("version", 7), ("touches", 12), ("created_at", a["created_at"])):
            r = c.patch("accounts/%d" % a["id"], {field: value})
            self.assertError(r, 400, "read_only", field=field, msg="PATCH " + field)
        self.assertEqual(c.get("accounts/%d" % a["id"]).json["version"], 1)

    # -- duplicates
    def test_duplicate_names_case_and_width_insensitive(self):
        base = "ACME %s Ltd" % uniq("d").replace("-", "")
        a = self.account(self.org.rep1, name=base)
        for variant in (base, base.lower(), base.upper(), fullwidth(base), fullwidth(base.lower())):
            r = self.org.rep1.post("accounts", {"name": variant})
            err = self.assertError(r, 409, "duplicate", msg=repr(variant))
            self.assertEqual(err.get("existing_id"), a["id"], r)
        # a manager above the owner sees it, so is told which one
        r = self.org.mgr.post("accounts", {"name": base.lower(), "owner_id": self.org.rep2.id})
        self.assertEqual(self.assertError(r, 409, "duplicate").get("existing_id"), a["id"])
        # another rep may not see it: 409 but no id
        r = self.org.rep2.post("accounts", {"name": fullwidth(base)})
        err = self.assertError(r, 409, "duplicate")
        self.assertIsNone(err.get("existing_id"), r)
        self.assertNotIn(str(a["id"]), [str(v) for v in err.values() if v is not None and not isinstance(v, str)])
        # renaming onto the name is a duplicate too
        b = self.account(self.org.rep1)
        r = self.org.rep1.patch("accounts/%d" % b["id"], {"name": base.upper()})
        self.assertEqual(self.assertError(r, 409, "duplicate").get("existing_id"), a["id"])
        self.assertEqual(len(self.admin.list_all("accounts", {"name": base})), 1)

    def test_similar_but_different_names_are_allowed(self):
        base = "Omega %s" % uniq("s").replace("-", "")
        self.account(self.org.rep1, name=base + " Ltd")
        self.account(self.org.rep1, name=base + " Ltd 2")
        self.account(self.org.rep1, name=base + " Ltda")

    def test_renaming_to_own_name_in_other_case_is_allowed(self):
        a = self.account(self.org.rep1, name="Case %s co" % uniq("c").replace("-", ""))
        r = self.org.rep1.patch("accounts/%d" % a["id"], {"name": a["name"].upper()})
        self.assertStatus(r, 200)
        self.assertEqual(r.json["name"], a["name"].upper())

    # -- If-Match
    def test_if_match(self):
        c = self.org.rep1
        a = self.account(c, importance="B")
        url = "accounts/%d" % a["id"]
        r = c.patch(url, {"importance": "A"}, headers={"If-Match": "1"})
        self.assertStatus(r, 200)
        self.assertEqual(r.json["version"], 2)
        self.assertEqual(r.json["importance"], "A")
        r = c.patch(url, {"importance": "C"}, headers={"If-Match": "1"})
        self.assertError(r, 412, "version_mismatch")
        self.assertEqual(c.get(url).json["importance"], "A")
        self.assertEqual(c.get(url).header("ETag"), '"2"')
        r = c.patch(url, {"importance": "C"}, headers={"If-Match": '"2"'})
        self.assertStatus(r, 200)
        self.assertEqual(r.json["version"], 3)
        r = c.patch(url, {"importance": "VVIP"}, headers={"If-Match": 'W/"3"'})
        self.assertStatus(r, 200)
        self.assertEqual(r.json["version"], 4)
        r = c.patch(url, {"importance": "B"}, headers={"If-Match": "99"})
        self.assertError(r, 412, "version_mismatch")
        # without If-Match the write just happens
        r = c.patch(url, {"importance": "B"})
        self.assertStatus(r, 200)
        self.assertEqual(r.json["version"], 5)

    def test_noop_patch_keeps_version(self):
        c = self.org.rep1
        a = self.account(c, industry="packaging")
        r = c.patch("accounts/%d" % a["id"], {"industry": "packaging", "name": a["name"]})
        self.assertStatus(r, 200)
        self.assertEqual(r.json["version"], 1)
        self.assertEqual(r.json["updated_at"], a["updated_at"])
        r = c.patch("accounts/%d" % a["id"], {})
        self.assertStatus(r, 200)
        self.assertEqual(r.json["version"], 1)

    def test_patch_updates_only_given_fields_and_updated_at(self):
        c = self.org.rep1
        a = self.account(c, industry="packaging", importance="C", notes="keep me")
        r = c.patch("accounts/%d" % a["id"], {"importance": "A", "notes": None})
        self.assertStatus(r, 200)
        b = r.json
        self.assertEqual(b["importance"], "A")
        self.assertIsNone(b["notes"])
        self.assertEqual(b["industry"], "packaging")
        self.assertEqual(b["created_at"], a["created_at"])
        self.assertGreaterEqual(b["updated_at"], a["updated_at"])
        self.assertEqual(c.get("accounts/%d" % a["id"]).json, b)

    def test_patch_validation(self):
        c = self.org.rep1
        a = self.account(c)
        url = "accounts/%d" % a["id"]
        self.assertError(c.patch(url, {"importance": "Z"}), 400, "invalid_field", field="importance")
        self.assertError(c.patch(url, {"name": None}), 400, ("invalid_field", "required"), field="name")
        self.assertError(c.patch(url, {"bogus": 1}), 400, "unknown_field", field="bogus")
        self.assertEqual(c.get(url).json["version"], 1)

    def test_missing_record_is_404(self):
        self.assertError(self.admin.get("accounts/987654"), 404, "not_found")
        self.assertError(self.admin.patch("accounts/987654", {"notes": "x"}), 404, "not_found")
        self.assertError(self.admin.delete("accounts/987654"), 404, "not_found")
        self.assertError(self.admin.post("accounts/987654/restore"), 404, "not_found")

    # -- archive / restore
    def test_archive_and_restore(self):
        rep = self.org.rep1
        name = "Phoenix %s Ltd" % uniq("p").replace("-", "")
        a = self.account(rep, name=name)
        url = "accounts/%d" % a["id"]
        r = rep.delete(url)
        self.assertStatus(r, 200)
        self.assertTimestamp(r.json["archived_at"])
        self.assertEqual(r.json["version"], 2)
        self.assertEqual(r.json["id"], a["id"])
        # hidden from the rep and the manager, by id and in lists
        for c in (rep, self.org.mgr):
            self.assertError(c.get(url), 404, "not_found")
            self.assertNotIn(a["id"], self.ids(c.list_all("accounts", {"name": name})))
        self.assertError(rep.patch(url, {"notes": "x"}), 404, "not_found")
        self.assertError(rep.delete(url), 404, "not_found")
        # the rep cannot restore it
        self.assertError(rep.post(url + "/restore"), (403, 404), ("forbidden", "not_found"))
        # the admin sees it by id and with archived=true
        g = self.admin.get(url)
        self.assertStatus(g, 200)
        self.assertIsNotNone(g.json["archived_at"])
        self.assertNotIn(a["id"], self.ids(self.admin.list_all("accounts", {"name": name})))
        arch = self.admin.list_all("accounts", {"archived": "true"})
        self.assertIn(a["id"], self.ids(arch))
        self.assertTrue(all(x["archived_at"] for x in arch), "archived=true lists archived only")
        # the name is free again while archived
        b = self.account(rep, name=name.upper())
        r = self.admin.post(url + "/restore")
        self.assertError(r, 409, "duplicate")
        self.assertIsNotNone(self.admin.get(url).json["archived_at"])
        self.assertStatus(rep.patch("accounts/%d" % b["id"], {"name": name + " (new)"}), 200)
        r = self.admin.post(url + "/restore")
        self.assertStatus(r, 200)
        self.assertIsNone(r.json["archived_at"])
        self.assertEqual(r.json["version"], 3)
        self.assertStatus(rep.get(url), 200)
        self.assertIn(a["id"], self.ids(rep.list_all("accounts", {"name": name})))

    def test_archived_account_cannot_parent_new_records(self):
        a = self.account(self.org.rep1)
        self.assertStatus(self.org.rep1.delete("accounts/%d" % a["id"]), 200)
        r = self.org.rep1.post("contacts", {"account_id": a["id"], "name": "Ghost"})
        self.assertError(r, 404, "not_found", field="account_id")

    # -- list filters
    def test_list_envelope_and_filters(self):
        tag = uniq("Flt").replace("-", "")
        a1 = self.account(self.org.rep1, name="%s Alpha" % tag, importance="A", lifecycle="grow")
        a2 = self.account(self.org.rep1, name="%s Beta" % tag, importance="B", lifecycle="grow")
        a3 = self.account(self.org.mgr, name="%s Gamma" % tag, importance="A", owner_id=self.org.rep2.id,
                          lifecycle="mature")
        r = self.admin.get("accounts", query={"name": tag})
        self.assertStatus(r, 200)
        self.assertEqual(set(r.json), {"items", "next"})
        self.assertIsNone(r.json["next"])
        self.assertEqual(self.ids(r.json["items"]), [a1["id"], a2["id"], a3["id"]])
        q = lambda **kw: self.ids(self.admin.list_all("accounts", dict({"name": tag}, **kw)))
        self.assertEqual(q(importance="A"), [a1["id"], a3["id"]])
        self.assertEqual(q(lifecycle="mature"), [a3["id"]])
        self.assertEqual(q(owner_id=self.org.rep2.id), [a3["id"]])
        self.assertEqual(q(owner_id=self.org.rep1.id, importance="B"), [a2["id"]])
        # name is a case- and width-insensitive substring
        self.assertEqual(q(), q(name=tag.lower()))
        self.assertEqual(self.ids(self.admin.list_all("accounts", {"name": fullwidth(tag.upper() + " alp")})),
                         [a1["id"]])
        self.assertEqual(q(name=tag.upper() + " ALPHA"), [a1["id"]])
        self.assertEqual(q(name="nothing-like-this-" + tag), [])

    def test_list_shows_each_change_at_once(self):
        # The server remembers each account's text in a list with the inputs it was written
        # from (docs/BENCHMARKS.md fix 58): every change must show in the very next list, the
        # same record GET by id (which never takes a remembered text) answers.
        tag = uniq("Memo").replace("-", "")
        a = self.account(self.org.rep1, name="%s 记忆" % tag, importance="A")

        def listed():
            r = self.org.rep1.get("accounts", query={"name": tag, "owner_id": self.org.rep1.id})
            self.assertStatus(r, 200)
            self.assertEqual(len(r.json["items"]), 1)
            item = r.json["items"][0]
            g = self.org.rep1.get("accounts/%d" % a["id"])
            self.assertStatus(g, 200)
            self.assertEqual(item, g.json)
            return item

        first = listed()
        self.assertEqual(listed(), first)   # listed again: the same text
        r = self.org.rep1.patch("accounts/%d" % a["id"], {"notes": "改了"})
        self.assertStatus(r, 200)
        self.assertEqual(listed()["notes"], "改了")
        r = self.org.rep1.post("activities", {"account_id": a["id"], "channel": "visit",
                                              "next_touch_on": "2031-01-02"})
        self.assertStatus(r, 201)
        item = listed()
        self.assertEqual(item["touches"], 1)
        self.assertEqual(item["last_touch_at"], r.json["occurred_at"])
        self.assertEqual(item["next_touch_on"], "2031-01-02")
        self.assertStatus(self.org.rep1.delete("accounts/%d" % a["id"]), 200)   # archived
        r = self.org.rep1.get("accounts", query={"name": tag, "owner_id": self.org.rep1.id})
        self.assertEqual(r.json["items"], [])

    def test_updated_since(self):
        tag = uniq("Upd").replace("-", "")
        a = self.account(self.org.rep1, name="%s One" % tag)
        self.assertIn(a["id"], self.ids(self.org.rep1.list_all("accounts", {"name": tag, "updated_since": a["updated_at"]})))
        self.assertIn(a["id"], self.ids(self.org.rep1.list_all("accounts", {"name": tag, "updated_since": "2000-01-01"})))
        self.assertEqual(self.org.rep1.list_all("accounts", {"name": tag, "updated_since": "2999-01-01T00:00:00Z"}), [])
        later = (datetime.datetime.strptime(a["updated_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
                 + datetime.timedelta(milliseconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        self.assertEqual(self.org.rep1.list_all("accounts", {"name": tag, "updated_since": later}), [])
        self.assertError(self.org.rep1.get("accounts", query={"updated_since": "last tuesday"}), 400,
                         "invalid_param", field="updated_since")

    def test_bad_list_params(self):
        c = self.org.rep1
        for q, field in (({"limit": 0}, "limit"), ({"limit": 501}, "limit"), ({"limit": -1}, "limit"),
                         ({"limit": "ten"}, "limit"), ({"limit": "5x"}, "limit"),
                         ({"cursor": "garbage!!"}, "cursor"), ({"sort": "nonexistent"}, "sort"),
                         ({"sort": "-"}, "sort"), ({"sort": "password"}, "sort"),
                         ({"importance": "Z"}, "importance"), ({"owner_id": "me"}, "owner_id"),
                         ({"frobnicate": "1"}, "frobnicate")):
            self.assertError(c.get("accounts", query=q), 400, "invalid_param", field=field, msg=repr(q))
        self.assertStatus(c.get("accounts", query={"limit": 500}), 200)
        self.assertStatus(c.get("accounts", query={"limit": 1}), 200)


class PaginationTest(ApiTestCase):
    """A rep with 60 accounts, paged every way."""

    ORG_USERS = ("rep1", "rep2")
    N = 60

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tag = uniq("Pg").replace("-", "")
        cls.created = []
        for i in range(cls.N):
            # numbers in scrambled order so that name order != id order
            n = (i * 37) % cls.N
            r = cls.org.rep2.post("accounts", {"name": "%s %03d" % (cls.tag, n)})
            assert r.status == 201, r
            cls.created.append(r.json)

    def pages(self, client, query, limit):
        q = dict(query, limit=limit)
        out, seen_pages = [], 0
        while True:
            r = client.get("accounts", query=q)
            self.assertStatus(r, 200)
            items = r.json["items"]
            self.assertLessEqual(len(items), limit)
            seen_pages += 1
            self.assertLess(seen_pages, 500, "pagination does not end")
            out.append(items)
            if r.json["next"] is None:
                return out
            self.assertIsInstance(r.json["next"], str)
            self.assertEqual(len(items), limit, "a page before the last is short")
            q["cursor"] = r.json["next"]

    def check_order(self, query, limit, expected):
        pages = self.pages(self.org.rep2, query, limit)
        got = [a["id"] for p in pages for a in p]
        self.assertEqual(len(got), len(set(got)), "duplicates across pages")
        self.assertEqual(got, expected)

    def test_default_limit_is_50(self):
        r = self.org.rep2.get("accounts", query={"name": self.tag})
        self.assertStatus(r, 200)
        self.assertEqual(len(r.json["items"]), 50)
        self.assertIsNotNone(r.json["next"])
        r2 = self.org.rep2.get("accounts", query={"name": self.tag, "cursor": r.json["next"]})
        self.assertEqual(len(r2.json["items"]), self.N - 50)
        self.assertIsNone(r2.json["next"])

    def test_by_id(self):
        ids = sorted(a["id"] for a in self.created)
        for limit in (1, 7, 10, 59, 60, 61, 500):
            self.check_order({"name": self.tag}, limit, ids)
            self.check_order({"name": self.tag, "sort": "id"}, limit, ids)
        self.check_order({"name": self.tag, "sort": "-id"}, 7, ids[::-1])

    def test_by_name(self):
        by_name = [a["id"] for a in sorted(self.created, key=lambda a: a["name"])]
        self.check_order({"name": self.tag, "sort": "name"}, 7, by_name)
        self.check_order({"name": self.tag, "sort": "-name"}, 9, by_name[::-1])

    def test_by_created_at_ties_broken_by_id(self):
        exp = [a["id"] for a in sorted(self.created, key=lambda a: (a["created_at"], a["id"]))]
        self.check_order({"name": self.tag, "sort": "created_at"}, 8, exp)
        exp_desc = [a["id"] for a in sorted(self.created, key=lambda a: (a["created_at"], a["id"]), reverse=True)]
        got = [a["id"] for p in self.pages(self.org.rep2, {"name": self.tag, "sort": "-created_at"}, 8) for a in p]
        self.assertEqual(sorted(got), sorted(exp_desc))
        self.assertEqual(len(got), len(set(got)))
        # descending by created_at; within equal created_at, ordered by id (either direction is a tie-break)
        keys = [next(a["created_at"] for a in self.created if a["id"] == i) for i in got]
        self.assertEqual(keys, sorted(keys, reverse=True))

    def test_no_gap_when_a_seen_record_is_archived_between_pages(self):
        tag = uniq("Gap").replace("-", "")
        mine = [self.account(self.org.rep1, name="%s %02d" % (tag, i))["id"] for i in range(25)]
        r = self.org.rep1.get("accounts", query={"name": tag, "limit": 10})
        first = [a["id"] for a in r.json["items"]]
        self.assertEqual(first, mine[:10])
        # archive one already seen, and add one at the end
        self.assertStatus(self.org.rep1.delete("accounts/%d" % first[0]), 200)
        extra = self.account(self.org.rep1, name="%s 99" % tag)["id"]
        rest = []
        q = {"name": tag, "limit": 10, "cursor": r.json["next"]}
        while True:
            r = self.org.rep1.get("accounts", query=q)
            self.assertStatus(r, 200)
            rest += [a["id"] for a in r.json["items"]]
            if not r.json["next"]:
                break
            q["cursor"] = r.json["next"]
        self.assertEqual(rest, mine[10:] + [extra])

    def test_other_rep_pages_are_empty(self):
        r = self.org.rep1.get("accounts", query={"name": self.tag})
        self.assertStatus(r, 200)
        self.assertEqual(r.json["items"], [])
        self.assertIsNone(r.json["next"])


if __name__ == "__main__":
    unittest.main()
