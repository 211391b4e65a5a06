#!/bin/bash
# run.sh BUILD [STORES] — run every test: the cmocka unit tests, the black-box API tests against
# the real binary, then the browser tests (headless Chromium driving the web app served by the real
# binary) and the fuzz targets briefly. STORES: "sqlite" (the default) runs all of that on SQLite;
# "pg" runs the API tests only, on a private PostgreSQL cluster (scripts/pg-run.sh); "all" runs
# both. Ends with one line "N passed, N failed" summing them all.
set -u
build=${1:-build}
stores=${2:-sqlite}
passed=0 failed=0
log=$(mktemp); trap 'rm -f "$log"' EXIT

# the API suite on PostgreSQL: tests/api/run.py inside scripts/pg-run.sh
api_pg() {
	DEALMAP_BIN="$build/dealmap" DEALMAP_TEST_STORE=pg scripts/pg-run.sh \
		python3 tests/api/run.py >"$log" 2>&1; rc=$?
	tail -n 60 "$log" | grep -v '^[0-9]* passed, [0-9]* failed$' || true
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
	p=$(echo "$line" | cut -d' ' -f1); f=$(echo "$line" | cut -d' ' -f3)
	p=${p:-0}; f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	echo "api (PostgreSQL): $p passed, $f failed"
	passed=$((passed + p)); failed=$((failed + f))
}

if [ "$stores" = pg ]; then
	api_pg
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
	exit
fi

for t in "$build"/tests/test_*; do
	[ -x "$t" ] || continue
	"$t" >"$log" 2>&1; rc=$?
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
	p=${p:-0}; f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi   # crashed before its summary
	[ "$f" -ne 0 ] && cat "$log"
	echo "unit $(basename "$t"): $p passed, $f failed"
	passed=$((passed + p)); failed=$((failed + f))
done

if [ -f tests/api/run.py ]; then
	DEALMAP_BIN="$build/dealmap" python3 tests/api/run.py >"$log" 2>&1; rc=$?
	tail -n 60 "$log" | grep -v '^[0-9]* passed, [0-9]* failed$' || true
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
	p=$(echo "$line" | cut -d' ' -f1); f=$(echo "$line" | cut -d' ' -f3)
	p=${p:-0}; f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	echo "api: $p passed, $f failed"
	passed=$((passed + p)); failed=$((failed + f))
fi

if ls tests/browser/*.test.mjs >/dev/null 2>&1; then
	DEALMAP_BIN="$build/dealmap" node --test --test-reporter=tap --test-concurrency=1 tests/browser/ >"$log" 2>&1; rc=$?
	p=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$log" | tail -1)
	f=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$log" | tail -1)
	s=$(sed -n 's/^# skipped \([0-9]*\)$/\1/p' "$log" | tail -1)
	p=${p:-0}; f=${f:-0}; s=${s:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	if [ "$f" -ne 0 ]; then tail -n 80 "$log"; fi
	grep -E '^ *ok .*# SKIP' "$log" | sed 's/^ */browser skipped: /' || true
	echo "browser: $p passed, $f failed ($s skipped)"
	passed=$((passed + p)); failed=$((failed + f))
fi

# the fuzz targets, briefly (make fuzz-build made them; `make stress` runs them long)
if ls build-fuzz/fuzz/fuzz_* >/dev/null 2>&1; then
	targets=$(cd build-fuzz/fuzz && ls fuzz_* | tr '\n' ' ')
	tests/fuzz/run.sh "${FUZZ_SECONDS:-15}" $targets >"$log" 2>&1
	grep -v '^fuzz: [0-9]* passed' "$log" | tail -n 50
	line=$(grep -E '^fuzz: [0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
	p=$(echo "$line" | cut -d' ' -f2); f=$(echo "$line" | cut -d' ' -f4)
	p=${p:-0}; f=${f:-1}
	echo "fuzz: $p passed, $f failed"
	passed=$((passed + p)); failed=$((failed + f))
fi

[ "$stores" = all ] && api_pg

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
