//! Search domains: a query names a repository or a view (LogScale's model). A view resolves
//! into sources — its connected repositories, each with its connection's filter — before the
//! search root runs; each source is an ordinary repository search whose query text is the
//! filter ahead of the user's query (`filter | query`), so every node (and every leaf) applies
//! the filter first with no change to the wire format. The sources run at once and their
//! partial states merge with the user's plan: a connection filter is a filter without
//! aggregates (`check_filter`), so each source's plan has the user's aggregate.

use std::sync::Arc;

use strata_global::{SegmentInfo, State as GlobalState, ViewConnection};

use super::root::{Gathered, Root, RootQuery};
use super::{Progress, SearchError};
use crate::query::{self, Plan, PlanOptions, Zone};

/// One repository of a search and the filter its events pass first (empty: none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub repo: String,
    pub filter: String,
}

/// The sources of the search domain `name`: a repository is its own only source, a view its
/// connections (to repositories that still exist). `None`: `name` is a repository or
/// unknown, searched as a repository.
pub fn view_sources(s: &GlobalState, name: &str) -> Option<Vec<Source>> {
    if s.repositories.contains_key(name) {
        return None;
    }
    let v = s.views.get(name)?;
    Some(
        v.connections
            .iter()
            .filter(|c| s.repositories.contains_key(&c.repository_name))
            .map(|c| Source {
                repo: c.repository_name.clone(),
                filter: c.filter.trim().to_string(),
            })
            .collect(),
    )
}

/// Segments of the search domain `name` overlapping `[start, end)` (a view: of every
/// connected repository).
pub fn segments_in_range(s: &GlobalState, name: &str, start: i64, end: i64) -> Vec<SegmentInfo> {
    match view_sources(s, name) {
        None => s.segments_in_range(name, start, end).cloned().collect(),
        Some(sources) => sources
            .iter()
            .flat_map(|src| s.segments_in_range(&src.repo, start, end).cloned())
            .collect(),
    }
}

/// The query text a source runs: its filter, then the user's query.
pub fn prefixed(filter: &str, query: &str) -> String {
    match (filter.trim().is_empty(), query.trim().is_empty()) {
        (true, _) => query.to_string(),
        (false, true) => filter.to_string(),
        (false, false) => format!("{filter}\n| {query}"),
    }
}

/// Checks a view connection's filter: a query that parses, compiles and has no aggregate
/// (it only keeps or shapes events, so a view's query keeps its own aggregate).
pub fn check_filter(c: &ViewConnection) -> Result<(), String> {
    if c.filter.trim().is_empty() {
        return Ok(());
    }
    let what = format!("the filter of the connection to {:?}", c.repository_name);
    let parsed = query::parse(&c.filter).map_err(|e| format!("{what} does not parse: {e}"))?;
    let opts = PlanOptions {
        start: 0,
        end: 1,
        default_limit: 1,
        zone: Zone::UTC,
    };
    let plan = query::compile(&parsed, opts).map_err(|e| format!("{what} is invalid: {e}"))?;
    if !plan.implicit_list || !plan.suffix.is_empty() {
        return Err(format!(
            "{what} must be a filter: no aggregate, head(), tail() or sort()"
        ));
    }
    Ok(())
}

impl Root<'_> {
    /// [`Root::search`] over the search domain `q.repo`: a repository as it is, a view as
    /// the merge of its sources' searches, each with its connection's filter first.
    pub async fn search_domain(
        &self,
        plan: Arc<Plan>,
        q: &RootQuery,
        progress: Arc<Progress>,
        register: Box<dyn FnOnce() + Send>,
    ) -> Result<Gathered, SearchError> {
        let Some(sources) = self.searcher.global().read(|s| view_sources(s, &q.repo)) else {
            return self.search(plan, q, progress, register).await;
        };
        if q.live.is_some() {
            return Err(SearchError::Query(format!(
                "{:?} is a view: live queries over views are not supported yet; run the query live on each repository",
                q.repo
            )));
        }
        register();
        let mut runs = Vec::with_capacity(sources.len());
        for src in &sources {
            let sq = RootQuery {
                repo: src.repo.clone(),
                query_string: prefixed(&src.filter, &q.query_string),
                ..q.clone()
            };
            let p = Arc::new(sq.compile()?);
            runs.push((sq, p));
        }
        if progress
            .cancelled
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            return Err(SearchError::Cancelled);
        }
        // Every source at once: each is a whole repository search (its own fan-out), so
        // one after another would add their latencies. `join_all` keeps the sources'
        // order, so the merge (and the warnings) come out the same on every run; the
        // shared `progress` carries a cancellation to every source's scan.
        let gathered = futures::future::join_all(
            runs.iter()
                .map(|(sq, p)| self.search(p.clone(), sq, progress.clone(), Box::new(|| {}))),
        )
        .await;
        let mut out = Gathered {
            state: plan.agg.new_state(),
            warnings: Vec::new(),
            answered: Vec::new(),
        };
        for g in gathered {
            let g = g?;
            plan.agg.merge(&mut out.state, g.state);
            out.warnings.extend(g.warnings);
            for n in g.answered {
                if !out.answered.contains(&n) {
                    out.answered.push(n);
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_runs_its_filter_ahead_of_the_query() {
        assert_eq!(prefixed("", "count()"), "count()");
        assert_eq!(prefixed("#type=a", "  "), "#type=a");
        assert_eq!(prefixed("#type=a", "x | count()"), "#type=a\n| x | count()");
    }

    #[test]
    fn a_connection_filter_is_a_filter() {
        let c = |f: &str| ViewConnection {
            repository_name: "r".into(),
            filter: f.into(),
        };
        assert!(check_filter(&c("")).is_ok());
        assert!(check_filter(&c("#type=accesslog status>=500")).is_ok());
        assert!(check_filter(&c("count()"))
            .unwrap_err()
            .contains("must be a filter"));
        assert!(check_filter(&c("head(3)")).is_err());
        assert!(check_filter(&c("a | sort(x)")).is_err());
        assert!(check_filter(&c("(("))
            .unwrap_err()
            .contains("does not parse"));
    }
}
