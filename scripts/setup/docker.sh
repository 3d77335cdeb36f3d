#!/usr/bin/env bash
# Installs and starts a Docker daemon for the agent's integration tests, then builds the
# test image `logstash-mesos-test:busybox` from a busybox-static rootfs (no registry is
# reachable, so the image is made with `docker import`). Idempotent; run as root.
# Prints the DOCKER_HOST to use and writes it to /tmp/logstash-mesos-docker.env.
set -euo pipefail

MARKER=/var/lib/logstash-mesos-apt-updated
need_install=0
command -v dockerd >/dev/null 2>&1 || need_install=1
[ -x /bin/busybox ] || need_install=1
if [ "$need_install" = 1 ]; then
    if [ ! -f "$MARKER" ]; then
        apt-get update
        touch "$MARKER"
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y docker.io busybox-static
fi

answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if ! answers; then
    mkdir -p /var/log
    # vfs works on any filesystem (overlay inside a container often does not); no
    # iptables/bridge because the sandbox may not allow them and tests use --network none.
    nohup dockerd --storage-driver=vfs --iptables=false --ip6tables=false --bridge=none \
        >/var/log/logstash-mesos-dockerd.log 2>&1 &
    for _ in $(seq 1 120); do
        answers && break
        sleep 0.5
    done
    if ! answers; then
        echo "dockerd did not come up; last log lines:" >&2
        tail -n 30 /var/log/logstash-mesos-dockerd.log >&2 || true
        exit 1
    fi
fi

"$(dirname "$0")/../../testdata/docker/build-image.sh"

echo "DOCKER_HOST=unix:///var/run/docker.sock" | tee /tmp/logstash-mesos-docker.env
