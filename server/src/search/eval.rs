//! Filter evaluation: on whole block columns (vectorised, returns a row mask) and on single
//! in-memory events (WIP). Both follow the same semantics: free text is an ASCII-case-
//! insensitive substring of `@rawstring`; `field=pattern` is case-sensitive with `*` globs;
//! `field=*` means present; `#tag=v` tests the datasource's tags.

use std::collections::{BTreeMap, HashMap};

use strata_segment::scan::{equal_rows, prefix_rows, SubstringMatcher};
use strata_segment::{Event, FilterQuery, SegmentReader, StrColumn};

use crate::query::{glob_match, Filter};

/// Block-filter requirements implied by a filter (only from positive terms under AND).
pub fn filter_query_for(f: &Filter) -> FilterQuery {
    let mut q = FilterQuery::default();
    collect(f, &mut q);
    q
}

fn collect(f: &Filter, q: &mut FilterQuery) {
    match f {
        Filter::And(parts) => parts.iter().for_each(|p| collect(p, q)),
        Filter::FreeText(t) => q.add_substring(t),
        Filter::FieldMatch { field, pattern }
            if !field.starts_with('#') && !field.starts_with('@') && !pattern.contains('*') =>
        {
            q.add_field(field, pattern)
        }
        _ => {}
    }
}

/// False when the tag filters under a top-level AND rule out a datasource with `tags`.
pub fn tags_may_match(f: &Filter, tags: &BTreeMap<String, String>) -> bool {
    match f {
        Filter::And(parts) => parts.iter().all(|p| tags_may_match(p, tags)),
        Filter::FieldMatch { field, pattern } if field.starts_with('#') => {
            tag_matches(field, pattern, tags)
        }
        _ => true,
    }
}

fn tag_matches(field: &str, pattern: &str, tags: &BTreeMap<String, String>) -> bool {
    match tags.get(&field[1..]) {
        Some(v) => glob_match(pattern, v),
        None => false,
    }
}

/// A filter prepared for evaluating many single events: substring matchers are built once.
pub enum Compiled {
    And(Vec<Compiled>),
    Or(Vec<Compiled>),
    Not(Box<Compiled>),
    FreeText(Box<SubstringMatcher>),
    Field { field: String, pattern: String },
}

impl Compiled {
    pub fn new(f: &Filter) -> Compiled {
        match f {
            Filter::And(p) => Compiled::And(p.iter().map(Compiled::new).collect()),
            Filter::Or(p) => Compiled::Or(p.iter().map(Compiled::new).collect()),
            Filter::Not(f) => Compiled::Not(Box::new(Compiled::new(f))),
            Filter::FreeText(t) => Compiled::FreeText(Box::new(SubstringMatcher::new(t, true))),
            Filter::FieldMatch { field, pattern } => Compiled::Field {
                field: field.clone(),
                pattern: pattern.clone(),
            },
        }
    }

    /// Evaluates the filter on one event.
    pub fn matches(&mut self, e: &Event, tags: &BTreeMap<String, String>) -> bool {
        match self {
            Compiled::And(p) => p.iter_mut().all(|f| f.matches(e, tags)),
            Compiled::Or(p) => p.iter_mut().any(|f| f.matches(e, tags)),
            Compiled::Not(f) => !f.matches(e, tags),
            Compiled::FreeText(m) => m.is_match(&e.raw),
            Compiled::Field { field, pattern } => {
                if field.starts_with('#') {
                    return tag_matches(field, pattern, tags);
                }
                let v = match field.as_str() {
                    "@rawstring" => Some(e.raw.as_str()),
                    _ => e.fields.get(field.as_str()).map(String::as_str),
                };
                v.is_some_and(|v| glob_match(pattern, v))
            }
        }
    }
}

/// Lazily decoded columns of one block.
pub struct BlockCtx<'a> {
    r: &'a SegmentReader,
    block: usize,
    rows: usize,
    tags: &'a BTreeMap<String, String>,
    raw: Option<StrColumn>,
    fields: HashMap<String, Option<StrColumn>>,
}

impl<'a> BlockCtx<'a> {
    pub fn new(r: &'a SegmentReader, block: usize, tags: &'a BTreeMap<String, String>) -> Self {
        let rows = r.blocks()[block].count as usize;
        BlockCtx {
            r,
            block,
            rows,
            tags,
            raw: None,
            fields: HashMap::new(),
        }
    }

    fn raw(&mut self) -> strata_segment::Result<&StrColumn> {
        if self.raw.is_none() {
            self.raw = Some(self.r.raw_column(self.block)?);
        }
        Ok(self.raw.get_or_insert_with(StrColumn::default))
    }

    fn field(&mut self, name: &str) -> strata_segment::Result<Option<&StrColumn>> {
        if !self.fields.contains_key(name) {
            let c = self.r.field_column(self.block, name)?;
            self.fields.insert(name.to_string(), c);
        }
        Ok(self.fields.get(name).and_then(Option::as_ref))
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
    pub fn eval(&mut self, f: &Filter) -> strata_segment::Result<Vec<bool>> {
        Ok(match f {
            Filter::And(parts) => {
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
            Filter::Or(parts) => {
                let mut m = vec![false; self.rows];
                for p in parts {
                    let pm = self.eval(p)?;
                    m.iter_mut().zip(pm).for_each(|(a, b)| *a = *a || b);
                }
                m
            }
            Filter::Not(f) => self.eval(f)?.into_iter().map(|x| !x).collect(),
            Filter::FreeText(t) => {
                let mut rows = Vec::new();
                let mut m = SubstringMatcher::new(t, true);
                m.matching_rows(self.raw()?, &mut rows);
                self.mask(rows)
            }
            Filter::FieldMatch { field, pattern } => {
                if field.starts_with('#') {
                    vec![tag_matches(field, pattern, self.tags); self.rows]
                } else if field == "@rawstring" {
                    let raw = self.raw()?;
                    (0..raw.len())
                        .map(|i| raw.get(i).is_some_and(|v| glob_match(pattern, v)))
                        .collect()
                } else {
                    let n = self.rows;
                    let Some(col) = self.field(field)? else {
                        return Ok(vec![false; n]);
                    };
                    let mut rows = Vec::new();
                    if pattern == "*" {
                        (0..col.len())
                            .filter(|&i| col.get(i).is_some())
                            .for_each(|i| rows.push(i as u32));
                    } else if !pattern.contains('*') {
                        equal_rows(col, pattern, &mut rows);
                    } else if pattern.ends_with('*') && pattern.matches('*').count() == 1 {
                        prefix_rows(col, &pattern[..pattern.len() - 1], &mut rows);
                    } else {
                        (0..col.len())
                            .filter(|&i| col.get(i).is_some_and(|v| glob_match(pattern, v)))
                            .for_each(|i| rows.push(i as u32));
                    }
                    self.mask(rows)
                }
            }
        })
    }
}
