//! Apply handlers of the cluster's shape: nodes and their liveness, the replication factor,
//! and per ingest partition its digest nodes and the safe and truncated queue offsets.

use super::{check_version, Node, Outcome, State};
use crate::event::NodeState;

impl State {
    pub(super) fn register_node(
        &mut self,
        offset: u64,
        id: u32,
        url: &str,
        zone: &Option<String>,
    ) -> Outcome {
        // Re-registering (a restart, a new URL) is an update, not a duplicate.
        self.nodes.insert(
            id,
            Node {
                id,
                url: url.to_string(),
                zone: zone.clone(),
                state: NodeState::Running,
                version: offset,
            },
        );
        Outcome::Applied
    }

    pub(super) fn set_node_state(&mut self, offset: u64, id: u32, state: NodeState) -> Outcome {
        let Some(n) = self.nodes.get_mut(&id) else {
            reject!("node {id} is not registered");
        };
        n.state = state;
        n.version = offset;
        Outcome::Applied
    }

    /// Sets the ordered node list (primary first) of an ingest partition.
    pub(super) fn set_partition_nodes(
        &mut self,
        offset: u64,
        partition: u32,
        nodes: &[u32],
        expected_version: u64,
    ) -> Outcome {
        let p = self.partitions.entry(partition).or_default();
        if let Some(o) = check_version(
            &format!("partition {partition}"),
            p.version,
            expected_version,
        ) {
            return o;
        }
        p.nodes = nodes.to_vec();
        p.version = offset;
        Outcome::Applied
    }

    pub(super) fn set_replication_factor(&mut self, factor: u32) -> Outcome {
        if factor == 0 {
            reject!("replication factor must be at least 1");
        }
        self.replication_factor = factor;
        Outcome::Applied
    }

    /// Advances the offset below which a partition's events are all in durable segments.
    pub(super) fn set_safe_offset(&mut self, partition: u32, o: u64) -> Outcome {
        let p = self.partitions.entry(partition).or_default();
        if o < p.safe_offset {
            reject!(
                "safe offset of partition {partition} cannot move back from {} to {o}",
                p.safe_offset
            );
        }
        p.safe_offset = o;
        Outcome::Applied
    }

    /// Records that the queue was truncated below `o`.
    pub(super) fn set_truncated_offset(&mut self, partition: u32, o: u64) -> Outcome {
        let p = self.partitions.entry(partition).or_default();
        if o > p.safe_offset {
            reject!(
                "cannot truncate partition {partition} at {o}, above its safe offset {}",
                p.safe_offset
            );
        }
        p.truncated_offset = p.truncated_offset.max(o);
        Outcome::Applied
    }
}
