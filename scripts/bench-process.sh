#!/usr/bin/env bash
# Whole-process throughput, measured from outside with /usr/bin/time (issue 18's runs).
#
# Generates N Apache combined lines (testdata/bench/apache.log repeated), runs the release
# binary on them in each setup below, checks the output's line count and a sample of its
# fields, and prints lines/s, CPU seconds (user+sys) and peak RSS: the median of RUNS runs.
#
# Usage: scripts/bench-process.sh [N lines, default 1000000]
# Env:   RUNS (default 3), LOGSTASH_MESOS_BIN (default: cargo build --release), CASES (a
#        regex selecting setups by name, default all)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
RUNS=${RUNS:-3}
CASES=${CASES:-.}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/logstash-mesos/target}"
if [ -z "${LOGSTASH_MESOS_BIN:-}" ]; then
  cargo build --release --quiet --bin logstash-mesos
  LOGSTASH_MESOS_BIN="$CARGO_TARGET_DIR/release/logstash-mesos"
fi
BIN=$LOGSTASH_MESOS_BIN
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# The corpus: the committed 5,000-line sample repeated up to N lines.
CORPUS="$WORK/corpus.log"
python3 - "$N" "$CORPUS" <<'EOF'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
lines = open("testdata/bench/apache.log").read().splitlines(True)
with open(path, "w") as out:
    full, rest = divmod(n, len(lines))
    block = "".join(lines)
    for _ in range(full):
        out.write(block)
    out.write("".join(lines[:rest]))
EOF
BYTES=$(stat -c %s "$CORPUS")

GROK='grok { match => { "message" => "%{COMBINEDAPACHELOG}" } ecs_compatibility => disabled }'
OUT="$WORK/out.json"

# name | extra flags | input | output
setups() {
  cat <<EOF
stdin-grok-file|-w 2|stdin {}|file { path => "$OUT" codec => json_lines }
stdin-grok-null|-w 2|stdin {}|null {}
stdin-grok-file-w1|-w 1|stdin {}|file { path => "$OUT" codec => json_lines }
fileinput-grok-file|-w 2|file { path => "$CORPUS" mode => read file_completed_action => log file_completed_log_path => "$WORK/done.log" exit_after_read => true sincedb_path => "/dev/null" }|file { path => "$OUT" codec => json_lines }
EOF
}

# Checks the output: N lines, and fields of the first and last events.
check() {
  python3 - "$OUT" "$N" <<'EOF'
import json, sys
path, n = sys.argv[1], int(sys.argv[2])
count, first, last = 0, None, None
with open(path) as f:
    for line in f:
        count += 1
        if first is None:
            first = line
        last = line
if count != n:
    sys.exit(f"expected {n} events, got {count}")
for l in (first, last):
    e = json.loads(l)
    for k in ("clientip", "verb", "request", "response", "agent", "@timestamp", "message"):
        if k not in e:
            sys.exit(f"field {k} missing in {l[:200]}")
EOF
}

printf '%s lines, %s MB; median of %s runs\n' "$N" "$((BYTES / 1000000))" "$RUNS"
printf '%-22s %12s %10s %10s %10s\n' setup lines/s wall-s cpu-s rss-MiB
setups | while IFS='|' read -r name flags input output; do
  [[ "$name" =~ $CASES ]] || continue
  conf="input { $input } filter { $GROK } output { $output }"
  results=()
  for _ in $(seq "$RUNS"); do
    rm -f "$OUT" "$WORK/done.log"
    # shellcheck disable=SC2086
    if [[ "$input" == stdin* ]]; then
      /usr/bin/time -f '%e %U %S %M' -o "$WORK/time" "$BIN" $flags --path.data "$WORK/data" -e "$conf" --log.level warn < "$CORPUS"
    else
      /usr/bin/time -f '%e %U %S %M' -o "$WORK/time" "$BIN" $flags --path.data "$WORK/data" -e "$conf" --log.level warn < /dev/null
    fi
    if [[ "$output" == file* ]]; then check; fi
    results+=("$(cat "$WORK/time")")
  done
  printf '%s\n' "${results[@]}" | python3 -c '
import sys, statistics
name, n = sys.argv[1], int(sys.argv[2])
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
wall = statistics.median(r[0] for r in rows)
cpu = statistics.median(r[1] + r[2] for r in rows)
rss = statistics.median(r[3] for r in rows) / 1024
print(f"{name:<22} {n / wall:12,.0f} {wall:10.2f} {cpu:10.2f} {rss:10.1f}")
' "$name" "$N"
done
