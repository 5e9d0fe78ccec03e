//! Lookup tables inside queries: the [`Table`] a lookup file parses into, the [`Files`] source
//! the compiler asks for a file by name (the server answers it from Global, so every node sees
//! the same files; tests answer it from a folder), and [`LookupMatch`], the operator behind
//! `match()` (<https://library.humio.com/data-analysis/functions-match.html>): exact, glob
//! or CIDR keys, `ignoreCase`, `include`, `strict`, `nrows`.
//!
//! The index is built once per compiled plan: exact keys in a hash map (one probe per event),
//! glob keys in file order, CIDR keys sorted most specific first (LogScale picks the most
//! specific subnet when several match).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::filter_fns::Net;
use super::glob_match;
use super::row::Row;

/// Largest `nrows` (LogScale: any number up to 500, or `max`).
pub const MAX_NROWS: usize = 500;

/// A parsed lookup file: its column names and rows of values (a missing value is `None`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// The rows as query rows (`readFile()`), keeping only `include` columns when given.
    pub fn to_rows(&self, include: Option<&[usize]>, limit: usize) -> Vec<Row> {
        let all: Vec<usize> = (0..self.columns.len()).collect();
        let cols = include.unwrap_or(&all);
        self.rows
            .iter()
            .take(limit)
            .map(|r| {
                let mut row = Row::default();
                for &c in cols {
                    if let Some(Some(v)) = r.get(c) {
                        row.set(&self.columns[c], v.clone());
                    }
                }
                row
            })
            .collect()
    }
}

/// Where the compiler finds lookup files by name (bound to the query's repository).
pub trait Files: Send + Sync {
    /// The parsed file, or a message naming why it cannot be had (unknown name, bad file).
    fn get(&self, name: &str) -> Result<Arc<Table>, String>;
}

/// A [`Files`] handle that search types can carry (cloned per node task, printed by name).
#[derive(Clone)]
pub struct FileSource(pub Arc<dyn Files>);

impl Default for FileSource {
    fn default() -> Self {
        FileSource(Arc::new(NoFiles))
    }
}

impl std::fmt::Debug for FileSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileSource")
    }
}

/// The source of a query compiled without one (parsers, unit tests): every file is unknown.
pub struct NoFiles;

impl Files for NoFiles {
    fn get(&self, name: &str) -> Result<Arc<Table>, String> {
        Err(format!(
            "lookup file {name:?} cannot be read here: lookup files are available in searches only"
        ))
    }
}

/// How `match()` compares an event's field with the key column (`mode=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    String,
    Glob,
    Cidr,
}

enum Index {
    /// Joined key (fields separated by U+001F) → matching rows in file order.
    Exact(HashMap<String, Vec<u32>>),
    /// (patterns per key column, row) in file order.
    Glob(Vec<(Vec<String>, u32)>),
    /// (subnet, row), most specific first.
    Cidr(Vec<(Net, u8, u32)>),
}

/// `match(file, field, column, include, strict, mode, ignoreCase, nrows)`.
pub struct LookupMatch {
    table: Arc<Table>,
    fields: Vec<String>,
    /// (column index, output field name).
    include: Vec<usize>,
    strict: bool,
    ignore_case: bool,
    nrows: usize,
    index: Index,
    /// Some event matched more rows than `nrows` allows.
    cut: AtomicBool,
}

const SEP: char = '\u{1f}';

impl LookupMatch {
    /// Builds the index over `columns` (same length as `fields`; checked by the caller).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        table: Arc<Table>,
        fields: Vec<String>,
        columns: &[usize],
        include: Vec<usize>,
        strict: bool,
        mode: Mode,
        ignore_case: bool,
        nrows: usize,
    ) -> Result<Self, String> {
        let fold = |s: &str| {
            if ignore_case {
                s.to_lowercase()
            } else {
                s.to_string()
            }
        };
        let index = match mode {
            Mode::String => {
                let mut map: HashMap<String, Vec<u32>> = HashMap::with_capacity(table.rows.len());
                'rows: for (i, r) in table.rows.iter().enumerate() {
                    let mut key = String::new();
                    for (n, &c) in columns.iter().enumerate() {
                        let Some(Some(v)) = r.get(c) else {
                            continue 'rows;
                        };
                        if n > 0 {
                            key.push(SEP);
                        }
                        key.push_str(&fold(v));
                    }
                    map.entry(key).or_default().push(i as u32);
                }
                Index::Exact(map)
            }
            Mode::Glob => Index::Glob(
                table
                    .rows
                    .iter()
                    .enumerate()
                    .filter_map(|(i, r)| {
                        let pats: Option<Vec<String>> = columns
                            .iter()
                            .map(|&c| r.get(c).cloned().flatten().map(|v| fold(&v)))
                            .collect();
                        pats.map(|p| (p, i as u32))
                    })
                    .collect(),
            ),
            Mode::Cidr => {
                if columns.len() != 1 {
                    return Err("mode=cidr matches one field against one column".into());
                }
                let mut nets = Vec::new();
                for (i, r) in table.rows.iter().enumerate() {
                    let Some(Some(v)) = r.get(columns[0]) else {
                        continue;
                    };
                    // A key that is not a subnet matches nothing (LogScale skips such rows).
                    if let Some(n) = Net::parse(v) {
                        nets.push((n, n.bits(), i as u32));
                    }
                }
                // Most specific first; file order among equals (a stable sort).
                nets.sort_by_key(|n| std::cmp::Reverse(n.1));
                Index::Cidr(nets)
            }
        };
        Ok(LookupMatch {
            table,
            fields,
            include,
            strict,
            ignore_case,
            nrows,
            index,
            cut: AtomicBool::new(false),
        })
    }

    /// The rows of the table `row` matches, at most `nrows` (+1 to tell a cut).
    fn hits(&self, row: &Row) -> Vec<u32> {
        let want = self.nrows + 1;
        let mut values = Vec::with_capacity(self.fields.len());
        for f in &self.fields {
            match row.get_str(f) {
                Some(v) if self.ignore_case => values.push(v.to_lowercase()),
                Some(v) => values.push(v.to_string()),
                None => return Vec::new(),
            }
        }
        match &self.index {
            Index::Exact(map) => {
                let key = values.join(&SEP.to_string());
                map.get(&key)
                    .map(|v| v.iter().take(want).copied().collect())
                    .unwrap_or_default()
            }
            Index::Glob(pats) => pats
                .iter()
                .filter(|(p, _)| p.iter().zip(&values).all(|(p, v)| glob_match(p, v)))
                .map(|(_, i)| *i)
                .take(want)
                .collect(),
            Index::Cidr(nets) => match values[0].trim().parse::<IpAddr>() {
                Ok(ip) => nets
                    .iter()
                    .filter(|(n, _, _)| n.contains(ip))
                    .map(|(_, _, i)| *i)
                    .take(want)
                    .collect(),
                Err(_) => Vec::new(),
            },
        }
    }

    /// One event per matching row (the row's `include` columns set on it), at most `nrows`;
    /// an event without a match is dropped when `strict`, passed on unchanged otherwise.
    pub fn expand(&self, row: Row, emit: &mut dyn FnMut(Row)) {
        let mut hits = self.hits(&row);
        if hits.is_empty() {
            if !self.strict {
                emit(row);
            }
            return;
        }
        if hits.len() > self.nrows {
            hits.truncate(self.nrows);
            self.cut.store(true, Ordering::Relaxed);
        }
        let last = hits.len() - 1;
        let mut row = Some(row);
        for (n, i) in hits.into_iter().enumerate() {
            let mut r = if n == last {
                row.take().unwrap_or_default()
            } else {
                row.clone().unwrap_or_default()
            };
            let values = &self.table.rows[i as usize];
            for &c in &self.include {
                match values.get(c).cloned().flatten() {
                    Some(v) => r.set(&self.table.columns[c], v),
                    None => {
                        r.remove(&self.table.columns[c]);
                    }
                }
            }
            emit(r);
        }
    }

    pub fn warnings(&self, out: &mut Vec<String>) {
        if self.cut.load(Ordering::Relaxed) {
            out.push(format!(
                "match() found more than nrows={} rows for some events and kept the first {}",
                self.nrows, self.nrows
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Arc<Table> {
        let s = |v: &str| Some(v.to_string());
        Arc::new(Table {
            columns: vec!["ip".into(), "net".into(), "name".into()],
            rows: vec![
                vec![s("10.0.0.1"), s("10.0.0.0/8"), s("wide")],
                vec![s("10.1.2.3"), s("10.1.0.0/16"), s("narrow")],
                vec![s("10.0.0.1"), s("bad"), s("again")],
            ],
        })
    }

    fn run(m: &LookupMatch, ip: &str) -> Vec<Row> {
        let mut row = Row::default();
        row.set("ip", ip.into());
        let mut out = Vec::new();
        m.expand(row, &mut |r| out.push(r));
        out
    }

    #[test]
    fn exact_cidr_and_nrows() {
        let t = table();
        let m = LookupMatch::new(
            t.clone(),
            vec!["ip".into()],
            &[0],
            vec![2],
            true,
            Mode::String,
            false,
            1,
        )
        .unwrap();
        let out = run(&m, "10.0.0.1");
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].get_str("name"), Some("wide"));
        let mut w = Vec::new();
        m.warnings(&mut w);
        assert_eq!(w.len(), 1, "two rows matched, nrows=1 kept one");
        assert!(run(&m, "10.9.9.9").is_empty(), "strict drops a miss");

        let m = LookupMatch::new(
            t.clone(),
            vec!["ip".into()],
            &[1],
            vec![2],
            true,
            Mode::Cidr,
            false,
            1,
        )
        .unwrap();
        assert_eq!(run(&m, "10.1.9.9")[0].get_str("name"), Some("narrow"));
        assert_eq!(run(&m, "10.2.0.0")[0].get_str("name"), Some("wide"));
        assert!(run(&m, "not an ip").is_empty());

        let m = LookupMatch::new(
            t,
            vec!["ip".into()],
            &[0],
            vec![2],
            false,
            Mode::String,
            false,
            MAX_NROWS,
        )
        .unwrap();
        let names: Vec<_> = run(&m, "10.0.0.1")
            .iter()
            .map(|r| r.get_str("name").unwrap().to_string())
            .collect();
        assert_eq!(names, ["wide", "again"]);
        assert_eq!(
            run(&m, "1.1.1.1").len(),
            1,
            "strict=false lets a miss through"
        );
    }
}
