#!/bin/sh
# deps.sh — make sure the Debian packages dealmap builds and tests with are installed
# (nodejs and npm build the web app; chromium and a CJK font run its browser tests; libpq-dev
# builds the PostgreSQL store and postgresql runs its tests on a private cluster: scripts/pg-run.sh).
# As root it installs what is missing with apt-get; otherwise it prints the exact command and fails.
# `deps.sh bench` installs only what `make bench` needs beyond the build (wrk; the load test of
# make test drives wrk too).
set -eu
PKGS="gcc make pkg-config libmicrohttpd-dev libjansson-dev libsqlite3-dev libsodium-dev \
libcrack2-dev cracklib-runtime libcmocka-dev libcsv-dev libxlsxwriter-dev python3 curl \
chromium fonts-noto-cjk valgrind clang libclang-rt-14-dev libpq-dev postgresql wrk"
# Node and npm: Debian's nodejs + npm unless a node with npm is already installed (e.g. NodeSource's).
command -v npm >/dev/null 2>&1 || PKGS="$PKGS nodejs npm"
[ "${1:-}" = bench ] && PKGS="wrk"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
	echo "deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends $missing >/dev/null
	# cracklib's dictionary is built by its package's post-install; make sure it exists.
	[ -e /var/cache/cracklib/cracklib_dict.pwd ] || update-cracklib >/dev/null 2>&1 || true
else
	echo "deps: missing Debian packages:$missing" >&2
	echo "deps: run:  sudo apt-get install -y$missing" >&2
	exit 1
fi
