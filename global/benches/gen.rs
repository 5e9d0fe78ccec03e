//! Generated segment metadata shared by the Global benchmark and the apply profile.

use std::collections::BTreeMap;

use strata_global::{NodeSet, SegmentInfo};

/// Segment `i`: a merged segment of one of 20 repositories and 50 hosts, in the server's id
/// format (`{node}-p{partition}-{random hex}`), uploaded to the bucket.
pub fn seg(i: u64) -> SegmentInfo {
    let id = format!(
        "{}-p{}-{:016x}",
        1 + i % 3,
        i % 24,
        i.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    );
    SegmentInfo {
        bucket_key: Some(format!("segments/{id}")),
        id: id.into(),
        repo: format!("repo{}", i % 20).into(),
        tags: BTreeMap::from([("host".to_string(), format!("web-{}", i % 50))]).into(),
        min_ts: 1_700_000_000_000 + i as i64 * 1000,
        max_ts: 1_700_000_000_000 + i as i64 * 1000 + 60_000,
        event_count: 50_000,
        raw_bytes: 30 << 20,
        file_bytes: 3 << 20,
        file_crc: i as u32,
        codec: "zstd".into(),
        partition: (i % 24) as u32,
        first_offset: i * 1000,
        last_offset: i * 1000 + 999,
        nodes: NodeSet::from([1, 2]),
        merged: true,
        merge_target: None,
        created_ms: 0,
        version: 0,
    }
}
