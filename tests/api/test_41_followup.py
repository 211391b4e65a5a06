"""41: follow-up discipline (issue 4; SPEC 6): touches, last_touch_at, next_touch_on
(the latest activity's plan, else the cadence: 14 days with an open opportunity, 30
without), sleeping accounts, the rep's agenda, the managers' intervention list and the
settings that hold these numbers."""

import datetime
import unittest

from harness import PW, ApiTestCase, uniq

SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))

DEFAULT_SETTINGS = {
    "park_min_touches": 12,
    "never_park": ["VVIP"],
    "park_to": "pool",
    "holding_limit": 500,
    "reclaim_after_days": 90,
    "reclaim_no_deal_days": 365,
    "sleeping_after_days": 90,
    "intervention_touches": 10,
    "cadence_open_days": 14,
    "cadence_idle_days": 30,
}


def today():
    """Today in Asia/Shanghai (the default time zone of the agenda)."""
    return datetime.datetime.now(SHANGHAI).date()


def day(offset):
    """Today (Asia/Shanghai) + offset days as YYYY-MM-DD."""
    return (today() + datetime.timedelta(days=offset)).isoformat()


def at(offset):
    """Noon in Shanghai (04:00Z) of today + offset days: the same date in UTC and in Shanghai."""
    return day(offset) + "T04:00:00.000Z"


def plus(date_str, n):
    return (datetime.date.fromisoformat(date_str) + datetime.timedelta(days=n)).isoformat()


def instant(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def acc_id(item):
    return item.get("account_id", item.get("id"))


class FollowUpTest(ApiTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # a rep of their own for the agenda: nothing else in this module lands on their desk
        uname = "agenda" + uniq("a").replace("-", "")
        r = cls.admin.post("users", {"username": uname, "display_name": "AGENDA", "role": "rep",
                                     "team_id": cls.org.teams["branch"], "password": PW})
        assert r.status == 201, r
        cls.arep = cls.server.login(uname, PW)

    # -- helpers
    def get_acc(self, client, acc):
        r = client.get("accounts/%d" % (acc["id"] if isinstance(acc, dict) else acc))
        self.assertStatus(r, 200)
        return r.json

    def touches(self, client, account_id, n, effective=True, offset=-1, **extra):
        for _ in range(n):
            self.activity(client, account_id, occurred_at=at(offset), effective=effective, **extra)

    def settings(self):
        r = self.admin.get("settings")
        self.assertStatus(r, 200)
        return r.json

    def set(self, body, status=200):
        r = self.admin.patch("settings", body)
        self.assertStatus(r, status, "PATCH /settings %r" % (body,))
        return r

    def restore_settings(self):
        r = self.admin.patch("settings", DEFAULT_SETTINGS)
        self.assertStatus(r, 200, "restoring the default settings")

    def agenda(self, client, date=None, status=200):
        r = client.get("me/agenda", query={"date": date} if date else None)
        self.assertStatus(r, status)
        return r.json if status == 200 else r

    def intervention(self, client):
        r = client.get("intervention")
        self.assertStatus(r, 200)
        self.assertIsInstance(r.json.get("items"), list, r)
        self.assertIn("next", r.json, r)
        items = list(r.json["items"])
        while r.json.get("next"):
            r = client.get("intervention", query={"cursor": r.json["next"]})
            self.assertStatus(r, 200)
            items += r.json["items"]
        return items

    # ------------------------------------------------------------------ touches

    def test_touches_and_last_touch_count_effective_activities_only(self):
        rep = self.org.rep1
        acc = self.account(rep)
        a = self.get_acc(rep, acc)
        self.assertEqual(a["touches"], 0)
        self.assertIsNone(a["last_touch_at"])
        self.activity(rep, acc["id"], occurred_at=at(-20))
        self.activity(rep, acc["id"], occurred_at=at(-10), channel="visit")
        self.activity(rep, acc["id"], occurred_at=at(-5), effective=False)
        self.activity(rep, acc["id"], occurred_at=at(-2), effective=False, channel="wechat")
        a = self.get_acc(rep, acc)
        self.assertEqual(a["touches"], 2, "non-effective activities are not touches")
        self.assertEqual(instant(a["last_touch_at"]), instant(at(-10)), "the last touch is the last effective one")
        # a manager's effective follow-up is a touch too
        self.activity(self.org.mgr, acc["id"], occurred_at=at(-1))
        a = self.get_acc(rep, acc)
        self.assertEqual(a["touches"], 3)
        self.assertEqual(instant(a["last_touch_at"]), instant(at(-1)))
        # the list answers the same derived fields
        items = rep.list_all("accounts", {"name": acc["name"]})
        self.assertEqual([(i["id"], i["touches"]) for i in items], [(acc["id"], 3)])
        for k in ("next_touch_on", "sleeping"):
            self.assertIn(k, items[0])
            self.assertEqual(items[0][k], a[k], k)

    def test_derived_fields_are_read_only(self):
        rep = self.org.rep1
        acc = self.account(rep)
        for field, value in (("touches", 5), ("last_touch_at", at(-1)), ("next_touch_on", day(3)),
                             ("sleeping", True)):
            r = rep.patch("accounts/%d" % acc["id"], {field: value})
            self.assertError(r, 400, "read_only", field=field)
            r = rep.post("accounts", {"name": uniq("RO"), field: value})
            self.assertError(r, 400, "read_only", field=field)

    # ------------------------------------------------------------------ next_touch_on

    def test_next_touch_on_follows_the_latest_activity(self):
        rep = self.org.rep1
        acc = self.account(rep)
        self.activity(rep, acc["id"], occurred_at=at(-6), next_touch_on=day(40))
        self.assertEqual(self.get_acc(rep, acc)["next_touch_on"], day(40))
        # an older activity's plan does not override the latest one's
        self.activity(rep, acc["id"], occurred_at=at(-9), next_touch_on=day(2))
        self.assertEqual(self.get_acc(rep, acc)["next_touch_on"], day(40))
        # the latest activity plans the next touch
        self.activity(rep, acc["id"], occurred_at=at(-3), next_touch_on=day(5))
        self.assertEqual(self.get_acc(rep, acc)["next_touch_on"], day(5))
        # the latest activity plans nothing: the cadence from the last touch (30 days, no open deal)
        self.activity(rep, acc["id"], occurred_at=at(-1))
        self.assertEqual(self.get_acc(rep, acc)["next_touch_on"], day(-1 + 30))

    def test_cadence_14_days_with_an_open_opportunity_30_without(self):
        rep = self.org.rep1
        acc = self.account(rep)
        self.activity(rep, acc["id"], occurred_at=at(-4))
        self.assertEqual(self.get_acc(rep, acc)["next_touch_on"], day(-4 + 30))
        opp = self.opportunity(rep, acc["id"], stage="design")
        self.assertEqual(self.get_acc(rep, acc)["next_touch_on"], day(-4 + 14), "an open opportunity: 14 days")
        self.assertStatus(rep.patch("opportunities/%d" % opp["id"], {"stage": "won"}), 200)
        self.assertEqual(self.get_acc(rep, acc)["next_touch_on"], day(-4 + 30), "a won opportunity is not open")
        opp2 = self.opportunity(rep, acc["id"], stage="compare")
        self.assertEqual(self.get_acc(rep, acc)["next_touch_on"], day(-4 + 14))
        self.assertStatus(rep.patch("opportunities/%d" % opp2["id"], {"stage": "lost", "lost_reason": "price"}),
                          200)
        self.assertEqual(self.get_acc(rep, acc)["next_touch_on"], day(-4 + 30), "a lost opportunity is not open")
        # a non-effective activity is no touch: the cadence still counts from the last touch
        self.activity(rep, acc["id"], occurred_at=at(-2), effective=False)
        self.assertEqual(self.get_acc(rep, acc)["next_touch_on"], day(-4 + 30))

    def test_cadence_from_creation_without_touches(self):
        rep = self.org.rep1
        acc = self.account(rep)
        created = instant(acc["created_at"])
        bases = {created.date().isoformat(), created.astimezone(SHANGHAI).date().isoformat()}
        a = self.get_acc(rep, acc)
        self.assertIn(a["next_touch_on"], {plus(b, 30) for b in bases}, "creation + 30 days")
        self.opportunity(rep, acc["id"])
        a = self.get_acc(rep, acc)
        self.assertIn(a["next_touch_on"], {plus(b, 14) for b in bases}, "creation + 14 days (open deal)")

    def test_cadence_settings_drive_next_touch_on(self):
        rep = self.org.rep1
        acc = self.account(rep)
        acc2 = self.account(rep)
        self.activity(rep, acc["id"], occurred_at=at(-4))
        self.activity(rep, acc2["id"], occurred_at=at(-4))
        self.opportunity(rep, acc2["id"])
        try:
            self.set({"cadence_idle_days": 21, "cadence_open_days": 7})
            self.assertEqual(self.get_acc(rep, acc)["next_touch_on"], day(-4 + 21))
            self.assertEqual(self.get_acc(rep, acc2)["next_touch_on"], day(-4 + 7))
        finally:
            self.restore_settings()
        self.assertEqual(self.get_acc(rep, acc)["next_touch_on"], day(-4 + 30))
        self.assertEqual(self.get_acc(rep, acc2)["next_touch_on"], day(-4 + 14))

    # ------------------------------------------------------------------ sleeping

    def test_sleeping_after_90_days_without_an_effective_follow_up(self):
        rep = self.org.rep1
        fresh = self.account(rep)
        self.assertIs(self.get_acc(rep, fresh)["sleeping"], False, "a new account is not sleeping")
        old = self.account(rep)
        self.activity(rep, old["id"], occurred_at=at(-120))
        self.assertIs(self.get_acc(rep, old)["sleeping"], True)
        recent = self.account(rep)
        self.activity(rep, recent["id"], occurred_at=at(-120))
        self.activity(rep, recent["id"], occurred_at=at(-60))
        self.assertIs(self.get_acc(rep, recent)["sleeping"], False)
        # a non-effective activity does not wake it up
        self.activity(rep, old["id"], occurred_at=at(-1), effective=False)
        self.assertIs(self.get_acc(rep, old)["sleeping"], True, "a non-effective activity woke the account")
        # an effective one does
        self.activity(rep, old["id"], occurred_at=at(-1))
        self.assertIs(self.get_acc(rep, old)["sleeping"], False)
        # the boundary: 85 days is awake, 95 asleep
        a85 = self.account(rep)
        self.activity(rep, a85["id"], occurred_at=at(-85))
        a95 = self.account(rep)
        self.activity(rep, a95["id"], occurred_at=at(-95))
        self.assertIs(self.get_acc(rep, a85)["sleeping"], False)
        self.assertIs(self.get_acc(rep, a95)["sleeping"], True)
        # the setting
        try:
            self.set({"sleeping_after_days": 80})
            self.assertIs(self.get_acc(rep, a85)["sleeping"], True, "sleeping_after_days 80")
        finally:
            self.restore_settings()
        self.assertIs(self.get_acc(rep, a85)["sleeping"], False)

    # ------------------------------------------------------------------ agenda

    def test_agenda_lists_my_due_follow_ups_most_overdue_first(self):
        rep = self.arep
        d0 = day(0)
        a10 = self.account(rep, name=uniq("Agenda ten"))
        self.activity(rep, a10["id"], occurred_at=at(-15), next_touch_on=day(-10))
        a3 = self.account(rep, name=uniq("Agenda three"))
        self.activity(rep, a3["id"], occurred_at=at(-5), next_touch_on=day(-3))
        a0 = self.account(rep, name=uniq("Agenda today"))
        self.activity(rep, a0["id"], occurred_at=at(-2), next_touch_on=d0)
        later = self.account(rep, name=uniq("Agenda later"))
        self.activity(rep, later["id"], occurred_at=at(-1), next_touch_on=day(5))
        # cadence-driven: last touch 37 days ago, no open deal, no plan: due 30 days after it
        cad = self.account(rep, name=uniq("Agenda cadence"))
        self.activity(rep, cad["id"], occurred_at=at(-37))          # due day(-7)
        # someone else's overdue account never shows on my agenda
        foreign = self.account(self.org.rep2)
        self.activity(self.org.rep2, foreign["id"], occurred_at=at(-15), next_touch_on=day(-12))

        ag = self.agenda(rep, d0)
        for k in ("date", "follow_ups", "warnings", "sleeping"):
            self.assertIn(k, ag, ag)
        self.assertEqual(ag["date"], d0)
        fu = ag["follow_ups"]
        self.assertIsInstance(fu, list)
        mine = {a10["id"], a3["id"], a0["id"], later["id"], cad["id"]}
        days = [f["days_overdue"] for f in fu]
        self.assertEqual(days, sorted(days, reverse=True), "not most overdue first: %r" % fu)
        got = [(acc_id(f), f["days_overdue"]) for f in fu if acc_id(f) in mine]
        self.assertEqual(got, [(a10["id"], 10), (cad["id"], 7), (a3["id"], 3), (a0["id"], 0)],
                         "due follow-ups, most overdue first: %r" % fu)
        by = {acc_id(f): f for f in fu}
        self.assertEqual(by[a10["id"]]["account_name"], a10["name"])
        self.assertEqual(by[a10["id"]]["next_touch_on"], day(-10))
        self.assertEqual(by[cad["id"]]["next_touch_on"], day(-7))
        self.assertEqual(by[a0["id"]]["next_touch_on"], d0)
        for f in fu:
            self.assertIn("contact", f)
            self.assertIsInstance(f.get("reason"), str, f)
            self.assertTrue(f["reason"], f)
        self.assertNotIn(foreign["id"], by, "another rep's account on my agenda")
        self.assertNotIn(later["id"], by, "a follow-up not yet due")
        # another day: the later one is due, days_overdue counts from that day
        ag = self.agenda(rep, day(6))
        got = dict((acc_id(f), f["days_overdue"]) for f in ag["follow_ups"])
        self.assertEqual(got.get(later["id"]), 1)
        self.assertEqual(got.get(a10["id"]), 16)
        days = [f["days_overdue"] for f in ag["follow_ups"]]
        self.assertEqual(days, sorted(days, reverse=True))
        # the other rep's agenda has their account, not mine
        ag2 = self.agenda(self.org.rep2, d0)
        ids2 = [acc_id(f) for f in ag2["follow_ups"]]
        self.assertIn(foreign["id"], ids2)
        self.assertFalse({a10["id"], a3["id"], a0["id"], cad["id"]} & set(ids2))
        # a manager's agenda is their own desk: not the reps' accounts
        agm = self.agenda(self.org.mgr, d0)
        self.assertFalse({a10["id"], a3["id"], foreign["id"]} & {acc_id(f) for f in agm["follow_ups"]})

    def test_agenda_items_name_the_contact_and_the_reason(self):
        rep = self.arep
        planned = self.account(rep, name=uniq("Agenda planned"))
        buyer = self.contact(rep, planned["id"], name=uniq("Buyer"))
        self.activity(rep, planned["id"], occurred_at=at(-8), next_touch_on=day(-4), contact_ids=[buyer["id"]])
        cadence = self.account(rep, name=uniq("Agenda by cadence"))
        self.activity(rep, cadence["id"], occurred_at=at(-34))     # + 30 days = 4 days overdue
        by = {acc_id(f): f for f in self.agenda(rep, day(0))["follow_ups"]}
        self.assertIn(planned["id"], by)
        self.assertIn(cadence["id"], by)
        contact = by[planned["id"]]["contact"]
        self.assertIsNotNone(contact, "the agenda item has no contact although the last follow-up named one: %r"
                             % by[planned["id"]])
        self.assertEqual(contact["id"] if isinstance(contact, dict) else contact, buyer["id"])
        if isinstance(contact, dict):
            self.assertEqual(contact.get("name"), buyer["name"])
        self.assertNotEqual(by[planned["id"]]["reason"], by[cadence["id"]]["reason"],
                            "a planned follow-up (the last activity's next_touch_on) and a cadence one "
                            "answer the same reason: %r / %r" % (by[planned["id"]], by[cadence["id"]]))

    def test_agenda_default_date_is_today_in_shanghai(self):
        ag = self.agenda(self.arep)
        self.assertEqual(ag["date"], day(0))

    def test_agenda_sleeping_and_warnings(self):
        rep = self.arep
        asleep = self.account(rep, name=uniq("Agenda asleep"))
        self.activity(rep, asleep["id"], occurred_at=at(-100))
        awake = self.account(rep, name=uniq("Agenda awake"))
        self.activity(rep, awake["id"], occurred_at=at(-3))
        # an open opportunity past its close date raises overdue_close
        opp = self.opportunity(rep, awake["id"], stage="design", expected_close_on=day(-20))
        other = self.account(self.org.rep2)
        opp2 = self.opportunity(self.org.rep2, other["id"], stage="design", expected_close_on=day(-20))
        other_sleeping = self.account(self.org.rep2)
        self.activity(self.org.rep2, other_sleeping["id"], occurred_at=at(-100))
        ag = self.agenda(rep)
        sl = [acc_id(s) for s in ag["sleeping"]]
        self.assertIn(asleep["id"], sl)
        self.assertNotIn(awake["id"], sl)
        self.assertNotIn(other_sleeping["id"], sl, "another rep's sleeping account")
        self.assertIsInstance(ag["warnings"], list)
        pairs = {(w.get("opportunity_id"), w.get("code")) for w in ag["warnings"]}
        self.assertIn((opp["id"], "overdue_close"), pairs, ag["warnings"])
        self.assertNotIn(opp2["id"], {w.get("opportunity_id") for w in ag["warnings"]},
                         "another rep's warning on my agenda")

    def test_agenda_bad_date(self):
        for bad in ("2026-13-01", "2026-02-30", "tomorrow", "2026-1-5", "20261105"):
            r = self.arep.get("me/agenda", query={"date": bad})
            self.assertError(r, 400, field="date", msg=bad)

    # ------------------------------------------------------------------ intervention

    def test_intervention_lists_ten_touches_without_a_win_in_scope(self):
        o = self.org
        ten = self.account(o.rep1, name=uniq("Interv ten"))
        self.touches(o.rep1, ten["id"], 10)
        nine = self.account(o.rep1, name=uniq("Interv nine"))
        self.touches(o.rep1, nine["id"], 9)
        self.touches(o.rep1, nine["id"], 4, effective=False)
        won = self.account(o.rep1, name=uniq("Interv won"))
        self.touches(o.rep1, won["id"], 11)
        self.opportunity(o.rep1, won["id"], stage="won")
        lost = self.account(o.rep1, name=uniq("Interv lost"))
        self.touches(o.rep1, lost["id"], 10)
        self.opportunity(o.rep1, lost["id"], stage="lost", lost_reason="price")
        far = self.account(o.rep3, name=uniq("Interv rep3"))
        self.touches(o.rep3, far["id"], 12)

        def ids(client):
            return {acc_id(i): i for i in self.intervention(client)}
        m = ids(o.mgr)
        self.assertIn(ten["id"], m)
        self.assertIn(lost["id"], m, "a lost opportunity is no win")
        self.assertNotIn(nine["id"], m, "9 effective touches (plus non-effective ones)")
        self.assertNotIn(won["id"], m, "a won opportunity")
        self.assertNotIn(far["id"], m, "another team's account on the manager's list")
        item = m[ten["id"]]
        self.assertEqual(item.get("touches"), 10, item)
        owner = item.get("owner_id", item.get("owner"))
        self.assertEqual(owner["id"] if isinstance(owner, dict) else owner, o.rep1.id, item)
        om = ids(o.other_mgr)
        self.assertIn(far["id"], om)
        self.assertNotIn(ten["id"], om)
        top = ids(o.top)
        self.assertTrue({ten["id"], far["id"]} <= set(top), "the top manager sees both teams")
        adm = ids(self.admin)
        self.assertTrue({ten["id"], far["id"], lost["id"]} <= set(adm))
        self.assertFalse({nine["id"], won["id"]} & set(adm))
        for rep in (o.rep1, o.rep3):
            self.assertError(rep.get("intervention"), 403, "forbidden")
        # the threshold is a setting
        try:
            self.set({"intervention_touches": 9})
            self.assertIn(nine["id"], ids(o.mgr))
        finally:
            self.restore_settings()
        self.assertNotIn(nine["id"], ids(o.mgr))

    # ------------------------------------------------------------------ settings

    def test_settings_defaults(self):
        s = self.settings()
        for k, v in DEFAULT_SETTINGS.items():
            self.assertIn(k, s, "setting %s missing" % k)
            self.assertEqual(s[k], v, k)

    def test_settings_patch_is_admin_only(self):
        for client in (self.org.rep1, self.org.mgr, self.org.top):
            self.assertError(client.patch("settings", {"holding_limit": 7}), 403, "forbidden")
        self.assertEqual(self.settings()["holding_limit"], 500)

    def test_settings_patch_changes_and_keeps_the_rest(self):
        try:
            r = self.set({"park_min_touches": 8, "never_park": ["VVIP", "A"], "park_to": "manager"})
            for rec in (r.json, self.settings()):
                self.assertEqual(rec["park_min_touches"], 8)
                self.assertEqual(sorted(rec["never_park"]), ["A", "VVIP"])
                self.assertEqual(rec["park_to"], "manager")
                self.assertEqual(rec["holding_limit"], 500, "an untouched setting changed")
                self.assertEqual(rec["cadence_open_days"], 14)
            r = self.set({"never_park": []})
            self.assertEqual(r.json["never_park"], [])
        finally:
            self.restore_settings()
        self.assertEqual({k: self.settings()[k] for k in DEFAULT_SETTINGS}, DEFAULT_SETTINGS)

    def test_settings_bad_values_name_the_setting(self):
        cases = [
            {"park_min_touches": -1},
            {"park_min_touches": "12"},
            {"park_min_touches": 1.5},
            {"holding_limit": -5},
            {"holding_limit": None},
            {"reclaim_after_days": "90"},
            {"reclaim_after_days": -1},
            {"reclaim_no_deal_days": True},
            {"sleeping_after_days": -3},
            {"intervention_touches": "ten"},
            {"cadence_open_days": -14},
            {"cadence_idle_days": [30]},
            {"never_park": "VVIP"},
            {"never_park": ["VIP"]},
            {"never_park": [1]},
            {"park_to": "bin"},
            {"park_to": None},
            {"no_such_setting": 1},
        ]
        for body in cases:
            field = next(iter(body))
            r = self.admin.patch("settings", body)
            self.assertError(r, 400, field=field, msg=repr(body))
        # a bad value in a PATCH changes nothing, not even the good values beside it
        r = self.admin.patch("settings", {"cadence_open_days": 7, "park_to": "bin"})
        self.assertError(r, 400, field="park_to")
        self.assertEqual({k: self.settings()[k] for k in DEFAULT_SETTINGS}, DEFAULT_SETTINGS)
        self.assertError(self.admin.patch("settings", raw=b"[1]"), 400)


if __name__ == "__main__":
    unittest.main()
