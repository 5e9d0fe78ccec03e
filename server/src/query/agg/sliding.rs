//! `slidingWindow(function, events=, current=)` and `slidingTimeWindow(function, span=,
//! current=, timestampfield=)`: sequence functions that run after an aggregate, over its rows in
//! the order they come. Each row gets the functions' output over a moving window of the rows
//! before it — the last `events` rows, or those whose timestamp is within `span` of its own —
//! including the row itself unless `current=exclude`
//! (https://library.humio.com/data-analysis/functions-slidingwindow.html,
//! https://library.humio.com/data-analysis/functions-slidingtimewindow.html). The rows are
//! already merged at the root (the compiler refuses the functions as a first aggregate), so
//! the state is the rows in order.

use super::finish::finish_all;
use super::Agg;
use crate::query::number;
use crate::query::row::Row;

/// How far back a window reaches.
#[derive(Debug, Clone, PartialEq)]
pub enum Reach {
    Events(usize),
    /// A time span (ms) over the timestamps in the named field.
    Span {
        ms: i64,
        field: String,
    },
}

fn time_of(r: &Row, field: &str) -> Option<i64> {
    match r.get_str(field).and_then(number) {
        Some(t) => Some(t as i64),
        None if field == "@timestamp" => Some(r.key.0),
        None => None,
    }
}

/// The window rows of each row, and each row with the functions' output written onto it.
pub(super) fn finish(reach: &Reach, current: bool, functions: &[Agg], rows: Vec<Row>) -> Vec<Row> {
    let mut out = Vec::with_capacity(rows.len());
    for i in 0..rows.len() {
        let end = if current { i + 1 } else { i };
        let start = match reach {
            Reach::Events(n) => end.saturating_sub(*n),
            Reach::Span { ms, field } => match time_of(&rows[i], field) {
                None => end,
                Some(t) => {
                    let mut s = end;
                    while s > 0 && time_of(&rows[s - 1], field).is_some_and(|x| x > t - ms) {
                        s -= 1;
                    }
                    s
                }
            },
        };
        let mut states: Vec<_> = functions.iter().map(Agg::new_state).collect();
        for r in &rows[start..end] {
            for (f, s) in functions.iter().zip(states.iter_mut()) {
                f.add_row(s, r.clone());
            }
        }
        let mut row = rows[i].clone();
        for o in finish_all(functions, states, Row::default())
            .into_iter()
            .take(1)
        {
            for (k, v) in o.fields {
                row.set(&k, v);
            }
        }
        out.push(row);
    }
    out
}
