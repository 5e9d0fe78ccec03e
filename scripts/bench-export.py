#!/usr/bin/env python3
"""Export throughput of the streaming query endpoint (issue 22's figure: 1 M events to NDJSON at
>= 50 MB/s from one local node), and the node's peak RSS while it streams.

Starts a release node in a temporary data dir, ingests N events (humio-structured, distinct
timestamps, ~200-byte access-log lines with a few fields), waits until all are searchable, then
exports them through POST /api/v1/repositories/{repo}/query as NDJSON and as plain text, reading
the body as a client would. The node's RSS is sampled from /proc every 20 ms during each export.

Usage: cargo build --release --bin strata && python3 scripts/bench-export.py [events]  (default 1000000)
"""
import json, os, random, shutil, socket, subprocess, sys, tempfile, threading, time, urllib.request

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
ROOT = "bench-root-token"
BIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target", "release", "strata")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def req(url, body=None, token=ROOT, accept=None, timeout=600):
    h = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    if accept:
        h["accept"] = accept
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    return urllib.request.urlopen(urllib.request.Request(url, data=data, headers=h), timeout=timeout)


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    d = tempfile.mkdtemp(prefix="strata-export-bench-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(os.path.join(d, "node.log"), "w")
    node = subprocess.Popen([BIN, "serve", "--data-dir", os.path.join(d, "n"), "--http-addr", f"127.0.0.1:{port}"],
                            env={**os.environ, "STRATA_ROOT_TOKEN": ROOT, "STRATA_LOG": "warn"}, stderr=log)
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(urllib.request.Request(base + "/api/v1/status", headers={"authorization": f"Bearer {ROOT}"}), timeout=1)
                break
            except Exception:
                time.sleep(0.1)
        gql = lambda q: json.load(req(base + "/graphql", {"query": q}))["data"]
        gql('mutation { createRepository(name: "bench") { repository { name } } }')
        tok = gql('mutation { addIngestTokenV3(input: {repositoryName: "bench", name: "t", parser: "json"}) { token } }')["addIngestTokenV3"]["token"]

        # Distinct timestamps 3 ms apart, ending a minute ago.
        t_end = int(time.time() * 1000) - 60_000
        t0 = t_end - N * 3
        rnd = random.Random(7)
        verbs, paths = ["GET", "POST", "PUT"], ["/api/users", "/static/app.js", "/login", "/api/orders/42", "/health"]
        t = time.time()
        batch = 10_000
        for s in range(0, N, batch):
            evs = []
            for i in range(s, min(N, s + batch)):
                status = rnd.choice([200, 200, 200, 304, 404, 500])
                raw = (f'10.0.{i % 256}.{(i // 256) % 256} - - [{i}] "{rnd.choice(verbs)} {rnd.choice(paths)}?id={i} HTTP/1.1" '
                       f'{status} {rnd.randint(100, 90000)} "https://example.com/ref" "Mozilla/5.0 (X11; Linux x86_64) bench/{i % 97}"')
                evs.append({"timestamp": t0 + i * 3, "attributes": {"status": str(status), "seq": str(i)}, "rawstring": raw})
            req(base + "/api/v1/ingest/humio-structured", [{"tags": {"host": f"h{s // batch % 4}"}, "events": evs}], token=tok).read()
        ingest_s = time.time() - t
        while True:
            rows = json.load(req(base + "/api/v1/repositories/bench/query",
                                 {"queryString": "count()", "start": "1d"}, accept="application/json"))
            if int(rows[0]["_count"]) >= N:
                break
            time.sleep(0.5)
        print(f"ingested {N} events in {ingest_s:.1f} s; all searchable after {time.time() - t:.1f} s")

        idle_rss = rss_kb(node.pid)
        for accept, label in [("application/x-ndjson", "NDJSON"), ("text/plain", "plain text")]:
            peak = [idle_rss]
            stop = threading.Event()

            def sample():
                while not stop.is_set():
                    peak[0] = max(peak[0], rss_kb(node.pid))
                    time.sleep(0.02)

            th = threading.Thread(target=sample)
            th.start()
            t = time.time()
            r = req(base + "/api/v1/repositories/bench/query", {"queryString": "", "start": "1d"}, accept=accept)
            first = None
            nbytes = lines = 0
            while True:
                c = r.read(1 << 20)
                if not c:
                    break
                if first is None:
                    first = time.time() - t
                nbytes += len(c)
                lines += c.count(b"\n")
            el = time.time() - t
            stop.set()
            th.join()
            ok = "" if lines == N else f"  (!! expected {N} lines)"
            print(f"{label:10} {lines} events, {nbytes / 1e6:.1f} MB in {el:.2f} s: {nbytes / 1e6 / el:.1f} MB/s, "
                  f"{lines / el:,.0f} events/s; first bytes after {first:.3f} s; node RSS idle {idle_rss / 1024:.0f} MiB, "
                  f"peak {peak[0] / 1024:.0f} MiB{ok}")
    finally:
        node.terminate()
        node.wait()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
