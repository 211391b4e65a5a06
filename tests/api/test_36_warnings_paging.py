"""36: GET /warnings pages like every list: limit and cursor, no warning twice or missed."""

import unittest

from harness import ApiTestCase, uniq


class WarningsPagingTest(ApiTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        rep = cls.org.rep1
        acc = rep.post("accounts", {"name": uniq("WP")}).json
        # each opportunity in design with a past close date raises three warnings
        cls.opps = [rep.post("opportunities", {"account_id": acc["id"], "name": uniq("d"),
                                               "stage": "design",
                                               "expected_close_on": "2020-01-01"}).json["id"]
                    for _ in range(4)]

    def test_pages_cover_every_warning_once(self):
        rep = self.org.rep1
        whole = rep.get("warnings").json
        self.assertIsNone(whole["next"])
        self.assertEqual(len(whole["items"]), 12, whole)
        seen, cursor = [], None
        for _ in range(10):
            q = {"limit": 5}
            if cursor:
                q["cursor"] = cursor
            page = rep.get("warnings", query=q).json
            self.assertLessEqual(len(page["items"]), 5)
            seen += [(w["opportunity_id"], w["code"]) for w in page["items"]]
            cursor = page["next"]
            if not cursor:
                break
        self.assertEqual(seen, [(w["opportunity_id"], w["code"]) for w in whole["items"]])

    def test_bad_limit_and_cursor_name_themselves(self):
        rep = self.org.rep1
        self.assertError(rep.get("warnings", query={"limit": 0}), 400, "invalid_param", field="limit")
        self.assertError(rep.get("warnings", query={"cursor": "x"}), 400, "invalid_param",
                         field="cursor")


if __name__ == "__main__":
    unittest.main()
