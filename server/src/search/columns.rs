//! Column-wise evaluation over one decoded segment block. Filters run on whole columns (one
//! `memmem` pass per block for free text, exact/prefix kernels for `field=value`) and return
//! a row mask; anything without a kernel falls back to per-row evaluation through
//! [`ColView`], which reads values straight out of the decoded columns. Aggregates read the
//! same views, so a `groupBy()` over a block never builds events.

use std::borrow::Cow;
use std::collections::BTreeMap;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rustc_hash::FxHashMap;
use strata_segment::scan::{equal_rows, prefix_rows, SubstringMatcher};
use strata_segment::{FilterQuery, SegmentReader, StrColumn};

use crate::query::ast::CmpOp;
use crate::query::{glob_match, CFilter, Source};

/// Block-filter requirements implied by a filter (positive terms under AND only).
pub fn filter_query_for(f: &CFilter) -> FilterQuery {
    let mut q = FilterQuery::default();
    collect(f, &mut q);
    q
}

fn collect(f: &CFilter, q: &mut FilterQuery) {
    match f {
        CFilter::And(parts) => parts.iter().for_each(|p| collect(p, q)),
        CFilter::FreeText { text, .. } => q.add_substring(text),
        CFilter::Compare {
            field,
            op: CmpOp::Eq,
            value,
            ..
        } if !field.starts_with('#') && !field.starts_with('@') && !value.contains('*') => {
            q.add_field(field, value)
        }
        _ => {}
    }
}

/// False when the filter's tag terms (under a top-level AND) rule out a datasource.
pub fn tags_may_match(f: &CFilter, repo: &str, tags: &BTreeMap<String, String>) -> bool {
    match f {
        CFilter::And(parts) => parts.iter().all(|p| tags_may_match(p, repo, tags)),
        CFilter::Compare {
            field,
            op: CmpOp::Eq,
            value,
            ..
        } if field.starts_with('#') => {
            tag_value(field, repo, tags).is_some_and(|v| glob_match(value, v))
        }
        _ => true,
    }
}

fn tag_value<'a>(
    field: &str,
    repo: &'a str,
    tags: &'a BTreeMap<String, String>,
) -> Option<&'a str> {
    if field == "#repo" {
        return Some(repo);
    }
    tags.get(&field[1..]).map(String::as_str)
}

/// Decoded columns kept in memory across queries (LogScale-style query cache: repeated
/// searches over the same recent data skip decompression). Bounded by bytes; oldest out first.
pub struct ColumnCache {
    budget: usize,
    inner: Mutex<CacheInner>,
}

type ColumnKey = (PathBuf, usize, String);

#[derive(Default)]
struct CacheInner {
    map: FxHashMap<ColumnKey, Option<Arc<StrColumn>>>,
    order: VecDeque<(ColumnKey, usize)>,
    bytes: usize,
}

impl ColumnCache {
    pub fn new(budget_bytes: usize) -> Self {
        ColumnCache {
            budget: budget_bytes,
            inner: Mutex::new(CacheInner::default()),
        }
    }

    fn get(&self, key: &ColumnKey) -> Option<Option<Arc<StrColumn>>> {
        self.inner.lock().ok()?.map.get(key).cloned()
    }

    fn put(&self, key: ColumnKey, col: Option<Arc<StrColumn>>) {
        let size = col
            .as_ref()
            .map_or(0, |c| c.data.len() + c.offsets.len() * 4)
            + 64;
        if size > self.budget / 4 {
            return;
        }
        let Ok(mut g) = self.inner.lock() else { return };
        if g.map.contains_key(&key) {
            return;
        }
        while g.bytes + size > self.budget {
            let Some((k, sz)) = g.order.pop_front() else {
                break;
            };
            g.map.remove(&k);
            g.bytes -= sz;
        }
        g.bytes += size;
        g.order.push_back((key.clone(), size));
        g.map.insert(key, col);
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.inner.lock().map_or(0, |g| g.bytes)
    }
}

fn cached(
    cache: Option<&ColumnCache>,
    r: &SegmentReader,
    block: usize,
    name: &str,
    load: impl FnOnce() -> strata_segment::Result<Option<StrColumn>>,
) -> strata_segment::Result<Option<Arc<StrColumn>>> {
    let Some(cache) = cache.filter(|c| c.budget > 0) else {
        return Ok(load()?.map(Arc::new));
    };
    let key = (r.path().to_path_buf(), block, name.to_string());
    if let Some(c) = cache.get(&key) {
        return Ok(c);
    }
    let c = load()?.map(Arc::new);
    cache.put(key, c.clone());
    Ok(c)
}

/// Lazily decoded columns of one block.
pub struct BlockCtx<'a> {
    r: &'a SegmentReader,
    block: usize,
    rows: usize,
    repo: &'a str,
    tags: &'a BTreeMap<String, String>,
    raw: Option<Arc<StrColumn>>,
    time: Option<Vec<(i64, u32)>>,
    ids: Option<Vec<strata_segment::EventId>>,
    ingest: Option<Vec<i64>>,
    fields: FxHashMap<String, Option<Arc<StrColumn>>>,
    cache: Option<&'a ColumnCache>,
}

impl<'a> BlockCtx<'a> {
    pub fn new(
        r: &'a SegmentReader,
        block: usize,
        repo: &'a str,
        tags: &'a BTreeMap<String, String>,
        cache: Option<&'a ColumnCache>,
    ) -> Self {
        let rows = r.blocks()[block].count as usize;
        BlockCtx {
            r,
            block,
            rows,
            repo,
            tags,
            raw: None,
            time: None,
            ids: None,
            ingest: None,
            fields: FxHashMap::default(),
            cache,
        }
    }

    /// Decodes the columns `names` refers to (`*` and unknown names are ignored).
    pub fn load(&mut self, names: &[String]) -> strata_segment::Result<()> {
        for n in names {
            match n.as_str() {
                "@rawstring" => {
                    if self.raw.is_none() {
                        let (r, b) = (self.r, self.block);
                        self.raw = Some(
                            cached(self.cache, r, b, "@rawstring", || r.raw_column(b).map(Some))?
                                .unwrap_or_default(),
                        );
                    }
                }
                "@timestamp" | "@timestamp.nanos" => {
                    self.time()?;
                }
                "@id" => {
                    if self.ids.is_none() {
                        self.ids = Some(self.r.id_column(self.block)?);
                    }
                }
                "@ingesttimestamp" => {
                    if self.ingest.is_none() {
                        self.ingest = Some(self.r.ingest_column(self.block)?);
                    }
                }
                "*" => {}
                n if n.starts_with('@') || n.starts_with('#') => {}
                n => {
                    if !self.fields.contains_key(n) {
                        let (r, b) = (self.r, self.block);
                        let c = cached(self.cache, r, b, n, || r.field_column(b, n))?;
                        self.fields.insert(n.to_string(), c);
                    }
                }
            }
        }
        Ok(())
    }

    /// A loaded field column (`None` when not loaded or absent from the block).
    pub fn column(&self, name: &str) -> Option<&StrColumn> {
        match name {
            "@rawstring" => self.raw.as_deref(),
            n => self.fields.get(n)?.as_deref(),
        }
    }

    /// The time column if already decoded.
    pub fn time_loaded(&self) -> Option<&[(i64, u32)]> {
        self.time.as_deref()
    }

    pub fn time(&mut self) -> strata_segment::Result<&[(i64, u32)]> {
        if self.time.is_none() {
            self.time = Some(self.r.time_column(self.block)?);
        }
        Ok(self.time.as_deref().unwrap_or_default())
    }

    /// A per-row view over the loaded columns.
    pub fn view(&self, row: usize) -> ColView<'_> {
        ColView { ctx: self, row }
    }

    fn mask(&self, rows: Vec<u32>) -> Vec<bool> {
        let mut m = vec![false; self.rows];
        for r in rows {
            if let Some(x) = m.get_mut(r as usize) {
                *x = true;
            }
        }
        m
    }

    /// Row mask of `f` over the block.
    pub fn eval(&mut self, f: &CFilter) -> strata_segment::Result<Vec<bool>> {
        Ok(match f {
            CFilter::True => vec![true; self.rows],
            CFilter::And(parts) => {
                let mut m = vec![true; self.rows];
                for p in parts {
                    if !m.iter().any(|x| *x) {
                        break;
                    }
                    let pm = self.eval(p)?;
                    m.iter_mut().zip(pm).for_each(|(a, b)| *a = *a && b);
                }
                m
            }
            CFilter::Or(parts) => {
                let mut m = vec![false; self.rows];
                for p in parts {
                    let pm = self.eval(p)?;
                    m.iter_mut().zip(pm).for_each(|(a, b)| *a = *a || b);
                }
                m
            }
            CFilter::Not(f) => self.eval(f)?.into_iter().map(|x| !x).collect(),
            CFilter::FreeText { text, .. } => {
                self.load(&["@rawstring".to_string()])?;
                let mut rows = Vec::new();
                let mut m = SubstringMatcher::new(text, true);
                if let Some(raw) = &self.raw {
                    m.matching_rows(raw, &mut rows);
                }
                self.mask(rows)
            }
            CFilter::Compare {
                field,
                op: op @ (CmpOp::Eq | CmpOp::Ne),
                value,
                ..
            } if !field.starts_with('@') => {
                let m = if field.starts_with('#') {
                    let hit = tag_value(field, self.repo, self.tags)
                        .is_some_and(|v| glob_match(value, v));
                    vec![hit; self.rows]
                } else {
                    self.load(std::slice::from_ref(field))?;
                    let n = self.rows;
                    match self.fields.get(field.as_str()).and_then(Option::as_ref) {
                        None => vec![false; n],
                        Some(col) => {
                            let mut rows = Vec::new();
                            if value == "*" {
                                (0..col.len())
                                    .filter(|&i| col.get(i).is_some())
                                    .for_each(|i| rows.push(i as u32));
                            } else if !value.contains('*') {
                                equal_rows(col, value, &mut rows);
                            } else if value.ends_with('*') && value.matches('*').count() == 1 {
                                prefix_rows(col, &value[..value.len() - 1], &mut rows);
                            } else {
                                (0..col.len())
                                    .filter(|&i| col.get(i).is_some_and(|v| glob_match(value, v)))
                                    .for_each(|i| rows.push(i as u32));
                            }
                            self.mask(rows)
                        }
                    }
                };
                if *op == CmpOp::Ne {
                    m.into_iter().map(|x| !x).collect()
                } else {
                    m
                }
            }
            CFilter::OneOf { field, values }
                if !field.starts_with('@') && !field.starts_with('#') =>
            {
                self.load(std::slice::from_ref(field))?;
                match self.fields.get(field.as_str()).and_then(Option::as_ref) {
                    None => vec![false; self.rows],
                    Some(col) => (0..self.rows)
                        .map(|i| col.get(i).is_some_and(|v| values.contains(v)))
                        .collect(),
                }
            }
            other => {
                // No kernel: evaluate per row over the decoded columns.
                let mut names = Vec::new();
                other.fields(&mut names);
                self.load(&names)?;
                (0..self.rows)
                    .map(|i| other.matches(&self.view(i)))
                    .collect()
            }
        })
    }
}

/// One row of a block, read from its decoded columns.
pub struct ColView<'a> {
    ctx: &'a BlockCtx<'a>,
    row: usize,
}

impl Source for ColView<'_> {
    fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        let c = self.ctx;
        match name {
            "@rawstring" => c.raw.as_ref()?.get(self.row).map(Cow::Borrowed),
            "@timestamp" => c
                .time
                .as_ref()
                .and_then(|t| t.get(self.row))
                .map(|t| Cow::Owned(t.0.to_string())),
            "@timestamp.nanos" => c
                .time
                .as_ref()
                .and_then(|t| t.get(self.row))
                .filter(|t| t.1 != 0)
                .map(|t| Cow::Owned(t.1.to_string())),
            "@id" => c
                .ids
                .as_ref()
                .and_then(|t| t.get(self.row))
                .map(|t| Cow::Owned(t.to_string())),
            "@ingesttimestamp" => c
                .ingest
                .as_ref()
                .and_then(|t| t.get(self.row))
                .map(|t| Cow::Owned(t.to_string())),
            n if n.starts_with('#') => tag_value(n, c.repo, c.tags).map(Cow::Borrowed),
            n => c.fields.get(n)?.as_ref()?.get(self.row).map(Cow::Borrowed),
        }
    }

    fn timestamp(&self) -> i64 {
        self.ctx
            .time
            .as_ref()
            .and_then(|t| t.get(self.row))
            .map_or(0, |t| t.0)
    }
}
