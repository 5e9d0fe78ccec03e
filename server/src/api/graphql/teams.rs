//! Groups and roles over GraphQL with LogScale's names: `groups`, `addGroup`,
//! `addUsersToGroup`, `roles`, `createRole`, `assignRoleToGroup` (a role on one repository,
//! `viewId` being the repository's name), `assignOrganizationRoleToGroup`, and their
//! inverses. Managing groups and roles needs `ManageUsers`; giving a group a role on a
//! repository needs `ChangeUserAccess` there; organization roles need
//! `ChangeOrganizationPermissions`.

use async_graphql::{Context, Error, InputObject, Object, SimpleObject};
use strata_global::GlobalEvent;

use super::users::{user_of, User};
use super::{node, publish, require_org, require_view};
use crate::auth::permissions::name_of;
use crate::auth::{new_id, OrganizationPermission, SystemPermission, ViewPermission};

/// A role (LogScale's `Role`).
#[derive(SimpleObject, Clone)]
pub struct Role {
    id: String,
    display_name: String,
    view_permissions: Vec<ViewPermission>,
    organization_permissions: Vec<OrganizationPermission>,
    system_permissions: Vec<SystemPermission>,
    /// Groups holding the role (anywhere).
    groups_count: usize,
}

/// A role a group holds, on one repository (`viewName`) or organization-wide (null).
#[derive(SimpleObject, Clone)]
pub struct GroupRole {
    role: Role,
    view_name: Option<String>,
}

/// A group of users (LogScale's `Group`).
#[derive(SimpleObject, Clone)]
pub struct Group {
    id: String,
    display_name: String,
    user_count: usize,
    users: Vec<User>,
    roles: Vec<GroupRole>,
}

fn parse_names<T: async_graphql::EnumType + Copy>(names: &[String]) -> Vec<T> {
    names
        .iter()
        .filter_map(|n| T::items().iter().find(|i| i.name == n).map(|i| i.value))
        .collect()
}

fn role_of(s: &strata_global::State, r: &strata_global::Role) -> Role {
    Role {
        id: r.id.clone(),
        display_name: r.name.clone(),
        view_permissions: parse_names(&r.view_permissions),
        organization_permissions: parse_names(&r.organization_permissions),
        system_permissions: parse_names(&r.system_permissions),
        groups_count: s
            .groups
            .values()
            .filter(|g| g.roles.iter().any(|a| a.role_id == r.id))
            .count(),
    }
}

fn group_of(s: &strata_global::State, g: &strata_global::Group) -> Group {
    Group {
        id: g.id.clone(),
        display_name: g.name.clone(),
        user_count: g.members.len(),
        users: g
            .members
            .iter()
            .filter_map(|u| s.users.get(u).map(|u| user_of(s, u)))
            .collect(),
        roles: g
            .roles
            .iter()
            .filter_map(|a| {
                s.roles.get(&a.role_id).map(|r| GroupRole {
                    role: role_of(s, r),
                    view_name: a.repo.clone(),
                })
            })
            .collect(),
    }
}

fn find_group(ctx: &Context<'_>, id: &str) -> Result<Group, Error> {
    node(ctx)
        .global
        .read(|s| s.groups.get(id).map(|g| group_of(s, g)))
        .ok_or_else(|| Error::new(format!("group {id:?} does not exist")))
}

fn find_role(ctx: &Context<'_>, id: &str) -> Result<Role, Error> {
    node(ctx)
        .global
        .read(|s| s.roles.get(id).map(|r| role_of(s, r)))
        .ok_or_else(|| Error::new(format!("role {id:?} does not exist")))
}

fn check_display_name(what: &str, n: &str) -> Result<(), Error> {
    if n.trim().is_empty() || n.len() > 200 || n.chars().any(|c| c.is_control()) {
        return Err(Error::new(format!(
            "{what} name {n:?} must be 1-200 characters without control characters"
        )));
    }
    Ok(())
}

#[derive(Default)]
pub struct TeamQuery;

#[Object]
impl TeamQuery {
    async fn groups(&self, ctx: &Context<'_>) -> Result<Vec<Group>, Error> {
        require_org(ctx, OrganizationPermission::ManageUsers)?;
        Ok(node(ctx)
            .global
            .read(|s| s.groups.values().map(|g| group_of(s, g)).collect()))
    }
    async fn group(&self, ctx: &Context<'_>, group_id: String) -> Result<Group, Error> {
        require_org(ctx, OrganizationPermission::ManageUsers)?;
        find_group(ctx, &group_id)
    }
    async fn roles(&self, ctx: &Context<'_>) -> Result<Vec<Role>, Error> {
        require_org(ctx, OrganizationPermission::ManageUsers)?;
        Ok(node(ctx)
            .global
            .read(|s| s.roles.values().map(|r| role_of(s, r)).collect()))
    }
    async fn role(&self, ctx: &Context<'_>, role_id: String) -> Result<Role, Error> {
        require_org(ctx, OrganizationPermission::ManageUsers)?;
        find_role(ctx, &role_id)
    }
}

#[derive(SimpleObject)]
pub struct GroupResult {
    group: Group,
}

#[derive(SimpleObject)]
pub struct RoleResult {
    role: Role,
}

/// LogScale's `BooleanResultType`.
#[derive(SimpleObject)]
#[graphql(name = "BooleanResultType")]
pub struct BooleanResult {
    result: bool,
}

#[derive(InputObject)]
pub struct AddUsersToGroupInput {
    users: Vec<String>,
    group_id: String,
}

#[derive(InputObject)]
pub struct RemoveUsersFromGroupInput {
    users: Vec<String>,
    group_id: String,
}

#[derive(InputObject)]
pub struct AddRoleInput {
    display_name: String,
    #[graphql(default)]
    view_permissions: Vec<ViewPermission>,
    #[graphql(default)]
    organization_permissions: Vec<OrganizationPermission>,
    #[graphql(default)]
    system_permissions: Vec<SystemPermission>,
    /// Accepted for LogScale compatibility; not used.
    color: Option<String>,
}

#[derive(InputObject)]
pub struct UpdateRoleInput {
    role_id: String,
    display_name: String,
    #[graphql(default)]
    view_permissions: Vec<ViewPermission>,
    organization_permissions: Option<Vec<OrganizationPermission>>,
    system_permissions: Option<Vec<SystemPermission>>,
    color: Option<String>,
}

#[derive(InputObject)]
pub struct AssignRoleToGroupInput {
    /// The repository's name.
    view_id: String,
    group_id: String,
    role_id: String,
}

#[derive(InputObject)]
pub struct RemoveRoleFromGroupInput {
    view_id: String,
    group_id: String,
    role_id: String,
}

#[derive(InputObject)]
pub struct AssignOrganizationRoleToGroupInput {
    group_id: String,
    role_id: String,
}

#[derive(InputObject)]
pub struct RemoveOrganizationRoleFromGroupInput {
    group_id: String,
    role_id: String,
}

fn names<T: async_graphql::EnumType + Copy + PartialEq>(ps: &[T]) -> Vec<String> {
    let mut v: Vec<String> = ps.iter().map(|p| name_of(*p).to_string()).collect();
    v.sort();
    v.dedup();
    v
}

#[derive(Default)]
pub struct TeamMutation;

#[Object]
impl TeamMutation {
    async fn add_group(
        &self,
        ctx: &Context<'_>,
        display_name: String,
        lookup_name: Option<String>,
    ) -> Result<GroupResult, Error> {
        require_org(ctx, OrganizationPermission::ManageUsers)?;
        check_display_name("group", &display_name)?;
        let _ = lookup_name;
        let id = new_id();
        publish(
            ctx,
            GlobalEvent::AddGroup {
                id: id.clone(),
                name: display_name,
            },
        )
        .await?;
        Ok(GroupResult {
            group: find_group(ctx, &id)?,
        })
    }

    async fn remove_group(
        &self,
        ctx: &Context<'_>,
        group_id: String,
    ) -> Result<GroupResult, Error> {
        require_org(ctx, OrganizationPermission::ManageUsers)?;
        let group = find_group(ctx, &group_id)?;
        publish(ctx, GlobalEvent::RemoveGroup { id: group_id }).await?;
        Ok(GroupResult { group })
    }

    async fn add_users_to_group(
        &self,
        ctx: &Context<'_>,
        input: AddUsersToGroupInput,
    ) -> Result<GroupResult, Error> {
        require_org(ctx, OrganizationPermission::ManageUsers)?;
        publish(
            ctx,
            GlobalEvent::AddUsersToGroup {
                group_id: input.group_id.clone(),
                usernames: input.users,
            },
        )
        .await?;
        Ok(GroupResult {
            group: find_group(ctx, &input.group_id)?,
        })
    }

    async fn remove_users_from_group(
        &self,
        ctx: &Context<'_>,
        input: RemoveUsersFromGroupInput,
    ) -> Result<GroupResult, Error> {
        require_org(ctx, OrganizationPermission::ManageUsers)?;
        publish(
            ctx,
            GlobalEvent::RemoveUsersFromGroup {
                group_id: input.group_id.clone(),
                usernames: input.users,
            },
        )
        .await?;
        Ok(GroupResult {
            group: find_group(ctx, &input.group_id)?,
        })
    }

    async fn create_role(
        &self,
        ctx: &Context<'_>,
        input: AddRoleInput,
    ) -> Result<RoleResult, Error> {
        require_org(ctx, OrganizationPermission::ManageUsers)?;
        check_display_name("role", &input.display_name)?;
        let _ = input.color;
        let id = new_id();
        publish(
            ctx,
            GlobalEvent::PutRole {
                id: id.clone(),
                name: input.display_name,
                view_permissions: names(&input.view_permissions),
                organization_permissions: names(&input.organization_permissions),
                system_permissions: names(&input.system_permissions),
                expected_version: None,
            },
        )
        .await?;
        Ok(RoleResult {
            role: find_role(ctx, &id)?,
        })
    }

    async fn update_role(
        &self,
        ctx: &Context<'_>,
        input: UpdateRoleInput,
    ) -> Result<RoleResult, Error> {
        require_org(ctx, OrganizationPermission::ManageUsers)?;
        check_display_name("role", &input.display_name)?;
        let _ = input.color;
        let old = node(ctx)
            .global
            .read(|s| s.roles.get(&input.role_id).cloned())
            .ok_or_else(|| Error::new(format!("role {:?} does not exist", input.role_id)))?;
        publish(
            ctx,
            GlobalEvent::PutRole {
                id: input.role_id.clone(),
                name: input.display_name,
                view_permissions: names(&input.view_permissions),
                organization_permissions: input
                    .organization_permissions
                    .map(|p| names(&p))
                    .unwrap_or(old.organization_permissions),
                system_permissions: input
                    .system_permissions
                    .map(|p| names(&p))
                    .unwrap_or(old.system_permissions),
                expected_version: Some(old.version),
            },
        )
        .await?;
        Ok(RoleResult {
            role: find_role(ctx, &input.role_id)?,
        })
    }

    async fn remove_role(
        &self,
        ctx: &Context<'_>,
        role_id: String,
    ) -> Result<BooleanResult, Error> {
        require_org(ctx, OrganizationPermission::ManageUsers)?;
        publish(ctx, GlobalEvent::RemoveRole { id: role_id }).await?;
        Ok(BooleanResult { result: true })
    }

    async fn assign_role_to_group(
        &self,
        ctx: &Context<'_>,
        input: AssignRoleToGroupInput,
    ) -> Result<GroupResult, Error> {
        require_view(ctx, &input.view_id, ViewPermission::ChangeUserAccess)?;
        publish(
            ctx,
            GlobalEvent::AssignRole {
                group_id: input.group_id.clone(),
                role_id: input.role_id,
                repo: Some(input.view_id),
            },
        )
        .await?;
        Ok(GroupResult {
            group: find_group(ctx, &input.group_id)?,
        })
    }

    async fn unassign_role_from_group(
        &self,
        ctx: &Context<'_>,
        input: RemoveRoleFromGroupInput,
    ) -> Result<GroupResult, Error> {
        require_view(ctx, &input.view_id, ViewPermission::ChangeUserAccess)?;
        publish(
            ctx,
            GlobalEvent::UnassignRole {
                group_id: input.group_id.clone(),
                role_id: input.role_id,
                repo: Some(input.view_id),
            },
        )
        .await?;
        Ok(GroupResult {
            group: find_group(ctx, &input.group_id)?,
        })
    }

    async fn assign_organization_role_to_group(
        &self,
        ctx: &Context<'_>,
        input: AssignOrganizationRoleToGroupInput,
    ) -> Result<GroupResult, Error> {
        require_org(ctx, OrganizationPermission::ChangeOrganizationPermissions)?;
        publish(
            ctx,
            GlobalEvent::AssignRole {
                group_id: input.group_id.clone(),
                role_id: input.role_id,
                repo: None,
            },
        )
        .await?;
        Ok(GroupResult {
            group: find_group(ctx, &input.group_id)?,
        })
    }

    async fn unassign_organization_role_from_group(
        &self,
        ctx: &Context<'_>,
        input: RemoveOrganizationRoleFromGroupInput,
    ) -> Result<GroupResult, Error> {
        require_org(ctx, OrganizationPermission::ChangeOrganizationPermissions)?;
        publish(
            ctx,
            GlobalEvent::UnassignRole {
                group_id: input.group_id.clone(),
                role_id: input.role_id,
                repo: None,
            },
        )
        .await?;
        Ok(GroupResult {
            group: find_group(ctx, &input.group_id)?,
        })
    }
}
