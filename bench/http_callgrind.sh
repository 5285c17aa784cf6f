#!/usr/bin/env bash
# Instruction counts (callgrind: deterministic, whatever else the machine
# runs) of the central serving the course data to five lottery-agency
# processes: a build without the status port's counters (BASE), this build
# without --http, and this build with --http (the port open, not scraped).
# What issue 15's counters cost the hot path, port on or off.
#
#   bench/http_callgrind.sh BASE [BIN]   BASE, BIN: release programs (BIN default target/release)
#
# Knobs: DATA (default ../shared/data), OUT (default target/bench/http-callgrind).
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${1:?the release programs of a build before the status port}
BIN=${2:-target/release}
DATA=${DATA:-../shared/data}
OUT=${OUT:-target/bench/http-callgrind}
[ -f "$DATA/agency-1.csv" ] || { echo "no course data in $DATA" >&2; exit 1; }
rm -rf "$OUT" && mkdir -p "$OUT"

# run NAME CENTRAL [FLAGS...]: the central under callgrind, the agencies of BIN.
run() {
    local name=$1 central=$2 dir=$OUT/$1
    shift 2
    mkdir -p "$dir"
    valgrind --tool=callgrind --callgrind-out-file="$dir/central.cg" "$central/lottery-server" \
        --listen 127.0.0.1:0 --agencies 5 --store "$dir/bets.csv" --durability fsync --threads 2 \
        --exit-when-done "$@" 2>"$dir/server.log" &
    local pid=$! addr=""
    for _ in $(seq 3000); do
        addr=$(grep -m1 'accept_connections | result: in_progress' "$dir/server.log" 2>/dev/null \
            | sed -E 's/.*listen: ([^ ]+).*/\1/') || true
        [ -n "$addr" ] && break
        sleep 0.01
    done
    local id
    for id in 1 2 3 4 5; do
        "$BIN/lottery-agency" --id "$id" --server "$addr" --data "$DATA/agency-$id.csv" \
            2>"$dir/agency-$id.log" &
    done
    wait "$pid"
    wait
    local winners
    winners=$(cat "$dir"/agency-[1-5].log | grep -o 'cant_ganadores: [0-9]*' | grep -o '[0-9]*$' | tr '\n' ' ')
    printf '%s: central %s instructions, winners %s\n' "$name" \
        "$(grep -o 'Collected : [0-9]*' "$dir/server.log" | grep -o '[0-9]*$')" "$winners"
}

run base "$BASE"
run http-off "$BIN"
run http-on "$BIN" --http 127.0.0.1:0
