#!/usr/bin/env bash
# Instructions (callgrind) of lottery-agency 1 sending an agency file to a real
# central expecting one agency: the whole process, and inclusive
# `AgencyInput::load` (parse, check, encode every row) plus
# `AgencyClient::send_bets` (pack the bets into frames and send them).
# Usage: bench/agency_callgrind.sh BIN_DIR LABEL [OUT_DIR]   (DATA=file to override)
set -euo pipefail
BIN=$1; LABEL=$2; DIR=${3:-/tmp/agency-callgrind}/ag-$LABEL; rm -rf "$DIR"; mkdir -p "$DIR"
DATA=${DATA:-$(dirname "$0")/../../shared/data/agency-1.csv}
"$BIN"/lottery-server --listen 127.0.0.1:0 --agencies 1 --store "$DIR"/bets.csv --durability fsync --exit-when-done 2>"$DIR"/server.log &
PID=$!
for _ in $(seq 3000); do grep -q "accept_connections | result: in_progress" "$DIR"/server.log 2>/dev/null && break; sleep 0.01; done
ADDR=$(grep -m1 "accept_connections | result: in_progress" "$DIR"/server.log | sed -E 's/.*listen: ([^ ]+).*/\1/')
valgrind --tool=callgrind --callgrind-out-file="$DIR"/cg.out \
  "$BIN"/lottery-agency --id 1 --server "$ADDR" --data "$DATA" 2>"$DIR"/agency.log
wait $PID || true
BETS=$(grep -c . "$DATA")
callgrind_annotate --inclusive=yes "$DIR"/cg.out 2>/dev/null \
  | grep -E "PROGRAM TOTALS|input::AgencyInput::load \[|AgencyClient::send_bets \[" \
  | awk -v bets="$BETS" '{gsub(",", "", $1); printf "%12d  %6.0f/bet  %s\n", $1, $1 / bets, $NF == "TOTALS" ? "whole process" : $(NF-1)}'
