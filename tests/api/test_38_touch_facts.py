"""38: the follow-up facts kept on each account (issue 9, migration 6: touches, last_touch_at and
the latest activity's next touch and contacts, maintained by triggers) always equal the facts
recomputed from the activities, after a mixed workload through the API."""

import unittest

from harness import ApiTestCase, db_rows, is_pg, uniq

RECOMPUTE = """
SELECT a.id,
  a.touch_count = (SELECT count(*) FROM activities da WHERE da.account_id = a.id
                   AND da.effective = 1 AND da.archived_at IS NULL),
  a.touched_at IS (SELECT max(da.occurred_at) FROM activities da WHERE da.account_id = a.id
                   AND da.effective = 1 AND da.archived_at IS NULL),
  a.latest_next_touch IS (SELECT la.next_touch_on FROM activities la WHERE la.account_id = a.id
                   AND la.archived_at IS NULL ORDER BY la.occurred_at DESC, la.id DESC LIMIT 1),
  a.latest_contact_ids IS (SELECT la.contact_ids FROM activities la WHERE la.account_id = a.id
                   AND la.archived_at IS NULL ORDER BY la.occurred_at DESC, la.id DESC LIMIT 1)
FROM accounts a
"""


# The same on PostgreSQL: IS NOT DISTINCT FROM for SQLite's IS, booleans as 0/1.
RECOMPUTE_PG = """
SELECT a.id,
  CASE WHEN a.touch_count = (SELECT count(*) FROM activities da WHERE da.account_id = a.id
                   AND da.effective = 1 AND da.archived_at IS NULL) THEN 1 ELSE 0 END,
  CASE WHEN a.touched_at IS NOT DISTINCT FROM (SELECT max(da.occurred_at) FROM activities da
                   WHERE da.account_id = a.id AND da.effective = 1 AND da.archived_at IS NULL)
                   THEN 1 ELSE 0 END,
  CASE WHEN a.latest_next_touch IS NOT DISTINCT FROM (SELECT la.next_touch_on FROM activities la
                   WHERE la.account_id = a.id AND la.archived_at IS NULL
                   ORDER BY la.occurred_at DESC, la.id DESC LIMIT 1) THEN 1 ELSE 0 END,
  CASE WHEN a.latest_contact_ids IS NOT DISTINCT FROM (SELECT la.contact_ids FROM activities la
                   WHERE la.account_id = a.id AND la.archived_at IS NULL
                   ORDER BY la.occurred_at DESC, la.id DESC LIMIT 1) THEN 1 ELSE 0 END
FROM accounts a
"""


class TouchFactsTest(ApiTestCase):

    def check_all(self):
        pg = is_pg(self.server.db)
        rows = db_rows(self.server.db, RECOMPUTE_PG if pg else RECOMPUTE)
        self.assertTrue(rows)
        bad = [r for r in rows if tuple(int(v) for v in r[1:]) != (1, 1, 1, 1)]
        self.assertEqual(bad, [])

    def test_mixed_workload(self):
        rep = self.org.rep1
        accs = [rep.post("accounts", {"name": uniq("TF")}).json for _ in range(3)]
        contact = rep.post("contacts", {"account_id": accs[0]["id"], "name": "张三"}).json
        acts = []
        for i, (a, eff, day) in enumerate([(0, True, "2026-01-05"), (0, False, "2026-02-01"),
                                           (0, True, "2026-01-20"), (1, True, "2025-12-01"),
                                           (1, True, "2026-03-01")]):
            body = {"account_id": accs[a]["id"], "channel": "phone", "effective": eff,
                    "occurred_at": day + "T02:00:00Z", "next_touch_on": "2026-04-%02d" % (i + 1)}
            if a == 0:
                body["contact_ids"] = [contact["id"]]
            acts.append(rep.post("activities", body).json)
        self.check_all()
        got = rep.get("accounts/%d" % accs[0]["id"]).json
        self.assertEqual(got["touches"], 2)
        self.assertEqual(got["last_touch_at"], "2026-01-20T02:00:00.000Z")
        rep.patch("activities/%d" % acts[2]["id"], {"effective": False})
        rep.patch("activities/%d" % acts[1]["id"], {"effective": True, "occurred_at": "2026-05-01T00:00:00Z"})
        rep.patch("activities/%d" % acts[0]["id"], {"next_touch_on": None})
        self.check_all()
        got = rep.get("accounts/%d" % accs[0]["id"]).json
        self.assertEqual(got["touches"], 2)
        self.assertEqual(got["last_touch_at"], "2026-05-01T00:00:00.000Z")
        rep.delete("activities/%d" % acts[4]["id"])
        rep.delete("activities/%d" % acts[1]["id"])
        self.check_all()
        got = rep.get("accounts/%d" % accs[1]["id"]).json
        self.assertEqual((got["touches"], got["last_touch_at"]), (1, "2025-12-01T02:00:00.000Z"))
        self.admin.post("activities/%d/restore" % acts[4]["id"])
        self.check_all()
        listed = rep.get("accounts", query={"owner_id": rep.user["id"], "sort": "-last_touch_at",
                                            "limit": 50}).json["items"]
        order = [x["id"] for x in listed if x["id"] in {a["id"] for a in accs}]
        self.assertEqual(order, [accs[1]["id"], accs[0]["id"], accs[2]["id"]])
        self.assertEqual(rep.get("accounts/%d" % accs[2]["id"]).json["touches"], 0)


if __name__ == "__main__":
    unittest.main()
