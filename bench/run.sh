#!/usr/bin/env bash
# Reproduces the wall-clock numbers of BENCHMARKS.md on this machine.
#
#   bench/run.sh            all four benchmarks, and the disk's commit latency
#   bench/run.sh disk       only the disk: two fdatasyncs (a group commit) at a time
#   bench/run.sh course     only (1): the course data end to end (with
#                           SEED_PEER=.../run_seed.sh, the course's own system
#                           after each run, in the same minutes, and the ratio)
#   bench/run.sh ingest     only (2): sustained ingest, 100 agencies
#   bench/run.sh scale      only (3): 10,000 connections at 1,000,000 bets/s offered
#   bench/run.sh growth     only (4): 10, 100, 1,000 and 10,000 agencies
#   bench/run.sh copy       the peers: PostgreSQL COPY of the same rows (the course
#                           files by 5 clients; 100 clients x INGEST_BETS), see
#                           bench/copy_anchor.sh (skipped without PostgreSQL)
#   bench/run.sh table      BENCHMARKS.md's table (disk, course, ingest, scale,
#                           the COPY peers), printed with peers and targets
#                           (`issue14`, its old name, still works)
#   bench/run.sh tls        the cost of mutual TLS: (1) and (2) with and without
#                           it, alternately, ROUNDS rounds (default 3) of RUNS
#   bench/run.sh syscalls   the central's system calls, context switches and
#                           CPU over one fixed paced run (perf stat), beside
#                           the load generator's CPU
#   bench/run.sh http       the cost of the status port: (2) with --http off and
#                           on (scraped every second), alternately, ROUNDS
#                           rounds (default 3) of RUNS
#   bench/run.sh receipts   the cost of receipts: (2) with receipts off and on,
#                           alternately, ROUNDS rounds (default 3) of RUNS
#
# Knobs (environment): RUNS (runs per measurement, default 5), OUT (results
# directory, default target/bench), DATA (the course data set, default
# ../shared/data), INGEST_BETS (bets per agency in (2), default 20000), BIN
# (the programs to measure, default target/release, built first; set it to
# measure another build, such as an older commit's, as it is), TLS (1: every
# connection over mutual TLS, with certificates `lottery-admin certs` writes
# once into OUT/pki: the central with --tls-cert/--tls-key/--tls-client-ca,
# each agency and the load generator with its own agency certificates), HTTP
# (1: every central with --http 127.0.0.1:0, and `curl -s` of its /metrics
# every second while it runs; the scrapes are counted in the run's directory),
# SCALE_RATE (bets/s offered in (3), default 1000000: a lower rate shows how
# the central's delay moves with the load of the two cores), LOADGEN_NICE (a
# niceness for the load generator, e.g. 19: it stands in for agencies on
# other machines, and at a low priority it takes the cores only when the
# central leaves them; its report says whether it still offered the rate),
# RECEIPTS (1: the central with --receipt-key, a key pair `lottery-admin keys`
# writes once into OUT/keys, and the load generator with --receipts, so every
# ack carries a signed head; the load generator does not check them),
# DURABILITY (the central's --durability, default fsync, what every number of
# BENCHMARKS.md is taken with; flush shows what the disk's syncs add).
#
# Every central is a release `lottery-server` process with durability fsync,
# logging at INFO (the course's line per batch), on 127.0.0.1, with a fresh
# store; every client is a release program. Medians with min-max; the load of
# the machine (`uptime`) is printed with the results, since it is shared.
# Needs bash, jq, and hyperfine when installed (else a plain timing loop).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=${BIN:-}
BUILD=1
[ -n "$BIN" ] && BUILD=0
BIN=${BIN:-$ROOT/target/release}
RUNS=${RUNS:-5}
OUT=${OUT:-$ROOT/target/bench}
DATA=${DATA:-$ROOT/../shared/data}
INGEST_BETS=${INGEST_BETS:-20000}
TLS=${TLS:-0}
HTTP=${HTTP:-0}
RECEIPTS=${RECEIPTS:-0}
mkdir -p "$OUT"
PKI=$OUT/pki

# 10,000 connections need as many descriptors in the central and in the
# load generator: take the hard limit.
ulimit -n "$(ulimit -Hn)"

log() { printf '%s\n' "$*" >&2; }

# --- TLS ------------------------------------------------------------------------

# With TLS=1: a PKI for 10,000 agencies (the most any benchmark runs), made
# once and kept (making it is not what is measured).
make_pki() {
    [ "$TLS" = 1 ] || return 0
    [ -f "$PKI/agency-10000.key" ] && return 0
    rm -rf "$PKI"
    "$BIN/lottery-admin" certs --agencies 10000 --out "$PKI" >/dev/null
}

# The flags of each program under TLS=1 (none otherwise).
central_tls() {
    [ "$TLS" = 1 ] && printf '%s\n' --tls-cert "$PKI/server.pem" --tls-key "$PKI/server.key" \
        --tls-client-ca "$PKI/ca.pem"
    return 0
}
agency_tls() {
    [ "$TLS" = 1 ] && printf '%s\n' --tls-ca "$PKI/ca.pem" --tls-cert "$PKI/agency-$1.pem" \
        --tls-key "$PKI/agency-$1.key" --tls-server-name localhost
    return 0
}
loadgen_tls() {
    [ "$TLS" = 1 ] && printf '%s\n' --tls-ca "$PKI/ca.pem" --tls-cert-dir "$PKI"
    [ "$RECEIPTS" = 1 ] && printf '%s\n' --receipts
    return 0
}

# With RECEIPTS=1: the central's receipt key, made once and kept.
make_receipt_keys() {
    [ "$RECEIPTS" = 1 ] || return 0
    [ -f "$OUT/keys/receipt-key.pem" ] && return 0
    rm -rf "$OUT/keys"
    "$BIN/lottery-admin" keys --out "$OUT/keys" >/dev/null
}

# --- the central --------------------------------------------------------------

# start_central DIR AGENCIES [FLAGS...]: starts a release central on a free
# port with a fresh store in DIR; sets CENTRAL_PID and CENTRAL_ADDR. With
# CPU_FILE set, the central runs under /usr/bin/time, which writes its CPU
# time (user + system, seconds) there when it exits.
start_central() {
    local dir=$1 agencies=$2
    shift 2
    rm -rf "$dir" && mkdir -p "$dir"
    local timed=()
    if [ -n "${CPU_FILE:-}" ] && [ -x /usr/bin/time ]; then
        timed=(/usr/bin/time -f "%U %S" -o "$CPU_FILE")
    fi
    local tls http=()
    mapfile -t tls < <(central_tls)
    [ "$RECEIPTS" = 1 ] && tls+=(--receipt-key "$OUT/keys/receipt-key.pem")
    [ "$HTTP" = 1 ] || [ "${STATUS_PORT:-0}" = 1 ] && http=(--http 127.0.0.1:0)
    "${timed[@]}" "$BIN/lottery-server" --listen 127.0.0.1:0 --agencies "$agencies" \
        --store "$dir/bets.csv" --durability "${DURABILITY:-fsync}" "${tls[@]}" "${http[@]}" "$@" \
        </dev/null >/dev/null 2>"$dir/server.log" &
    CENTRAL_PID=$!
    local line=""
    for _ in $(seq 500); do
        line=$(grep -m1 'action: accept_connections | result: in_progress' "$dir/server.log" || true)
        [ -n "$line" ] && break
        kill -0 "$CENTRAL_PID" 2>/dev/null || { cat "$dir/server.log" >&2; return 1; }
        sleep 0.01
    done
    CENTRAL_ADDR=$(sed -E 's/.*listen: ([^ ]+).*/\1/' <<<"$line")
    [ -n "$CENTRAL_ADDR" ] || { log "the central did not start"; return 1; }
    SCRAPER_PID=
    [ "$HTTP" = 1 ] && start_scraper "$dir"
    return 0
}

# With HTTP=1: scrapes the central's /metrics every second while it runs,
# as Prometheus would; one line per scrape in DIR/scrapes.
start_scraper() {
    local dir=$1 line
    line=$(grep -m1 'action: serve_http | result: in_progress' "$dir/server.log")
    local addr
    addr=$(sed -E 's/.*listen: ([^ ]+).*/\1/' <<<"$line")
    : >"$dir/scrapes"
    ( while kill -0 "$CENTRAL_PID" 2>/dev/null; do
        curl -s -o /dev/null -w '%{http_code}\n' "http://$addr/metrics" >>"$dir/scrapes" || true
        sleep 1
      done ) &
    SCRAPER_PID=$!
}

# The central's peak resident set, in MiB.
peak_rss_mib() {
    awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"
}

stop_central() {
    kill -TERM "$CENTRAL_PID" 2>/dev/null || true
    wait "$CENTRAL_PID" 2>/dev/null || true
    if [ -n "${SCRAPER_PID:-}" ]; then
        kill "$SCRAPER_PID" 2>/dev/null || true
        wait "$SCRAPER_PID" 2>/dev/null || true
    fi
}

# --- statistics ---------------------------------------------------------------

# stats < numbers: "median min max" (the median of an even count is the mean
# of the middle two).
stats() {
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "null null null"; exit }
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        print m, v[1], v[NR] }'
}

# --- the disk under the central --------------------------------------------------

# A group commit's latency on the filesystem of the stores, without the
# central: the floor of every ack latency with durability fsync.
disk() {
    log "(0) the disk: 500 group commits (a 60 KB append and a journal line, each fdatasync'd)"
    rustc -O --edition 2021 "$ROOT/bench/commit_probe.rs" -o "$OUT/commit_probe"
    "$OUT/commit_probe" "$OUT" 500 60000 | jq . | tee "$OUT/disk.json"
    # The disk's append-and-sync rate (what ingest over fsync can reach at
    # most): the model's plain 2.4 MB-group rows, the best of its two runs.
    if command -v python3 >/dev/null; then
        python3 "$ROOT/bench/append_sync_model.py" "$OUT" | tee "$OUT/model.txt" >&2
    fi
}

# --- (1) the course data end to end -------------------------------------------

# The timed command: the five agencies, started together, until all exited
# (each exits once it has its winners). Internal; see `course`.
course_agencies() {
    local dir=$1 addr=$2 pids=() failed=0
    local tls start
    # The span from the first agency's start to the last one's exit, without
    # the start of this script (bash reading it costs 10-20 ms).
    start=$(date +%s%N)
    for id in 1 2 3 4 5; do
        mapfile -t tls < <(agency_tls "$id")
        "$BIN/lottery-agency" --id "$id" --server "$addr" --data "$DATA/agency-$id.csv" \
            "${tls[@]}" 2>"$dir/agency-$id.log" &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
    echo "scale=3; ($(date +%s%N) - $start) / 1000000" | bc >"$dir/span_ms"
    return $failed
}

# Internal, run by hyperfine before each timed run: a fresh central (exits by
# itself once every agency is served and gone).
course_prepare() {
    local dir=$OUT/course
    # The previous run's central exits by itself; make sure it is gone.
    if [ -f "$dir/central.pid" ]; then
        local old
        old=$(cat "$dir/central.pid")
        for _ in $(seq 500); do kill -0 "$old" 2>/dev/null || break; sleep 0.01; done
        kill -TERM "$old" 2>/dev/null || true
    fi
    course_check "$dir" || true
    rm -f "$dir/central.cpu"
    CPU_FILE=$dir/central.cpu start_central "$dir/run" 5 --exit-when-done
    echo "$CENTRAL_PID" >"$dir/central.pid"
    echo "$CENTRAL_ADDR" >"$dir/central.addr"
    disown "$CENTRAL_PID" 2>/dev/null || true
}

# Checks a finished course run: winners 2, 3, 3, 2, 0, one draw, every bet.
course_check() {
    local dir=$1/run
    [ -f "$dir/server.log" ] || return 0
    [ -f "$dir/agency-1.log" ] || return 0
    [ -s "$1/central.cpu" ] && awk '{ print ($1 + $2) * 1000 }' "$1/central.cpu" >>"$1/central_cpu_ms.txt"
    local winners draws bets
    winners=$(for id in 1 2 3 4 5; do
        grep -o 'consulta_ganadores | result: success | cant_ganadores: [0-9]*' "$dir/agency-$id.log" | grep -o '[0-9]*$'
    done | tr '\n' ' ')
    draws=$(grep -c 'action: sorteo | result: success' "$dir/server.log" || true)
    bets=$(grep -o 'action: sorteo | result: success | bets: [0-9]*' "$dir/server.log" | grep -o '[0-9]*$' || true)
    grep -o 'action: sorteo .*duration_ms: [0-9.]*' "$dir/server.log" | grep -o '[0-9.]*$' >>"$1/draw_ms.txt" || true
    if [ "$winners" != "2 3 3 2 0 " ] || [ "$draws" != 1 ] || [ "$bets" != 78697 ]; then
        log "course run FAILED its check: winners '$winners', draws $draws, bets $bets"
        echo fail >>"$1/checks.txt"
        return 1
    fi
    echo ok >>"$1/checks.txt"
}

# course_peer DIR: one run of the course's own system (Python central, Go
# agencies) on the same files, by the runner SEED_PEER names (see
# ../shared/peers/seed/README.md; SEED_HOME is where it was built, and the
# runner calls itself there: copy run_seed.sh into SEED_HOME), with
# the course's batches of 136; prints its span in ms (first agency start to
# last exit, a blocking wait in the runner), or fails when its winners or
# rows are not the course data's.
course_peer() {
    local dir=$1 last
    # Any port: the runner has a network namespace of its own.
    last=$(bash "$SEED_PEER" 12345 "$DATA" 136 2>>"$dir/peer.log" | tail -1)
    echo "$last" >>"$dir/peer.log"
    case $last in
        *"winners=2,3,3,2,0 rows=78697"*) ;;
        *) log "the course system's run FAILED its check: $last"; return 1 ;;
    esac
    sed 's/.*elapsed_ms=\([0-9.]*\).*/\1/' <<<"$last"
}

course() {
    local dir=$OUT/course
    if [ ! -f "$DATA/agency-1.csv" ]; then
        log "(1) skipped: no course data set in $DATA"
        return 0
    fi
    rm -rf "$dir" && mkdir -p "$dir"
    log "(1) course data end to end, $RUNS runs"
    local times
    : >"$dir/peer_ms.txt"
    if [ -z "${SEED_PEER:-}" ] && command -v hyperfine >/dev/null; then
        hyperfine --runs "$RUNS" --export-json "$dir/hyperfine.json" --style basic \
            --prepare "$ROOT/bench/run.sh course_prepare" \
            "$ROOT/bench/run.sh course_agencies_timed" >&2
        times=$(jq -r '.results[0].times[] * 1000' "$dir/hyperfine.json")
    else
        # The agencies' CPU (user + system, all five) from /usr/bin/time of
        # the script that starts and waits for them, as hyperfine reports it.
        : >"$dir/agencies_cpu_ms.txt"
        times=$(for _ in $(seq "$RUNS"); do
            course_prepare
            /usr/bin/time -f "%U %S" -o "$dir/agencies.cpu" "$ROOT/bench/run.sh" course_agencies_timed
            awk '{ print ($1 + $2) * 1000 }' "$dir/agencies.cpu" >>"$dir/agencies_cpu_ms.txt"
            cat "$dir/run/span_ms"
            # The course's own system right after, in the same minutes.
            # (An `if`: a false `[ ]` last in the loop would fail the
            # assignment, and `set -e` the script, without a peer.)
            if [ -n "${SEED_PEER:-}" ]; then course_peer "$dir" >>"$dir/peer_ms.txt"; fi
        done)
    fi
    # The last run's central, then its check.
    local old
    old=$(cat "$dir/central.pid")
    for _ in $(seq 500); do kill -0 "$old" 2>/dev/null || break; sleep 0.01; done
    course_check "$dir" || true
    read -r median min max < <(stats <<<"$times")
    read -r draw_median draw_min draw_max < <(stats <"$dir/draw_ms.txt" 2>/dev/null || stats </dev/null)
    read -r cpu_median cpu_min cpu_max < <(stats <"$dir/central_cpu_ms.txt")
    local agencies_cpu="null"
    if [ -f "$dir/hyperfine.json" ]; then
        agencies_cpu=$(jq '.results[0] | (.user + .system) * 1000' "$dir/hyperfine.json")
    elif [ -s "$dir/agencies_cpu_ms.txt" ]; then
        agencies_cpu=$(awk '{ s += $1 } END { print s / NR }' "$dir/agencies_cpu_ms.txt")
    fi
    local peer="null" ratio="null"
    if [ -s "$dir/peer_ms.txt" ]; then
        local peer_median peer_min peer_max
        read -r peer_median peer_min peer_max < <(stats <"$dir/peer_ms.txt")
        peer=$(jq -n --argjson m "$peer_median" --argjson lo "$peer_min" --argjson hi "$peer_max" \
            '{median: $m, min: $lo, max: $hi}')
        ratio=$(echo "scale=1; $peer_median / $median" | bc)
    fi
    local failed
    failed=$(grep -c fail "$dir/checks.txt" || true)
    jq -n --argjson median "$median" --argjson min "$min" --argjson max "$max" \
        --argjson draw "$draw_median" --argjson draw_min "$draw_min" --argjson draw_max "$draw_max" \
        --argjson runs "$RUNS" --argjson failed "$failed" \
        --argjson cpu "$cpu_median" --argjson cpu_min "$cpu_min" --argjson cpu_max "$cpu_max" \
        --argjson agencies_cpu "$agencies_cpu" --argjson peer "$peer" --argjson ratio "$ratio" \
        '{benchmark: "course", runs: $runs, failed_checks: $failed,
          elapsed_ms: {median: $median, min: $min, max: $max},
          course_system_elapsed_ms: $peer, course_system_over_ours: $ratio,
          draw_completion_ms: {median: $draw, min: $draw_min, max: $draw_max},
          central_cpu_ms: {median: $cpu, min: $cpu_min, max: $cpu_max},
          agencies_cpu_ms_mean: $agencies_cpu}' \
        | tee "$dir/result.json"
}

# --- the load generator against a separate central ----------------------------

# loadgen_run NAME AGENCIES BETS_PER_AGENCY [LOADGEN FLAGS...]: one run against
# a fresh central; prints the load generator's JSON with the central's peak RSS.
loadgen_run() {
    local name=$1 agencies=$2 bets=$3
    shift 3
    local dir=$OUT/$name
    # Both programs' CPU (user + system, from rusage), for the run's CPU a
    # bet and the rate the two cores allow at that CPU (`cpu_bound_bets_per_s`:
    # two cores' seconds over the CPU seconds a bet takes, central and load
    # generator together; a run near it is CPU-bound, not disk-bound).
    start_central "$dir" "$agencies"
    local report tls timed=()
    [ -x /usr/bin/time ] && timed=(/usr/bin/time -f "%U %S" -o "$dir.loadgen.cpu")
    mapfile -t tls < <(loadgen_tls)
    report=$(${LOADGEN_NICE:+nice -n "$LOADGEN_NICE"} "${timed[@]}" "$BIN/lottery-loadgen" --server "$CENTRAL_ADDR" --agencies "$agencies" \
        --bets-per-agency "$bets" --json --progress off "${tls[@]}" "$@" 2>"$dir/loadgen.log") || {
        cat "$dir/loadgen.log" >&2
        stop_central
        return 1
    }
    local rss scrapes=0 central='{}'
    rss=$(peak_rss_mib "$CENTRAL_PID")
    [ "${STATUS_PORT:-0}" = 1 ] && central=$(central_latency "$dir")
    # The central's CPU so far (every thread's), in seconds, before it stops.
    awk -v tck="$(getconf CLK_TCK)" '{ print $14 / tck, $15 / tck }' "/proc/$CENTRAL_PID/stat" >"$dir.central.cpu"
    stop_central
    [ -f "$dir/scrapes" ] && scrapes=$(grep -c '^200$' "$dir/scrapes" || true)
    # What the disk was given (rows and journal), for the ingest's MB/s
    # beside the disk model's; then the store (100 MB for 2,000,000 bets) is
    # not needed any more.
    local stored
    stored=$(cat "$dir/bets.csv" "$dir/bets.csv.journal" 2>/dev/null | wc -c)
    rm -f "$dir/bets.csv" "$dir/bets.csv.journal"
    local cpu=null
    if [ -s "$dir.central.cpu" ] && [ -s "$dir.loadgen.cpu" ]; then
        cpu=$(cat "$dir.central.cpu" "$dir.loadgen.cpu" | awk '{ s += $1 + $2 } END { print s }')
    fi
    rm -f "$dir.central.cpu" "$dir.loadgen.cpu"
    jq -c --argjson rss "$rss" --argjson scrapes "$scrapes" --argjson central "$central" --argjson stored "$stored" \
        --argjson cpu "$cpu" \
        '. + {central_peak_rss_mib: $rss, metrics_scrapes: $scrapes, stored_mb_per_s: (if .elapsed_s > 0 then $stored / .elapsed_s / 1e6 else null end),
              cpu_s: $cpu, cpu_bound_bets_per_s: (if $cpu != null and $cpu > 0 then 2 * .elapsed_s * .bets_per_s / $cpu else null end)} + $central' <<<"$report"
}

# central_latency DIR: the central's own ack delay (from the start of the loop
# iteration that read a batch to its ack handed to the connection) and its
# syncs, from its status port after a run (STATUS_PORT=1): the share of acks
# within 5 ms (exact: a bucket bound of lottery_ack_latency_seconds) and the
# p50, p99 and p99.9 /status estimates from the buckets (1 to 50 ms in steps of 0.5 to 15 ms).
central_latency() {
    local dir=$1 addr metrics status
    addr=$(grep -m1 'action: serve_http | result: in_progress' "$dir/server.log" \
        | sed -E 's/.*listen: ([^ ]+).*/\1/')
    metrics=$(curl -s "http://$addr/metrics") || { echo '{}'; return 0; }
    status=$(curl -s "http://$addr/status") || { echo '{}'; return 0; }
    # Kept beside the run's log (their buckets and maxima show a rare slow
    # ack or sync).
    printf '%s\n' "$metrics" >"$dir/metrics.txt"
    printf '%s\n' "$status" >"$dir/status.json"
    local within
    within=$(awk '/^lottery_ack_latency_seconds_bucket\{le="0.005"\}/ { b = $2 }
        /^lottery_ack_latency_seconds_count/ { c = $2 }
        END { if (c > 0) printf "%.5f", b / c; else print "null" }' <<<"$metrics")
    jq -c --argjson within "$within" '{central_ack_ms: {
            p50: (.latency.ack_seconds.p50 // null | if . == null then null else . * 1000 end),
            p99: (.latency.ack_seconds.p99 // null | if . == null then null else . * 1000 end),
            p999: (.latency.ack_seconds.p999 // null | if . == null then null else . * 1000 end)},
        central_acks_within_5ms: $within,
        central_sync_ms: {p99: (.latency.sync_seconds.p99 // null | if . == null then null else . * 1000 end),
            max: (.latency.sync_seconds.max // null | if . == null then null else . * 1000 end)},
        central_ack_max_ms: (.latency.ack_seconds.max // null | if . == null then null else . * 1000 end)}' \
        <<<"$status"
}

# summarize NAME < json lines: medians (min-max) of the runs' key numbers.
summarize() {
    local name=$1 runs
    runs=$(cat)
    local field out="{\"benchmark\": \"$name\""
    for field in bets_per_s ack_latency_ms.p50 ack_latency_ms.p99 ack_latency_ms.max \
        central_peak_rss_mib connections_held finish_s elapsed_s central_ack_ms.p50 \
        central_ack_ms.p99 central_ack_ms.p999 central_acks_within_5ms central_sync_ms.p99 stored_mb_per_s \
        cpu_s cpu_bound_bets_per_s; do
        read -r median min max < <(jq -r ".$field // empty" <<<"$runs" | stats)
        out+=", \"${field//./_}\": {\"median\": $median, \"min\": $min, \"max\": $max}"
    done
    local failed
    failed=$(jq -s 'map(.failed_agencies) | add' <<<"$runs")
    out+=", \"agencies\": $(jq -s '.[0].agencies' <<<"$runs"), \"runs\": $(jq -s length <<<"$runs"), \"failed_agencies\": $failed}"
    jq . <<<"$out"
}

# --- (2) sustained ingest -----------------------------------------------------

ingest() {
    log "(2) sustained ingest: 100 agencies x $INGEST_BETS bets, 150-bet batches, $RUNS runs"
    local runs=""
    for _ in $(seq "$RUNS"); do
        runs+=$(loadgen_run ingest 100 "$INGEST_BETS" --batch-size 150 --in-flight 8 --threads 1)$'\n'
    done
    printf '%s' "$runs" >"$OUT/ingest.jsonl"
    summarize ingest <"$OUT/ingest.jsonl" | tee "$OUT/ingest.json"
}

# --- (3) scale ----------------------------------------------------------------

scale() {
    local runs=$(( RUNS < 3 ? RUNS : 3 ))
    local rate=${SCALE_RATE:-1000000}
    log "(3) scale: 10,000 agencies, $rate bets/s offered, $runs runs"
    : >"$OUT/scale.jsonl"
    for _ in $(seq "$runs"); do
        # With the status port: the central's own delay, beside the round trip
        # the load generator sees (the issue's p99 is the central's).
        STATUS_PORT=1 loadgen_run scale 10000 300 --batch-size 150 --in-flight 2 --threads 2 \
            --rate "$rate" >>"$OUT/scale.jsonl"
    done
    summarize scale <"$OUT/scale.jsonl" | tee "$OUT/scale.json"
}

# --- system calls per run -----------------------------------------------------

# The central's system calls, context switches and CPU over one fixed paced
# run (SYSCALL_AGENCIES agencies, default 2000, x 300 bets, 150-bet batches,
# 2 in flight, 100 bets/s per agency offered), counted by `perf stat` on
# syscall tracepoints: numbers that do not depend on the machine's noise the
# way a p99 does. Beside them the load generator's CPU and context switches
# (`/usr/bin/time`). Set BIN to count another build. Needs perf.
syscalls() {
    local agencies=${SYSCALL_AGENCIES:-2000} dir=$OUT/syscalls
    log "system calls: $agencies agencies x 300 bets at $(( agencies * 100 )) bets/s, $RUNS runs"
    local events=task-clock,context-switches call
    for call in recvfrom sendto write epoll_wait futex fdatasync; do
        events+=",syscalls:sys_enter_$call"
    done
    for _ in $(seq "$RUNS"); do
        start_central "$dir" "$agencies" --threads 2
        perf stat -x, -e "$events" -e syscalls:sys_enter_write --filter 'count == 8' \
            -e syscalls:sys_enter_write --filter 'fd == 2' -p "$CENTRAL_PID" -o "$dir/perf.csv" &
        local perf_pid=$!
        sleep 0.3
        /usr/bin/time -f "%U %S %w %c" -o "$dir/loadgen.time" "$BIN/lottery-loadgen" \
            --server "$CENTRAL_ADDR" --agencies "$agencies" --bets-per-agency 300 --batch-size 150 \
            --in-flight 2 --threads 2 --rate $(( agencies * 100 )) --json --progress off \
            >"$dir/loadgen.json" 2>"$dir/loadgen.log"
        kill -INT "$perf_pid"; wait "$perf_pid" || true
        stop_central
        rm -f "$dir/bets.csv" "$dir/bets.csv.journal"
        # eventfd writes are the 8-byte ones; the log lines go to fd 2.
        awk -F, -v lg="$(cat "$dir/loadgen.time")" -v batches="$(jq .batches "$dir/loadgen.json")" '
            !/^#/ && NF > 2 { n = $3; sub("syscalls:sys_enter_", "", n); seen[n]++
                if (n == "write" && seen[n] == 2) n = "eventfd_write"
                if (n == "write" && seen[n] == 3) n = "stderr_write"
                out = out sprintf("\"%s\": %s, ", n, $1) }
            END { split(lg, t, " ")
                printf "{%s\"batches\": %s, \"loadgen_cpu_s\": %s, \"loadgen_context_switches\": %s}\n",
                    out, batches, t[1] + t[2], t[3] + t[4] }' "$dir/perf.csv"
    done
}

# --- (4) how cost grows -------------------------------------------------------

growth() {
    local runs=$(( RUNS < 3 ? RUNS : 3 ))
    log "(4) growth: 2,000,000 bets over 10, 100, 1,000 and 10,000 agencies, $runs runs each"
    local agencies
    for agencies in 10 100 1000 10000; do
        : >"$OUT/growth-$agencies.jsonl"
        for _ in $(seq "$runs"); do
            loadgen_run "growth-$agencies" "$agencies" $(( 2000000 / agencies )) \
                --batch-size 150 --in-flight 4 --threads 2 >>"$OUT/growth-$agencies.jsonl"
        done
        summarize "growth-$agencies" <"$OUT/growth-$agencies.jsonl" | tee "$OUT/growth-$agencies.json"
    done
}

# --- the peers: PostgreSQL COPY ----------------------------------------------------

copy_anchors() {
    log "(peer) PostgreSQL COPY of the same rows, $RUNS runs each"
    local what
    for what in course ingest; do
        RUNS=$RUNS INGEST_BETS=$INGEST_BETS OUT=$OUT/copy-$what "$ROOT/bench/copy_anchor.sh" "$what" \
            | tee "$OUT/copy-$what.json"
    done
}

# --- the cost of TLS ------------------------------------------------------------

# (1) and (2), plaintext and mutual TLS alternately, ROUNDS rounds of RUNS
# runs each; one line per round and measurement, then the medians of the
# rounds' medians.
tls_cost() {
    local rounds=${ROUNDS:-3} round tls results=$OUT/tls-cost
    rm -rf "$results" && mkdir -p "$results"
    log "the cost of TLS: course and ingest, plaintext and mutual TLS alternately, $rounds rounds of $RUNS"
    for round in $(seq "$rounds"); do
        for tls in 0 1; do
            TLS=$tls OUT=$OUT/tls-$tls BIN=$BIN "$ROOT/bench/run.sh" course_quiet >&2
            jq -r '.elapsed_ms.median' "$OUT/tls-$tls/course/result.json" >>"$results/course-$tls"
            jq -r '.failed_checks' "$OUT/tls-$tls/course/result.json" >>"$results/failed-$tls"
        done
        for tls in 0 1; do
            TLS=$tls OUT=$OUT/tls-$tls BIN=$BIN "$ROOT/bench/run.sh" ingest_quiet >&2
            jq -r '.bets_per_s.median' "$OUT/tls-$tls/ingest.json" >>"$results/ingest-$tls"
            jq -r '.ack_latency_ms_p99.median' "$OUT/tls-$tls/ingest.json" >>"$results/p99-$tls"
        done
    done
    local what
    for what in course ingest p99 failed; do
        printf '%s plaintext: %s| median %s\n' "$what" "$(tr '\n' ' ' <"$results/$what-0")" \
            "$(stats <"$results/$what-0" | cut -d' ' -f1)"
        printf '%s mutual TLS: %s| median %s\n' "$what" "$(tr '\n' ' ' <"$results/$what-1")" \
            "$(stats <"$results/$what-1" | cut -d' ' -f1)"
    done | tee "$results/summary.txt"
}

# --- the cost of the status port ----------------------------------------------------

# (2) with the status port off and on (HTTP=1: scraped every second),
# alternately, ROUNDS rounds of RUNS runs each; one line per round and
# setting, then the medians of the rounds' medians.
http_cost() {
    local rounds=${ROUNDS:-3} round http results=$OUT/http-cost
    rm -rf "$results" && mkdir -p "$results"
    log "the cost of the status port: ingest with --http off and on (scraped every second), alternately, $rounds rounds of $RUNS"
    for round in $(seq "$rounds"); do
        for http in 0 1; do
            HTTP=$http OUT=$OUT/http-$http BIN=$BIN "$ROOT/bench/run.sh" ingest_quiet >&2
            jq -r '.bets_per_s.median' "$OUT/http-$http/ingest.json" >>"$results/ingest-$http"
            jq -r '.ack_latency_ms_p99.median' "$OUT/http-$http/ingest.json" >>"$results/p99-$http"
            jq -s 'map(.metrics_scrapes) | add' "$OUT/http-$http/ingest.jsonl" >>"$results/scrapes-$http"
        done
    done
    local what
    for what in ingest p99 scrapes; do
        printf '%s http off: %s| median %s\n' "$what" "$(tr '\n' ' ' <"$results/$what-0")" \
            "$(stats <"$results/$what-0" | cut -d' ' -f1)"
        printf '%s http on: %s| median %s\n' "$what" "$(tr '\n' ' ' <"$results/$what-1")" \
            "$(stats <"$results/$what-1" | cut -d' ' -f1)"
    done | tee "$results/summary.txt"
}

# --- the cost of receipts ---------------------------------------------------------

# (2) with receipts off and on (RECEIPTS=1), alternately, ROUNDS rounds of
# RUNS runs each; one line per round and setting, then the medians of the
# rounds' medians.
receipts_cost() {
    local rounds=${ROUNDS:-3} round receipts results=$OUT/receipts-cost
    rm -rf "$results" && mkdir -p "$results"
    log "the cost of receipts: ingest with receipts off and on, alternately, $rounds rounds of $RUNS"
    for round in $(seq "$rounds"); do
        for receipts in 0 1; do
            RECEIPTS=$receipts OUT=$OUT/receipts-$receipts BIN=$BIN "$ROOT/bench/run.sh" ingest_quiet >&2
            jq -r '.bets_per_s.median' "$OUT/receipts-$receipts/ingest.json" >>"$results/ingest-$receipts"
            jq -r '.ack_latency_ms_p99.median' "$OUT/receipts-$receipts/ingest.json" >>"$results/p99-$receipts"
        done
    done
    local what
    for what in ingest p99; do
        printf '%s receipts off: %s| median %s\n' "$what" "$(tr '\n' ' ' <"$results/$what-0")" \
            "$(stats <"$results/$what-0" | cut -d' ' -f1)"
        printf '%s receipts on: %s| median %s\n' "$what" "$(tr '\n' ' ' <"$results/$what-1")" \
            "$(stats <"$results/$what-1" | cut -d' ' -f1)"
    done | tee "$results/summary.txt"
}

# --- the table ------------------------------------------------------------------

table() {
    local f
    echo
    echo "| benchmark | agencies | bets/s | ack p50 ms | ack p99 ms | central peak RSS MiB | finish+draw s |"
    echo "|---|---|---|---|---|---|---|"
    for f in "$OUT/ingest.json" "$OUT/scale.json" "$OUT"/growth-10.json "$OUT"/growth-100.json \
        "$OUT"/growth-1000.json "$OUT"/growth-10000.json; do
        [ -f "$f" ] || continue
        jq -r '"| \(.benchmark) | \(.agencies) | \(.bets_per_s.median|floor) (\(.bets_per_s.min|floor)-\(.bets_per_s.max|floor)) | \(.ack_latency_ms_p50.median) | \(.ack_latency_ms_p99.median) (\(.ack_latency_ms_p99.min)-\(.ack_latency_ms_p99.max)) | \(.central_peak_rss_mib.median) (\(.central_peak_rss_mib.min)-\(.central_peak_rss_mib.max)) | \(.finish_s.median) |"' "$f"
    done
    if [ -f "$OUT/disk.json" ]; then
        jq -r '"\ndisk: a group commit takes p50 \(.commit_ms.p50) ms, p90 \(.commit_ms.p90) ms, p99 \(.commit_ms.p99) ms, max \(.commit_ms.max) ms"' "$OUT/disk.json"
    fi
    local anchor
    for anchor in course ingest; do
        [ -s "$OUT/copy-$anchor.json" ] && jq -r '"peer: PostgreSQL COPY (\(.anchor)), \(.clients) clients, \(.rows) rows: median \(.elapsed_ms.median) ms, \(.rows_per_s) rows/s"' "$OUT/copy-$anchor.json"
    done
    if [ -f "$OUT/course/result.json" ]; then
        jq -r '"\ncourse data end to end: median \(.elapsed_ms.median) ms (\(.elapsed_ms.min)-\(.elapsed_ms.max)) over \(.runs) runs; draw completion \(.draw_completion_ms.median) ms; central CPU \(.central_cpu_ms.median) ms; agencies CPU \(.agencies_cpu_ms_mean) ms; failed checks \(.failed_checks)"' "$OUT/course/result.json"
    fi
}

# The headline table (BENCHMARKS.md): each row with its peers and its
# target (issue 26's), from the results of this run (a row whose benchmark did not run says
# so). The CPU floor of the course run is the CPU every process used (the
# central and the five agencies) spread over the machine's cores: no
# scheduling makes the run shorter than that.
issue_table() {
    local cores course="n/a" course_floor="n/a" copy_course="not run" ingest="n/a" copy_ingest="not run"
    local scale="n/a" disk="not run" seed="not run (SEED_PEER unset)"
    cores=$(nproc)
    if [ -f "$OUT/course/result.json" ]; then
        course=$(jq -r '"\(.elapsed_ms.median) ms median (\(.elapsed_ms.min)-\(.elapsed_ms.max)), \(.runs) runs"' "$OUT/course/result.json")
        course_floor=$(jq -r --argjson cores "$cores" \
            'if .agencies_cpu_ms_mean == null then "n/a" else
             "\(((.central_cpu_ms.median + .agencies_cpu_ms_mean) / $cores * 10 | floor) / 10) ms (central \(.central_cpu_ms.median) ms + agencies \(.agencies_cpu_ms_mean | floor) ms of CPU over \($cores) cores)" end' \
            "$OUT/course/result.json")
        seed=$(jq -r 'if .course_system_elapsed_ms == null then "not run (SEED_PEER unset)" else
            "\(.course_system_elapsed_ms.median) ms median (\(.course_system_elapsed_ms.min)-\(.course_system_elapsed_ms.max)), \(.course_system_over_ours)x ours" end' \
            "$OUT/course/result.json")
    fi
    [ -s "$OUT/copy-course.json" ] && copy_course=$(jq -r '"\(.elapsed_ms.median) ms (\(.clients) clients)"' "$OUT/copy-course.json")
    if [ -f "$OUT/ingest.json" ]; then
        ingest=$(jq -r '"\((.bets_per_s.median / 10000 | floor) / 100) M bets/s (\((.bets_per_s.min / 10000 | floor) / 100)-\((.bets_per_s.max / 10000 | floor) / 100)), ack p99 \(.ack_latency_ms_p99.median) ms"' "$OUT/ingest.json")
    fi
    [ -s "$OUT/copy-ingest.json" ] && copy_ingest=$(jq -r '"\((.rows_per_s / 10000 | floor) / 100) M rows/s (\(.clients) clients)"' "$OUT/copy-ingest.json")
    if [ -f "$OUT/scale.json" ]; then
        scale=$(jq -r 'def pct: if . == null then "n/a" else (. * 1000 | floor) / 10 end;
            "the central'"'"'s own delay: \(.central_acks_within_5ms.median | pct)% of acks within 5 ms (\(.central_acks_within_5ms.min | pct)-\(.central_acks_within_5ms.max | pct)), p99 about \(.central_ack_ms_p99.median) ms, p99.9 about \(.central_ack_ms_p999.median) ms (bucket estimates); round trip at the load generator: p99 \(.ack_latency_ms_p99.median) ms (\(.ack_latency_ms_p99.min)-\(.ack_latency_ms_p99.max)), p50 \(.ack_latency_ms_p50.median) ms; \(.connections_held.median) held, RSS \(.central_peak_rss_mib.median) MiB, \((.bets_per_s.median / 10000 | floor) / 100) M bets/s delivered"' "$OUT/scale.json")
    fi
    local model="not run"
    if [ -s "$OUT/model.txt" ]; then
        model=$(awk -F': ' '/2.4 MB groups, 16 KB writes, plain/ { sub(/ MB\/s/, "", $2); if ($2 > m) m = $2 }
            END { if (m) print m " MB/s" }' "$OUT/model.txt")
        [ -f "$OUT/ingest.json" ] && model+=$(jq -r --arg m "${model% MB/s}" \
            'if .stored_mb_per_s.median == null then "" else
             "; ingest wrote \(.stored_mb_per_s.median | floor) MB/s of rows and journal: \(.stored_mb_per_s.median / ($m | tonumber) * 100 | floor)%" end' "$OUT/ingest.json")
    fi
    [ -f "$OUT/disk.json" ] && disk=$(jq -r '"the disk'"'"'s group commit alone: p50 \(.commit_ms.p50) ms, p99 \(.commit_ms.p99) ms"' "$OUT/disk.json")
    echo
    echo "the table, this run ($(date -u +%FT%TZ), $cores cores, $(uptime | sed 's/.*load average/load average/'))"
    echo
    echo "| | now | peer, same run | target |"
    echo "|---|---|---|---:|"
    echo "| course data end to end (5 lottery-agency processes) | $course; CPU floor $course_floor | the course's own system (Python central, Go agencies): $seed; PostgreSQL COPY of the same rows, pre-parsed: $copy_course | <= 22 ms and >= 90x the course system |"
    echo "| 100 agencies, 150-bet batches, sustained | $ingest | PostgreSQL COPY: $copy_ingest; the disk's append-and-sync model: $model | >= 85% of the disk's append-and-sync rate (bench/append_sync_model.py) |"
    echo "| 10,000 agencies offered 1 M bets/s: batch ack p99 | $scale | $disk | own p99 <= 5 ms, p99.9 <= 20 ms; round trip p99 <= 8 ms |"
}

main() {
    local what=${1:-all}
    case $what in
        course_prepare) course_prepare; return ;;
        course_agencies_timed) course_agencies "$OUT/course/run" "$(cat "$OUT/course/central.addr")"; return ;;
        # Internal, for tls_cost: one measurement, no build, no table.
        course_quiet) make_pki; course; return ;;
        ingest_quiet) make_pki; make_receipt_keys; ingest; return ;;
    esac
    log "load before: $(uptime)"
    if [ "$BUILD" = 1 ]; then
        log "building the release binaries"
        cargo build --release --bins -q
    fi
    log "measuring $BIN$([ "$TLS" = 1 ] && echo ' over mutual TLS')"
    make_pki
    make_receipt_keys
    case $what in
        all) disk; course; ingest; scale; growth; copy_anchors ;;
        table|issue14) disk; course; ingest; scale; copy_anchors ;;
        disk|course|ingest|scale|growth) $what ;;
        copy) copy_anchors ;;
        tls) tls_cost; return ;;
        http) http_cost; return ;;
        receipts) receipts_cost; return ;;
        syscalls) syscalls; return ;;
        *) log "unknown benchmark $what (disk, course, ingest, scale, growth, copy, table, tls, http, receipts, syscalls or all)"; exit 2 ;;
    esac
    log "load after: $(uptime)"
    table
    issue_table
}

main "$@"
