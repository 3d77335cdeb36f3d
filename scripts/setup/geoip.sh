#!/usr/bin/env bash
# Installs the GeoLite2 databases the geoip tests and conformance cases use, from the npm
# package `geolite2@1.3.0` (GeoLite2-City, -Country and -ASN .mmdb files, CC BY-SA 4.0,
# "This product includes GeoLite2 data created by MaxMind, available from
# https://www.maxmind.com"), into $HOME/.cache/logstash-mesos/npm, and writes their paths
# to $LSM_ENV_DIR/geoip.env. Idempotent: nothing is fetched when the files are present.
# The databases are test data only; the binary ships none (see README, geoip).
set -euo pipefail
NPM_DIR="${LSM_NPM_DIR:-$HOME/.cache/logstash-mesos/npm}"
ENV_DIR="${LSM_ENV_DIR:-$HOME/.cache/logstash-mesos/env}"
PKG="geolite2@1.3.0"
DBS="$NPM_DIR/node_modules/geolite2/dbs"
mkdir -p "$NPM_DIR" "$ENV_DIR"
if [ ! -s "$DBS/GeoLite2-City.mmdb" ] || [ ! -s "$DBS/GeoLite2-ASN.mmdb" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "geoip setup: npm is missing; installing it with apt-get" >&2
    (apt-get install -y npm >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y npm >/dev/null; })
  fi
  echo "geoip setup: npm install $PKG into $NPM_DIR"
  npm install --prefix "$NPM_DIR" --no-audit --no-fund --ignore-scripts "$PKG" >/dev/null
fi
for f in City ASN Country; do
  [ -s "$DBS/GeoLite2-$f.mmdb" ] || { echo "geoip setup: $DBS/GeoLite2-$f.mmdb missing after install" >&2; exit 1; }
done
cat > "$ENV_DIR/geoip.env" <<ENV
GEOIP_CITY_DB=$DBS/GeoLite2-City.mmdb
GEOIP_ASN_DB=$DBS/GeoLite2-ASN.mmdb
GEOIP_COUNTRY_DB=$DBS/GeoLite2-Country.mmdb
ENV
echo "geoip setup: databases in $DBS (paths in $ENV_DIR/geoip.env)"
