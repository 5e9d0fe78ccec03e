//! Test harness: starts the real `strata` binary on a free loopback port with its own data
//! dir, and talks to it over HTTP like a shipper or a user would.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub const ROOT: &str = "test-root-token";

pub use strata_cluster_tests::{free_port, tansu_binary};

/// A running node.
pub struct Node {
    pub child: Option<Child>,
    pub port: u16,
    pub data_dir: PathBuf,
    pub args: Vec<String>,
    pub envs: Vec<(String, String)>,
    pub client: reqwest::blocking::Client,
    log: PathBuf,
}

impl Node {
    /// Starts a node in `data_dir` with extra flags.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Node {
        Node::start_with_env(data_dir, extra, &[])
    }

    /// Starts a node with extra flags and environment variables.
    pub fn start_with_env(data_dir: &Path, extra: &[&str], envs: &[(&str, &str)]) -> Node {
        let mut n = Node {
            child: None,
            port: free_port(),
            data_dir: data_dir.to_path_buf(),
            args: extra.iter().map(|s| s.to_string()).collect(),
            envs: envs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            client: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            log: data_dir.with_extension("log"),
        };
        n.spawn();
        n
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_strata"))
            .arg("serve")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--http-addr")
            .arg(format!("127.0.0.1:{}", self.port))
            .args(&self.args)
            .env("STRATA_ROOT_TOKEN", ROOT)
            .env("STRATA_LOG", "info")
            .envs(self.envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start strata");
        self.child = Some(child);
        let t = Instant::now();
        loop {
            if let Ok(r) = self
                .client
                .get(self.url("/api/v1/status"))
                .bearer_auth(ROOT)
                .send()
            {
                if r.status().is_success() {
                    return;
                }
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!(
                    "strata exited with {status} during start; log:\n{}",
                    self.log_tail()
                );
            }
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "strata did not start; log:\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log_tail(&self) -> String {
        let s = std::fs::read_to_string(&self.log).unwrap_or_default();
        s.lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// SIGKILL, no chance to flush anything.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// SIGTERM; returns the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("node is running");
        Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status()
            .unwrap();
        let t = Instant::now();
        loop {
            if let Some(s) = c.try_wait().unwrap() {
                return s;
            }
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "node did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "stop the node first");
        self.spawn();
    }

    pub fn graphql(&self, query: &str) -> Value {
        let r = self
            .client
            .post(self.url("/graphql"))
            .bearer_auth(ROOT)
            .json(&json!({"query": query}))
            .send()
            .unwrap();
        assert!(r.status().is_success(), "graphql answered {}", r.status());
        let v: Value = r.json().unwrap();
        assert!(v.get("errors").is_none(), "graphql errors: {v}");
        v["data"].clone()
    }

    /// Creates a repository and an ingest token (with `parser`); returns the token.
    pub fn repo_with_token(&self, repo: &str, parser: &str) -> String {
        self.graphql(&format!(
            r#"mutation {{ createRepository(name: "{repo}") {{ repository {{ name }} }} }}"#
        ));
        let d = self.graphql(&format!(
            r#"mutation {{ addIngestTokenV3(input: {{repositoryName: "{repo}", name: "tok", parser: "{parser}"}}) {{ name token parser {{ name }} }} }}"#
        ));
        assert_eq!(d["addIngestTokenV3"]["parser"]["name"], parser);
        d["addIngestTokenV3"]["token"].as_str().unwrap().to_string()
    }

    pub fn post(
        &self,
        path: &str,
        token: &str,
        body: impl Into<reqwest::blocking::Body>,
    ) -> (u16, String) {
        let r = self
            .client
            .post(self.url(path))
            .bearer_auth(token)
            .body(body)
            .send()
            .unwrap();
        (r.status().as_u16(), r.text().unwrap_or_default())
    }

    /// Runs a query through the streaming endpoint (JSON) over the last `start`.
    pub fn query(&self, repo: &str, q: &str) -> Vec<Value> {
        let r = self
            .client
            .post(self.url(&format!("/api/v1/repositories/{repo}/query")))
            .bearer_auth(ROOT)
            .header("accept", "application/json")
            .json(&json!({"queryString": q, "start": "10y", "end": "now"}))
            .send()
            .unwrap();
        let status = r.status();
        let text = r.text().unwrap();
        assert!(status.is_success(), "query {q:?} answered {status}: {text}");
        serde_json::from_str::<Vec<Value>>(&text).unwrap()
    }

    pub fn count(&self, repo: &str, q: &str) -> u64 {
        let rows = self.query(repo, &format!("{q} | count()"));
        rows[0]["_count"].as_str().unwrap().parse().unwrap()
    }

    /// Waits until `f` holds (or fails after `secs`).
    pub fn wait_until(&self, secs: u64, what: &str, mut f: impl FnMut() -> bool) {
        let t = Instant::now();
        while !f() {
            assert!(
                t.elapsed() < Duration::from_secs(secs),
                "timed out waiting for {what}; log:\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn metric(&self, name: &str) -> f64 {
        let text = self
            .client
            .get(self.url("/metrics"))
            .bearer_auth(ROOT)
            .send()
            .unwrap()
            .text()
            .unwrap();
        text.lines()
            .find_map(|l| {
                l.strip_prefix(&format!("{name} "))
                    .and_then(|v| v.parse().ok())
            })
            .unwrap_or(0.0)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A running Tansu broker on a free port (in-memory storage).
pub struct Broker {
    child: Child,
    pub port: u16,
}

impl Broker {
    /// Starts Tansu, or returns None when it is not installed and `STRATA_REQUIRE_KAFKA` is
    /// unset (CI sets it, so there the Kafka tests cannot silently skip).
    pub fn start() -> Option<Broker> {
        let Some(bin) = tansu_binary() else {
            assert!(
                std::env::var_os("STRATA_REQUIRE_KAFKA").is_none(),
                "STRATA_REQUIRE_KAFKA is set but no tansu binary was found"
            );
            eprintln!(
                "tansu not installed; skipping the Kafka test (run scripts/install-test-deps.sh)"
            );
            return None;
        };
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
        Some(Broker { child, port })
    }

    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A real S3-protocol server (moto, from PyPI `moto[server]`) on a free loopback port with one
/// bucket created. None when moto is not installed and `STRATA_REQUIRE_S3` is unset.
pub struct S3Server {
    child: Child,
    pub port: u16,
}

/// Credentials moto accepts (any); the node reads them from the standard AWS variables.
pub const S3_ENV: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", "strata-test"),
    ("AWS_SECRET_ACCESS_KEY", "strata-test-secret"),
    ("AWS_REGION", "us-east-1"),
];

impl S3Server {
    pub fn start(bucket: &str) -> Option<S3Server> {
        let ok = Command::new("python3")
            .args(["-c", "import moto.server"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            assert!(
                std::env::var_os("STRATA_REQUIRE_S3").is_none(),
                "STRATA_REQUIRE_S3 is set but moto[server] is not installed"
            );
            eprintln!(
                "moto not installed; skipping the S3 test (run scripts/install-test-deps.sh)"
            );
            return None;
        }
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
            .expect("start moto");
        let s = S3Server { child, port };
        let client = reqwest::blocking::Client::new();
        let t = Instant::now();
        loop {
            if let Ok(r) = client.put(format!("{}/{bucket}", s.endpoint())).send() {
                if r.status().is_success() {
                    break;
                }
            }
            assert!(t.elapsed() < Duration::from_secs(60), "moto did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(s)
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops the server process (SIGSTOP): it keeps its data but answers nothing.
    pub fn pause(&self) {
        let ok = Command::new("kill")
            .args(["-STOP", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Lets a paused server continue (SIGCONT).
    pub fn resume(&self) {
        let ok = Command::new("kill")
            .args(["-CONT", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP relay in front of a server; `stop()` makes the server unreachable (connections
/// refused, open ones cut) and `start()` brings it back on the same port.
pub struct Relay {
    pub port: u16,
    target: u16,
    state: std::sync::Arc<std::sync::Mutex<RelayState>>,
}

#[derive(Default)]
struct RelayState {
    running: bool,
    generation: u64,
    conns: Vec<std::net::TcpStream>,
}

impl Relay {
    pub fn new(target: u16) -> Relay {
        let r = Relay {
            port: free_port(),
            target,
            state: Default::default(),
        };
        r.start();
        r
    }

    pub fn start(&self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).expect("relay bind");
        listener.set_nonblocking(true).unwrap();
        let gen = {
            let mut st = self.state.lock().unwrap();
            st.running = true;
            st.generation += 1;
            st.generation
        };
        let state = self.state.clone();
        let target = self.target;
        std::thread::spawn(move || loop {
            {
                let st = state.lock().unwrap();
                if !st.running || st.generation != gen {
                    return; // dropping the listener refuses new connections
                }
            }
            match listener.accept() {
                Ok((client, _)) => {
                    let _ = client.set_nonblocking(false);
                    let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", target)) else {
                        continue;
                    };
                    let mut st = state.lock().unwrap();
                    st.conns.push(client.try_clone().unwrap());
                    st.conns.push(server.try_clone().unwrap());
                    drop(st);
                    for (mut a, mut b) in [
                        (client.try_clone().unwrap(), server.try_clone().unwrap()),
                        (server, client),
                    ] {
                        std::thread::spawn(move || {
                            let _ = std::io::copy(&mut a, &mut b);
                            let _ = b.shutdown(std::net::Shutdown::Both);
                        });
                    }
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        });
    }

    pub fn stop(&self) {
        let mut st = self.state.lock().unwrap();
        st.running = false;
        for c in st.conns.drain(..) {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
        drop(st);
        // Let the accept loop notice and drop its listener.
        std::thread::sleep(Duration::from_millis(50));
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}
