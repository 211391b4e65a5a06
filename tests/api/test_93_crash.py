"""93: crash safety (issue 10; SPEC 10 durability): writers create accounts, change them, log
follow-ups and import CSV files while the server is killed with SIGKILL at a random moment,
again and again. After every kill the database passes `PRAGMA integrity_check` (read with
Python's sqlite3 on the file the dead server left; on PostgreSQL the database server is not the
process killed, so there is no file to check: it must simply answer), the server starts on it without repair, every
write answered 2xx is there with what it wrote, a change whose answer never came is either there
whole or not at all, and an import is all-or-nothing.

DEALMAP_CRASH_KILLS sets the number of kills (10 here; `make stress` runs 100)."""

import http.client
import json
import os
import random
import signal
import sqlite3
import threading
import time
import unittest

from harness import Server, db_rows, is_pg, uniq

KILLS = int(os.environ.get("DEALMAP_CRASH_KILLS", "10"))
WRITERS = 4
IMPORT_ROWS = 20


class Writer:
    """One thread's writes and what it knows of them. Each writer touches only its own records,
    one request at a time, so the last acknowledged value of a field is the expected one, unless
    the request in flight at the kill landed (then it may be that one)."""

    def __init__(self, server, token, n):
        self.server = server
        self.token = token
        self.n = n
        self.rng = random.Random(n * 7919 + os.getpid())
        self.accounts = {}      # id -> name (acknowledged creates)
        self.notes = {}         # id -> acknowledged notes value
        self.notes_pending = {} # id -> notes value sent, answer never came
        self.activities = {}    # id -> (account id, summary)
        self.imports = []       # (prefix, acknowledged?)
        self.pending = None     # what was in flight when the connection died
        self.acked = 0
        self.errors = []        # unexpected answers (non-2xx from a live server)

    def request(self, conn, method, path, body, ctype="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        conn.request(method, "/api/v1/" + path, body=data,
                     headers={"Authorization": "Bearer " + self.token, "Content-Type": ctype})
        r = conn.getresponse()
        payload = r.read()
        return r.status, payload

    def run(self, stop):
        conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=30)
        try:
            while not stop.is_set():
                self.step(conn)
        except (OSError, http.client.HTTPException):
            pass  # the server died under us: whatever was in flight stays "pending"
        finally:
            conn.close()

    def step(self, conn):
        choice = self.rng.random()
        if not self.accounts or choice < 0.35:
            name = uniq("crash%d" % self.n)
            self.pending = ("account", name)
            st, body = self.request(conn, "POST", "accounts", {"name": name, "industry": "crash"})
            if st == 201:
                self.accounts[json.loads(body)["id"]] = name
        elif choice < 0.6:
            aid = self.rng.choice(list(self.accounts))
            value = uniq("note")
            self.pending = ("notes", aid, value)
            self.notes_pending[aid] = value
            st, body = self.request(conn, "PATCH", "accounts/%d" % aid, {"notes": value})
            if st == 200:
                self.notes[aid] = value
                del self.notes_pending[aid]
        elif choice < 0.92:
            aid = self.rng.choice(list(self.accounts))
            summary = uniq("call")
            self.pending = ("activity", aid, summary)
            st, body = self.request(conn, "POST", "activities",
                                    {"account_id": aid, "channel": "phone", "summary": summary,
                                     "occurred_at": "2026-11-20T10:00:00.000Z"})
            if st == 201:
                self.activities[json.loads(body)["id"]] = (aid, summary)
        else:
            prefix = uniq("imp%d" % self.n)
            csv = "name,industry\n" + "".join("%s-%02d,crash-import\n" % (prefix, i) for i in range(IMPORT_ROWS))
            self.pending = ("import", prefix)
            self.imports.append([prefix, False])
            st, body = self.request(conn, "POST", "import/accounts", csv.encode(), "text/csv")
            if st == 200:
                self.imports[-1][1] = True
        if st // 100 != 2:
            self.errors.append((self.pending, st, body[:300]))
        self.pending = None
        self.acked += 1


def integrity(db):
    if is_pg(db):
        return [tuple(r) for r in db_rows(db, "SELECT 'ok'")]
    con = sqlite3.connect(db, timeout=30)
    try:
        return con.execute("PRAGMA integrity_check").fetchall()
    finally:
        con.close()


class CrashTest(unittest.TestCase):

    def test_sigkill_at_random_moments(self):
        srv = Server()
        try:
            self.crash_loop(srv)
        finally:
            srv.cleanup()

    def crash_loop(self, srv):
        srv.start()
        token = srv.admin().token
        writers = [Writer(srv, token, i) for i in range(WRITERS)]
        rng = random.Random(os.getpid())
        kills = 0
        t0 = time.time()
        for cycle in range(KILLS):
            stop = threading.Event()
            threads = [threading.Thread(target=w.run, args=(stop,)) for w in writers]
            for t in threads:
                t.start()
            time.sleep(rng.uniform(0.05, 0.6))
            srv.proc.send_signal(signal.SIGKILL)
            srv.proc.wait()
            srv.proc = None
            kills += 1
            stop.set()
            for t in threads:
                t.join(60)
            self.assertEqual(integrity(srv.db), [("ok",)], "integrity after kill %d" % kills)
            srv.start(init=False)   # no repair step: it must just start
            for w in writers:
                w.server = srv
                self.assertEqual(w.errors, [], "writer %d got unexpected answers" % w.n)
            self.check(srv, token, writers, kills)
        acked = sum(w.acked for w in writers)
        sys_note = "crash: %d kills, %d acknowledged writes checked in %.1fs" % (kills, acked, time.time() - t0)
        print("\n" + sys_note)
        self.assertGreater(acked, KILLS, "the writers hardly wrote anything")
        self.assertEqual(srv.stop(), 0)
        self.assertEqual(integrity(srv.db), [("ok",)])

    def check(self, srv, token, writers, kills):
        c = srv.client(token=token)
        accounts = {a["id"]: a for a in c.list_all("accounts", {"industry": "crash"})}
        imported = {}
        for a in c.list_all("accounts", {"industry": "crash-import"}):
            imported.setdefault(a["name"].rsplit("-", 1)[0], []).append(a)
        activities = {a["id"]: a for a in c.list_all("activities", {"channel": "phone"})}
        where = "after kill %d" % kills
        for w in writers:
            for aid, name in w.accounts.items():
                self.assertIn(aid, accounts, "%s: acknowledged account %s lost" % (where, name))
                self.assertEqual(accounts[aid]["name"], name, where)
            for aid, value in w.notes.items():
                got = accounts[aid]["notes"]
                allowed = {value, w.notes_pending.get(aid)}
                self.assertIn(got, allowed, "%s: acknowledged change of account %d lost" % (where, aid))
            for aid, value in list(w.notes_pending.items()):
                # an unanswered change is whole or absent; once seen, it is the acknowledged value
                if accounts[aid]["notes"] == value:
                    w.notes[aid] = value
                del w.notes_pending[aid]
            for act_id, (aid, summary) in w.activities.items():
                self.assertIn(act_id, activities, "%s: acknowledged follow-up lost" % where)
                self.assertEqual((activities[act_id]["account_id"], activities[act_id]["summary"]),
                                 (aid, summary), where)
            for imp in w.imports:
                prefix, acked = imp
                rows = len(imported.get(prefix, []))
                if acked:
                    self.assertEqual(rows, IMPORT_ROWS, "%s: acknowledged import %s" % (where, prefix))
                else:
                    self.assertIn(rows, (0, IMPORT_ROWS), "%s: half an import %s" % (where, prefix))
                    imp[1] = rows == IMPORT_ROWS
            # an account created but unanswered may exist: adopt it if it does
            if w.pending and w.pending[0] == "account":
                for aid, a in accounts.items():
                    if a["name"] == w.pending[1]:
                        w.accounts[aid] = a["name"]
            w.pending = None


if __name__ == "__main__":
    unittest.main()
