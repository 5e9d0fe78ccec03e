#!/usr/bin/env python3
"""Strata's query engine side by side with ClickHouse (chdb, MergeTree) on the same events.

Usage: python3 scripts/bench-query.py [events] [dir]   (defaults: 2000000, target/query-bench)
Installs chdb from PyPI if missing. Prints a table of medians and ratios (ClickHouse / Strata:
above 1 means Strata is faster), measured in the same run on the same machine.
"""
import json, os, statistics, subprocess, sys, time

n = sys.argv[1] if len(sys.argv) > 1 else "2000000"
d = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else "target/query-bench")
runs = 5
try:
    import chdb  # noqa
except ImportError:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "chdb"])
from chdb import session

out = subprocess.run(["cargo", "run", "--release", "-q", "-p", "strata", "--example", "query_bench", "--", n, d, str(runs)],
                     check=True, capture_output=True, text=True).stdout
strata = [json.loads(l) for l in out.splitlines() if l.strip()]

sess = session.Session(os.path.join(d, "chdb"))
sess.query("CREATE DATABASE IF NOT EXISTS b")
have = sess.query("SELECT count() FROM system.tables WHERE database='b' AND name='logs'", "CSV").bytes().decode().strip()
if have != "1":
    sess.query("""CREATE TABLE b.logs (ts DateTime64(3), raw String, level String, service String,
                  host String, latency_ms UInt32) ENGINE = MergeTree ORDER BY ts""")
    t = time.time()
    sess.query(f"""INSERT INTO b.logs SELECT fromUnixTimestamp64Milli(t), raw, level, service, host, lat
                   FROM file('{d}/events.tsv', 'TabSeparated', 't Int64, raw String, level String, service String, host String, lat UInt32')""")
    sess.query("OPTIMIZE TABLE b.logs FINAL")
    print(f"loaded ClickHouse in {time.time()-t:.1f} s", file=sys.stderr)

sql = {
    "needle": "SELECT raw FROM b.logs WHERE positionCaseInsensitive(raw, 'some rare token') > 0 ORDER BY ts DESC LIMIT 100",
    "timeout_count": "SELECT count() FROM b.logs WHERE positionCaseInsensitive(raw, 'timeout') > 0",
    "error_groupby_service": "SELECT service, count() FROM b.logs WHERE level = 'ERROR' GROUP BY service",
    "groupby_host_avg": "SELECT host, avg(latency_ms) FROM b.logs GROUP BY host",
    "timechart_1h": "SELECT toStartOfHour(ts) AS b, count() FROM b.logs GROUP BY b ORDER BY b",
}
ch = {}
for name, q in sql.items():
    sess.query(q + " SETTINGS max_threads=2", "CSV")
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        sess.query(q + " SETTINGS max_threads=2", "CSV")
        ts.append(time.perf_counter() - t)
    ch[name] = statistics.median(ts) * 1e3

base = next(s for s in strata if s["name"] == "baseline_memmem_1core")
print(f"raw bytes {base['raw_bytes']/1e6:.0f} MB; memmem baseline {base['gb_per_s']:.2f} GB/s on one core")
print(f"{'query':24} {'threads':>7} {'cache':>6} {'strata ms':>10} {'clickhouse ms':>14} {'CH/strata':>10} {'GB/s/core':>10}")
for s in strata:
    if s["name"] in ch:
        c = "warm" if s.get("cached") else "cold"
        print(f"{s['name']:24} {s['threads']:>7} {c:>6} {s['ms']:>10.1f} {ch[s['name']]:>14.1f} {ch[s['name']]/s['ms']:>10.2f} {s['per_core_gb_per_s']:>10.2f}")
needle = min(s['ms'] for s in strata if s['name'] == 'needle')
print(f"needle vs ClickHouse full scan (timeout_count): {ch['timeout_count'] / needle:.1f}x")
