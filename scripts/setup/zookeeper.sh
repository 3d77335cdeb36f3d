#!/usr/bin/env bash
# Installs ZooKeeper (Debian package `zookeeper`) and starts a standalone server on
# 127.0.0.1:2181 in the background, for the scheduler's zk:// tests. Idempotent;
# run as root. Writes the address to /tmp/logstash-mesos-zookeeper.env
# (ZOOKEEPER=127.0.0.1:2181), which the tests also accept from the environment.
set -euo pipefail

addr=127.0.0.1:2181
export DEBIAN_FRONTEND=noninteractive

if [ ! -x /usr/share/zookeeper/bin/zkServer.sh ] && ! dpkg -s zookeeper >/dev/null 2>&1; then
    marker=/var/lib/apt/.logstash-mesos-apt-updated
    if [ ! -e "$marker" ]; then
        apt-get update
        mkdir -p "$(dirname "$marker")" && touch "$marker"
    fi
    apt-get install -y --no-install-recommends zookeeper
fi

up() { (exec 3<>/dev/tcp/127.0.0.1/2181 && printf 'ruok' >&3 && timeout 2 cat <&3) 2>/dev/null | grep -q imok; }

if ! up; then
    datadir=/tmp/logstash-mesos-zookeeper
    mkdir -p "$datadir"
    cat > "$datadir/zoo.cfg" <<CFG
tickTime=2000
dataDir=$datadir/data
clientPort=2181
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=ruok,stat
CFG
    cp /etc/zookeeper/conf/log4j.properties "$datadir/" 2>/dev/null || true
    # Debian's wrapper finds the jars and java; it daemonizes the server.
    ZOOCFGDIR="$datadir" ZOO_LOG_DIR="$datadir" \
        /usr/share/zookeeper/bin/zkServer.sh start "$datadir/zoo.cfg" >"$datadir/start.log" 2>&1 || true
    for _ in $(seq 1 60); do
        up && break
        sleep 1
    done
fi
up || { echo "zookeeper did not start; see /tmp/logstash-mesos-zookeeper/server.log" >&2; exit 1; }
echo "ZOOKEEPER=$addr" > /tmp/logstash-mesos-zookeeper.env
echo "zookeeper listening on $addr"
