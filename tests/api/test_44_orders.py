"""44: orders, the purchase trajectory (issue 4; SPEC 7): CRUD under the account's
visibility, segments (prospect, beginner, habitual), the repurchase forecast per product
(median interval, expected date, overdue) and the repurchase_overdue warning that turns the
lifecycle to decline until the next order."""

import datetime
import unittest

from harness import ApiTestCase, uniq

SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))


def today():
    return datetime.datetime.now(SHANGHAI).date()


def day(offset):
    return (today() + datetime.timedelta(days=offset)).isoformat()


class OrdersTest(ApiTestCase):
    ORG_USERS = ("mgr", "other_mgr", "rep1", "rep2")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        r = cls.org.rep1.post("accounts", {"name": uniq("Buyer Co")})
        assert r.status == 201, r
        cls.acc = r.json

    # -- helpers
    def order(self, client, account_id, status=201, **fields):
        fields.setdefault("product", "Ink")
        fields.setdefault("ordered_on", day(-1))
        fields["account_id"] = account_id
        r = client.post("orders", fields)
        self.assertStatus(r, status, "POST orders %r" % fields)
        return r.json

    def orders_on(self, client, account_id, pattern):
        """pattern: [(product, days before today), ...]"""
        return [self.order(client, account_id, product=p, ordered_on=day(-d)) for p, d in pattern]

    def get_acc(self, acc, client=None):
        r = (client or self.org.rep1).get("accounts/%d" % (acc["id"] if isinstance(acc, dict) else acc))
        self.assertStatus(r, 200)
        return r.json

    def repurchase(self, acc, product):
        rp = self.get_acc(acc)["repurchase"]
        self.assertIsInstance(rp, list)
        mine = [x for x in rp if x.get("product") == product]
        self.assertLessEqual(len(mine), 1, rp)
        return mine[0] if mine else None

    def codes(self, rec):
        self.assertIsInstance(rec.get("warnings"), list, rec)
        return [w.get("code") for w in rec["warnings"]]

    # ------------------------------------------------------------------ CRUD

    def test_crud(self):
        rep = self.org.rep1
        body = {"account_id": self.acc["id"], "product": "Offset press XL-106", "quantity": 2, "amount": 980000000,
                "ordered_on": "2026-03-15", "paid_on": "2026-04-20"}
        r = rep.post("orders", body)
        self.assertStatus(r, 201)
        o = r.json
        for k, v in body.items():
            self.assertEqual(o[k], v, k)
        self.assertEqual(o["version"], 1)
        self.assertIsNone(o["archived_at"])
        g = rep.get("orders/%d" % o["id"])
        self.assertStatus(g, 200)
        self.assertEqual(g.json, o)
        r = rep.patch("orders/%d" % o["id"], {"quantity": 3, "paid_on": None})
        self.assertStatus(r, 200)
        self.assertEqual((r.json["quantity"], r.json["paid_on"], r.json["version"]), (3, None, 2))
        listed = rep.list_all("orders", {"account_id": self.acc["id"]})
        self.assertIn(o["id"], self.ids(listed))
        self.assertIn(o["id"], self.ids(rep.list_all("orders", {"product": "Offset press XL-106"})))
        self.assertStatus(rep.delete("orders/%d" % o["id"]), 200)
        self.assertError(rep.get("orders/%d" % o["id"]), 404, "not_found")
        self.assertNotIn(o["id"], self.ids(rep.list_all("orders", {"account_id": self.acc["id"]})))
        self.assertStatus(self.admin.post("orders/%d/restore" % o["id"]), 200)
        self.assertEqual(rep.get("orders/%d" % o["id"]).json["quantity"], 3)

    def test_validation(self):
        rep = self.org.rep1
        aid = self.acc["id"]
        self.assertError(rep.post("orders", {"account_id": aid, "ordered_on": "2026-01-01"}), 400, "required",
                         field="product")
        self.assertError(rep.post("orders", {"account_id": aid, "product": "Ink"}), 400, "required",
                         field="ordered_on")
        self.assertError(rep.post("orders", {"product": "Ink", "ordered_on": "2026-01-01"}), 400, "required",
                         field="account_id")
        for extra, field in (({"ordered_on": "2026-02-30"}, "ordered_on"), ({"paid_on": "soon"}, "paid_on"),
                             ({"quantity": "2"}, "quantity"), ({"amount": 1.5}, "amount"),
                             ({"amount": -1}, "amount"), ({"product": 7}, "product"), ({"colour": 1}, "colour")):
            body = {"account_id": aid, "product": "Ink", "ordered_on": "2026-01-01"}
            body.update(extra)
            self.assertError(rep.post("orders", body), 400, field=field, msg=repr(extra))
        o = self.order(rep, aid)
        self.assertError(rep.patch("orders/%d" % o["id"], {"account_id": self.acc["id"]}), 400, field="account_id")

    def test_orders_follow_the_accounts_visibility(self):
        rep1, rep2 = self.org.rep1, self.org.rep2
        o = self.order(rep1, self.acc["id"], product="Plates")
        url = "orders/%d" % o["id"]
        for client in (rep2, self.org.other_mgr):
            self.assertError(client.get(url), 404, "not_found")
            self.assertError(client.patch(url, {"quantity": 9}), 404, "not_found")
            self.assertError(client.delete(url), 404, "not_found")
            self.assertNotIn(o["id"], self.ids(client.list_all("orders")))
            self.assertEqual(client.list_all("orders", {"account_id": self.acc["id"]}), [])
            r = client.post("orders", {"account_id": self.acc["id"], "product": "Ink", "ordered_on": day(-1)})
            self.assertError(r, 404, "not_found", field="account_id")
        self.assertEqual(rep1.get(url).json["quantity"], 1)
        # the manager above sees and edits; the admin too
        self.assertStatus(self.org.mgr.get(url), 200)
        self.assertStatus(self.org.mgr.patch(url, {"quantity": 4}), 200)
        self.assertStatus(self.admin.get(url), 200)
        self.assertIn(o["id"], self.ids(self.org.mgr.list_all("orders", {"account_id": self.acc["id"]})))
        # no order on an unknown account
        r = rep1.post("orders", {"account_id": 987654, "product": "Ink", "ordered_on": day(-1)})
        self.assertError(r, 404, "not_found", field="account_id")

    def test_orders_stay_with_the_account_when_it_changes_hands(self):
        acc = self.account(self.org.rep1)
        o = self.order(self.org.rep1, acc["id"])
        self.assertStatus(self.org.mgr.post("accounts/%d/assign" % acc["id"], {"user_id": self.org.rep2.id}), 200)
        self.assertError(self.org.rep1.get("orders/%d" % o["id"]), 404)
        self.assertStatus(self.org.rep2.get("orders/%d" % o["id"]), 200)
        self.assertEqual(self.ids(self.org.rep2.list_all("orders", {"account_id": acc["id"]})), [o["id"]])

    # ------------------------------------------------------------------ segments

    def test_segments(self):
        rep = self.org.rep1
        prospect = self.account(rep)
        self.assertEqual(self.get_acc(prospect)["segment"], "prospect")
        one_old = self.account(rep)
        self.order(rep, one_old["id"], ordered_on=day(-700))
        self.assertEqual(self.get_acc(one_old)["segment"], "beginner", "exactly one order")
        one_new = self.account(rep)
        self.order(rep, one_new["id"], ordered_on=day(-10))
        self.assertEqual(self.get_acc(one_new)["segment"], "beginner")
        repeat = self.account(rep)
        self.orders_on(rep, repeat["id"], [("Ink", 700), ("Paper", 400)])
        self.assertEqual(self.get_acc(repeat)["segment"], "habitual", "two orders, the first long ago")
        many = self.account(rep)
        self.orders_on(rep, many["id"], [("Ink", 600), ("Ink", 400), ("Ink", 200)])
        self.assertEqual(self.get_acc(many)["segment"], "habitual")
        # archived orders do not count
        o = self.order(rep, prospect["id"], ordered_on=day(-300))
        self.assertEqual(self.get_acc(prospect)["segment"], "beginner")
        self.assertStatus(rep.delete("orders/%d" % o["id"]), 200)
        self.assertEqual(self.get_acc(prospect)["segment"], "prospect")
        # read-only, and the list answers the same
        self.assertError(rep.patch("accounts/%d" % many["id"], {"segment": "prospect"}), 400, "read_only",
                         field="segment")
        items = rep.list_all("accounts", {"name": many["name"]})
        self.assertEqual([i["segment"] for i in items], ["habitual"])

    # ------------------------------------------------------------------ repurchase

    def test_repurchase_forecast(self):
        rep = self.org.rep1
        acc = self.account(rep)
        # Ink: intervals 30, 50, 40 (median 40), entered out of order; last order 10 days ago
        self.orders_on(rep, acc["id"], [("Ink", 50), ("Ink", 130), ("Ink", 10), ("Ink", 100)])
        # Paper: two orders only -> no forecast
        self.orders_on(rep, acc["id"], [("Paper", 40), ("Paper", 20)])
        a = self.get_acc(acc)
        self.assertEqual([x["product"] for x in a["repurchase"]], ["Ink"], a["repurchase"])
        ink = a["repurchase"][0]
        self.assertEqual(ink.get("orders"), 4, ink)
        self.assertEqual(ink["median_interval_days"], 40, ink)
        self.assertEqual(ink.get("last_on"), day(-10), ink)
        self.assertEqual(ink["expected_on"], day(30), ink)
        self.assertIs(ink["overdue"], False)
        self.assertNotIn("repurchase_overdue", self.codes(a))
        # a third Paper order starts its forecast: intervals 20, 20 -> next 20 days after the last
        self.order(rep, acc["id"], product="Paper", ordered_on=day(0))
        paper = self.repurchase(acc, "Paper")
        self.assertIsNotNone(paper, "a product with 3 orders has no forecast")
        self.assertEqual((paper.get("orders"), paper["median_interval_days"], paper.get("last_on"),
                          paper["expected_on"], paper["overdue"]), (3, 20, day(0), day(20), False), paper)
        self.assertEqual(self.repurchase(acc, "Ink")["expected_on"], day(30), "another product's order moved Ink")

    def test_repurchase_median_of_an_odd_number_of_intervals(self):
        rep = self.org.rep1
        acc = self.account(rep)
        # intervals 10, 60, 20 -> median 20 (not the mean 30); last order 4 days ago
        self.orders_on(rep, acc["id"], [("Toner", 94), ("Toner", 84), ("Toner", 24), ("Toner", 4)])
        t = self.repurchase(acc, "Toner")
        self.assertIsNotNone(t)
        self.assertEqual((t["median_interval_days"], t["expected_on"], t["overdue"]), (20, day(16), False), t)

    def test_overdue_repurchase_warns_and_declines_until_the_next_order(self):
        rep = self.org.rep1
        acc = self.account(rep, lifecycle="grow")
        # intervals 20, 20, 20 -> expected 20 days after the last order; overdue when more than 10 days late
        self.orders_on(rep, acc["id"], [("Film", 92), ("Film", 72), ("Film", 52), ("Film", 32)])
        # a product on time does not matter
        self.orders_on(rep, acc["id"], [("Glue", 60), ("Glue", 40), ("Glue", 20)])
        a = self.get_acc(acc)
        film = [x for x in a["repurchase"] if x["product"] == "Film"][0]
        self.assertEqual((film["median_interval_days"], film["expected_on"]), (20, day(-12)))
        self.assertIs(film["overdue"], True, film)
        glue = [x for x in a["repurchase"] if x["product"] == "Glue"][0]
        self.assertIs(glue["overdue"], False, glue)
        self.assertEqual(self.codes(a).count("repurchase_overdue"), 1, a["warnings"])
        self.assertEqual(a["lifecycle"], "decline")
        # every reader agrees: the manager, the list
        self.assertEqual(self.get_acc(acc, self.org.mgr)["lifecycle"], "decline")
        items = rep.list_all("accounts", {"name": acc["name"]})
        self.assertEqual([(i["lifecycle"], "repurchase_overdue" in self.codes(i)) for i in items],
                         [("decline", True)])
        # the next order arrives: back to the stored lifecycle
        self.order(rep, acc["id"], product="Film", ordered_on=day(0))
        a = self.get_acc(acc)
        self.assertEqual(a["lifecycle"], "grow")
        self.assertNotIn("repurchase_overdue", self.codes(a))
        film = [x for x in a["repurchase"] if x["product"] == "Film"][0]
        self.assertEqual((film["median_interval_days"], film["expected_on"], film["overdue"]),
                         (20, day(20), False), film)
        items = rep.list_all("accounts", {"name": acc["name"]})
        self.assertEqual([i["lifecycle"] for i in items], ["grow"])

    def test_paging_by_lifecycle_follows_the_stored_lifecycle(self):
        """An account shown as decline is sorted, and its cursor compares, by the lifecycle it
        has stored: pages of one by lifecycle, either way, give every account exactly once."""
        rep = self.org.rep2
        tag = uniq("Cycle")
        ids = set()
        for i, (lc, late) in enumerate([("grow", True), ("grow", False), ("acquire", False),
                                        ("mature", True), ("mature", False), ("lost", False)]):
            acc = self.account(rep, name="%s %d" % (tag, i), lifecycle=lc)
            ids.add(acc["id"])
            if late:
                self.orders_on(rep, acc["id"], [("Film", 92), ("Film", 72), ("Film", 52), ("Film", 32)])
                self.assertEqual(self.get_acc(acc, rep)["lifecycle"], "decline")
        for sort in ("lifecycle", "-lifecycle"):
            for limit in (1, 2):
                seen = [i["id"] for i in rep.list_all("accounts", {"name": tag, "sort": sort},
                                                      limit=limit, max_pages=20)]
                self.assertEqual(sorted(seen), sorted(ids), "sort=%s limit=%d" % (sort, limit))

    def test_overdue_needs_more_than_half_the_interval(self):
        rep = self.org.rep1
        # median 20: 8 days late is not overdue, 12 days late is
        late8 = self.account(rep, lifecycle="mature")
        self.orders_on(rep, late8["id"], [("Ink", 88), ("Ink", 68), ("Ink", 48), ("Ink", 28)])
        late12 = self.account(rep, lifecycle="mature")
        self.orders_on(rep, late12["id"], [("Ink", 92), ("Ink", 72), ("Ink", 52), ("Ink", 32)])
        a8, a12 = self.get_acc(late8), self.get_acc(late12)
        self.assertIs(a8["repurchase"][0]["overdue"], False, a8["repurchase"])
        self.assertEqual(a8["lifecycle"], "mature")
        self.assertNotIn("repurchase_overdue", self.codes(a8))
        self.assertIs(a12["repurchase"][0]["overdue"], True, a12["repurchase"])
        self.assertEqual(a12["lifecycle"], "decline")
        # archived orders do not count: down to two orders, no forecast and no warning
        ords = rep.list_all("orders", {"account_id": late12["id"]})
        for o in ords[:2]:
            self.assertStatus(rep.delete("orders/%d" % o["id"]), 200)
        a12 = self.get_acc(late12)
        self.assertEqual(a12["repurchase"], [])
        self.assertEqual(a12["lifecycle"], "mature")
        self.assertNotIn("repurchase_overdue", self.codes(a12))

    def test_derived_purchase_fields_are_read_only(self):
        rep = self.org.rep1
        for field, value in (("repurchase", []), ("warnings", []), ("segment", "habitual")):
            self.assertError(rep.patch("accounts/%d" % self.acc["id"], {field: value}), 400, "read_only",
                             field=field)


if __name__ == "__main__":
    unittest.main()
