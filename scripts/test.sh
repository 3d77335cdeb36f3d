#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs and starts what the tests need
# (each scripts/setup/*.sh is idempotent), then runs every test of the workspace.
# Usage: scripts/test.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

# Builds are kept outside the clone so repeated runs on one machine reuse them.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/logstash-mesos/target}"
mkdir -p "$CARGO_TARGET_DIR"

# Services: each setup script installs what is missing, starts it, and may write
# environment settings for the tests to $LSM_ENV_DIR/<name>.env.
export LSM_ENV_DIR="${LSM_ENV_DIR:-$HOME/.cache/logstash-mesos/env}"
mkdir -p "$LSM_ENV_DIR"
for s in scripts/setup/*.sh; do
  [ -e "$s" ] || continue
  echo "== setup: $s"
  bash "$s"
done
for f in "$LSM_ENV_DIR"/*.env; do
  [ -e "$f" ] || continue
  set -a; . "$f"; set +a
done

# The quickstart test runs the example binary itself; `cargo test --all-targets` builds
# examples only as test harnesses, so build the program first (shares the test build's deps).
echo "== cargo build --example quickstart"
cargo build --workspace --example quickstart

echo "== cargo test (workspace)"
# (set +e: a failing run must still reach the summary line below.)
set +e
# The output goes to a file that `tail` follows, not through a pipe: a process a failed
# test left behind would hold a pipe open and keep the run from ever ending.
log="$CARGO_TARGET_DIR/test.log"
: > "$log"
cargo test --workspace --all-targets --no-fail-fast "$@" > "$log" 2>&1 &
cargo_pid=$!
tail -n +1 -f --pid="$cargo_pid" "$log" &
tail_pid=$!
wait "$cargo_pid"
status=$?
wait "$tail_pid" 2>/dev/null
# Processes tests started and did not stop (a failed test's shipper, say).
pkill -f "$CARGO_TARGET_DIR/debug/logstash-mesos" 2>/dev/null
set -e

# One closing line summing every test binary's results.
passed=$(grep -Eo 'test result: [a-zA-Z]+\. [0-9]+ passed' "$CARGO_TARGET_DIR/test.log" | awk '{s+=$4} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed;' "$CARGO_TARGET_DIR/test.log" | awk '{s+=$1} END {print s+0}')
echo "tests: $passed passed, $failed failed"
exit "$status"
