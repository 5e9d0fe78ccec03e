//! GraphQL API (`/graphql`, async-graphql), the UI's API for metadata and administration, with
//! LogScale's names where LogScale has them. Every field and mutation checks the caller's
//! permission through [`require`] (the same decision as HTTP routes); a refusal carries its
//! HTTP status in the error's extensions. Every mutation is audited (`audit_log.rs`).
//! `users.rs`, `teams.rs` (groups, roles), `tokens.rs`: users and permissions; `repository.rs`: repositories,
//! retention, ingest tokens, parsers; `items.rs`: saved searches and dashboards; `cluster.rs`:
//! nodes, partitions, storage; `alerts/`: actions, aggregate and filter alerts, scheduled
//! searches (on `searchDomain`).

mod alerts;
mod audit_log;
mod cluster;
mod items;
mod parsers;
mod raft;
mod repository;
mod teams;
mod tokens;
mod users;
mod views;

pub(crate) use repository::repository_type;

use std::sync::Arc;

use async_graphql::{
    Context, EmptySubscription, Error, ErrorExtensions, MergedObject, Object, Schema, SimpleObject,
};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use strata_global::{GlobalEvent, Outcome};

use super::{ApiError, Caller};
use crate::auth::{
    Access, OrganizationPermission, Permission, Scope, SystemPermission, ViewPermission,
};
use crate::ctx::NodeCtx;

pub type StrataSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

#[derive(MergedObject, Default)]
pub struct QueryRoot(
    ViewerQuery,
    repository::RepositoryQuery,
    cluster::ClusterQuery,
    raft::RaftQuery,
    alerts::AlertQuery,
    users::UserQuery,
    teams::TeamQuery,
    tokens::TokenQuery,
);

#[derive(MergedObject, Default)]
pub struct MutationRoot(
    repository::RepositoryMutation,
    items::ItemMutation,
    alerts::ActionMutation,
    alerts::AlertMutation,
    users::UserMutation,
    teams::TeamMutation,
    tokens::TokenMutation,
    views::ViewMutation,
    raft::RaftMutation,
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

/// The caller of this request (the handler always sets one).
pub(crate) fn caller<'a>(ctx: &'a Context<'_>) -> Result<&'a Caller, Error> {
    ctx.data_opt::<Caller>()
        .ok_or_else(|| gql_error(ApiError::unauthorized("an API token is required")))
}

/// What the caller may do; `None` for a caller that is not a user.
pub(crate) fn caller_access<'a>(ctx: &'a Context<'_>) -> Option<&'a Access> {
    match ctx.data_opt::<Caller>() {
        Some(Caller::User { access, .. }) => Some(access),
        _ => None,
    }
}

/// An API error as a GraphQL error: the message, and the HTTP status it stands for in the
/// extensions (`code`, `status`), so clients (and the permission tests) tell a refusal (401,
/// 403, 404 for an invisible repository) from a failed change.
pub(crate) fn gql_error(e: ApiError) -> Error {
    let status = e.status.as_u16();
    let code = match status {
        401 => "UNAUTHENTICATED",
        403 => "FORBIDDEN",
        404 => "NOT_FOUND",
        _ => "BAD_REQUEST",
    };
    Error::new(e.message).extend_with(|_, x| {
        x.set("code", code);
        x.set("status", status);
    })
}

/// Any signed-in user (fields that answer for the caller only, or filter by permission).
pub(crate) fn require_user(ctx: &Context<'_>) -> Result<(), Error> {
    match caller(ctx)? {
        Caller::User { .. } => Ok(()),
        Caller::Ingest { .. } => Err(gql_error(ApiError::forbidden(
            "an ingest token cannot use the GraphQL API",
        ))),
    }
}

/// The permission check of every field and mutation (`NodeCtx::check`, as for HTTP routes).
pub(crate) fn require(
    ctx: &Context<'_>,
    scope: Scope<'_>,
    p: impl Into<Permission>,
) -> Result<(), Error> {
    node(ctx)
        .check(caller(ctx)?, scope, p.into())
        .map_err(gql_error)
}

pub(crate) fn require_view(ctx: &Context<'_>, repo: &str, p: ViewPermission) -> Result<(), Error> {
    require(ctx, Scope::Repository(repo), p)
}

pub(crate) fn require_org(ctx: &Context<'_>, p: OrganizationPermission) -> Result<(), Error> {
    require(ctx, Scope::Organization, p)
}

pub(crate) fn require_system(ctx: &Context<'_>, p: SystemPermission) -> Result<(), Error> {
    require(ctx, Scope::Organization, p)
}

/// The repository (or view) exists and the caller holds some permission on it (else 404).
pub(crate) fn require_visible(ctx: &Context<'_>, repo: &str) -> Result<(), Error> {
    require_user(ctx)?;
    let exists = node(ctx).global.read(|s| s.search_domain_exists(repo));
    if exists && caller_access(ctx).is_some_and(|a| a.can_see(repo)) {
        Ok(())
    } else {
        Err(gql_error(ApiError::not_found(format!(
            "repository {repo:?} does not exist"
        ))))
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

/// The signed-in user (LogScale: `viewer`), with what they may do organization-wide.
#[derive(SimpleObject)]
pub struct Viewer {
    id: String,
    username: String,
    is_root: bool,
    /// `root`, `personal`, `session`, `organization` or `repository`.
    token_type: String,
    organization_permissions: Vec<OrganizationPermission>,
    system_permissions: Vec<SystemPermission>,
}

#[derive(Default)]
pub struct ViewerQuery;

#[Object]
impl ViewerQuery {
    /// Who the token belongs to; the UI's sign-in check.
    async fn viewer(&self, ctx: &Context<'_>) -> Result<Viewer, Error> {
        require_user(ctx)?;
        let Caller::User {
            username,
            is_root,
            access,
            token,
            ..
        } = caller(ctx)?
        else {
            return Err(gql_error(ApiError::forbidden("not a user")));
        };
        Ok(Viewer {
            id: username.clone(),
            username: username.clone(),
            is_root: *is_root,
            token_type: token.name().to_string(),
            organization_permissions: if access.root {
                <OrganizationPermission as async_graphql::EnumType>::items()
                    .iter()
                    .map(|i| i.value)
                    .collect()
            } else {
                access.organization.iter().copied().collect()
            },
            system_permissions: if access.root {
                <SystemPermission as async_graphql::EnumType>::items()
                    .iter()
                    .map(|i| i.value)
                    .collect()
            } else {
                access.system.iter().copied().collect()
            },
        })
    }

    /// The repositories and views the caller holds a permission on (`__typename`
    /// `Repository` or `View`); the Grafana data source's repository list and health check.
    async fn search_domains(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Vec<views::SearchDomainItem>, Error> {
        let repos = repository::visible_repositories(ctx)?
            .into_iter()
            .map(|n| views::SearchDomainItem::Repository(repository::Repository::new(n)));
        let views = views::visible_views(ctx)?
            .into_iter()
            .map(|n| views::SearchDomainItem::View(views::View::new(n)));
        Ok(repos.chain(views).collect())
    }
}

pub async fn handler(
    State(node): State<Arc<NodeCtx>>,
    axum::Extension(schema): axum::Extension<StrataSchema>,
    connect: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
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
    let mut ext = axum::http::Extensions::new();
    if let Some(axum::Extension(ci)) = connect {
        ext.insert(ci);
    }
    let peer = super::peer_addr(&ext, &headers);
    let req = req.into_inner();
    let mutations = audit_log::mutation_fields(&req);
    let req = req.data(node.clone()).data(caller.clone());
    let resp = schema.execute(req).await;
    audit_log::record_mutations(&node, &caller, peer.as_deref(), mutations, &resp).await;
    async_graphql_axum::GraphQLResponse::from(resp).into_response()
}

pub async fn playground() -> impl IntoResponse {
    Html(
        async_graphql::http::GraphiQLSource::build()
            .endpoint("/graphql")
            .finish(),
    )
}
