"""11: sessions and response headers (issue 10; SPEC 10 security defaults): the idle (30 min)
and absolute (12 h) timeouts, the session replaced at sign-in, Secure cookies behind a TLS proxy
that says so, the password rules through the API, and the security headers (a strict
Content-Security-Policy, nosniff, Referrer-Policy, no framing) on every kind of answer: JSON,
errors, the web app's page and its assets.

The timeouts are checked without waiting: the test moves a session's clock back in the database
file the server is using (another SQLite connection; WAL lets it write beside the server), or in
its PostgreSQL database (psql)."""

import re
import sqlite3
import time
import unittest

from harness import PW, ApiTestCase, db_rows, is_pg, psql, uniq

MIN = 60 * 1000


class SessionHeaderTest(ApiTestCase):
    ORG_USERS = ("rep1",)

    def user_client(self):
        u = "s" + uniq("u").replace("-", "")
        self.assertStatus(self.admin.post("users", {"username": u, "role": "rep", "password": PW}), 201)
        return self.server.login(u, PW)

    def age_sessions(self, user_id, seen_ago_ms, created_ago_ms):
        """Move every session of the user back in time."""
        now = int(time.time() * 1000)
        if is_pg(self.server.db):
            n = int(psql(self.server.db, "WITH u AS (UPDATE sessions SET seen_ms = %d, created_ms = %d "
                         "WHERE user_id = %d RETURNING 1) SELECT count(*) FROM u"
                         % (now - seen_ago_ms, now - created_ago_ms, user_id)))
            self.assertGreater(n, 0, "no session to age")
            return
        con = sqlite3.connect(self.server.db, timeout=30)
        try:
            with con:
                n = con.execute("UPDATE sessions SET seen_ms = ?, created_ms = ? WHERE user_id = ?",
                                (now - seen_ago_ms, now - created_ago_ms, user_id)).rowcount
        finally:
            con.close()
        self.assertGreater(n, 0, "no session to age")

    def write_db(self, sql):
        """One write to the server's database from another process's connection, as the command
        line (`dealmap user`, import, sweep) writes beside a running server."""
        if is_pg(self.server.db):
            psql(self.server.db, sql)
            return
        con = sqlite3.connect(self.server.db, timeout=30)
        try:
            with con:
                con.execute(sql)
        finally:
            con.close()

    # -- what the server knows of a session is never older than the database (its session
    # cache, sqlite.c: each change below must take effect at the next request, whoever wrote it)
    def test_changes_from_another_process_take_effect_at_once(self):
        c = self.user_client()
        for _ in range(3):   # the session read, then served again
            r = c.get("users?limit=100")
            self.assertStatus(r, 200)
            self.assertGreater(len(r.json["items"]), 1, "a rep reads the directory")
        self.write_db("UPDATE users SET role = 'partner' WHERE id = %d" % c.id)
        r = c.get("users?limit=100")
        self.assertStatus(r, 200)
        self.assertEqual([u["id"] for u in r.json["items"]], [c.id],
                         "a partner sees only themselves: the old role was served")
        self.write_db("UPDATE users SET role = 'rep' WHERE id = %d" % c.id)
        self.assertGreater(len(c.get("users?limit=100").json["items"]), 1)
        self.write_db("UPDATE users SET active = 0 WHERE id = %d" % c.id)
        self.assertError(c.get("me"), 401, "unauthorized")

        c = self.user_client()
        other = self.server.login(c.user["username"], PW)
        for _ in range(2):
            self.assertStatus(c.get("me"), 200)
            self.assertStatus(other.get("me"), 200)
        # only its activity moved back: idle for 31 minutes
        self.write_db("UPDATE sessions SET seen_ms = %d WHERE user_id = %d"
                      % (int(time.time() * 1000) - 31 * MIN, c.id))
        self.assertError(c.get("me"), 401, "unauthorized")
        self.assertError(other.get("me"), 401, "unauthorized")

        c = self.user_client()
        other = self.server.login(c.user["username"], PW)
        for _ in range(2):
            self.assertStatus(c.get("me"), 200)
            self.assertStatus(other.get("me"), 200)
        self.write_db("DELETE FROM sessions WHERE user_id = %d" % c.id)   # signed out elsewhere
        self.assertError(c.get("me"), 401, "unauthorized")
        self.assertError(other.get("me"), 401, "unauthorized")

    # -- timeouts
    def test_idle_timeout(self):
        c = self.user_client()
        self.age_sessions(c.id, 29 * MIN, 60 * MIN)
        self.assertStatus(c.get("me"), 200, "29 minutes idle is still signed in")
        self.age_sessions(c.id, 31 * MIN, 60 * MIN)
        self.assertError(c.get("me"), 401, "unauthorized")
        # and it is gone, not just refused once
        self.assertError(c.get("me"), 401, "unauthorized")

    def test_absolute_timeout(self):
        c = self.user_client()
        self.age_sessions(c.id, 1 * MIN, 11 * 60 * MIN)
        self.assertStatus(c.get("me"), 200, "11 h old and active is still signed in")
        self.age_sessions(c.id, 1 * MIN, 12 * 60 * MIN + MIN)
        self.assertError(c.get("me"), 401, "unauthorized")

    def test_activity_keeps_a_session_alive(self):
        c = self.user_client()
        self.age_sessions(c.id, 25 * MIN, 60 * MIN)
        self.assertStatus(c.get("me"), 200)     # records the activity (it is over a minute old)
        seen = int(db_rows(self.server.db, "SELECT max(seen_ms) FROM sessions WHERE user_id = %d"
                           % c.id)[0][0])
        self.assertLess(time.time() * 1000 - seen, MIN, "the request did not refresh the idle clock")

    # -- sign-in
    def test_sign_in_replaces_the_session_it_was_given(self):
        c = self.server.client(cookies=True)
        self.assertStatus(c.login(self.org.usernames["rep1"], PW), 200)
        old = c.jar["dm_session"]
        self.assertStatus(c.login(self.org.usernames["rep1"], PW), 200)
        new = c.jar["dm_session"]
        self.assertNotEqual(old, new)
        self.assertStatus(c.get("me"), 200)
        stale = self.server.client(token=old)
        self.assertError(stale.get("me"), 401, "unauthorized", msg="the replaced session still works")
        # a token planted in the browser before sign-in does not become a session either
        planted = self.server.client(cookies=True)
        planted.jar["dm_session"] = "a" * 64
        self.assertStatus(planted.login(self.org.usernames["rep1"], PW), 200)
        self.assertNotEqual(planted.jar["dm_session"], "a" * 64)

    def test_secure_cookies_behind_a_tls_proxy_only(self):
        def cookies(headers):
            c = self.server.client(cookies=True)
            r = c.request("POST", "auth/login", {"username": self.org.usernames["rep1"], "password": PW},
                          csrf=False, headers=headers)
            self.assertStatus(r, 200)
            return {sc.split("=", 1)[0]: [a.strip().lower() for a in sc.split(";")[1:]]
                    for sc in r.header_all("Set-Cookie")}
        plain = cookies({})
        tls = cookies({"X-Forwarded-Proto": "https"})
        for name in ("dm_session", "dm_csrf"):
            self.assertNotIn("secure", plain[name], "a Secure cookie over plain HTTP would never come back")
            self.assertIn("secure", tls[name], "%s without Secure behind TLS" % name)
        self.assertIn("httponly", tls["dm_session"])
        self.assertIn("samesite=lax", tls["dm_session"])

    def test_password_rules(self):
        for pw, why in (("Ab1!xyz", "too short"), ("password123", "common"), ("qwertyuiop", "common")):
            r = self.admin.post("users", {"username": "p" + uniq("w").replace("-", ""), "role": "rep", "password": pw})
            self.assertError(r, 400, "invalid_field", field="password", msg=why)
        c = self.user_client()
        r = self.admin.patch("users/%d" % c.id, {"password": "12345678"})
        self.assertError(r, 400, "invalid_field", field="password")

    # -- headers
    def check_headers(self, r, what):
        h = {k.lower(): v for k, v in r.headers.items()}
        self.assertEqual(h.get("x-content-type-options"), "nosniff", what)
        self.assertIn(h.get("referrer-policy"), ("no-referrer", "same-origin", "strict-origin"), what)
        self.assertEqual(h.get("x-frame-options"), "DENY", what)
        csp = h.get("content-security-policy", "")
        d = {}
        for part in csp.split(";"):
            words = part.split()
            if words:
                d[words[0]] = words[1:]
        self.assertEqual(d.get("default-src"), ["'self'"], "%s: %s" % (what, csp))
        self.assertEqual(d.get("frame-ancestors"), ["'none'"], what)
        self.assertEqual(d.get("object-src"), ["'none'"], what)
        scripts = d.get("script-src", d["default-src"])
        self.assertNotIn("'unsafe-inline'", scripts, what)
        self.assertNotIn("'unsafe-eval'", scripts, what)
        self.assertNotIn("*", scripts, what)

    def test_security_headers_everywhere(self):
        anon = self.server.client()
        page = anon.get("/")
        self.assertStatus(page, 200)
        answers = [(page, "the web app's page"), (anon.get("health"), "JSON"),
                   (anon.get("me"), "a 401"), (self.admin.get("nosuchthing", record=False), "a 404"),
                   (self.admin.get("openapi.json"), "the OpenAPI document"),
                   (self.admin.post("accounts", {"name": 5}), "a 400")]
        assets = re.findall(r'(?:src|href)="(/assets/[^"]+)"', page.body.decode())
        self.assertTrue(assets, "the page names no assets")
        for a in assets[:3]:
            r = anon.get(a)
            self.assertStatus(r, 200, a)
            answers.append((r, a))
        for r, what in answers:
            self.check_headers(r, what)
        # no inline script on the page: the CSP would block it, so the app must not need one
        self.assertNotRegex(page.body.decode(), r"<script(?![^>]*\bsrc=)[^>]*>\s*\S", "inline script in the page")


if __name__ == "__main__":
    unittest.main()
