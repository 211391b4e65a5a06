"""95: many concurrent writers: no lost rows, no lost updates, races decided
once, and no acknowledged write lost to SIGTERM or SIGKILL."""

import signal
import threading
import time
import unittest

from harness import ApiTestCase, run_threads, Server, uniq

THREADS = 8
PER_THREAD = 50


class ConcurrencyTest(ApiTestCase):
    ORG_USERS = ("mgr", "rep1")

    def client_for(self, i):
        src = self.org.rep1 if i % 2 == 0 else self.org.mgr
        return self.server.client(token=src.token)

    def check_no_exceptions(self, results):
        errs = [r for r in results if isinstance(r, BaseException)]
        self.assertEqual(errs, [], "threads raised")

    def test_concurrent_activity_writers(self):
        acc = self.account(self.org.rep1)

        def work(i):
            c = self.client_for(i)
            statuses, ids = [], []
            for k in range(PER_THREAD):
                r = c.post("activities", {"account_id": acc["id"], "channel": "phone",
                                          "occurred_at": "2026-10-%02dT10:00:00.000Z" % (1 + k % 28),
                                          "summary": "t%d-%d" % (i, k)})
                statuses.append(r.status)
                if r.status == 201:
                    ids.append(r.json["id"])
            return statuses, ids
        results = run_threads(THREADS, work)
        self.check_no_exceptions(results)
        statuses = [s for st, _ in results for s in st]
        self.assertEqual([s for s in statuses if s != 201], [])
        ids = [i for _, ids in results for i in ids]
        self.assertEqual(len(set(ids)), THREADS * PER_THREAD)
        listed = self.org.rep1.list_all("activities", {"account_id": acc["id"]}, limit=100)
        self.assertEqual(len(listed), THREADS * PER_THREAD)
        self.assertEqual(sorted(self.ids(listed)), sorted(ids))
        self.assertEqual(sorted(a["summary"] for a in listed),
                         sorted("t%d-%d" % (i, k) for i in range(THREADS) for k in range(PER_THREAD)))
        self.assertEqual(self.org.rep1.get("accounts/%d" % acc["id"]).json["touches"], THREADS * PER_THREAD)
        self.assertAlive()

    def test_concurrent_account_writers_and_readers(self):
        tag = uniq("Conc").replace("-", "")
        stop = threading.Event()
        read_statuses = []

        def reader():
            c = self.server.client(token=self.org.mgr.token)
            while not stop.is_set():
                read_statuses.append(c.get("accounts", query={"name": tag, "limit": 20}).status)
        readers = [threading.Thread(target=reader) for _ in range(2)]
        for t in readers:
            t.start()

        def work(i):
            c = self.client_for(i)
            out = []
            for k in range(PER_THREAD):
                r = c.post("accounts", {"name": "%s %d-%d" % (tag, i, k), "owner_id": self.org.rep1.id}
                           if i % 2 else {"name": "%s %d-%d" % (tag, i, k)})
                out.append((r.status, r.json.get("id") if r.json else None))
            return out
        try:
            results = run_threads(THREADS, work)
        finally:
            stop.set()
            for t in readers:
                t.join(30)
        self.check_no_exceptions(results)
        bad = [s for res in results for s, _ in res if s != 201]
        self.assertEqual(bad, [])
        listed = self.admin.list_all("accounts", {"name": tag}, limit=37)
        self.assertEqual(len(listed), THREADS * PER_THREAD)
        self.assertEqual(len(set(self.ids(listed))), THREADS * PER_THREAD)
        self.assertTrue(read_statuses)
        self.assertEqual(set(read_statuses), {200})

    def test_same_name_race_is_won_once(self):
        for attempt in range(3):
            name = uniq("Race Co")

            def work(i):
                return self.client_for(i).post("accounts", {"name": name if i % 2 else name.upper()}).status
            statuses = run_threads(THREADS, work)
            self.check_no_exceptions(statuses)
            self.assertEqual(sorted(statuses), [201] + [409] * (THREADS - 1), statuses)
            self.assertEqual(len(self.admin.list_all("accounts", {"name": name})), 1)

    def test_if_match_race_is_won_once(self):
        for attempt in range(3):
            acc = self.account(self.org.rep1)

            def work(i):
                return self.client_for(i).patch("accounts/%d" % acc["id"], {"notes": "writer %d" % i},
                                                headers={"If-Match": "1"}).status
            statuses = run_threads(THREADS, work)
            self.check_no_exceptions(statuses)
            self.assertEqual(sorted(statuses), [200] + [412] * (THREADS - 1), statuses)
            self.assertEqual(self.admin.get("accounts/%d" % acc["id"]).json["version"], 2)

    def test_concurrent_patches_lose_no_update(self):
        fields = ("industry", "scale", "nature", "address", "website", "phone", "source", "notes")
        acc = self.account(self.org.rep1)
        rounds = 5

        def work(i):
            c = self.client_for(i)
            out = []
            for k in range(rounds):
                out.append(c.patch("accounts/%d" % acc["id"], {fields[i]: "%s-%d" % (fields[i], k)}).status)
            return out
        results = run_threads(len(fields), work)
        self.check_no_exceptions(results)
        self.assertEqual({s for res in results for s in res}, {200})
        final = self.admin.get("accounts/%d" % acc["id"]).json
        for f in fields:
            self.assertEqual(final[f], "%s-%d" % (f, rounds - 1), f)
        self.assertEqual(final["version"], 1 + len(fields) * rounds)


class ShutdownDurabilityTest(unittest.TestCase):
    """Acknowledged writes survive SIGTERM (clean exit 0) and SIGKILL."""

    def hammer_then(self, sig):
        srv = Server()
        try:
            srv.start()
            admin = srv.admin()
            tag = uniq("Dur").replace("-", "")
            acked = []
            lock = threading.Lock()
            stop = threading.Event()

            def writer(i):
                c = srv.client(token=admin.token)
                k = 0
                while not stop.is_set():
                    try:
                        r = c.post("accounts", {"name": "%s %d-%d" % (tag, i, k)})
                    except Exception:  # connection refused/reset while the server stops
                        return
                    k += 1
                    if r.status == 201:
                        with lock:
                            acked.append(r.json["id"])
                    elif r.status != 503:
                        return
            ts = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
            for t in ts:
                t.start()
            time.sleep(0.7)
            srv.proc.send_signal(sig)
            try:
                rc = srv.proc.wait(15)
            finally:
                stop.set()
                for t in ts:
                    t.join(20)
            srv.proc = None
            self.assertGreater(len(acked), 10, "too few writes before the signal to mean anything")
            srv.start(init=False)
            admin = srv.admin()
            stored = set(self.ids(admin.list_all("accounts", {"name": tag})))
            lost = sorted(set(acked) - stored)
            self.assertEqual(lost, [], "acknowledged writes lost after %s" % sig.name)
            rc2 = srv.stop()
            self.assertEqual(rc2, 0)
            return rc
        finally:
            srv.cleanup()

    def ids(self, items):
        return [i["id"] for i in items]

    def test_sigterm_during_writes(self):
        rc = self.hammer_then(signal.SIGTERM)
        self.assertEqual(rc, 0, "serve must exit 0 on SIGTERM")

    def test_sigkill_during_writes(self):
        rc = self.hammer_then(signal.SIGKILL)
        self.assertEqual(rc, -signal.SIGKILL)


if __name__ == "__main__":
    unittest.main()
