#!/usr/bin/env python3
"""bench.py — the benchmark of issue 9 (`make bench [SCALE=1] [SEED=9] [DURATION=10]`).

Generates the large company (`dealmap generate`, cached per scale and seed in $BENCH_CACHE,
default /work/bench-cache or ./bench-cache), starts `dealmap serve` on 127.0.0.1, signs in as a
rep (rep1), as the manager of a 100-rep department (mgr1) and as admin, and runs wrk (64
connections, 2 threads, bounded in time, --latency) against each endpoint of the issue, with
GET /api/v1/health as the reference of what the HTTP layer alone does. Measures requests/s,
p50/p99 latency, the server's peak RSS (VmHWM from /proc) and the database size, and appends a
dated section with the table to docs/BENCHMARKS.md (earlier sections stay, so regressions show).

Note: the POST /activities run writes into the cached database (a few seconds' worth of rows).

--store pg (make bench STORE=pg): the same on PostgreSQL. The company is generated into a new
database dm_bench_s<scale>_seed<seed> of the server at $DEALMAP_TEST_PG (make bench STORE=pg runs
this inside scripts/pg-run.sh, a private cluster that lives for the run, so nothing is cached).
"""
import argparse
import datetime
import json
import os
import platform
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

PASSWORD = "Bench-Password-2026"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Api:
    def __init__(self, base):
        self.base = base

    def call(self, method, path, token=None, body=None):
        req = urllib.request.Request(self.base + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", "Bearer " + token)
        with urllib.request.urlopen(req, timeout=900) as r:
            return json.loads(r.read() or b"null")

    def login(self, user):
        return self.call("POST", "/api/v1/auth/login", body={"username": user, "password": PASSWORD})


GEN = 2

LUA = r"""
local paths = {%(paths)s}
local bodies = {%(bodies)s}
local method = "%(method)s"
local token = "%(token)s"
local n = 0
request = function()
  n = n + 1
  local i = math.random(#paths)
  local body = nil
  if #bodies > 0 then body = bodies[math.random(#bodies)] end
  return wrk.format(method, paths[i], {["Authorization"] = "Bearer " .. token,
                                        ["Content-Type"] = "application/json"}, body)
end
"""


def lua_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_ms(s):
    m = re.match(r"([\d.]+)(us|ms|s)", s)
    v = float(m.group(1))
    return v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v


def run_wrk(base, name, token, paths, duration, method="GET", bodies=(), conns=64):
    d = tempfile.mkdtemp(prefix="dealmap-wrk-")
    script = os.path.join(d, "s.lua")
    with open(script, "w") as f:
        f.write(LUA % {"paths": ", ".join(lua_str(p) for p in paths),
                       "bodies": ", ".join(lua_str(b) for b in bodies),
                       "method": method, "token": token or ""})
    out = subprocess.run(["wrk", "-t2", "-c%d" % conns, "-d%ds" % duration, "--timeout", "10s",
                          "--latency", "-s", script, base], capture_output=True, text=True).stdout
    shutil.rmtree(d)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    r = {"name": name, "rps": rps, "p50": parse_ms(lat["50"]), "p99": parse_ms(lat["99"]),
         "non2xx": int(non2xx.group(1)) if non2xx else 0,
         "errors": errors.group(1).strip() if errors else ""}
    print("bench: %-44s %9.0f req/s  p50 %8.2f ms  p99 %8.2f ms%s" % (
        name, rps, r["p50"], r["p99"], "  NON-2XX %d" % r["non2xx"] if r["non2xx"] else ""),
        flush=True)
    return r


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return int(parts[11]) + int(parts[12])


def wait_idle(pid, limit=120):
    """Slow requests keep running after wrk hangs up: wait until the server's CPU use falls
    below 5% of a core, so the next endpoint is not measured against the last one's backlog."""
    hz = os.sysconf("SC_CLK_TCK")
    t0 = time.time()
    while time.time() - t0 < limit:
        a = cpu_ticks(pid)
        time.sleep(0.5)
        if (cpu_ticks(pid) - a) / hz < 0.025:
            return time.time() - t0
    return time.time() - t0


def rss_peak_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0


def machine():
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = ""
    with open("/proc/meminfo") as f:
        mem = "%.0f GB RAM" % (int(f.readline().split()[1]) / 1024 / 1024)
    return "%d cores (nproc), %s, %s, Linux %s" % (os.cpu_count(), cpu, mem, platform.release())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=float(os.environ.get("SCALE", "1")))
    ap.add_argument("--seed", type=int, default=int(os.environ.get("SEED", "9")))
    ap.add_argument("--duration", type=int, default=int(os.environ.get("DURATION", "10")))
    ap.add_argument("--bin", default="build/dealmap")
    ap.add_argument("--out", default="docs/BENCHMARKS.md")
    ap.add_argument("--note", default=os.environ.get("NOTE", ""), help="a line for the section")
    ap.add_argument("--only", default="", help="comma-separated endpoint name prefixes")
    ap.add_argument("--store", default=os.environ.get("STORE", "sqlite"), choices=("sqlite", "pg"))
    a = ap.parse_args()
    cache = os.environ.get("BENCH_CACHE") or ("/work/bench-cache" if os.path.isdir("/work")
                                               else "bench-cache")
    os.makedirs(cache, exist_ok=True)
    # GEN: the generator's version in the cached file's name, so that a change in what
    # `dealmap generate` writes regenerates (2: deals and stage moves dated over two years)
    db = os.path.join(cache, "dealmap-s%g-seed%d-gen%d.db" % (a.scale, a.seed, GEN))
    gen_log = db + ".generate.txt"
    logs = db
    if a.store == "pg":
        db, logs = pg_database(a, cache)
        gen_log = logs + ".generate.txt"
        if os.path.exists(gen_log):
            os.unlink(gen_log)
    if not os.path.exists(db) or not os.path.exists(gen_log):
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.unlink(db + suffix)
        print("bench: generating scale %g seed %d into %s" % (a.scale, a.seed, db), flush=True)
        r = subprocess.run([a.bin, "generate", "--db", db, "--scale", str(a.scale), "--seed",
                            str(a.seed), "--password", PASSWORD], capture_output=True, text=True)
        sys.stdout.write(r.stdout)
        if r.returncode:
            sys.exit("bench: generate failed: " + r.stderr)
        with open(gen_log, "w") as f:
            f.write(r.stdout)
    with open(gen_log) as f:
        gen_out = [l for l in f.read().splitlines() if l.startswith("generate:")]

    t0 = time.time()   # migrations first (a newer binary on an older cached database), timed
    subprocess.run([a.bin, "init", "--db", db], check=True, capture_output=True)
    migrate_s = time.time() - t0
    print("bench: init/migrate took %.1f s" % migrate_s, flush=True)
    port = free_port()
    base = "http://127.0.0.1:%d" % port
    log = open(logs + ".serve.log", "w")
    # DEALMAP_SERVE_ARGS: extra `serve` options to compare settings (as tests/api/harness.py)
    srv = subprocess.Popen([a.bin, "serve", "--db", db, "--listen", "127.0.0.1:%d" % port]
                           + os.environ.get("DEALMAP_SERVE_ARGS", "").split(),
                           stdout=log, stderr=subprocess.STDOUT)
    api = Api(base)
    try:
        for _ in range(3000):
            try:
                api.call("GET", "/api/v1/health")
                break
            except Exception:
                time.sleep(0.1)
        results = run_all(a, api, base, srv.pid)
        rss = rss_peak_mb(srv.pid)
    finally:
        srv.terminate()
        srv.wait()
    if a.store == "pg":
        size = int(psql(db, "SELECT pg_database_size(current_database())"))
    else:
        size = sum(os.path.getsize(db + s) for s in ("", "-wal") if os.path.exists(db + s))
    write_report(a, results, rss, size, gen_out, import_rate(a))


def import_rate(a):
    """Issue 7's figure, after the server has stopped: tools/bench_import.py (100,000 generated
    account rows into a new SQLite database, best of three), as a line for the report."""
    if a.store != "sqlite" or (a.only and "import" not in a.only.split(",")):
        return ""
    tool = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench_import.py")
    r = subprocess.run([sys.executable, tool, "--rows", "100000", "--runs", "3", "--bin", a.bin],
                       capture_output=True, text=True)
    best = [l for l in r.stdout.splitlines() if l.startswith("best ")]
    if r.returncode or not best:
        return "Import (tools/bench_import.py): failed: %s" % (r.stderr.strip() or r.stdout)[-300:]
    return ("Import (`tools/bench_import.py`: 100,000 generated account rows into a new database, "
            "`dealmap import`'s own rate, best of 3): " + best[0].split(": ", 1)[1] + ".")


def psql(url, sql):
    return subprocess.run(["psql", url, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True,
                          capture_output=True, text=True).stdout.strip()


def pg_database(a, cache):
    """A new, empty database for the run: its URL, and the path prefix of its log files."""
    base = os.environ.get("DEALMAP_TEST_PG")
    if not base:
        sys.exit("bench: --store pg needs DEALMAP_TEST_PG, a superuser's URL (make bench STORE=pg "
                 "starts a private cluster for the run)")
    name = ("dm_bench_s%g_seed%d" % (a.scale, a.seed)).replace(".", "_")
    psql(base, 'DROP DATABASE IF EXISTS "%s"' % name)
    psql(base, 'CREATE DATABASE "%s"' % name)
    return base.rsplit("/", 1)[0] + "/" + name, os.path.join(cache, name)


def run_all(a, api, base, pid):
    rep = api.login("rep1")
    mgr = api.login("mgr1")
    adm = api.login("admin")
    rep_id = rep["user"]["id"]
    rnd = random.Random(a.seed)
    own = api.call("GET", "/api/v1/accounts?owner_id=%d&limit=200" % rep_id, rep["token"])["items"]
    rep_ids = [x["id"] for x in own]
    team_accounts = api.call("GET", "/api/v1/accounts?limit=200", mgr["token"])["items"]
    mgr_ids = [x["id"] for x in team_accounts]
    team_reps = sorted({x["owner_id"] for x in team_accounts if x.get("owner_id")})
    dept = mgr["user"]["team_id"]
    d = a.duration
    T = []

    def want(name):
        return not a.only or any(name.startswith(p) for p in a.only.split(","))

    def run(name, token, paths, **kw):
        if want(name):
            T.append(run_wrk(base, name, token, paths, d, **kw))
            waited = wait_idle(pid)
            if waited > 1:
                print("bench: (server busy %.0f s after the run)" % waited, flush=True)
                T[-1]["drain"] = waited

    run("GET /health", None, ["/api/v1/health"])
    run("GET /accounts/{id} (rep)", rep["token"], ["/api/v1/accounts/%d" % i for i in rep_ids])
    run("GET /accounts/{id} (manager)", mgr["token"], ["/api/v1/accounts/%d" % i for i in mgr_ids])
    run("GET /accounts?owner_id&sort=-last_touch_at&limit=50 (rep)", rep["token"],
        ["/api/v1/accounts?owner_id=%d&sort=-last_touch_at&limit=50" % rep_id])
    run("GET /accounts?owner_id&sort=-last_touch_at&limit=50 (manager)", mgr["token"],
        ["/api/v1/accounts?owner_id=%d&sort=-last_touch_at&limit=50" % u for u in team_reps])
    run("GET /me/agenda (rep)", rep["token"], ["/api/v1/me/agenda"])
    run("GET /me/agenda (manager)", mgr["token"], ["/api/v1/me/agenda"])
    for q in ("宏图机械", "鑫源"):
        enc = urllib.request.quote(q)
        run("GET /accounts?name=%s (admin)" % q, adm["token"], ["/api/v1/accounts?name=" + enc])
        run("GET /accounts?name=%s (manager)" % q, mgr["token"], ["/api/v1/accounts?name=" + enc])
    bodies = [json.dumps({"account_id": i, "channel": "phone", "summary": "bench: a call"})
              for i in rep_ids[:100]]
    run("POST /activities (rep)", rep["token"], ["/api/v1/activities"], method="POST",
        bodies=bodies)
    run("GET /analytics/funnel?scope=team:<dept> (manager)", mgr["token"],
        ["/api/v1/analytics/funnel?scope=team:%d" % dept])
    run("GET /analytics/funnel?scope=company (admin)", adm["token"],
        ["/api/v1/analytics/funnel?scope=company"])
    return T


def write_report(a, results, rss, size, gen_out, import_line=""):
    health = next((r["rps"] for r in results if r["name"] == "GET /health"), 0)
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    store = "PostgreSQL 15" if a.store == "pg" else "SQLite"
    lines = ["", "## %s — %s, scale %g, seed %d, %d s per endpoint" % (now, store, a.scale, a.seed,
                                                                     a.duration),
             "", "Machine: %s. wrk -t2 -c64 on 127.0.0.1." % machine()]
    if a.note:
        lines += ["", a.note]
    lines += ["", "| endpoint | req/s | ratio to /health | p50 ms | p99 ms | non-2xx | errors |",
              "|---|---:|---:|---:|---:|---:|---|"]
    for r in results:
        lines.append("| %s | %.0f | %.3f | %.2f | %.2f | %d | %s |" % (
            r["name"], r["rps"], r["rps"] / health if health else 0, r["p50"], r["p99"],
            r["non2xx"], (r["errors"] + ("; server busy %.0f s after" % r["drain"]
                                          if r.get("drain") else "")).strip("; ")))
    lines += ["", "Server peak RSS (VmHWM): %.0f MB. Database size%s: %.2f GB." % (
        rss, " (pg_database_size)" if a.store == "pg" else " (with WAL)", size / 1e9)]
    if import_line:
        lines += ["", import_line]
    lines += ["", "Load (`dealmap generate`; [cpu …] is the process's CPU time in the phase):", "",
        "```"] + gen_out + ["```"]
    text = "\n".join(lines) + "\n"
    if not os.path.exists(a.out):
        with open(a.out, "w") as f:
            f.write("# Benchmarks (issue 9)\n\nEach run of `make bench` appends a section; "
                    "earlier ones stay so regressions show.\n")
    with open(a.out, "a") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
