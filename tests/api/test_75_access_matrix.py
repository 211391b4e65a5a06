"""75: the access matrix (issue 10; SPEC section 2), generated from a rule table.

Every role — admin, the manager above the owner, a manager elsewhere, the owner rep, another
rep of the owner's team, account-team members with read (granted `sensitive`) and write (not
granted it), a partner, anonymous — against every object — account, contact, opportunity,
stakeholder, activity, lead, order, quota, user, team, settings, audit, and the partner's own
lead and converted account — with every verb that applies: get, list, search (?name=), filtered
list, create, update, archive, export CSV, import, the buyer map, the analytics reports, the
audit trail. The expected answer of each cell comes from the tables below (READ, WRITE,
SENSITIVE and the role rules of API.md), written from SPEC §2, not from what the server says.

Leaks are checked on every answer a role receives, whatever the verb: the marker text of each
object the role may not read (names, summaries, the quota's amount, the VVIP contact's deep and
extended portrait blocks unless the role is need-to-know) must not appear in any body; a refusal
of a record the role may not see must be the same answer as for a record that does not exist
(status, code and message, ids aside); analytics figures must not include the owner's big deal
in any scope but the owner's, the manager above's and the company's.
"""

import itertools
import json
import re
import unittest

from harness import PW, ApiTestCase, uniq

ROLES = ("admin", "mgr_above", "mgr_else", "owner", "other_rep", "team_read", "team_write",
         "partner", "anonymous")
INTERNAL = {"admin", "mgr_above", "mgr_else", "owner", "other_rep", "team_read", "team_write"}
SIGNED_IN = INTERNAL | {"partner"}
MANAGERS = {"mgr_above", "mgr_else"}
REPS = {"owner", "other_rep", "team_read", "team_write"}

# Who reads the owner's VVIP account and everything under it: the owner, managers above the
# owner, admins, the account team (SPEC §2). Who changes them: the same but read-only members.
ACCOUNT_SIDE_READ = {"admin", "mgr_above", "owner", "team_read", "team_write"}
ACCOUNT_SIDE_WRITE = {"admin", "mgr_above", "owner", "team_write"}
UNDER_ACCOUNT = ("account", "contact", "opportunity", "stakeholder", "activity", "order")

READ = {k: ACCOUNT_SIDE_READ for k in UNDER_ACCOUNT}
READ.update({
    "lead": {"admin", "mgr_above", "owner"},          # assigned to the owner
    "quota": {"admin", "mgr_above", "owner"},         # the owner's quota
    "user": INTERNAL,                                 # the directory (partners: themselves only)
    "team": INTERNAL,
    "settings": SIGNED_IN,
    "audit": {"admin", "mgr_above"},                  # admins, and managers for what they see
    "partner_lead": {"admin", "partner"},             # a lead assigned to the partner
    "partner_account": {"admin", "partner"},          # the account made from it (in the pool)
    "pool_account": {"admin"},                        # in the pool: /accounts lists it to admins;
})                                                    # /pool shows it to every internal user
WRITE = {k: ACCOUNT_SIDE_WRITE for k in UNDER_ACCOUNT}
WRITE.update({
    "lead": {"admin", "mgr_above", "owner"},
    "quota": {"admin", "mgr_above"},                  # quotas are set by managers and admins
    "user": {"admin"},
    "team": {"admin"},
    "settings": {"admin"},
})
# Need to know: the deep and extended blocks of the VVIP account's contacts.
SENSITIVE = {"admin", "mgr_above", "owner", "team_read"}
# Analytics scopes and whether the owner's deal counts in them (by owner, SPEC §8).
SCOPES = {
    "admin": {"company": True, "me": False},
    "mgr_above": {"team:region": True, "me": False, "team:sibling": None},   # None: 404
    "mgr_else": {"team:sibling": False, "team:region": None, "company": None},
    "owner": {"me": True, "team:branch": None, "company": None},
    "other_rep": {"me": False, "team:branch": None},
    "team_read": {"me": False},
    "team_write": {"me": False},
    "partner": {"me": False, "company": None},
}
REPORTS = ("funnel", "forecast", "activity", "pool", "segments", "reps")
BIG = 900_000_000_000          # the owner's deal: no other amount in this server comes near
QUOTA_AMOUNT = 86420864


def role_may_not(role, obj):
    """The role may not change this kind of record at all (API.md: 403 whatever the record)."""
    if role == "admin":
        return False
    if obj in ("user", "team", "settings"):
        return True
    if obj == "quota":
        return role not in MANAGERS
    return role == "partner" and obj != "lead"


def expected_change(role, obj):
    """ok | 401 | 403 | 404 | '403|404' (refused without looking: either, as for a missing id)."""
    if role == "anonymous":
        return 401
    if role in WRITE[obj]:
        return "ok"
    if role in READ[obj]:
        return 403                       # sees it, may not change it
    return "403|404" if role_may_not(role, obj) else 404


def numbers(j):
    if isinstance(j, bool):
        return
    if isinstance(j, (int, float)):
        yield j
    elif isinstance(j, dict):
        for v in j.values():
            yield from numbers(v)
    elif isinstance(j, list):
        for v in j:
            yield from numbers(v)


class AccessMatrixTest(ApiTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cells = set()
        cls.answers = 0
        o = cls.org
        cls.tag = uniq("MX").replace("-", "")
        t = cls.tag
        adm = cls.admin
        extra = {}
        for key, role, team in (("team_read", "rep", "sibling"), ("team_write", "rep", "sibling"),
                                ("partner", "partner", None)):
            uname = "%s%s" % (key.replace("_", ""), o.tag)
            r = adm.post("users", {"username": uname, "role": role, "team_id": o.teams[team] if team else None,
                                   "display_name": key.upper(), "password": PW})
            assert r.status == 201, r
            extra[key] = cls.server.login(uname, PW)
        cls.clients = {"admin": adm, "mgr_above": o.mgr, "mgr_else": o.other_mgr, "owner": o.rep1,
                       "other_rep": o.rep2, "team_read": extra["team_read"],
                       "team_write": extra["team_write"], "partner": extra["partner"],
                       "anonymous": cls.server.client()}
        cls.secrets = ["DEEPSECRET%s" % t, "EXTSECRET%s" % t]
        cls.markers = {}      # object -> text that only its readers may receive
        cls.ids = {}
        owner = o.rep1
        acc = cls.world(owner, "MXA%s" % t)
        cls.ids.update(acc)
        r = adm.post("leads", {"company": "MXL%s lead" % t, "assignee_id": owner.id})
        assert r.status == 201, r
        cls.ids["lead"] = r.json["id"]
        r = adm.post("quotas", {"user_id": owner.id, "period": "2026-Q4", "amount": QUOTA_AMOUNT})
        assert r.status == 201, r
        cls.ids["quota"] = r.json["id"]
        cls.ids["user"] = owner.id
        cls.ids["team"] = o.teams["branch"]
        # the partner's world: a lead assigned to them, converted by them (the account goes to the pool)
        r = adm.post("leads", {"company": "MXP%s partner lead" % t, "assignee_id": extra["partner"].id})
        assert r.status == 201, r
        cls.ids["partner_lead"] = r.json["id"]
        r = extra["partner"].post("leads/%d/convert" % r.json["id"], {})
        assert r.status in (200, 201), r
        pa = [a for a in adm.list_all("accounts", {"name": "MXP%s" % t})]
        assert len(pa) == 1, pa
        cls.ids["partner_account"] = pa[0]["id"]
        r = adm.post("accounts", {"name": "MXQ%s pool account" % t, "owner_id": None})
        assert r.status == 201, r
        cls.ids["pool_account"] = r.json["id"]
        cls.markers = {
            "account": "MXA%s" % t, "contact": "MXC%s" % t, "opportunity": "MXO%s" % t,
            "activity": "MXV%s" % t, "order": "MXR%s" % t, "lead": "MXL%s" % t,
            "stakeholder": "MXS%s" % t, "quota": str(QUOTA_AMOUNT),
            "partner_lead": "MXP%s" % t, "partner_account": "MXP%s" % t,
            "user": o.usernames["rep1"], "team": "Branch %s" % o.tag, "pool_account": "MXQ%s" % t,
        }
        # the team name and username are the directory's: only the partner may not see them
        cls.by_name = {"account": "accounts", "contact": "contacts", "opportunity": "opportunities",
                       "lead": "leads", "team": "teams", "partner_lead": "leads",
                       "partner_account": "accounts", "pool_account": "accounts"}

    @classmethod
    def world(cls, owner, name, shared=True):
        """The owner's VVIP account and one record of each kind under it, shared with the two
        account-team members; returns their ids."""
        t = cls.tag
        c = cls.clients
        ids = {}

        def post(path, body):
            r = owner.post(path, body)
            assert r.status == 201, r
            return r.json["id"]
        ids["account"] = post("accounts", {"name": name, "importance": "VVIP"})
        a = ids["account"]
        if shared:
            for key, access, sens in (("team_read", "read", True), ("team_write", "write", False)):
                r = owner.post("accounts/%d/team" % a, {"user_id": c[key].id, "access": access, "sensitive": sens})
                assert r.status == 201, r
        portrait = {"basic": {"office": "MXC basic"}, "deep": {"policy": cls.secrets[0]},
                    "extended": {"hobby": cls.secrets[1]}}
        ids["contact"] = post("contacts", {"account_id": a, "name": "MXC%s %s" % (t, name), "portrait": portrait})
        ids["opportunity"] = post("opportunities", {"account_id": a, "name": "MXO%s %s" % (t, name),
                                                    "amount": BIG, "stage": "design"})
        ids["stakeholder"] = post("opportunities/%d/stakeholders" % ids["opportunity"],
                                  {"contact_id": ids["contact"], "role": "decision_maker",
                                   "company_needs": {"text": "MXS%s needs" % t, "tags": []}})
        ids["activity"] = post("activities", {"account_id": a, "channel": "visit", "summary": "MXV%s visit" % t,
                                              "occurred_at": "2026-10-10T10:00:00.000Z"})
        ids["order"] = post("orders", {"account_id": a, "product": "MXR%s press" % t, "quantity": 1,
                                       "amount": 1000, "ordered_on": "2026-09-01"})
        return ids

    # ---------------------------------------------------------------- the calls, scanned for leaks

    def call(self, role, method, path, cell=None, scan=True, **kw):
        r = self.clients[role].request(method, path, **kw)
        type(self).answers += 1
        if cell:
            self.cells.add((role,) + cell)
        if scan:
            self.scan(role, r)
        return r

    def scan(self, role, r):
        body = r.body.decode("utf-8", "replace")
        for obj, marker in self.markers.items():
            if role not in READ[obj] and marker in body:
                self.fail("%s received %s's marker %r in %s %s -> %d:\n%s"
                          % (role, obj, marker, r.method, r.path, r.status, body[:800]))
        if role not in SENSITIVE:
            for s in self.secrets:
                self.assertNotIn(s, body, "%s received a VVIP sensitive block in %s %s" % (role, r.method, r.path))

    def missing_path(self, path):
        """The same request about a record that does not exist."""
        return re.sub(r"/\d+(?=/|$|\?)", "/999999999", path, count=1)

    def assertLikeMissing(self, role, r, missing, what):
        """A refusal must not tell an existing hidden record from a missing one."""
        def norm(resp):
            err = resp.error or {}
            return (resp.status, err.get("code"), err.get("field"),
                    re.sub(r"\d+", "N", err.get("message", "")))
        self.assertEqual(norm(r), norm(missing), "%s: %s answers differently for a hidden record and a "
                         "missing one:\n%r\n%r" % (role, what, r, missing))

    def assertAnswer(self, role, obj, verb, r, expected, missing=None):
        what = "%s %s %s" % (role, verb, obj)
        if expected == "ok":
            self.assertIn(r.status, (200, 201), "%s: %r" % (what, r))
            return
        if expected == 401:
            self.assertError(r, 401, "unauthorized", msg=what)
            return
        allowed = (403, 404) if expected == "403|404" else (expected,)
        self.assertError(r, allowed, msg=what)
        if 404 in allowed and missing is not None:
            self.assertLikeMissing(role, r, missing, what)

    # ---------------------------------------------------------------- paths of each object

    def item(self, obj, ids=None):
        ids = ids or self.ids
        plural = {"account": "accounts", "contact": "contacts", "opportunity": "opportunities",
                  "activity": "activities", "order": "orders", "lead": "leads", "quota": "quotas",
                  "user": "users", "team": "teams", "partner_lead": "leads",
                  "partner_account": "accounts", "pool_account": "accounts"}
        if obj == "stakeholder":
            return "opportunities/%d/stakeholders/%d" % (ids["opportunity"], ids["stakeholder"])
        return "%s/%d" % (plural[obj], ids[obj])

    def collection(self, obj):
        if obj == "stakeholder":
            return "opportunities/%d/stakeholders" % self.ids["opportunity"]
        return self.item(obj).rsplit("/", 1)[0]

    periods = itertools.count()

    RECORDS = ("account", "contact", "opportunity", "stakeholder", "activity", "order", "lead", "quota",
               "user", "team", "partner_lead", "partner_account", "pool_account")

    # ---------------------------------------------------------------- reads

    def test_get(self):
        for role in ROLES:
            for obj in self.RECORDS:
                path = self.item(obj)
                r = self.call(role, "GET", path, ("get", obj))
                if role == "anonymous":
                    self.assertAnswer(role, obj, "get", r, 401)
                elif role in READ[obj]:
                    self.assertStatus(r, 200, "%s get %s" % (role, obj))
                    self.assertEqual(r.json["id"], self.ids[obj])
                else:
                    missing = self.call(role, "GET", self.missing_path(path))
                    self.assertAnswer(role, obj, "get", r, 404, missing)

    def listed(self, role, path, query=None):
        """ids in the whole list (every page), or None when the list itself is refused."""
        q = dict(query or {})
        q["limit"] = 500
        ids = []
        while True:
            r = self.call(role, "GET", path, query=q)
            if r.status != 200:
                return None, r
            ids += [i["id"] for i in r.json["items"]]
            if not r.json.get("next"):
                return ids, r
            q["cursor"] = r.json["next"]

    def test_list_search_and_filters(self):
        for role in ROLES:
            for obj in self.RECORDS:
                sees = role in READ[obj]
                variants = [("list", None)]
                if obj in self.by_name:
                    variants.append(("search", {"name": self.markers[obj].lower()}))
                if obj in ("contact", "opportunity", "activity", "order"):
                    variants.append(("filter", {"account_id": self.ids["account"]}))
                if obj == "user":
                    variants.append(("filter", {"team_id": self.ids["team"]}))
                for verb, q in variants:
                    self.cells.add((role, verb, obj))
                    ids, r = self.listed(role, self.collection(obj), q)
                    what = "%s %s %s %r" % (role, verb, obj, q)
                    if role == "anonymous":
                        self.assertError(r, 401, "unauthorized", msg=what)
                    elif obj == "stakeholder" and not sees:
                        # the list hangs off the opportunity: a hidden one is 404, like a missing one
                        missing = self.call(role, "GET", self.missing_path(self.collection(obj)))
                        self.assertAnswer(role, obj, verb, r, 404, missing)
                    elif ids is None and verb == "filter" and not sees:
                        self.assertError(r, (400, 404), msg=what)
                    else:
                        self.assertIsNotNone(ids, "%s: %r" % (what, r))
                        if sees:
                            self.assertIn(self.ids[obj], ids, "%s: missing" % what)
                        else:
                            self.assertNotIn(self.ids[obj], ids, "%s: LEAK" % what)

    def test_export_csv(self):
        kinds = {"account": "accounts", "contact": "contacts", "opportunity": "opportunities",
                 "activity": "activities", "order": "orders", "lead": "leads", "quota": "quotas",
                 "user": "users", "team": "teams", "partner_lead": "leads", "partner_account": "accounts",
                 "pool_account": "accounts"}
        for role in ROLES:
            for obj, plural in kinds.items():
                r = self.call(role, "GET", "export/%s.csv" % plural, ("export", obj))
                if role == "anonymous":
                    self.assertAnswer(role, obj, "export", r, 401)
                    continue
                if r.status != 200:
                    # only a whole kind may be refused (403, the same for every record), and only
                    # to a role that reads none of the records this test made of it
                    self.assertError(r, 403, "forbidden", msg="%s export %s" % (role, plural))
                    self.assertNotIn(role, READ[obj], "%s may read %s but not export it" % (role, obj))
                    continue
                body = r.body.decode("utf-8")
                rows = {line.split(",", 1)[0] for line in body.splitlines()[1:]}
                listed = str(self.ids[obj]) in rows and self.markers[obj] in body
                self.assertEqual(listed, role in READ[obj], "%s export %s: listed=%s" % (role, obj, listed))
                if obj == "contact" and role in READ[obj]:
                    for s in self.secrets:
                        self.assertEqual(s in body, role in SENSITIVE, "%s export contacts: %s" % (role, s))

    def test_vvip_blocks_in_every_view(self):
        cid, aid = self.ids["contact"], self.ids["account"]
        for role in ROLES:
            if role == "anonymous" or role not in READ["contact"]:
                continue
            views = [self.call(role, "GET", "contacts/%d" % cid, ("vvip get", "contact"))]
            for q in (None, {"account_id": aid}, {"name": "MXC%s" % self.tag}):
                views.append(self.call(role, "GET", "contacts", ("vvip list", "contact"), query=dict(q or {}, limit=500)))
            views.append(self.call(role, "GET", "opportunities/%d/map" % self.ids["opportunity"], ("vvip map", "contact")))
            for r in views:
                self.assertStatus(r, 200)
                body = r.body.decode()
                if "contacts" in r.path and "/map" not in r.path:
                    for s in self.secrets:
                        self.assertEqual(s in body, role in SENSITIVE, "%s %s: %s" % (role, r.path, s))

    def test_map(self):
        path = "opportunities/%d/map" % self.ids["opportunity"]
        for role in ROLES:
            r = self.call(role, "GET", path, ("map", "opportunity"))
            if role == "anonymous":
                self.assertAnswer(role, "opportunity", "map", r, 401)
            elif role in READ["opportunity"]:
                self.assertStatus(r, 200, role)
                self.assertIn("MXC%s" % self.tag, r.body.decode(), "%s: the map lacks the stakeholder" % role)
            else:
                self.assertAnswer(role, "opportunity", "map", r, 404, self.call(role, "GET", self.missing_path(path)))

    def test_audit(self):
        for role in ROLES:
            for obj in ("account", "contact", "opportunity", "activity", "order", "lead", "quota"):
                q = {"object": obj, "id": self.ids[obj]}
                r = self.call(role, "GET", "audit", ("audit", obj), query=q)
                what = "%s audit %s" % (role, obj)
                if role == "anonymous":
                    self.assertAnswer(role, obj, "audit", r, 401)
                elif role == "admin" or (role in MANAGERS and role in READ[obj]):
                    self.assertStatus(r, 200, what)
                    self.assertTrue(r.json["items"], what)
                elif role in MANAGERS:
                    missing = self.call(role, "GET", "audit", query={"object": obj, "id": 999999999})
                    self.assertAnswer(role, obj, "audit", r, 404, missing)
                else:
                    self.assertError(r, 403, "forbidden", msg=what)

    def test_analytics(self):
        team_ids = {"team:region": self.org.teams["region"], "team:sibling": self.org.teams["sibling"],
                    "team:branch": self.org.teams["branch"]}
        for role, scopes in SCOPES.items():
            for scope, counts in scopes.items():
                s = scope if not scope.startswith("team:") else "team:%d" % team_ids[scope]
                for rep in REPORTS:
                    r = self.call(role, "GET", "analytics/" + rep, ("analytics " + scope, rep), query={"scope": s})
                    what = "%s %s scope=%s" % (role, rep, scope)
                    if counts is None:
                        self.assertError(r, (403, 404), msg=what)
                        continue
                    if r.status == 403 and role == "partner":
                        continue       # a partner may be refused the reports altogether
                    self.assertStatus(r, 200, what)
                    big = any(n >= BIG // 10 for n in numbers(r.json))
                    if rep == "funnel":
                        self.assertEqual(big, counts, "%s: the owner's deal %s" % (what, "missing" if counts else "LEAKS"))
                    elif not counts:
                        self.assertFalse(big, "%s: the owner's deal leaks into the figures" % what)
        r = self.call("anonymous", "GET", "analytics/funnel", ("analytics", "funnel"))
        self.assertAnswer("anonymous", "analytics", "get", r, 401)

    def test_settings(self):
        for role in ROLES:
            r = self.call(role, "GET", "settings", ("get", "settings"))
            if role == "anonymous":
                self.assertAnswer(role, "settings", "get", r, 401)
            else:
                self.assertStatus(r, 200, role)
            cur = self.admin.get("settings").json
            key = next(k for k, v in cur.items() if isinstance(v, int) and not isinstance(v, bool) and v > 1)
            r = self.call(role, "PATCH", "settings", ("update", "settings"), body={key: cur[key]})
            self.assertAnswer(role, "settings", "update", r, expected_change(role, "settings"))

    # ---------------------------------------------------------------- writes

    PATCHES = {
        "account": {"notes": "matrix"}, "contact": {"title": "matrix"}, "opportunity": {"name": None},
        "stakeholder": {"attitude": "supporter"}, "activity": {"summary": None}, "order": {"quantity": 2},
        "lead": {"status": "working"}, "quota": {"amount": QUOTA_AMOUNT}, "user": {"hired_on": "2020-01-01"},
        "team": {"name": None},
    }

    def patch_body(self, obj, role):
        body = dict(self.PATCHES[obj])
        for k, v in body.items():
            if v is None:   # keep the marker so the record stays recognisable
                body[k] = "%s %s" % (self.markers[obj] if obj != "team" else "Branch %s" % self.org.tag, role)
        return body

    def test_update(self):
        for role in ROLES:
            for obj in ("account", "contact", "opportunity", "stakeholder", "activity", "order", "lead",
                        "quota", "user", "team"):
                path = self.item(obj)
                before = self.admin.get(path).json
                body = self.patch_body(obj, role)
                r = self.call(role, "PATCH", path, ("update", obj), body=body)
                exp = expected_change(role, obj)
                missing = self.call(role, "PATCH", self.missing_path(path), body=body) if exp in (404, "403|404") else None
                self.assertAnswer(role, obj, "update", r, exp, missing)
                if exp != "ok":
                    after = self.admin.get(path).json
                    self.assertEqual(after["version"], before["version"], "%s update %s changed it" % (role, obj))
        # a user may change their own display name, nothing else about themselves
        r = self.call("owner", "PATCH", "users/%d" % self.ids["user"], ("update self", "user"),
                      body={"display_name": "REP1"})
        self.assertStatus(r, 200)
        r = self.call("owner", "PATCH", "users/%d" % self.ids["user"], ("update self role", "user"),
                      body={"role": "admin"})
        self.assertError(r, 403, "forbidden")

    def test_vvip_sensitive_blocks_cannot_be_written_without_need_to_know(self):
        path = "contacts/%d" % self.ids["contact"]
        for role in ROLES:
            body = {"portrait": {"deep": {"policy": "overwritten by %s" % role}}}
            r = self.call(role, "PATCH", path, ("update sensitive", "contact"), body=body)
            if role in SENSITIVE and role in WRITE["contact"]:
                self.assertStatus(r, 200, role)
                # put the secret back for the other checks
                self.assertStatus(self.admin.patch(path, {"portrait": {"basic": {"office": "MXC basic"},
                                                                       "deep": {"policy": self.secrets[0]},
                                                                       "extended": {"hobby": self.secrets[1]}}}), 200)
            else:
                exp = expected_change(role, "contact")
                if exp == "ok":
                    exp = 403       # may write the contact, but not its need-to-know blocks
                missing = self.call(role, "PATCH", self.missing_path(path), body=body) if exp in (404, "403|404") else None
                self.assertAnswer(role, "contact", "update sensitive", r, exp, missing)
        stored = json.dumps(self.admin.get(path).json)
        for s in self.secrets:
            self.assertIn(s, stored)

    def scratch(self, obj, role):
        """A record of kind obj that role's archive attempt may consume."""
        owner = self.clients["owner"]
        t = self.tag
        if obj == "account":
            return {"account": self.world(owner, "MXA%s scratch %s" % (t, uniq(role)))["account"]}
        a = self.ids["account"]
        bodies = {
            "contact": ("contacts", {"account_id": a, "name": "MXC%s scratch" % t}),
            "opportunity": ("opportunities", {"account_id": a, "name": "MXO%s scratch" % t, "amount": 1}),
            "activity": ("activities", {"account_id": a, "channel": "phone", "summary": "MXV%s scratch" % t,
                                        "occurred_at": "2026-10-11T10:00:00.000Z"}),
            "order": ("orders", {"account_id": a, "product": "MXR%s scratch" % t, "ordered_on": "2026-09-02"}),
        }
        if obj in bodies:
            path, body = bodies[obj]
            r = owner.post(path, body)
            assert r.status == 201, r
            return {obj: r.json["id"]}
        if obj == "stakeholder":
            c = owner.post("contacts", {"account_id": a, "name": "MXC%s scratch" % t}).json["id"]
            r = owner.post("opportunities/%d/stakeholders" % self.ids["opportunity"], {"contact_id": c, "role": "user"})
            assert r.status == 201, r
            return {"opportunity": self.ids["opportunity"], "stakeholder": r.json["id"]}
        adm = self.admin
        if obj == "lead":
            r = adm.post("leads", {"company": "MXL%s scratch" % t, "assignee_id": owner.id})
        elif obj == "quota":
            r = adm.post("quotas", {"user_id": owner.id, "period": "%d-Q1" % (2000 + next(self.periods)),
                                    "amount": QUOTA_AMOUNT})
        elif obj == "user":
            r = adm.post("users", {"username": uniq("scratch").replace("-", ""), "role": "rep",
                                   "team_id": self.ids["team"], "password": PW})
        elif obj == "team":
            r = adm.post("teams", {"name": uniq("Scratch"), "parent_id": self.ids["team"]})
        assert r.status == 201, r
        return {obj: r.json["id"]}

    def test_archive(self):
        for role in ROLES:
            for obj in ("account", "contact", "opportunity", "stakeholder", "activity", "order", "lead",
                        "quota", "user", "team"):
                ids = self.scratch(obj, role)
                path = self.item(obj, ids)
                r = self.call(role, "DELETE", path, ("archive", obj))
                exp = expected_change(role, obj)
                missing = self.call(role, "DELETE", self.missing_path(path)) if exp in (404, "403|404") else None
                self.assertAnswer(role, obj, "archive", r, exp, missing)
                archived = self.admin.get(path).json["archived_at"]
                self.assertEqual(archived is not None, exp == "ok", "%s archive %s: archived_at %r" % (role, obj, archived))

    def test_create(self):
        # New records carry neutral names (MXN...): one made by an account-team member is theirs,
        # and their own managers may see it (an opportunity follows its owner too, API.md).
        a, o = self.ids["account"], self.ids["opportunity"]
        owner = self.clients["owner"]
        t = self.tag
        for role in ROLES:
            c = owner.post("contacts", {"account_id": a, "name": "MXC%s for %s" % (t, role)}).json["id"]
            cases = [
                ("contact", "contacts", {"account_id": a, "name": "MXN%s contact" % t}),
                ("opportunity", "opportunities", {"account_id": a, "name": "MXN%s deal" % t, "amount": 1}),
                ("activity", "activities", {"account_id": a, "channel": "phone", "summary": "MXN%s call" % t,
                                            "occurred_at": "2026-10-12T10:00:00.000Z"}),
                ("order", "orders", {"account_id": a, "product": "MXN%s press" % t, "ordered_on": "2026-09-03"}),
                ("stakeholder", "opportunities/%d/stakeholders" % o, {"contact_id": c, "role": "user"}),
            ]
            for obj, path, body in cases:
                r = self.call(role, "POST", path, ("create under", obj), body=body)
                exp = expected_change(role, obj)
                if exp in (404, "403|404"):
                    if obj == "stakeholder":
                        missing = self.call(role, "POST", self.missing_path(path), body=body)
                    else:
                        missing = self.call(role, "POST", path, body=dict(body, account_id=999999999))
                else:
                    missing = None
                self.assertAnswer(role, obj, "create", r, exp, missing)
            # an account for the owner: managers above and admins assign, the owner creates their own
            r = self.call(role, "POST", "accounts", ("create for owner", "account"),
                          body={"name": "MXN%s account %s" % (t, uniq(role)), "owner_id": owner.id})
            if role == "anonymous":
                self.assertAnswer(role, "account", "create", r, 401)
            elif role in ("admin", "mgr_above", "owner"):
                self.assertStatus(r, 201, role)
            else:
                self.assertError(r, 403, "forbidden", msg="%s creates an account for the owner" % role)
            # quotas for the owner: managers above and admins
            r = self.call(role, "POST", "quotas", ("create for owner", "quota"),
                          body={"user_id": owner.id, "period": "2025-%02d" % (ROLES.index(role) + 1), "amount": 5})
            if role == "anonymous":
                self.assertAnswer(role, "quota", "create", r, 401)
            elif role in ("admin", "mgr_above"):
                self.assertStatus(r, 201, role)
            else:
                self.assertError(r, 403, msg="%s sets the owner's quota" % role)
            for obj, path, body in (("user", "users", {"username": uniq("mxu").replace("-", ""), "role": "rep",
                                                       "password": PW}),
                                    ("team", "teams", {"name": uniq("MX team")})):
                r = self.call(role, "POST", path, ("create", obj), body=body)
                self.assertAnswer(role, obj, "create", r, 401 if role == "anonymous" else
                                  ("ok" if role == "admin" else 403))

    def test_import(self):
        name = self.markers["account"]
        acc_name = self.admin.get("accounts/%d" % self.ids["account"]).json["name"]
        files = {
            "contact": ("contacts", "name,account\nMXN%s imported,{acc}\n" % self.tag),
            "opportunity": ("opportunities", "name,account,amount\nMXN%s imported,{acc},1\n" % self.tag),
            "activity": ("activities", "account,channel,occurred_at,summary\n{acc},phone,2026-10-13T10:00:00Z,"
                                       "MXN%s imported\n" % self.tag),
            "order": ("orders", "account,product,ordered_on\n{acc},MXN%s imported,2026-09-04\n" % self.tag),
        }
        for role in ROLES:
            for obj, (plural, text) in files.items():
                data = text.replace("{acc}", '"%s"' % acc_name).encode()
                # not scanned: a report may quote the names the caller's own file gave
                r = self.call(role, "POST", "import/" + plural, ("import", obj), scan=False, raw=data,
                              headers={"Content-Type": "text/csv"})
                exp = expected_change(role, obj)
                what = "%s import %s" % (role, obj)
                if exp == "ok":
                    self.assertStatus(r, 200, what)
                    self.assertEqual(r.json["created"], 1, what)
                    continue
                if exp == 401:
                    self.assertAnswer(role, obj, "import", r, 401)
                    continue
                self.assertIn(r.status, (403, 422), "%s: %r" % (what, r))
                if exp == 403 and r.status == 422:
                    continue    # read-only member: the row is refused
                missing = self.call(role, "POST", "import/" + plural, scan=False, raw=text.replace(
                    "{acc}", '"%s"' % acc_name.replace(name, "MXNOSUCH%s" % self.tag)).encode(),
                    headers={"Content-Type": "text/csv"})
                # a hidden account and a missing one give the same report, names aside
                strip = lambda resp: re.sub(r"MX[A-Z]*\w+", "NAME", json.dumps(resp.json, sort_keys=True))
                self.assertEqual((r.status, strip(r)), (missing.status, strip(missing)),
                                 "%s: a hidden account and a missing one are reported differently" % what)

    def test_related_endpoints(self):
        """What hangs off a record (history, owners, team, actions) answers as the record does;
        the gathering lists (warnings, agenda, intervention, pool) are scanned for leaks."""
        a, o, lead = self.ids["account"], self.ids["opportunity"], self.ids["lead"]
        cases = [
            ("opportunity", "GET", "opportunities/%d/history" % o, None, "history", (200,)),
            ("account", "GET", "accounts/%d/owners" % a, None, "owners", (200,)),
            ("account", "GET", "accounts/%d/team" % a, None, "team", (200,)),
            # the account is VVIP (never parked) and owned (not claimable): refused to all who see it
            ("account", "POST", "accounts/%d/park" % a, {"reason": "matrix"}, "park", (403, 409)),
            ("account", "POST", "accounts/%d/claim" % a, {}, "claim", (403, 409)),
            ("account", "POST", "accounts/%d/assign" % a, {"user_id": self.clients["owner"].id}, "assign",
             (403, 409)),      # 409: theirs already
            ("lead", "POST", "leads/%d/convert" % lead, None, "convert", None),
        ]
        for role in ROLES:
            for obj, method, path, body, verb, ok in cases:
                kw = {} if body is None else {"body": body}
                if role in READ[obj] and ok is None:
                    continue          # converting the lead would change it for the other checks
                r = self.call(role, method, path, (verb, obj), **kw)
                what = "%s %s %s" % (role, verb, obj)
                if role == "anonymous":
                    self.assertAnswer(role, obj, verb, r, 401)
                elif role in READ[obj]:
                    self.assertIn(r.status, ok, "%s: %r" % (what, r))
                else:
                    missing = self.call(role, method, self.missing_path(path), **kw)
                    self.assertIn(r.status, (403, 404), "%s: %r" % (what, r))
                    self.assertLikeMissing(role, r, missing, what)
            if role == "anonymous":
                continue
            for path in ("warnings", "me/agenda", "intervention"):
                r = self.call(role, "GET", path, ("gather", path))
                self.assertIn(r.status, (200, 403), "%s %s: %r" % (role, path, r))
            # The pool is open to the company (SPEC §2: reps see its names and basic fields until
            # they claim), the partner's converted account included; not to partners, who see
            # their own account only.
            r = self.call(role, "GET", "pool", ("gather", "pool"), scan=False, query={"limit": 500})
            self.assertStatus(r, (200, 403), role)
            saved = self.markers
            try:
                pooled = ("pool_account", "partner_account", "partner_lead") if role in INTERNAL else ()
                self.markers = {k: v for k, v in saved.items() if k not in pooled}
                self.scan(role, r)
            finally:
                self.markers = saved
            if role in INTERNAL:
                self.assertIn(self.ids["pool_account"], [i["id"] for i in r.json["items"]], role)
            if r.status == 200 and role in REPS | {"partner"}:
                basic = {"id", "name", "industry", "importance", "touches", "last_touch_at", "pool_reason",
                         "pooled_at"}
                for it in r.json["items"]:
                    self.assertLessEqual(set(it), basic, "%s sees more than the basic fields in the pool" % role)
        self.assertEqual(self.admin.get("accounts/%d" % a).json["owner_id"], self.clients["owner"].id)
        self.assertEqual(self.admin.get("leads/%d" % lead).json["status"], "new")

    def test_zz_matrix_size(self):
        roles = {c[0] for c in self.cells}
        objects = {c[2] for c in self.cells}
        print("\naccess matrix: %d cells (%d roles, %d objects and reports, %d verbs), %d answers scanned for leaks"
              % (len(self.cells), len(roles), len(objects), len({c[1] for c in self.cells}), self.answers))
        self.assertEqual(roles, set(ROLES))


if __name__ == "__main__":
    unittest.main()
