//! LogScale's `array:*` functions over arrays stored as `name[0]`, `name[1]`, ... (written
//! `name[]` in the query): `array:length`, `array:union`, `array:filter`, and the filter
//! `array:contains` (in `filter_fns.rs`).
//! <https://library.humio.com/data-analysis/functions-array-functions.html>

use crate::query::row::{Row, Source};

use super::Op;

/// Largest array read (a guard against unbounded loops over hostile field names).
pub const MAX_ELEMENTS: usize = 100_000;

/// `name[]` → `name`.
pub fn base(name: &str) -> &str {
    name.strip_suffix("[]").unwrap_or(name)
}

/// The elements of the array `base` (`base[0]`, `base[1]`, ... up to the first gap).
pub fn elements(src: &dyn Source, base: &str) -> Vec<String> {
    let mut out = Vec::new();
    while out.len() < MAX_ELEMENTS {
        match src.get(&format!("{base}[{}]", out.len())) {
            Some(v) => out.push(v.into_owned()),
            None => break,
        }
    }
    out
}

fn set_array(row: &mut Row, base: &str, values: &[String]) {
    // Drop an old, longer array of that name so no stale tail remains.
    let prefix = format!("{base}[");
    row.fields.retain(|(k, _)| !k.starts_with(&prefix));
    for (i, v) in values.iter().enumerate() {
        row.set(&format!("{base}[{i}]"), v.clone());
    }
}

pub enum ArrayFn {
    Length {
        array: String,
        as_: String,
    },
    /// Distinct values of all arrays, in first-seen order.
    Union {
        arrays: Vec<String>,
        as_: String,
    },
    /// Elements for which `function` (run with the element as field `var`) keeps the event.
    Filter {
        array: String,
        var: String,
        function: Vec<Op>,
        as_array: String,
    },
}

impl ArrayFn {
    pub fn apply(&self, row: &mut Row) -> bool {
        match self {
            ArrayFn::Length { array, as_ } => {
                let n = elements(&*row, array).len();
                row.set(as_, n.to_string());
            }
            ArrayFn::Union { arrays, as_ } => {
                let mut seen = rustc_hash::FxHashSet::default();
                let mut out = Vec::new();
                for a in arrays {
                    for v in elements(&*row, a) {
                        if seen.insert(v.clone()) {
                            out.push(v);
                        }
                    }
                }
                set_array(row, as_, &out);
            }
            ArrayFn::Filter {
                array,
                var,
                function,
                as_array,
            } => {
                let mut kept = Vec::new();
                for v in elements(&*row, array) {
                    let mut r = row.clone();
                    r.set(var, v.clone());
                    if function.iter().all(|op| op.apply(&mut r)) {
                        kept.push(v);
                    }
                }
                set_array(row, as_array, &kept);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_and_union() {
        let mut r = Row {
            fields: vec![
                ("a[0]".into(), "x".into()),
                ("a[1]".into(), "y".into()),
                ("b[0]".into(), "y".into()),
                ("b[1]".into(), "z".into()),
                ("u[5]".into(), "stale".into()),
            ],
            ..Row::default()
        };
        ArrayFn::Length {
            array: "a".into(),
            as_: "_length".into(),
        }
        .apply(&mut r);
        assert_eq!(r.get_str("_length"), Some("2"));
        ArrayFn::Union {
            arrays: vec!["a".into(), "b".into()],
            as_: "u".into(),
        }
        .apply(&mut r);
        assert_eq!(elements(&r, "u"), vec!["x", "y", "z"]);
        assert_eq!(r.get_str("u[5]"), None);
    }
}
