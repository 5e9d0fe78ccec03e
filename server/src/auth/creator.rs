//! The creator of a repository or view gets a role on it (LogScale behaviour): without one, a
//! user allowed to create repositories could not use what they made. The grant is ordinary
//! Global state — a built-in role holding every view permission, given on the new search
//! domain to the creator's personal group (made on first use) — so it shows in the admin
//! pages and can be taken away like any other.

use strata_global::{Global, GlobalEvent, Outcome};

use super::permissions::{name_of, ViewPermission};

/// The id of the built-in role given to creators.
pub const CREATOR_ROLE: &str = "builtin-creator";

/// The id of `username`'s personal group.
pub fn personal_group(username: &str) -> String {
    format!("user:{username}")
}

/// Why a grant could not be published.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    #[error("metadata store unavailable: {0}")]
    Unavailable(String),
    #[error("{0}")]
    Rejected(String),
}

async fn publish(global: &Global, ev: GlobalEvent) -> Result<(), GrantError> {
    match global.publish(ev).await {
        Ok((_, Outcome::Applied)) => Ok(()),
        Ok((_, Outcome::Rejected(r))) => Err(GrantError::Rejected(r)),
        Err(e) => Err(GrantError::Unavailable(e.to_string())),
    }
}

/// Gives `username` the creator role on `domain`, making the role and the user's personal
/// group first when they do not exist yet. A concurrent creation of either is no error.
pub async fn grant_creator(
    global: &Global,
    username: &str,
    domain: &str,
) -> Result<(), GrantError> {
    let group = personal_group(username);
    let (has_role, has_group, member) = global.read(|s| {
        (
            s.roles.contains_key(CREATOR_ROLE),
            s.groups.contains_key(&group),
            s.groups
                .get(&group)
                .is_some_and(|g| g.members.contains(username)),
        )
    });
    if !has_role {
        let all = <ViewPermission as async_graphql::EnumType>::items()
            .iter()
            .map(|i| name_of(i.value).to_string())
            .collect();
        let ev = GlobalEvent::PutRole {
            id: CREATOR_ROLE.into(),
            name: "Creator".into(),
            view_permissions: all,
            organization_permissions: vec![],
            system_permissions: vec![],
            expected_version: None,
        };
        if let Err(GrantError::Unavailable(e)) = publish(global, ev).await {
            return Err(GrantError::Unavailable(e));
        }
    }
    if !has_group {
        let ev = GlobalEvent::AddGroup {
            id: group.clone(),
            name: username.to_string(),
        };
        if let Err(GrantError::Unavailable(e)) = publish(global, ev).await {
            return Err(GrantError::Unavailable(e));
        }
    }
    if !member {
        publish(
            global,
            GlobalEvent::AddUsersToGroup {
                group_id: group.clone(),
                usernames: vec![username.to_string()],
            },
        )
        .await?;
    }
    publish(
        global,
        GlobalEvent::AssignRole {
            group_id: group,
            role_id: CREATOR_ROLE.into(),
            repo: Some(domain.to_string()),
        },
    )
    .await
}
