#!/usr/bin/env bash
# Builds `logstash-mesos-test:busybox`: a minimal image holding busybox-static and its
# applet links (sh, tail, stat, head, kill, ...), imported from a tarball since no image
# registry is reachable. A second image `logstash-mesos-test:notail` lacks `tail` and `sh`
# (busybox's shell runs its applets even without links, so the shell must go too), like a
# distroless image: the error path. Its containers run `/bin/busybox sh -c ...`. Idempotent: skips images that already exist.
set -euo pipefail
IMAGE=logstash-mesos-test:busybox
NOTAIL=logstash-mesos-test:notail
BUSYBOX=${BUSYBOX:-/bin/busybox}

build() {
    local tag=$1 skip=" $2 "
    if docker image inspect "$tag" >/dev/null 2>&1; then return; fi
    local root
    root=$(mktemp -d)
    mkdir -p "$root/bin" "$root/tmp" "$root/var/log" "$root/proc" "$root/sys" "$root/dev" "$root/etc"
    cp "$BUSYBOX" "$root/bin/busybox"
    for applet in $("$BUSYBOX" --list); do
        case "$skip" in *" $applet "*) continue ;; esac
        [ "$applet" = busybox ] && continue
        ln -s busybox "$root/bin/$applet"
    done
    chmod 1777 "$root/tmp"
    tar -C "$root" -c . | docker import -c 'ENV PATH=/bin' -c 'CMD ["/bin/sh"]' - "$tag" >/dev/null
    rm -rf "$root"
    echo "built $tag"
}

build "$IMAGE" ""
build "$NOTAIL" "tail sh ash"
