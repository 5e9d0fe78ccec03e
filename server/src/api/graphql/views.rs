//! Views over GraphQL, with LogScale's names: `createView(name, description, connections)`,
//! `updateView(viewName, connections)`, `deleteSearchDomain` (shared with repositories, in
//! `repository.rs`), and views among `searchDomains` as the `View` type of the
//! `SearchDomainListItem` interface. A connection's filter must be a filter query
//! (`search::domain::check_filter`), checked before anything is published. Permissions on a
//! view are role assignments on its name, as for a repository: holding a role on a view
//! grants nothing on the repositories it reads. Its creator gets the creator role on it
//! (`auth/creator.rs`), as for a repository. A view holds saved searches, dashboards,
//! alerts and actions as a repository does (Global's `View::items`); the item mutations
//! and `searchDomain` take a view's name.

use async_graphql::{Context, Error, InputObject, Interface, Object, SimpleObject};
use strata_global::{GlobalEvent, ViewConnection};

use super::items::{Dashboard, SavedQuery};
use super::repository::Repository;
use super::{caller_access, node, publish, require_org, require_user, require_view, valid_name};
use crate::auth::{OrganizationPermission, ViewPermission};
use crate::search::domain::check_filter;

/// Most connections one view may have.
const MAX_CONNECTIONS: usize = 200;
/// Longest connection filter, in bytes.
const MAX_FILTER_BYTES: usize = 10_000;

/// LogScale's `ViewConnectionInput`.
#[derive(InputObject, Clone)]
pub struct ViewConnectionInput {
    pub repository_name: String,
    /// The filter applied to all events from the repository (empty: all of them).
    pub filter: String,
}

/// A repository or a view in `searchDomains` (`__typename` tells which).
// The lint reads the interface's `field(name = …)` entries as one attribute repeated.
#[allow(clippy::duplicated_attributes)]
#[derive(Interface)]
#[graphql(
    name = "SearchDomainListItem",
    field(name = "id", ty = "&str"),
    field(name = "name", ty = "&str"),
    field(name = "description", ty = "String")
)]
pub enum SearchDomainItem {
    Repository(Repository),
    View(View),
}

pub struct View {
    pub(crate) name: String,
    /// Set when this caller just created or changed the view (the answer before any role
    /// gives the creator access).
    granted: bool,
}

impl View {
    pub(crate) fn new(name: String) -> Self {
        View {
            name,
            granted: false,
        }
    }

    fn readable(&self, ctx: &Context<'_>) -> Result<(), Error> {
        if self.granted {
            return Ok(());
        }
        require_view(ctx, &self.name, ViewPermission::ReadAccess)
    }

    fn stored(&self, ctx: &Context<'_>) -> Option<strata_global::View> {
        node(ctx).global.read(|s| s.views.get(&self.name).cloned())
    }
}

/// LogScale's `ViewConnection`: a connected repository and its filter.
#[derive(SimpleObject)]
pub struct ViewConnectionInfo {
    repository: Repository,
    filter: String,
}

#[Object]
impl View {
    async fn id(&self) -> &str {
        &self.name
    }
    async fn name(&self) -> &str {
        &self.name
    }
    /// The caller's permissions on this view.
    async fn permissions(&self, ctx: &Context<'_>) -> Vec<ViewPermission> {
        caller_access(ctx)
            .map(|a| a.view_permissions(&self.name))
            .unwrap_or_default()
    }
    async fn description(&self, ctx: &Context<'_>) -> Result<String, Error> {
        self.readable(ctx)?;
        Ok(self.stored(ctx).map(|v| v.description).unwrap_or_default())
    }
    /// The repositories the view reads and each one's filter. Naming a repository here gives
    /// no access to it: its other fields still need a permission on the repository.
    async fn connections(&self, ctx: &Context<'_>) -> Result<Vec<ViewConnectionInfo>, Error> {
        self.readable(ctx)?;
        Ok(self
            .stored(ctx)
            .map(|v| v.connections)
            .unwrap_or_default()
            .into_iter()
            .map(|c| ViewConnectionInfo {
                repository: Repository::new(c.repository_name),
                filter: c.filter,
            })
            .collect())
    }
    /// The view's saved searches (LogScale keeps them on views as on repositories).
    async fn saved_queries(&self, ctx: &Context<'_>) -> Result<Vec<SavedQuery>, Error> {
        self.readable(ctx)?;
        super::items::saved_queries(ctx, &self.name)
    }
    async fn dashboards(&self, ctx: &Context<'_>) -> Result<Vec<Dashboard>, Error> {
        self.readable(ctx)?;
        super::items::dashboards(ctx, &self.name)
    }
    async fn dashboard(&self, ctx: &Context<'_>, id: String) -> Result<Dashboard, Error> {
        self.readable(ctx)?;
        super::items::dashboards(ctx, &self.name)?
            .into_iter()
            .find(|d| d.id == id)
            .ok_or_else(|| Error::new(format!("dashboard {id:?} does not exist")))
    }
}

/// Names of the views the caller holds any permission on, sorted.
pub(crate) fn visible_views(ctx: &Context<'_>) -> Result<Vec<String>, Error> {
    require_user(ctx)?;
    let access = caller_access(ctx);
    Ok(node(ctx).global.read(|s| {
        s.views
            .keys()
            .filter(|n| access.is_some_and(|a| a.can_see(n)))
            .cloned()
            .collect()
    }))
}

/// Checks connections as given and converts them; `None` keeps the empty list.
fn connections(
    global: &strata_global::Global,
    input: Option<Vec<ViewConnectionInput>>,
) -> Result<Vec<ViewConnection>, Error> {
    let input = input.unwrap_or_default();
    if input.len() > MAX_CONNECTIONS {
        return Err(Error::new(format!(
            "a view has at most {MAX_CONNECTIONS} connections, not {}",
            input.len()
        )));
    }
    input
        .into_iter()
        .map(|c| {
            if c.filter.len() > MAX_FILTER_BYTES {
                return Err(Error::new(format!(
                    "the filter of the connection to {:?} is longer than {MAX_FILTER_BYTES} bytes",
                    c.repository_name
                )));
            }
            let c = ViewConnection {
                repository_name: c.repository_name,
                filter: c.filter,
            };
            check_filter(&c, crate::lookup::files(global, &c.repository_name))
                .map_err(Error::new)?;
            Ok(c)
        })
        .collect()
}

/// The view's version, description and connections.
fn view_version(
    ctx: &Context<'_>,
    name: &str,
) -> Result<(u64, String, Vec<ViewConnection>), Error> {
    node(ctx)
        .global
        .read(|s| {
            s.views
                .get(name)
                .map(|v| (v.version, v.description.clone(), v.connections.clone()))
        })
        .ok_or_else(|| Error::new(format!("view {name:?} does not exist")))
}

/// `deleteSearchDomain` of a view (`repository.rs` routes views here).
pub(crate) async fn delete_view(ctx: &Context<'_>, name: String) -> Result<bool, Error> {
    let (version, _, _) = view_version(ctx, &name)?;
    publish(
        ctx,
        GlobalEvent::DeleteView {
            name,
            expected_version: version,
        },
    )
    .await?;
    Ok(true)
}

/// `updateDescriptionForSearchDomain` of a view.
pub(crate) async fn describe_view(
    ctx: &Context<'_>,
    name: String,
    description: String,
) -> Result<bool, Error> {
    let (version, _, connections) = view_version(ctx, &name)?;
    publish(
        ctx,
        GlobalEvent::UpdateView {
            name,
            expected_version: version,
            description,
            connections,
        },
    )
    .await?;
    Ok(true)
}

/// Gives the signed-in user who just created `domain` the creator role on it (root needs
/// none, and a permission token is nobody's to be granted through).
pub(crate) async fn grant_creator(ctx: &Context<'_>, domain: &str) -> Result<(), Error> {
    let Ok(crate::api::Caller::User {
        username,
        is_root: false,
        token: crate::api::TokenKind::Personal | crate::api::TokenKind::Session,
        ..
    }) = super::caller(ctx)
    else {
        return Ok(());
    };
    crate::auth::creator::grant_creator(&node(ctx).global, username, domain)
        .await
        .map_err(|e| {
            Error::new(format!(
                "{domain:?} was created, but its creator's role was not: {e}"
            ))
        })
}

/// Whether `name` is a view (not a repository).
pub(crate) fn is_view(ctx: &Context<'_>, name: &str) -> bool {
    node(ctx).global.read(|s| s.views.contains_key(name))
}

#[derive(Default)]
pub struct ViewMutation;

#[Object]
impl ViewMutation {
    /// Creates a view over the connected repositories, each with its filter.
    async fn create_view(
        &self,
        ctx: &Context<'_>,
        name: String,
        description: Option<String>,
        connections: Option<Vec<ViewConnectionInput>>,
    ) -> Result<View, Error> {
        require_org(ctx, OrganizationPermission::CreateRepository)?;
        valid_name("view", &name)?;
        let connections = self::connections(&node(ctx).global, connections)?;
        // Connecting a repository needs read access to it: a view must not widen access.
        for c in &connections {
            require_view(ctx, &c.repository_name, ViewPermission::ReadAccess)?;
        }
        let description = description.unwrap_or_default();
        if description.len() > 10_000 {
            return Err(Error::new("the description is longer than 10,000 bytes"));
        }
        publish(
            ctx,
            GlobalEvent::CreateView {
                name: name.clone(),
                description,
                connections,
            },
        )
        .await?;
        grant_creator(ctx, &name).await?;
        Ok(View {
            granted: true,
            ..View::new(name)
        })
    }

    /// Replaces a view's connections.
    async fn update_view(
        &self,
        ctx: &Context<'_>,
        view_name: String,
        connections: Vec<ViewConnectionInput>,
    ) -> Result<View, Error> {
        require_view(
            ctx,
            &view_name,
            ViewPermission::ChangeViewOrRepositoryDescription,
        )?;
        let connections = self::connections(&node(ctx).global, Some(connections))?;
        let (version, description, _) = view_version(ctx, &view_name)?;
        for c in &connections {
            require_view(ctx, &c.repository_name, ViewPermission::ReadAccess)?;
        }
        publish(
            ctx,
            GlobalEvent::UpdateView {
                name: view_name.clone(),
                expected_version: version,
                description,
                connections,
            },
        )
        .await?;
        Ok(View::new(view_name))
    }
}
