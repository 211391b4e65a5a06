"""A small, deterministic company built through the API, for the analytics
tests (test_51).  Everything is created with ordinary API calls; the
generator keeps its own Python-side record of what it made so that the tests
can compute every analytics figure independently of the server.

The only things read back from the server are what it assigns itself: ids,
created_at, the `at` of each stage change (GET /opportunities/{id}/history),
the `at` and reason of each owner change (GET /accounts/{id}/owners), the
stage win rates (GET /settings/stages) and the rule numbers (GET /settings).
What the generator believes (stage paths, owners, archived flags) is checked
against what the server answers, so a disagreement shows up as a setup error
rather than as a wrong figure.

    company (root)
    ├── d1   (manager m1)
    │   ├── d1a        r1, r2, r7 (inactive, no records)
    │   └── d1b  (manager m1b)  r3
    └── d2   (manager m2)
        └── d2a        r4, r5, r6 (archived, no records)
    (no team)          p1 (partner)

Dates: "today" (T) is today's date in UTC+8, the time zone every analytics
period is expressed in; all back-dated data is placed relative to T.
"""

import datetime
import random

from harness import PW, uniq

UTC = datetime.timezone.utc
UTC8 = datetime.timezone(datetime.timedelta(hours=8))

OPEN_STAGES = ("interest", "brewing", "design", "compare", "commit", "use")
ORDER = OPEN_STAGES + ("won",)
CHANNELS = ("phone", "wechat", "sms", "visit", "invite", "email", "meeting", "quote", "demo", "other")


# --------------------------------------------------------------------------
# time helpers


def parse_ts(s):
    """RFC 3339 (…Z or offset) -> aware datetime."""
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def fmt_ts(dt):
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)


def day8(ts):
    """The UTC+8 calendar date of a timestamp (string or datetime)."""
    if isinstance(ts, str):
        ts = parse_ts(ts)
    return ts.astimezone(UTC8).date()


def at8(d, h=10, m=0, s=0, ms=0):
    """A UTC+8 wall-clock time on date d, as an RFC 3339 UTC string."""
    return fmt_ts(datetime.datetime(d.year, d.month, d.day, h, m, s, ms * 1000, tzinfo=UTC8))


def today8():
    return datetime.datetime.now(UTC8).date()


def month_of(d):
    return "%04d-%02d" % (d.year, d.month)


def quarter_of(d):
    return "%04d-Q%d" % (d.year, (d.month - 1) // 3 + 1)


def add_months(d, n):
    y, m = divmod(d.year * 12 + d.month - 1 + n, 12)
    return datetime.date(y, m + 1, 1)


def period_range(p):
    """'2026-Q4' / '2026-11' -> (first day, last day)."""
    if "-Q" in p:
        y, q = int(p[:4]), int(p[-1])
        first = datetime.date(y, 3 * q - 2, 1)
        last = add_months(first, 3) - datetime.timedelta(days=1)
    else:
        first = datetime.date(int(p[:4]), int(p[5:7]), 1)
        last = add_months(first, 1) - datetime.timedelta(days=1)
    return first, last


def iso_week(d):
    y, w, _ = d.isocalendar()
    return "%04d-W%02d" % (y, w)


# --------------------------------------------------------------------------
# the generator


class Company:
    """Builds the company and keeps the record.

    users[key]  = {id, key, role, team_id, hired_on, archived, username, display_name}
    teams[key]  = {id, parent_id}
    accounts[id] = {id, key, owner_id, created_at, archived}
    opps[id]    = {id, account_id, owner_id, amount, stage, expected_close_on, created_at,
                   archived, path: [stages], history: [{from, to, at, by}]}
    acts[id]    = {id, user_id, account_id, channel, effective, occurred_at, archived}
    orders[id]  = {id, account_id, amount, ordered_on, archived}
    quotas[id]  = {id, user_id, team_id, period, amount, archived}
    owners[account_id] = [{from, to, reason, at, note}] (read back)
    """

    def __init__(self, server, admin, seed=5151):
        self.server = server
        self.admin = admin
        self.rng = random.Random(seed)
        self.tag = uniq("co").replace("-", "")
        self.T = today8()
        self.now = datetime.datetime.now(UTC)
        self.users = {"admin": {"id": admin.id, "key": "admin", "role": "admin", "team_id": None,
                                "hired_on": None, "archived": False, "username": "admin",
                                "display_name": admin.user.get("display_name")}}
        self.teams = {}
        self.clients = {"admin": admin}
        self.accounts = {}
        self.acc_by_key = {}
        self.opps = {}
        self.acts = {}
        self.orders = {}
        self.quotas = {}
        self.owners = {}
        self.rates = {}
        self.settings = {}
        self.swept = []

    # -- small API helpers
    def _ok(self, r, status=(200, 201), what=""):
        statuses = status if isinstance(status, tuple) else (status,)
        if r.status not in statuses:
            raise AssertionError("company generator: %s failed: %r" % (what or r.path, r))
        return r.json

    def c(self, who):
        return self.clients[who]

    def uid(self, key):
        return self.users[key]["id"]

    def days(self, n):
        return self.T - datetime.timedelta(days=n)

    # -- structure
    def team(self, key, parent):
        body = {"name": "%s %s" % (key, self.tag), "parent_id": self.teams[parent]["id"] if parent else None}
        j = self._ok(self.admin.post("teams", body), 201, "team " + key)
        self.teams[key] = {"id": j["id"], "parent_id": body["parent_id"], "key": key}

    def user(self, key, role, team, hired_on=None, active=True, login=True):
        uname = "%s%s" % (key, self.tag)
        body = {"username": uname, "display_name": "%s %s" % (key.upper(), self.tag), "role": role,
                "team_id": self.teams[team]["id"] if team else None, "password": PW}
        if hired_on is not None:
            body["hired_on"] = hired_on.isoformat()
        if not active:
            body["active"] = False
        j = self._ok(self.admin.post("users", body), 201, "user " + key)
        self.users[key] = {"id": j["id"], "key": key, "role": role, "team_id": body["team_id"],
                           "hired_on": body.get("hired_on"), "archived": False, "username": j["username"],
                           "display_name": j.get("display_name")}
        if login:
            self.clients[key] = self.server.login(uname, PW)

    # -- records
    def account(self, who, key, owner=None, pool=False):
        body = {"name": "%s %s" % (key, self.tag)}
        if pool:
            body["owner_id"] = None
        elif owner is not None:
            body["owner_id"] = self.uid(owner)
        j = self._ok(self.c(who).post("accounts", body), 201, "account " + key)
        want = None if pool else self.uid(owner or who)
        if j["owner_id"] != want:
            raise AssertionError("account %s: owner %r, expected %r" % (key, j["owner_id"], want))
        a = {"id": j["id"], "key": key, "owner_id": j["owner_id"], "created_at": j["created_at"], "archived": False,
             "created_owner": j["owner_id"]}
        self.accounts[a["id"]] = a
        self.acc_by_key[key] = a
        return a

    def act(self, who, acc, occurred_at, channel=None, effective=True):
        channel = channel or self.rng.choice(CHANNELS)
        body = {"account_id": acc["id"], "channel": channel, "occurred_at": occurred_at,
                "effective": effective, "summary": "f/u"}
        j = self._ok(self.c(who).post("activities", body), 201, "activity")
        if parse_ts(j["occurred_at"]) != parse_ts(occurred_at) or j["user_id"] != self.uid(who):
            raise AssertionError("activity stored differently: %r" % (j,))
        a = {"id": j["id"], "user_id": j["user_id"], "account_id": acc["id"], "channel": channel,
             "effective": effective, "occurred_at": occurred_at, "archived": False}
        self.acts[a["id"]] = a
        return a

    def random_time(self, off_lo, off_hi):
        """A random instant between off_hi and off_lo days ago (off_lo >= 1)."""
        d = self.days(self.rng.randint(off_lo, off_hi))
        return at8(d, self.rng.randint(0, 23), self.rng.randint(0, 59), self.rng.randint(0, 59),
                   self.rng.randint(0, 999))

    def random_offset(self):
        # keep clear of the 90-day sleeping boundary (its rounding is not
        # pinned down by the definition)
        return self.rng.choice((self.rng.randint(1, 80), self.rng.randint(100, 400)))

    def random_acts(self, acc, n, loggers):
        for _ in range(n):
            off = self.random_offset()
            self.act(self.rng.choice(loggers), acc, self.random_time(off, off),
                     effective=self.rng.random() < 0.75)

    def order(self, who, acc, ordered_on, amount=None, product="press"):
        amount = amount if amount is not None else self.rng.randint(1, 40000) * 100 + self.rng.randint(0, 99)
        body = {"account_id": acc["id"], "product": product, "quantity": self.rng.randint(1, 5),
                "amount": amount, "ordered_on": ordered_on.isoformat()}
        j = self._ok(self.c(who).post("orders", body), 201, "order")
        o = {"id": j["id"], "account_id": acc["id"], "amount": amount, "ordered_on": ordered_on.isoformat(),
             "archived": False}
        self.orders[o["id"]] = o
        return o

    def random_amount(self):
        a = self.rng.randint(1000, 80000000)
        k = self.rng.random()
        if k < 0.25:
            a = a - a % 20 + 10          # x.5 at 5 % and 35 %
        elif k < 0.45:
            a = a - a % 10 + 5           # x.5 at 10 %
        elif k < 0.6:
            a |= 1                       # x.5 at 50 %
        return a

    def opp(self, who, acc, moves, amount=None, close=None, owner=None):
        """Create an opportunity and move it along `moves`: a list of stages,
        or (stage, mover) pairs; the first is the creation stage."""
        steps = [m if isinstance(m, tuple) else (m, who) for m in moves]
        amount = amount if amount is not None else self.random_amount()
        body = {"account_id": acc["id"], "name": uniq("Deal"), "stage": steps[0][0], "amount": amount}
        if close is not None:
            body["expected_close_on"] = close.isoformat()
        if owner is not None:
            body["owner_id"] = self.uid(owner)
        j = self._ok(self.c(steps[0][1]).post("opportunities", body), 201, "opportunity")
        o = {"id": j["id"], "account_id": acc["id"], "owner_id": j["owner_id"], "amount": amount,
             "stage": steps[0][0], "expected_close_on": body.get("expected_close_on"),
             "created_at": j["created_at"], "archived": False, "path": [steps[0][0]], "history": None}
        self.opps[o["id"]] = o
        for stage, mover in steps[1:]:
            patch = {"stage": stage}
            if stage == "lost":
                patch["lost_reason"] = self.rng.choice(("price", "relationship", "timing"))
            self._ok(self.c(mover).patch("opportunities/%d" % o["id"], patch), 200, "move to " + stage)
            o["stage"] = stage
            o["path"].append(stage)
        return o

    def random_path(self, mgr):
        """A random stage path (owner moves; mgr reopens closed deals)."""
        kind = self.rng.choice(("open", "open", "open", "won", "won", "lost", "lost",
                                "won_reopen", "won_rewon", "lost_reopen", "back"))
        i = self.rng.randint(0, 2)
        path = [OPEN_STAGES[i]]
        top = self.rng.randint(i, 5)
        for j in range(i + 1, top + 1):
            if self.rng.random() < 0.75:
                path.append(OPEN_STAGES[j])
        if kind == "back" and path[-1] != "interest":
            path.append(OPEN_STAGES[OPEN_STAGES.index(path[-1]) - 1])
        if kind in ("won", "won_reopen", "won_rewon"):
            path.append("won")
        if kind in ("lost", "lost_reopen"):
            path.append("lost")
        if kind == "won_reopen":
            path.append(("commit", mgr))
        if kind == "won_rewon":
            path += [("use", mgr), "won"]
        if kind == "lost_reopen":
            path.append(("brewing", mgr))
        return path

    def random_close(self):
        if self.rng.random() < 0.1:
            return None
        return self.T + datetime.timedelta(days=self.rng.randint(-60, 200))

    def park(self, who, acc, reason="no budget this year"):
        self._ok(self.c(who).post("accounts/%d/park" % acc["id"], {"reason": reason}), 200, "park")
        acc["owner_id"] = None

    def claim(self, who, acc):
        self._ok(self.c(who).post("accounts/%d/claim" % acc["id"]), 200, "claim")
        acc["owner_id"] = self.uid(who)

    def assign(self, who, acc, to):
        self._ok(self.c(who).post("accounts/%d/assign" % acc["id"], {"user_id": self.uid(to)}), 200, "assign")
        acc["owner_id"] = self.uid(to)

    def quota(self, who, period, amount, user=None, team=None):
        body = {"period": period, "amount": amount}
        if user:
            body["user_id"] = self.uid(user)
        if team:
            body["team_id"] = self.teams[team]["id"]
        j = self._ok(self.c(who).post("quotas", body), 201, "quota")
        q = {"id": j["id"], "user_id": body.get("user_id"), "team_id": body.get("team_id"), "period": period,
             "amount": amount, "archived": False}
        self.quotas[q["id"]] = q
        return q

    def archive(self, kind, rec):
        self._ok(self.admin.delete("%s/%d" % (kind, rec["id"])), 200, "archive " + kind)
        rec["archived"] = True

    # -- the company
    def build(self):
        T, rng = self.T, self.rng
        adm = self.admin
        # a win rate that differs from the shipped default: the figures must
        # follow the current settings
        self._ok(adm.patch("settings/stages/compare", {"win_rate": 35}), 200, "stage win rate")

        self.team("root", None)
        self.team("d1", "root")
        self.team("d1a", "d1")
        self.team("d1b", "d1")
        self.team("d2", "root")
        self.team("d2a", "d2")
        self.user("m1", "manager", "d1")
        self.user("m1b", "manager", "d1b")
        self.user("m2", "manager", "d2")
        self.user("r1", "rep", "d1a", hired_on=self.days(400))
        self.user("r2", "rep", "d1a", hired_on=self.days(150))
        self.user("r3", "rep", "d1b", hired_on=self.days(60))
        self.user("r4", "rep", "d2a", hired_on=self.days(800))
        self.user("r5", "rep", "d2a")
        self.user("r6", "rep", "d2a", hired_on=self.days(30), login=False)
        self.user("r7", "rep", "d1a", hired_on=self.days(10), active=False, login=False)
        for team, mgr in (("d1", "m1"), ("d1b", "m1b"), ("d2", "m2")):
            self._ok(adm.patch("teams/%d" % self.teams[team]["id"], {"manager_id": self.uid(mgr)}), 200, "manager")
        self._ok(adm.delete("users/%d" % self.uid("r6")), 200, "archive r6")
        self.users["r6"]["archived"] = True

        # the daily sweep, as of a day far enough ahead, reclaims the two
        # untouched accounts that exist at that moment: inflow "reclaimed"
        v1 = self.account("r2", "v1")
        v2 = self.account("r4", "v2")
        sw = self._ok(adm.post("admin/sweep", {"as_of": (T + datetime.timedelta(days=120)).isoformat()}), 200,
                      "sweep")
        moved = sorted(m["account_id"] for m in sw["moved"])
        if moved != sorted((v1["id"], v2["id"])):
            raise AssertionError("sweep moved %r, expected the two untouched accounts" % (sw,))
        v1["owner_id"] = v2["owner_id"] = None
        self.swept = moved

        top_of = {"r1": "m1", "r2": "m1", "r3": "m1", "r4": "m2", "r5": "m2"}

        def normal(owner, key, n_opps=None, n_acts=None):
            a = self.account(owner, key)
            loggers = [owner] * 8 + [top_of.get(owner, owner), "admin"]
            self.random_acts(a, rng.randint(2, 6) if n_acts is None else n_acts, loggers)
            for _ in range(rng.randint(0, 2) if n_opps is None else n_opps):
                self.opp(owner, a, self.random_path(top_of.get(owner, owner)), close=self.random_close())
            return a

        # ---- r1
        busy = self.account("r1", "r1-busy")          # 12 touches, no won deal: intervention
        for i in range(12):
            self.act("r1", busy, self.random_time(1, 60), effective=True)
        for i in range(2):
            self.act("r1", busy, self.random_time(1, 60), effective=False)
        self.opp("r1", busy, ["interest", "brewing", "design"], close=self.random_close())
        self.opp("r1", busy, ["design", "compare", "lost"], close=self.random_close())
        sleeper = self.account("r1", "r1-sleeper")    # last effective touch long ago
        for i in range(3):
            self.act("r1", sleeper, self.random_time(100, 300))
        self.opp("r1", sleeper, ["interest"], close=self.random_close())
        boundary = self.account("r1", "r1-boundary")  # UTC+8 day and ISO week edges
        D = self.days(30)
        self.D = D
        prev, nxt = D - datetime.timedelta(days=1), D + datetime.timedelta(days=1)
        self.act("r1", boundary, at8(prev, 23, 59, 59, 999), "phone")   # the day before D
        self.act("r1", boundary, at8(D, 0, 0, 0, 0), "visit")           # first instant of D
        self.act("r1", boundary, at8(D, 7, 30), "wechat")                # D, but the day before in UTC
        self.act("r1", boundary, at8(D, 23, 59, 59, 999), "email")      # last instant of D
        self.act("r1", boundary, at8(nxt, 0, 0, 0, 0), "phone")         # the day after D
        self.act("r1", boundary, at8(D, 12, 0), "sms", effective=False)
        monday = self.days(45)
        monday -= datetime.timedelta(days=monday.weekday())
        self.monday = monday
        sunday = monday - datetime.timedelta(days=1)
        self.act("r1", boundary, at8(monday, 0, 30), "visit")   # Monday in UTC+8, Sunday in UTC
        self.act("r1", boundary, at8(sunday, 23, 30), "visit")  # Sunday in UTC+8
        # an ISO week that belongs to another year than its calendar day (late
        # December in week 1, early January in week 52/53), if one is in reach
        for off in range(1, 400):
            d = self.days(off)
            if d.isocalendar()[0] != d.year and abs((d - D).days) > 1:
                self.act("r1", boundary, at8(d, 12, 0), "meeting")
                break
        self.order("r1", boundary, D, 1234567)
        self.order("r1", boundary, nxt, 7654321)
        habit = normal("r1", "r1-habit", n_opps=2)
        self.order("r1", habit, self.days(400), product="press")
        self.order("r1", habit, self.days(250), product="press")
        self.order("r1", habit, self.days(90), product="press")
        self.order("r1", habit, self.days(10), product="ink")
        self.opp("r1", habit, ["interest", "brewing", "design", "compare"], amount=1234570,
                 close=T + datetime.timedelta(days=20))  # 1234570 x 35 % = 432099.5
        one = normal("r1", "r1-one", n_opps=1)
        self.order("r1", one, self.days(300))
        selfpark = self.account("r1", "r1-selfpark")   # the twelve-touch rule lets r1 park it
        for i in range(12):
            self.act("r1", selfpark, self.random_time(2, 70), effective=True)
        self.opp("r1", selfpark, ["interest", "brewing"], close=self.random_close())
        gone = self.account("r1", "r1-archived")      # archived: counts nowhere
        normal("r1", "r1-n1")

        # ---- r2
        busywon = self.account("r2", "r2-busywon")    # 11 touches but a won deal: no intervention
        for i in range(11):
            self.act("r2", busywon, self.random_time(1, 70), effective=True)
        self.opp("r2", busywon, ["commit", "use", "won"], close=self.random_close())
        self.opp("r2", busywon, ["interest"], close=self.random_close())
        p_in = normal("r2", "r2-to-r3", n_opps=0)       # parked by m1, claimed by r3
        p_out = normal("r2", "r2-to-r4", n_opps=0)      # parked by m1, claimed by r4 (other department)
        beg = normal("r2", "r2-beginner", n_opps=2)
        self.order("r2", beg, self.days(100))
        self.order("r2", beg, self.days(20))
        normal("r2", "r2-n1")

        sl3 = self.account("r2", "r2-sleeper")        # the only recent touch is archived: sleeping
        self.act("r2", sl3, self.random_time(150, 200), effective=True)
        self.archive("activities", self.act("r2", sl3, self.random_time(5, 5), effective=True))

        # ---- r3
        sl2 = self.account("r3", "r3-sleeper")         # effective 120 days ago, ineffective lately
        self.act("r3", sl2, self.random_time(120, 120), effective=True)
        self.act("r3", sl2, self.random_time(3, 3), effective=False)
        b180 = normal("r3", "r3-180", n_opps=1)         # first order exactly 180 days ago: beginner
        self.order("r3", b180, self.days(180))
        self.order("r3", b180, self.days(40))
        h181 = normal("r3", "r3-181", n_opps=1)         # 181 days ago: habitual
        self.order("r3", h181, self.days(181))
        self.order("r3", h181, self.days(60))
        reop = self.account("r3", "r3-reopened")       # r3's only win is reopened: ramp is "ever"
        self.opp("r3", reop, ["design", "compare", "commit", "won", ("commit", "m1")], close=self.random_close())

        # ---- r4
        ten = self.account("r4", "r4-ten")             # exactly 10 touches, the win reopened: intervention
        for i in range(10):
            self.act("r4", ten, self.random_time(1, 50), effective=True)
        self.act("r4", ten, self.random_time(1, 50), effective=False)
        self.opp("r4", ten, ["compare", "commit", "won", ("use", "m2")], close=self.random_close())
        self.opp("r4", ten, ["interest", "lost"], close=self.random_close())
        p4 = normal("r4", "r4-to-r5", n_opps=1)         # parked by m2, assigned from the pool to r5
        arch_order = normal("r4", "r4-archorder", n_opps=1)
        self.order("r4", arch_order, self.days(200))
        self.opp("r4", arch_order, ["brewing", "design", "compare", "commit", "use", "won"], close=self.random_close())
        self.archive("orders", self.order("r4", arch_order, self.days(50)))
        h4 = normal("r4", "r4-habit", n_opps=2)
        for off in sorted(rng.sample(range(5, 380), 4), reverse=True):
            self.order("r4", h4, self.days(off), product=rng.choice(("press", "plate")))
        normal("r4", "r4-n1")

        # ---- r5
        big = normal("r5", "r5-big", n_opps=1)
        self.opp("r5", big, ["commit", "use"], amount=2 ** 53 - 1, close=T + datetime.timedelta(days=40))
        self.order("r5", big, self.days(5))
        normal("r5", "r5-n1")
        nine = self.account("r5", "r5-nine")           # 10 touches, one archived: no intervention
        for i in range(10):
            a = self.act("r5", nine, self.random_time(1, 40), effective=True)
        self.archive("activities", a)

        # ---- managers' own deals
        am1 = self.account("m1", "m1-own")
        self.random_acts(am1, 3, ["m1"])
        self.opp("m1", am1, ["compare", "commit", "won"], close=self.random_close())
        self.order("m1", am1, self.days(15))
        am2 = self.account("m2", "m2-own")
        self.random_acts(am2, 2, ["m2"])
        self.opp("m2", am2, ["brewing", "design"], close=self.random_close())

        # ---- the pool
        pool1 = self.account("admin", "pool-assigned", pool=True)
        pool2 = self.account("admin", "pool-stays", pool=True)
        self.park("m1", p_in)
        self.claim("r3", p_in)
        self.act("r3", p_in, self.random_time(1, 5))
        self.park("m1", p_out)
        self.claim("r4", p_out)
        self.act("r4", p_out, self.random_time(1, 5))
        self.park("m2", p4)
        self.assign("m2", p4, "r5")
        self.assign("m2", pool1, "r5")
        self.claim("r1", v1)
        self.park("r1", selfpark)

        # a partner (in no team) converts a lead: the new account goes to the
        # pool, an owner change (null -> null, "converted") that is from nobody
        # in any team: it belongs to the company scope only
        self.user("p1", "partner", None)
        lead = self._ok(adm.post("leads", {"company": "lead %s" % self.tag, "contact_name": "Li",
                                           "assignee_id": self.uid("p1")}), 201, "lead")
        cv = self._ok(self.c("p1").post("leads/%d/convert" % lead["id"], {}), 200, "convert")
        g = self._ok(adm.get("accounts/%d" % cv["account_id"]), 200, "converted account")
        conv = {"id": g["id"], "key": "converted", "owner_id": None, "created_at": g["created_at"],
                "archived": False, "created_owner": None}
        self.accounts[conv["id"]] = self.acc_by_key["converted"] = conv
        # touches on pool accounts: the company's activity, nobody's segment
        self.act("admin", pool2, self.random_time(1, 10))
        self.act("admin", conv, self.random_time(1, 10))
        # an account shared across departments: r4 (d2) works on r1's account; the
        # activity is r4's (the actor's team), the deal r4's (the owner's team)
        shared = self.acc_by_key["r1-n1"]
        self._ok(self.c("r1").post("accounts/%d/team" % shared["id"], {"user_id": self.uid("r4"), "access": "write"}),
                 (200, 201), "share")
        self.act("r4", shared, self.random_time(1, 12), "visit")
        self.act("r4", shared, self.random_time(1, 12), "demo")
        self.opp("r4", shared, ["design", "compare"], close=T + datetime.timedelta(days=15))

        # ---- quotas (admin; a manager for his own team)
        Qc, Mc = quarter_of(T), month_of(T)
        Mp = month_of(add_months(T, -1))
        Qp = quarter_of(add_months(T, -3))
        self.quota("admin", Qc, 50000000, user="r1")
        self.quota("admin", Mc, 20000000, user="r1")
        self.quota("admin", Mp, 10000000, user="r2")
        self.quota("admin", Qc, 30000000, user="r4")
        self.quota("admin", Qp, 5000000, user="r5")
        self.quota("admin", Qc, 10000000, user="m1")
        self.quota("admin", Qc, 200000000, team="d1")
        self.quota("m1", Mc, 80000000, team="d1a")
        self.quota("admin", Mc, 0, team="d2")
        self.archive("quotas", self.quota("admin", Qc, 99999999, user="r3"))

        # ---- archived records
        self.archive("accounts", gone)
        some = [a for a in self.acts.values() if a["effective"] and a["user_id"] == self.uid("r2")]
        self.archive("activities", some[0])
        for o in self.opps.values():
            if o["owner_id"] == self.uid("r1") and o["stage"] in OPEN_STAGES:
                self.archive("opportunities", o)
                break

        self.read_back()
        return self

    def extra_d2(self):
        """More records in the second department (for the isolation test)."""
        T, rng = self.T, self.rng
        a = self.account("r4", "r4-late")
        for i in range(4):
            self.act("r4", a, self.random_time(1, 20), effective=i != 3)
        self.act("m2", a, self.random_time(1, 3))
        self.act("admin", a, self.random_time(1, 3))
        self.order("r4", a, self.days(2))
        self.order("r4", a, self.days(1))
        self.opp("r4", a, ["interest", "design", "won"], close=T)
        self.opp("r4", a, ["brewing", "lost"], close=T)
        self.opp("r5", self.acc_by_key["r5-n1"], ["design", "compare", "commit"],
                 close=T + datetime.timedelta(days=10))
        acc = self.acc_by_key["r5-n1"]
        self.park("m2", acc)
        self.claim("r5", acc)
        self.quota("admin", quarter_of(T), 7000000, user="r5")
        self.quota("admin", quarter_of(T), 12345678, team="d2a")
        self.read_back()

    # -- read back what the server assigned, and check it agrees with us
    def read_back(self):
        adm = self.admin
        s = self._ok(adm.get("settings"), 200, "settings")
        self.settings = s
        st = self._ok(adm.get("settings/stages"), 200, "stages")
        self.rates = {x["key"]: x["win_rate"] for x in st["items"]}
        for o in self.opps.values():
            g = self._ok(adm.get("opportunities/%d" % o["id"]), 200, "opportunity")
            for k in ("stage", "owner_id", "amount", "expected_close_on"):
                if g[k] != o[k]:
                    raise AssertionError("opportunity %d: %s is %r, generator expected %r" % (o["id"], k, g[k], o[k]))
            if (g["archived_at"] is not None) != o["archived"]:
                raise AssertionError("opportunity %d archived_at %r" % (o["id"], g["archived_at"]))
            h = adm.list_all("opportunities/%d/history" % o["id"])
            if [x["to"] for x in h] != o["path"]:
                raise AssertionError("opportunity %d: history %r, moves %r" % (o["id"], h, o["path"]))
            o["history"] = [{"from": x["from"], "to": x["to"], "at": x["at"], "by": x["by"]} for x in h]
        for a in self.accounts.values():
            g = self._ok(adm.get("accounts/%d" % a["id"]), 200, "account")
            if g["owner_id"] != a["owner_id"]:
                raise AssertionError("account %s: owner %r, expected %r" % (a["key"], g["owner_id"], a["owner_id"]))
            if (g["archived_at"] is not None) != a["archived"]:
                raise AssertionError("account %s archived_at %r" % (a["key"], g["archived_at"]))
            self.owners[a["id"]] = adm.list_all("accounts/%d/owners" % a["id"])
