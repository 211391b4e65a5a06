#!/usr/bin/env python3
"""bench_import.py — the import benchmark of docs/IMPORT.md: generate N account rows (Chinese
names, five columns, optionally an owner column) and time `dealmap import` into a fresh database.

    python3 tools/bench_import.py [--rows 100000] [--owner] [--bin build/dealmap]
                                  [--runs 1] [--compare OTHER_BINARY]

Each run imports the same file into a new database and prints the import's own line (rows/s as
`dealmap import` measures it: from the first byte read to the commit, checkpoint included) with
the process's peak RSS and CPU time. With --compare the two binaries alternate, run by run, on
the same file (back to back: on a shared machine only such ratios mean something); the end
gives the best run of each.
"""
import argparse
import os
import re
import shutil
import subprocess
import tempfile
import time

INDUSTRIES = ["印刷包装", "电子制造", "机械设备", "通信设备", "物流"]


def write_csv(path, rows, owner):
    with open(path, "w", encoding="utf-8") as f:
        f.write("Account Name,industry,phone,importance,%s\n" % ("owner" if owner else "source"))
        for i in range(rows):
            f.write("客户%06d 有限公司,%s,+86 21 %08d,%s,%s\n"
                    % (i, INDUSTRIES[i % 5], i, "ABC"[i % 3], "admin" if owner else "展会"))


def one_run(binary, csv, d):
    """Import csv with binary into a new database under d: (rows/s, summary line, rusage)."""
    db = os.path.join(d, "bench.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.unlink(db + suffix)
    subprocess.run([binary, "init", "--db", db, "--admin-password", "Bench-Admin-2026!x"],
                   check=True, capture_output=True)
    with open(os.devnull, "wb") as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen([binary, "import", "--db", db, "accounts", csv, "--no-progress"],
                             stdout=out, stderr=err)
        _, status, ru = os.wait4(p.pid, 0)
        err.seek(0)
        lines = err.read().decode("utf-8", "replace").strip().splitlines()
    line = lines[-1] if lines else "(no output)"
    m = re.search(r"\((\d+) rows/s\)", line)
    if os.waitstatus_to_exitcode(status) != 0 or not m:
        raise SystemExit("bench_import: %s failed: %s" % (binary, line))
    return int(m.group(1)), line, ru


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100000)
    ap.add_argument("--owner", action="store_true", help="add an owner column (username admin)")
    ap.add_argument("--bin", default="build/dealmap")
    ap.add_argument("--runs", type=int, default=1, help="runs per binary (best one reported)")
    ap.add_argument("--compare", default="", help="another binary, run alternately with --bin")
    a = ap.parse_args()
    bins = [a.bin] + ([a.compare] if a.compare else [])
    d = tempfile.mkdtemp(prefix="dealmap-bench-")
    best = {}
    try:
        csv = os.path.join(d, "accounts.csv")
        write_csv(csv, a.rows, a.owner)
        size = os.path.getsize(csv)
        print("bench_import: %d rows, %.1f MB, %d run(s) each" % (a.rows, size / 1e6, a.runs),
              flush=True)
        for _ in range(a.runs):
            for b in bins:
                rate, line, ru = one_run(b, csv, d)
                cpu = ru.ru_utime + ru.ru_stime
                print("%s: %s  [peak RSS %d MB, CPU %.2f s]" % (b, line, ru.ru_maxrss // 1024, cpu),
                      flush=True)
                if b not in best or rate > best[b][0]:
                    best[b] = (rate, ru.ru_maxrss // 1024, cpu)
                time.sleep(0.2)
        if a.runs > 1 or a.compare:
            for b in bins:
                print("best %s: %d rows/s (peak RSS %d MB, CPU %.2f s)" % ((b,) + best[b]))
            if a.compare:
                print("ratio %s / %s: %.2f" % (a.bin, a.compare, best[a.bin][0] / best[a.compare][0]))
    finally:
        shutil.rmtree(d)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
