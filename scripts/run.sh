#!/usr/bin/env bash
# Builds the binary and runs the demo pipeline on testdata/demo/access.log.
#   scripts/run.sh                      → parsed events as JSON lines on stdout
#   scripts/run.sh http://127.0.0.1:9200 → indexed into that Elasticsearch
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/logstash-mesos/target}"
# The binary embeds Ruby (the ruby filter): headers and libruby must be installed.
bash scripts/setup/ruby.sh >/dev/null
cargo build --release --quiet
BIN="$CARGO_TARGET_DIR/release/logstash-mesos"
if [ $# -ge 1 ]; then
  export ES_HOSTS="$1"
  OUT=testdata/demo/output-es.conf
else
  OUT=testdata/demo/output-stdout.conf
fi
"$BIN" --path.data "${TMPDIR:-/tmp}/logstash-mesos-demo" -f testdata/demo/pipeline.conf -f "$OUT" < testdata/demo/access.log
