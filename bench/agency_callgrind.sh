#!/usr/bin/env bash
# Instructions (callgrind) of lottery-agency 1 sending an agency file to a real
# central expecting one agency: the whole process, and inclusive
# `AgencyInput::load` (parse, check, encode every row) plus
# `AgencyClient::send_from` (`send_bets` before it: pack the bets into
# frames and send them).
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
# A function's inclusive count is its largest line: callgrind_annotate also
# lists parts of it under the files its inlined code comes from (the line
# ending in "[binary]" is one such part for send_bets: 81 of its 142 a bet at
# b6090b8). The agency sends with send_from (send_bets before it).
callgrind_annotate --inclusive=yes "$DIR"/cg.out 2>/dev/null \
  | awk -v bets="$BETS" '
      function keep(name) { n = $1; gsub(",", "", n); if (n + 0 > best[name]) best[name] = n + 0 }
      /PROGRAM TOTALS/ { keep("whole process") }
      /input::AgencyInput::load(_with_limit)?( \[|$)/ { keep("AgencyInput::load") }
      /AgencyClient::send_(bets|from)( \[|$)/ { keep("AgencyClient::send_bets/send_from") }
      END { for (name in best) printf "%12d  %6.0f/bet  %s\n", best[name], best[name] / bets, name }' \
  | sort -k3
