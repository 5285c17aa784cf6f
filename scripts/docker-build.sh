#!/usr/bin/env bash
# Builds the images lottery-server:latest and lottery-agency:latest (README,
# "Docker"; `make docker-build` runs this).
#
# The images hold nothing but statically linked binaries (docker/Dockerfile.*
# start FROM scratch), so no base image is pulled from any registry: cargo
# builds the binaries here, for the gnu target with crt-static, and the
# engine only copies them in. Also builds lottery-admin the same way, for
# `generar-compose.sh --tls` (LOTTERY_ADMIN).
#
# Usage: scripts/docker-build.sh
#   CONTAINER_ENGINE  docker or podman (default: docker if its daemon answers, else podman)
#   CARGO_TARGET_DIR  as for cargo (default: target)
# The static binaries stay in $CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
    printf 'docker-build.sh: %s\n' "$1" >&2
    exit 1
}

engine=${CONTAINER_ENGINE:-}
if [[ -z $engine ]]; then
    # A docker client with no daemon behind it is no engine.
    if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
        engine=docker
    elif command -v podman >/dev/null 2>&1; then
        engine=podman
    else
        fail "no docker daemon answers and podman is not installed (or set CONTAINER_ENGINE)"
    fi
fi

# An explicit --target: RUSTFLAGS then apply to the binaries only, not to
# build scripts and proc macros, and the artifacts land in their own
# directory, so the host's ordinary builds are not invalidated.
triple=x86_64-unknown-linux-gnu
RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --locked --target "$triple" \
    -p lottery-server -p lottery-examples \
    --bin lottery-server --bin lottery-agency --bin lottery-admin
bin=${CARGO_TARGET_DIR:-target}/$triple/release

# A scratch image has no dynamic loader or shared libraries: refuse a binary
# that would need them rather than ship an image that cannot start.
for program in lottery-server lottery-agency lottery-admin; do
    if LC_ALL=C readelf --program-headers --wide "$bin/$program" | grep -q INTERP; then
        fail "$bin/$program is dynamically linked (it names a program interpreter)"
    fi
done

context=${CARGO_TARGET_DIR:-target}/docker-context
rm -rf "$context"
mkdir -p "$context/store"
cp "$bin/lottery-server" "$bin/lottery-agency" "$context/"
# The release profile keeps line tables for profiling; an image has no use
# for them (they are most of a binary's size).
strip --strip-debug "$context/lottery-server" "$context/lottery-agency"
"$engine" build -f docker/Dockerfile.server -t lottery-server:latest "$context"
"$engine" build -f docker/Dockerfile.agency -t lottery-agency:latest "$context"
rm -rf "$context"
