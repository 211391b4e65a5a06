"""94: load (issue 10): 256 keep-alive connections for DEALMAP_LOAD_SECONDS (10 here; `make
stress` runs 60) of mixed reads and writes by a rep and an admin — account lists and name
searches, reads by id, the funnel, new accounts, changes, follow-ups — driven by wrk with a Lua
script. Every answer must be 2xx (the script counts any other status, and wrk counts socket
errors and timeouts), no request may take 2 s or more (in the 60-second run; 10 s in the short
one, see MAX_LATENCY_US), and the server's resident memory (VmRSS,
sampled from /proc every 0.25 s) must stay flat after the warm-up: its growth over the second
half of the run stays under a bound that a per-request leak would break. The writes are then
checked: every account the run created is listed once."""

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

from harness import BIN, ApiTestCase, uniq

SECONDS = int(os.environ.get("DEALMAP_LOAD_SECONDS", "10"))
CONNECTIONS = 256
# The bound (no request slower than 2 s) is checked by the 60-second run of `make
# stress`. The 10-second run of `make test` shares its machine with whatever else runs (CI's
# other work, a developer's builds): a timed bound there would test the machine's load (house
# rule: timing targets belong to benchmarks), so it only catches a stuck request, as under
# ASan/UBSan (make test SAN=1), where every request costs several times more CPU.
SANITIZED = "build-san" in BIN
MAX_LATENCY_US = 2_000_000 if SECONDS >= 60 and not SANITIZED else 10_000_000
# RSS may grow while SQLite's page caches fill with the pages the writes add; a leak of even
# 100 bytes a request (thousands of requests a second) would exceed this over half the run.
RSS_GROWTH_MAX_KB = 24 * 1024

LUA = r"""
-- mixed reads and writes; each thread numbers its own new accounts (names are unique)
local counter = 0
local tid = 0
local threads = {}
local tokens = { "%(rep)s", "%(admin)s" }
local accounts = { %(accounts)s }
local tag = "%(tag)s"

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  tid = wrk.thread:get("tid")
  math.randomseed(tid * 7919 + os.time())
  bad = 0
  created = 0
end

local function auth(i)
  return { ["Authorization"] = "Bearer " .. tokens[i], ["Content-Type"] = "application/json" }
end

request = function()
  local r = math.random(100)
  local acc = accounts[math.random(#accounts)]
  if r <= 30 then
    return wrk.format("GET", "/api/v1/accounts?limit=20&sort=-updated_at", auth(1))
  elseif r <= 45 then
    return wrk.format("GET", "/api/v1/accounts?name=" .. tag .. "&limit=50", auth(2))
  elseif r <= 60 then
    return wrk.format("GET", "/api/v1/accounts/" .. acc, auth(1))
  elseif r <= 65 then
    return wrk.format("GET", "/api/v1/analytics/funnel", auth(2))
  elseif r <= 75 then
    counter = counter + 1
    return wrk.format("POST", "/api/v1/accounts", auth(1),
      '{"name":"' .. tag .. " load " .. tid .. "-" .. counter .. '","industry":"load"}')
  elseif r <= 85 then
    return wrk.format("PATCH", "/api/v1/accounts/" .. acc, auth(1),
      '{"notes":"load ' .. tid .. " " .. counter .. '"}')
  else
    return wrk.format("POST", "/api/v1/activities", auth(1),
      '{"account_id":' .. acc .. ',"channel":"phone","summary":"load","occurred_at":"2026-11-20T10:00:00.000Z"}')
  end
end

response = function(status, headers, body)
  if status < 200 or status > 299 then
    bad = bad + 1
    if bad <= 3 then io.stderr:write("unexpected " .. status .. ": " .. body:sub(1, 200) .. "\n") end
  end
end

done = function(summary, latency, requests)
  local bad_total = 0
  for _, t in ipairs(threads) do bad_total = bad_total + t:get("bad") end
  io.write(string.format(
    'RESULT {"requests":%%d,"duration_us":%%d,"bad_status":%%d,"connect":%%d,"read":%%d,' ..
    '"write":%%d,"timeout":%%d,"status_errors":%%d,"p50":%%d,"p99":%%d,"max":%%d,"mean":%%.1f}\n',
    summary.requests, summary.duration, bad_total, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, summary.errors.status,
    latency:percentile(50), latency:percentile(99), latency.max, latency.mean))
end
"""


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class LoadTest(ApiTestCase):
    ORG_USERS = ("mgr", "rep1")

    def test_256_connections_mixed(self):
        wrk = shutil.which("wrk")
        if not wrk:
            self.skipTest("wrk is not installed (scripts/deps.sh installs it)")
        rep = self.org.rep1
        tag = uniq("Load").replace("-", "")
        accounts = [self.account(rep, name="%s seed %d" % (tag, i))["id"] for i in range(50)]
        before = {a["id"] for a in rep.list_all("accounts", {"industry": "load"})}
        tmp = tempfile.mkdtemp(prefix="dealmap-load-")
        script = os.path.join(tmp, "mixed.lua")
        with open(script, "w") as f:
            f.write(LUA % {"rep": rep.token, "admin": self.admin.token, "tag": tag,
                           "accounts": ",".join(map(str, accounts))})
        pid = self.server.proc.pid
        samples = []
        stop = threading.Event()

        def sample():
            t0 = time.time()
            while not stop.is_set():
                samples.append((time.time() - t0, rss_kb(pid)))
                stop.wait(0.25)
        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            r = subprocess.run([wrk, "-t2", "-c%d" % CONNECTIONS, "-d%ds" % SECONDS, "--timeout", "10s",
                                "-s", script, "http://%s:%d" % (self.server.host, self.server.port)],
                               capture_output=True, text=True, timeout=SECONDS + 120)
        finally:
            stop.set()
            sampler.join()
            shutil.rmtree(tmp, ignore_errors=True)
        line = [l for l in r.stdout.splitlines() if l.startswith("RESULT ")]
        self.assertTrue(line, "wrk gave no result:\n%s\n%s" % (r.stdout, r.stderr))
        res = json.loads(line[-1][len("RESULT "):])
        warm = [kb for t, kb in samples if t >= SECONDS * 0.5]
        at_half, peak = (warm[0], max(warm)) if warm else (0, 0)
        res.update(connections=CONNECTIONS, seconds=SECONDS, rps=round(res["requests"] * 1e6 / res["duration_us"]),
                   rss_start_kb=samples[0][1], rss_half_kb=at_half, rss_peak_kb=peak,
                   rss_end_kb=samples[-1][1])
        print("\nload: %s" % json.dumps(res))
        self.assertGreater(res["requests"], SECONDS * (20 if SANITIZED else 100), res)
        self.assertEqual(res["bad_status"], 0, "unexpected non-2xx answers: %s\n%s" % (res, r.stderr))
        self.assertEqual((res["connect"], res["read"], res["write"], res["timeout"]), (0, 0, 0, 0), res)
        self.assertLess(res["max"], MAX_LATENCY_US, "a request took %.2f s" % (res["max"] / 1e6))
        if not SANITIZED:
            # (ASan keeps freed memory in quarantine, so RSS says nothing there; its leak check at
            # exit, which the harness's clean-stop check sees, covers that build)
            self.assertLess(peak - at_half, RSS_GROWTH_MAX_KB, "RSS grew after the warm-up: %s" % res)
        # the writes are all there, once
        made = [a for a in rep.list_all("accounts", {"industry": "load"}) if a["id"] not in before]
        self.assertTrue(made)
        self.assertEqual(len({a["name"] for a in made}), len(made))
        self.assertAlive()


if __name__ == "__main__":
    unittest.main()
