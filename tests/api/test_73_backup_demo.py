"""73: backup and restore (issue 7): `dealmap backup` of a database being written to opens and
passes PRAGMA integrity_check; GET /admin/backup streams one to admins only; `dealmap restore`
checks before it replaces. The demo company loads in seconds, deterministically, and gives every
page something true. The import and export commands."""

import os
import sqlite3
import subprocess
import threading
import time
import unittest

from harness import (ADMIN_PW, STORE, ApiTestCase, Server, db_rows, drop_db, new_db, only_pg,
                     only_sqlite, run_cli, uniq)

DEMO_PW = "Dealmap-Demo-2026"


class BackupTest(ApiTestCase):
    ORG_USERS = ("rep1",)

    def tmp(self, name):
        return os.path.join(self.server.tmpdir, name)

    def check_db(self, path):
        """The backup at path restores, and holds this many accounts. PostgreSQL: pg_dump's
        custom format, restored by pg_restore into a fresh database."""
        if STORE == "pg":
            with open(path, "rb") as f:
                self.assertEqual(f.read(5), b"PGDMP", "not a pg_dump custom-format archive")
            db = new_db(self.server.tmpdir)
            try:
                r = subprocess.run(["pg_restore", "--no-owner", "--exit-on-error", "--dbname", db, path],
                                   capture_output=True, text=True, timeout=120)
                self.assertEqual(r.returncode, 0, r.stderr)
                return int(db_rows(db, "SELECT count(*) FROM accounts")[0][0])
            finally:
                drop_db(db)
        db = sqlite3.connect(path)
        try:
            self.assertEqual(db.execute("PRAGMA integrity_check").fetchone()[0], "ok")
            return db.execute("SELECT count(*) FROM accounts").fetchone()[0]
        finally:
            db.close()

    def test_cli_backup_under_concurrent_writes(self):
        stop = threading.Event()
        made = []

        def writer():
            c = self.server.admin()
            while not stop.is_set():
                r = c.post("accounts", {"name": uniq("Busy")})
                if r.status == 201:
                    made.append(r.json["id"])
        threads = [threading.Thread(target=writer) for _ in range(3)]
        for t in threads:
            t.start()
        try:
            while len(made) < 30:
                time.sleep(0.01)
            out = self.tmp("cli-backup.db")
            r = run_cli(["backup", "--db", self.server.db, out])
            self.assertEqual(r.returncode, 0, r.stderr)
            during = len(made)
        finally:
            stop.set()
            for t in threads:
                t.join()
        n = self.check_db(out)
        self.assertGreaterEqual(n, 30)
        self.assertLessEqual(n, len(made) + 10)
        self.assertGreater(len(made), during - 1)
        again = run_cli(["backup", "--db", self.server.db, out])
        self.assertNotEqual(again.returncode, 0, "a backup must not overwrite a file")
        self.assertAlive()

    def test_api_backup_for_admins_only(self):
        self.account(self.admin, name=uniq("InBackup"))
        self.assertError(self.org.rep1.get("admin/backup"), 403, "forbidden")
        r = self.admin.get("admin/backup")
        self.assertStatus(r, 200)
        self.assertTrue(r.body.startswith(b"PGDMP" if STORE == "pg" else b"SQLite format 3\x00"))
        self.assertIn("attachment", r.header("Content-Disposition"))
        path = self.tmp("api-backup.db")
        with open(path, "wb") as f:
            f.write(r.body)
        self.assertGreaterEqual(self.check_db(path), 1)
        self.assertEqual(os.listdir(self.server.tmpdir).count("dealmap-backup.db"), 0)

    @only_pg("dealmap restore puts back SQLite files; PostgreSQL backups go back with pg_restore")
    def test_restore_points_to_pg_restore(self):
        good = self.tmp("good.dump")
        self.assertEqual(run_cli(["backup", "--db", self.server.db, good]).returncode, 0)
        r = run_cli(["restore", "--db", self.server.db, good])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("pg_restore", r.stderr)
        self.assertAlive()

    @only_sqlite("checks and restores a SQLite file (PRAGMA integrity_check, user_version)")
    def test_restore_checks_before_replacing(self):
        name = uniq("Restored")
        self.account(self.admin, name=name)
        good = self.tmp("good.db")
        self.assertEqual(run_cli(["backup", "--db", self.server.db, good]).returncode, 0)
        target = self.tmp("target.db")
        r = run_cli(["restore", "--db", target, good])
        self.assertEqual(r.returncode, 0, r.stderr)
        db = sqlite3.connect(target)
        self.assertEqual(db.execute("SELECT count(*) FROM accounts WHERE name = ?", (name,)).fetchone()[0], 1)
        db.close()
        junk = self.tmp("junk.db")
        with open(junk, "wb") as f:
            f.write(b"this is not a database" * 100)
        r = run_cli(["restore", "--db", target, junk])
        self.assertNotEqual(r.returncode, 0)
        newer = self.tmp("newer.db")
        self.assertEqual(run_cli(["backup", "--db", self.server.db, newer]).returncode, 0)
        db = sqlite3.connect(newer)
        db.execute("PRAGMA user_version = 99")
        db.commit()
        db.close()
        r = run_cli(["restore", "--db", target, newer])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("newer", r.stderr)
        db = sqlite3.connect(target)
        self.assertEqual(db.execute("SELECT count(*) FROM accounts WHERE name = ?", (name,)).fetchone()[0], 1,
                         "a refused restore leaves the database as it was")
        db.close()

    def test_cli_import_and_export(self):
        db = new_db(self.server.tmpdir, "cli.db")
        self.addCleanup(drop_db, db)
        self.assertEqual(run_cli(["init", "--db", db, "--admin-password", ADMIN_PW]).returncode, 0)
        src = self.tmp("in.csv")
        with open(src, "wb") as f:
            f.write("客户名称;行业\n上海申达;印刷\n杭州华信;=SUM(1)\n".encode("gb18030"))
        r = run_cli(["import", "--db", db, "accounts", src, "--dry-run"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('"written": false', r.stdout)
        r = run_cli(["import", "--db", db, "accounts", src, "--progress"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("rows/s", r.stderr)
        self.assertIn("import: [", r.stderr)
        r = run_cli(["import", "--db", db, "accounts", src])
        self.assertEqual(r.returncode, 1, "duplicates are errors by default")
        self.assertEqual(run_cli(["import", "--db", db, "accounts", src, "--on-duplicate", "skip"]).returncode, 0)
        self.assertEqual(run_cli(["import", "--db", db, "widgets", src]).returncode, 2)
        r = run_cli(["export", "--db", db, "accounts"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("\ufeffid,"))
        self.assertIn("'=SUM(1)", r.stdout)
        self.assertIn("上海申达", r.stdout)
        out = self.tmp("out.xlsx")
        self.assertEqual(run_cli(["export", "--db", db, "accounts", "--out", out]).returncode, 0)
        with open(out, "rb") as f:
            self.assertEqual(f.read(2), b"PK")


class DemoTest(unittest.TestCase):
    """The demo company: its own server, started on a freshly loaded demo database."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        t0 = time.time()
        r = run_cli(["demo", "--db", cls.server.db, "--admin-password", ADMIN_PW], timeout=120)
        cls.seconds = time.time() - t0
        assert r.returncode == 0, r.stderr
        cls.server.start(init=False)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()

    def test_loads_in_seconds(self):
        # PostgreSQL: each of the load's ~28,000 statements (the rules' checks and the inserts) is
        # a round trip to the server, 7-9 times SQLite's cost per query (STACK-NOTES): 7.7 s
        # measured at a load average of 5 on the 2-core test machine (SQLite: 0.5 s), up to 18 s
        # when it was busier.
        self.assertLess(self.seconds, 60.0 if STORE == "pg" else 10.0)

    def test_demo_users_sign_in_and_see_their_share(self):
        li = self.server.login("li", DEMO_PW)
        wang = self.server.login("wang", DEMO_PW)
        zhao = self.server.login("zhao", DEMO_PW)
        self.server.login("zhang", DEMO_PW)
        self.server.login("chen", DEMO_PW)
        admin = self.server.admin()
        mine = li.list_all("accounts")
        self.assertTrue(mine and all(a["owner_id"] == li.id for a in mine))
        every = admin.list_all("accounts")
        east, north = wang.list_all("accounts"), zhao.list_all("accounts")
        self.assertGreater(len(east), len(mine))
        self.assertEqual(set(a["id"] for a in east) & set(a["id"] for a in north), set())
        self.assertGreaterEqual(len(every), 280)
        self.assertTrue(any(any("\u4e00" <= ch <= "\u9fff" for ch in a["name"]) for a in every))
        self.assertGreaterEqual(len({a["industry"] for a in every}), 5)

    def test_every_page_has_something_true(self):
        admin = self.server.admin()
        wang = self.server.login("wang", DEMO_PW)
        opps = admin.list_all("opportunities")
        self.assertEqual({o["stage"] for o in opps},
                         {"interest", "brewing", "design", "compare", "commit", "use", "won", "lost"})
        moved = [o for o in opps if o["stage"] == "commit"][0]
        hist = admin.get("opportunities/%d/history" % moved["id"])
        self.assertEqual(hist.status, 200)
        self.assertGreaterEqual(len(hist.json["items"] if isinstance(hist.json, dict) else hist.json), 5)
        big = [o for o in opps if o["amount"] >= 500000000]
        self.assertTrue(any(admin.get("opportunities/%d/stakeholders" % o["id"]).json["items"] for o in big))
        acts = admin.list_all("activities")
        self.assertGreater(len(acts), 1000)
        self.assertGreaterEqual(len({a["channel"] for a in acts}), 8)
        self.assertTrue(admin.list_all("orders"))
        self.assertTrue(admin.list_all("leads"))
        self.assertTrue(admin.list_all("pool"))
        self.assertTrue(wang.get("intervention").json["items"])
        accs = admin.list_all("accounts")
        self.assertEqual({a["segment"] for a in accs}, {"habitual", "beginner", "prospect"})
        self.assertTrue(any(a["sleeping"] for a in accs))
        self.assertTrue(any(a.get("repurchase") for a in accs))
        cs = admin.list_all("contacts")
        self.assertTrue(any(c["reports_to_id"] for c in cs))
        self.assertGreaterEqual(len({c["relationship_level"] for c in cs}), 3)

    def test_deterministic_from_the_seed(self):
        def snapshot(db):
            names = ("SELECT string_agg(name || importance || coalesce(owner_id, 0), '|' ORDER BY id) "
                     "FROM accounts" if STORE == "pg" else
                     "SELECT group_concat(name || importance || coalesce(owner_id, 0), '|') "
                     "FROM (SELECT * FROM accounts ORDER BY id)")
            return (db_rows(db, names),
                    db_rows(db, "SELECT stage, count(*) FROM opportunities GROUP BY 1 ORDER BY 1"),
                    db_rows(db, "SELECT count(*) FROM activities"))
        other = new_db(self.server.tmpdir, "again.db")
        self.addCleanup(drop_db, other)
        r = run_cli(["demo", "--db", other, "--admin-password", ADMIN_PW], timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(snapshot(other), snapshot(self.server.db))
        third = new_db(self.server.tmpdir, "seed.db")
        self.addCleanup(drop_db, third)
        r = run_cli(["demo", "--db", third, "--admin-password", ADMIN_PW, "--seed", "7"], timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotEqual(snapshot(third), snapshot(self.server.db))
        r = run_cli(["demo", "--db", other, "--admin-password", ADMIN_PW])
        self.assertEqual(r.returncode, 0)
        self.assertIn("not loaded", r.stdout)


if __name__ == "__main__":
    unittest.main()
