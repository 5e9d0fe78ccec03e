#!/usr/bin/env bash
# Installs the web UI's npm packages from ui/package-lock.json when they are missing or stale.
set -euo pipefail
cd "$(dirname "$0")/../ui"
command -v npm >/dev/null || { echo "npm is required to build the web UI (Node.js 20.19+)"; exit 1; }
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "installing the UI's npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi
