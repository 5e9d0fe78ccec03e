//! API tokens over GraphQL with LogScale's names: personal tokens
//! (`createPersonalUserTokenV2`: the user's own permissions), organization permissions tokens
//! (`createOrganizationPermissionsTokenV2`) and repository permissions tokens
//! (`createViewPermissionsTokenV2`: permissions on listed repositories), listed by `tokens`,
//! revoked by `deleteToken`, expiring at `expireAt` (epoch ms). The clear token is in the
//! creation's answer only; Global stores its SHA-256. Nobody can put a permission into a token
//! that they do not hold themselves.

use async_graphql::{Context, Error, InputObject, Object, SimpleObject};
use strata_global::{hash_token, GlobalEvent, TokenScope};

use super::{
    caller, caller_access, gql_error, node, publish, require_org, require_user, require_view,
};
use crate::api::{ApiError, Caller, TokenKind};
use crate::auth::permissions::name_of;
use crate::auth::{
    new_id, new_token, Denied, OrganizationPermission, Permission, Scope, SystemPermission,
    ViewPermission,
};

/// An API token's metadata (never its value).
#[derive(SimpleObject, Clone)]
pub struct Token {
    id: String,
    name: String,
    /// `personal`, `organization` or `repository`.
    #[graphql(name = "type")]
    token_type: String,
    /// The owner (personal) or creator (permission tokens).
    username: String,
    created_at: i64,
    /// Epoch ms after which the token is refused; null: never.
    expire_at: Option<i64>,
    /// The permissions of a permission token (LogScale's names).
    permissions: Vec<String>,
    /// The repositories of a repository permissions token.
    view_names: Vec<String>,
}

fn token_of(t: &strata_global::ApiToken) -> Option<Token> {
    let (kind, permissions, views) = match &t.scope {
        TokenScope::Personal => ("personal", vec![], vec![]),
        // Sessions are sign-ins, not tokens anyone manages.
        TokenScope::Session => return None,
        TokenScope::Organization { permissions } => ("organization", permissions.clone(), vec![]),
        TokenScope::Repositories { repos, permissions } => {
            ("repository", permissions.clone(), repos.clone())
        }
    };
    Some(Token {
        id: t.id.clone(),
        name: t.name.clone(),
        token_type: kind.into(),
        username: t.username.clone(),
        created_at: t.created_ms,
        expire_at: t.expires_ms,
        permissions,
        view_names: views,
    })
}

/// Output of every token creation.
#[derive(SimpleObject)]
pub struct CreatedToken {
    /// The secret: shown here once.
    token: String,
    token_metadata: Token,
}

#[derive(InputObject)]
pub struct CreatePersonalUserTokenV2Input {
    expire_at: Option<i64>,
    name: Option<String>,
}

#[derive(InputObject)]
pub struct CreateOrganizationPermissionsTokenV2Input {
    name: String,
    expire_at: Option<i64>,
    #[graphql(default)]
    organization_permissions: Vec<OrganizationPermission>,
    #[graphql(default)]
    system_permissions: Vec<SystemPermission>,
}

#[derive(InputObject)]
pub struct CreateViewPermissionsTokenV2Input {
    name: String,
    expire_at: Option<i64>,
    /// Repository names.
    view_ids: Vec<String>,
    view_permissions: Vec<ViewPermission>,
}

/// Ten years: a bound on `expireAt`, which must also be in the future.
const MAX_LIFETIME_MS: i64 = 10 * 365 * 24 * 3600 * 1000;

fn check_expiry(expire_at: Option<i64>) -> Result<(), Error> {
    let now = crate::text::now_ms();
    match expire_at {
        Some(e) if e <= now => Err(Error::new(format!(
            "expireAt {e} is not in the future (now is {now}, epoch milliseconds)"
        ))),
        Some(e) if e > now.saturating_add(MAX_LIFETIME_MS) => Err(Error::new(
            "expireAt is more than ten years away (it is in epoch milliseconds)",
        )),
        _ => Ok(()),
    }
}

fn check_token_name(n: &str) -> Result<(), Error> {
    if n.trim().is_empty() || n.len() > 200 || n.chars().any(|c| c.is_control()) {
        return Err(Error::new(format!(
            "token name {n:?} must be 1-200 characters without control characters"
        )));
    }
    Ok(())
}

/// A refusal to put `p` into a token: the caller does not hold it.
fn require_held(ctx: &Context<'_>, scope: Scope<'_>, p: Permission) -> Result<(), Error> {
    let access = caller_access(ctx)
        .ok_or_else(|| gql_error(ApiError::unauthorized("an API token is required")))?;
    access.check(scope, p).map_err(|d| {
        gql_error(match d {
            Denied::NotFound => ApiError::not_found(match scope {
                Scope::Repository(r) => format!("repository {r:?} does not exist"),
                Scope::Organization => "not found".into(),
            }),
            Denied::Forbidden => ApiError::forbidden(format!(
                "a token cannot hold {p}: the caller does not hold it"
            )),
        })
    })
}

async fn create(
    ctx: &Context<'_>,
    name: String,
    username: String,
    scope: TokenScope,
    expire_at: Option<i64>,
) -> Result<CreatedToken, Error> {
    let token = new_token();
    let id = new_id();
    publish(
        ctx,
        GlobalEvent::CreateToken {
            token_id: id.clone(),
            name,
            username,
            scope,
            token_hash: hash_token(&token),
            created_ms: crate::text::now_ms(),
            expires_ms: expire_at,
        },
    )
    .await?;
    let meta = node(ctx)
        .global
        .read(|s| s.api_tokens.get(&id).and_then(token_of))
        .ok_or_else(|| Error::new("the token vanished right after it was created"))?;
    Ok(CreatedToken {
        token,
        token_metadata: meta,
    })
}

#[derive(Default)]
pub struct TokenQuery;

#[Object]
impl TokenQuery {
    /// API tokens: every one for `ManageUsers`, else the caller's own personal tokens.
    async fn tokens(&self, ctx: &Context<'_>) -> Result<Vec<Token>, Error> {
        require_user(ctx)?;
        let all = require_org(ctx, OrganizationPermission::ManageUsers).is_ok();
        let me = match caller(ctx)? {
            Caller::User { username, .. } => username.clone(),
            Caller::Ingest { .. } => String::new(),
        };
        Ok(node(ctx).global.read(|s| {
            s.api_tokens
                .values()
                .filter(|t| all || (t.username == me && t.scope == TokenScope::Personal))
                .filter_map(token_of)
                .collect()
        }))
    }
}

#[derive(Default)]
pub struct TokenMutation;

#[Object]
impl TokenMutation {
    /// A token with all of the signed-in user's permissions.
    #[graphql(name = "createPersonalUserTokenV2")]
    async fn create_personal_user_token_v2(
        &self,
        ctx: &Context<'_>,
        input: CreatePersonalUserTokenV2Input,
    ) -> Result<CreatedToken, Error> {
        require_user(ctx)?;
        let username = match caller(ctx)? {
            Caller::User {
                username,
                token: TokenKind::Personal | TokenKind::Session,
                ..
            } => username.clone(),
            _ => {
                return Err(gql_error(ApiError::forbidden(
                    "personal tokens are made by a signed-in user (not the root token or a permission token)",
                )))
            }
        };
        check_expiry(input.expire_at)?;
        let name = input.name.unwrap_or_else(|| "personal".into());
        check_token_name(&name)?;
        create(ctx, name, username, TokenScope::Personal, input.expire_at).await
    }

    #[graphql(name = "createOrganizationPermissionsTokenV2")]
    async fn create_organization_permissions_token_v2(
        &self,
        ctx: &Context<'_>,
        input: CreateOrganizationPermissionsTokenV2Input,
    ) -> Result<CreatedToken, Error> {
        require_org(ctx, OrganizationPermission::ManageUsers)?;
        check_token_name(&input.name)?;
        check_expiry(input.expire_at)?;
        let mut permissions = Vec::new();
        for p in &input.organization_permissions {
            require_held(ctx, Scope::Organization, (*p).into())?;
            permissions.push(name_of(*p).to_string());
        }
        for p in &input.system_permissions {
            require_held(ctx, Scope::Organization, (*p).into())?;
            permissions.push(name_of(*p).to_string());
        }
        if permissions.is_empty() {
            return Err(Error::new(
                "an organization token needs at least one permission",
            ));
        }
        permissions.sort();
        permissions.dedup();
        let creator = match caller(ctx)? {
            Caller::User { username, .. } => username.clone(),
            Caller::Ingest { .. } => String::new(),
        };
        create(
            ctx,
            input.name,
            creator,
            TokenScope::Organization { permissions },
            input.expire_at,
        )
        .await
    }

    #[graphql(name = "createViewPermissionsTokenV2")]
    async fn create_view_permissions_token_v2(
        &self,
        ctx: &Context<'_>,
        input: CreateViewPermissionsTokenV2Input,
    ) -> Result<CreatedToken, Error> {
        require_user(ctx)?;
        check_token_name(&input.name)?;
        check_expiry(input.expire_at)?;
        if input.view_ids.is_empty() || input.view_permissions.is_empty() {
            return Err(Error::new(
                "a repository token needs at least one repository (viewIds) and one permission",
            ));
        }
        for repo in &input.view_ids {
            require_view(ctx, repo, ViewPermission::ChangeUserAccess)?;
            for p in &input.view_permissions {
                require_held(ctx, Scope::Repository(repo), (*p).into())?;
            }
        }
        let mut permissions: Vec<String> = input
            .view_permissions
            .iter()
            .map(|p| name_of(*p).to_string())
            .collect();
        permissions.sort();
        permissions.dedup();
        let mut repos = input.view_ids;
        repos.sort();
        repos.dedup();
        let creator = match caller(ctx)? {
            Caller::User { username, .. } => username.clone(),
            Caller::Ingest { .. } => String::new(),
        };
        create(
            ctx,
            input.name,
            creator,
            TokenScope::Repositories { repos, permissions },
            input.expire_at,
        )
        .await
    }

    /// Revokes a token: the owner of a personal token, or `ManageUsers` for any.
    async fn delete_token(&self, ctx: &Context<'_>, id: String) -> Result<bool, Error> {
        require_user(ctx)?;
        let me = match caller(ctx)? {
            Caller::User { username, .. } => username.clone(),
            Caller::Ingest { .. } => String::new(),
        };
        let own = node(ctx).global.read(|s| {
            s.api_tokens
                .get(&id)
                .map(|t| t.username == me && t.scope == TokenScope::Personal)
        });
        // Token ids are random: saying one does not exist reveals nothing.
        let Some(own) = own else {
            return Err(Error::new(format!("token {id:?} does not exist")));
        };
        if !own {
            require_org(ctx, OrganizationPermission::ManageUsers)?;
        }
        publish(ctx, GlobalEvent::RemoveApiToken { token_id: id }).await?;
        Ok(true)
    }
}
