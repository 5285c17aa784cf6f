#!/usr/bin/env bash
# Instruction counts (callgrind: deterministic, whatever else the machine
# runs) of the central serving the course data to five lottery-agency
# processes, and of agency 1, in plaintext and over mutual TLS.
#
#   bench/tls_callgrind.sh [BIN]    BIN: the release programs (default target/release)
#
# Knobs: DATA (default ../shared/data), OUT (default target/bench/tls-callgrind).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release}
DATA=${DATA:-../shared/data}
OUT=${OUT:-target/bench/tls-callgrind}
[ -f "$DATA/agency-1.csv" ] || { echo "no course data in $DATA" >&2; exit 1; }
rm -rf "$OUT" && mkdir -p "$OUT"
"$BIN/lottery-admin" certs --agencies 5 --out "$OUT/pki" >/dev/null
PKI=$OUT/pki

run() {
    local tls=$1 dir=$OUT/tls-$1 central=() agency=()
    mkdir -p "$dir"
    [ "$tls" = 1 ] && central=(--tls-cert "$PKI/server.pem" --tls-key "$PKI/server.key" \
        --tls-client-ca "$PKI/ca.pem")
    valgrind --tool=callgrind --callgrind-out-file="$dir/central.cg" "$BIN/lottery-server" \
        --listen 127.0.0.1:0 --agencies 5 --store "$dir/bets.csv" --durability fsync --threads 2 \
        --exit-when-done "${central[@]}" 2>"$dir/server.log" &
    local pid=$! addr=""
    for _ in $(seq 3000); do
        addr=$(grep -m1 'accept_connections | result: in_progress' "$dir/server.log" 2>/dev/null \
            | sed -E 's/.*listen: ([^ ]+).*/\1/') || true
        [ -n "$addr" ] && break
        sleep 0.01
    done
    local id wrap
    for id in 1 2 3 4 5; do
        agency=()
        [ "$tls" = 1 ] && agency=(--tls-ca "$PKI/ca.pem" --tls-cert "$PKI/agency-$id.pem" \
            --tls-key "$PKI/agency-$id.key" --tls-server-name localhost)
        wrap=()
        [ "$id" = 1 ] && wrap=(valgrind --tool=callgrind --callgrind-out-file="$dir/agency-1.cg")
        "${wrap[@]}" "$BIN/lottery-agency" --id "$id" --server "$addr" \
            --data "$DATA/agency-$id.csv" "${agency[@]}" 2>"$dir/agency-$id.log" &
    done
    wait "$pid"
    wait
    local winners
    winners=$(cat "$dir"/agency-[1-5].log | grep -o 'cant_ganadores: [0-9]*' | grep -o '[0-9]*$' | tr '\n' ' ')
    printf '%s: central %s instructions, agency 1 %s instructions, winners %s\n' \
        "$([ "$tls" = 1 ] && echo 'mutual TLS' || echo 'plaintext ')" \
        "$(grep -o 'Collected : [0-9]*' "$dir/server.log" | grep -o '[0-9]*$')" \
        "$(grep -o 'Collected : [0-9]*' "$dir/agency-1.log" | grep -o '[0-9]*$')" "$winners"
}

run 0
run 1
