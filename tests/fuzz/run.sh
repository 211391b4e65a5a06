#!/bin/bash
# run.sh SECONDS TARGET... — run each libFuzzer target for SECONDS over its corpus (tests/fuzz/corpus/
# TARGET, which replays every input kept there, crashes once fixed included). Prints one line per
# target and "fuzz: N passed, N failed"; a crash input is kept in tests/fuzz/crashes/.
set -u
secs=$1; shift
passed=0 failed=0
mkdir -p tests/fuzz/crashes
for t in "$@"; do
	corpus=tests/fuzz/corpus/$t
	work=$(mktemp -d)
	mkdir -p "$corpus"
	cp -r "$corpus"/. "$work"/ 2>/dev/null || true
	log=$(mktemp)
	if build-fuzz/fuzz/"$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix=tests/fuzz/crashes/"$t"- "$work" >"$log" 2>&1; then
		runs=$(grep -oE 'Done [0-9]+ runs' "$log" | grep -oE '[0-9]+' | tail -1)
		echo "fuzz $t: ok, ${runs:-?} executions in ${secs}s"
		passed=$((passed + 1))
	else
		tail -40 "$log"
		echo "fuzz $t: FAILED (input in tests/fuzz/crashes/)"
		failed=$((failed + 1))
	fi
	rm -rf "$work" "$log"
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
