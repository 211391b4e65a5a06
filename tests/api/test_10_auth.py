"""10: authentication, sessions, cookies, CSRF, login rate limits."""

import json
import unittest

from harness import ADMIN_PW, PW, ApiTestCase, Server, uniq


def cookie_attrs(set_cookie_values, name):
    """{attr_lower: value} of the Set-Cookie for `name`, plus '' -> value."""
    for sc in set_cookie_values:
        parts = [p.strip() for p in sc.split(";")]
        n, _, v = parts[0].partition("=")
        if n == name:
            attrs = {"": v}
            for p in parts[1:]:
                k, _, val = p.partition("=")
                attrs[k.strip().lower()] = val.strip()
            return attrs
    return None


class AuthTest(ApiTestCase):
    ORG_USERS = ("rep1", "rep2")

    def test_health_needs_no_auth(self):
        r = self.server.client().get("health")
        self.assertStatus(r, 200)

    def test_no_credentials_is_401_unauthorized(self):
        c = self.server.client()
        for path in ("me", "accounts", "users", "teams", "contacts", "opportunities", "activities"):
            self.assertError(c.get(path), 401, "unauthorized", msg=path)
        self.assertError(c.post("accounts", {"name": uniq("Anon")}), 401, "unauthorized")

    def test_garbage_bearer_token_is_401(self):
        c = self.server.client(token="not-a-real-token-" + "a" * 40)
        self.assertError(c.get("me"), 401, "unauthorized")
        c = self.server.client()
        r = c.get("me", headers={"Authorization": "Bearer "})
        self.assertError(r, 401, "unauthorized")
        r = c.get("me", headers={"Authorization": "Basic YWRtaW46eA=="})
        self.assertError(r, 401, "unauthorized")

    def test_login_returns_token_csrf_user_and_no_secret(self):
        c = self.server.client()
        r = c.login(self.org.usernames["rep1"], PW)
        self.assertStatus(r, 200)
        j = r.json
        self.assertIsInstance(j.get("token"), str)
        self.assertGreaterEqual(len(j["token"]), 32, "a 256-bit token is at least 32 chars")
        self.assertIsInstance(j.get("csrf_token"), str)
        self.assertTrue(j["csrf_token"])
        self.assertEqual(j["user"]["id"], self.org.user_ids["rep1"])
        self.assertEqual(j["user"]["username"], self.org.usernames["rep1"])
        self.assertEqual(j["user"]["role"], "rep")
        self.assertNotIn("password", j["user"])
        self.assertNotIn(PW, r.body.decode())
        self.assertNotIn("argon2", r.body.decode())

    def test_login_sets_cookies_with_right_attributes(self):
        c = self.server.client(cookies=True)
        r = c.login(self.org.usernames["rep1"], PW)
        self.assertStatus(r, 200)
        sc = r.header_all("Set-Cookie")
        sess = cookie_attrs(sc, "dm_session")
        csrf = cookie_attrs(sc, "dm_csrf")
        self.assertIsNotNone(sess, sc)
        self.assertIsNotNone(csrf, sc)
        self.assertTrue(sess[""])
        self.assertIn("httponly", sess, "dm_session must be HttpOnly")
        self.assertEqual(sess.get("samesite", "").lower(), "lax")
        self.assertEqual(sess.get("path"), "/")
        self.assertNotIn("httponly", csrf, "dm_csrf must be readable by the page")
        self.assertEqual(csrf.get("samesite", "").lower(), "lax")
        self.assertEqual(csrf.get("path"), "/")
        self.assertEqual(csrf[""], r.json["csrf_token"])

    def test_two_logins_give_different_tokens(self):
        a = self.server.login(self.org.usernames["rep2"], PW)
        b = self.server.login(self.org.usernames["rep2"], PW)
        self.assertNotEqual(a.token, b.token)
        self.assertStatus(a.get("me"), 200)
        self.assertStatus(b.get("me"), 200)

    def test_me_with_bearer_and_with_cookie(self):
        b = self.server.login(self.org.usernames["rep1"], PW)
        r = b.get("me")
        self.assertStatus(r, 200)
        self.assertEqual(r.json["id"], self.org.user_ids["rep1"])
        self.assertNotIn("password", r.json)
        c = self.server.login(self.org.usernames["rep1"], PW, cookies=True)
        r = c.get("me")
        self.assertStatus(r, 200)
        self.assertEqual(r.json["username"], self.org.usernames["rep1"])

    def test_wrong_password_and_unknown_user_are_401_invalid_credentials(self):
        c = self.server.client()
        r1 = c.login(self.org.usernames["rep2"], PW + "x")
        self.assertError(r1, 401, "invalid_credentials")
        self.assertNotIn("token", r1.json)
        r2 = c.login("nosuchuser" + uniq("u").replace("-", ""), PW)
        self.assertError(r2, 401, "invalid_credentials")
        # the answer must not tell which of the two was wrong
        self.assertEqual(r1.error["message"], r2.error["message"])
        self.assertNotIn("Set-Cookie", r1.headers)

    def test_login_with_bad_body_is_400(self):
        c = self.server.client()
        r = c.post("auth/login", raw=b'{"username": "admin", "password": ')
        self.assertError(r, 400, "invalid_json")
        r = c.post("auth/login", {"username": "admin"})
        self.assertError(r, 400, "required", field="password")
        r = c.post("auth/login", {"username": 5, "password": ADMIN_PW})
        self.assertError(r, 400, "invalid_field", field="username")

    # -- CSRF
    def test_cookie_write_without_csrf_header_is_403(self):
        c = self.server.login(self.org.usernames["rep1"], PW, cookies=True)
        tag = uniq("NoCsrf").replace("-", "")
        r = c.post("accounts", {"name": tag + " 1"}, csrf=False)
        self.assertError(r, 403, "csrf")
        r = c.post("accounts", {"name": tag + " 2"}, csrf="wrong-token")
        self.assertError(r, 403, "csrf")
        r = c.post("accounts", {"name": tag + " 3"}, csrf="")
        self.assertError(r, 403, "csrf")
        # nothing was created by the refused requests
        items = c.list_all("accounts", {"name": tag})
        self.assertEqual(items, [])

    def test_cookie_write_with_csrf_header_works(self):
        c = self.server.login(self.org.usernames["rep1"], PW, cookies=True)
        name = uniq("CsrfOk")
        r = c.post("accounts", {"name": name})
        self.assertStatus(r, 201)
        aid = r.json["id"]
        # PATCH and DELETE are protected too
        self.assertError(c.patch("accounts/%d" % aid, {"industry": "x"}, csrf=False), 403, "csrf")
        self.assertError(c.delete("accounts/%d" % aid, csrf=False), 403, "csrf")
        self.assertEqual(c.get("accounts/%d" % aid).json["version"], 1)
        r = c.patch("accounts/%d" % aid, {"industry": "printing"})
        self.assertStatus(r, 200)
        self.assertEqual(r.json["industry"], "printing")
        self.assertStatus(c.delete("accounts/%d" % aid), 200)

    def test_csrf_token_of_another_session_is_refused(self):
        a = self.server.login(self.org.usernames["rep1"], PW, cookies=True)
        b = self.server.login(self.org.usernames["rep1"], PW, cookies=True)
        self.assertNotEqual(a.jar["dm_csrf"], b.jar["dm_csrf"])
        r = a.post("accounts", {"name": uniq("Cross")}, csrf=b.jar["dm_csrf"])
        self.assertError(r, 403, "csrf")

    def test_cookie_reads_need_no_csrf(self):
        c = self.server.login(self.org.usernames["rep1"], PW, cookies=True)
        self.assertStatus(c.get("accounts"), 200)

    def test_bearer_write_needs_no_csrf(self):
        c = self.server.login(self.org.usernames["rep1"], PW)
        r = c.post("accounts", {"name": uniq("Bearer")})
        self.assertStatus(r, 201)

    # -- logout
    def test_logout_ends_bearer_session(self):
        c = self.server.login(self.org.usernames["rep2"], PW)
        other = self.server.login(self.org.usernames["rep2"], PW)
        r = c.post("auth/logout")
        self.assertStatus(r, 200)
        self.assertEqual(r.json, {"ok": True})
        self.assertError(c.get("me"), 401, "unauthorized")
        self.assertError(c.post("accounts", {"name": uniq("After")}), 401, "unauthorized")
        # another session of the same user is not affected
        self.assertStatus(other.get("me"), 200)

    def test_logout_ends_cookie_session_and_clears_cookies(self):
        c = self.server.login(self.org.usernames["rep2"], PW, cookies=True)
        old_jar = dict(c.jar)
        r = c.post("auth/logout")
        self.assertStatus(r, 200)
        sess = cookie_attrs(r.header_all("Set-Cookie"), "dm_session")
        self.assertIsNotNone(sess, "logout must clear dm_session")
        cleared = sess[""] == "" or sess.get("max-age") == "0" or "expires" in sess
        self.assertTrue(cleared, sess)
        # replaying the old cookie does not work either: the session is gone server-side
        c.jar = old_jar
        self.assertError(c.get("me"), 401, "unauthorized")

    # -- rate limit (per username); uses few failures in total so the
    #    per-address limit of this server is not reached
    def test_repeated_failures_for_a_username_are_rate_limited(self):
        uname = "victim" + uniq("v").replace("-", "")
        r = self.admin.post("users", {"username": uname, "role": "rep", "password": PW})
        self.assertStatus(r, 201)
        c = self.server.client()
        statuses = []
        for i in range(7):
            r = c.login(uname, "Wrong#Pass%d-xyz" % i)
            statuses.append(r.status)
            if r.status == 429:
                break
        self.assertEqual(statuses[:4], [401] * 4, statuses)
        self.assertEqual(statuses[-1], 429, "no 429 after 5 failed logins: %s" % statuses)
        self.assertError(r, 429, "rate_limited")
        ra = r.header("Retry-After")
        self.assertIsNotNone(ra, "429 needs Retry-After")
        self.assertTrue(ra.isdigit() and 0 < int(ra) <= 15 * 60, ra)
        # the right password does not get through while limited (else the
        # limit would be an oracle for guessing)
        r = c.login(uname, PW)
        self.assertError(r, 429, "rate_limited")
        self.assertNotIn("token", r.json or {})
        # other users are not affected
        self.assertStatus(self.server.client().login(self.org.usernames["rep1"], PW), 200)


class AddressRateLimitTest(unittest.TestCase):
    """Twenty failed logins from one address answer 429 (own server: it
    poisons 127.0.0.1 for 15 minutes)."""

    def test_twenty_failures_from_one_address(self):
        srv = Server()
        try:
            srv.start()
            c = srv.client()
            statuses = []
            for i in range(23):
                r = c.login("ghost%02d%s" % (i, uniq("g").replace("-", "")), "Wrong#Pass-xyz%d" % i)
                statuses.append(r.status)
                if r.status == 429:
                    break
            self.assertEqual(statuses[:19], [401] * 19, statuses)
            self.assertEqual(statuses[-1], 429, statuses)
            self.assertEqual(r.error["code"], "rate_limited")
            self.assertTrue((r.header("Retry-After") or "").isdigit(), r.headers)
            # even a right password from this address waits
            r = c.login("admin", ADMIN_PW)
            self.assertEqual(r.status, 429, r)
            self.assertTrue(srv.alive())
        finally:
            rc = srv.stop()
            srv.cleanup()
        self.assertEqual(rc, 0)


if __name__ == "__main__":
    unittest.main()
