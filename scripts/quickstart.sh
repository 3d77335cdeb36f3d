#!/usr/bin/env bash
# One command for a local demo of the whole journey: the Mesos master simulator, a node
# with its own Docker daemon and a container writing NGINX access logs, the scheduler, the
# agent it launches, and osmem-server as the search engine (without it, the agent's
# stdout). Prints where to look; Ctrl-C stops everything (examples/quickstart.rs).
#   scripts/quickstart.sh             run until Ctrl-C
#   scripts/quickstart.sh --check N   exit 0 once N parsed lines are indexed (CI)
# Needs root for Docker (scripts/setup/docker.sh installs and starts it).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/logstash-mesos/target}"
export LSM_ENV_DIR="${LSM_ENV_DIR:-$HOME/.cache/logstash-mesos/env}"
mkdir -p "$LSM_ENV_DIR"
for s in docker osmem; do
  bash "scripts/setup/$s.sh" >/dev/null
done
for f in "$LSM_ENV_DIR"/*.env /tmp/logstash-mesos-docker.env; do
  [ -e "$f" ] || continue
  set -a; . "$f"; set +a
done
# The test suite passes the binaries it already built; otherwise build them here.
if [ -z "${QUICKSTART_EXAMPLE:-}" ]; then
  [ -e scripts/setup/ruby.sh ] && bash scripts/setup/ruby.sh >/dev/null
  cargo build --quiet --bin logstash-mesos --example quickstart
  QUICKSTART_EXAMPLE="$CARGO_TARGET_DIR/debug/examples/quickstart"
  export LOGSTASH_MESOS_BIN="$CARGO_TARGET_DIR/debug/logstash-mesos"
fi
exec "$QUICKSTART_EXAMPLE" "$@"
