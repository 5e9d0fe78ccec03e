//! The streaming `/query` endpoint. A plain event list (no aggregate, `tail()`, `head()`) is
//! searched in time slices (`search/stream.rs`) and each slice's events are written as soon
//! as it is done, so the answer starts long before the search ends and memory holds one
//! slice; the list is never cut unless the query says `tail(N)`/`head(N)` (LogScale adds no
//! implicit `tail(200)` here — that belongs to query jobs and the UI). Other queries are
//! computed whole and then written (LogScale too answers aggregates at the end).
//!
//! `isLive` streams a filter query's history, then every matching event digest adds, until
//! the client goes away (aggregates live are for query jobs, as in LogScale). In a cluster
//! every node's digest feeds the stream: each slice's sub-searches make each node hold a
//! stream of its own, covered at its own WIP snapshot, and the root polls their rows. On a view
//! there is one such feed per connected repository (its connection's filter applied), all
//! writing into the one response.
//!
//! What the answer lacks is said in `X-Strata-Warnings`, sent with the first slice. A new kind
//! of gap met later (a node failing mid-stream, a reader too slow for a live stream) cannot go
//! into headers already sent: the response is aborted instead, so the client sees an
//! incomplete transfer rather than a silently incomplete answer.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::sync::{mpsc, oneshot};

use super::format::{Encoder, Format};
use super::{parse_request, plan};
use crate::api::ApiError;
use crate::ctx::NodeCtx;
use crate::query::agg::Agg;
use crate::query::{Plan, PlanOptions, Row};
use crate::search::domain::Run;
use crate::search::live::{LiveStream, LiveStreamSpec};
use crate::search::root::RootQuery;
use crate::search::stream::{sliceable, Slice, Slicer, SLICE_ROW_CAP};
use crate::search::{finish, Progress, SearchResult};

/// Bytes per body chunk.
const CHUNK: usize = 256 * 1024;
/// Chunks written but not yet taken by the connection (the rest waits: backpressure).
const CHUNKS_IN_FLIGHT: usize = 8;

type Chunk = Result<Bytes, std::io::Error>;

pub(super) async fn query(
    State(node): State<Arc<NodeCtx>>,
    Path(repo): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    node.authorize_read(&headers, &repo)?;
    let format = Format::from_headers(&headers)?;
    let req = parse_request(&body)?;
    let (plan, q) = plan(&node, &repo, &req, SLICE_ROW_CAP, None)?;
    if req.is_live {
        super::check_live_limit(&node)?;
        if !plan.implicit_list {
            return Err(ApiError::bad_request(
                "a live streaming query takes a filter query only (no aggregate, head() or tail()); run aggregates live as a query job (isLive on /queryjobs)",
            ));
        }
    }
    let Some(newest_first) = sliceable(&plan) else {
        return whole(&node, plan, q, format).await;
    };
    let limit = match (&plan.agg, plan.implicit_list) {
        (Agg::Rows { limit, .. }, false) => Some(*limit),
        _ => None,
    };
    let (live, live_rx) = if req.is_live {
        let (parts, rx) = live_parts(&node, &q, plan)?;
        (parts, Some(rx))
    } else {
        (Vec::new(), None)
    };
    let (tx, rx) = mpsc::channel::<Chunk>(CHUNKS_IN_FLIGHT);
    let (head_tx, head_rx) = oneshot::channel();
    let mut enc = Encoder::new(format);
    let mut prefix = Vec::new();
    enc.begin(&mut prefix);
    let producer = Producer {
        node: node.clone(),
        q,
        newest_first,
        limit,
        enc,
        prefix,
        tx,
        head: Some(head_tx),
        live,
        stream_peers: Vec::new(),
    };
    tokio::spawn(producer.run(live_rx));
    let warnings = head_rx.await.map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the search ended without an answer",
        )
    })??;
    let body = Body::from_stream(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|c| (c, rx))
    }));
    Ok((
        [
            ("content-type", format.content_type().to_string()),
            ("x-strata-warnings", warnings),
        ],
        body,
    )
        .into_response())
}

/// One feed of a live stream: a repository's stream on this node, its id and start on the
/// other nodes, and for a view's source the source's query (`None`: the stream's own).
struct LivePart {
    stream: Arc<LiveStream>,
    spec: LiveStreamSpec,
    q: Option<RootQuery>,
}

/// A live stream's feeds, registered before the first slice snapshots WIP (each takes nothing
/// until a slice covers it), and the channel they all write into. Every other node digests
/// too: each slice's sub-searches make each node hold a stream of its own per feed, under the
/// feed's id, whose rows `follow` takes.
fn live_parts(
    node: &NodeCtx,
    q: &RootQuery,
    plan: Plan,
) -> Result<(Vec<LivePart>, mpsc::Receiver<Vec<Row>>), ApiError> {
    let id = format!("stream-{:032x}", rand::random::<u128>());
    let spec = |id: String| LiveStreamSpec {
        id,
        start: q.options.start,
    };
    let (base, rx) = LiveStream::new(&q.repo, Arc::new(plan), q.options.start);
    let parts = match crate::search::domain::source_queries(&node.global, q) {
        None => vec![LivePart {
            stream: base,
            spec: spec(id),
            q: None,
        }],
        Some(sources) => {
            let mut parts = Vec::with_capacity(sources.len());
            for (i, sq) in sources.into_iter().enumerate() {
                let plan = Arc::new(sq.compile()?);
                parts.push(LivePart {
                    stream: base.sharing(&sq.repo, plan),
                    spec: spec(crate::search::domain::source_id(&id, i)),
                    q: Some(sq),
                });
            }
            // A view without connections still streams (nothing): keep the channel open.
            if parts.is_empty() {
                parts.push(LivePart {
                    stream: base,
                    spec: spec(id),
                    q: None,
                });
            }
            parts
        }
    };
    for p in &parts {
        node.wip.live.register_stream(&p.stream);
    }
    Ok((parts, rx))
}

/// An aggregate (or a list with more after it): searched whole, then written.
async fn whole(
    node: &NodeCtx,
    plan: Plan,
    q: RootQuery,
    format: Format,
) -> Result<Response, ApiError> {
    let plan = Arc::new(plan);
    let g = node
        .root()
        .search_domain(
            plan.clone(),
            &q,
            Arc::new(Progress::default()),
            Box::new(|| {}),
        )
        .await?;
    let r = finish(&plan, g.state);
    let warnings = header_value(g.warnings.iter().chain(&r.warnings));
    let out = tokio::task::spawn_blocking(move || {
        let mut enc = Encoder::new(format);
        let mut out = Vec::new();
        enc.begin(&mut out);
        for row in &r.rows {
            enc.row(&mut out, row);
        }
        enc.end(&mut out);
        out
    })
    .await
    .map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("writing the answer failed: {e}"),
        )
    })?;
    Ok((
        [
            ("content-type", format.content_type().to_string()),
            ("x-strata-warnings", warnings),
        ],
        out,
    )
        .into_response())
}

/// Warnings as one header value (printable ASCII, `; `-separated).
fn header_value<'a>(w: impl Iterator<Item = &'a String>) -> String {
    w.map(|w| {
        w.chars()
            .map(|c| if (' '..='~').contains(&c) { c } else { ' ' })
            .collect::<String>()
    })
    .collect::<Vec<_>>()
    .join("; ")
}

/// A warning without its numbers (a count of segments differs from slice to slice).
fn shape(w: &str) -> String {
    w.chars().filter(|c| !c.is_ascii_digit()).collect()
}

/// A searched slice: the slice, its result, what it lacks, and the other nodes that
/// answered it (a live stream's: with the feed each holds).
type SliceResult = Result<(Slice, SearchResult, Vec<String>, Vec<(u32, String)>), ApiError>;

/// The next slice's search, stopped if the stream ends before it is used.
struct Pending(Option<tokio::task::JoinHandle<SliceResult>>);

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(t) = self.0.take() {
            t.abort();
        }
    }
}

/// Why a stream stopped early.
enum Stop {
    /// The client went away.
    Gone,
    Failed(ApiError),
}

impl From<ApiError> for Stop {
    fn from(e: ApiError) -> Self {
        Stop::Failed(e)
    }
}

/// Searches the slices and writes them into the response body.
struct Producer {
    node: Arc<NodeCtx>,
    q: RootQuery,
    newest_first: bool,
    /// An explicit `tail(N)`/`head(N)`.
    limit: Option<usize>,
    enc: Encoder,
    /// Written before the first row (a JSON array's `[`).
    prefix: Vec<u8>,
    tx: mpsc::Sender<Chunk>,
    /// The response head waits for the first slice (its warnings go into a header).
    head: Option<oneshot::Sender<Result<String, ApiError>>>,
    /// A live stream's feeds (one per repository searched), all into one channel.
    live: Vec<LivePart>,
    /// The other nodes holding a stream of a feed, with the feed's id: those that answered
    /// the first slice.
    stream_peers: Vec<(u32, String)>,
}

/// How often a live stream takes the rows other nodes' digests added.
const PEER_POLL: std::time::Duration = std::time::Duration::from_millis(200);

impl Producer {
    async fn run(mut self, live_rx: Option<mpsc::Receiver<Vec<Row>>>) {
        let r = match self.history().await {
            Ok(()) => match live_rx {
                Some(rx) => self.follow(rx).await,
                None => {
                    let mut out = std::mem::take(&mut self.prefix);
                    self.enc.end(&mut out);
                    self.send(vec![Bytes::from(out)]).await
                }
            },
            Err(e) => Err(e),
        };
        if let Err(Stop::Failed(e)) = r {
            match self.head.take() {
                Some(h) => {
                    let _ = h.send(Err(e));
                }
                None => {
                    tracing::warn!(error = %e.message, "streaming query aborted mid-answer");
                    let _ = self.tx.send(Err(std::io::Error::other(e.message))).await;
                }
            }
        }
    }

    /// The historical search, slice by slice. The next slice is searched while this one is
    /// written and read (its range is known as soon as this one's search is done).
    async fn history(&mut self) -> Result<(), Stop> {
        let (start, end) = (self.q.options.start, self.q.options.end);
        let repo = self.q.repo.clone();
        let density: Vec<(i64, i64, u64)> = self.node.global.read(|s| {
            crate::search::domain::segments_in_range(s, &repo, start, end)
                .iter()
                .map(|x| (x.min_ts, x.max_ts, x.event_count))
                .collect()
        });
        let mut slicer = Slicer::new(self.newest_first, start, end, density);
        let mut emitted = 0usize;
        let mut stated: Vec<String> = Vec::new();
        let mut next = Pending(slicer.next_slice().map(|s| self.search(s)));
        while let Some(task) = next.0.take() {
            let (s, r, warnings, answered) = task.await.map_err(|e| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("search task failed: {e}"),
                )
            })??;
            let mut rows = r.rows;
            let last = match self.limit {
                Some(n) => {
                    rows.truncate(n.saturating_sub(emitted));
                    // Taken whole: the list's own limit, not the slice cap, cut it.
                    let _ = slicer.done(s, &mut rows, false);
                    r.more_events || emitted + rows.len() >= n
                }
                None => {
                    slicer
                        .done(s, &mut rows, r.more_events)
                        .map_err(|e| ApiError::bad_request(e.to_string()))?;
                    false
                }
            };
            emitted += rows.len();
            if !last {
                next.0 = slicer.next_slice().map(|s| self.search(s));
            }
            match self.head.take() {
                Some(h) => {
                    self.stream_peers = answered;
                    stated = warnings.iter().map(|w| shape(w)).collect();
                    let _ = h.send(Ok(header_value(warnings.iter())));
                }
                None => {
                    // Every slice of a search missing a node says so again; only a new kind
                    // of gap (one the header does not state) must stop the answer.
                    let new: Vec<&String> = warnings
                        .iter()
                        .filter(|w| !stated.contains(&shape(w)))
                        .collect();
                    if !new.is_empty() {
                        return Err(Stop::Failed(ApiError::new(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            format!(
                                "incomplete result, stream aborted: {}",
                                header_value(new.into_iter())
                            ),
                        )));
                    }
                }
            }
            let chunks = self.encode(rows).await?;
            self.send(chunks).await?;
        }
        if let Some(h) = self.head.take() {
            let _ = h.send(Ok(String::new()));
        }
        Ok(())
    }

    /// Starts the search of one slice: its rows (finished) and what they lack.
    fn search(&self, s: Slice) -> tokio::task::JoinHandle<SliceResult> {
        let options = PlanOptions {
            start: s.lo,
            end: s.hi,
            default_limit: s.cap,
            zone: self.q.options.zone,
        };
        let sq = RootQuery {
            options,
            live: None,
            ..self.q.clone()
        };
        // A live stream's slice: each feed's search covers the slice in its stream on every
        // node that snapshots its WIP (see `live.rs`).
        let feeds: Vec<(RootQuery, Arc<LiveStream>, LiveStreamSpec)> = self
            .live
            .iter()
            .map(|p| {
                let q = RootQuery {
                    options,
                    live: None,
                    ..p.q.clone().unwrap_or_else(|| self.q.clone())
                };
                (q, p.stream.clone(), p.spec.clone())
            })
            .collect();
        let node = self.node.clone();
        tokio::spawn(async move {
            let plan = Arc::new(sq.compile()?);
            let root = node.root();
            let (g, answered) = if feeds.is_empty() {
                let g = root
                    .search_domain(
                        plan.clone(),
                        &sq,
                        Arc::new(Progress::default()),
                        Box::new(|| {}),
                    )
                    .await?;
                (g, Vec::new())
            } else {
                let mut runs = Vec::with_capacity(feeds.len());
                let mut ids = Vec::with_capacity(feeds.len());
                for (q, stream, spec) in feeds {
                    let mut run = Run::new(q)?;
                    run.register = Box::new(move || stream.cover(s.lo));
                    ids.push(spec.id.clone());
                    run.stream = Some(spec);
                    runs.push(run);
                }
                let (g, per_run) = root
                    .search_runs(&plan, runs, Arc::new(Progress::default()))
                    .await?;
                let answered = ids
                    .into_iter()
                    .zip(per_run)
                    .flat_map(|(id, nodes)| nodes.into_iter().map(move |n| (n, id.clone())))
                    .collect();
                (g, answered)
            };
            let r = finish(&plan, g.state);
            let warnings = g.warnings.into_iter().chain(r.warnings.clone()).collect();
            Ok((s, r, warnings, answered))
        })
    }

    /// A live stream after its history: digest's rows as they come, and every
    /// [`PEER_POLL`] what the other nodes' digests added, until the client leaves. A node
    /// that cannot answer ends the stream (said to be incomplete), since its events would be
    /// missing silently otherwise.
    async fn follow(&mut self, mut rx: mpsc::Receiver<Vec<Row>>) -> Result<(), Stop> {
        if self.live.is_empty() {
            return Ok(());
        }
        let mut tick = tokio::time::interval(PEER_POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let rows = tokio::select! {
                _ = self.tx.closed() => return Err(Stop::Gone),
                b = rx.recv() => match b {
                    Some(rows) => rows,
                    None => return Ok(()),
                },
                _ = tick.tick(), if !self.stream_peers.is_empty() => self.peer_rows().await?,
            };
            if rows.is_empty() {
                continue;
            }
            let chunks = self.encode(rows).await?;
            self.send(chunks).await?;
            if self.live.iter().any(|p| p.stream.overflowed()) {
                return Err(Stop::Failed(ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("live stream aborted: the client read too slowly and more than {} batches of events waited, so some were dropped", crate::search::live::LIVE_STREAM_BATCHES),
                )));
            }
        }
    }

    /// The rows the other nodes' streams gathered since the last poll.
    async fn peer_rows(&self) -> Result<Vec<Row>, Stop> {
        let peers = self.node.peers.clone();
        let answers = futures::future::join_all(
            self.stream_peers
                .iter()
                .map(|(n, id)| peers.live_rows(*n, id)),
        )
        .await;
        let mut rows = Vec::new();
        for ((n, _), a) in self.stream_peers.iter().zip(answers) {
            let gap = |why: String| {
                Stop::Failed(ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("live stream aborted: node {n} {why}, so its events would be missing"),
                ))
            };
            match a {
                Ok(r) if r.overflowed => {
                    return Err(gap(format!(
                        "dropped events (more than {} batches waited between polls)",
                        crate::search::live::LIVE_STREAM_BATCHES
                    )))
                }
                Ok(r) => rows.extend(r.rows),
                Err(e) => return Err(gap(format!("could not be asked for its rows ({e})"))),
            }
        }
        Ok(rows)
    }

    /// Writes rows into chunks (off the async threads: a slice is thousands of rows).
    async fn encode(&mut self, rows: Vec<Row>) -> Result<Vec<Bytes>, Stop> {
        let mut enc = self.enc;
        let mut buf = std::mem::take(&mut self.prefix);
        let (enc, chunks) = tokio::task::spawn_blocking(move || {
            let mut chunks = Vec::new();
            for r in &rows {
                enc.row(&mut buf, r);
                if buf.len() >= CHUNK {
                    chunks.push(Bytes::from(std::mem::replace(
                        &mut buf,
                        Vec::with_capacity(CHUNK + CHUNK / 8),
                    )));
                }
            }
            if !buf.is_empty() {
                chunks.push(Bytes::from(buf));
            }
            (enc, chunks)
        })
        .await
        .map_err(|e| {
            Stop::Failed(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("writing the answer failed: {e}"),
            ))
        })?;
        self.enc = enc;
        Ok(chunks)
    }

    async fn send(&self, chunks: Vec<Bytes>) -> Result<(), Stop> {
        for c in chunks {
            self.tx.send(Ok(c)).await.map_err(|_| Stop::Gone)?;
        }
        Ok(())
    }
}
