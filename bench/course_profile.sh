#!/usr/bin/env bash
# Where the course run's CPU goes (BENCHMARKS.md, "What sets each number"):
#
#   bench/course_profile.sh [RUNS]
#
# 1. RUNS course runs (default 7), each process under `perf stat -e
#    task-clock`: the CPU of the central and of the five agencies, medians
#    (no sampling, so no profiler's overhead in these totals);
# 2. RUNS more under `perf record -e cpu-clock -g` (kernel call chains
#    included), cut by bench/course_profile.py into what each program spends
#    its CPU on: its own code, process start and end, page faults, TCP, the
#    store's writes and syncs, scheduling. The shares are the profile's; the
#    milliseconds are each share of step 1's median;
# 3. the store's floor: bench/store_floor.rs (the course run's bytes written
#    and synced as the group commit does, with nothing else) under perf stat.
#
# Knobs: BIN (default target/release, built first when unset), DATA (default
# ../shared/data), OUT (default target/bench/profile). Needs perf (run as
# root, or with kernel.perf_event_paranoid <= 1, for kernel call chains),
# python3 and rustc.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RUNS=${1:-7}
DATA=${DATA:-$ROOT/../shared/data}
OUT=${OUT:-$ROOT/target/bench/profile}
if [ -z "${BIN:-}" ]; then
    cargo build --release --quiet --bin lottery-server --bin lottery-agency
    BIN=$ROOT/target/release
fi
[ -f "$DATA/agency-1.csv" ] || { echo "no course data set in $DATA" >&2; exit 1; }
command -v perf >/dev/null || { echo "course_profile.sh needs perf" >&2; exit 1; }
mkdir -p "$OUT"

# run DIR [WRAP...]: one course run; with WRAP, every program runs under it
# with its name appended (the stat file's prefix).
run() {
    local dir=$1 line addr pids=() central
    shift
    rm -rf "$dir" && mkdir -p "$dir"
    local central_wrap=() agency_wrap=()
    if [ $# -gt 0 ]; then central_wrap=("$@" -o "$dir/central.stat"); fi
    "${central_wrap[@]}" "$BIN/lottery-server" --listen 127.0.0.1:0 --agencies 5 \
        --store "$dir/bets.csv" --durability fsync --exit-when-done \
        </dev/null >/dev/null 2>"$dir/server.log" &
    central=$!
    for _ in $(seq 1000); do
        line=$(grep -m1 'action: accept_connections | result: in_progress' "$dir/server.log" || true)
        [ -n "$line" ] && break
        sleep 0.005
    done
    addr=$(sed -E 's/.*listen: ([^ ]+).*/\1/' <<<"$line")
    for id in 1 2 3 4 5; do
        if [ $# -gt 0 ]; then agency_wrap=("$@" -o "$dir/agency-$id.stat"); fi
        "${agency_wrap[@]}" "$BIN/lottery-agency" --id "$id" --server "$addr" \
            --data "$DATA/agency-$id.csv" 2>"$dir/agency-$id.log" &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid"; done
    wait "$central"
    local winners
    winners=$(for id in 1 2 3 4 5; do
        grep -o 'cant_ganadores: [0-9]*' "$dir/agency-$id.log" | grep -o '[0-9]*$'
    done | tr '\n' ' ')
    [ "$winners" = "2 3 3 2 0 " ] || { echo "run FAILED its check: winners $winners" >&2; return 1; }
}

# task_ms FILE: the task-clock milliseconds of a `perf stat -x,` file.
task_ms() { awk -F, '$3 == "task-clock" { print $1 }' "$1"; }
median() { sort -g | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m }'; }

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
: >"$OUT/central_ms" && : >"$OUT/agencies_ms"
for i in $(seq "$RUNS"); do
    run "$OUT/stat" perf stat -x, -e task-clock
    task_ms "$OUT/stat/central.stat" >>"$OUT/central_ms"
    cat "$OUT"/stat/agency-*.stat | awk -F, '$3 == "task-clock" { s += $1 } END { print s }' >>"$OUT/agencies_ms"
done
central_ms=$(median <"$OUT/central_ms")
agencies_ms=$(median <"$OUT/agencies_ms")

export -f run
export BIN DATA
perf record -q -e cpu-clock -F 20000 -g -o "$OUT/perf.data" -- \
    bash -c 'set -e; for i in $(seq '"$RUNS"'); do run '"$OUT"'/rec; done' 2>/dev/null
perf script -i "$OUT/perf.data" -F comm,pid,tid,ip,sym,dso 2>/dev/null >"$OUT/perf.script"

rustc -O --edition 2021 "$ROOT/bench/store_floor.rs" -o "$OUT/store_floor"
: >"$OUT/floor_ms"
for i in $(seq "$RUNS"); do
    perf stat -x, -e task-clock -o "$OUT/floor.stat" "$OUT/store_floor" "$OUT"
    task_ms "$OUT/floor.stat" >>"$OUT/floor_ms"
done
floor_ms=$(median <"$OUT/floor_ms")

python3 "$ROOT/bench/course_profile.py" "$OUT/perf.script" "$central_ms" "$agencies_ms" "$floor_ms"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
