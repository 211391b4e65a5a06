#!/bin/bash
# pg-run.sh CMD [ARGS...] — start a private PostgreSQL cluster (a temporary directory, 127.0.0.1 on
# a free unusual port, a private socket directory), run CMD with DEALMAP_TEST_PG set to its URL
# (postgres://postgres@127.0.0.1:PORT/postgres: superuser, trust authentication), then stop and
# delete the cluster, whatever CMD did. Exits with CMD's status.
# As root the server runs as the postgres user (initdb refuses root); otherwise as the caller.
# PG_RUN_KEEP=1 leaves the cluster directory in place (its log: $PGROOT/log).
set -u
PGBIN="$(pg_config --bindir 2>/dev/null)"
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
	echo "pg-run: PostgreSQL's server programs are missing (apt-get install postgresql libpq-dev)" >&2
	exit 2
fi
as_pg() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
free_port() {
	python3 - <<'PY'
import random, socket
for _ in range(200):
    p = random.randint(40000, 59999)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    break
PY
}
PGROOT="$(mktemp -d /tmp/dealmap-pg.XXXXXX)"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$PGROOT"
chmod 700 "$PGROOT"
stop() {
	as_pg "$PGBIN/pg_ctl" -D "$PGROOT/data" -m fast -w stop >/dev/null 2>&1
	[ -n "${PG_RUN_KEEP:-}" ] || rm -rf "$PGROOT"
}
trap stop EXIT
if ! as_pg "$PGBIN/initdb" -D "$PGROOT/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
	--no-sync >"$PGROOT/initdb.log" 2>&1; then
	cat "$PGROOT/initdb.log" >&2; exit 2
fi
for try in 1 2 3; do
	PORT=$(free_port)
	if as_pg "$PGBIN/pg_ctl" -D "$PGROOT/data" -l "$PGROOT/log" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -p $PORT -k $PGROOT -c max_connections=300" \
		start >/dev/null 2>&1; then
		export DEALMAP_TEST_PG="postgres://postgres@127.0.0.1:$PORT/postgres"
		export DEALMAP_TEST_PGDATA="$PGROOT/data" DEALMAP_TEST_PGBIN="$PGBIN"
		echo "pg-run: PostgreSQL on 127.0.0.1:$PORT ($PGROOT)" >&2
		"$@"
		exit $?
	fi
done
echo "pg-run: PostgreSQL did not start:" >&2; cat "$PGROOT/log" >&2
exit 2
