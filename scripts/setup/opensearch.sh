#!/usr/bin/env bash
# Installs a real OpenSearch 2.19 node for the tests and benches (the default server of the
# elasticsearch/opensearch outputs' integration tests and of benches/es_loopback.rs).
# Idempotent: the jars (server, transport-netty4-client, mapper-extras, lang-painless,
# analysis-common; resolved from Maven Central by scripts/opensearch/pom.xml) and the small
# launcher are built into $OPENSEARCH_CACHE only when missing or when the Maven project
# changed. Nothing is left running: the tests start their own nodes (fresh data dir, free
# port, small heap) through crates/pipeline/tests/es_support/opensearch.rs.
#
# Writes $LSM_ENV_DIR/opensearch.env (read by scripts/test.sh):
#   OPENSEARCH_CLASSPATH  the JVM classpath (launcher jar + lib/*)
#   OPENSEARCH_MAIN       the launcher's main class
#   OPENSEARCH_JAVA       the java binary (Java 17; OpenSearch 2.19 is the last line for it)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
PROJECT="$ROOT/scripts/opensearch"
CACHE="${OPENSEARCH_CACHE:-$HOME/.cache/logstash-mesos/opensearch}"
LSM_ENV_DIR="${LSM_ENV_DIR:-$HOME/.cache/logstash-mesos/env}"
MAIN=org.logstash_mesos.opensearch.OpenSearchNode

if ! command -v java >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then
    marker=/var/tmp/.logstash-mesos-apt-updated
    if [ ! -f "$marker" ]; then
        apt-get update
        touch "$marker"
    fi
    apt-get install -y openjdk-17-jdk-headless maven
fi
JAVA=$(command -v java)

# The install is keyed by the Maven project's content: a changed pom or launcher rebuilds.
key=$(cat "$PROJECT/pom.xml" $(find "$PROJECT/src" -type f | sort) | sha256sum | cut -c1-16)
DIR="$CACHE/$key"
if [ ! -f "$DIR/installed" ]; then
    echo "opensearch: installing into $DIR"
    rm -rf "$DIR.tmp"
    mkdir -p "$DIR.tmp"
    mvn -B -q -f "$PROJECT/pom.xml" -Dlsm.build.dir="$DIR.tmp/build" \
        package dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$DIR.tmp/lib"
    cp "$DIR.tmp/build/opensearch-test-node-1.jar" "$DIR.tmp/launcher.jar"
    rm -rf "$DIR.tmp/build"
    # Prove it starts before calling it installed.
    home=$(mktemp -d)
    "$JAVA" -Xms256m -Xmx512m -cp "$DIR.tmp/launcher.jar:$DIR.tmp/lib/*" "$MAIN" \
        "path.home=$home" >"$home/node.log" 2>&1 < <(sleep 120) &
    pid=$!
    for _ in $(seq 1 120); do
        [ -f "$home/ready.json" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 1
    done
    if [ ! -f "$home/ready.json" ]; then
        echo "opensearch: the node did not start:" >&2
        tail -50 "$home/node.log" >&2
        kill "$pid" 2>/dev/null || true
        exit 1
    fi
    url=$(sed -n 's/.*"url":"\([^"]*\)".*/\1/p' "$home/ready.json")
    curl -fsS "$url/_cluster/health?wait_for_status=green&timeout=30s" >/dev/null
    echo "opensearch: $(curl -fsS "$url" | tr -d '\n ' | sed -n 's/.*"number":"\([^"]*\)".*/version \1/p') answered on $url"
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -rf "$home"
    touch "$DIR.tmp/installed"
    rm -rf "$DIR"
    mv "$DIR.tmp" "$DIR"
    # Installs of an older Maven project are no longer used.
    for old in "$CACHE"/*; do
        [ "$old" = "$DIR" ] || [ "$old" = "$CACHE/current" ] || rm -rf "$old"
    done
fi

mkdir -p "$LSM_ENV_DIR"
cat >"$LSM_ENV_DIR/opensearch.env" <<ENV
OPENSEARCH_CLASSPATH=$DIR/launcher.jar:$DIR/lib/*
OPENSEARCH_MAIN=$MAIN
OPENSEARCH_JAVA=$JAVA
ENV
# The same, at a fixed place, for a plain 'cargo test' that did not source the env file.
ln -sfn "$DIR" "$CACHE/current"
echo "opensearch: $DIR (env: $LSM_ENV_DIR/opensearch.env)"
