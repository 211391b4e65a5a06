"""53: the rep's agenda (GET /me/agenda, issue 9: the store selects the accounts that may be due
or sleeping, the rules decide) equals a brute-force computation over every account the rep
owns: each account read on its own (its next_touch_on and sleeping as presented), the reason
and the contact from the activities this test wrote. Many accounts with varied dates: no touch,
touches back to 200 days, instants either side of a Shanghai midnight, planned next touches in
the past and the future, a newer activity without a plan, ineffective touches, archived
contacts, open and won opportunities, archived accounts and another rep's; checked for many
agenda dates, whole (limit=1000) and by the default page of 20.

Since migration 25 SQLite reads the agenda by ranges of an index keyed by each account's class
(planned, open opportunity, neither) and the date its due day follows from, counted and walked
(followup.c agenda_by_ranges): test_agenda_follows_changes moves accounts between the classes
and the ranges in every way the index must follow (the cadences and the sleeping threshold
changed in settings, accounts reassigned, parked to the pool and claimed, archived, an open
opportunity won or archived, a planned next touch moved, planned then unplanned by a newer
activity, the latest activity archived) and checks the agenda after each, with pages of 1-3 to
cut through the accounts touched at one instant (the id decides among them)."""

import datetime
import random
import unittest

from harness import ApiTestCase, uniq

SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))
DEFAULT_PAGE = 20   # the agenda's default limit (followup.h AGENDA_LIMIT_DEFAULT)


def today():
    return datetime.datetime.now(SHANGHAI).date()


def days(d):
    return datetime.date.fromisoformat(d).toordinal()


class AgendaBruteForceTest(ApiTestCase):
    registry = {}

    def post(self, client, path, body):
        r = client.post(path, body)
        self.assertStatus(r, 201, "POST %s %r" % (path, body))
        return r.json

    def instant(self, rnd):
        """A time within the last 200 days (a few ahead), often right at a Shanghai midnight."""
        d = today() + datetime.timedelta(days=rnd.randint(-200, 3))
        t = rnd.choice(["15:59:59.999", "16:00:00.000", "04:00:00.000", "23:30:00.000", "00:00:00.000"])
        return "%sT%sZ" % (d.isoformat(), t)

    def build(self):
        rnd = random.Random(53)
        gone = random.Random(5301)   # apart, so that the accounts' dates stay those of seed 53
        rep, other = self.org.rep1, self.org.rep2
        # id -> {"acts": [(occurred_at, id, next_touch_on, contact)], "mine"}: one for the
        # class, as its tests share the server and so rep1's accounts
        self.accounts = type(self).registry
        for i in range(90):
            owner = other if i % 15 == 14 else rep
            acc = self.post(owner, "accounts", {"name": uniq("AG%d" % i)})
            rec = {"acts": [], "mine": owner is rep}
            self.accounts[acc["id"]] = rec
            contact = None
            if rnd.random() < 0.4:
                contact = self.post(owner, "contacts", {"account_id": acc["id"], "name": "联系人%d" % i})
            for _ in range(rnd.choice([0, 1, 1, 2, 3])):
                body = {"account_id": acc["id"], "channel": "phone", "effective": rnd.random() < 0.8,
                        "occurred_at": self.instant(rnd)}
                if rnd.random() < 0.4:
                    body["next_touch_on"] = (today() + datetime.timedelta(days=rnd.randint(-40, 40))).isoformat()
                if contact and rnd.random() < 0.7:
                    body["contact_ids"] = [contact["id"]]
                act = self.post(owner, "activities", body)
                rec["acts"].append((act["occurred_at"], act["id"], body.get("next_touch_on"),
                                    contact if body.get("contact_ids") else None))
            if contact and gone.random() < 0.25:
                # an archived contact is named no more (the page reads live contacts only)
                self.assertStatus(owner.delete("contacts/%d" % contact["id"]), 200)
                contact["archived"] = True
            kind = rnd.random()
            if kind < 0.35:
                rec["open"] = self.post(owner, "opportunities", {"account_id": acc["id"], "name": uniq("O"),
                                                                 "stage": "design", "amount": 100})["id"]
            elif kind < 0.5:
                self.post(owner, "opportunities", {"account_id": acc["id"], "name": uniq("W"),
                                                   "stage": "won", "amount": 100})
            if rnd.random() < 0.08:
                self.assertStatus(owner.delete("accounts/%d" % acc["id"]), 200)
                rec["archived"] = True

    def expected(self, date):
        rep = self.org.rep1
        follow, sleeping = [], []
        for acc_id in sorted(self.accounts):
            rec = self.accounts[acc_id]
            if not rec["mine"] or rec.get("archived"):
                continue
            a = rep.get("accounts/%d" % acc_id).json
            if a["sleeping"]:
                sleeping.append({"account_id": acc_id, "account_name": a["name"],
                                 "last_touch_at": a["last_touch_at"],
                                 "_since": a["last_touch_at"] or a["created_at"]})
            if a["next_touch_on"] > date:
                continue
            latest = max(rec["acts"], key=lambda x: (x[0], x[1])) if rec["acts"] else None
            contact = latest[3] if latest else None
            if contact and contact.get("archived"):
                contact = None
            follow.append({"account_id": acc_id, "account_name": a["name"],
                           "contact": {"id": contact["id"], "name": contact["name"]} if contact else None,
                           "next_touch_on": a["next_touch_on"],
                           "days_overdue": days(date) - days(a["next_touch_on"]),
                           "reason": "planned" if latest and latest[2] else "cadence"})
        follow.sort(key=lambda f: (-f["days_overdue"], f["account_id"]))
        # the longest quiet first (last touch, or creation when never touched)
        sleeping.sort(key=lambda x: (x.pop("_since"), x["account_id"]))
        return follow, sleeping

    def check(self, offsets, what, limits=(7,)):
        """The agenda on today + each offset equals the brute force, whole and by pages."""
        rep = self.org.rep1
        for offset in offsets:
            date = (today() + datetime.timedelta(days=offset)).isoformat()
            follow, sleeping = self.expected(date)
            got = rep.get("me/agenda", query={"date": date, "limit": 1000}).json
            self.assertEqual(got["follow_ups"], follow, "%s: follow-ups on %s" % (what, date))
            self.assertEqual(got["sleeping"], sleeping, "%s: sleeping on %s" % (what, date))
            for limit in limits:
                page = rep.get("me/agenda", query={"date": date, "limit": limit}).json
                self.assertEqual(page["follow_ups"], follow[:limit], "%s: page %d on %s" % (what, limit, date))
                self.assertEqual(page["sleeping"], sleeping[:limit], "%s: page %d on %s" % (what, limit, date))
                self.assertEqual((page["follow_ups_total"], page["sleeping_total"]),
                                 (len(follow), len(sleeping)), "%s: totals on %s" % (what, date))

    def act(self, client, acc_id, **body):
        body.setdefault("channel", "phone")
        a = self.post(client, "activities", dict(body, account_id=acc_id))
        self.accounts[acc_id]["acts"].append((a["occurred_at"], a["id"], body.get("next_touch_on"), None))
        return a

    def test_agenda_follows_changes(self):
        self.build()
        rep, rep2, mgr = self.org.rep1, self.org.rep2, self.org.mgr
        offsets = (0, -20, 3, 16, 31, 60)
        mine = lambda: sorted(a for a, r in self.accounts.items() if r["mine"] and not r.get("archived"))
        self.check(offsets, "as built", limits=(1, 2, 3, 7))
        try:
            # the cadences and the sleeping threshold: no index entry moves, the ranges do
            for body in ({"cadence_open_days": 7, "cadence_idle_days": 45, "sleeping_after_days": 60},
                         {"cadence_open_days": 40, "cadence_idle_days": 3, "sleeping_after_days": 150},
                         {"cadence_open_days": 1, "cadence_idle_days": 1, "sleeping_after_days": 1}):
                self.assertStatus(self.admin.patch("settings", body), 200)
                self.check(offsets, "settings %r" % body, limits=(1, 3))
        finally:
            self.assertStatus(self.admin.patch("settings", {"cadence_open_days": 14, "cadence_idle_days": 30,
                                                            "sleeping_after_days": 90}), 200)
        # many accounts touched at one instant: the id orders them, within a day and a key
        same = "%sT16:00:00.000Z" % (today() - datetime.timedelta(days=100)).isoformat()
        for acc_id in mine()[:12]:
            self.act(rep, acc_id, occurred_at=same)
        self.check(offsets, "one instant", limits=(1, 2, 3, 7))
        # new accounts touched once on one old day, the later the touch the smaller the id:
        # the most overdue, where the id orders the page, not the touch's instant
        old = today() - datetime.timedelta(days=300)
        fresh = []
        for k in range(8):
            acc = self.post(rep, "accounts", {"name": uniq("OLD%d" % k)})
            self.accounts[acc["id"]] = {"acts": [], "mine": True}
            if k % 2:
                self.accounts[acc["id"]]["open"] = self.post(rep, "opportunities", {
                    "account_id": acc["id"], "name": uniq("F"), "stage": "design", "amount": 1})["id"]
            fresh.append(acc["id"])
        for k, acc_id in enumerate(fresh):
            # Shanghai's day `old`: 16:00Z the day before to 15:59Z
            at = datetime.datetime.combine(old, datetime.time(15, 59), datetime.timezone.utc) \
                - datetime.timedelta(hours=3 * k)
            self.act(rep, acc_id, occurred_at=at.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
        self.check(offsets, "one day", limits=(1, 2, 3, 5))
        # reassigned both ways, parked to the pool, claimed from it
        ids = mine()
        for acc_id in ids[:3]:
            self.assertStatus(mgr.patch("accounts/%d" % acc_id, {"owner_id": rep2.id}), 200)
            self.accounts[acc_id]["mine"] = False
        theirs = [a for a, r in self.accounts.items() if not r["mine"] and not r.get("archived")]
        for acc_id in theirs[-3:]:
            self.assertStatus(mgr.patch("accounts/%d" % acc_id, {"owner_id": rep.id}), 200)
            self.accounts[acc_id]["mine"] = True
        parked = mine()[3]
        self.assertStatus(mgr.post("accounts/%d/park" % parked, {"reason": "no budget"}), 200)
        self.accounts[parked]["mine"] = False
        self.check(offsets, "reassigned, parked")
        self.assertStatus(rep.post("accounts/%d/claim" % parked), 200)
        self.accounts[parked]["mine"] = True
        self.check(offsets, "claimed")
        # archived accounts; open opportunities won or archived (open -> idle)
        ids = mine()
        for acc_id in ids[4:6]:
            self.assertStatus(rep.delete("accounts/%d" % acc_id), 200)
            self.accounts[acc_id]["archived"] = True
        opened = [a for a in mine() if self.accounts[a].get("open")]
        self.assertGreaterEqual(len(opened), 4)
        self.assertStatus(rep.patch("opportunities/%d" % self.accounts[opened[0]]["open"], {"stage": "won"}), 200)
        self.assertStatus(rep.delete("opportunities/%d" % self.accounts[opened[1]]["open"]), 200)
        # an idle account gets an open opportunity
        idle = [a for a in mine() if not self.accounts[a].get("open")][:2]
        for acc_id in idle:
            self.accounts[acc_id]["open"] = self.post(rep, "opportunities", {
                "account_id": acc_id, "name": uniq("N"), "stage": "design", "amount": 5})["id"]
        self.check(offsets, "archived, won, opened")
        # plans: moved later and earlier, a newer activity without one, the latest archived
        ids = mine()
        now = datetime.datetime.now(datetime.timezone.utc)
        stamp = lambda d: (now + datetime.timedelta(days=d)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        for k, acc_id in enumerate(ids[6:10]):
            self.act(rep, acc_id, occurred_at=stamp(-1 + k * 0.01),
                     next_touch_on=(today() + datetime.timedelta(days=(-30, 25, 0, 2)[k])).isoformat())
        self.check(offsets, "planned")
        for acc_id in ids[6:8]:
            self.act(rep, acc_id, occurred_at=stamp(-0.5), next_touch_on=(today() + datetime.timedelta(days=9)).isoformat())
        self.act(rep, ids[8], occurred_at=stamp(-0.4))   # no plan: back to its cadence
        self.check(offsets, "plans moved")
        latest = max(self.accounts[ids[9]]["acts"], key=lambda x: (x[0], x[1]))
        self.assertStatus(rep.delete("activities/%d" % latest[1]), 200)
        self.accounts[ids[9]]["acts"].remove(latest)
        self.check(offsets, "latest activity archived", limits=(1, 3, 7))
        # the longest quiet of all at one instant, planned and not in turn: the planned ones
        # are kept only up to the other sleeping ones' limit-th, ties included (the id orders)
        tie = "%sT04:00:00.000Z" % (today() - datetime.timedelta(days=400)).isoformat()
        for k in range(6):
            acc = self.post(rep, "accounts", {"name": uniq("TIE%d" % k)})
            self.accounts[acc["id"]] = {"acts": [], "mine": True}
            plan = {"next_touch_on": (today() + datetime.timedelta(days=20)).isoformat()} if k % 2 == 0 else {}
            self.act(rep, acc["id"], occurred_at=tie, **plan)
        follow, sleeping = self.expected(today().isoformat())
        self.assertEqual([s["last_touch_at"] for s in sleeping[:6]], [tie] * 6)
        for limit in range(1, 9):
            page = rep.get("me/agenda", query={"limit": limit}).json
            self.assertEqual(page["sleeping"], sleeping[:limit], "ties: page %d" % limit)
            self.assertEqual(page["sleeping_total"], len(sleeping))

    def test_agenda_equals_brute_force(self):
        self.build()
        rep = self.org.rep1
        # some of the rep's live accounts have a latest activity that names an archived contact
        named_gone = [a for a, rec in self.accounts.items() if rec["mine"] and not rec.get("archived")
                      and rec["acts"] and (max(rec["acts"], key=lambda x: (x[0], x[1]))[3] or {}).get("archived")]
        self.assertTrue(named_gone)
        checked, paged = set(), set()
        for offset in (None, 0, 1, -1, 13, 14, 15, 29, 30, 31, 45, -30, -60, 120):
            date = (today() + datetime.timedelta(days=offset)).isoformat() if offset is not None else None
            r = rep.get("me/agenda", query={"date": date} if date else None)
            self.assertStatus(r, 200)
            first = r.json
            if date is None:
                date = first["date"]
                self.assertEqual(date, today().isoformat())
            # every item: the largest page
            got = rep.get("me/agenda", query={"date": date, "limit": 1000}).json
            follow, sleeping = self.expected(date)
            self.assertEqual(got["follow_ups"], follow, "follow-ups on %s" % date)
            self.assertEqual(got["sleeping"], sleeping, "sleeping on %s" % date)
            self.assertEqual((got["follow_ups_total"], got["sleeping_total"]),
                             (len(follow), len(sleeping)))
            # the default page is the first 20 of each list (a day's work list), same totals
            self.assertEqual(first["follow_ups"], follow[:DEFAULT_PAGE], "default page on %s" % date)
            self.assertEqual(first["sleeping"], sleeping[:DEFAULT_PAGE])
            self.assertEqual(first["warnings"], got["warnings"][:DEFAULT_PAGE])
            self.assertEqual((first["follow_ups_total"], first["sleeping_total"]),
                             (len(follow), len(sleeping)))
            paged.add((len(follow) > DEFAULT_PAGE, len(sleeping) > DEFAULT_PAGE,
                       len(got["warnings"]) > DEFAULT_PAGE))
            # a page: the first items of each list, the same totals
            page = rep.get("me/agenda", query={"date": date, "limit": 7}).json
            self.assertEqual(page["follow_ups"], follow[:7])
            self.assertEqual(page["sleeping"], sleeping[:7])
            self.assertLessEqual(len(page["warnings"]), 7)
            self.assertEqual((page["follow_ups_total"], page["sleeping_total"]),
                             (len(follow), len(sleeping)))
            checked.add((len(follow) > 0, len(follow) < 80))
        # the last date there is: every account is due (the cut for plans, the next day,
        # was written as year 0000 there, and the planned accounts were left out)
        date = "9999-12-31"
        follow, sleeping = self.expected(date)
        for limit in (1000, 7):
            got = rep.get("me/agenda", query={"date": date, "limit": limit}).json
            self.assertEqual(got["follow_ups"], follow[:limit], "follow-ups on %s" % date)
            self.assertEqual(got["sleeping"], sleeping[:limit], "sleeping on %s" % date)
            self.assertEqual((got["follow_ups_total"], got["sleeping_total"]),
                             (len(follow), len(sleeping)))
        self.assertEqual(len(follow), len([1 for rec in self.accounts.values()
                                           if rec["mine"] and not rec.get("archived")]))
        for bad in ("0", "1001", "ten", ""):
            r = rep.get("me/agenda", query={"limit": bad})
            self.assertStatus(r, 400)
            self.assertEqual(r.json["error"]["field"], "limit")
        # the dates cover an agenda with some and one with most of the accounts due, and
        # one whose every list is longer than the default page
        self.assertIn((True, True), checked)
        self.assertIn((True, True, True), paged)


if __name__ == "__main__":
    unittest.main()
