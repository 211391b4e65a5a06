#!/usr/bin/env python3
"""bench_import.py — the import benchmark of docs/IMPORT.md: generate N account rows (Chinese
names, five columns, optionally an owner column) and time `dealmap import` into a fresh database.

    python3 tools/bench_import.py [--rows 100000] [--owner] [--bin build/dealmap]
"""
import argparse
import os
import subprocess
import tempfile

INDUSTRIES = ["印刷包装", "电子制造", "机械设备", "通信设备", "物流"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100000)
    ap.add_argument("--owner", action="store_true", help="add an owner column (username admin)")
    ap.add_argument("--bin", default="build/dealmap")
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="dealmap-bench-")
    csv, db = os.path.join(d, "accounts.csv"), os.path.join(d, "bench.db")
    with open(csv, "w", encoding="utf-8") as f:
        f.write("Account Name,industry,phone,importance,%s\n" % ("owner" if a.owner else "source"))
        for i in range(a.rows):
            f.write("客户%06d 有限公司,%s,+86 21 %08d,%s,%s\n"
                    % (i, INDUSTRIES[i % 5], i, "ABC"[i % 3], "admin" if a.owner else "展会"))
    subprocess.run([a.bin, "init", "--db", db, "--admin-password", "Bench-Admin-2026!x"],
                   check=True, capture_output=True)
    r = subprocess.run([a.bin, "import", "--db", db, "accounts", csv, "--no-progress"],
                       capture_output=True, text=True)
    print(r.stderr.strip().splitlines()[-1])
    subprocess.run(["rm", "-rf", d])
    return r.returncode


if __name__ == "__main__":
    raise SystemExit(main())
