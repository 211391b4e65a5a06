"""56: activities logged by many clients at once (issue 9: POST /activities), so that the
writer commits them in batches of several jobs, among failing ones and other writes that read
or move what the activities' sums depend on (an account's owner, its orders, its activities
changed and archived). On SQLite the writer sums a batch's new activities once, before anything
else reads or writes and before the commit (migration 23, sqlite.c "deferred activity sums"):
the maintained tables must still equal the recomputation of tests 54 and 55 (on both stores),
nothing may be left pending, and each answer must be the record as it is read back."""

import random
import unittest

from harness import PW, ApiTestCase, db_rows, is_pg, run_threads, uniq
import test_54_touch_aggregates as t54
import test_55_forecast_segment_aggregates as t55

THREADS = 8
PER_THREAD = 24


class BatchedActivitiesTest(ApiTestCase):

    def check_all(self, label):
        t54.TouchAggregatesTest.check_all(self, label)
        t55.ForecastSegmentAggregatesTest.check_all(self, label)
        db = self.server.db
        # the accounts' touch facts (migrations 6, 8, 20) from their activities
        facts = ("SELECT id, touch_count, COALESCE(touched_at, ''), COALESCE(latest_next_touch,"
                 " ''), COALESCE(latest_contact_ids, '') FROM accounts",
                 "SELECT t.id, (SELECT count(*) FROM activities a WHERE a.account_id = t.id AND"
                 " a.effective = 1 AND a.archived_at IS NULL), COALESCE((SELECT max(a.occurred_at)"
                 " FROM activities a WHERE a.account_id = t.id AND a.effective = 1 AND"
                 " a.archived_at IS NULL), ''), COALESCE((SELECT a.next_touch_on FROM activities a"
                 " WHERE a.account_id = t.id AND a.archived_at IS NULL ORDER BY a.occurred_at"
                 " DESC, a.id DESC LIMIT 1), ''), COALESCE((SELECT a.contact_ids FROM activities"
                 " a WHERE a.account_id = t.id AND a.archived_at IS NULL ORDER BY a.occurred_at"
                 " DESC, a.id DESC LIMIT 1), '') FROM accounts t")
        if is_pg(db):
            facts = tuple(q.replace("max(a.occurred_at)", 'max(a.occurred_at COLLATE "C")')
                          .replace("ORDER BY a.occurred_at", 'ORDER BY a.occurred_at COLLATE "C"')
                          for q in facts)
        rows = [sorted(tuple(str(v) for v in r) for r in db_rows(db, q)) for q in facts]
        self.assertEqual(rows[0], rows[1], "%s: the accounts' touch facts" % label)
        if not is_pg(db):
            self.assertEqual(db_rows(db, "SELECT count(*) FROM activity_defer")[0][0], 0,
                             "%s: sums left pending" % label)

    def test_concurrent_activities_among_other_writes(self):
        org = self.org
        rep1_id, rep2_id = org.user_ids["rep1"], org.user_ids["rep2"]
        a = [org.rep1.post("accounts", {"name": uniq("BA%d" % i)}).json for i in range(4)]
        b = [org.rep2.post("accounts", {"name": uniq("BB%d" % i)}).json for i in range(3)]
        for acc, n in ((a[1], 1), (a[2], 2), (b[0], 3)):
            for k in range(n):
                self.assertStatus(org.rep1.post("orders", {
                    "account_id": acc["id"], "product": "Ink", "amount": 1000 + k,
                    "ordered_on": t55.day(-10 * (k + 1))}) if acc in a else org.rep2.post(
                    "orders", {"account_id": acc["id"], "product": "Ink", "amount": 1000 + k,
                               "ordered_on": t55.day(-10 * (k + 1))}), 201)
        self.assertStatus(org.rep1.post("opportunities", {   # for test 55's forecast table
            "account_id": a[0]["id"], "name": uniq("BO"), "stage": "interest", "amount": 1000,
            "expected_close_on": t55.day(20)}), 201)
        contact = org.rep2.post("contacts", {"account_id": b[1]["id"], "name": uniq("BC")}).json
        users = ["rep1", "rep2", "mgr", "rep1", "rep2", "mgr", "rep1", "admin"]
        clients = [self.server.admin() if u == "admin" else
                   self.server.login(org.usernames[u], PW) for u in users]
        posted = []

        def work(i):
            c, rnd, out = clients[i], random.Random(i), []
            # a[3] changes hands: only those above both reps log on it
            mine = a[:3] if users[i] == "rep1" else b if users[i] == "rep2" else a + b
            for k in range(PER_THREAD):
                acc = rnd.choice(mine)
                body = {"account_id": acc["id"], "channel": rnd.choice(("phone", "visit", "sms")),
                        "occurred_at": t55.instant(-rnd.randrange(40), rnd.randrange(24)),
                        "effective": rnd.random() > 0.2, "summary": "b%d-%d" % (i, k)}
                if rnd.random() < 0.3:
                    body["next_touch_on"] = t55.day(rnd.randrange(1, 30))
                if k % 7 == 3 and acc is not b[1]:
                    body["contact_ids"] = [contact["id"]]   # not of this account: fails
                    r = c.post("activities", body)
                    out.append(("fail", r.status, None))
                    continue
                r = c.post("activities", body)
                out.append(("post", r.status, r.json))
                # other writes of the same batches: an owner moved, an order, an activity
                # changed or archived
                if i == 7 and k % 4 == 1:
                    to = rep2_id if k % 8 == 1 else rep1_id
                    r2 = c.patch("accounts/%d" % a[3]["id"], {"owner_id": to})
                    out.append(("owner", r2.status, None))
                elif i == 2 and k % 5 == 2:
                    r2 = c.post("orders", {"account_id": acc["id"], "product": "Pen",
                                           "amount": 700 + k, "ordered_on": t55.day(-k)})
                    out.append(("order", r2.status, None))
                elif i in (0, 1) and k % 6 == 5 and r.status == 201:
                    r2 = c.patch("activities/%d" % r.json["id"], {"effective": False}) \
                        if k % 12 == 5 else c.delete("activities/%d" % r.json["id"])
                    out.append(("change", r2.status, None))
            return out

        results = run_threads(THREADS, work)
        for c in clients:
            c.close()
        errors = [r for r in results if isinstance(r, BaseException)]
        self.assertEqual(errors, [], "threads raised")
        for kind, status, rec in (x for r in results for x in r):
            self.assertEqual(status, 400 if kind == "fail" else 201 if kind in ("post", "order")
                             else 200, kind)
            if kind == "post":
                posted.append(rec)
        self.check_all("after the batches")
        # each answer is the record as read back (those changed since aside)
        got = self.admin.list_all("activities")
        by_id = {x["id"]: x for x in got}
        same = [p for p in posted if by_id.get(p["id"], {}).get("version") == 1]
        self.assertGreater(len(same), THREADS * PER_THREAD // 2)
        for p in same:
            self.assertEqual(p, by_id[p["id"]])


if __name__ == "__main__":
    unittest.main()
