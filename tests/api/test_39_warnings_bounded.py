"""39: GET /warnings with a rare code answers in bounded work: one request examines at most
the server's cap of opportunities (2,000), ends its page there with a next that resumes the
scan, and following next yields exactly the warnings each opportunity states, in order."""

import datetime
import unittest

from harness import PW, ApiTestCase, run_threads, uniq

CAP = 2000          # src/domain/method.c WARN_SCAN_MAX
FILLER = CAP + 60   # candidates without the warning between the first match and the last
CODE = "neglect_after_signature"


class WarningsBoundedTest(ApiTestCase):

    ORG_USERS = ("rep1",)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        rep = cls.org.rep1
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        touched = rep.post("accounts", {"name": uniq("WB touched")}).json
        never = rep.post("accounts", {"name": uniq("WB never")}).json
        r = rep.post("activities", {"account_id": touched["id"], "channel": "visit",
                                    "occurred_at": now, "summary": "visited"})
        assert r.status == 201, r

        def opp(acc, client=rep):
            r = client.post("opportunities", {"account_id": acc["id"], "name": uniq("d"),
                                           "stage": "use"})
            assert r.status == 201, r
            return r.json["id"]
        # signed deals: those on the account never followed up raise the rare warning, the
        # others (touched today) are candidates of its stage without it
        cls.rare = [opp(never)]
        clients = [cls.server.login(cls.org.usernames["rep1"], PW) for _ in range(4)]
        out = run_threads(4, lambda i: [opp(touched, clients[i]) for _ in range(FILLER // 4)])
        for c in clients:
            c.close()
        for o in out:
            if isinstance(o, BaseException):
                raise o
        cls.rare += [opp(never), opp(never)]
        # each code's pre-filter in the store: close dates past, today's, to come; closed deals
        today = now[:10]
        for stage in ("interest", "design", "commit", "won", "lost"):
            for close in ("2020-01-01", today, "2999-12-31"):
                body = {"account_id": never["id"], "name": uniq("c"), "stage": stage,
                        "expected_close_on": close}
                if stage == "lost":
                    body["lost_reason"] = "price"
                r = rep.post("opportunities", body)
                assert r.status == 201, r

    def brute_force(self, client, code):
        """(opportunity id, code) of every warning each visible opportunity's record states."""
        found, cursor = [], None
        while True:
            q = {"limit": 500}
            if cursor:
                q["cursor"] = cursor
            page = client.get("opportunities", query=q).json
            for o in page["items"]:
                found += [(o["id"], w["code"]) for w in o["warnings"]
                          if code is None or w["code"] == code]
            cursor = page["next"]
            if not cursor:
                return sorted(found, key=lambda x: x[0])   # codes keep their order

    def follow(self, client, limit, code=None):
        pages, seen, cursor = [], [], None
        for _ in range(1000):
            q = {"limit": limit}
            if code:
                q["code"] = code
            if cursor:
                q["cursor"] = cursor
            r = client.get("warnings", query=q)
            self.assertStatus(r, 200)
            pages.append(r.json)
            seen += [(w["opportunity_id"], w["code"]) for w in r.json["items"]]
            self.assertLessEqual(len(r.json["items"]), limit)
            cursor = r.json["next"]
            if not cursor:
                return pages, seen
        self.fail("next never ended")

    def test_one_request_examines_at_most_the_cap(self):
        rep = self.org.rep1
        # the first match, then CAP - 1 candidates without it: the page ends at the cap with
        # the one match and a next, though the other two were within limit
        first = rep.get("warnings", query={"code": CODE, "limit": 500}).json
        self.assertEqual([w["opportunity_id"] for w in first["items"]], self.rare[:1])
        self.assertIsNotNone(first["next"])
        rest = rep.get("warnings", query={"code": CODE, "limit": 500,
                                          "cursor": first["next"]}).json
        self.assertEqual([w["opportunity_id"] for w in rest["items"]], self.rare[1:])
        self.assertIsNone(rest["next"])
        pages, _ = self.follow(rep, 500, CODE)
        self.assertEqual(len(pages), 2)
        # following next at any page size yields exactly what the records state, in order
        want = self.brute_force(rep, CODE)
        self.assertEqual(want, [(i, CODE) for i in self.rare])
        for limit in (1, 2, 500):
            _, seen = self.follow(rep, limit, CODE)
            self.assertEqual(seen, want, "limit %d" % limit)
        # every code, many warnings per opportunity, split across pages
        every = self.brute_force(rep, None)
        _, seen = self.follow(rep, 47)
        self.assertEqual(seen, every)
        for code in ("quote_before_needs", "no_decision_maker", "no_coach", "opponent_late",
                     CODE, "overdue_close"):
            _, seen = self.follow(rep, 500, code)
            self.assertEqual(seen, [w for w in every if w[1] == code], code)

    def test_a_cursor_this_list_never_gave_is_refused(self):
        rep = self.org.rep1
        for bad in ("5", "1.", ".1", "1.x", "0.0", "-1.0", "1.0x", "1.999"):
            self.assertError(rep.get("warnings", query={"code": CODE, "cursor": bad}), 400,
                             "invalid_param", field="cursor", msg=bad)


if __name__ == "__main__":
    unittest.main()
