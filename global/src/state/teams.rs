//! Apply handlers of groups and roles: LogScale's model, where a role (a named set of
//! permissions) is given to a group of users on one repository or organization-wide.
//! Removing a role or a repository removes its assignments, so no grant outlives its object.

use super::{check_version, Group, Outcome, Role, RoleAssignment, State};

/// A role's fields (the `PutRole` event).
pub(super) struct RoleSpec<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub view_permissions: &'a [String],
    pub organization_permissions: &'a [String],
    pub system_permissions: &'a [String],
}

impl State {
    pub(super) fn add_group(&mut self, offset: u64, id: &str, name: &str) -> Outcome {
        if id.is_empty() || name.is_empty() {
            reject!("a group needs an id and a name");
        }
        if self.groups.contains_key(id) {
            reject!("group {id:?} already exists");
        }
        if self.groups.values().any(|g| g.name == name) {
            reject!("a group named {name:?} already exists");
        }
        self.groups.insert(
            id.to_string(),
            Group {
                id: id.to_string(),
                name: name.to_string(),
                version: offset,
                ..Default::default()
            },
        );
        Outcome::Applied
    }

    pub(super) fn remove_group(&mut self, id: &str) -> Outcome {
        if self.groups.remove(id).is_none() {
            reject!("group {id:?} does not exist");
        }
        Outcome::Applied
    }

    pub(super) fn change_members(
        &mut self,
        offset: u64,
        group_id: &str,
        usernames: &[String],
        add: bool,
    ) -> Outcome {
        if add {
            if let Some(u) = usernames.iter().find(|u| !self.users.contains_key(*u)) {
                reject!("user {u:?} does not exist");
            }
        }
        let Some(g) = self.groups.get_mut(group_id) else {
            reject!("group {group_id:?} does not exist");
        };
        for u in usernames {
            if add {
                g.members.insert(u.clone());
            } else {
                g.members.remove(u);
            }
        }
        g.version = offset;
        Outcome::Applied
    }

    pub(super) fn put_role(
        &mut self,
        offset: u64,
        r: RoleSpec<'_>,
        expected_version: Option<u64>,
    ) -> Outcome {
        if r.id.is_empty() || r.name.is_empty() {
            reject!("a role needs an id and a name");
        }
        match (self.roles.get(r.id), expected_version) {
            (Some(_), None) => reject!("role {:?} already exists", r.id),
            (None, Some(_)) => reject!("role {:?} does not exist", r.id),
            (Some(old), Some(v)) => {
                if let Some(o) = check_version(&format!("role {:?}", r.id), old.version, v) {
                    return o;
                }
            }
            (None, None) => {}
        }
        if self
            .roles
            .values()
            .any(|x| x.name == r.name && x.id != r.id)
        {
            reject!("a role named {:?} already exists", r.name);
        }
        self.roles.insert(
            r.id.to_string(),
            Role {
                id: r.id.to_string(),
                name: r.name.to_string(),
                view_permissions: r.view_permissions.to_vec(),
                organization_permissions: r.organization_permissions.to_vec(),
                system_permissions: r.system_permissions.to_vec(),
                version: offset,
            },
        );
        Outcome::Applied
    }

    pub(super) fn remove_role(&mut self, id: &str) -> Outcome {
        if self.roles.remove(id).is_none() {
            reject!("role {id:?} does not exist");
        }
        for g in self.groups.values_mut() {
            g.roles.retain(|a| a.role_id != id);
        }
        Outcome::Applied
    }

    pub(super) fn assign_role(
        &mut self,
        offset: u64,
        group_id: &str,
        role_id: &str,
        repo: &Option<String>,
        assign: bool,
    ) -> Outcome {
        if assign {
            if !self.roles.contains_key(role_id) {
                reject!("role {role_id:?} does not exist");
            }
            if let Some(r) = repo {
                if !self.search_domain_exists(r) {
                    reject!("repository or view {r:?} does not exist");
                }
            }
        }
        let Some(g) = self.groups.get_mut(group_id) else {
            reject!("group {group_id:?} does not exist");
        };
        let a = RoleAssignment {
            role_id: role_id.to_string(),
            repo: repo.clone(),
        };
        if assign {
            g.roles.insert(a);
        } else if !g.roles.remove(&a) {
            reject!("group {group_id:?} does not have role {role_id:?} there");
        }
        g.version = offset;
        Outcome::Applied
    }

    /// A deleted repository's grants go with it (a new repository of the same name starts
    /// with none).
    pub(super) fn forget_repository_grants(&mut self, repo: &str) {
        for g in self.groups.values_mut() {
            g.roles.retain(|a| a.repo.as_deref() != Some(repo));
        }
        self.api_tokens.for_each_scope_mut(|scope| {
            if let crate::event::TokenScope::Repositories { repos, .. } = scope {
                repos.retain(|r| r != repo);
            }
        });
    }
}
