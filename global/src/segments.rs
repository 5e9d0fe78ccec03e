//! The segment table of Global's state: every segment's metadata by id, built for the millions
//! of segments a LogScale-sized cluster holds. Applying a segment event must stay O(1) and
//! cheap in memory, so the table is not a plain hash map of `String → SegmentInfo`:
//!
//! - entries live in fixed-size chunks, so growing never moves (copies) the entries already
//!   there, and only the memory actually used is ever touched;
//! - a hash table of (hash, position) pairs indexes them by id, so the id is stored once (in
//!   the entry), the index costs 16 bytes per bucket instead of a key and a whole entry, and
//!   growing the index rehashes from the stored hashes without touching a single entry;
//! - removal moves the last entry into the hole (swap-remove), keeping the chunks dense.
//!
//! Positions depend on the order of inserts and removals, which is the same on every node that
//! applies the same log; nothing outside this module sees them. Equality ignores them.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use smallvec::SmallVec;

use std::sync::Arc;

use compact_str::CompactString;

use crate::event::{SegmentInfo, Tags};

const CHUNK_BITS: u32 = 12;
const CHUNK: usize = 1 << CHUNK_BITS;

type Hasher = std::hash::BuildHasherDefault<rustc_hash::FxHasher>;

fn hash(id: &str) -> u64 {
    Hasher::default().hash_one(id)
}

/// Segments by id (see the module docs).
#[derive(Clone, Default)]
pub struct SegmentMap {
    /// (hash of the id, position) per segment.
    index: HashTable<(u64, u32)>,
    chunks: Vec<Vec<SegmentInfo>>,
    len: usize,
}

fn at(chunks: &[Vec<SegmentInfo>], pos: u32) -> &SegmentInfo {
    let pos = pos as usize;
    &chunks[pos >> CHUNK_BITS][pos & (CHUNK - 1)]
}

impl SegmentMap {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Makes room in the index for `additional` more segments.
    pub fn reserve(&mut self, additional: usize) {
        self.index.reserve(additional, |&(h, _)| h);
    }

    fn find(&self, id: &str) -> Option<u32> {
        let chunks = &self.chunks;
        let h = hash(id);
        self.index
            .find(h, |&(eh, p)| eh == h && at(chunks, p).id == id)
            .map(|&(_, p)| p)
    }

    pub fn get(&self, id: &str) -> Option<&SegmentInfo> {
        self.find(id).map(|p| at(&self.chunks, p))
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut SegmentInfo> {
        let p = self.find(id)? as usize;
        Some(&mut self.chunks[p >> CHUNK_BITS][p & (CHUNK - 1)])
    }

    pub fn contains_key(&self, id: &str) -> bool {
        self.find(id).is_some()
    }

    /// Inserts `seg` under its id; returns the entry it replaced, if any.
    pub fn insert(&mut self, seg: SegmentInfo) -> Option<SegmentInfo> {
        match self.insert_new(seg) {
            Ok(()) => None,
            Err(seg) => self.get_mut(&seg.id).map(|p| std::mem::replace(p, seg)),
        }
    }

    /// Inserts `seg` unless its id is taken, in which case it is handed back. One probe of
    /// the index either way: the hot path of applying a new segment.
    // The refused segment is handed back by value; boxing it would allocate on every apply.
    #[allow(clippy::result_large_err)]
    pub fn insert_new(&mut self, seg: SegmentInfo) -> Result<(), SegmentInfo> {
        let h = hash(&seg.id);
        let pos = self.len as u32;
        let chunks = &self.chunks;
        match self.index.entry(
            h,
            |&(eh, p)| eh == h && at(chunks, p).id == seg.id,
            |&(h, _)| h,
        ) {
            hashbrown::hash_table::Entry::Occupied(_) => return Err(seg),
            hashbrown::hash_table::Entry::Vacant(v) => {
                v.insert((h, pos));
            }
        }
        if self.chunks.last().is_none_or(|c| c.len() == CHUNK) {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        if let Some(c) = self.chunks.last_mut() {
            c.push(seg);
        }
        self.len += 1;
        Ok(())
    }

    /// Removes and returns the segment `id`.
    pub fn remove(&mut self, id: &str) -> Option<SegmentInfo> {
        let h = hash(id);
        let chunks = &self.chunks;
        let entry = self
            .index
            .find_entry(h, |&(eh, p)| eh == h && at(chunks, p).id == id)
            .ok()?;
        let ((_, pos), _) = entry.remove();
        Some(self.take(pos))
    }

    /// Takes the entry at `pos` (already gone from the index) out of the chunks, moving the
    /// last entry into its place.
    fn take(&mut self, pos: u32) -> SegmentInfo {
        let last = (self.len - 1) as u32;
        let mut tail = self.chunks.last_mut().and_then(Vec::pop).expect("len > 0");
        if self.chunks.last().is_some_and(Vec::is_empty) {
            self.chunks.pop();
        }
        self.len -= 1;
        if pos == last {
            return tail;
        }
        // Re-point the moved entry's index slot from `last` to `pos`.
        let h = hash(&tail.id);
        if let Some(slot) = self.index.find_mut(h, |&(_, p)| p == last) {
            slot.1 = pos;
        }
        let p = pos as usize;
        std::mem::swap(
            &mut self.chunks[p >> CHUNK_BITS][p & (CHUNK - 1)],
            &mut tail,
        );
        tail
    }

    /// Keeps only the segments for which `keep` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&SegmentInfo) -> bool) {
        let gone: Vec<compact_str::CompactString> = self
            .values()
            .filter(|s| !keep(s))
            .map(|s| s.id.clone())
            .collect();
        for id in gone {
            self.remove(&id);
        }
    }

    pub fn values(&self) -> impl Iterator<Item = &SegmentInfo> + '_ {
        self.chunks.iter().flatten()
    }
}

impl PartialEq for SegmentMap {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.values().all(|s| other.get(&s.id) == Some(s))
    }
}

impl Eq for SegmentMap {}

impl std::fmt::Debug for SegmentMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut v: Vec<&SegmentInfo> = self.values().collect();
        v.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        f.debug_list().entries(v).finish()
    }
}

impl FromIterator<SegmentInfo> for SegmentMap {
    fn from_iter<I: IntoIterator<Item = SegmentInfo>>(iter: I) -> Self {
        let mut m = SegmentMap::default();
        for s in iter {
            m.insert(s);
        }
        m
    }
}

/// The ids of the nodes holding a segment: a sorted set stored inline (no allocation) for up
/// to four nodes, which covers every replication factor in use. Serialised as a sorted list,
/// like the `BTreeSet` it replaced.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct NodeSet(SmallVec<[u32; 4]>);

impl NodeSet {
    /// Adds `n`; false when it was already there.
    pub fn insert(&mut self, n: u32) -> bool {
        match self.0.binary_search(&n) {
            Ok(_) => false,
            Err(i) => {
                self.0.insert(i, n);
                true
            }
        }
    }

    /// Removes `n`; false when it was not there.
    pub fn remove(&mut self, n: &u32) -> bool {
        match self.0.binary_search(n) {
            Ok(i) => {
                self.0.remove(i);
                true
            }
            Err(_) => false,
        }
    }

    pub fn contains(&self, n: &u32) -> bool {
        self.0.binary_search(n).is_ok()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, u32> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn first(&self) -> Option<&u32> {
        self.0.first()
    }
}

impl std::fmt::Debug for NodeSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.iter()).finish()
    }
}

impl FromIterator<u32> for NodeSet {
    fn from_iter<I: IntoIterator<Item = u32>>(iter: I) -> Self {
        let mut v: SmallVec<[u32; 4]> = iter.into_iter().collect();
        v.sort_unstable();
        v.dedup();
        NodeSet(v)
    }
}

impl<const N: usize> From<[u32; N]> for NodeSet {
    fn from(a: [u32; N]) -> Self {
        a.into_iter().collect()
    }
}

impl<'a> IntoIterator for &'a NodeSet {
    type Item = &'a u32;
    type IntoIter = std::slice::Iter<'a, u32>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl Serialize for NodeSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.as_slice().serialize(s)
    }
}

impl<'de> Deserialize<'de> for NodeSet {
    /// Accepts any list of node ids; duplicates and order are normalised, as a set would.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = SmallVec::<[u32; 4]>::deserialize(d)?;
        Ok(v.into_iter().collect())
    }
}

/// Deserialises a segment's tags, sharing one `Arc` per distinct tag set decoded on this thread
/// (a bounded cache). Replays and snapshot loads decode millions of segments over a few
/// thousand datasources: without it each would allocate and free a tree of its own. Sharing is
/// invisible to equality and serialisation, so state stays byte-identical on every node.
pub(crate) fn deserialize_tags<'de, D: Deserializer<'de>>(d: D) -> Result<Tags, D::Error> {
    use std::cell::RefCell;
    type Pairs = SmallVec<[(CompactString, CompactString); 4]>;
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Pairs;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a map of tag names to values")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Pairs, A::Error> {
            let mut v = Pairs::new();
            while let Some(kv) = a.next_entry::<CompactString, CompactString>()? {
                v.push(kv);
            }
            Ok(v)
        }
    }
    const CACHE_LIMIT: usize = 4096;
    thread_local! {
        static CACHE: RefCell<rustc_hash::FxHashMap<u64, Tags>> = RefCell::default();
    }
    let mut pairs = d.deserialize_map(V)?;
    pairs.sort_unstable();
    pairs.dedup_by(|a, b| a.0 == b.0);
    let h = Hasher::default().hash_one(&pairs);
    let same = |t: &Tags| {
        t.len() == pairs.len()
            && t.iter()
                .zip(&pairs)
                .all(|((k, v), (pk, pv))| k == pk && v == pv)
    };
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if let Some(t) = c.get(&h).filter(|t| same(t)) {
            return Ok(t.clone());
        }
        let t: Tags = Arc::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        if c.len() >= CACHE_LIMIT {
            c.clear();
        }
        c.insert(h, t.clone());
        Ok(t)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    fn seg(id: &str) -> SegmentInfo {
        SegmentInfo {
            id: id.into(),
            repo: "r".into(),
            tags: Default::default(),
            min_ts: 0,
            max_ts: 0,
            event_count: 0,
            raw_bytes: 0,
            file_bytes: 0,
            file_crc: 0,
            codec: "zstd".into(),
            partition: 0,
            first_offset: 0,
            last_offset: 0,
            nodes: [1].into(),
            bucket_key: None,
            merged: false,
            merge_target: None,
            created_ms: 0,
            version: 0,
        }
    }

    /// Random inserts and removals across several chunks agree with a BTreeMap model.
    #[test]
    fn agrees_with_a_btreemap() {
        use proptest::prelude::*;
        let ops = proptest::collection::vec((any::<bool>(), 0u32..12_000), 0..30_000);
        proptest::proptest!(ProptestConfig::with_cases(8), |(ops in ops)| {
            let mut m = SegmentMap::default();
            let mut model = BTreeMap::new();
            for (add, k) in ops {
                let id = format!("s{k}");
                if add {
                    let mut s = seg(&id);
                    s.version = k as u64;
                    prop_assert_eq!(m.insert(s.clone()).is_some(), model.insert(id, s).is_some());
                } else {
                    prop_assert_eq!(m.remove(&id), model.remove(&id));
                }
            }
            prop_assert_eq!(m.len(), model.len());
            for (id, s) in &model {
                prop_assert_eq!(m.get(id), Some(s));
            }
            let mut got: Vec<&str> = m.values().map(|s| s.id.as_str()).collect();
            got.sort_unstable();
            prop_assert_eq!(got, model.keys().map(String::as_str).collect::<Vec<_>>());
        });
    }

    #[test]
    fn retain_and_equality_ignore_positions() {
        let a: SegmentMap = (0..10_000).map(|i| seg(&format!("s{i}"))).collect();
        let mut b: SegmentMap = (0..10_000).rev().map(|i| seg(&format!("s{i}"))).collect();
        assert_eq!(a, b);
        b.retain(|s| !s.id.ends_with('7'));
        assert_eq!(b.len(), 9_000);
        assert!(b.get("s17").is_none() && b.get("s18").is_some());
        assert_ne!(a, b);
    }

    #[test]
    fn node_sets_stay_sorted_and_serialise_like_a_set() {
        let mut n = NodeSet::from([3, 1]);
        assert!(n.insert(2) && !n.insert(3));
        assert!(n.remove(&1) && !n.remove(&1));
        n.insert(9);
        n.insert(5);
        n.insert(7); // spills beyond the inline capacity
        assert_eq!(n.iter().copied().collect::<Vec<_>>(), vec![2, 3, 5, 7, 9]);
        let json = serde_json::to_string(&n).unwrap();
        let set: BTreeSet<u32> = serde_json::from_str(&json).unwrap();
        assert_eq!(json, serde_json::to_string(&set).unwrap());
        let back: NodeSet = serde_json::from_str("[4,1,4]").unwrap();
        assert_eq!(back, NodeSet::from([1, 4]));
    }
}
