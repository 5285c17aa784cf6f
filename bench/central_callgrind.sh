#!/usr/bin/env bash
# Instruction counts (callgrind: deterministic, whatever else the machine
# runs) of the central's path from a Batch frame's bytes to its rows in the
# write buffer: lottery-net's `central_path` example decodes the course
# data's frames (the five agency files packed into 8 KiB frames), checks
# them against today, and submits them to a Central over a BetMonitor on
# the file store in a scratch directory with durability none (rows,
# journal record, running tally; the rows' write(2) is the kernel's copy,
# not counted). CENTRAL_PATH_STORE=memory measures over a MemoryStore, as
# the figures before the file store was the default did (its append
# copies the rows once more: about 50 a bet).
#
#   bench/central_callgrind.sh [TREE [LABEL]]
#
# TREE: a checkout of the workspace (default: this one). This tree's
# example is copied into TREE (over its own): the same file builds against the code
# before issue 14's central step, which is how "before" is measured:
#
#   git worktree add /tmp/wt-before fc99511
#   bench/central_callgrind.sh /tmp/wt-before before
#   bench/central_callgrind.sh . after
#
# Knobs: DATA (default ../shared/data), OUT (default target/bench/central-callgrind).
set -euo pipefail
cd "$(dirname "$0")/.."
TREE=${1:-.}
LABEL=${2:-$(basename "$(cd "$TREE" && pwd)")}
DATA=$(cd "${DATA:-../shared/data}" && pwd)
OUT=${OUT:-target/bench/central-callgrind}
[ -f "$DATA/agency-1.csv" ] || { echo "no course data in $DATA" >&2; exit 1; }
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
EXAMPLE=lottery-net/examples/central_path.rs
if [ "$(cd "$TREE" && pwd)" != "$(pwd)" ]; then
    # The harness is this tree's, whatever TREE holds.
    mkdir -p "$TREE/lottery-net/examples"
    cp "$EXAMPLE" "$TREE/$EXAMPLE"
fi
(cd "$TREE" && cargo build --release -p lottery-net --example central_path >&2)
valgrind --tool=callgrind --callgrind-out-file="$OUT/$LABEL.cg" --toggle-collect='*store_frame*' \
    "$TREE/target/release/examples/central_path" "$DATA" >"$OUT/$LABEL.txt" 2>"$OUT/$LABEL.log"
bets=$(grep -o 'bets [0-9]*' "$OUT/$LABEL.txt" | grep -o '[0-9]*$')
total=$(grep -o 'Collected : [0-9]*' "$OUT/$LABEL.log" | grep -o '[0-9]*$')
printf '%s: %s, frame bytes to rows %s instructions, %s per bet\n' \
    "$LABEL" "$(cat "$OUT/$LABEL.txt")" "$total" "$((total / bets))"
# The inclusive counts of the functions on the path, per bet (callgrind
# lists a function once per source file its inlined code comes from; the
# largest of those lines is the function with all its callees).
callgrind_annotate --inclusive=yes "$OUT/$LABEL.cg" 2>/dev/null >"$OUT/$LABEL.annotate"
for name in 'Decoder::next_agency_frame' 'Central::begin_submit' 'Central::begin_batch' \
    'row::encode_store_rows' 'BetBatch::write_store_rows' 'GroupCommit::write_batch' \
    'MemoryStore as lottery_core::monitor::store::StoreFile>::append' 'GroupCommit::record' \
    'crc32c::hw_x86_64::crc32c' 'Central::complete_submit'; do
    count=$(grep -F "$name" "$OUT/$LABEL.annotate" | awk '$1 ~ /^[0-9,]+$/ {gsub(",", "", $1); print $1}' \
        | sort -n | tail -1 || true)
    if [ -n "$count" ]; then
        printf '  %-56s %12s  %5s per bet\n' "$name" "$count" "$((count / bets))"
    fi
done
