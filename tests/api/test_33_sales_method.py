"""33: the sales method (issue 3; SPEC 3.1-3.3): stages and win rates, weighted
amount and phase, stage history, lost_reason, reopening won/lost, the
assessment, the stage-behaviour warnings (each raised and cleared) and
GET /warnings with its filters and visibility."""

import datetime
import unittest

import harness
from harness import ApiTestCase, uniq

STAGES = ("interest", "brewing", "design", "compare", "commit", "use", "won", "lost")
WIN_RATES = {"interest": 5, "brewing": 10, "design": 20, "compare": 30, "commit": 50, "use": 80,
             "won": 100, "lost": 0}
PHASES = {"interest": "confirm_needs", "brewing": "confirm_needs", "design": "evaluate",
          "compare": "evaluate", "commit": "resolve_concerns", "use": "implement", "won": "closed",
          "lost": "closed"}
WARNING_CODES = {"quote_before_needs", "no_decision_maker", "no_coach", "opponent_late",
                 "neglect_after_signature", "overdue_close"}
SUBS = ("deal_size", "regional_influence", "cost_to_win", "opportunity_cost", "competitive_strength",
        "unique_value", "relationship")


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def day(offset):
    """Today (UTC) + offset days, as YYYY-MM-DD."""
    return (utcnow().date() + datetime.timedelta(days=offset)).isoformat()


def days_ago(n):
    """An RFC 3339 instant n days before now."""
    return (utcnow() - datetime.timedelta(days=n)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def weighted(amount, rate):
    """amount x rate / 100 rounded to the unit (half up; the tests avoid exact halves)."""
    return (amount * rate * 2 + 100) // 200


def scores(deal_size, regional_influence, cost_to_win, opportunity_cost, competitive_strength,
           unique_value, relationship):
    return dict(zip(SUBS, (deal_size, regional_influence, cost_to_win, opportunity_cost, competitive_strength,
                           unique_value, relationship)))


class SalesMethodTest(ApiTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        o = cls.org
        cls.acc1 = cls._acc(o.rep1, "SM rep1")
        cls.acc2 = cls._acc(o.rep2, "SM rep2")
        cls.acc3 = cls._acc(o.rep3, "SM rep3")

    @classmethod
    def _acc(cls, client, prefix):
        r = client.post("accounts", {"name": uniq(prefix)})
        assert r.status == 201, r
        return r.json

    # -- helpers
    def stage_patch(self, client, key, body):
        """PATCH /settings/stages/{key}; recorded under its normalised path for test_99 (the
        harness only normalises numeric ids)."""
        harness.USED_ENDPOINTS.add(("PATCH", harness.API + "/settings/stages/{}"))
        return client.patch("settings/stages/" + key, body, record=False)

    def opp_url(self, o):
        return "opportunities/%d" % (o["id"] if isinstance(o, dict) else o)

    def reread(self, client, o):
        r = client.get(self.opp_url(o))
        self.assertStatus(r, 200)
        return r.json

    def codes(self, opp):
        self.assertIn("warnings", opp, opp)
        self.assertIsInstance(opp["warnings"], list, opp)
        for w in opp["warnings"]:
            self.assertIsInstance(w, dict, opp["warnings"])
            self.assertIn(w.get("code"), WARNING_CODES, w)
            self.assertIsInstance(w.get("message"), str, w)
            self.assertTrue(w["message"], w)
        cs = [w["code"] for w in opp["warnings"]]
        self.assertEqual(len(cs), len(set(cs)), "a warning code twice: %r" % cs)
        return set(cs)

    def assertWarn(self, client, o, code, present, msg=""):
        opp = self.reread(client, o)
        cs = self.codes(opp)
        if present:
            self.assertIn(code, cs, "%s: expected warning %s on %r" % (msg, code, opp))
        else:
            self.assertNotIn(code, cs, "%s: unexpected warning %s on %r" % (msg, code, opp))
        # the same warnings in a list response
        items = client.list_all("opportunities", {"account_id": opp["account_id"]})
        mine = [i for i in items if i["id"] == opp["id"]]
        self.assertEqual(len(mine), 1, "opportunity missing from its list")
        self.assertEqual(self.codes(mine[0]), cs, "list and GET disagree on the warnings")
        # and in GET /warnings and the owner's agenda (on SQLite read from the store's rows as
        # C values, not from the record): the same codes in the same order, the same fields
        want = [{"opportunity_id": opp["id"], "opportunity_name": opp["name"],
                 "account_id": opp["account_id"], "owner_id": opp["owner_id"],
                 "stage": opp["stage"], "code": w["code"], "message": w["message"]}
                for w in opp["warnings"]]
        listed = [w for w in self.warnings(client, owner_id=opp["owner_id"])
                  if w["opportunity_id"] == opp["id"]]
        self.assertEqual(listed, want, "%s: GET /warnings and GET disagree" % msg)
        if client.id == opp["owner_id"]:
            agenda = client.get("me/agenda", query={"limit": 500})
            self.assertStatus(agenda, 200)
            self.assertEqual([w for w in agenda.json["warnings"] if w["opportunity_id"] == opp["id"]],
                             want, "%s: the agenda and GET disagree" % msg)
        return opp

    def move(self, client, o, stage, status=200, **extra):
        body = {"stage": stage}
        body.update(extra)
        r = client.patch(self.opp_url(o), body)
        self.assertStatus(r, status, "PATCH stage %s" % stage)
        return r

    def stakeholder(self, client, opp, contact_id, **fields):
        fields["contact_id"] = contact_id
        r = client.post("opportunities/%d/stakeholders" % opp["id"], fields)
        self.assertStatus(r, 201, "POST stakeholder %r" % fields)
        return r.json

    def history(self, client, o, status=200):
        r = client.get("opportunities/%d/history" % (o["id"] if isinstance(o, dict) else o))
        self.assertStatus(r, status)
        if status == 200:
            self.assertIsInstance(r.json.get("items"), list, r)
            return r.json["items"]
        return r

    def warnings(self, client, status=200, **query):
        r = client.get("warnings", query=query or None)
        self.assertStatus(r, status)
        if status != 200:
            return r
        self.assertIsInstance(r.json.get("items"), list, r)
        items = list(r.json["items"])
        q = dict(query)
        while r.json.get("next"):
            q["cursor"] = r.json["next"]
            r = client.get("warnings", query=q)
            self.assertStatus(r, 200)
            items += r.json["items"]
        for it in items:
            self.assertIsInstance(it.get("opportunity_id"), int, it)
            self.assertIn(it.get("code"), WARNING_CODES, it)
        return items

    def pairs(self, items):
        return {(it["opportunity_id"], it["code"]) for it in items}

    # ------------------------------------------------------------------ stages (SPEC 3.1)

    def test_stages_list_defaults_in_order(self):
        for client in (self.org.rep1, self.org.mgr, self.admin):
            r = client.get("settings/stages")
            self.assertStatus(r, 200)
            items = r.json["items"]
            self.assertEqual([s["key"] for s in items], list(STAGES))
            for s in items:
                k = s["key"]
                self.assertEqual(s["win_rate"], WIN_RATES[k], s)
                self.assertIsInstance(s["win_rate"], int, s)
                self.assertEqual(s["phase"], PHASES[k], s)
                self.assertIsInstance(s["label"], dict, s)
                for lang in ("zh-CN", "en"):
                    self.assertIsInstance(s["label"].get(lang), str, s)
                    self.assertTrue(s["label"][lang], s)
                self.assertIn("exit_criterion", s, s)
                ec = s["exit_criterion"]
                texts = list(ec.values()) if isinstance(ec, dict) else [ec]
                self.assertTrue(texts and all(isinstance(t, str) and t for t in texts), s)
        en = {s["key"]: s["label"]["en"] for s in items}
        self.assertIn("Interest", en["interest"])
        self.assertIn("Compare", en["compare"])

    def test_stage_patch_is_admin_only_and_drives_win_rates(self):
        o = self.opportunity(self.org.rep1, self.acc1["id"], stage="compare", amount=123457)
        self.assertEqual(o["win_rate"], 30)
        for client in (self.org.rep1, self.org.mgr, self.org.top):
            self.assertError(self.stage_patch(client, "compare", {"win_rate": 35}), 403, "forbidden")
        self.assertEqual(self.reread(self.org.rep1, o)["win_rate"], 30, "a non-admin changed a win rate")
        try:
            r = self.stage_patch(self.admin, "compare",
                                 {"win_rate": 35, "label": {"zh-CN": "比较X", "en": "Compare X"},
                                  "exit_criterion": {"zh-CN": "谈判开始", "en": "Negotiation starts"}})
            self.assertStatus(r, 200)
            self.assertEqual(r.json["win_rate"], 35)
            self.assertEqual(r.json["label"]["en"], "Compare X")
            st = {s["key"]: s for s in self.org.rep1.get("settings/stages").json["items"]}
            self.assertEqual(st["compare"]["win_rate"], 35)
            self.assertEqual(st["compare"]["label"], {"zh-CN": "比较X", "en": "Compare X"})
            self.assertEqual(st["compare"]["phase"], "evaluate")
            self.assertEqual(st["design"]["win_rate"], 20, "another stage changed")
            # every opportunity answers from the current settings
            g = self.reread(self.org.rep1, o)
            self.assertEqual(g["win_rate"], 35)
            self.assertEqual(g["weighted_amount"], weighted(123457, 35))
            items = self.org.rep1.list_all("opportunities", {"account_id": self.acc1["id"], "stage": "compare"})
            self.assertIn(35, [i["win_rate"] for i in items if i["id"] == o["id"]])
            # bad input
            self.assertError(self.stage_patch(self.admin, "compare", {"win_rate": 101}), 400,
                             "invalid_field", field="win_rate")
            self.assertError(self.stage_patch(self.admin, "compare", {"win_rate": -1}), 400,
                             "invalid_field", field="win_rate")
            self.assertError(self.stage_patch(self.admin, "compare", {"win_rate": "35"}), 400,
                             "invalid_field", field="win_rate")
            self.assertError(self.stage_patch(self.admin, "compare", {"phase": "closed"}), 400,
                             field="phase")
            self.assertError(self.stage_patch(self.admin, "compare", {"colour": "red"}), 400, field="colour")
            self.assertError(self.stage_patch(self.admin, "signed", {"win_rate": 10}), 404, "not_found")
            self.assertEqual(self.reread(self.org.rep1, o)["win_rate"], 35)
        finally:
            r = self.stage_patch(self.admin, "compare",
                                 {"win_rate": 30, "label": {"zh-CN": "比较（呈现价值）", "en": "Compare"},
                                  "exit_criterion": {"zh-CN": "供应商已提案报价，开始谈判",
                                                     "en": "Suppliers have proposed and quoted; negotiation starts"}})
            self.assertStatus(r, 200)
        self.assertEqual(self.reread(self.org.rep1, o)["win_rate"], 30)

    def test_win_rate_weighted_amount_and_phase_of_every_stage(self):
        for amount in (12345, 12355, 0, 7):
            for st in STAGES:
                extra = {"lost_reason": "price"} if st == "lost" else {}
                o = self.opportunity(self.org.rep1, self.acc1["id"], stage=st, amount=amount, **extra)
                want = (WIN_RATES[st], weighted(amount, WIN_RATES[st]), PHASES[st])
                for rec in (o, self.reread(self.org.rep1, o)):
                    self.assertEqual((rec["win_rate"], rec["weighted_amount"], rec["phase"]), want,
                                     "stage %s amount %d" % (st, amount))
                    self.assertIsInstance(rec["weighted_amount"], int)
        # 12345 x 5% = 617.25 -> 617; 12355 x 5% = 617.75 -> 618
        self.assertEqual(weighted(12345, 5), 617)
        self.assertEqual(weighted(12355, 5), 618)
        # moving recomputes; the fields are read-only
        o = self.opportunity(self.org.rep1, self.acc1["id"], stage="interest", amount=1000000)
        r = self.move(self.org.rep1, o, "commit")
        self.assertEqual((r.json["win_rate"], r.json["weighted_amount"], r.json["phase"]),
                         (50, 500000, "resolve_concerns"))
        r = self.org.rep1.patch(self.opp_url(o), {"amount": 2000001})
        self.assertStatus(r, 200)
        self.assertEqual(r.json["weighted_amount"], 1000001)  # 1000000.5 rounds up
        big = 2 ** 53 - 1   # the largest amount: the weighted amount stays exact
        r = self.org.rep1.patch(self.opp_url(o), {"amount": big, "stage": "use"})
        self.assertStatus(r, 200)
        self.assertEqual(r.json["amount"], big)
        self.assertEqual(r.json["weighted_amount"], weighted(big, 80))
        for field, value in (("win_rate", 90), ("weighted_amount", 1), ("phase", "closed"), ("warnings", [])):
            self.assertError(self.org.rep1.patch(self.opp_url(o), {field: value}), 400, "read_only", field=field)

    # ------------------------------------------------------------------ history

    def test_every_stage_change_is_kept(self):
        rep, mgr = self.org.rep1, self.org.mgr
        o = self.opportunity(rep, self.acc1["id"], stage="interest")
        h = self.history(rep, o)
        self.assertEqual(len(h), 1, h)
        self.assertIsNone(h[0]["from"])
        self.assertEqual(h[0]["to"], "interest")
        self.assertEqual(h[0]["by"], rep.id)
        self.assertTimestamp(h[0]["at"])
        self.move(rep, o, "brewing")
        self.move(rep, o, "brewing")                       # no change: no entry
        self.assertStatus(rep.patch(self.opp_url(o), {"name": uniq("renamed")}), 200)  # not a stage change
        self.move(mgr, o, "design")
        self.move(rep, o, "compare")
        h = self.history(rep, o)
        self.assertEqual([(e["from"], e["to"]) for e in h],
                         [(None, "interest"), ("interest", "brewing"), ("brewing", "design"), ("design", "compare")], h)
        self.assertEqual([e["by"] for e in h], [rep.id, rep.id, mgr.id, rep.id])
        ats = [e["at"] for e in h]
        for a in ats:
            self.assertTimestamp(a)
        self.assertEqual(ats, sorted(ats), "history out of order")
        # every viewer of the opportunity sees the same history
        self.assertEqual(self.history(mgr, o), h)
        self.assertEqual(self.history(self.admin, o), h)
        # and nobody else
        for client in (self.org.rep2, self.org.rep3, self.org.other_mgr):
            self.assertError(self.history(client, o, status=404), 404, "not_found")
        self.assertError(self.history(rep, 99999999, status=404), 404, "not_found")
        # created in a later stage: the first entry is from null to that stage
        o2 = self.opportunity(rep, self.acc1["id"], stage="design")
        self.assertEqual([(e["from"], e["to"]) for e in self.history(rep, o2)], [(None, "design")])

    def test_lost_requires_a_lost_reason(self):
        rep = self.org.rep1
        o = self.opportunity(rep, self.acc1["id"], stage="compare")
        self.assertError(rep.patch(self.opp_url(o), {"stage": "lost"}), 400, field="lost_reason")
        self.assertError(rep.patch(self.opp_url(o), {"stage": "lost", "lost_reason": ""}), 400, field="lost_reason")
        self.assertError(rep.patch(self.opp_url(o), {"stage": "lost", "lost_reason": None}), 400,
                         field="lost_reason")
        self.assertEqual(self.reread(rep, o)["stage"], "compare")
        self.assertEqual(len(self.history(rep, o)), 1, "a refused move was kept in the history")
        r = self.move(rep, o, "lost", lost_reason="price 15% above Heidelberg")
        self.assertEqual(r.json["lost_reason"], "price 15% above Heidelberg")
        self.assertEqual(r.json["win_rate"], 0)
        self.assertEqual(r.json["weighted_amount"], 0)
        self.assertEqual([(e["from"], e["to"]) for e in self.history(rep, o)][-1], ("compare", "lost"))
        # created lost: the same rule
        r = rep.post("opportunities", {"account_id": self.acc1["id"], "name": uniq("lostnow"), "stage": "lost"})
        self.assertError(r, 400, field="lost_reason")

    def test_reopening_won_or_lost_is_for_managers_and_admins(self):
        rep, mgr = self.org.rep1, self.org.mgr
        won = self.opportunity(rep, self.acc1["id"], stage="commit")
        self.move(rep, won, "won")                        # a rep may close their deal
        for to in ("compare", "use", "lost"):
            extra = {"lost_reason": "x"} if to == "lost" else {}
            r = rep.patch(self.opp_url(won), dict(stage=to, **extra))
            self.assertError(r, 403, "forbidden", msg="rep reopens won -> %s" % to)
        self.assertEqual(self.reread(rep, won)["stage"], "won")
        self.move(mgr, won, "use")
        self.assertEqual(self.reread(rep, won)["stage"], "use")
        self.assertEqual(self.history(rep, won)[-1]["by"], mgr.id)
        self.assertEqual([(e["from"], e["to"]) for e in self.history(rep, won)][-2:], [("commit", "won"), ("won", "use")])

        lost = self.opportunity(rep, self.acc1["id"], stage="design")
        self.move(rep, lost, "lost", lost_reason="no budget")
        self.assertError(rep.patch(self.opp_url(lost), {"stage": "design"}), 403, "forbidden")
        self.assertEqual(self.reread(rep, lost)["stage"], "lost")
        self.move(self.admin, lost, "design")
        self.assertEqual(self.history(rep, lost)[-1], dict(self.history(rep, lost)[-1], **{
            "from": "lost", "to": "design", "by": self.admin.id}))
        # the top manager (above the owner) reopens too
        self.move(rep, lost, "won")
        self.move(self.org.top, lost, "brewing")
        self.assertEqual(self.reread(rep, lost)["stage"], "brewing")
        # a manager who does not see the deal cannot touch it
        self.move(rep, lost, "won")
        self.assertError(self.org.other_mgr.patch(self.opp_url(lost), {"stage": "compare"}), 404, "not_found")
        self.assertEqual(self.reread(rep, lost)["stage"], "won")

    # ------------------------------------------------------------------ assessment (SPEC 3.3)

    def test_assessment_worth_winnable_recommendation(self):
        rep = self.org.rep1
        cases = [
            # worth = mean(deal, region, 6-cost, 6-oppcost); winnable = mean(strength, unique, relation)
            (scores(4, 3, 3, 2, 4, 4, 3), 3.5, 3.67, "pursue"),     # worth exactly 3.5
            (scores(4, 3, 3, 2, 4, 3, 3), 3.5, 3.33, "share"),
            (scores(5, 5, 1, 1, 5, 5, 5), 5.0, 5.0, "pursue"),      # inverted: cost 1 counts 5
            (scores(1, 1, 5, 5, 1, 1, 1), 1.0, 1.0, "drop"),
            (scores(4, 3, 3, 3, 4, 4, 3), 3.25, 3.67, "qualify"),   # worth just under 3.5, can >= 3.5
            (scores(4, 3, 3, 3, 3, 3, 4), 3.25, 3.33, "qualify"),   # both between 2.5 and 3.5
            (scores(2, 2, 3, 3, 2, 2, 3), 2.5, 2.33, "qualify"),    # worth exactly 2.5: not drop
            (scores(2, 2, 3, 4, 2, 2, 3), 2.25, 2.33, "drop"),      # both under 2.5
            (scores(2, 2, 3, 4, 3, 3, 2), 2.25, 2.67, "qualify"),   # can >= 2.5
            (scores(5, 4, 2, 2, 1, 2, 1), 4.25, 1.33, "share"),     # worth >= 3.5 whatever can is
        ]
        for a, worth, can, rec in cases:
            o = self.opportunity(rep, self.acc1["id"], assessment=a)
            for got in (o, self.reread(rep, o)):
                self.assertEqual(got["assessment"], a)
                self.assertAlmostEqual(got["worth"], worth, places=9, msg="worth of %r" % a)
                self.assertAlmostEqual(got["winnable"], can, places=9, msg="winnable of %r" % a)
                self.assertEqual(got["recommendation"], rec, "recommendation of %r: %r" % (a, got))
        # the recommendation follows a PATCH of the assessment
        o = self.opportunity(rep, self.acc1["id"], assessment=scores(4, 3, 3, 2, 4, 4, 3))
        r = rep.patch(self.opp_url(o), {"assessment": scores(2, 2, 3, 4, 2, 2, 3)})
        self.assertStatus(r, 200)
        self.assertEqual((r.json["worth"], r.json["recommendation"]), (2.25, "drop"))
        for field, value in (("worth", 4), ("winnable", 4), ("recommendation", "pursue")):
            self.assertError(rep.patch(self.opp_url(o), {field: value}), 400, "read_only", field=field)

    def test_assessment_values_are_two_decimals(self):
        o = self.opportunity(self.org.rep1, self.acc1["id"], assessment=scores(5, 4, 2, 2, 5, 4, 4))
        self.assertEqual(o["worth"], 4.25)
        self.assertEqual(o["winnable"], 4.33)   # 13 / 3 = 4.333...
        o = self.opportunity(self.org.rep1, self.acc1["id"], assessment=scores(5, 4, 2, 2, 5, 5, 4))
        self.assertEqual(o["winnable"], 4.67)   # 14 / 3 = 4.666...

    def test_assessment_sub_scores_out_of_range_name_the_field(self):
        rep = self.org.rep1
        base = scores(3, 3, 3, 3, 3, 3, 3)
        o = self.opportunity(rep, self.acc1["id"], assessment=base)
        for sub in SUBS:
            for bad in (0, 6, -1, 3.5, "3", True, None):
                a = dict(base)
                a[sub] = bad
                r = rep.post("opportunities", {"account_id": self.acc1["id"], "name": uniq("bad"), "assessment": a})
                self.assertError(r, 400, "invalid_field", field="assessment." + sub,
                                 msg="POST assessment.%s = %r" % (sub, bad))
                r = rep.patch(self.opp_url(o), {"assessment": a})
                self.assertError(r, 400, "invalid_field", field="assessment." + sub,
                                 msg="PATCH assessment.%s = %r" % (sub, bad))
        # a sub-score the assessment does not have, or not an object at all
        r = rep.patch(self.opp_url(o), {"assessment": dict(base, charm=3)})
        self.assertError(r, 400, field_prefix="assessment")
        r = rep.patch(self.opp_url(o), {"assessment": [3, 3]})
        self.assertError(r, 400, field_prefix="assessment")
        self.assertEqual(self.reread(rep, o)["assessment"], base)
        # 1 and 5 are the bounds, both accepted
        for v in (1, 5):
            r = rep.patch(self.opp_url(o), {"assessment": {s: v for s in SUBS}})
            self.assertStatus(r, 200)

    # ------------------------------------------------------------------ warnings (SPEC 3.2)

    def test_warning_quote_before_needs_raised_and_cleared(self):
        rep = self.org.rep1
        acc = self._acc(rep, "SM quote")
        o = self.opportunity(rep, acc["id"], stage="interest")
        self.assertWarn(rep, o, "quote_before_needs", False, "new")
        self.activity(rep, acc["id"], channel="phone", opportunity_id=o["id"])
        self.assertWarn(rep, o, "quote_before_needs", False, "phone call")
        self.activity(rep, acc["id"], channel="quote")    # not on the opportunity
        self.assertWarn(rep, o, "quote_before_needs", False, "quote on the account only")
        q = self.activity(rep, acc["id"], channel="quote", opportunity_id=o["id"])
        self.assertWarn(rep, o, "quote_before_needs", True, "quote in interest")
        self.assertStatus(rep.delete("activities/%d" % q["id"]), 200)
        self.assertWarn(rep, o, "quote_before_needs", False, "quote archived")
        self.activity(rep, acc["id"], channel="demo", opportunity_id=o["id"])
        self.assertWarn(rep, o, "quote_before_needs", True, "demo in interest")
        self.move(rep, o, "brewing")
        self.assertWarn(rep, o, "quote_before_needs", True, "demo, brewing")
        self.move(rep, o, "design")
        self.assertWarn(rep, o, "quote_before_needs", False, "need confirmed (design)")

    def test_warning_no_decision_maker_and_no_coach_raised_and_cleared(self):
        rep = self.org.rep1
        acc = self._acc(rep, "SM cute")
        boss = self.contact(rep, acc["id"])
        guide = self.contact(rep, acc["id"])
        user = self.contact(rep, acc["id"])
        o = self.opportunity(rep, acc["id"], stage="interest")
        for code in ("no_decision_maker", "no_coach"):
            self.assertWarn(rep, o, code, False, "interest")
        self.move(rep, o, "brewing")
        for code in ("no_decision_maker", "no_coach"):
            self.assertWarn(rep, o, code, False, "brewing")
        self.stakeholder(rep, o, user["id"], role="user", attitude="coach")   # attitude is not the role
        for st in ("design", "compare", "commit", "use"):
            self.move(rep, o, st)
            for code in ("no_decision_maker", "no_coach"):
                self.assertWarn(rep, o, code, True, st)
        self.move(rep, o, "design")
        dm = self.stakeholder(rep, o, boss["id"], role="decision_maker", attitude="neutral")
        self.assertWarn(rep, o, "no_decision_maker", False, "decision maker added")
        self.assertWarn(rep, o, "no_coach", True, "decision maker added")
        coach = self.stakeholder(rep, o, guide["id"], role="coach", attitude="supporter")
        self.assertWarn(rep, o, "no_coach", False, "coach added")
        for st in ("compare", "commit", "use"):
            self.move(rep, o, st)
            for code in ("no_decision_maker", "no_coach"):
                self.assertWarn(rep, o, code, False, st)
        # they come back when the roles go
        sh = "opportunities/%d/stakeholders/%d" % (o["id"], coach["id"])
        self.assertStatus(rep.patch(sh, {"role": "user"}), 200)
        self.assertWarn(rep, o, "no_coach", True, "coach became a user")
        self.assertStatus(rep.patch(sh, {"role": "coach"}), 200)
        self.assertWarn(rep, o, "no_coach", False, "coach again")
        self.assertStatus(rep.delete("opportunities/%d/stakeholders/%d" % (o["id"], dm["id"])), 200)
        self.assertWarn(rep, o, "no_decision_maker", True, "decision maker archived")

    def test_warning_opponent_late_raised_and_cleared(self):
        rep = self.org.rep1
        acc = self._acc(rep, "SM opponent")
        cs = [self.contact(rep, acc["id"]) for _ in range(3)]
        o = self.opportunity(rep, acc["id"], stage="compare")
        self.stakeholder(rep, o, cs[0]["id"], role="decision_maker", attitude="supporter")
        self.stakeholder(rep, o, cs[1]["id"], role="coach", attitude="coach")
        opp = self.stakeholder(rep, o, cs[2]["id"], role="technical_gatekeeper", attitude="opponent")
        self.assertWarn(rep, o, "opponent_late", False, "opponent in compare")
        self.move(rep, o, "commit")
        self.assertWarn(rep, o, "opponent_late", True, "opponent in commit")
        sh = "opportunities/%d/stakeholders/%d" % (o["id"], opp["id"])
        self.assertStatus(rep.patch(sh, {"attitude": "non_supporter"}), 200)
        self.assertWarn(rep, o, "opponent_late", False, "turned non_supporter")
        self.assertStatus(rep.patch(sh, {"attitude": "opponent"}), 200)
        self.assertWarn(rep, o, "opponent_late", True, "opponent again")
        self.move(rep, o, "use")
        self.assertWarn(rep, o, "opponent_late", True, "opponent in use")
        self.assertStatus(rep.delete(sh), 200)
        self.assertWarn(rep, o, "opponent_late", False, "opponent archived")
        self.stakeholder(rep, o, cs[2]["id"], attitude="opponent")
        self.assertWarn(rep, o, "opponent_late", True, "opponent re-added")
        self.move(rep, o, "won")
        self.assertWarn(rep, o, "opponent_late", False, "won")

    def test_warning_neglect_after_signature_raised_and_cleared(self):
        rep = self.org.rep1
        acc = self._acc(rep, "SM neglect")
        other = self._acc(rep, "SM neglect other")
        o = self.opportunity(rep, acc["id"], stage="commit")
        self.activity(rep, acc["id"], channel="visit", occurred_at=days_ago(40))
        self.assertWarn(rep, o, "neglect_after_signature", False, "commit")
        self.move(rep, o, "use")
        self.assertWarn(rep, o, "neglect_after_signature", True, "use, last touch 40 days ago")
        self.activity(rep, acc["id"], channel="phone", occurred_at=days_ago(31))
        self.assertWarn(rep, o, "neglect_after_signature", True, "use, last touch 31 days ago")
        self.activity(rep, acc["id"], channel="phone", occurred_at=days_ago(1), effective=False)
        self.assertWarn(rep, o, "neglect_after_signature", True, "only an ineffective touch since")
        self.activity(rep, other["id"], channel="visit", occurred_at=days_ago(1))
        self.assertWarn(rep, o, "neglect_after_signature", True, "a touch on another account")
        recent = self.activity(rep, acc["id"], channel="wechat", occurred_at=days_ago(29))
        self.assertWarn(rep, o, "neglect_after_signature", False, "touched 29 days ago")
        self.assertStatus(rep.delete("activities/%d" % recent["id"]), 200)
        self.assertWarn(rep, o, "neglect_after_signature", True, "the recent touch archived")
        self.activity(rep, acc["id"], channel="visit", occurred_at=days_ago(0))
        self.assertWarn(rep, o, "neglect_after_signature", False, "touched today")
        # a signed deal on an account nobody ever followed up
        acc2 = self._acc(rep, "SM neglect never")
        o2 = self.opportunity(rep, acc2["id"], stage="use")
        self.assertWarn(rep, o2, "neglect_after_signature", True, "never followed up")
        self.move(rep, o2, "won")
        self.assertWarn(rep, o2, "neglect_after_signature", False, "won")

    def test_warning_overdue_close_raised_and_cleared(self):
        rep = self.org.rep1
        o = self.opportunity(rep, self.acc1["id"], stage="interest", expected_close_on=day(-3))
        self.assertIn("overdue_close", self.codes(o), "create response")
        self.assertWarn(rep, o, "overdue_close", True, "3 days past")
        self.assertStatus(rep.patch(self.opp_url(o), {"expected_close_on": day(3)}), 200)
        self.assertWarn(rep, o, "overdue_close", False, "in 3 days")
        self.assertStatus(rep.patch(self.opp_url(o), {"expected_close_on": None}), 200)
        self.assertWarn(rep, o, "overdue_close", False, "no date")
        r = rep.patch(self.opp_url(o), {"expected_close_on": day(-1)})
        self.assertIn("overdue_close", self.codes(r.json), "PATCH response")
        self.assertWarn(rep, o, "overdue_close", True, "yesterday")
        self.move(rep, o, "won")
        self.assertWarn(rep, o, "overdue_close", False, "won")
        o2 = self.opportunity(rep, self.acc1["id"], stage="compare", expected_close_on="2020-01-31")
        self.assertWarn(rep, o2, "overdue_close", True, "2020")
        self.move(rep, o2, "lost", lost_reason="too late")
        self.assertWarn(rep, o2, "overdue_close", False, "lost")

    def test_a_clean_opportunity_has_no_warnings(self):
        rep = self.org.rep1
        o = self.opportunity(rep, self.acc1["id"], stage="interest", expected_close_on=day(30))
        self.assertEqual(o["warnings"], [])
        self.assertEqual(self.reread(rep, o)["warnings"], [])
        self.assertError(rep.patch(self.opp_url(o), {"warnings": []}), 400, "read_only", field="warnings")

    # ------------------------------------------------------------------ GET /warnings

    def test_warnings_endpoint_filters_and_visibility(self):
        o = self.org
        o1 = self.opportunity(o.rep1, self.acc1["id"], stage="interest", expected_close_on=day(-5))
        o4 = self.opportunity(o.rep1, self.acc1["id"], stage="design", expected_close_on=day(20))
        o2 = self.opportunity(o.rep2, self.acc2["id"], stage="interest", expected_close_on=day(-5))
        o3 = self.opportunity(o.rep3, self.acc3["id"], stage="interest", expected_close_on=day(-5))
        ov = lambda x: (x["id"], "overdue_close")
        dm = (o4["id"], "no_decision_maker")

        def see(client, present, absent, **q):
            got = self.pairs(self.warnings(client, **q))
            for p in present:
                self.assertIn(p, got, "%s should see warning %r (query %r)" % (client.user["username"], p, q))
            for p in absent:
                self.assertNotIn(p, got, "%s should not see warning %r (query %r)" % (client.user["username"], p, q))
            return got

        see(o.rep1, [ov(o1), dm, (o4["id"], "no_coach")], [ov(o2), ov(o3)])
        see(o.rep2, [ov(o2)], [ov(o1), ov(o3), dm])
        see(o.rep3, [ov(o3)], [ov(o1), ov(o2), dm])
        see(o.mgr, [ov(o1), ov(o2), dm], [ov(o3)])
        see(o.other_mgr, [ov(o3)], [ov(o1), ov(o2), dm])
        see(o.top, [ov(o1), ov(o2), ov(o3), dm], [])
        see(self.admin, [ov(o1), ov(o2), ov(o3), dm], [])
        # the items carry what a list of warnings needs
        it = [i for i in self.warnings(o.rep1) if (i["opportunity_id"], i["code"]) == ov(o1)][0]
        self.assertIsInstance(it.get("message"), str)
        self.assertTrue(it["message"])
        # code filter
        items = self.warnings(o.mgr, code="overdue_close")
        self.assertTrue(items)
        self.assertEqual({i["code"] for i in items}, {"overdue_close"})
        see(o.mgr, [ov(o1), ov(o2)], [dm], code="overdue_close")
        see(o.mgr, [dm], [ov(o1), ov(o2)], code="no_decision_maker")
        # owner filter
        see(o.mgr, [ov(o2)], [ov(o1), dm, ov(o3)], owner_id=o.rep2.id)
        see(o.mgr, [ov(o1), dm], [ov(o2)], owner_id=o.rep1.id)
        see(self.admin, [ov(o1)], [dm, ov(o2), ov(o3)], owner_id=o.rep1.id, code="overdue_close")
        # an owner the caller does not see gives nothing of theirs
        see(o.mgr, [], [ov(o3)], owner_id=o.rep3.id)
        # bad parameters
        self.assertError(self.warnings(o.rep1, status=400, code="late"), 400, "invalid_param", field="code")
        self.assertError(self.warnings(o.rep1, status=400, owner_id="abc"), 400, "invalid_param", field="owner_id")
        self.assertError(self.warnings(o.rep1, status=400, colour="red"), 400, "invalid_param", field="colour")
        # computed on read: clearing the cause clears the list
        self.assertStatus(o.rep1.patch(self.opp_url(o1), {"expected_close_on": day(5)}), 200)
        see(o.rep1, [dm], [ov(o1)])
        see(o.mgr, [ov(o2)], [ov(o1)])

    def test_warnings_follow_the_account_team(self):
        o = self.org
        acc = self._acc(o.rep1, "SM team warn")
        w = self.opportunity(o.rep1, acc["id"], stage="interest", expected_close_on=day(-2))
        pair = (w["id"], "overdue_close")
        self.assertNotIn(pair, self.pairs(self.warnings(o.rep3)))
        r = o.rep1.post("accounts/%d/team" % acc["id"], {"user_id": o.rep3.id, "access": "read", "sensitive": False})
        self.assertStatus(r, 201)
        self.assertIn(pair, self.pairs(self.warnings(o.rep3)), "a team member sees the account's opportunities")
        self.assertStatus(o.rep1.delete("accounts/%d/team/%d" % (acc["id"], o.rep3.id)), 200)
        self.assertNotIn(pair, self.pairs(self.warnings(o.rep3)))


if __name__ == "__main__":
    unittest.main()
