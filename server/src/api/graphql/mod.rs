//! GraphQL API (`/graphql`, async-graphql), the UI's API for metadata and administration, with
//! LogScale's names where LogScale has them. Every field checks the caller: the request must
//! carry a valid API token, and changes need a root user. `repository.rs`: repositories,
//! retention, ingest tokens, parsers; `items.rs`: saved searches and dashboards; `cluster.rs`:
//! nodes, partitions, storage; `alerts/`: actions, aggregate and filter alerts, scheduled
//! searches (on `searchDomain`).

mod alerts;
mod cluster;
mod items;
mod parsers;
mod repository;

use std::sync::Arc;

use async_graphql::{
    Context, EmptySubscription, Error, MergedObject, Object, Schema, SimpleObject,
};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use strata_global::{GlobalEvent, Outcome};

use super::{ApiError, Caller};
use crate::ctx::NodeCtx;

pub type StrataSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

#[derive(MergedObject, Default)]
pub struct QueryRoot(
    ViewerQuery,
    repository::RepositoryQuery,
    cluster::ClusterQuery,
    alerts::AlertQuery,
);

#[derive(MergedObject, Default)]
pub struct MutationRoot(
    repository::RepositoryMutation,
    items::ItemMutation,
    alerts::ActionMutation,
    alerts::AlertMutation,
);

pub fn schema() -> StrataSchema {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        EmptySubscription,
    )
    .limit_depth(16)
    .limit_complexity(2000)
    .finish()
}

pub(crate) fn node<'a>(ctx: &'a Context<'_>) -> &'a Arc<NodeCtx> {
    ctx.data_unchecked::<Arc<NodeCtx>>()
}

pub(crate) fn require_user(ctx: &Context<'_>) -> Result<(), Error> {
    match ctx.data_opt::<Caller>() {
        Some(Caller::User { .. }) => Ok(()),
        _ => Err(Error::new("unauthorized: an API token is required")),
    }
}

pub(crate) fn require_root(ctx: &Context<'_>) -> Result<(), Error> {
    match ctx.data_opt::<Caller>() {
        Some(Caller::User { is_root: true, .. }) => Ok(()),
        Some(Caller::User { username, .. }) => Err(Error::new(format!(
            "forbidden: user {username} may not change this"
        ))),
        _ => Err(Error::new("unauthorized: an API token is required")),
    }
}

pub(crate) async fn publish(ctx: &Context<'_>, ev: GlobalEvent) -> Result<u64, Error> {
    match node(ctx).global.publish(ev).await {
        Ok((offset, Outcome::Applied)) => Ok(offset),
        Ok((_, Outcome::Rejected(r))) => Err(Error::new(r)),
        Err(e) => Err(Error::new(format!("metadata store unavailable: {e}"))),
    }
}

/// Checks a name given to a repository, token, parser, saved search or dashboard.
pub(crate) fn valid_name(what: &str, name: &str) -> Result<(), Error> {
    if name.trim().is_empty()
        || name.len() > 200
        || name.chars().any(|c| c.is_control() || c == '/')
    {
        return Err(Error::new(format!(
            "{what} name {name:?} must be 1-200 characters without '/' or control characters"
        )));
    }
    Ok(())
}

/// The signed-in user (LogScale: `viewer`).
#[derive(SimpleObject)]
pub struct Viewer {
    username: String,
    is_root: bool,
}

#[derive(Default)]
pub struct ViewerQuery;

#[Object]
impl ViewerQuery {
    /// Who the token belongs to; the UI's sign-in check.
    async fn viewer(&self, ctx: &Context<'_>) -> Result<Viewer, Error> {
        match ctx.data_opt::<Caller>() {
            Some(Caller::User { username, is_root }) => Ok(Viewer {
                username: username.clone(),
                is_root: *is_root,
            }),
            _ => Err(Error::new("unauthorized: an API token is required")),
        }
    }
}

pub async fn handler(
    State(node): State<Arc<NodeCtx>>,
    axum::Extension(schema): axum::Extension<StrataSchema>,
    headers: HeaderMap,
    req: async_graphql_axum::GraphQLRequest,
) -> Response {
    let caller = match node.authenticate(&headers) {
        Ok(c @ Caller::User { .. }) => c,
        Ok(Caller::Ingest { .. }) => {
            return ApiError::forbidden("an ingest token cannot use the GraphQL API")
                .into_response()
        }
        Err(e) => return e.into_response(),
    };
    let req = req.into_inner().data(node.clone()).data(caller);
    async_graphql_axum::GraphQLResponse::from(schema.execute(req).await).into_response()
}

pub async fn playground() -> impl IntoResponse {
    Html(
        async_graphql::http::GraphiQLSource::build()
            .endpoint("/graphql")
            .finish(),
    )
}
