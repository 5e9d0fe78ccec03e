//! Search domains: a query names a repository or a view (LogScale's model). A view resolves
//! into sources — its connected repositories, each with its connection's filter — before the
//! search root runs; each source is an ordinary repository search whose query text is the
//! filter ahead of the user's query (`filter | query`), so every node (and every leaf) applies
//! the filter first with no change to the wire format. The sources run at once and their
//! partial states merge with the user's plan: a connection filter is a filter without
//! aggregates (`check_filter`), so each source's plan has the user's aggregate.
//!
//! Live queries and live streams on a view keep one live feed per source on every node (each
//! fed by its repository's digest through its source's plan, under its own id
//! [`source_id`]); the root merges the feeds as it merges the sources' historical states.

use std::sync::Arc;

use strata_global::{Global, SegmentInfo, State as GlobalState, ViewConnection};

use super::live::{LiveSpec, LiveStreamSpec};
use super::root::{Gathered, Root, RootQuery};
use super::{Progress, SearchError};
use crate::query::lookup::FileSource;
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
/// (it only keeps or shapes events, so a view's query keeps its own aggregate), reading the
/// connected repository's lookup files (`files`).
pub fn check_filter(
    c: &ViewConnection,
    files: Arc<dyn crate::query::lookup::Files>,
) -> Result<(), String> {
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
    let plan =
        query::compile_with(&parsed, opts, files).map_err(|e| format!("{what} is invalid: {e}"))?;
    if !plan.implicit_list || !plan.suffix.is_empty() {
        return Err(format!(
            "{what} must be a filter: no aggregate, head(), tail() or sort()"
        ));
    }
    Ok(())
}

/// The lookup files a query on `name` reads: a repository's own; a view's, then those of its
/// connected repositories in connection order (each source reads its view's, then its own).
pub fn domain_files(global: &Global, name: &str) -> FileSource {
    let mut domains = vec![name.to_string()];
    if let Some(sources) = global.read(|s| view_sources(s, name)) {
        domains.extend(sources.into_iter().map(|s| s.repo));
    }
    let d: Vec<&str> = domains.iter().map(String::as_str).collect();
    FileSource(crate::lookup::files_in(global, &d))
}

/// The id a view's source `i` of the live query or stream `id` has on every node: each node
/// holds one live feed per source, each fed by its repository with its filter.
pub fn source_id(id: &str, i: usize) -> String {
    format!("{id}-s{i}")
}

/// The repository searches a search on the view `q.repo` is made of (`None`: `q.repo` is a
/// repository): each connection's filter ahead of the query, the view's lookup files first,
/// and for a live query a live id of its own per source ([`source_id`]).
pub fn source_queries(global: &Global, q: &RootQuery) -> Option<Vec<RootQuery>> {
    let sources = global.read(|s| view_sources(s, &q.repo))?;
    Some(
        sources
            .into_iter()
            .enumerate()
            .map(|(i, src)| RootQuery {
                query_string: prefixed(&src.filter, &q.query_string),
                live: q.live.as_ref().map(|l| LiveSpec {
                    id: source_id(&l.id, i),
                    ..l.clone()
                }),
                files: FileSource(crate::lookup::files_in(global, &[&q.repo, &src.repo])),
                view: Some(q.repo.clone()),
                repo: src.repo,
                ..q.clone()
            })
            .collect(),
    )
}

/// One repository search of a domain search, ready to run.
pub struct Run {
    pub q: RootQuery,
    pub plan: Arc<Plan>,
    /// Called when this node snapshots its work in progress for this search (a live feed
    /// registers there).
    pub register: Box<dyn FnOnce() + Send>,
    /// A slice of a live stream: this search's stream on every node.
    pub stream: Option<LiveStreamSpec>,
}

impl Run {
    /// `q` compiled, with nothing to register.
    pub fn new(q: RootQuery) -> Result<Run, SearchError> {
        Ok(Run {
            plan: Arc::new(q.compile()?),
            q,
            register: Box::new(|| {}),
            stream: None,
        })
    }
}

impl Root<'_> {
    /// [`Root::search`] over the search domain `q.repo`: a repository as it is, a view as
    /// the merge of its sources' searches, each with its connection's filter first. A live
    /// query on a view needs a feed per source: it goes through [`Root::search_runs`].
    pub async fn search_domain(
        &self,
        plan: Arc<Plan>,
        q: &RootQuery,
        progress: Arc<Progress>,
        register: Box<dyn FnOnce() + Send>,
    ) -> Result<Gathered, SearchError> {
        let Some(sources) = source_queries(self.searcher.global(), q) else {
            return self.search(plan, q, progress, register).await;
        };
        if q.live.is_some() {
            return Err(SearchError::Internal(format!(
                "a live search of the view {:?} must register a feed per source",
                q.repo
            )));
        }
        register();
        let runs = sources
            .into_iter()
            .map(Run::new)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self.search_runs(&plan, runs, progress).await?.0)
    }

    /// Runs `runs` at once and merges their states with `plan` (the user's aggregate, which
    /// every source's plan shares); also which other nodes answered each run (for a live
    /// query: the nodes holding that run's feed).
    pub async fn search_runs(
        &self,
        plan: &Plan,
        runs: Vec<Run>,
        progress: Arc<Progress>,
    ) -> Result<(Gathered, Vec<Vec<u32>>), SearchError> {
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
        let gathered = futures::future::join_all(runs.into_iter().map(|r| {
            let progress = progress.clone();
            async move {
                self.search_slice(r.plan, &r.q, progress, r.register, r.stream.as_ref())
                    .await
            }
        }))
        .await;
        let mut out = Gathered {
            state: plan.agg.new_state(),
            warnings: Vec::new(),
            answered: Vec::new(),
        };
        let mut per_run = Vec::with_capacity(gathered.len());
        for g in gathered {
            let g = g?;
            plan.agg.merge(&mut out.state, g.state);
            out.warnings.extend(g.warnings);
            for n in &g.answered {
                if !out.answered.contains(n) {
                    out.answered.push(*n);
                }
            }
            per_run.push(g.answered);
        }
        Ok((out, per_run))
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
        let check = |f: &str| {
            let c = ViewConnection {
                repository_name: "r".into(),
                filter: f.into(),
            };
            check_filter(&c, Arc::new(crate::query::lookup::NoFiles))
        };
        assert!(check("").is_ok());
        assert!(check("#type=accesslog status>=500").is_ok());
        assert!(check("count()").unwrap_err().contains("must be a filter"));
        assert!(check("head(3)").is_err());
        assert!(check("a | sort(x)").is_err());
        assert!(check("((").unwrap_err().contains("does not parse"));
    }
}
