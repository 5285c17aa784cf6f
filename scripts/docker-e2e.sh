#!/usr/bin/env bash
# The Docker route run for real (README, "Docker"; .ci/run calls it): builds
# the images (scripts/docker-build.sh), writes the compose file with
# generar-compose.sh for five agencies, runs it in plaintext and then with
# --tls, and checks each run:
#   - every agency container and the central exit 0;
#   - each agency's winners, from its course-format log line
#     (`action: consulta_ganadores | result: success | cant_ganadores: K`),
#     match a direct scan of its file (on the course data: 2, 3, 3, 2, 0);
#   - the store in the volume holds, agency by agency, byte for byte the rows
#     a run of the same binaries outside containers stored (agencies' batches
#     interleave differently from run to run; each agency's own rows do not);
#   - `down` leaves no container, network or volume behind.
#
# Data: the course's ../shared/data/agency-{1..5}.csv beside the repository
# (or in $LOTTERY_COURSE_DATA) when present, copied only into the temporary
# directory, never into the repository; otherwise the synthetic data set
# `lottery-demo --write-data` writes.
#
# Everything it makes (a temporary directory, the containers, the network,
# the volume) is removed on exit, failure or not. It refuses to start when a
# container it would create already exists, rather than remove someone
# else's.
#
# Usage: scripts/docker-e2e.sh
#   CONTAINER_ENGINE  podman (default) or docker
#   COMPOSE           the compose command (default: podman-compose, or
#                     `docker compose` with docker)
#   CARGO_TARGET_DIR  as for cargo (default: target)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

agencies=5
# The names generar-compose.sh writes (the course's).
project=lottery
containers=(server)
for ((id = 1; id <= agencies; id++)); do
    containers+=("client$id")
done

fail() {
    printf 'docker-e2e.sh: FAIL: %s\n' "$1" >&2
    exit 1
}
say() { printf 'docker-e2e.sh: %s\n' "$1"; }

engine=${CONTAINER_ENGINE:-podman}
if [[ -n ${COMPOSE:-} ]]; then
    read -r -a compose <<<"$COMPOSE"
elif [[ $engine == docker ]]; then
    compose=(docker compose)
else
    compose=(podman-compose)
fi
command -v "$engine" >/dev/null 2>&1 || fail "$engine is not installed"
command -v "${compose[0]}" >/dev/null 2>&1 || fail "${compose[0]} is not installed"

for name in "${containers[@]}"; do
    if "$engine" container inspect "$name" >/dev/null 2>&1; then
        fail "a container named $name exists already: remove it first ($engine rm -f $name)"
    fi
done
for kind in network volume; do
    name=${project}_$([[ $kind == network ]] && echo net || echo store)
    if "$engine" "$kind" inspect "$name" >/dev/null 2>&1; then
        fail "a $kind named $name exists already: remove it first ($engine $kind rm $name)"
    fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/lottery-docker-e2e.XXXXXX")
compose_file=$work/docker-compose.yaml
cleanup() {
    local status=$?
    # The reference run's programs, if a failure left them running.
    local pid
    for pid in $(jobs -p); do
        kill "$pid" 2>/dev/null || true
    done
    if [[ -f $compose_file ]]; then
        "${compose[@]}" -p "$project" -f "$compose_file" down -v >/dev/null 2>&1 || true
    fi
    "$engine" rm -f "${containers[@]}" >/dev/null 2>&1 || true
    "$engine" network rm "${project}_net" >/dev/null 2>&1 || true
    "$engine" volume rm "${project}_store" >/dev/null 2>&1 || true
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT

CONTAINER_ENGINE=$engine scripts/docker-build.sh
bin=${CARGO_TARGET_DIR:-target}/x86_64-unknown-linux-gnu/release
bin=$(cd "$bin" && pwd)

# The data, in .data/ next to the compose file (where it mounts them from).
data=$work/.data
mkdir -p "$data"
course=${LOTTERY_COURSE_DATA:-$root/../shared/data}
have_course=1
for ((id = 1; id <= agencies; id++)); do
    [[ -f $course/agency-$id.csv ]] || have_course=
done
if [[ -n $have_course ]]; then
    for ((id = 1; id <= agencies; id++)); do
        cp "$course/agency-$id.csv" "$data/"
    done
    source="the course data ($course)"
else
    RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --locked \
        --target x86_64-unknown-linux-gnu -p lottery-examples --bin lottery-demo
    "$bin/lottery-demo" --write-data "$data" --agencies "$agencies"
    source="the synthetic data set (lottery-demo --write-data)"
fi
say "data: $source"

# A direct scan: bets playing the winning number (the central's default,
# 7574; the compose file sets none). The number is the last field.
expected=()
for ((id = 1; id <= agencies; id++)); do
    expected+=("$(tr -d '\r' <"$data/agency-$id.csv" | awk -F, '$NF == 7574' | wc -l)")
done
if [[ $source == "the course data"* && ${expected[*]} != "2 3 3 2 0" ]]; then
    fail "a direct scan of the course data finds winners ${expected[*]}, not 2 3 3 2 0"
fi
say "winners expected (direct scan): ${expected[*]}"

# Agency K's rows of a store, in store order, without the agency column.
rows_of() {
    awk -F, -v agency="$2" '$1 == agency { sub(/^[^,]*,/, ""); print }' "$1"
}

# The reference: the same static binaries on the host, on loopback.
reference=$work/reference
mkdir -p "$reference"
"$bin/lottery-server" --listen 127.0.0.1:0 --agencies "$agencies" --exit-when-done \
    --store "$reference/bets.csv" 2>"$reference/server.log" &
server_pid=$!
address=
for _ in $(seq 100); do
    address=$(sed -n 's/.*action: accept_connections | result: in_progress | listen: \([^ ]*\).*/\1/p' \
        "$reference/server.log")
    [[ -n $address ]] && break
    sleep 0.1
done
[[ -n $address ]] || fail "the reference central did not start: $(cat "$reference/server.log")"
pids=()
for ((id = 1; id <= agencies; id++)); do
    "$bin/lottery-agency" --id "$id" --server "$address" \
        --data "$data/agency-$id.csv" 2>"$reference/agency-$id.log" &
    pids+=($!)
done
for pid in "${pids[@]}"; do
    wait "$pid" || fail "a reference agency failed"
done
wait "$server_pid" || fail "the reference central exited non-zero"

# One compose run: up, wait for every container, check, down.
compose_run() {
    local label=$1
    shift
    say "$label: generar-compose.sh $* $compose_file $agencies"
    ./generar-compose.sh "$@" "$compose_file" "$agencies"
    local started=$SECONDS
    "${compose[@]}" -p "$project" -f "$compose_file" up -d >"$work/compose.log" 2>&1 ||
        fail "$label: up failed: $(cat "$work/compose.log")"
    local name code
    for name in "${containers[@]}"; do
        code=$("$engine" wait "$name")
        if [[ $code != 0 ]]; then
            "$engine" logs "$name" >&2 || true
            fail "$label: container $name exited $code"
        fi
    done
    local winners=()
    for ((id = 1; id <= agencies; id++)); do
        local line
        line=$("$engine" logs "client$id" 2>&1 |
            grep -E 'action: consulta_ganadores \| result: success \| cant_ganadores: [0-9]+$' || true)
        [[ $(printf '%s\n' "$line" | grep -c .) -eq 1 ]] ||
            fail "$label: client$id logged no single consulta_ganadores line"
        winners+=("${line##*cant_ganadores: }")
    done
    [[ ${winners[*]} == "${expected[*]}" ]] ||
        fail "$label: winners ${winners[*]}, expected ${expected[*]}"

    "$engine" cp server:/var/lib/lottery/bets.csv "$work/bets.csv"
    cmp -s <(wc -c <"$work/bets.csv") <(wc -c <"$reference/bets.csv") ||
        fail "$label: the volume's bets.csv is $(wc -c <"$work/bets.csv") bytes, the reference $(wc -c <"$reference/bets.csv")"
    for ((id = 1; id <= agencies; id++)); do
        cmp <(rows_of "$work/bets.csv" "$id") <(rows_of "$reference/bets.csv" "$id") ||
            fail "$label: agency $id's rows in the volume differ from the reference's"
    done
    local elapsed=$((SECONDS - started))

    "${compose[@]}" -p "$project" -f "$compose_file" down -v >"$work/compose.log" 2>&1 ||
        fail "$label: down failed: $(cat "$work/compose.log")"
    # podman-compose 1.0 (Debian bookworm's) removes the containers and the
    # volume but not the project's network: removing it is part of down
    # there, as in `make down ENGINE=podman`.
    if [[ ${compose[0]} == podman-compose ]] && "$engine" network exists "${project}_net"; then
        "$engine" network rm "${project}_net" >/dev/null
    fi
    for name in "${containers[@]}"; do
        if "$engine" container inspect "$name" >/dev/null 2>&1; then
            fail "$label: container $name is still there after down"
        fi
    done
    if "$engine" network inspect "${project}_net" >/dev/null 2>&1; then
        fail "$label: network ${project}_net is still there after down"
    fi
    if "$engine" volume inspect "${project}_store" >/dev/null 2>&1; then
        fail "$label: volume ${project}_store is still there after down"
    fi
    rm -f "$compose_file" "$work/bets.csv"
    say "$label: ok in ${elapsed}s (exit codes 0, winners ${winners[*]}, store $(wc -c <"$reference/bets.csv") bytes as the reference, clean down)"
}

compose_run plaintext
# The containers run as uid 10001 and lottery-admin writes keys mode 0600:
# these are throwaway certificates in a directory only we can enter, so
# making them readable is simpler than an ownership that rootless engines
# map differently.
LOTTERY_ADMIN=$bin/lottery-admin ./generar-compose.sh --tls "$work/tls" "$compose_file" "$agencies" >/dev/null
chmod 0644 "$work/tls/server.key" "$work"/tls/agency-*.key
compose_run "mutual TLS" --tls "$work/tls"
say "passed"
