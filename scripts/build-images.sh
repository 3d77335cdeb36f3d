#!/usr/bin/env bash
# Builds the scheduler and agent container images (docker/*.Dockerfile) on the local Docker
# daemon, from scratch: no base image is pulled, no registry is needed.
#   scripts/build-images.sh                    → builds the release binary first
#   scripts/build-images.sh --binary PATH      → uses that binary (the tests pass theirs)
#   scripts/build-images.sh --tag VERSION      → tags other than the crate's version
# Images: logstash-mesos/scheduler:<version> and logstash-mesos/agent:<version>, the names
# dcos/resource.json gives. The binary links glibc dynamically: the libraries `ldd` lists
# are copied in with it, and busybox-static provides /bin/sh (Marathon runs `cmd` with
# it) and wget (the health checks).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=""
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) BIN="$2"; shift 2 ;;
    --tag) VERSION="$2"; shift 2 ;;
    *) echo "usage: $0 [--binary PATH] [--tag VERSION]" >&2; exit 2 ;;
  esac
done
if [ -z "$BIN" ]; then
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/logstash-mesos/target}"
  [ -x scripts/setup/ruby.sh ] && bash scripts/setup/ruby.sh >/dev/null
  cargo build --release --quiet --bin logstash-mesos
  BIN="$CARGO_TARGET_DIR/release/logstash-mesos"
fi
[ -x "$BIN" ] || { echo "no executable at $BIN" >&2; exit 1; }
BUSYBOX=$(command -v busybox || true)
if [ -z "$BUSYBOX" ] || ! file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked'; then
  BUSYBOX=/bin/busybox
fi
[ -x "$BUSYBOX" ] || { echo "busybox-static missing: apt-get install -y busybox-static" >&2; exit 1; }

CTX=$(mktemp -d "${TMPDIR:-/tmp}/lsm-image.XXXXXX")
trap 'rm -rf "$CTX"' EXIT
R="$CTX/rootfs"
mkdir -p "$R/usr/local/bin" "$R/bin" "$R/etc/ssl/certs" "$R/tmp"
chmod 1777 "$R/tmp"
cp "$BIN" "$R/usr/local/bin/logstash-mesos"
strip "$R/usr/local/bin/logstash-mesos" 2>/dev/null || true
# Every shared library the binary loads, at the path the dynamic linker looks for it.
ldd "$BIN" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u | while read -r lib; do
  mkdir -p "$R$(dirname "$lib")"
  cp -L "$lib" "$R$lib"
done
# With the ruby filter built in, the embedded interpreter also needs Ruby's own library.
if ldd "$BIN" | grep -q libruby && command -v ruby >/dev/null; then
  for d in $(ruby -e 'print [RbConfig::CONFIG["rubylibdir"], RbConfig::CONFIG["archdir"]].join(" ")'); do
    mkdir -p "$R$d" && cp -a "$d/." "$R$d/"
  done
fi
cp "$BUSYBOX" "$R/bin/busybox"
for applet in sh wget cat ls ps kill sleep env; do ln -sf busybox "$R/bin/$applet"; done
[ -f /etc/ssl/certs/ca-certificates.crt ] && cp /etc/ssl/certs/ca-certificates.crt "$R/etc/ssl/certs/"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n' > "$R/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$R/etc/group"

for image in scheduler agent; do
  docker build -q -f "$ROOT/docker/$image.Dockerfile" -t "logstash-mesos/$image:$VERSION" "$CTX" >/dev/null
  echo "logstash-mesos/$image:$VERSION"
done
