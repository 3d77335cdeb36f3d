#!/usr/bin/env bash
# Whole-process benchmark of an idle scheduler serving many nodes (tests/scheduler_idle.rs):
# the release binary against the master simulator; prints per-minute CPU, RSS and offer
# churn. Env: IDLE_NODES (1000), IDLE_MINUTES (10).
# Usage: scripts/bench-scheduler-idle.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/logstash-mesos/target}"
cargo build --release --bin logstash-mesos
export LOGSTASH_MESOS_BIN="$CARGO_TARGET_DIR/release/logstash-mesos"
exec cargo test --release --test scheduler_idle -- --ignored --nocapture
