"""20: users and teams (the directory), admin-only writes, passwords."""

import unittest

from harness import PW, PW2, ApiTestCase, uniq


def uname(prefix="u"):
    return uniq(prefix).replace("-", "")


class UsersTeamsTest(ApiTestCase):
    ORG_USERS = ("mgr", "rep1", "rep2")

    def test_create_team_returns_record(self):
        name = uniq("Team")
        r = self.admin.post("teams", {"name": name, "parent_id": self.org.teams["company"]})
        self.assertStatus(r, 201)
        t = r.json
        self.assertIsInstance(t["id"], int)
        self.assertEqual(t["name"], name)
        self.assertEqual(t["parent_id"], self.org.teams["company"])
        self.assertIsNone(t["manager_id"])
        self.assertEqual(t["version"], 1)
        self.assertIsNone(t["archived_at"])
        self.assertTimestamp(t["created_at"])
        self.assertTimestamp(t["updated_at"])
        g = self.admin.get("teams/%d" % t["id"])
        self.assertStatus(g, 200)
        self.assertEqual(g.json, t)
        self.assertEqual(g.header("ETag").strip('W/"'), "1")

    def test_team_tree_is_listed_and_filterable(self):
        items = self.org.rep1.list_all("teams")
        ids = {t["id"] for t in items}
        for tid in self.org.teams.values():
            self.assertIn(tid, ids)
        kids = self.org.rep1.list_all("teams", {"parent_id": self.org.teams["company"]})
        kid_ids = {t["id"] for t in kids}
        self.assertIn(self.org.teams["region"], kid_ids)
        self.assertIn(self.org.teams["sibling"], kid_ids)
        self.assertNotIn(self.org.teams["branch"], kid_ids)

    def test_team_with_missing_parent_is_refused(self):
        r = self.admin.post("teams", {"name": uniq("Orphan"), "parent_id": 987654})
        self.assertError(r, (400, 404), field="parent_id")

    def test_team_cycle_is_refused(self):
        company = self.org.teams["company"]
        r = self.admin.patch("teams/%d" % company, {"parent_id": self.org.teams["branch"]})
        self.assertError(r, (400, 409), field="parent_id")
        r = self.admin.patch("teams/%d" % company, {"parent_id": company})
        self.assertError(r, (400, 409), field="parent_id")
        self.assertIsNone(self.admin.get("teams/%d" % company).json["parent_id"])

    def test_team_name_required(self):
        self.assertError(self.admin.post("teams", {"parent_id": None}), 400, "required", field="name")

    def test_create_user_and_password_is_write_only(self):
        u = uname("alice")
        r = self.admin.post("users", {"username": u, "display_name": "Alice", "role": "rep",
                                      "team_id": self.org.teams["branch"], "hired_on": "2025-03-01",
                                      "locale": "en", "password": PW})
        self.assertStatus(r, 201)
        j = r.json
        self.assertEqual(j["username"], u)
        self.assertEqual(j["display_name"], "Alice")
        self.assertEqual(j["role"], "rep")
        self.assertEqual(j["team_id"], self.org.teams["branch"])
        self.assertEqual(j["hired_on"], "2025-03-01")
        self.assertEqual(j["locale"], "en")
        self.assertIs(j["active"], True)
        self.assertEqual(j["version"], 1)
        self.assertNotIn("password", j)
        for resp in (r, self.admin.get("users/%d" % j["id"]), self.org.rep1.get("users/%d" % j["id"])):
            self.assertStatus(resp, 200 if resp is not r else 201)
            text = resp.body.decode()
            self.assertNotIn("password", resp.json)
            self.assertNotIn(PW, text)
            self.assertNotIn("$argon2", text)
        # the new user can log in
        c = self.server.login(u, PW)
        self.assertEqual(c.user["id"], j["id"])

    def test_only_admin_writes_users_and_teams(self):
        for c in (self.org.rep1, self.org.mgr):
            r = c.post("users", {"username": uname("sneaky"), "role": "admin", "password": PW})
            self.assertError(r, 403, "forbidden")
            r = c.patch("users/%d" % c.id, {"role": "admin"})
            self.assertError(r, 403, "forbidden")
            r = c.post("teams", {"name": uniq("SneakyTeam")})
            self.assertError(r, 403, "forbidden")
            r = c.patch("teams/%d" % self.org.teams["branch"], {"name": "Hijacked"})
            self.assertError(r, 403, "forbidden")
        self.assertEqual(self.org.rep1.get("me").json["role"], "rep")
        self.assertNotEqual(self.admin.get("teams/%d" % self.org.teams["branch"]).json["name"], "Hijacked")

    def test_everyone_reads_the_directory(self):
        items = self.org.rep1.list_all("users")
        ids = {u["id"] for u in items}
        for key in ("mgr", "rep1", "rep2"):
            self.assertIn(self.org.user_ids[key], ids)
        for u in items:
            self.assertNotIn("password", u)
        r = self.org.rep1.get("users/%d" % self.org.user_ids["rep2"])
        self.assertStatus(r, 200)
        self.assertEqual(r.json["username"], self.org.usernames["rep2"])

    def test_user_list_filters(self):
        reps = self.admin.list_all("users", {"role": "rep"})
        self.assertTrue(reps)
        self.assertTrue(all(u["role"] == "rep" for u in reps))
        self.assertIn(self.org.user_ids["rep1"], {u["id"] for u in reps})
        self.assertNotIn(self.org.user_ids["mgr"], {u["id"] for u in reps})
        branch = self.admin.list_all("users", {"team_id": self.org.teams["branch"]})
        self.assertTrue(all(u["team_id"] == self.org.teams["branch"] for u in branch))
        self.assertIn(self.org.user_ids["rep2"], {u["id"] for u in branch})
        self.assertError(self.admin.get("users", query={"role": "emperor"}), 400, "invalid_param", field="role")
        self.assertError(self.admin.get("users", query={"shoe_size": "44"}), 400, "invalid_param", field="shoe_size")
        self.assertError(self.admin.get("teams", query={"limit": "0"}), 400, "invalid_param", field="limit")

    def test_partner_sees_only_themselves(self):
        u = uname("partner")
        self.assertStatus(self.admin.post("users", {"username": u, "role": "partner", "password": PW}), 201)
        p = self.server.login(u, PW)
        items = p.list_all("users")
        self.assertEqual([x["id"] for x in items], [p.id])
        self.assertError(p.get("users/%d" % self.org.user_ids["rep1"]), 404, "not_found")
        self.assertStatus(p.get("users/%d" % p.id), 200)

    def test_duplicate_username_is_409(self):
        r = self.admin.post("users", {"username": self.org.usernames["rep1"], "role": "rep", "password": PW})
        self.assertError(r, 409, "duplicate")

    def test_user_validation(self):
        base = {"role": "rep", "password": PW}
        cases = [
            ({"role": "emperor"}, "role"),
            ({"locale": "fr"}, "locale"),
            ({"hired_on": "2026-13-45"}, "hired_on"),
            ({"hired_on": 20260101}, "hired_on"),
            ({"active": "yes"}, "active"),
            ({"team_id": "branch"}, "team_id"),
            ({"display_name": 12}, "display_name"),
        ]
        for extra, field in cases:
            body = dict(base, username=uname("val"))
            body.update(extra)
            self.assertError(self.admin.post("users", body), 400, "invalid_field", field=field, msg=repr(extra))
        self.assertError(self.admin.post("users", {"username": uname("np"), "role": "rep"}), 400,
                         "required", field="password")
        self.assertError(self.admin.post("users", {"role": "rep", "password": PW}), 400,
                         "required", field="username")
        r = self.admin.post("users", {"username": uname("nt"), "role": "rep", "password": PW,
                                      "team_id": 987654})
        self.assertError(r, (400, 404), field="team_id")
        r = self.admin.post("users", dict(base, username=uname("unk"), shoe_size=44))
        self.assertError(r, 400, "unknown_field", field="shoe_size")

    def test_weak_passwords_are_refused(self):
        for weak in ("password", "12345678", "abc", "qwertyuiop"):
            r = self.admin.post("users", {"username": uname("weak"), "role": "rep", "password": weak})
            self.assertError(r, 400, "invalid_field", field="password", msg=weak)
            if weak not in ("password", "abc"):
                self.assertNotIn(weak, r.error["message"], "do not echo the password back")

    def test_admin_changes_password(self):
        u = uname("pwchange")
        r = self.admin.post("users", {"username": u, "role": "rep", "password": PW})
        self.assertStatus(r, 201)
        uid = r.json["id"]
        r = self.admin.patch("users/%d" % uid, {"password": PW2})
        self.assertStatus(r, 200)
        self.assertNotIn("password", r.json)
        self.assertError(self.server.client().login(u, PW), 401, "invalid_credentials")
        self.assertStatus(self.server.client().login(u, PW2), 200)
        self.assertError(self.admin.patch("users/%d" % uid, {"password": "password"}), 400,
                         "invalid_field", field="password")

    def test_deactivating_a_user_ends_their_sessions(self):
        u = uname("leaver")
        r = self.admin.post("users", {"username": u, "role": "rep", "password": PW,
                                      "team_id": self.org.teams["branch"]})
        self.assertStatus(r, 201)
        uid = r.json["id"]
        c = self.server.login(u, PW)
        cc = self.server.login(u, PW, cookies=True)
        self.assertStatus(c.get("me"), 200)
        r = self.admin.patch("users/%d" % uid, {"active": False})
        self.assertStatus(r, 200)
        self.assertIs(r.json["active"], False)
        self.assertEqual(r.json["version"], 2)
        self.assertError(c.get("me"), 401, "unauthorized")
        self.assertError(cc.get("me"), 401, "unauthorized")
        self.assertEqual(self.server.client().login(u, PW).status, 401)
        r = self.admin.patch("users/%d" % uid, {"active": True})
        self.assertStatus(r, 200)
        self.assertStatus(self.server.client().login(u, PW), 200)

    def test_user_if_match(self):
        u = uname("ver")
        r = self.admin.post("users", {"username": u, "role": "rep", "password": PW})
        uid = r.json["id"]
        self.assertStatus(self.admin.patch("users/%d" % uid, {"display_name": "V2"},
                                           headers={"If-Match": "1"}), 200)
        r = self.admin.patch("users/%d" % uid, {"display_name": "V3"}, headers={"If-Match": "1"})
        self.assertError(r, 412, "version_mismatch")
        self.assertEqual(self.admin.get("users/%d" % uid).json["display_name"], "V2")

    def test_me_reflects_the_caller(self):
        r = self.org.mgr.get("me")
        self.assertStatus(r, 200)
        self.assertEqual(r.json["id"], self.org.user_ids["mgr"])
        self.assertEqual(r.json["role"], "manager")
        self.assertEqual(r.json["team_id"], self.org.teams["region"])

    def test_team_manager_must_exist(self):
        r = self.admin.patch("teams/%d" % self.org.teams["branch"], {"manager_id": 987654})
        self.assertError(r, (400, 404), field="manager_id")


if __name__ == "__main__":
    unittest.main()
