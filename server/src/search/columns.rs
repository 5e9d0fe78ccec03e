//! Column-wise evaluation over one decoded segment block. Filters run on whole columns (one
//! `memmem` pass per block for free text, exact/prefix kernels for `field=value`) and return
//! a row mask; anything without a kernel falls back to per-row evaluation through
//! [`ColView`], which reads values straight out of the decoded columns. Aggregates read the
//! same views, so a `groupBy()` over a block never builds events.

use std::borrow::Cow;
use std::collections::BTreeMap;

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

/// Lazily decoded columns of one block.
pub struct BlockCtx<'a> {
    r: &'a SegmentReader,
    block: usize,
    rows: usize,
    repo: &'a str,
    tags: &'a BTreeMap<String, String>,
    raw: Option<StrColumn>,
    time: Option<Vec<(i64, u32)>>,
    fields: FxHashMap<String, Option<StrColumn>>,
}

impl<'a> BlockCtx<'a> {
    pub fn new(
        r: &'a SegmentReader,
        block: usize,
        repo: &'a str,
        tags: &'a BTreeMap<String, String>,
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
            fields: FxHashMap::default(),
        }
    }

    /// Decodes the columns `names` refers to (`*` and unknown names are ignored).
    pub fn load(&mut self, names: &[String]) -> strata_segment::Result<()> {
        for n in names {
            match n.as_str() {
                "@rawstring" => {
                    if self.raw.is_none() {
                        self.raw = Some(self.r.raw_column(self.block)?);
                    }
                }
                "@timestamp" => {
                    self.time()?;
                }
                "*" => {}
                n if n.starts_with('@') || n.starts_with('#') => {}
                n => {
                    if !self.fields.contains_key(n) {
                        let c = self.r.field_column(self.block, n)?;
                        self.fields.insert(n.to_string(), c);
                    }
                }
            }
        }
        Ok(())
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
