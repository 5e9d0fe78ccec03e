//! Local users over GraphQL with LogScale's names: `users`, `user`, `currentUser`,
//! `addUserV2`, `updateUser`, `removeUser`. Managing users needs `ManageUsers`; making a user
//! root needs a root caller. Passwords (a Strata addition to LogScale's inputs, for local
//! sign-in) are hashed with Argon2id off the async threads and never leave the server.

use async_graphql::{Context, Error, InputObject, Object, SimpleObject};
use strata_global::GlobalEvent;

use super::{caller, gql_error, node, publish, require_org, require_user};
use crate::api::{ApiError, Caller};
use crate::auth::{password, OrganizationPermission};

/// A user (LogScale's `User`).
#[derive(SimpleObject, Clone)]
pub struct User {
    id: String,
    username: String,
    display_name: String,
    full_name: Option<String>,
    email: Option<String>,
    is_root: bool,
    /// True when the user can sign in with a password.
    has_password: bool,
    /// Ids of the groups the user is in.
    group_ids: Vec<String>,
}

pub(super) fn user_of(s: &strata_global::State, u: &strata_global::User) -> User {
    User {
        id: u.username.clone(),
        username: u.username.clone(),
        display_name: u.full_name.clone().unwrap_or_else(|| u.username.clone()),
        full_name: u.full_name.clone(),
        email: u.email.clone(),
        is_root: u.is_root,
        has_password: u.password_hash.is_some(),
        group_ids: s.groups_of(&u.username).map(|g| g.id.clone()).collect(),
    }
}

fn find(ctx: &Context<'_>, username: &str) -> Result<User, Error> {
    node(ctx)
        .global
        .read(|s| s.users.get(username).map(|u| user_of(s, u)))
        .ok_or_else(|| Error::new(format!("user {username:?} does not exist")))
}

#[derive(Default)]
pub struct UserQuery;

#[Object]
impl UserQuery {
    /// Every user, optionally those whose username contains `search`.
    async fn users(&self, ctx: &Context<'_>, search: Option<String>) -> Result<Vec<User>, Error> {
        require_org(ctx, OrganizationPermission::ManageUsers)?;
        let search = search.unwrap_or_default();
        Ok(node(ctx).global.read(|s| {
            s.users
                .values()
                .filter(|u| u.username.contains(&search))
                .map(|u| user_of(s, u))
                .collect()
        }))
    }

    async fn user(&self, ctx: &Context<'_>, username: String) -> Result<User, Error> {
        require_org(ctx, OrganizationPermission::ManageUsers)?;
        find(ctx, &username)
    }

    /// The signed-in user (the root token and permission tokens have no user: null).
    async fn current_user(&self, ctx: &Context<'_>) -> Result<Option<User>, Error> {
        require_user(ctx)?;
        match caller(ctx)? {
            Caller::User { username, .. } => Ok(find(ctx, username).ok()),
            Caller::Ingest { .. } => Ok(None),
        }
    }
}

#[derive(InputObject)]
pub struct AddUserInputV2 {
    username: String,
    is_root: Option<bool>,
    full_name: Option<String>,
    email: Option<String>,
    /// Strata: a password for local sign-in (at least 8 characters).
    password: Option<String>,
}

#[derive(InputObject)]
pub struct AddUserInput {
    username: String,
    is_root: Option<bool>,
    full_name: Option<String>,
    email: Option<String>,
    /// Strata: a new password; an empty string removes it (no password sign-in).
    password: Option<String>,
}

#[derive(InputObject)]
pub struct RemoveUserInput {
    username: String,
}

#[derive(SimpleObject)]
pub struct UpdateUserMutation {
    user: User,
}

#[derive(SimpleObject)]
pub struct RemoveUserMutation {
    user: User,
}

fn check_username(u: &str) -> Result<(), Error> {
    if u.trim().is_empty() || u.len() > 200 || u.chars().any(|c| c.is_control()) {
        return Err(Error::new(format!(
            "username {u:?} must be 1-200 characters without control characters"
        )));
    }
    Ok(())
}

fn check_text(what: &str, v: &Option<String>) -> Result<(), Error> {
    match v {
        Some(x) if x.len() > 500 || x.chars().any(|c| c.is_control()) => Err(Error::new(format!(
            "{what} must be at most 500 bytes without control characters"
        ))),
        _ => Ok(()),
    }
}

/// Only a root caller may make (or unmake) a root user.
fn check_root_change(ctx: &Context<'_>, want_root: bool, was_root: bool) -> Result<(), Error> {
    let caller_root = matches!(caller(ctx)?, Caller::User { is_root: true, .. });
    if want_root != was_root && !caller_root {
        return Err(gql_error(ApiError::forbidden(
            "only a root user may grant or remove root",
        )));
    }
    Ok(())
}

async fn set_password(ctx: &Context<'_>, username: &str, pw: String) -> Result<(), Error> {
    let phc = if pw.is_empty() {
        String::new()
    } else {
        password::check(&pw).map_err(|e| Error::new(e.to_string()))?;
        tokio::task::spawn_blocking(move || password::hash(&pw))
            .await
            .map_err(|e| Error::new(format!("password hashing failed: {e}")))?
            .map_err(|e| Error::new(e.to_string()))?
    };
    publish(
        ctx,
        GlobalEvent::SetUserPassword {
            username: username.to_string(),
            password_hash: phc,
        },
    )
    .await
    .map(|_| ())
}

#[derive(Default)]
pub struct UserMutation;

#[Object]
impl UserMutation {
    /// Adds a user (LogScale answers `User` or `PendingUser`; here always a `User`).
    #[graphql(name = "addUserV2")]
    async fn add_user_v2(&self, ctx: &Context<'_>, input: AddUserInputV2) -> Result<User, Error> {
        require_org(ctx, OrganizationPermission::ManageUsers)?;
        check_username(&input.username)?;
        check_text("fullName", &input.full_name)?;
        check_text("email", &input.email)?;
        let is_root = input.is_root.unwrap_or(false);
        check_root_change(ctx, is_root, false)?;
        if let Some(pw) = &input.password {
            password::check(pw).map_err(|e| Error::new(e.to_string()))?;
        }
        publish(
            ctx,
            GlobalEvent::CreateUserV2 {
                username: input.username.clone(),
                is_root,
                full_name: input.full_name,
                email: input.email,
            },
        )
        .await?;
        if let Some(pw) = input.password {
            set_password(ctx, &input.username, pw).await?;
        }
        find(ctx, &input.username)
    }

    /// Changes a user's fields; those not given keep their value.
    async fn update_user(
        &self,
        ctx: &Context<'_>,
        input: AddUserInput,
    ) -> Result<UpdateUserMutation, Error> {
        require_org(ctx, OrganizationPermission::ManageUsers)?;
        check_text("fullName", &input.full_name)?;
        check_text("email", &input.email)?;
        let current = node(ctx)
            .global
            .read(|s| s.users.get(&input.username).cloned())
            .ok_or_else(|| Error::new(format!("user {:?} does not exist", input.username)))?;
        let is_root = input.is_root.unwrap_or(current.is_root);
        check_root_change(ctx, is_root, current.is_root)?;
        publish(
            ctx,
            GlobalEvent::UpdateUser {
                username: input.username.clone(),
                expected_version: current.version,
                is_root,
                full_name: input.full_name.or(current.full_name),
                email: input.email.or(current.email),
            },
        )
        .await?;
        if let Some(pw) = input.password {
            set_password(ctx, &input.username, pw).await?;
        }
        Ok(UpdateUserMutation {
            user: find(ctx, &input.username)?,
        })
    }

    /// Removes a user with their personal tokens, sessions and group memberships.
    async fn remove_user(
        &self,
        ctx: &Context<'_>,
        input: RemoveUserInput,
    ) -> Result<RemoveUserMutation, Error> {
        require_org(ctx, OrganizationPermission::ManageUsers)?;
        let user = find(ctx, &input.username)?;
        check_root_change(ctx, false, user.is_root)?;
        publish(
            ctx,
            GlobalEvent::RemoveUser {
                username: input.username,
            },
        )
        .await?;
        Ok(RemoveUserMutation { user })
    }
}
