//! The cluster's processes: the broker, the optional S3 server, the nodes; starting, killing,
//! freezing and restarting them.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{free_port, strata_binary, tansu_binary, ROOT, SECRET};

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
    /// `None` on the raft queue (no Kafka).
    broker: Option<Broker>,
    /// The raft queue's HTTP ports, by node index, when the cluster runs on it.
    raft_ports: Option<Vec<u16>>,
    pub bucket: PathBuf,
    pub nodes: Vec<Node>,
    pub client: reqwest::blocking::Client,
    pub(crate) ingest_token: Option<(String, String)>,
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
    /// bucket is on a real S3-protocol server instead of a local directory; `--raft`: the raft
    /// queue between the nodes instead of a Kafka broker).
    pub fn with_args(n: usize, extra: &[&str]) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let bucket = dir.path().join("bucket");
        std::fs::create_dir_all(&bucket).unwrap();
        let raft = extra.contains(&"--raft");
        let mut c = Cluster {
            broker: (!raft).then(start_broker),
            raft_ports: raft.then(|| (0..n).map(|_| free_port()).collect()),
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
        c.extra
            .retain(|a| a != "--no-bucket" && a != "--s3" && a != "--raft");
        if raft {
            // A raft node finishes starting only once a majority runs: start all, then wait.
            for _ in 0..n {
                c.push_node();
                c.spawn(c.nodes.len() - 1);
            }
            for i in 0..n {
                c.wait_ready(i);
            }
        } else {
            for _ in 0..n {
                c.add_node();
            }
        }
        c
    }

    /// Adds and starts one node; returns its index.
    pub fn add_node(&mut self) -> usize {
        let i = self.push_node();
        self.start(i);
        i
    }

    /// Raft clusters: starts one more node listing every raft port (its own included) as
    /// `--raft-peers`, without waiting: it is ready only once the leader adds it as a learner
    /// (`wait_ready` after that). Returns its index; its raft id is index + 1.
    pub fn spawn_raft_node(&mut self) -> usize {
        self.raft_ports
            .as_mut()
            .expect("a raft cluster")
            .push(free_port());
        let i = self.push_node();
        self.spawn(i);
        i
    }

    fn push_node(&mut self) -> usize {
        let i = self.nodes.len();
        let data_dir = self._dir.path().join(format!("node{}", i + 1));
        let mut args: Vec<String> = Vec::new();
        let port = match (&self.broker, &self.raft_ports) {
            (Some(b), _) => {
                args.extend(["--kafka-brokers".into(), format!("127.0.0.1:{}", b.port)]);
                free_port()
            }
            (None, Some(ports)) => {
                let peers: Vec<String> = ports
                    .iter()
                    .enumerate()
                    .map(|(j, p)| format!("{}=http://127.0.0.1:{p}", j + 1))
                    .collect();
                args.extend(["--raft-peers".into(), peers.join(",")]);
                *ports
                    .get(i)
                    .expect("a raft cluster has a fixed set of voters")
            }
            (None, None) => unreachable!("a cluster has a broker or raft ports"),
        };
        args.extend([
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
        ]);
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
        i
    }

    fn start(&mut self, i: usize) {
        self.spawn(i);
        self.wait_ready(i);
    }

    fn spawn(&mut self, i: usize) {
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
    }

    /// Waits until node `i` answers its status route (panics when it exits or takes 90 s).
    pub fn wait_ready(&mut self, i: usize) {
        let t = Instant::now();
        loop {
            if let Ok(r) = self
                .client
                .get(self.nodes[i].url("/api/v1/status"))
                .bearer_auth(ROOT)
                .send()
            {
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
                    panic!(
                        "node {} did not stop on SIGTERM:\n{}",
                        self.nodes[i].id,
                        self.nodes[i].log_tail()
                    );
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
