#!/usr/bin/env bash
# Installs graypy (PyPI), a Graylog GELF client library, for the gelf input's tests with a
# real sender (UDP chunked + zlib, TCP). Idempotent.
set -euo pipefail
if ! python3 -c 'import graypy' 2>/dev/null; then
    python3 -m pip install --quiet 'graypy==2.1.0'
fi
python3 -c 'import graypy; print("graypy", graypy.__version__ if hasattr(graypy, "__version__") else "installed")'
