#!/usr/bin/env bash
# Bucket figures: upload throughput to a local S3 server (moto) and a cold query over evicted
# segments vs the time to download them. Uses the query benchmark's segments; creates them
# (2M events) if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh >/dev/null
dir=${1:-target/query-bench}
if [ ! -f "$dir/events.tsv" ]; then
  cargo run --release -q -p strata --example query_bench -- 2000000 "$dir" 1 >/dev/null
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m moto.server -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
moto=$!
trap 'kill $moto' EXIT
for _ in $(seq 100); do curl -sf -X PUT "http://127.0.0.1:$port/bench" >/dev/null && break; sleep 0.1; done
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1
cargo run --release -q -p strata --example bucket_bench -- "http://127.0.0.1:$port" bench "$dir"
