//! `session()`: events no further than `maxpause` apart form one session. A state keeps its
//! sessions ordered by start with more than `maxpause` between neighbours; an event joins the
//! session it is close to (bridging two joins them), and merging partial states is one sweep
//! over both lists, so sessions split across blocks or nodes come back whole.
//! Also the tie-breaking order of `selectFromMax`/`selectFromMin`.

use std::cmp::Ordering;

use super::{Agg, Extreme, SessionState};

/// Index of the session that takes an event at `t`, creating or joining sessions as needed.
pub(super) fn place(v: &mut Vec<SessionState>, t: i64, maxpause: i64, functions: &[Agg]) -> usize {
    // The first session that does not end more than `maxpause` before t.
    let i = v.partition_point(|s| s.1.saturating_add(maxpause) < t);
    if i < v.len() && v[i].0.saturating_sub(maxpause) <= t {
        v[i].0 = v[i].0.min(t);
        v[i].1 = v[i].1.max(t);
        if i + 1 < v.len() && v[i + 1].0 - v[i].1 <= maxpause {
            let next = v.remove(i + 1);
            join(&mut v[i], next, functions);
        }
        return i;
    }
    v.insert(i, (t, t, functions.iter().map(Agg::new_state).collect()));
    i
}

fn join(a: &mut SessionState, b: SessionState, functions: &[Agg]) {
    a.0 = a.0.min(b.0);
    a.1 = a.1.max(b.1);
    for ((f, x), y) in functions.iter().zip(a.2.iter_mut()).zip(b.2) {
        f.merge(x, y);
    }
}

/// Merges two session lists (each ordered and separated) into one.
pub(super) fn merge(
    a: &mut Vec<SessionState>,
    b: Vec<SessionState>,
    maxpause: i64,
    functions: &[Agg],
) {
    if b.is_empty() {
        return;
    }
    let mut all = std::mem::take(a);
    all.extend(b);
    all.sort_by_key(|s| s.0);
    let mut out: Vec<SessionState> = Vec::with_capacity(all.len());
    for s in all {
        match out.last_mut() {
            Some(last) if s.0 - last.1 <= maxpause => join(last, s, functions),
            _ => out.push(s),
        }
    }
    *a = out;
}

/// Does `a` beat `b` for selectFromMax (`max`) or selectFromMin? Ties go to the newer event,
/// then the larger values, so the choice does not depend on arrival order.
pub(super) fn better(a: &Extreme, b: &Extreme, max: bool) -> bool {
    let by_value = a.0.partial_cmp(&b.0).unwrap_or(Ordering::Equal);
    let by_value = if max { by_value } else { by_value.reverse() };
    by_value
        .then_with(|| a.1.cmp(&b.1))
        .then_with(|| a.2.cmp(&b.2))
        == Ordering::Greater
}
