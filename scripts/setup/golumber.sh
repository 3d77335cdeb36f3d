#!/usr/bin/env bash
# Go and the go-lumber module for the beats input's tests (crates/pipeline/tests/net_beats.rs
# builds testdata/beats/client, a Lumberjack v2 client on github.com/elastic/go-lumber).
# Idempotent; run as root. Uses /usr/local/go when present, else Debian's golang-go.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

here="$(cd "$(dirname "$0")/../.." && pwd)"
go=""
for g in /usr/local/go/bin/go "$(command -v go || true)"; do
    if [ -n "$g" ] && [ -x "$g" ]; then go="$g"; break; fi
done
if [ -z "$go" ]; then
    marker=/var/lib/apt/.logstash-mesos-apt-updated
    if [ ! -e "$marker" ]; then
        apt-get update
        mkdir -p "$(dirname "$marker")" && touch "$marker"
    fi
    apt-get install -y --no-install-recommends golang-go ca-certificates
    go="$(command -v go)"
fi
# Fetch the module (from the Go module proxy) so the test's `go build` runs offline.
cd "$here/testdata/beats/client"
"$go" mod download
"$go" build -o /dev/null .
echo "go-lumber client builds with $("$go" version)"
