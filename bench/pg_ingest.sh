#!/usr/bin/env bash
# Ingest into the PostgreSQL ledger, beside the COPY anchor: a release
# `lottery-server --store postgres://...` on a throwaway cluster
# (scripts/pg-test-cluster.sh: fsync on, synchronous_commit on, loopback
# TCP), AGENCIES agencies x INGEST_BETS bets from `lottery-loadgen` (batches
# of 150, 4 in flight, as bench/run.sh ingest), each run on a fresh schema
# and checked (the rows stored = the bets sent); then `bench/copy_anchor.sh
# ingest` (100 psql clients COPYing the same number of rows into a table
# without index) in the same minutes, on its own cluster.
#
#   bench/pg_ingest.sh
#
# Knobs: RUNS (default 3), INGEST_BETS (default 20000), AGENCIES (default
# 100), THREADS (the central's event loops, default 2), BIN (default
# target/release, built first unless BIN is given). Prints one JSON object
# for the ledger, then the anchor's.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RUNS=${RUNS:-3}
INGEST_BETS=${INGEST_BETS:-20000}
AGENCIES=${AGENCIES:-100}
THREADS=${THREADS:-2}
if [ -z "${BIN:-}" ]; then
    cargo build --release --quiet -p lottery-server -p lottery-examples --bins
    BIN=$ROOT/target/release
fi
OUT=$ROOT/target/bench/pg
mkdir -p "$OUT"
log() { printf '%s\n' "$*" >&2; }

export PG_TEST_STATE=$OUT/cluster
eval "$(scripts/pg-test-cluster.sh start)"
trap 'scripts/pg-test-cluster.sh stop' EXIT

# The database's processes' CPU (user + system, seconds), and the machine's
# busy ticks (all CPUs, idle and iowait left out).
postgres_cpu() {
    local tck total=0 pid
    tck=$(getconf CLK_TCK)
    for pid in $(pgrep -x postgres); do
        # Its own CPU and its reaped children's (a backend that ended).
        total=$(awk -v t="$total" -v tck="$tck" '{ print t + ($14 + $15 + $16 + $17) / tck }' "/proc/$pid/stat" 2>/dev/null || echo "$total")
    done
    echo "$total"
}
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
timed=()
[ -x /usr/bin/time ] && timed=(/usr/bin/time -f "%U %S")

rates=()
for run in $(seq "$RUNS"); do
    schema=bench_$run
    psql -X -q "$LOTTERY_TEST_POSTGRES" -v ON_ERROR_STOP=1 \
        -c "DROP SCHEMA IF EXISTS $schema CASCADE; CREATE SCHEMA $schema; CHECKPOINT"
    url="$LOTTERY_TEST_POSTGRES?options=-csearch_path%3D$schema"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    # Every program's CPU over the run (the central's and the load
    # generator's from rusage, the database's from /proc), and the
    # machine's busy share: whether the two cores, not the database's
    # syncs, set the rate.
    "${timed[@]}" -o "$OUT/server-$run.cpu" "$BIN/lottery-server" --listen "127.0.0.1:$port" --agencies "$AGENCIES" --store "$url" \
        --threads "$THREADS" --exit-when-done --log-level INFO 2>"$OUT/server-$run.log" &
    server=$!
    until python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$port" 2>/dev/null; do
        kill -0 "$server" 2>/dev/null || { log "the central exited:"; cat "$OUT/server-$run.log" >&2; exit 1; }
        sleep 0.05
    done
    db_before=$(postgres_cpu)
    busy_before=$(busy_ticks)
    "${timed[@]}" -o "$OUT/loadgen-$run.cpu" "$BIN/lottery-loadgen" --server "127.0.0.1:$port" --agencies "$AGENCIES" \
        --bets-per-agency "$INGEST_BETS" --json >"$OUT/loadgen-$run.json" || true
    busy_after=$(busy_ticks)
    db_after=$(postgres_cpu)
    failed=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["failed_agencies"])' "$OUT/loadgen-$run.json")
    if [ "$failed" != 0 ]; then
        kill "$server"; log "run $run: $failed agencies failed: see $OUT/loadgen-$run.json"; exit 1
    fi
    wait "$server"
    stored=$(psql -X -At "$url" -c "SELECT count(*) FROM bets")
    expected=$((AGENCIES * INGEST_BETS))
    [ "$stored" = "$expected" ] || { log "stored $stored bets of $expected"; exit 1; }
    rate=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bets_per_s"])' "$OUT/loadgen-$run.json")
    log "run $run: $rate bets/s"
    rates+=("$rate")
    if [ ${#timed[@]} -gt 0 ]; then
        python3 - "$OUT/loadgen-$run.json" "$OUT/server-$run.cpu" "$OUT/loadgen-$run.cpu" \
            "$db_before" "$db_after" "$busy_before" "$busy_after" "$(nproc)" "$(getconf CLK_TCK)" <<'PY' >&2
import json, sys
report, server, loadgen = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
db = (float(sys.argv[5]) - float(sys.argv[4]))
busy = (float(sys.argv[7]) - float(sys.argv[6])) / float(sys.argv[9])
cores = int(sys.argv[8])
cpu = lambda f: sum(map(float, open(f).read().split()[:2]))
central, gen = cpu(server), cpu(loadgen)
# Busy over the load generator's whole run (connecting and finishing too).
wall, bets = report.get("total_s", report["elapsed_s"]), report["bets"]
total = central + gen + db
print(f"  cpu: central {central:.2f} s, database {db:.2f} s, load generator {gen:.2f} s; "
      f"the machine {100 * busy / (cores * wall):.0f}% busy over {wall:.2f} s; "
      f"the {cores} cores allow {cores * bets / total / 1e3:.0f}k bets/s at {1e6 * total / bets:.2f} us a bet")
PY
    fi
done
printf '%s\n' "${rates[@]}" | sort -g | awk -v runs="$RUNS" -v agencies="$AGENCIES" -v bets="$INGEST_BETS" '
    { v[NR] = $1 }
    END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
          printf "{\"benchmark\": \"postgres-ledger-ingest\", \"agencies\": %d, \"bets\": %d, \"runs\": %d, \"bets_per_s\": {\"median\": %.0f, \"min\": %.0f, \"max\": %.0f}}\n",
              agencies, agencies * bets, runs, m, v[1], v[NR] }'
scripts/pg-test-cluster.sh stop
trap - EXIT
RUNS=$RUNS INGEST_BETS=$INGEST_BETS bench/copy_anchor.sh ingest
