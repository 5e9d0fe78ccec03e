//! Which node evaluates an alert: rendezvous hashing of the alert id over the live nodes, so
//! every node that sees the same membership picks the same one without talking, and when that
//! node dies (it stops being live after `--node-timeout-ms`) the alert moves to the node with
//! the next highest score — only the dead node's alerts move.

/// The live node that evaluates `alert_id` (None when no node is live).
pub fn owner(alert_id: &str, live: &[u32]) -> Option<u32> {
    live.iter()
        .copied()
        .max_by_key(|n| (score(alert_id, *n), *n))
}

fn score(alert_id: &str, node: u32) -> u64 {
    strata_segment::hash64(format!("{alert_id}/{node}").as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_owner_spread_over_nodes_and_only_a_dead_nodes_alerts_move() {
        let live = [1, 2, 3];
        let ids: Vec<String> = (0..300).map(|i| format!("{i:016x}")).collect();
        let mut per = [0usize; 4];
        for id in &ids {
            let o = owner(id, &live).unwrap();
            per[o as usize] += 1;
            let mut shuffled = vec![3, 1, 2];
            assert_eq!(
                owner(id, &shuffled),
                Some(o),
                "order of the live list does not matter"
            );
            shuffled.retain(|n| *n != 2);
            let after = owner(id, &shuffled).unwrap();
            if o != 2 {
                assert_eq!(after, o, "alerts of live nodes stay");
            } else {
                assert_ne!(after, 2);
            }
        }
        assert!(per[1..].iter().all(|c| *c > 50), "spread: {per:?}");
        assert_eq!(owner("x", &[]), None);
    }
}
