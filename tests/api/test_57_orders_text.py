"""57: each account's orders text (SQLite, migration 27: accounts.orders_text, kept by triggers on
orders) always equals the text the lists and GET by id read for the repurchase forecast before it
(a correlated subquery of the account's live orders, sorted by product then day, when there are
3 or more), after orders added (an account's first to fifth, products needing escapes, Chinese
and an emoji), re-dated, renamed, archived and restored; and on both stores the presented
forecast is the one those orders give, in GET by id and in the owner's list."""

import datetime
import unittest

from harness import ApiTestCase, db_rows, is_pg, uniq

# the subquery the store read before migration 27, over every account
RECOMPUTED = (
    "SELECT t.id, CASE WHEN (SELECT count(*) FROM orders o WHERE o.account_id = t.id AND"
    " o.archived_at IS NULL) >= 3 THEN (SELECT json_group_array(json_array(od.product,"
    " od.ordered_on)) FROM (SELECT product, ordered_on FROM orders WHERE account_id = t.id AND"
    " archived_at IS NULL ORDER BY product, ordered_on) od) END FROM accounts t")


def day(offset):
    return (datetime.date.today() + datetime.timedelta(days=offset)).isoformat()


class OrdersTextTest(ApiTestCase):

    def post(self, client, what, body):
        r = client.post(what, body)
        self.assertStatus(r, 201, "create %s %r" % (what, body))
        return r.json

    def order(self, acc, product, offset):
        o = self.post(self.org.rep1, "orders", {"account_id": acc["id"], "product": product,
                                                "ordered_on": day(offset), "amount": 100})
        self.live[o["id"]] = (acc["id"], product, day(offset))
        return o

    def patch(self, o, body):
        r = self.org.rep1.patch("orders/%d" % o["id"], body)
        self.assertStatus(r, 200, "patch order %d %r" % (o["id"], body))
        acc, product, on = self.live[o["id"]]
        self.live[o["id"]] = (acc, body.get("product", product), body.get("ordered_on", on))

    def archive(self, o):
        self.assertStatus(self.org.rep1.delete("orders/%d" % o["id"]), 200)
        self.archived[o["id"]] = self.live.pop(o["id"])

    def restore(self, o):
        self.assertStatus(self.admin.post("orders/%d/restore" % o["id"]), 200)
        self.live[o["id"]] = self.archived.pop(o["id"])

    def forecast(self, acc_id):
        """(product, orders, last_on) of each product with 3+ live orders, by product."""
        by = {}
        for a, product, on in self.live.values():
            if a == acc_id:
                by.setdefault(product, []).append(on)
        return sorted((p.encode(), len(d), max(d)) for p, d in by.items() if len(d) >= 3)

    def check(self, label):
        db = self.server.db
        if not is_pg(db):
            kept = sorted(db_rows(db, "SELECT id, orders_text FROM accounts"))
            self.assertEqual(kept, sorted(db_rows(db, RECOMPUTED)),
                             "%s: the accounts' orders text" % label)
        listed = {}
        cursor = None
        while True:   # the owner's list, every page (the text path on SQLite)
            q = "accounts?owner_id=%d&limit=2" % self.org.rep1.id
            r = self.org.rep1.get(q + ("&cursor=" + cursor if cursor else ""))
            self.assertStatus(r, 200, label)
            listed.update((x["id"], x) for x in r.json["items"])
            cursor = r.json.get("next")
            if not cursor:
                break
        for acc in self.accounts:
            r = self.org.rep1.get("accounts/%d" % acc["id"])
            self.assertStatus(r, 200, label)
            for where, rec in (("GET by id", r.json), ("list", listed[acc["id"]])):
                got = sorted((i["product"].encode(), i["orders"], i["last_on"])
                             for i in rec["repurchase"])
                self.assertEqual(got, self.forecast(acc["id"]),
                                 "%s: %s of account %d" % (label, where, acc["id"]))

    def test_orders_text(self):
        self.live, self.archived = {}, {}
        self.accounts = [self.post(self.org.rep1, "accounts", {"name": uniq("OT%d" % i)})
                         for i in range(4)]
        a1, a2, a3, a4 = self.accounts
        self.check("no orders")
        o1 = self.order(a1, "Ink", -400)
        self.order(a1, "Ink", -200)
        self.check("two orders")
        o3 = self.order(a1, "Ink", -10)
        self.check("a third order")
        odd = ['Pa"per', "A\\B", "墨盒", "Tab\there", "😀 cups"]
        for i, p in enumerate(odd):
            for k in range(3):
                self.order(a2, p, -30 * (k + 1) - i)
        self.order(a3, "Ink", -5)
        b = self.order(a3, "Toner", -6)
        self.order(a3, "Ink", -7)
        self.check("products needing escapes, mixed products")
        self.patch(b, {"product": "Ink"})   # a3 now has three orders of Ink
        self.check("an order renamed")
        self.patch(o1, {"ordered_on": day(-1)})
        self.check("an order re-dated")
        self.archive(o3)
        self.check("an order archived (back to two)")
        self.restore(o3)
        self.check("an order restored")
        for k in range(5):
            self.order(a4, "Paper", -k * 20 - 3)
        self.archive(b)
        self.check("five orders; an archived one renamed before")


if __name__ == "__main__":
    unittest.main()
