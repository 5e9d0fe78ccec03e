#!/usr/bin/env python3
"""Query speed as users see it (issue 15): a real `strata` node, events ingested over HTTP, the
five queries of the issue through the public search API, next to ClickHouse (chdb) and DuckDB
on the same events in the same run.

What it does:
- starts target/release/strata (embedded queue) in a temporary data dir;
- ingests two data sets through `POST /api/v1/ingest/humio-structured`:
  `gen`  the generated JSON application logs of scripts/bench-query.py (read from the TSV the
         `query_bench` example writes; it is run first if the TSV is missing), and
  `hc`   high-cardinality JSON application logs (2,000 user ids, random trace ids, log-normal
         latencies, 50 hosts, 4 levels, 20 services);
- waits until every event is searchable and digest's minis are merged;
- runs each query through the streaming `/api/v1/repositories/{repo}/query` (JSON) and through
  query jobs (create + poll until done): warm = best of 3 after one untimed run; cold = the node
  restarted (its decoded-column cache empty) and, when this process may, the OS page cache
  dropped (`echo 3 > /proc/sys/vm/drop_caches`), first run timed;
- loads the same events into chdb (MergeTree ORDER BY ts, LowCardinality strings) and DuckDB,
  times the equivalent SQL (best of 3 warm; first run after reopening cold);
- prints a ratio table (Strata / ClickHouse: below 1 means Strata is faster), stored bytes of
  both, the empty-range query's median over HTTP, and the in-process engine figures of
  `query_bench` (labelled as such).

Usage: cargo build --release --bin strata --example query_bench &&
       python3 scripts/bench-http.py [--events N] [--big] [--sets gen,hc] [--no-inprocess]
(--big adds a 20 M event run of each set; expect it to take long on a small machine.)
"""
import argparse, json, math, os, random, shutil, socket, statistics, subprocess, sys, tempfile, time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT_DIR = os.path.abspath(os.path.join(HERE, ".."))
BIN = os.path.join(ROOT_DIR, "target", "release", "strata")
TOKEN = "bench-root-token"
ARGS = argparse.Namespace(bin=BIN)
GEN_START = 1_767_225_600_000  # query_bench's START
DAY = 86_400_000
GEN_NEEDLE = "some rare token"
HC_NEEDLE = "u_1999"

try:
    import chdb  # noqa: F401
    import duckdb  # noqa: F401
except ImportError:
    subprocess.check_call(["bash", os.path.join(HERE, "install-test-deps.sh")])
from chdb import session as chsession
import duckdb


def queries(needle):
    """(name, LogScale query, ClickHouse SQL, DuckDB SQL) for one data set's table `logs`."""
    return [
        ("timeout_count", "timeout | count()",
         "SELECT count() FROM b.logs WHERE positionCaseInsensitive(raw, 'timeout') > 0",
         "SELECT count(*) FROM logs WHERE contains(lower(raw), 'timeout')"),
        ("error_groupby_service", "level=ERROR | groupBy(service)",
         "SELECT service, count() FROM b.logs WHERE level = 'ERROR' GROUP BY service",
         "SELECT service, count(*) FROM logs WHERE level = 'ERROR' GROUP BY service"),
        ("groupby_host_avg", "groupBy(host, function=avg(latency_ms))",
         "SELECT host, avg(latency_ms) FROM b.logs GROUP BY host",
         "SELECT host, avg(latency_ms) FROM logs GROUP BY host"),
        ("timechart_1h", "timeChart(span=1h)",
         "SELECT toStartOfHour(ts) AS h, count() FROM b.logs GROUP BY h ORDER BY h",
         "SELECT date_trunc('hour', ts) AS h, count(*) FROM logs GROUP BY h ORDER BY h"),
        ("needle_head100", f'"{needle}" | head(100)',
         f"SELECT raw FROM b.logs WHERE positionCaseInsensitive(raw, '{needle}') > 0 ORDER BY ts LIMIT 100",
         f"SELECT raw FROM logs WHERE contains(lower(raw), '{needle}') ORDER BY ts LIMIT 100"),
    ]


# ---------------------------------------------------------------- data sets (TSV: ts raw level service host latency)

def esc(s):
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def gen_tsv(n, d):
    """The generated set: query_bench's TSV (it writes it on first run)."""
    path = os.path.join(d, "events.tsv")
    if not os.path.exists(path):
        subprocess.run([os.path.join(ROOT_DIR, "target", "release", "examples", "query_bench"), str(n), d, "1"],
                       check=True, env={**os.environ, "QUERY_BENCH_ONLY": "none"}, stdout=subprocess.DEVNULL)
    return path


HC_SERVICES = ["checkout", "payments", "auth", "search", "catalog", "inventory", "shipping", "users",
               "notifications", "gateway", "recommendations", "cart", "pricing", "reviews", "orders",
               "billing", "fraud", "email", "media", "analytics"]
HC_MESSAGES = [
    "request completed", "request completed", "request completed", "cache miss for key",
    "user session refreshed", "payment authorized", "upstream responded", "retrying request",
    "timeout waiting for upstream", "connection reset by peer", "slow query detected", "order placed",
]


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def hc_tsv(n, d, start):
    """High-cardinality JSON application logs, deterministic (seed 15)."""
    path = os.path.join(d, "events.tsv")
    if os.path.exists(path):
        return path
    os.makedirs(d, exist_ok=True)
    rnd = random.Random(15)
    step = DAY / n
    with open(path + ".partial", "w") as f:
        for i in range(n):
            ts = start + int(i * step)
            r = rnd.random()
            level = "INFO" if r < 0.80 else "WARN" if r < 0.92 else "ERROR" if r < 0.97 else "DEBUG"
            service = HC_SERVICES[rnd.randrange(len(HC_SERVICES))]
            host = f"ip-10-0-{rnd.randrange(50):02d}.ec2.internal"
            user = f"u_{rnd.randrange(2000)}"
            trace = f"{rnd.getrandbits(64):016x}{rnd.getrandbits(64):016x}"
            lat = round(math.exp(rnd.gauss(3.5, 1.1)), 2)
            msg = HC_MESSAGES[rnd.randrange(len(HC_MESSAGES))]
            status = 200 if r < 0.9 else 500 if level == "ERROR" else 404
            raw = json.dumps({"ts": iso(ts), "level": level, "service": service, "host": host, "user_id": user,
                              "trace_id": trace, "latency_ms": lat, "status": status, "message": msg},
                             separators=(",", ":"))
            f.write(f"{ts}\t{esc(raw)}\t{level}\t{service}\t{host}\t{lat}\n")
    os.rename(path + ".partial", path)
    return path


def read_tsv(path):
    with open(path) as f:
        for line in f:
            ts, raw, level, service, host, lat = line.rstrip("\n").split("\t")
            raw = raw.replace("\\t", "\t").replace("\\n", "\n").replace("\\\\", "\\")
            yield int(ts), raw, level, service, host, lat


# ---------------------------------------------------------------- the node

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Node:
    def __init__(self, data):
        self.data = data
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self):
        log = open(os.path.join(self.data, "node.log"), "a")
        env = {**os.environ, "STRATA_ROOT_TOKEN": TOKEN, "STRATA_LOG": "warn",
               "STRATA_MINI_MAX_AGE_SECS": "2", "STRATA_MERGE_AFTER_SECS": "3"}
        self.proc = subprocess.Popen([ARGS.bin, "serve", "--data-dir", os.path.join(self.data, "n"),
                                      "--http-addr", f"127.0.0.1:{self.port}"], env=env, stderr=log)
        for _ in range(1200):
            try:
                urllib.request.urlopen(self.base + "/api/v1/status", timeout=1)
                return
            except Exception:
                if self.proc.poll() is not None:
                    sys.exit(f"strata exited at start; see {self.data}/node.log")
                time.sleep(0.1)
        sys.exit("strata did not start")

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait()
            self.proc = None

    def req(self, path, body=None, token=TOKEN, accept="application/json", method=None):
        h = {"authorization": f"Bearer {token}", "content-type": "application/json", "accept": accept}
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        r = urllib.request.Request(self.base + path, data=data, headers=h, method=method)
        with urllib.request.urlopen(r, timeout=3600) as resp:
            return resp.read()

    def gql(self, q):
        out = json.loads(self.req("/graphql", {"query": q}))
        if out.get("errors"):
            raise RuntimeError(out["errors"])
        return out["data"]

    def query(self, repo, q, start, end):
        return json.loads(self.req(f"/api/v1/repositories/{repo}/query",
                                   {"queryString": q, "start": start, "end": end}))

    def job(self, repo, q, start, end):
        j = json.loads(self.req(f"/api/v1/repositories/{repo}/queryjobs",
                                {"queryString": q, "start": start, "end": end, "isLive": False}))
        while True:
            r = json.loads(self.req(f"/api/v1/repositories/{repo}/queryjobs/{j['id']}", method="GET"))
            if r["done"]:
                return r["events"]
            time.sleep(0.002)

    def seg_bytes(self):
        tot = minis = 0
        for dp, _, fs in os.walk(os.path.join(self.data, "n")):
            for f in fs:
                if f.endswith(".seg"):
                    tot += os.path.getsize(os.path.join(dp, f))
                    minis += "-p" in f
        return tot, minis


def bodies(path):
    """humio-structured request bodies of 20,000 events each, built once per data set and kept
    next to its TSV (building them in Python costs more than the node's ingest)."""
    out = path + ".bodies"
    if not os.path.exists(out):
        with open(out + ".partial", "w") as f:
            batch = []

            def flush():
                f.write(json.dumps([{"tags": {}, "events": batch}], separators=(",", ":")) + "\n")
                batch.clear()
            for ts, raw, level, service, host, lat in read_tsv(path):
                attrs = {"level": level, "service": service, "host": host, "latency_ms": lat}
                if raw.startswith("{"):
                    # Every top-level field of the JSON line, as a JSON parser in the shipper would.
                    for k, v in json.loads(raw).items():
                        if k != "ts":
                            attrs[k] = str(v)
                batch.append({"timestamp": ts, "attributes": attrs, "rawstring": raw})
                if len(batch) == 20_000:
                    flush()
            if batch:
                flush()
        os.rename(out + ".partial", out)
    return out


def ingest(node, repo, path, n):
    node.gql(f'mutation {{ createRepository(name: "{repo}") {{ repository {{ name }} }} }}')
    tok = node.gql(f'mutation {{ addIngestTokenV3(input: {{repositoryName: "{repo}", name: "t"}}) {{ token }} }}')
    tok = tok["addIngestTokenV3"]["token"]
    raw_bytes = sum(len(r[1]) for r in read_tsv(path))
    with open(bodies(path), "rb") as f:
        lines = f.readlines()
    # Two shippers in parallel, as a node usually sees.
    from concurrent.futures import ThreadPoolExecutor
    t = time.time()
    with ThreadPoolExecutor(2) as ex:
        list(ex.map(lambda body: node.req("/api/v1/ingest/humio-structured", body.rstrip(b"\n"), token=tok), lines))
    took = time.time() - t
    return took, raw_bytes


def wait_searchable(node, repo, n, start, end):
    t = time.time()
    while True:
        rows = node.query(repo, "count()", start, end)
        if int(rows[0]["_count"]) >= n:
            break
        time.sleep(0.5)
    searchable = time.time() - t
    # Minis merge once their newest is 3 s old: wait until none is left (the benchmark reads
    # merged segments, as a node does for all but the newest minutes; the audit repository's
    # own minis come and go, so this waits at most two minutes).
    for _ in range(240):
        if node.seg_bytes()[1] == 0:
            break
        time.sleep(0.5)
    return searchable


def drop_os_cache():
    try:
        subprocess.run(["sync"], check=False)
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def best(f, runs=3):
    f()
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return min(ts) * 1e3


def once(f):
    t = time.perf_counter()
    f()
    return (time.perf_counter() - t) * 1e3


# ---------------------------------------------------------------- peers

def load_peers(path, d):
    """Loads the peers once per data set (kept in `d` for later runs); returns their bytes."""
    chdir = os.path.join(d, "chdb")
    ddb = os.path.join(d, "duck.db")
    if os.path.exists(os.path.join(d, "peers-loaded")):
        sess = chsession.Session(chdir)
        ch_bytes = int(sess.query("SELECT sum(bytes_on_disk) FROM system.parts WHERE database='b' AND table='logs' AND active",
                                  "CSV").bytes().decode().strip())
        sess.close()
        return ch_bytes, os.path.getsize(ddb)
    shutil.rmtree(chdir, ignore_errors=True)
    sess = chsession.Session(chdir)
    sess.query("CREATE DATABASE IF NOT EXISTS b")
    sess.query("""CREATE TABLE b.logs (ts DateTime64(3), raw String, level LowCardinality(String),
                  service LowCardinality(String), host LowCardinality(String), latency_ms Float64)
                  ENGINE = MergeTree ORDER BY ts""")
    sess.query(f"""INSERT INTO b.logs SELECT fromUnixTimestamp64Milli(t), raw, level, service, host, lat
                   FROM file('{path}', 'TabSeparated', 't Int64, raw String, level String, service String,
                   host String, lat Float64')""")
    sess.query("OPTIMIZE TABLE b.logs FINAL")
    ch_bytes = int(sess.query("SELECT sum(bytes_on_disk) FROM system.parts WHERE database='b' AND table='logs' AND active",
                              "CSV").bytes().decode().strip())
    sess.close()
    if os.path.exists(ddb):
        os.remove(ddb)
    con = duckdb.connect(ddb)
    con.execute("SET threads TO 2")
    con.execute(f"""CREATE TABLE logs AS SELECT make_timestamp(t * 1000) AS ts, raw, level, service, host, lat AS latency_ms
                    FROM read_csv('{path}', delim='\t', header=false, quote='', escape='',
                    columns={{'t': 'BIGINT', 'raw': 'VARCHAR', 'level': 'VARCHAR', 'service': 'VARCHAR',
                    'host': 'VARCHAR', 'lat': 'DOUBLE'}}) ORDER BY ts""")
    con.execute("CHECKPOINT")
    con.close()
    open(os.path.join(d, "peers-loaded"), "w").close()
    return ch_bytes, os.path.getsize(ddb)


def time_peers(d, qs, cold_os):
    ch, dk = {}, {}
    if cold_os:
        drop_os_cache()
    sess = chsession.Session(os.path.join(d, "chdb"))
    for name, _, sql, _ in qs:
        q = sql + " SETTINGS max_threads=2"
        cold = once(lambda: sess.query(q, "CSV"))
        ch[name] = (best(lambda: sess.query(q, "CSV")), cold)
    sess.close()
    if cold_os:
        drop_os_cache()
    con = duckdb.connect(os.path.join(d, "duck.db"), read_only=True)
    con.execute("SET threads TO 2")
    for name, _, _, sql in qs:
        cold = once(lambda: con.execute(sql).fetchall())
        dk[name] = (best(lambda: con.execute(sql).fetchall()), cold)
    con.close()
    return ch, dk


# ---------------------------------------------------------------- main

def run_set(label, path, n, start, needle, work, node_dir):
    end = start + DAY
    qs = queries(needle)
    node = Node(node_dir)
    node.start()
    out = {}
    try:
        repo = label.split("-")[0]
        took, raw_bytes = ingest(node, repo, path, n)
        searchable = wait_searchable(node, repo, n, start, end)
        print(f"[{label}] ingested {n} events ({raw_bytes / 1e6:.0f} MB raw) in {took:.1f} s "
              f"({n / took:,.0f}/s from two Python clients); searchable {searchable:.1f} s after the last ack", flush=True)
        seg_bytes, _ = node.seg_bytes()
        for name, q, _, _ in qs:
            rows = node.query(repo, q, start, end)
            out[name] = {"rows": len(rows),
                         "warm": best(lambda: node.query(repo, q, start, end)),
                         "job": best(lambda: node.job(repo, q, start, end))}
        empty = []
        for _ in range(60):
            empty.append(once(lambda: node.query(repo, "count()", 1000, 1001)))
        out["_empty_ms"] = statistics.median(empty[10:])
        # Cold: restart (decoded-column cache empty), OS cache dropped when allowed.
        for name, q, _, _ in qs:
            node.stop()
            os_dropped = drop_os_cache()
            node.start()
            out[name]["cold"] = once(lambda: node.query(repo, q, start, end))
        out["_os_dropped"] = os_dropped
    finally:
        node.stop()
    ch_bytes, duck_bytes = load_peers(path, work)
    ch, dk = time_peers(work, qs, True)
    print(f"\n[{label}] {n} events over one day; HTTP = POST /query (JSON) best of 3 warm; job = query job create+poll; "
          f"cold = node restarted{' + OS cache dropped' if out['_os_dropped'] else ' (OS cache NOT dropped: not allowed)'}")
    print(f"{'query':24} {'rows':>5} {'http ms':>8} {'job ms':>7} {'CH ms':>7} {'duck ms':>8} {'http/CH':>8} "
          f"{'cold ms':>8} {'CH cold':>8} {'cold/CH':>8}")
    for name, _, _, _ in qs:
        s = out[name]
        print(f"{name:24} {s['rows']:>5} {s['warm']:>8.1f} {s['job']:>7.1f} {ch[name][0]:>7.1f} {dk[name][0]:>8.1f} "
              f"{s['warm'] / ch[name][0]:>8.2f} {s['cold']:>8.1f} {ch[name][1]:>8.1f} {s['cold'] / ch[name][1]:>8.2f}")
    print(f"stored bytes: strata {seg_bytes / 1e6:.1f} MB ({raw_bytes / seg_bytes:.1f}x raw), ClickHouse {ch_bytes / 1e6:.1f} MB "
          f"({raw_bytes / ch_bytes:.1f}x raw), DuckDB {duck_bytes / 1e6:.1f} MB; strata/CH = {seg_bytes / ch_bytes:.2f}")
    print(f"empty-range query over HTTP (count(), 50 runs): median {out['_empty_ms']:.2f} ms", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--big", action="store_true", help="also 20 M events per set")
    ap.add_argument("--sets", default="gen,hc")
    ap.add_argument("--no-inprocess", action="store_true")
    ap.add_argument("--dir", default=os.path.join(ROOT_DIR, "target", "http-bench"))
    ap.add_argument("--bin", default=BIN, help="the strata binary (default target/release/strata)")
    a = ap.parse_args()
    ARGS.bin = a.bin
    print(f"load average at start: {os.getloadavg()}", flush=True)
    sizes = [a.events] + ([20_000_000] if a.big else [])
    for n in sizes:
        for s in a.sets.split(","):
            work = os.path.join(a.dir, f"{s}-{n}")
            os.makedirs(work, exist_ok=True)
            if s == "gen":
                path, start, needle = gen_tsv(n, os.path.join(a.dir, f"qb-{n}")), GEN_START, GEN_NEEDLE
            else:
                start = (int(time.time() * 1000) // 3_600_000 - 25) * 3_600_000
                path, needle = hc_tsv(n, work, start), HC_NEEDLE
                # Timestamps are in the TSV: reuse its start.
                with open(path) as f:
                    start = int(f.readline().split("\t", 1)[0])
            node_dir = tempfile.mkdtemp(prefix=f"strata-http-bench-{s}-")
            try:
                run_set(f"{s}-{n}", path, n, start, needle, work, node_dir)
            finally:
                shutil.rmtree(node_dir, ignore_errors=True)
    if not a.no_inprocess:
        print("\nin-process engine (examples/query_bench via scripts/bench-query.py; no HTTP, not what users see):", flush=True)
        subprocess.run([sys.executable, os.path.join(HERE, "bench-query.py"), str(a.events),
                        os.path.join(a.dir, f"qb-{a.events}")], check=False)
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
