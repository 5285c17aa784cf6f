#!/usr/bin/env bash
# Runs N random kill trials of the crash test (default 50), release build:
# the real lottery-server killed with SIGKILL at random moments (and, in some
# trials, agencies too), restarted on the same store and port, and every
# promise of issue 6 checked after each trial. Each trial prints its seed;
# replay one with:
#   CRASH_SEED=0x... scripts/crash-trials.sh 1
# CRASH_SEED with N > 1 sets the base seed the trials' seeds are drawn from.
set -euo pipefail
cd "$(dirname "$0")/.."
count="${1:-50}"
case "$count" in
    ''|*[!0-9]*) echo "usage: $0 [N]   (N: how many trials, default 50)" >&2; exit 2 ;;
esac
export CRASH_TRIALS="$count"
exec cargo test --release -p lottery-examples --test crash many_random_kill_trials \
    -- --ignored --nocapture
