"""51: analytics (SPEC section 8, issue 5): funnel, forecast, activity, pool,
segments, reps.

A small company is generated through the API (gen_company.py, a fixed
seed); every figure of every report is then computed here, in Python, from
the generator's own record of what it created (plus the timestamps the
server assigned: created_at, stage-change and owner-change times), following
the definitions in components.schemas.Analytics* of the OpenAPI document,
and compared with the server's answer for several scopes, callers and
periods.  Visibility: a scope the caller may not see answers 404, and data
of another department never moves a team's figures.
"""

import datetime
import unittest
from fractions import Fraction

from harness import ApiTestCase
from gen_company import (OPEN_STAGES, ORDER, Company, day8, iso_week, parse_ts, period_range)

REPORTS = ("funnel", "forecast", "activity", "pool", "segments", "reps")
SEGMENTS = ("habitual", "beginner", "prospect")

R4 = {"win_rate", "rate", "effective_share", "account_share", "revenue_share", "touch_share", "attainment",
      "quota_attainment"}
D2 = {"avg_days", "avg_cycle_days"}


def ratio(a, b):
    return None if not b else Fraction(a, b)


def mean(xs):
    return None if not xs else sum(xs, Fraction(0)) / len(xs)


def half_up(amount, rate):
    q, r = divmod(amount * rate, 100)
    return q + (1 if r >= 50 else 0)


def secs(a, b):
    """Exact seconds from timestamp a to b (millisecond precision)."""
    d = parse_ts(b) - parse_ts(a)
    return Fraction(d.days * 86400 * 1000000 + d.seconds * 1000000 + d.microseconds, 1000000)


class Model:
    """The reference computation over the generator's record."""

    def __init__(self, co):
        self.co = co
        self.T = co.T
        self.team_ids = {t["id"]: t for t in co.teams.values()}
        self.users = {u["id"]: u for u in co.users.values()}

    # -- scopes
    def subtree(self, team_id):
        out = {team_id}
        changed = True
        while changed:
            changed = False
            for t in self.team_ids.values():
                if t["parent_id"] in out and t["id"] not in out:
                    out.add(t["id"])
                    changed = True
        return out

    def users_of(self, teams):
        return {u["id"] for u in self.users.values() if u["team_id"] in teams}

    def scope(self, caller, scope):
        """-> (users U, teams, is_company)"""
        if scope == "me":
            return {self.co.uid(caller)}, set(), False
        if scope == "company":
            return set(self.users), set(self.team_ids), True
        teams = self.subtree(self.co.teams[scope.split(":", 1)[1]]["id"])
        return self.users_of(teams), teams, False

    def scope_param(self, scope):
        if scope.startswith("team:"):
            return "team:%d" % self.co.teams[scope[5:]]["id"]
        return scope

    # -- record helpers
    def live_opps(self, U=None):
        return [o for o in self.co.opps.values() if not o["archived"] and (U is None or o["owner_id"] in U)]

    def live_acts(self):
        return [a for a in self.co.acts.values() if not a["archived"]]

    def live_accounts(self, U):
        return [a for a in self.co.accounts.values() if not a["archived"] and a["owner_id"] in U]

    @staticmethod
    def last_move(o, stage):
        ats = [h["at"] for h in o["history"] if h["to"] == stage]
        return ats[-1] if ats else None

    def closed(self, U, frm, to, stage):
        """Opportunities now in `stage` (won/lost) whose last move there is in the period."""
        return [o for o in self.live_opps(U)
                if o["stage"] == stage and frm <= day8(self.last_move(o, stage)) <= to]

    def weighted(self, o):
        return half_up(o["amount"], self.co.rates[o["stage"]])

    # -- the reports
    def funnel(self, U, frm, to):
        stages = []
        for s in OPEN_STAGES:
            os_ = [o for o in self.live_opps(U) if o["stage"] == s]
            stages.append({"stage": s, "count": len(os_), "amount": sum(o["amount"] for o in os_),
                           "weighted_amount": sum(self.weighted(o) for o in os_)})
        won = self.closed(U, frm, to, "won")
        lost = self.closed(U, frm, to, "lost")
        cohort = [o for o in self.live_opps(U) if frm <= day8(o["created_at"]) <= to]

        def furthest(o):
            return max([ORDER.index(h["to"]) for h in o["history"] if h["to"] != "lost"], default=-1)

        conversion = []
        for n, s in enumerate(OPEN_STAGES):
            rf = sum(1 for o in cohort if furthest(o) >= n)
            rt = sum(1 for o in cohort if furthest(o) >= n + 1)
            conversion.append({"from": s, "to": ORDER[n + 1], "reached_from": rf, "reached_to": rt,
                               "rate": ratio(rt, rf)})
        stays = {s: [] for s in OPEN_STAGES}
        for o in self.live_opps(U):
            h = o["history"]
            for i in range(len(h) - 1):
                if h[i]["to"] in stays and frm <= day8(h[i + 1]["at"]) <= to:
                    stays[h[i]["to"]].append(secs(h[i]["at"], h[i + 1]["at"]) / 86400)
        return {
            "stages": stages,
            "open": {k: sum(r[k] for r in stages) for k in ("count", "amount", "weighted_amount")},
            "won": {"count": len(won), "amount": sum(o["amount"] for o in won)},
            "lost": {"count": len(lost), "amount": sum(o["amount"] for o in lost)},
            "win_rate": ratio(len(won), len(won) + len(lost)),
            "conversion": conversion,
            "avg_days_in_stage": [{"stage": s, "stays": len(stays[s]), "avg_days": mean(stays[s])}
                                  for s in OPEN_STAGES],
            "avg_cycle_days": mean([secs(o["created_at"], self.last_move(o, "won")) / 86400 for o in won]),
        }

    def forecast(self, U, teams, frm, to):
        months = {}
        for o in self.live_opps(U):
            if o["stage"] in OPEN_STAGES and o["expected_close_on"]:
                d = datetime.date.fromisoformat(o["expected_close_on"])
                if frm <= d <= to:
                    m = months.setdefault(d.isoformat()[:7], {"count": 0, "amount": 0, "weighted_amount": 0})
                    m["count"] += 1
                    m["amount"] += o["amount"]
                    m["weighted_amount"] += self.weighted(o)
        wonm = {}
        for o in self.closed(U, frm, to, "won"):
            m = wonm.setdefault(day8(self.last_move(o, "won")).isoformat()[:7], {"count": 0, "amount": 0})
            m["count"] += 1
            m["amount"] += o["amount"]
        quotas = []
        for q in self.co.quotas.values():
            if q["archived"] or not (q["user_id"] in U or q["team_id"] in teams):
                continue
            qf, qt = period_range(q["period"])
            if qf > to or qt < frm:
                continue
            owners = {q["user_id"]} if q["user_id"] else self.users_of(self.subtree(q["team_id"]))
            won = sum(o["amount"] for o in self.closed(owners, qf, qt, "won"))
            quotas.append({"id": q["id"], "user_id": q["user_id"], "team_id": q["team_id"], "period": q["period"],
                           "amount": q["amount"], "won": won, "attainment": ratio(won, q["amount"])})
        return {
            "by_close_month": [dict(month=k, **v) for k, v in sorted(months.items())],
            "won_by_month": [dict(month=k, **v) for k, v in sorted(wonm.items())],
            "quotas": quotas,
        }

    def touches_of_account(self, acc_id):
        return [a for a in self.live_acts() if a["effective"] and a["account_id"] == acc_id]

    def activity(self, U, frm, to):
        acts = [a for a in self.live_acts() if a["user_id"] in U and frm <= day8(a["occurred_at"]) <= to]
        eff = [a for a in acts if a["effective"]]
        weeks, chans = {}, {}
        for a in eff:
            k = (a["user_id"], iso_week(day8(a["occurred_at"])))
            weeks[k] = weeks.get(k, 0) + 1
            chans[a["channel"]] = chans.get(a["channel"], 0) + 1
        sleep_days = self.co.settings["sleeping_after_days"]
        need = self.co.settings["intervention_touches"]
        sleeping = intervention = 0
        for acc in self.live_accounts(U):
            touches = self.touches_of_account(acc["id"])
            last = max([parse_ts(a["occurred_at"]) for a in touches], default=parse_ts(acc["created_at"]))
            if (self.T - day8(last)).days > sleep_days:
                sleeping += 1
            won = any(o["stage"] == "won" for o in self.live_opps() if o["account_id"] == acc["id"])
            if len(touches) >= need and not won:
                intervention += 1
        return {
            "touches_per_rep_week": [{"user_id": u, "week": w, "touches": n} for (u, w), n in sorted(weeks.items())],
            "activities": len(acts),
            "effective": len(eff),
            "effective_share": ratio(len(eff), len(acts)),
            "accounts_touched": len({a["account_id"] for a in eff}),
            "by_channel": [{"channel": c, "touches": n} for c, n in sorted(chans.items())],
            "sleeping_accounts": sleeping,
            "intervention": intervention,
        }

    def pool(self, U, company, frm, to):
        inflow, outflow = {}, {}
        for acc_id, changes in self.co.owners.items():
            acc = self.co.accounts[acc_id]
            for i, ch in enumerate(changes):
                if i == 0 and acc["created_owner"] is not None:
                    continue  # the creation of an owned account is no move out of the pool
                if not frm <= day8(ch["at"]) <= to:
                    continue
                if ch["to"] is None and (company or ch["from"] in U):
                    inflow[ch["reason"]] = inflow.get(ch["reason"], 0) + 1
                if ch["from"] is None and ch["to"] is not None and ch["to"] in U:
                    outflow[ch["reason"]] = outflow.get(ch["reason"], 0) + 1
        return {
            "pool_size": sum(1 for a in self.co.accounts.values() if not a["archived"] and a["owner_id"] is None),
            "inflow": [{"reason": k, "n": v} for k, v in sorted(inflow.items())],
            "outflow": [{"reason": k, "n": v} for k, v in sorted(outflow.items())],
            "inflow_total": sum(inflow.values()),
            "outflow_total": sum(outflow.values()),
        }

    def segment_of(self, acc_id):
        orders = [o for o in self.co.orders.values() if o["account_id"] == acc_id and not o["archived"]]
        if not orders:
            return "prospect"
        first = min(datetime.date.fromisoformat(o["ordered_on"]) for o in orders)
        if len(orders) >= 2 and (self.T - first).days > 180:
            return "habitual"
        return "beginner"

    def segments(self, U, frm, to):
        rows = {s: {"segment": s, "accounts": 0, "revenue": 0, "touches": 0} for s in SEGMENTS}
        for acc in self.live_accounts(U):
            r = rows[self.segment_of(acc["id"])]
            r["accounts"] += 1
            r["revenue"] += sum(o["amount"] for o in self.co.orders.values()
                                if o["account_id"] == acc["id"] and not o["archived"]
                                and frm <= datetime.date.fromisoformat(o["ordered_on"]) <= to)
            r["touches"] += sum(1 for a in self.touches_of_account(acc["id"]) if frm <= day8(a["occurred_at"]) <= to)
        tot = {k: sum(r[k] for r in rows.values()) for k in ("accounts", "revenue", "touches")}
        for r in rows.values():
            r["account_share"] = ratio(r["accounts"], tot["accounts"])
            r["revenue_share"] = ratio(r["revenue"], tot["revenue"])
            r["touch_share"] = ratio(r["touches"], tot["touches"])
        return {"segments": [rows[s] for s in SEGMENTS]}

    def reps(self, U, frm, to):
        items = []
        for uid in sorted(U):
            u = self.users[uid]
            if u["role"] != "rep" or u["archived"]:
                continue
            mine = {uid}
            eff = [a for a in self.live_acts() if a["effective"] and a["user_id"] == uid]
            first_touch = {}
            for a in eff:
                t = parse_ts(a["occurred_at"])
                if a["account_id"] not in first_touch or t < first_touch[a["account_id"]]:
                    first_touch[a["account_id"]] = t
            open_ = [o for o in self.live_opps(mine) if o["stage"] in OPEN_STAGES]
            won = self.closed(mine, frm, to, "won")
            lost = self.closed(mine, frm, to, "lost")
            qs = [q["amount"] for q in self.co.quotas.values()
                  if not q["archived"] and q["user_id"] == uid
                  and period_range(q["period"])[0] <= to and period_range(q["period"])[1] >= frm]
            quota = sum(qs) if qs else None
            wins = [parse_ts(h["at"]) for o in self.live_opps(mine) for h in o["history"] if h["to"] == "won"]
            ramp = None
            if wins and u["hired_on"]:
                ramp = (day8(min(wins)) - datetime.date.fromisoformat(u["hired_on"])).days
            won_amount = sum(o["amount"] for o in won)
            items.append({
                "user_id": uid, "username": u["username"], "display_name": u["display_name"],
                "hired_on": u["hired_on"],
                "accounts_owned": len(self.live_accounts(mine)),
                "touches": sum(1 for a in eff if frm <= day8(a["occurred_at"]) <= to),
                "new_accounts_touched": sum(1 for t in first_touch.values() if frm <= day8(t) <= to),
                "open_pipeline": sum(o["amount"] for o in open_),
                "weighted_pipeline": sum(self.weighted(o) for o in open_),
                "won_count": len(won), "won_amount": won_amount, "lost_count": len(lost),
                "win_rate": ratio(len(won), len(won) + len(lost)),
                "quota": quota,
                "quota_attainment": None if quota is None else ratio(won_amount, quota),
                "ramp_days": ramp,
            })
        return {"items": items}

    def report(self, name, caller, scope, frm, to):
        U, teams, company = self.scope(caller, scope)
        if name == "funnel":
            return self.funnel(U, frm, to)
        if name == "forecast":
            return self.forecast(U, teams, frm, to)
        if name == "activity":
            return self.activity(U, frm, to)
        if name == "pool":
            return self.pool(U, company, frm, to)
        if name == "segments":
            return self.segments(U, frm, to)
        return self.reps(U, frm, to)


# --------------------------------------------------------------------------
# comparing an answer with the reference

# list fields: the key of a row, and whether rows whose figures are all 0 may
# be left out (the definitions do not say whether empty rows appear)
KEYS = {
    "stages": ("stage", False), "conversion": ("from", False), "avg_days_in_stage": ("stage", False),
    "by_close_month": ("month", True), "won_by_month": ("month", True), "quotas": ("id", False),
    "touches_per_rep_week": (("user_id", "week"), True), "by_channel": ("channel", True),
    "inflow": ("reason", True), "outflow": ("reason", True), "segments": ("segment", False),
    "items": ("user_id", False),
}
ORDERED = {"stages", "conversion", "avg_days_in_stage"}  # "in funnel order"


def _key(row, k):
    return tuple(row.get(x) for x in k) if isinstance(k, tuple) else row.get(k)


def _zero(row, k):
    keys = k if isinstance(k, tuple) else (k,)
    return all(v in (0, None) for f, v in row.items() if f not in keys and not isinstance(v, str))


def compare(exp, got, path, errs, optional_rows=None):
    """Append to errs one line per difference between the reference and the answer."""
    if isinstance(exp, dict):
        if not isinstance(got, dict):
            errs.append("%s: expected an object, got %r" % (path, got))
            return
        for k, v in exp.items():
            if k not in got:
                errs.append("%s.%s: missing (expected %r)" % (path, k, _show(v)))
                continue
            compare(v, got[k], "%s.%s" % (path, k), errs, optional_rows)
        return
    if isinstance(exp, list):
        name = path.rsplit(".", 1)[-1]
        if not isinstance(got, list):
            errs.append("%s: expected a list, got %r" % (path, got))
            return
        k, sparse = KEYS[name]
        e = {_key(r, k): r for r in exp}
        g = {}
        for r in got:
            if not isinstance(r, dict):
                errs.append("%s: a row is not an object: %r" % (path, r))
                return
            if _key(r, k) in g:
                errs.append("%s: two rows for %r" % (path, _key(r, k)))
            g[_key(r, k)] = r
        if name in ORDERED and [_key(r, k) for r in got] != [_key(r, k) for r in exp]:
            errs.append("%s: rows %r, expected %r in this order" % (path, [_key(r, k) for r in got],
                                                                    [_key(r, k) for r in exp]))
        if sparse:
            e = {kk: r for kk, r in e.items() if not _zero(r, k)}
            g = {kk: r for kk, r in g.items() if not _zero(r, k)}
        if optional_rows and name in optional_rows:
            for kk in list(e):
                if kk not in g and optional_rows[name](kk):
                    del e[kk]
        for kk in sorted(set(e) | set(g), key=repr):
            if kk not in g:
                errs.append("%s[%r]: missing row (expected %s)" % (path, kk, _show(e[kk])))
            elif kk not in e:
                errs.append("%s[%r]: unexpected row %s" % (path, kk, g[kk]))
            else:
                compare(e[kk], g[kk], "%s[%r]" % (path, kk), errs, optional_rows)
        return
    field = path.rsplit(".", 1)[-1]
    if exp is None or got is None:
        if exp is not got:
            errs.append("%s: expected %s, got %r" % (path, _show(exp), got))
        return
    if field in R4 or field in D2:
        places = 4 if field in R4 else 2
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            errs.append("%s: expected a number %s, got %r" % (path, _show(exp), got))
            return
        tol = Fraction(1, 2 * 10 ** places)
        if abs(Fraction(got) - exp) > tol + Fraction(1, 10 ** 12) \
                or abs(got * 10 ** places - round(got * 10 ** places)) > 1e-6:
            errs.append("%s: expected %s (%d decimals), got %r" % (path, _show(exp), places, got))
        return
    if isinstance(exp, int) and not isinstance(exp, bool):
        if isinstance(got, bool) or not isinstance(got, int):
            errs.append("%s: expected the integer %d, got %r" % (path, exp, got))
        elif got != exp:
            errs.append("%s: expected %d, got %d" % (path, exp, got))
        return
    if got != exp:
        errs.append("%s: expected %r, got %r" % (path, exp, got))


def _show(v):
    if isinstance(v, Fraction):
        return "%s (=%.6f)" % (v, float(v))
    if isinstance(v, dict):
        return "{%s}" % ", ".join("%s: %s" % (k, _show(x)) for k, x in v.items())
    if isinstance(v, list):
        return "[%s]" % ", ".join(_show(x) for x in v)
    return repr(v)


# --------------------------------------------------------------------------


class AnalyticsTest(ApiTestCase):
    ORG_USERS = ()

    # (caller, scope) pairs every report is checked for
    SCOPES = (
        ("admin", "company"), ("admin", "team:root"), ("admin", "team:d1"), ("admin", "team:d1a"),
        ("admin", "team:d1b"), ("admin", "team:d2"), ("admin", "team:d2a"), ("admin", "me"),
        ("m1", "team:d1"), ("m1", "team:d1a"), ("m1", "team:d1b"), ("m1", "me"),
        ("m1b", "team:d1b"), ("m2", "team:d2"), ("m2", "team:d2a"),
        ("r1", "me"), ("r2", "me"), ("r3", "me"), ("r4", "me"), ("r5", "me"),
    )
    # and these also for the narrow periods
    FOCUS = (("admin", "company"), ("m1", "team:d1"), ("m1", "team:d1a"), ("m2", "team:d2"), ("r1", "me"),
             ("r4", "me"))

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.co = Company(cls.server, cls.admin).build()
        except BaseException:
            cls.server.cleanup()
            raise
        cls.model = Model(cls.co)
        T = cls.co.T
        dd = datetime.timedelta
        cls.PERIODS = {
            "all": (T - dd(days=450), T + dd(days=250)),   # everything
            "recent": (T - dd(days=20), T),                 # today's moves, recent touches and orders
            "past": (T - dd(days=100), T - dd(days=15)),   # back-dated data only, no stage move
            "day": (cls.co.D, cls.co.D),                    # one UTC+8 day: its first and last instants
            "ahead": (T + dd(days=1), T + dd(days=200)),   # expected closes only
            # today in UTC+8 only, and up to yesterday: every stage and owner
            # change happens now, so between 16:00 and 24:00 UTC (when the
            # UTC date is still yesterday) these tell UTC+8 days from UTC days
            "today": (T, T),
            "to_yesterday": (T - dd(days=30), T - dd(days=1)),
        }

    # -- helpers
    def ask(self, report, caller, scope, period):
        frm, to = self.PERIODS[period] if isinstance(period, str) else period
        q = {"scope": self.model.scope_param(scope), "from": frm.isoformat(), "to": to.isoformat()}
        return self.co.c(caller).get("analytics/" + report, query=q)

    def check(self, report, caller, scope, period, errs, model=None):
        model = model or self.model
        frm, to = self.PERIODS[period]
        r = self.ask(report, caller, scope, period)
        label = "%s %s as %s, %s %s..%s" % (report, scope, caller, period, frm, to)
        if r.status != 200:
            errs.append("%s: HTTP %s %s" % (label, r.status, r.body[:300]))
            return
        exp = model.report(report, caller, scope, frm, to)
        exp = dict({"scope": model.scope_param(scope), "from": frm.isoformat(), "to": to.isoformat()}, **exp)
        users = model.users
        optional = {
            # the rows of a manager's or admin's own touches: "per rep" may leave them out
            "touches_per_rep_week": lambda k: users[k[0]]["role"] != "rep",
        }
        compare(exp, r.json, label, errs, optional)

    def check_report(self, report):
        errs = []
        for caller, scope in self.SCOPES:
            for period in ("all", "recent", "past"):
                self.check(report, caller, scope, period, errs)
        for caller, scope in self.FOCUS:
            for period in ("day", "ahead", "today", "to_yesterday"):
                self.check(report, caller, scope, period, errs)
        if errs:
            self.fail("%d wrong figure(s):\n  %s" % (len(errs), "\n  ".join(errs[:60])))

    # -- the figures
    def test_funnel(self):
        self.check_report("funnel")

    def test_forecast(self):
        self.check_report("forecast")

    def test_activity(self):
        self.check_report("activity")

    def test_pool(self):
        self.check_report("pool")

    def test_segments(self):
        self.check_report("segments")

    def test_reps(self):
        self.check_report("reps")

    def test_generated_data_covers_the_cases(self):
        """The reference figures are not trivially zero: the data exercises what the reports measure."""
        m, (frm, to) = self.model, self.PERIODS["all"]
        U, teams, _ = m.scope("admin", "company")
        f = m.funnel(U, frm, to)
        self.assertGreater(f["won"]["count"], 2)
        self.assertGreater(f["lost"]["count"], 2)
        self.assertTrue(all(r["count"] for r in f["stages"]), f["stages"])
        a = m.activity(U, frm, to)
        self.assertGreaterEqual(a["intervention"], 2)
        self.assertGreaterEqual(a["sleeping_accounts"], 2)
        self.assertGreater(a["activities"], a["effective"])
        p = m.pool(U, True, frm, to)
        self.assertEqual({r["reason"] for r in p["inflow"]}, {"parked", "reclaimed", "converted"})
        self.assertEqual({r["reason"] for r in p["outflow"]}, {"claimed", "assigned"})
        s = m.segments(U, frm, to)
        self.assertTrue(all(r["accounts"] for r in s["segments"]), s)
        reps = m.reps(U, frm, to)["items"]
        self.assertTrue(any(r["ramp_days"] is None for r in reps) and any(r["ramp_days"] for r in reps))
        self.assertTrue(any(r["quota"] is None for r in reps) and any(r["quota"] for r in reps))
        fc = m.forecast(U, teams, frm, to)
        self.assertTrue(any(q["attainment"] is None for q in fc["quotas"]))
        self.assertTrue(any(q["won"] for q in fc["quotas"]))
        # the one-day period holds both edges of a UTC+8 day
        d = m.activity(U, *self.PERIODS["day"])
        self.assertEqual(d["effective"], 3)

    def test_default_period(self):
        """Without from/to: 1 January of this year (UTC+8) .. today (UTC+8)."""
        T = self.co.T
        frm, to = datetime.date(T.year, 1, 1), T
        errs = []
        for report in REPORTS:
            for caller, scope in (("m1", "team:d1"), ("r1", "me")):
                r = self.co.c(caller).get("analytics/" + report, query={"scope": self.model.scope_param(scope)})
                self.assertStatus(r, 200)
                exp = self.model.report(report, caller, scope, frm, to)
                exp = dict({"scope": self.model.scope_param(scope), "from": frm.isoformat(), "to": to.isoformat()},
                           **exp)
                compare(exp, r.json, "%s %s as %s (default period)" % (report, scope, caller), errs,
                        {"touches_per_rep_week": lambda k: self.model.users[k[0]]["role"] != "rep"})
        if errs:
            self.fail("\n  ".join(errs[:40]))

    # -- visibility
    def test_scopes_the_caller_may_not_see_are_404(self):
        cases = [
            ("r1", "company"), ("r1", "team:d1a"), ("r1", "team:d1"), ("r1", "team:d2a"), ("r3", "team:d1b"),
            ("r4", "team:d2a"), ("r5", "company"),
            ("m1", "company"), ("m1", "team:d2"), ("m1", "team:d2a"), ("m1", "team:root"),
            ("m1b", "team:d1"), ("m1b", "team:d1a"), ("m1b", "company"), ("m1b", "team:root"),
            ("m2", "company"), ("m2", "team:d1"), ("m2", "team:d1a"), ("m2", "team:d1b"),
        ]
        for report in REPORTS:
            for caller, scope in cases:
                r = self.co.c(caller).get("analytics/" + report,
                                          query={"scope": self.model.scope_param(scope)})
                self.assertError(r, 404, "not_found", msg="%s %s as %s" % (report, scope, caller))
            # a partner sees no team and not the company (403: no analytics at all, is fine too)
            for scope in ("company", "team:d2", "team:root"):
                r = self.co.c("p1").get("analytics/" + report, query={"scope": self.model.scope_param(scope)})
                self.assertError(r, (403, 404), msg="%s %s as a partner" % (report, scope))
            # a team that does not exist is 404 too, for everyone
            for caller in ("admin", "m1", "r1"):
                r = self.co.c(caller).get("analytics/" + report, query={"scope": "team:987654"})
                self.assertError(r, 404, "not_found", msg="%s unknown team as %s" % (report, caller))

    def test_bad_parameters(self):
        for report in REPORTS:
            for q, field in (({"scope": "everyone"}, "scope"), ({"scope": "team:abc"}, "scope"),
                             ({"scope": "me", "from": "2026-02-30"}, "from"),
                             ({"scope": "me", "to": "26-11-01"}, "to"),
                             ({"scope": "me", "from": "2026-11-02", "to": "2026-11-01"}, None),
                             ({"scope": "me", "colour": "red"}, "colour")):
                r = self.co.c("m1").get("analytics/" + report, query=q)
                self.assertError(r, 400, "invalid_param", field=field, msg="%s %r" % (report, q))
        self.assertError(self.server.client().get("analytics/funnel", query={"scope": "company"}), 401)

    def test_zz_another_department_never_moves_a_team_figure(self):
        """New deals, wins, losses, touches, orders, quotas and pool moves in d2
        leave every figure of d1's scopes exactly as it was; d2's and the
        company's figures follow the reference with the new data."""
        watched = [("m1", "team:d1"), ("m1", "team:d1a"), ("m1", "team:d1b"), ("m1b", "team:d1b"),
                   ("admin", "team:d1"), ("r1", "me"), ("r2", "me"), ("r3", "me")]
        before = {}
        for report in REPORTS:
            for caller, scope in watched:
                for period in ("all", "recent"):
                    r = self.ask(report, caller, scope, period)
                    self.assertStatus(r, 200)
                    before[report, caller, scope, period] = r.json
        self.co.extra_d2()
        model = Model(self.co)
        moved = []
        for key, old in before.items():
            r = self.ask(key[0], key[1], key[2], key[3])
            self.assertStatus(r, 200)
            if r.json != old:
                diffs = []
                compare(old, r.json, "%s %s as %s, %s" % (key[0], key[2], key[1], key[3]), diffs)
                moved.extend(diffs or ["%s changed" % (key,)])
        errs = []
        for report in REPORTS:
            for caller, scope in (("admin", "company"), ("admin", "team:d2"), ("m2", "team:d2a"), ("r4", "me"),
                                  ("r5", "me"), ("m1", "team:d1")):
                for period in ("all", "recent"):
                    self.check(report, caller, scope, period, errs, model)
        self.assertEqual(moved, [], "figures of d1 moved after data was added in d2")
        if errs:
            self.fail("%d wrong figure(s) after the d2 additions:\n  %s" % (len(errs), "\n  ".join(errs[:60])))

    def test_zzz_figures_follow_the_owners_current_team(self):
        """A rep moved to another team takes their accounts, deals and
        touches along: team scopes are by the owner's/actor's team now."""
        r5 = self.co.users["r5"]
        r = self.admin.patch("users/%d" % r5["id"], {"team_id": self.co.teams["d1b"]["id"]})
        self.assertStatus(r, 200)
        r5["team_id"] = self.co.teams["d1b"]["id"]
        model = Model(self.co)
        errs = []
        for report in REPORTS:
            for caller, scope in (("m1b", "team:d1b"), ("m1", "team:d1"), ("m2", "team:d2a"), ("admin", "team:d2"),
                                  ("admin", "company"), ("r5", "me")):
                for period in ("all", "recent"):
                    self.check(report, caller, scope, period, errs, model)
        # and the other department's manager no longer sees that rep's figures
        r = self.co.c("m2").get("analytics/reps", query={"scope": "team:%d" % self.co.teams["d2"]["id"]})
        self.assertStatus(r, 200)
        self.assertNotIn(r5["id"], [i["user_id"] for i in r.json["items"]])
        if errs:
            self.fail("%d wrong figure(s) after moving r5 to d1b:\n  %s" % (len(errs), "\n  ".join(errs[:60])))


if __name__ == "__main__":
    unittest.main()
