#!/usr/bin/env bash
# Installs the real network senders the tcp/udp/syslog input tests use: socat (plain and
# OPENSSL: connections), nc (netcat-openbsd), rsyslogd (forwarding with omfwd), logger
# (bsdutils; --rfc3164/--rfc5424 over --tcp/--udp) and curl (the http input tests use it
# too). Idempotent; run as root. Nothing is started: each test runs its own senders.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

need=()
command -v socat >/dev/null 2>&1 || need+=(socat)
# The tests need OpenBSD's nc (-N: close after stdin's end; -u: udp).
dpkg -s netcat-openbsd >/dev/null 2>&1 || need+=(netcat-openbsd)
[ -x /usr/sbin/rsyslogd ] || command -v rsyslogd >/dev/null 2>&1 || need+=(rsyslog)
command -v logger >/dev/null 2>&1 || need+=(bsdutils)
command -v curl >/dev/null 2>&1 || need+=(curl ca-certificates)
command -v openssl >/dev/null 2>&1 || need+=(openssl)

if [ ${#need[@]} -gt 0 ]; then
    marker=/var/lib/apt/.logstash-mesos-apt-updated
    if [ ! -e "$marker" ]; then
        apt-get update
        mkdir -p "$(dirname "$marker")" && touch "$marker"
    fi
    apt-get install -y --no-install-recommends "${need[@]}"
fi

# rsyslog's package may start a system daemon where an init system runs; the tests run
# their own rsyslogd with their own config and never use the system one.
for tool in socat nc logger curl; do
    command -v "$tool" >/dev/null || { echo "nettools: $tool missing after install" >&2; exit 1; }
done
[ -x /usr/sbin/rsyslogd ] || { echo "nettools: rsyslogd missing after install" >&2; exit 1; }
logger --help 2>&1 | grep -q -- --rfc5424 || { echo "nettools: this logger has no --rfc5424" >&2; exit 1; }
echo "nettools: socat nc rsyslogd logger curl installed"
