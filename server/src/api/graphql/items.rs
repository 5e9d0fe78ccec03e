//! Saved searches and dashboards over GraphQL. Both are Global items (`PutItem`) whose body is
//! JSON owned here; a dashboard is a list of widgets (a query rendered as a table, line or bar
//! chart, or single value) with a shared time range and auto-refresh interval.

use async_graphql::{Context, Enum, Error, InputObject, Object, SimpleObject};
use serde::{Deserialize, Serialize};
use strata_global::{GlobalEvent, ItemKind};

use super::{node, publish, require_view, valid_name};
use crate::auth::ViewPermission;

const MAX_WIDGETS: usize = 50;
const MAX_QUERY_BYTES: usize = 64 << 10;

#[derive(SimpleObject, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SavedQuery {
    #[serde(skip)]
    pub id: String,
    #[serde(skip)]
    pub name: String,
    pub query_string: String,
    pub start: String,
    pub end: String,
    #[serde(default)]
    pub is_live: bool,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Serialize, Deserialize, Debug)]
pub enum Visualization {
    Table,
    LineChart,
    BarChart,
    SingleValue,
}

#[derive(SimpleObject, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Widget {
    pub id: String,
    pub title: String,
    pub query_string: String,
    pub visualization: Visualization,
}

#[derive(SimpleObject, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dashboard {
    #[serde(skip)]
    pub id: String,
    #[serde(skip)]
    pub name: String,
    pub description: String,
    /// Shared time range start for every widget (`15m`, `24h`, ...).
    pub start: String,
    /// Auto-refresh interval; 0 = off.
    pub refresh_interval_seconds: u32,
    pub widgets: Vec<Widget>,
}

fn items<T: for<'de> Deserialize<'de>>(
    ctx: &Context<'_>,
    repo: &str,
    kind: ItemKind,
    set: impl Fn(&mut T, &str, &str),
) -> Result<Vec<T>, Error> {
    let raw: Option<Vec<(String, String, String)>> = node(ctx).global.read(|s| {
        s.domain_items(repo).map(|items| {
            items
                .get(&kind)
                .map(|m| {
                    m.values()
                        .map(|i| (i.id.clone(), i.name.clone(), i.body.clone()))
                        .collect()
                })
                .unwrap_or_default()
        })
    });
    let raw =
        raw.ok_or_else(|| Error::new(format!("repository or view {repo:?} does not exist")))?;
    let mut out = Vec::with_capacity(raw.len());
    for (id, name, body) in raw {
        // Bodies were written by this module; one that does not decode is skipped, not fatal.
        match serde_json::from_str::<T>(&body) {
            Ok(mut t) => {
                set(&mut t, &id, &name);
                out.push(t);
            }
            Err(e) => tracing::warn!(repo, id, error = %e, "unreadable {kind:?} body"),
        }
    }
    Ok(out)
}

pub fn saved_queries(ctx: &Context<'_>, repo: &str) -> Result<Vec<SavedQuery>, Error> {
    items(
        ctx,
        repo,
        ItemKind::SavedQuery,
        |q: &mut SavedQuery, id, name| {
            q.id = id.into();
            q.name = name.into();
        },
    )
}

pub fn dashboards(ctx: &Context<'_>, repo: &str) -> Result<Vec<Dashboard>, Error> {
    items(
        ctx,
        repo,
        ItemKind::Dashboard,
        |d: &mut Dashboard, id, name| {
            d.id = id.into();
            d.name = name.into();
        },
    )
}

fn new_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// Checks that a query string is valid LogScale (positions in the error).
fn check_query(q: &str) -> Result<(), Error> {
    if q.len() > MAX_QUERY_BYTES {
        return Err(Error::new("the query is longer than 64 KiB"));
    }
    crate::query::parse(q)
        .map(|_| ())
        .map_err(|e| Error::new(format!("query parse error: {e}")))
}

fn check_time(t: &str, what: &str) -> Result<(), Error> {
    let v = serde_json::Value::String(t.to_string());
    crate::api::query::parse_time(Some(&v), "", 0)
        .map(|_| ())
        .map_err(|e| Error::new(format!("{what}: {}", e.message)))
}

fn item_version(ctx: &Context<'_>, repo: &str, kind: ItemKind, id: &str) -> Result<u64, Error> {
    node(ctx)
        .global
        .read(|s| {
            s.domain_items(repo)
                .and_then(|items| items.get(&kind))
                .and_then(|m| m.get(id))
                .map(|i| i.version)
        })
        .ok_or_else(|| Error::new(format!("{kind:?} {id:?} does not exist in {repo:?}")))
}

#[derive(InputObject)]
pub struct CreateSavedQueryInput {
    name: String,
    /// The repository.
    view_name: String,
    query_string: String,
    #[graphql(default_with = "\"24h\".to_string()")]
    start: String,
    #[graphql(default_with = "\"now\".to_string()")]
    end: String,
    #[graphql(default)]
    is_live: bool,
}

#[derive(InputObject)]
pub struct DeleteSavedQueryInput {
    id: String,
    view_name: String,
}

#[derive(InputObject)]
pub struct WidgetInput {
    title: String,
    query_string: String,
    visualization: Visualization,
}

#[derive(InputObject)]
pub struct CreateDashboardInput {
    search_domain_name: String,
    name: String,
    #[graphql(default)]
    description: String,
    #[graphql(default_with = "\"24h\".to_string()")]
    start: String,
    #[graphql(default)]
    refresh_interval_seconds: u32,
    #[graphql(default)]
    widgets: Vec<WidgetInput>,
}

#[derive(InputObject)]
pub struct UpdateDashboardInput {
    id: String,
    /// The dashboard's new contents (same fields as when creating it).
    #[graphql(flatten)]
    dashboard: CreateDashboardInput,
}

#[derive(InputObject)]
pub struct DeleteDashboardInput {
    id: String,
    search_domain_name: String,
}

/// Validates a dashboard's input (name, time, every widget's query) into the stored shape.
fn dashboard_of(id: String, input: CreateDashboardInput) -> Result<Dashboard, Error> {
    let CreateDashboardInput {
        name,
        description,
        start,
        refresh_interval_seconds,
        widgets,
        ..
    } = input;
    valid_name("dashboard", &name)?;
    check_time(&start, "start")?;
    if widgets.len() > MAX_WIDGETS {
        return Err(Error::new(format!(
            "a dashboard has at most {MAX_WIDGETS} widgets"
        )));
    }
    let mut ws = Vec::with_capacity(widgets.len());
    for (i, w) in widgets.into_iter().enumerate() {
        check_query(&w.query_string)
            .map_err(|e| Error::new(format!("widget {} ({:?}): {}", i + 1, w.title, e.message)))?;
        ws.push(Widget {
            id: format!("w{i}"),
            title: w.title,
            query_string: w.query_string,
            visualization: w.visualization,
        });
    }
    Ok(Dashboard {
        id,
        name,
        description,
        start,
        refresh_interval_seconds,
        widgets: ws,
    })
}

async fn put_dashboard(
    ctx: &Context<'_>,
    repo: String,
    d: Dashboard,
    expected_version: Option<u64>,
) -> Result<Dashboard, Error> {
    let body = serde_json::to_string(&d).map_err(|e| Error::new(e.to_string()))?;
    publish(
        ctx,
        GlobalEvent::PutItem {
            repo,
            kind: ItemKind::Dashboard,
            id: d.id.clone(),
            name: d.name.clone(),
            body,
            expected_version,
        },
    )
    .await?;
    Ok(d)
}

#[derive(Default)]
pub struct ItemMutation;

#[Object]
impl ItemMutation {
    async fn create_saved_query(
        &self,
        ctx: &Context<'_>,
        input: CreateSavedQueryInput,
    ) -> Result<SavedQuery, Error> {
        require_view(ctx, &input.view_name, ViewPermission::ChangeSavedQueries)?;
        valid_name("saved search", &input.name)?;
        check_query(&input.query_string)?;
        check_time(&input.start, "start")?;
        check_time(&input.end, "end")?;
        let q = SavedQuery {
            id: new_id(),
            name: input.name,
            query_string: input.query_string,
            start: input.start,
            end: input.end,
            is_live: input.is_live,
        };
        let body = serde_json::to_string(&q).map_err(|e| Error::new(e.to_string()))?;
        publish(
            ctx,
            GlobalEvent::PutItem {
                repo: input.view_name,
                kind: ItemKind::SavedQuery,
                id: q.id.clone(),
                name: q.name.clone(),
                body,
                expected_version: None,
            },
        )
        .await?;
        Ok(q)
    }

    async fn delete_saved_query(
        &self,
        ctx: &Context<'_>,
        input: DeleteSavedQueryInput,
    ) -> Result<bool, Error> {
        require_view(ctx, &input.view_name, ViewPermission::ChangeSavedQueries)?;
        publish(
            ctx,
            GlobalEvent::DeleteItem {
                repo: input.view_name,
                kind: ItemKind::SavedQuery,
                id: input.id,
            },
        )
        .await?;
        Ok(true)
    }

    async fn create_dashboard(
        &self,
        ctx: &Context<'_>,
        input: CreateDashboardInput,
    ) -> Result<Dashboard, Error> {
        require_view(
            ctx,
            &input.search_domain_name,
            ViewPermission::ChangeDashboards,
        )?;
        let repo = input.search_domain_name.clone();
        put_dashboard(ctx, repo, dashboard_of(new_id(), input)?, None).await
    }

    async fn update_dashboard(
        &self,
        ctx: &Context<'_>,
        input: UpdateDashboardInput,
    ) -> Result<Dashboard, Error> {
        require_view(
            ctx,
            &input.dashboard.search_domain_name,
            ViewPermission::ChangeDashboards,
        )?;
        let d = input.dashboard;
        let v = item_version(ctx, &d.search_domain_name, ItemKind::Dashboard, &input.id)?;
        let repo = d.search_domain_name.clone();
        put_dashboard(ctx, repo, dashboard_of(input.id, d)?, Some(v)).await
    }

    async fn delete_dashboard(
        &self,
        ctx: &Context<'_>,
        input: DeleteDashboardInput,
    ) -> Result<bool, Error> {
        require_view(
            ctx,
            &input.search_domain_name,
            ViewPermission::ChangeDashboards,
        )?;
        publish(
            ctx,
            GlobalEvent::DeleteItem {
                repo: input.search_domain_name,
                kind: ItemKind::Dashboard,
                id: input.id,
            },
        )
        .await?;
        Ok(true)
    }
}
