#!/usr/bin/env bash
# Runs one Strata node (embedded queue, data in ./strata-data, API and UI on port 8080),
# building the web UI first when it is missing or older than its sources. Extra arguments go
# to `strata serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f ui/dist/index.html ] || [ -n "$(find ui/src ui/index.html ui/package.json -newer ui/dist/index.html 2>/dev/null | head -1)" ]; then
  bash scripts/ui-deps.sh
  (cd ui && npm run build)
fi
exec cargo run --release --bin strata -- serve "$@"
