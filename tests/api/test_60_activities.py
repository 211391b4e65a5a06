"""60: activities (follow-ups): fields, channels, parents, touches, lists."""

import datetime
import unittest

from harness import ApiTestCase, uniq

CHANNELS = ("phone", "wechat", "sms", "visit", "invite", "email", "meeting", "quote", "demo", "other")


def instant(s):
    """Parse an RFC 3339 timestamp into an aware datetime."""
    s = s.replace("Z", "+00:00")
    return datetime.datetime.fromisoformat(s)


class ActivitiesTest(ApiTestCase):
    ORG_USERS = ("mgr", "other_mgr", "rep1", "rep2")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        r = cls.org.rep1.post("accounts", {"name": uniq("ActCo")})
        assert r.status == 201, r
        cls.acc = r.json
        r = cls.org.rep2.post("accounts", {"name": uniq("Rep2ActCo")})
        assert r.status == 201, r
        cls.acc_rep2 = r.json

    def test_create_full(self):
        rep = self.org.rep1
        c1 = self.contact(rep, self.acc["id"])
        c2 = self.contact(rep, self.acc["id"])
        opp = self.opportunity(rep, self.acc["id"])
        body = {"account_id": self.acc["id"], "contact_ids": [c1["id"], c2["id"]], "opportunity_id": opp["id"],
                "channel": "visit", "occurred_at": "2026-10-01T09:30:00.000Z", "effective": False,
                "summary": "上门拜访，见了采购总监", "next_touch_on": "2026-10-15"}
        r = rep.post("activities", body)
        self.assertStatus(r, 201)
        a = r.json
        for k in ("account_id", "opportunity_id", "channel", "effective", "summary", "next_touch_on"):
            self.assertEqual(a[k], body[k], k)
        self.assertEqual(sorted(a["contact_ids"]), sorted(body["contact_ids"]))
        self.assertEqual(instant(a["occurred_at"]), instant(body["occurred_at"]))
        self.assertEqual(a["user_id"], rep.id)
        self.assertEqual(a["version"], 1)
        g = rep.get("activities/%d" % a["id"])
        self.assertStatus(g, 200)
        self.assertEqual(g.json, a)

    def test_created_answer_is_the_stored_record_byte_for_byte(self):
        """POST's answer is built from the values inserted, not read back: it must be the very
        bytes GET answers for the new record (field order, types, defaults, escapes, times)."""
        rep, mgr, admin = self.org.rep1, self.org.mgr, self.admin
        acc = self.acc["id"]
        c1 = self.contact(rep, acc)
        opp = self.opportunity(rep, acc)
        bodies = [
            {"account_id": acc, "channel": "phone"},
            {"account_id": acc, "channel": "wechat", "contact_ids": [], "opportunity_id": None,
             "summary": None, "next_touch_on": None, "effective": True},
            {"account_id": acc, "channel": "visit", "contact_ids": [c1["id"]],
             "opportunity_id": opp["id"], "occurred_at": "2026-10-01T17:30:00.5+08:00",
             "effective": False, "next_touch_on": "2026-10-15",
             "summary": "上门拜访 \"quoted\" back\\slash\nline\ttab \u0001 😀 </script>"},
            {"account_id": acc, "channel": "other", "occurred_at": "2026-01-02T03:04:05Z",
             "summary": ""},
        ]
        for who in (rep, mgr, admin):
            for body in bodies:
                r = who.post("activities", body)
                self.assertStatus(r, 201, body)
                g = who.get("activities/%d" % r.json["id"])
                self.assertStatus(g, 200)
                self.assertEqual(r.body, g.body, body)
                self.assertEqual(r.header("ETag"), g.header("ETag"))

    def test_defaults_and_every_channel(self):
        for ch in CHANNELS:
            r = self.org.rep1.post("activities", {"account_id": self.acc["id"], "channel": ch,
                                                  "occurred_at": "2026-09-01T10:00:00.000Z"})
            self.assertStatus(r, 201, ch)
            self.assertEqual(r.json["channel"], ch)
            self.assertIs(r.json["effective"], True, "effective defaults to true")
            self.assertIn(r.json.get("contact_ids"), ([], None))
            self.assertIsNone(r.json["opportunity_id"])

    def test_occurred_at_with_offset_means_the_same_instant(self):
        a = self.activity(self.org.rep1, self.acc["id"], occurred_at="2026-03-01T10:00:00+08:00")
        self.assertEqual(instant(a["occurred_at"]), instant("2026-03-01T02:00:00Z"))

    def test_user_id_is_read_only(self):
        r = self.org.rep1.post("activities", {"account_id": self.acc["id"], "channel": "phone",
                                              "occurred_at": "2026-09-01T10:00:00.000Z",
                                              "user_id": self.org.rep2.id})
        self.assertError(r, 400, "read_only", field="user_id")
        a = self.activity(self.org.rep1, self.acc["id"])
        r = self.org.rep1.patch("activities/%d" % a["id"], {"user_id": self.org.rep2.id})
        self.assertError(r, 400, "read_only", field="user_id")
        # a manager logging on a rep's account is the author
        b = self.activity(self.org.mgr, self.acc["id"])
        self.assertEqual(b["user_id"], self.org.mgr.id)

    def test_validation(self):
        rep = self.org.rep1
        cases = [
            ({"channel": "fax"}, "channel"),
            ({"channel": "Phone"}, "channel"),
            ({"channel": 3}, "channel"),
            ({"effective": "true"}, "effective"),
            ({"effective": 1}, "effective"),
            ({"occurred_at": "yesterday"}, "occurred_at"),
            ({"occurred_at": "2026-13-01T00:00:00Z"}, "occurred_at"),
            ({"occurred_at": "2026-02-30T00:00:00Z"}, "occurred_at"),
            ({"occurred_at": "2026-01-01T25:00:00Z"}, "occurred_at"),
            ({"next_touch_on": "2026-11-31"}, "next_touch_on"),
            ({"contact_ids": "1,2"}, "contact_ids"),
            ({"contact_ids": ["a"]}, "contact_ids"),
            ({"opportunity_id": "x"}, "opportunity_id"),
            ({"summary": 42}, "summary"),
        ]
        for extra, field in cases:
            body = {"account_id": self.acc["id"], "channel": "phone", "occurred_at": "2026-09-01T10:00:00.000Z"}
            body.update(extra)
            self.assertError(rep.post("activities", body), 400, "invalid_field", field=field, msg=repr(extra))
        self.assertError(rep.post("activities", {"channel": "phone", "occurred_at": "2026-09-01T10:00:00Z"}), 400,
                         "required", field="account_id")
        self.assertError(rep.post("activities", {"account_id": self.acc["id"], "occurred_at": "2026-09-01T10:00:00Z"}),
                         400, "required", field="channel")

    def test_linked_records_must_belong_to_the_account(self):
        rep = self.org.rep1
        other_acc = self.account(rep)
        foreign_contact = self.contact(rep, other_acc["id"])
        foreign_opp = self.opportunity(rep, other_acc["id"])
        r = rep.post("activities", {"account_id": self.acc["id"], "channel": "phone",
                                    "occurred_at": "2026-09-01T10:00:00Z", "contact_ids": [foreign_contact["id"]]})
        self.assertError(r, (400, 404), field="contact_ids")
        r = rep.post("activities", {"account_id": self.acc["id"], "channel": "phone",
                                    "occurred_at": "2026-09-01T10:00:00Z", "opportunity_id": foreign_opp["id"]})
        self.assertError(r, (400, 404), field="opportunity_id")
        r = rep.post("activities", {"account_id": self.acc["id"], "channel": "phone",
                                    "occurred_at": "2026-09-01T10:00:00Z", "contact_ids": [987654]})
        self.assertError(r, (400, 404), field="contact_ids")

    def test_parent_account_must_be_visible(self):
        r = self.org.rep1.post("activities", {"account_id": self.acc_rep2["id"], "channel": "phone",
                                              "occurred_at": "2026-09-01T10:00:00Z"})
        self.assertError(r, 404, "not_found", field="account_id")
        r = self.org.other_mgr.post("activities", {"account_id": self.acc["id"], "channel": "phone",
                                                   "occurred_at": "2026-09-01T10:00:00Z"})
        self.assertError(r, 404, "not_found", field="account_id")

    def test_touches_and_last_touch_at(self):
        rep = self.org.rep1
        acc = self.account(rep)
        url = "accounts/%d" % acc["id"]
        self.assertEqual(rep.get(url).json["touches"], 0)
        self.activity(rep, acc["id"], occurred_at="2026-05-01T08:00:00.000Z")
        self.activity(rep, acc["id"], occurred_at="2026-06-01T08:00:00.000Z", channel="visit")
        last = self.activity(rep, acc["id"], occurred_at="2026-07-01T08:00:00.000Z", channel="wechat")
        # not effective: not a touch, and not the last touch
        self.activity(rep, acc["id"], occurred_at="2026-08-01T08:00:00.000Z", effective=False)
        a = rep.get(url).json
        self.assertEqual(a["touches"], 3)
        self.assertEqual(instant(a["last_touch_at"]), instant("2026-07-01T08:00:00Z"))
        # derived: un-marking an activity as effective removes the touch
        r = rep.patch("activities/%d" % last["id"], {"effective": False})
        self.assertStatus(r, 200)
        a = rep.get(url).json
        self.assertEqual(a["touches"], 2)
        self.assertEqual(instant(a["last_touch_at"]), instant("2026-06-01T08:00:00Z"))

    def test_filters(self):
        rep = self.org.rep1
        acc = self.account(rep)
        opp = self.opportunity(rep, acc["id"])
        a = self.activity(rep, acc["id"], channel="phone")
        b = self.activity(rep, acc["id"], channel="visit", opportunity_id=opp["id"])
        c = self.activity(rep, acc["id"], channel="visit")
        q = lambda **kw: self.ids(rep.list_all("activities", dict({"account_id": acc["id"]}, **kw)))
        self.assertEqual(q(), [a["id"], b["id"], c["id"]])
        self.assertEqual(q(channel="visit"), [b["id"], c["id"]])
        self.assertEqual(q(opportunity_id=opp["id"]), [b["id"]])
        self.assertError(rep.get("activities", query={"channel": "fax"}), 400, "invalid_param", field="channel")
        self.assertError(rep.get("activities", query={"account_id": "abc"}), 400, "invalid_param", field="account_id")

    def test_pagination_by_occurred_at_with_ties(self):
        rep = self.org.rep1
        acc = self.account(rep)
        times = ["2026-04-0%dT10:00:00.000Z" % d for d in (3, 1, 2, 1, 3, 2, 1, 2, 3, 1, 2)]
        made = [self.activity(rep, acc["id"], occurred_at=t) for t in times]
        exp = [m["id"] for m in sorted(made, key=lambda m: (instant(m["occurred_at"]), m["id"]))]
        for limit in (1, 2, 3, 4, 10):
            got = self.ids(rep.list_all("activities", {"account_id": acc["id"], "sort": "occurred_at"}, limit=limit))
            self.assertEqual(got, exp, "limit=%d" % limit)
        got = self.ids(rep.list_all("activities", {"account_id": acc["id"], "sort": "-occurred_at"}, limit=3))
        self.assertEqual(len(got), len(set(got)))
        self.assertEqual(set(got), set(exp))
        keys = [instant(next(m["occurred_at"] for m in made if m["id"] == i)) for i in got]
        self.assertEqual(keys, sorted(keys, reverse=True))

    def test_archive_restore_and_if_match(self):
        rep = self.org.rep1
        a = self.activity(rep, self.acc["id"])
        url = "activities/%d" % a["id"]
        self.assertStatus(rep.patch(url, {"summary": "v2"}, headers={"If-Match": "1"}), 200)
        self.assertError(rep.patch(url, {"summary": "v3"}, headers={"If-Match": "1"}), 412, "version_mismatch")
        self.assertStatus(rep.delete(url), 200)
        self.assertError(rep.get(url), 404, "not_found")
        self.assertStatus(self.admin.post(url + "/restore"), 200)
        self.assertEqual(rep.get(url).json["summary"], "v2")


if __name__ == "__main__":
    unittest.main()
