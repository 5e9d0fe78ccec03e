//! The digest manager: each node digests exactly the partitions Global says it is primary of,
//! starting and stopping digest tasks as that changes (the coordinator in `cluster/` decides).
//! A node that loses a partition drops its work in progress; Global refuses its late segments
//! (see `State::apply`'s fencing) and the new primary re-reads from the safe offset.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use strata_global::Global;
use tokio::sync::watch;

use super::{run_partition, DigestConfig, Stop, WipRegistry};
use crate::queue::Queue;

/// Runs digest for the partitions Global makes this node primary of; stops the others. At
/// node shutdown every running digest flushes its work in progress.
pub async fn run_digest_manager(
    partitions: u32,
    cfg: DigestConfig,
    queue: Arc<dyn Queue>,
    global: Global,
    wip: Arc<WipRegistry>,
    mut shutdown: watch::Receiver<bool>,
) {
    let me = cfg.node_id;
    let mut running: HashMap<u32, (watch::Sender<Stop>, tokio::task::JoinHandle<()>)> =
        HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            _ = shutdown.changed() => {}
            _ = tick.tick() => {}
        }
        if *shutdown.borrow() {
            break;
        }
        let mine: Vec<bool> = global.read(|s| {
            (0..partitions)
                .map(|p| s.partitions.get(&p).and_then(|x| x.nodes.first()) == Some(&me))
                .collect()
        });
        // Tasks that ended by themselves (fenced off) are restarted only if still primary.
        running.retain(|_, (_, h)| !h.is_finished());
        for (p, is_mine) in mine.into_iter().enumerate() {
            let p = p as u32;
            match (is_mine, running.contains_key(&p)) {
                (true, false) => {
                    let (tx, rx) = watch::channel(Stop::Run);
                    let h = tokio::spawn(run_partition(
                        p,
                        cfg.clone(),
                        queue.clone(),
                        global.clone(),
                        wip.clone(),
                        rx,
                    ));
                    running.insert(p, (tx, h));
                }
                (false, true) => {
                    if let Some((tx, h)) = running.remove(&p) {
                        tracing::info!(
                            partition = p,
                            "no longer the digest primary; dropping work in progress"
                        );
                        let _ = tx.send(Stop::Abandon);
                        let _ = h.await;
                    }
                }
                _ => {}
            }
        }
    }
    for (tx, _) in running.values() {
        let _ = tx.send(Stop::Flush);
    }
    // Bounded: a node that cannot publish (removed from the raft group, Global unreachable)
    // must still stop. Giving up loses nothing: the buffers' events stay in the queue past the
    // committed offset, and the partition's next primary digests them again (as after SIGKILL).
    let deadline = tokio::time::Instant::now() + SHUTDOWN_FLUSH;
    for (p, (_, mut h)) in running {
        if tokio::time::timeout_at(deadline, &mut h).await.is_err() {
            tracing::warn!(
                partition = p,
                "closing work in progress at shutdown timed out; its events stay in the queue \
                 and are digested again by the partition's next primary"
            );
            h.abort();
        }
    }
}

/// How long shutdown waits for the digests to close their work in progress.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(20);
