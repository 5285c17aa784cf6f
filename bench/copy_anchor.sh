#!/usr/bin/env bash
# The PostgreSQL COPY anchor of issue 14: the same bets loaded with COPY into
# a table on a throwaway PostgreSQL cluster (fsync on, synchronous_commit on),
# rows pre-parsed into CSV with the agency as the first column, by concurrent
# psql clients over a local socket. What a well-kept database does with the
# same job, beside the central's numbers.
#
#   bench/copy_anchor.sh course     the five course files, 5 clients at once
#   bench/copy_anchor.sh ingest     100 clients x INGEST_BETS synthetic bets
#
# Knobs: RUNS (default 5), DATA (default ../shared/data), INGEST_BETS (default
# 20000), OUT (default target/bench/copy). Prints one JSON object. Skips, with
# a message and exit 0, when no PostgreSQL server programs are installed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
WHAT=${1:-course}
RUNS=${RUNS:-5}
DATA=${DATA:-$ROOT/../shared/data}
INGEST_BETS=${INGEST_BETS:-20000}
OUT=${OUT:-$ROOT/target/bench/copy}

log() { printf '%s\n' "$*" >&2; }

pg_bin() {
    local dir
    for dir in /usr/lib/postgresql/*/bin; do
        [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
    done
    command -v initdb >/dev/null && dirname "$(command -v initdb)" && return 0
    return 1
}

PG=$(pg_bin) || { log "copy anchor skipped: no PostgreSQL server installed (apt-get install postgresql)"; exit 0; }
# The server refuses to run as root: run it, and the clients, as `postgres`
# when we are root.
as_pg=()
if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || { log "copy anchor skipped: running as root and no postgres user"; exit 0; }
    as_pg=(runuser -u postgres --)
fi

rm -rf "$OUT" && mkdir -p "$OUT/data" "$OUT/socket"
[ "${#as_pg[@]}" -gt 0 ] && chown -R postgres "$OUT"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"${as_pg[@]}" "$PG/initdb" -D "$OUT/data" -A trust -U bench >/dev/null
"${as_pg[@]}" "$PG/pg_ctl" -D "$OUT/data" -l "$OUT/server.log" -w \
    -o "-p $PORT -k $OUT/socket -c listen_addresses='' -c fsync=on -c synchronous_commit=on" start >/dev/null
trap '"${as_pg[@]}" "$PG/pg_ctl" -D "$OUT/data" -m immediate stop >/dev/null 2>&1 || true' EXIT
psql_() { PGOPTIONS="-c client_min_messages=warning" "${as_pg[@]}" "$PG/psql" -X -q -h "$OUT/socket" -p "$PORT" -U bench -d postgres -v ON_ERROR_STOP=1 "$@"; }

# The inputs, pre-parsed: agency,first_name,last_name,document,birthdate,number.
inputs=()
case $WHAT in
    course)
        [ -f "$DATA/agency-1.csv" ] || { log "copy anchor skipped: no course data in $DATA"; exit 0; }
        for id in 1 2 3 4 5; do
            sed -e 's/\r$//' -e "s/^/$id,/" "$DATA/agency-$id.csv" >"$OUT/input-$id.csv"
            inputs+=("$OUT/input-$id.csv")
        done
        ;;
    ingest)
        for id in $(seq 100); do
            awk -v a="$id" -v n="$INGEST_BETS" 'BEGIN { for (i = 1; i <= n; i++)
                printf "%d,Nombre %d,Apellido %d,%d%07d,19%02d-%02d-%02d,%d\n", a, a, i, a, i, i % 100, 1 + i % 12, 1 + i % 28, (a * 7919 + i * 104729) % 10000 }' \
                >"$OUT/input-$id.csv"
            inputs+=("$OUT/input-$id.csv")
        done
        ;;
    *) log "unknown anchor $WHAT (course or ingest)"; exit 2 ;;
esac
[ "${#as_pg[@]}" -gt 0 ] && chown postgres "$OUT"/input-*.csv
rows=$(cat "${inputs[@]}" | wc -l)

times=()
for _ in $(seq "$RUNS"); do
    psql_ -c "DROP TABLE IF EXISTS bets; CREATE TABLE bets (agency integer NOT NULL,
        first_name text NOT NULL, last_name text NOT NULL, document text NOT NULL,
        birthdate date NOT NULL, number integer NOT NULL); CHECKPOINT;"
    start=$(date +%s%N)
    busy_before=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat)
    pids=()
    for input in "${inputs[@]}"; do
        psql_ -c "\\copy bets FROM '$input' WITH (FORMAT csv)" &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid"; done
    end=$(date +%s%N)
    # The machine's busy share over the load (both the clients and the
    # database): whether the cores set COPY's rate too.
    awk -v b="$busy_before" -v ns="$(( end - start ))" -v tck="$(getconf CLK_TCK)" -v cores="$(nproc)" \
        '/^cpu / { printf "  COPY: the machine %.0f%% busy over %.2f s\n", 100 * ($2 + $3 + $4 + $7 + $8 - b) / tck / (cores * ns / 1e9), ns / 1e9 }' \
        /proc/stat >&2
    loaded=$(psql_ -At -c "SELECT count(*) FROM bets")
    [ "$loaded" = "$rows" ] || { log "COPY loaded $loaded rows of $rows"; exit 1; }
    times+=("$(( (end - start) / 1000 ))")
done
printf '%s\n' "${times[@]}" | sort -n | awk -v rows="$rows" -v what="$WHAT" -v clients="${#inputs[@]}" '
    { v[NR] = $1 / 1000 }
    END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
          printf "{\"anchor\": \"postgresql-copy-%s\", \"clients\": %d, \"rows\": %d, \"runs\": %d, \"elapsed_ms\": {\"median\": %.1f, \"min\": %.1f, \"max\": %.1f}, \"rows_per_s\": %.0f}\n",
              what, clients, rows, NR, m, v[1], v[NR], rows / (m / 1000) }'
