"""96: several servers on one PostgreSQL database (issue 8), in the PostgreSQL run only: a
session opened on one server works on the other, failed sign-ins count on all, an import job is
seen from all; parallel claims of one pool account through
two servers are won exactly once; servers starting together sweep once; PostgreSQL restarted
under a load of writes answers 503 (never 500, never a hang) while it is down, then serves again
with no acknowledged write lost; a read-only database answers writes 503 naming the cause while
reads go on (the PostgreSQL side of test_92)."""

import os
import subprocess
import threading
import time
import unittest

from harness import PG_BASE, PW, ApiTestCase, Server, db_rows, only_pg, psql, run_threads, uniq


def restart_command():
    """pg_ctl restart of the cluster scripts/pg-run.sh started (as postgres when root)."""
    data = os.environ.get("DEALMAP_TEST_PGDATA")
    pgbin = os.environ.get("DEALMAP_TEST_PGBIN")
    if not data or not pgbin:
        raise unittest.SkipTest("no DEALMAP_TEST_PGDATA: the cluster was not started by scripts/pg-run.sh")
    cmd = [os.path.join(pgbin, "pg_ctl"), "-D", data, "-l", os.path.join(os.path.dirname(data), "log"),
           "-m", "fast", "-w", "-t", "60", "restart"]
    if os.getuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--"] + cmd
    return cmd


def restart_postgres(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    if r.returncode != 0:
        raise AssertionError("pg_ctl restart failed: %s %s" % (r.stdout, r.stderr))


@only_pg("several servers share one database only on PostgreSQL")
class TwoServersTest(ApiTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other = Server(db=cls.server.db)   # the same database: not dropped by this one
        try:
            cls.other.start(init=False)
        except BaseException:
            cls.other.cleanup()
            super().tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        rc = cls.other.stop()
        cls.other.cleanup()
        super().tearDownClass()
        if rc != 0:
            raise AssertionError("the second server did not exit 0 on SIGTERM")

    def on(self, server, user):
        """user's session, used through server."""
        return server.client(token=user.token)

    def test_a_session_works_on_every_server(self):
        self.assertStatus(self.other.client().get("me"), 401)
        rep = self.org.rep1
        mine = self.on(self.other, rep).get("me")
        self.assertStatus(mine, 200)
        self.assertEqual(mine.json["id"], rep.id)
        acc = self.account(rep, name=uniq("Shared"))
        self.assertEqual(self.on(self.other, rep).get("accounts/%d" % acc["id"]).json["name"], acc["name"])
        # signing out on one server ends the session on all of them
        u = self.server.admin()
        self.assertStatus(self.on(self.other, u).post("auth/logout"), (200, 204))
        self.assertStatus(self.on(self.server, u).get("me"), 401)

    def test_failed_sign_ins_count_across_servers(self):
        uname = "victim" + uniq("v").replace("-", "")
        self.assertStatus(self.admin.post("users", {"username": uname, "role": "rep", "password": PW}), 201)
        statuses = []
        for i in range(7):
            srv = (self.server, self.other)[i % 2]
            r = srv.client().login(uname, "Wrong#Pass%d-xyz" % i)
            statuses.append(r.status)
            if r.status == 429:
                break
        self.assertEqual(statuses, [401] * 5 + [429], "five failures through two servers, then 429")
        for srv in (self.server, self.other):
            self.assertError(srv.client().login(uname, PW), 429, "rate_limited")

    def test_an_import_job_is_seen_from_every_server(self):
        p = uniq("Job2")
        csv = ("name,industry\n" + "".join("%s-%04d,x\n" % (p, i) for i in range(300))).encode()
        rep = self.org.rep1
        r = self.on(self.server, rep).request("POST", "import/accounts", raw=csv,
                                              headers={"Content-Type": "text/csv"}, query={"async": 1})
        self.assertStatus(r, 202)
        job = r.json["job_id"]
        elsewhere = self.on(self.other, rep)
        for _ in range(400):
            j = elsewhere.get("jobs/%d" % job)
            self.assertStatus(j, 200)
            if j.json["state"] != "running":
                break
            time.sleep(0.05)
        self.assertEqual(j.json["state"], "done", j)
        self.assertEqual(j.json["rows_done"], 300)
        self.assertEqual(j.json["report"]["created"], 300)
        self.assertEqual(j.json, self.on(self.server, rep).get("jobs/%d" % job).json,
                         "the running server and the other one answer alike")
        self.assertError(self.on(self.other, self.org.rep2).get("jobs/%d" % job), 404, "not_found")

    def test_parallel_claims_through_two_servers_exactly_one_wins(self):
        o = self.org
        users = [o.rep1, o.rep2, o.rep3, o.mgr, o.other_mgr, o.top, o.rep1, o.rep2]
        for rnd in range(3):
            acc = self.account(o.rep2, name=uniq("Race2 %d" % rnd))
            r = o.mgr.post("accounts/%d/park" % acc["id"], {"reason": "no budget this year"})
            self.assertStatus(r, 200)

            def claim(i):
                c = self.on(self.server if i % 2 else self.other, users[i])
                try:
                    r = c.post("accounts/%d/claim" % acc["id"])
                    return r.status, (r.error or {}).get("code"), users[i].id
                finally:
                    c.close()
            results = run_threads(len(users), claim)
            self.assertEqual([x for x in results if isinstance(x, BaseException)], [])
            wins = [x for x in results if x[0] == 200]
            self.assertEqual(len(wins), 1, "round %d: %r" % (rnd, results))
            self.assertEqual(sorted((s, c) for s, c, _ in results if s != 200),
                             [(409, "already_claimed")] * (len(users) - 1), results)
            owners = self.admin.get("accounts/%d/owners" % acc["id"]).json["items"]
            claims = [e for e in owners if e["reason"] == "claimed"]
            self.assertEqual(len(claims), 1, owners)
            self.assertEqual(self.admin.get("accounts/%d" % acc["id"]).json["owner_id"], wins[0][2])
        self.assertAlive()

    def test_same_name_through_two_servers_is_taken_once(self):
        for rnd in range(3):
            name = uniq("Twin %d" % rnd)

            def create(i):
                c = self.on(self.server if i % 2 else self.other, self.admin)
                try:
                    return c.post("accounts", {"name": name}).status
                finally:
                    c.close()
            statuses = run_threads(6, create)
            self.assertEqual(sorted(statuses), [201] + [409] * 5, statuses)


@only_pg("servers share the sweep only on PostgreSQL")
class SweepOnceTest(unittest.TestCase):

    def test_servers_starting_together_sweep_once(self):
        tmp = Server()
        tmp.init()
        servers = [tmp] + [Server(db=tmp.db) for _ in range(2)]
        try:
            threads = [threading.Thread(target=s.start, kwargs={"init": False}) for s in servers]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            for s in servers:
                self.assertTrue(s.alive())
            deadline = time.time() + 10   # each server checks at start, in a thread of its own
            while time.time() < deadline and db_rows(tmp.db, "SELECT count(*) FROM sweeps")[0][0] == "0":
                time.sleep(0.1)
            time.sleep(1.0)
            self.assertEqual(db_rows(tmp.db, "SELECT as_of, count(*) FROM sweeps GROUP BY as_of")[0][1], "1",
                             "the daily sweep ran more than once")
        finally:
            for s in reversed(servers):
                s.stop()
                s.cleanup()


@only_pg("restarts the PostgreSQL cluster the PostgreSQL run started")
class RestartTest(unittest.TestCase):

    def test_restart_under_writes_answers_503_then_resumes_losing_nothing(self):
        cmd = restart_command()
        srv = Server()
        stop = threading.Event()
        try:
            srv.start()
            admin = srv.admin()
            tag = uniq("Rst").replace("-", "")
            acked, other, unavailable = [], [], []
            lock = threading.Lock()

            def writer(i):
                c = srv.client(token=admin.token, timeout=30)
                k = 0
                while not stop.is_set():
                    try:
                        r = c.post("accounts", {"name": "%s %d-%d" % (tag, i, k)})
                        status = r.status
                    except Exception as e:  # the server itself must stay up
                        status = repr(e)
                    k += 1
                    with lock:
                        if status == 201:
                            acked.append(r.json["id"])
                        elif status == 503:
                            unavailable.append(r.error)
                        else:
                            other.append(status)
            ts = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
            for t in ts:
                t.start()
            time.sleep(1.0)
            before = len(acked)
            restart_postgres(cmd)
            # service resumes: new writes are acknowledged again within seconds
            deadline = time.time() + 20
            with lock:
                n = len(acked)
            while time.time() < deadline and len(acked) < n + 20:
                time.sleep(0.1)
            stop.set()
            for t in ts:
                t.join(40)
            self.assertGreater(before, 5, "too few writes before the restart to mean anything")
            self.assertGreaterEqual(len(acked), n + 20, "writes did not resume after the restart")
            self.assertEqual(other, [], "answers other than 201 and 503 during the restart")
            self.assertTrue(unavailable, "no request met the restart: the test proved nothing")
            self.assertEqual({e.get("code") for e in unavailable}, {"unavailable"}, unavailable[:3])
            self.assertTrue(srv.alive())
            stored = {a["id"] for a in admin.list_all("accounts", {"name": tag})}
            self.assertEqual(sorted(set(acked) - stored), [], "acknowledged writes lost")
            self.assertEqual(srv.stop(), 0)
        finally:
            stop.set()
            srv.cleanup()


@only_pg("a read-only PostgreSQL database (test_92 covers SQLite's)")
class ReadOnlyTest(ApiTestCase):
    ORG_USERS = ("rep1",)

    def read_only(self, on):
        """Make the test's database read-only (or writable) for new sessions, and end the
        server's current ones (its pool reconnects by itself)."""
        name = self.server.db.rsplit("/", 1)[1]
        psql(PG_BASE, 'ALTER DATABASE "%s" %s' % (name, "SET default_transaction_read_only = on"
                                                   if on else "RESET default_transaction_read_only"))
        psql(PG_BASE, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '%s'"
             " AND pid <> pg_backend_pid()" % name)

    def test_writes_503_reads_200_then_writes_resume(self):
        rep = self.org.rep1
        a = self.account(rep)
        self.read_only(True)
        try:
            for _ in range(3):   # the first requests may meet the ended connections: 503 too
                r = rep.post("accounts", {"name": uniq("RO")})
                if r.status == 503 and "read-only" in (r.error or {}).get("message", ""):
                    break
            self.assertError(r, 503, "unavailable")
            self.assertIn("read-only", r.error["message"])
            self.assertError(rep.patch("accounts/%d" % a["id"], {"notes": "x"}), 503, "unavailable")
            self.assertStatus(rep.get("accounts/%d" % a["id"]), 200)
            self.assertStatus(rep.get("accounts"), 200)
        finally:
            self.read_only(False)
        for _ in range(3):
            r = rep.post("accounts", {"name": uniq("RW")})
            if r.status != 503:
                break
        self.assertStatus(r, 201, "writes did not resume once the database is writable")
        self.assertAlive()


if __name__ == "__main__":
    unittest.main()
