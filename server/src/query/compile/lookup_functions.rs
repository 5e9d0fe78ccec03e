//! Functions over lookup files: `match()`
//! (<https://library.humio.com/data-analysis/functions-match.html>) and `readFile()`
//! (<https://library.humio.com/data-analysis/functions-readfile.html>). Files come from the
//! [`Files`](crate::query::lookup::Files) source of the compile in progress ([`with_files`]).

use std::cell::RefCell;
use std::sync::Arc;

use super::args::Args;
use super::{err, Compiled};
use crate::query::ast::Call;
use crate::query::lookup::{Files, LookupMatch, Mode, NoFiles, Table, MAX_NROWS};
use crate::query::ops::{Expand, Op};
use crate::query::row::Row;
use crate::query::ParseError;

thread_local! {
    // The compiler is synchronous and recursive through every function family (a `match()`
    // may sit inside `case`, `groupBy(function=…)` or `array:eval`); the source is set for the
    // length of one `compile_with` on this thread instead of widening every family's
    // signature with it.
    static FILES: RefCell<Option<Arc<dyn Files>>> = const { RefCell::new(None) };
}

/// Runs `f` with `files` as the lookup file source of every `match()`/`readFile()` in it.
pub(super) fn with_files<T>(files: Arc<dyn Files>, f: impl FnOnce() -> T) -> T {
    struct Reset(Option<Arc<dyn Files>>);
    impl Drop for Reset {
        fn drop(&mut self) {
            let prev = self.0.take();
            FILES.with(|c| *c.borrow_mut() = prev);
        }
    }
    let prev = FILES.with(|c| c.borrow_mut().replace(files));
    let _reset = Reset(prev);
    f()
}

fn file(c: &Call, name: &str) -> Result<Arc<Table>, ParseError> {
    let files = FILES
        .with(|c| c.borrow().clone())
        .unwrap_or_else(|| Arc::new(NoFiles));
    files
        .get(name)
        .map_err(|m| err(c.pos, format!("{}(): {m}", c.name)))
}

fn columns_of(
    c: &Call,
    t: &Table,
    file_name: &str,
    names: &[String],
) -> Result<Vec<usize>, ParseError> {
    names
        .iter()
        .map(|n| {
            t.column(n).ok_or_else(|| {
                err(
                    c.pos,
                    format!(
                        "{}(): the file {file_name:?} has no column {n:?} (columns: {})",
                        c.name,
                        t.columns.join(", ")
                    ),
                )
            })
        })
        .collect()
}

/// Compiles `match()`; `readFile()` is compiled by [`read_file`] since it replaces the events.
pub(super) fn compile(c: &Call, name: &str) -> Result<Option<Compiled>, ParseError> {
    if name != "match" {
        return Ok(None);
    }
    let a = Args::new(
        c,
        &[
            "file",
            "table",
            "field",
            "column",
            "include",
            "strict",
            "mode",
            "glob",
            "ignoreCase",
            "nrows",
        ],
        Some("file"),
    )?;
    let file_name = match a.str("table", false)? {
        Some(t) => t,
        None => a.req("file", true)?,
    };
    let t = file(c, &file_name)?;
    let fields = a
        .list("field", false)?
        .ok_or_else(|| err(c.pos, "match() needs the parameter field"))?;
    let columns = a.list("column", false)?.unwrap_or_else(|| fields.clone());
    if columns.len() != fields.len() {
        return Err(err(
            c.pos,
            format!(
                "match(): field and column must have the same length ({} fields, {} columns)",
                fields.len(),
                columns.len()
            ),
        ));
    }
    let key_cols = columns_of(c, &t, &file_name, &columns)?;
    let include = match a.list("include", false)? {
        Some(inc) => columns_of(c, &t, &file_name, &inc)?,
        None => (0..t.columns.len()).collect(),
    };
    let glob = a.bool("glob", false)?;
    let mode = match a.str("mode", false)?.as_deref() {
        None if glob => Mode::Glob,
        None => Mode::String,
        Some(m) if m.eq_ignore_ascii_case("string") => Mode::String,
        Some(m) if m.eq_ignore_ascii_case("glob") => Mode::Glob,
        Some(m) if m.eq_ignore_ascii_case("cidr") => Mode::Cidr,
        Some(m) => {
            return Err(err(
                a.get("mode", false).map_or(c.pos, |x| x.pos),
                format!("match(): mode must be string, glob or cidr, not {m:?}"),
            ))
        }
    };
    let m = LookupMatch::new(
        t,
        fields,
        &key_cols,
        include,
        a.bool("strict", true)?,
        mode,
        a.bool("ignoreCase", false)?,
        a.limit("nrows", false, 1, MAX_NROWS)?,
    )
    .map_err(|m| err(c.pos, format!("match(): {m}")))?;
    Ok(Some(Compiled::Op(Op::Expand(Expand::Lookup(Box::new(m))))))
}

/// Most rows `readFile()` outputs (LogScale's aggregate row limit).
const READ_FILE_MAX: usize = super::GROUPBY_MAX_LIMIT;

/// `readFile(file=[…], include=[…], limit=N)`: the files' rows, in the order given.
pub(super) fn read_file(c: &Call) -> Result<Vec<Row>, ParseError> {
    let a = Args::new(c, &["file", "table", "include", "limit"], Some("file"))?;
    let names = match a.list("table", false)? {
        Some(t) => t,
        None => a
            .list("file", true)?
            .ok_or_else(|| err(c.pos, "readFile() needs the parameter file"))?,
    };
    let limit = a.limit("limit", false, READ_FILE_MAX, READ_FILE_MAX)?;
    let include = a.list("include", false)?;
    let mut out = Vec::new();
    for n in &names {
        let t = file(c, n)?;
        // A file without an included column adds nothing (LogScale combines files of any
        // shape); the columns it has are kept.
        let cols: Option<Vec<usize>> = include
            .as_ref()
            .map(|inc| inc.iter().filter_map(|i| t.column(i)).collect());
        out.extend(t.to_rows(cols.as_deref(), limit - out.len()));
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}
