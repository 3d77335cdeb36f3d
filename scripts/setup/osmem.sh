#!/usr/bin/env bash
# Installs osmem-server, an Elasticsearch/OpenSearch-compatible in-memory server used by the
# elasticsearch output's integration tests (crates/pipeline/tests/es_*.rs). Idempotent.
# The tests start their own server processes on free ports; nothing is started here.
# Env the tests read: OSMEM_SERVER_BIN (path of the binary, default: found on PATH), CI.
set -euo pipefail

if command -v osmem-server >/dev/null 2>&1 && osmem-server -version >/dev/null 2>&1; then
    echo "osmem-server: $(command -v osmem-server)"
    exit 0
fi

if ! command -v pip >/dev/null 2>&1 && ! command -v pip3 >/dev/null 2>&1; then
    marker=/var/tmp/.logstash-mesos-apt-updated
    if [ ! -f "$marker" ]; then
        apt-get update
        touch "$marker"
    fi
    apt-get install -y python3-pip
fi

PIP=$(command -v pip || command -v pip3)
"$PIP" install --break-system-packages osmem-server 2>/dev/null || "$PIP" install osmem-server

# The wheel ships a static binary inside the package rather than a console script: link it
# onto PATH so the tests (and people) find it by name.
BIN=$(python3 -c 'import osmem_server; print(osmem_server.resolve_binary())')
ln -sf "$BIN" /usr/local/bin/osmem-server
command -v osmem-server >/dev/null 2>&1 || { echo "osmem-server not on PATH after install" >&2; exit 1; }
echo "osmem-server: $(command -v osmem-server)"
