#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: initdb in a temporary
# directory, a free loopback port, trust authentication for the user
# `lottery`, fsync on. Installs Debian's postgresql package when no server
# programs are found. As root, the server runs as the `postgres` user.
#
#   eval "$(scripts/pg-test-cluster.sh start)"   # prints: export LOTTERY_TEST_POSTGRES=...
#   scripts/pg-test-cluster.sh stop
#
# `start` prints the export lines on stdout (and nothing else: the URL, and
# the data directory and programs for the tests that restart the server); the cluster's
# directory is remembered in target/pg-test-cluster (PG_TEST_STATE), which
# `stop` reads. A second `start` stops the cluster of the first.
set -euo pipefail
cd "$(dirname "$0")/.."
STATE=${PG_TEST_STATE:-$(pwd)/target/pg-test-cluster}

log() { printf 'pg-test-cluster: %s\n' "$*" >&2; }

# The directory of initdb, pg_ctl and postgres (the newest installed).
pg_bin() {
    local dir found=""
    for dir in /usr/lib/postgresql/*/bin; do
        [ -x "$dir/initdb" ] && found=$dir
    done
    [ -n "$found" ] && { echo "$found"; return 0; }
    command -v initdb >/dev/null && { dirname "$(command -v initdb)"; return 0; }
    return 1
}

install_postgres() {
    log "no PostgreSQL server programs: installing Debian's postgresql package"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update >&2 && apt-get install -y postgresql >&2
}

as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

stop() {
    [ -f "$STATE" ] || return 0
    local dir
    dir=$(cat "$STATE")
    if [ -d "$dir/data" ]; then
        as_pg "$PG/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
        rm -rf "$dir"
    fi
    rm -f "$STATE"
}

start() {
    stop
    local dir port
    # Under /tmp, where the postgres user can reach it (a work tree under a
    # root-only directory would not be).
    dir=$(mktemp -d /tmp/lottery-pg.XXXXXX)
    mkdir -p "$dir/data" "$dir/socket"
    [ "$(id -u)" = 0 ] && chown -R postgres "$dir"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    as_pg "$PG/initdb" -D "$dir/data" -A trust -U lottery >/dev/null
    as_pg "$PG/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o \
        "-p $port -k $dir/socket -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on -c max_connections=200" \
        start >/dev/null
    mkdir -p "$(dirname "$STATE")"
    echo "$dir" >"$STATE"
    log "cluster in $dir on 127.0.0.1:$port (log: $dir/server.log)"
    echo "export LOTTERY_TEST_POSTGRES=postgres://lottery@127.0.0.1:$port/postgres"
    # For the tests that restart the server (pg_ctl restart -m fast).
    echo "export LOTTERY_TEST_POSTGRES_DATA=$dir/data LOTTERY_TEST_POSTGRES_BIN=$PG"
}

PG=$(pg_bin) || { install_postgres; PG=$(pg_bin); }
if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
    # Debian's package creates the user; a server copied in by hand may not.
    useradd --system --no-create-home postgres
fi
case ${1:-} in
    start) start ;;
    stop) stop ;;
    *) log "usage: $0 start|stop"; exit 2 ;;
esac
