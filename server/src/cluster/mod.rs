//! Cluster membership and coordination.
//!
//! - Heartbeats: every node appends `{"node": id}` to `transientChatter-events` each second
//!   and reads everyone's; a node not heard from for `--node-timeout-secs` is offline. Only
//!   with Kafka: the embedded queue means one node, always live.
//! - Coordinator: the live node with the lowest id (every node computes the same from the
//!   same registered-node list and heartbeats). It publishes `SetPartitionNodes` so each
//!   ingest partition's primary is the first live node of its preferred order (registered
//!   node ids rotated by the partition number: partitions spread evenly, and return to a
//!   node when it comes back), and `SetNodeState` as nodes go and come.
//!
//! What the coordinator decides, digest carries out: `digest::manager` runs digest for exactly
//! the partitions Global makes this node primary of.

pub mod mover;
pub mod rpc;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use strata_global::{Global, GlobalEvent, NodeState};
use tokio::sync::watch;

use crate::queue::{Queue, CHATTER_TOPIC};

/// Who is alive, from heartbeats.
pub struct Membership {
    me: u32,
    timeout: Duration,
    started: Instant,
    /// `None` when there are no heartbeats (embedded queue): every registered node counts
    /// as this one, alone.
    last_seen: Option<Mutex<HashMap<u32, Instant>>>,
    /// When this node last processed any heartbeat (its own come every second). A node that
    /// was itself stalled (frozen, swapped out, cut off from the queue) has stale times for
    /// everyone; until it has caught up it must not take their silence for death.
    last_heard: Mutex<Instant>,
}

impl Membership {
    pub fn new(me: u32, timeout: Duration, clustered: bool) -> Membership {
        Membership {
            me,
            timeout,
            started: Instant::now(),
            last_seen: clustered.then(|| Mutex::new(HashMap::new())),
            last_heard: Mutex::new(Instant::now()),
        }
    }

    pub fn me(&self) -> u32 {
        self.me
    }

    /// True when node `id` has been heard from within the timeout (this node always is).
    pub fn is_live(&self, id: u32) -> bool {
        if id == self.me {
            return true;
        }
        let Some(seen) = &self.last_seen else {
            return false;
        };
        seen.lock()
            .ok()
            .and_then(|m| m.get(&id).copied())
            .is_some_and(|t| t.elapsed() < self.timeout)
    }

    fn saw(&self, id: u32) {
        if let Some(seen) = &self.last_seen {
            if let Ok(mut m) = seen.lock() {
                m.insert(id, Instant::now());
            }
        }
        if let Ok(mut t) = self.last_heard.lock() {
            *t = Instant::now();
        }
    }

    /// Registered nodes that are live, ascending. Before this node has listened for a full
    /// timeout, a node Global says is running counts as live too (a search planned then
    /// asks it, and re-plans if it does not answer).
    pub fn live_nodes(&self, global: &Global) -> Vec<u32> {
        let settled = self.settled();
        let ids: Vec<(u32, NodeState)> =
            global.read(|s| s.nodes.values().map(|n| (n.id, n.state)).collect());
        ids.into_iter()
            .filter(|(id, st)| self.is_live(*id) || (!settled && *st == NodeState::Running))
            .map(|(id, _)| id)
            .collect()
    }

    /// Until a full timeout has passed since start, silence means "not heard yet", not
    /// "offline": a node must not reassign partitions before it has listened long enough.
    /// Likewise after this node itself heard nothing for a timeout (it was stalled): its view
    /// is stale until the heartbeats it missed are read again.
    pub fn settled(&self) -> bool {
        let listening = self
            .last_heard
            .lock()
            .map(|t| t.elapsed() < self.timeout)
            .unwrap_or(true);
        self.last_seen.is_none() || (self.started.elapsed() >= self.timeout && listening)
    }
}

/// Sends this node's heartbeat every second and records everyone's.
pub async fn run_heartbeats(
    queue: Arc<dyn Queue>,
    membership: Arc<Membership>,
    mut shutdown: watch::Receiver<bool>,
) {
    let me = membership.me;
    let sender = {
        let queue = queue.clone();
        let mut shutdown = shutdown.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            let record = serde_json::json!({ "node": me }).to_string().into_bytes();
            loop {
                tokio::select! {
                    _ = shutdown.changed() => return,
                    _ = tick.tick() => {}
                }
                if let Err(e) = queue.append(CHATTER_TOPIC, 0, vec![record.clone()]).await {
                    tracing::warn!(error = %e, "heartbeat could not be sent");
                }
            }
        })
    };
    let mut next = queue.end_offset(CHATTER_TOPIC, 0).await.unwrap_or(0);
    loop {
        if *shutdown.borrow() {
            break;
        }
        tokio::select! {
            _ = shutdown.changed() => break,
            r = queue.read(CHATTER_TOPIC, 0, next, 256) => match r {
                Ok(records) => {
                    for (offset, bytes) in records {
                        next = offset + 1;
                        // Chatter is advisory: a record that is not a heartbeat is ignored.
                        if let Some(id) = serde_json::from_slice::<serde_json::Value>(&bytes)
                            .ok()
                            .and_then(|v| v.get("node").and_then(|n| n.as_u64()))
                        {
                            membership.saw(id as u32);
                        }
                    }
                }
                Err(crate::queue::QueueError::Truncated { start, .. }) => next = start,
                Err(e) => {
                    tracing::warn!(error = %e, "reading heartbeats failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }
    let _ = sender.await;
}

/// The preferred digest order of `partition`: node ids rotated by the partition number.
pub fn preferred_order(nodes: &[u32], partition: u32) -> Vec<u32> {
    if nodes.is_empty() {
        return Vec::new();
    }
    let k = partition as usize % nodes.len();
    nodes[k..].iter().chain(&nodes[..k]).copied().collect()
}

/// The coordinator's loop: on the lowest-id live node, keeps node states and partition
/// primaries in line with who is live.
pub async fn run_coordinator(
    global: Global,
    membership: Arc<Membership>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tick.tick() => {}
        }
        if !membership.settled() {
            continue;
        }
        let live = membership.live_nodes(&global);
        if live.first() != Some(&membership.me) {
            continue; // not the coordinator
        }
        let events = global.read(|s| decide(s, &live));
        for ev in events {
            match &ev {
                GlobalEvent::SetNodeState { id, state } => {
                    tracing::info!(node = id, state = ?state, "coordinator: node state changed")
                }
                GlobalEvent::SetPartitionNodes {
                    partition, nodes, ..
                } => {
                    tracing::info!(
                        partition,
                        to = nodes[0],
                        "coordinator: moving digest primary"
                    )
                }
                _ => {}
            }
            let _ = global.publish(ev).await;
        }
    }
}

/// What the coordinator publishes, given Global's state and who is live: node states that
/// differ from liveness, and for each partition whose primary is not the first live node of
/// its preferred order, the new order (live nodes first).
pub fn decide(s: &strata_global::State, live: &[u32]) -> Vec<GlobalEvent> {
    let registered: Vec<u32> = s.nodes.keys().copied().collect();
    let mut out = Vec::new();
    for n in s.nodes.values() {
        let want = if live.contains(&n.id) {
            NodeState::Running
        } else {
            NodeState::Offline
        };
        if n.state != want {
            out.push(GlobalEvent::SetNodeState {
                id: n.id,
                state: want,
            });
        }
    }
    for (p, info) in &s.partitions {
        let order = preferred_order(&registered, *p);
        let mut want: Vec<u32> = order.iter().copied().filter(|n| live.contains(n)).collect();
        want.extend(order.iter().copied().filter(|n| !live.contains(n)));
        if want.is_empty() || info.nodes.first() == want.first() {
            continue;
        }
        out.push(GlobalEvent::SetPartitionNodes {
            partition: *p,
            nodes: want,
            expected_version: info.version,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preferred_order_rotates_by_partition() {
        assert_eq!(preferred_order(&[1, 2, 3], 0), vec![1, 2, 3]);
        assert_eq!(preferred_order(&[1, 2, 3], 1), vec![2, 3, 1]);
        assert_eq!(preferred_order(&[1, 2, 3], 5), vec![3, 1, 2]);
        assert!(preferred_order(&[], 3).is_empty());
    }

    #[test]
    fn coordinator_moves_a_dead_nodes_partitions_and_gives_them_back() {
        let mut st = strata_global::State::default();
        let mut off = 0;
        let mut apply = |st: &mut strata_global::State, ev: GlobalEvent| {
            st.apply(off, &ev);
            off += 1;
        };
        for id in [1, 2, 3] {
            apply(
                &mut st,
                GlobalEvent::RegisterNode {
                    id,
                    url: format!("http://n{id}"),
                    zone: None,
                },
            );
        }
        for p in 0..3 {
            let version = st.partitions.get(&p).map(|x| x.version).unwrap_or(0);
            apply(
                &mut st,
                GlobalEvent::SetPartitionNodes {
                    partition: p,
                    nodes: preferred_order(&[1, 2, 3], p),
                    expected_version: version,
                },
            );
        }
        assert!(decide(&st, &[1, 2, 3]).is_empty(), "all is as it should be");

        // Node 2 dies: it goes offline and its partition (1) moves to the next in order.
        let evs = decide(&st, &[1, 3]);
        assert!(evs.contains(&GlobalEvent::SetNodeState {
            id: 2,
            state: NodeState::Offline
        }));
        let moved: Vec<_> = evs
            .iter()
            .filter_map(|e| match e {
                GlobalEvent::SetPartitionNodes {
                    partition, nodes, ..
                } => Some((*partition, nodes.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(moved, vec![(1, vec![3, 1, 2])]);
        for ev in evs {
            apply(&mut st, ev);
        }
        assert!(
            decide(&st, &[1, 3]).is_empty(),
            "applied: nothing more to do"
        );

        // It comes back: running again, and partition 1 returns to it.
        let evs = decide(&st, &[1, 2, 3]);
        assert!(evs.contains(&GlobalEvent::SetNodeState {
            id: 2,
            state: NodeState::Running
        }));
        assert!(evs.iter().any(|e| matches!(e,
            GlobalEvent::SetPartitionNodes { partition: 1, nodes, .. } if nodes[0] == 2)));
    }
}
