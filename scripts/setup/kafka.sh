#!/usr/bin/env bash
# Installs what the Kafka plugins and their tests need. Idempotent; run as root.
#
# 1. Build dependencies of librdkafka, which the `rdkafka` crate compiles from its bundled
#    sources (feature `cmake-build`: Debian's librdkafka-dev is 2.0.x, older than the 2.12
#    the crate binds): cmake, a C/C++ compiler, pkg-config, OpenSSL, zlib and libcurl
#    (OAUTHBEARER/OIDC) headers.
# 2. An Apache Kafka 4.x broker (KRaft, no ZooKeeper) from Maven Central: the small Maven
#    project in scripts/kafka/ copies `kafka_2.13` and its runtime dependencies into
#    $HOME/.cache/logstash-mesos/kafka/libs. Java 17 runs it.
#
# It does not start a broker: each Kafka test starts its own (fresh log dir, free ports)
# so it can stop and restart it. It writes $LSM_ENV_DIR/kafka.env with
# KAFKA_LIBS=<dir of jars> and KAFKA_JAVA=<java binary>, which the tests read (from the
# environment, or from that file).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)

export DEBIAN_FRONTEND=noninteractive
need=()
for bin_pkg in cmake:cmake g++:g++ make:make pkg-config:pkg-config mvn:maven java:openjdk-17-jre-headless; do
    command -v "${bin_pkg%%:*}" >/dev/null 2>&1 || need+=("${bin_pkg#*:}")
done
for pkg in libssl-dev zlib1g-dev libcurl4-openssl-dev; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    marker=/var/lib/apt/.logstash-mesos-apt-updated
    if [ ! -e "$marker" ]; then
        apt-get update
        mkdir -p "$(dirname "$marker")" && touch "$marker"
    fi
    apt-get install -y --no-install-recommends "${need[@]}"
fi

home="$HOME/.cache/logstash-mesos/kafka"
libs="$home/libs"
pom="$ROOT/scripts/kafka/pom.xml"
# Re-copy when the pom changed (another Kafka version), else keep what is there.
stamp="$home/pom.sha256"
want=$(sha256sum "$pom" | cut -d' ' -f1)
if [ ! -f "$libs/.complete" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    rm -rf "$libs"
    mkdir -p "$libs"
    mvn -q -B -f "$pom" dependency:copy-dependencies \
        -DoutputDirectory="$libs" -DincludeScope=runtime
    ls "$libs"/kafka_2.13-*.jar >/dev/null
    echo "$want" > "$stamp"
    touch "$libs/.complete"
fi

java_bin=$(command -v java)
# A quick check that the jars run: the storage tool prints a cluster id.
"$java_bin" -cp "$libs/*" kafka.tools.StorageTool random-uuid >/dev/null

env_dir="${LSM_ENV_DIR:-$HOME/.cache/logstash-mesos/env}"
mkdir -p "$env_dir"
printf 'KAFKA_LIBS=%s\nKAFKA_JAVA=%s\n' "$libs" "$java_bin" > "$env_dir/kafka.env"
echo "kafka: broker jars in $libs (kafka_2.13 $(ls "$libs" | sed -n 's/^kafka_2.13-\(.*\)\.jar$/\1/p'))"
