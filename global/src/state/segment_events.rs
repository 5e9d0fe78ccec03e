//! Apply handlers of segments and the datasources they belong to: new segments (with the
//! digest fencing and high-water marks that make ingest exactly-once), merge swaps, holders,
//! bucket uploads and deletions. These are the hot events: new segments arrive by value so
//! their metadata moves into the table instead of being copied.

use std::collections::BTreeMap;

use super::{datasource_key, DatasourceInfo, Outcome, State};
use crate::event::SegmentInfo;

impl State {
    /// A new segment, with the partition's new safe offset when digest wrote it.
    pub(super) fn add_segment(
        &mut self,
        offset: u64,
        mut segment: SegmentInfo,
        safe_offset: Option<u64>,
    ) -> Outcome {
        if !self.repositories.contains_key(segment.repo.as_str()) {
            reject!("repository {:?} does not exist", segment.repo);
        }
        // Fencing: only the partition's current digest primary may add digest output.
        // A node that lost the partition (failover while it was slow or cut off) has
        // its late segment refused; the new primary re-reads those events from the
        // safe offset, so they land exactly once.
        if safe_offset.is_some() {
            if let Some(primary) = self
                .partitions
                .get(&segment.partition)
                .and_then(|p| p.nodes.first())
            {
                if !segment.nodes.contains(primary) {
                    reject!(
                        "partition {} is digested by node {primary}, not by the writer of segment {:?}",
                        segment.partition,
                        segment.id
                    );
                }
            }
        }
        let key = datasource_key(&segment.repo, &segment.tags);
        // One copy of the tags per datasource, however many segments it has.
        if let Some(ds) = self.datasources.get(&key) {
            segment.tags = ds.tags.clone();
        }
        let (repo, tags) = (segment.repo.clone(), segment.tags.clone());
        let (partition, last_offset) = (segment.partition, segment.last_offset);
        segment.version = offset;
        if let Err(s) = self.segments.insert_new(segment) {
            reject!("segment {:?} already exists", s.id);
        }
        let ds = self
            .datasources
            .entry(key)
            .or_insert_with(|| DatasourceInfo {
                repo: repo.to_string(),
                tags,
                high_water: BTreeMap::new(),
            });
        let hw = ds.high_water.entry(partition).or_insert(0);
        *hw = (*hw).max(last_offset);
        if let Some(safe) = safe_offset {
            let p = self.partitions.entry(partition).or_default();
            p.safe_offset = p.safe_offset.max(safe);
        }
        Outcome::Applied
    }

    /// Merge swap: every segment of `remove` must exist, then `add` replaces them.
    pub(super) fn replace_segments(
        &mut self,
        offset: u64,
        remove: &[String],
        mut add: SegmentInfo,
    ) -> Outcome {
        if let Some(missing) = remove.iter().find(|id| !self.segments.contains_key(id)) {
            reject!("segment {missing:?} no longer exists");
        }
        if self.segments.contains_key(&add.id) {
            reject!("segment {:?} already exists", add.id);
        }
        for id in remove {
            self.segments.remove(id);
        }
        add.version = offset;
        if let Some(ds) = self.datasources.get(&datasource_key(&add.repo, &add.tags)) {
            add.tags = ds.tags.clone();
        }
        self.segments.insert(add);
        Outcome::Applied
    }

    pub(super) fn add_segment_holder(&mut self, offset: u64, id: &str, node: u32) -> Outcome {
        let Some(s) = self.segments.get_mut(id) else {
            reject!("segment {id:?} does not exist");
        };
        s.nodes.insert(node);
        s.version = offset;
        Outcome::Applied
    }

    pub(super) fn remove_segment_holder(&mut self, offset: u64, id: &str, node: u32) -> Outcome {
        let Some(s) = self.segments.get_mut(id) else {
            reject!("segment {id:?} does not exist");
        };
        if !s.nodes.remove(&node) {
            reject!("node {node} does not hold segment {id:?}");
        }
        s.version = offset;
        Outcome::Applied
    }

    pub(super) fn set_segment_in_bucket(&mut self, offset: u64, id: &str, key: &str) -> Outcome {
        let Some(s) = self.segments.get_mut(id) else {
            reject!("segment {id:?} does not exist");
        };
        s.bucket_key = Some(key.to_string());
        s.version = offset;
        Outcome::Applied
    }

    pub(super) fn delete_segments(&mut self, ids: &[String]) -> Outcome {
        for id in ids {
            self.segments.remove(id);
        }
        Outcome::Applied
    }
}
