//! What the alert tests share: a real HTTP receiver, a real SMTP server, GraphQL and ingest
//! shortcuts.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{free_port, Node, ROOT};

/// Flags that make alerts react quickly.
pub const FAST: &[&str] = &[
    "--alert-poll-interval-ms",
    "300",
    "--alert-ingest-delay-ms",
    "1000",
];

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Request {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A real HTTP server recording every request and answering with `status`.
pub struct Receiver {
    port: u16,
    status: Arc<AtomicU16>,
    got: Arc<Mutex<Vec<Request>>>,
}

impl Receiver {
    pub fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let status = Arc::new(AtomicU16::new(200));
        let got: Arc<Mutex<Vec<Request>>> = Default::default();
        let (s, g) = (status.clone(), got.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let (s, g) = (s.clone(), g.clone());
                std::thread::spawn(move || {
                    let mut r = BufReader::new(conn.try_clone().unwrap());
                    let mut line = String::new();
                    if r.read_line(&mut line).is_err() {
                        return;
                    }
                    let mut parts = line.split_whitespace();
                    let method = parts.next().unwrap_or("").to_string();
                    let path = parts.next().unwrap_or("").to_string();
                    let mut headers = Vec::new();
                    let mut len = 0;
                    loop {
                        let mut h = String::new();
                        if r.read_line(&mut h).is_err() || h.trim().is_empty() {
                            break;
                        }
                        if let Some((k, v)) = h.trim_end().split_once(':') {
                            if k.eq_ignore_ascii_case("content-length") {
                                len = v.trim().parse().unwrap_or(0);
                            }
                            headers.push((k.to_string(), v.trim().to_string()));
                        }
                    }
                    let mut body = vec![0; len];
                    let _ = r.read_exact(&mut body);
                    let code = s.load(Ordering::SeqCst);
                    g.lock().unwrap().push(Request {
                        method,
                        path,
                        headers,
                        body: String::from_utf8_lossy(&body).into_owned(),
                    });
                    let _ = write!(
                        conn,
                        "HTTP/1.1 {code} X\r\nContent-Length: 7\r\nConnection: close\r\n\r\nanswer!"
                    );
                });
            }
        });
        Receiver { port, status, got }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Requests to `path` answered with a success.
    pub fn requests(&self, path: &str) -> Vec<Request> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    pub fn set_status(&self, code: u16) {
        self.status.store(code, Ordering::SeqCst);
    }
}

/// A real SMTP server (aiosmtpd) writing every message into a Maildir. None when aiosmtpd
/// is not installed and `STRATA_REQUIRE_SMTP` is unset.
pub struct SmtpServer {
    child: Child,
    pub port: u16,
    maildir: tempfile::TempDir,
}

impl SmtpServer {
    pub fn start() -> Option<SmtpServer> {
        let ok = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            assert!(
                std::env::var_os("STRATA_REQUIRE_SMTP").is_none(),
                "STRATA_REQUIRE_SMTP is set but aiosmtpd is not installed"
            );
            eprintln!("aiosmtpd not installed; skipping the email part (run scripts/install-test-deps.sh)");
            return None;
        }
        let port = free_port();
        let maildir = tempfile::tempdir().unwrap();
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            // A path that does not exist yet: the Maildir is created with its subfolders.
            .arg(maildir.path().join("mail"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        let t = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "aiosmtpd did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(SmtpServer {
            child,
            port,
            maildir,
        })
    }

    /// Every message received, as text.
    pub fn messages(&self) -> Vec<String> {
        let dir = self.maildir.path().join("mail").join("new");
        let mut out: Vec<String> = std::fs::read_dir(dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first error of a GraphQL call that must fail.
pub fn gql_err(node: &Node, query: &str) -> String {
    let r = node
        .client
        .post(node.url("/graphql"))
        .bearer_auth(ROOT)
        .json(&json!({ "query": query }))
        .send()
        .unwrap();
    let v: Value = r.json().unwrap();
    v["errors"][0]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error, got {v}"))
        .to_string()
}

/// Ingests kv lines into the repository of `token`.
pub fn ingest(node: &Node, token: &str, lines: &[String]) {
    let body = json!([{ "messages": lines }]).to_string();
    let (s, text) = node.post("/api/v1/ingest/humio-unstructured", token, body);
    assert_eq!(s, 200, "ingest answered {s}: {text}");
}

pub fn webhook(node: &Node, repo: &str, name: &str, url: &str, body: &str) -> String {
    let q = format!(
        r#"mutation {{ createWebhookAction(input: {{viewName: "{repo}", name: "{name}", url: "{url}", method: "POST", headers: [{{header: "Content-Type", value: "application/json"}}], bodyTemplate: {body}, ignoreSSL: false, useProxy: false}}) {{ id name }} }}"#,
        body = Value::String(body.to_string())
    );
    node.graphql(&q)["createWebhookAction"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Waits until the node ran `n` more alert queries than `since` (so data already
/// searchable has been seen).
pub fn wait_evaluations(node: &Node, since: f64, n: f64) {
    node.wait_until(60, "alert evaluations", || {
        node.metric("strata_alerts_evaluated_total") >= since + n
    });
}

pub fn aggregate_state(node: &Node, repo: &str, id: &str) -> Value {
    node.graphql(&format!(
        r#"{{ searchDomain(name: "{repo}") {{ aggregateAlert(id: "{id}") {{ enabled lastTriggered lastError lastErrorTime lastSuccessfulPoll throttledUntil evaluatingNode }} }} }}"#
    ))["searchDomain"]["aggregateAlert"]
        .clone()
}
