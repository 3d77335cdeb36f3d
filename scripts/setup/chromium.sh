#!/usr/bin/env bash
# Installs headless Chromium and its WebDriver (Debian packages `chromium`,
# `chromium-driver`) for the scheduler's web UI test. Idempotent; run as root.
# The test finds `chromedriver` on PATH (or $CHROMEDRIVER) and `chromium` (or $CHROMIUM).
set -euo pipefail

if command -v chromedriver >/dev/null 2>&1 && command -v chromium >/dev/null 2>&1; then
    echo "chromium: $(chromium --version 2>/dev/null || echo present), chromedriver: $(command -v chromedriver)"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
marker=/var/lib/apt/.logstash-mesos-apt-updated
if [ ! -e "$marker" ]; then
    apt-get update
    mkdir -p "$(dirname "$marker")" && touch "$marker"
fi
apt-get install -y --no-install-recommends chromium chromium-driver
echo "chromium: $(chromium --version 2>/dev/null || echo installed), chromedriver: $(command -v chromedriver)"
