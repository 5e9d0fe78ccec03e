//! `window()`: inside `timeChart()`/`bucket()`, the functions run over a sliding window of the
//! `buckets` preceding buckets (or `span` rounded to buckets), the result written into the
//! bucket after the last one contributing: with `buckets=3`, bucket B3 shows the aggregate of
//! B0..B2 and the first three buckets show nothing; a window wider than the whole search shows
//! nothing at all (https://docs.humio.com/reference/query-functions/functions/window/,
//! https://library.humio.com/data-analysis/functions-window.html). Per bucket the window keeps
//! its functions' ordinary states, so it merges like any aggregate; the windows are formed at
//! finish, from the merged buckets.

use std::collections::BTreeMap;

use super::{Agg, State};

impl Agg {
    /// The buckets a `window()` spans when the surrounding buckets are `bucket_ms` wide.
    fn window_len(&self, bucket_ms: i64) -> Option<usize> {
        match self {
            Agg::Window {
                buckets: Some(n), ..
            } => Some(*n),
            Agg::Window { span: Some(s), .. } => {
                let b = bucket_ms.max(1);
                Some(((s + b / 2) / b).max(1) as usize)
            }
            Agg::Window { .. } => Some(1),
            _ => None,
        }
    }
}

/// The state of a window with no result (the first buckets, or a window wider than the grid).
fn no_result() -> State {
    State::Multi(Vec::new())
}

/// True when a window state holds a result to finish.
pub(super) fn has_result(functions: &[Agg], states: &[State]) -> bool {
    functions.len() == states.len()
}

/// Replaces each window function's state in every `grid` bucket by the merge of its states in
/// the preceding buckets of the window (no result for the first ones). Buckets of the grid
/// without events get states too, since a window can reach back to events.
pub(super) fn apply(
    functions: &[Agg],
    bucket_ms: i64,
    grid: &[i64],
    buckets: &mut BTreeMap<i64, Vec<State>>,
) {
    let windows: Vec<(usize, usize)> = functions
        .iter()
        .enumerate()
        .filter_map(|(j, f)| f.window_len(bucket_ms).map(|n| (j, n)))
        .collect();
    if windows.is_empty() {
        return;
    }
    for b in grid {
        buckets
            .entry(*b)
            .or_insert_with(|| functions.iter().map(Agg::new_state).collect());
    }
    for (j, n) in windows {
        // Each bucket's own state, taken out in grid order.
        let own: Vec<State> = grid
            .iter()
            .map(|b| match buckets.get_mut(b).and_then(|ss| ss.get_mut(j)) {
                Some(s) => std::mem::replace(s, no_result()),
                None => no_result(),
            })
            .collect();
        let f = &functions[j];
        for (i, b) in grid.iter().enumerate() {
            let Some(slot) = buckets.get_mut(b).and_then(|ss| ss.get_mut(j)) else {
                continue;
            };
            if i < n {
                continue;
            }
            let mut acc = f.new_state();
            for s in &own[i - n..i] {
                f.merge(&mut acc, s.clone());
            }
            *slot = acc;
        }
    }
}
