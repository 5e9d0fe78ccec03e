//! LogScale's permission model: the permission names (view/repository, organization and
//! system permissions, as LogScale's GraphQL enums spell them), and [`Access`], what one
//! caller may do, computed from Global's users, groups, roles and tokens. Pure: no I/O, so
//! the whole decision is unit-tested here and costs one pass over the caller's groups.

use std::collections::{BTreeMap, BTreeSet};

use strata_global::{ApiToken, State, TokenScope};

/// A permission on one repository or view (LogScale's `Permission` enum).
#[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[graphql(name = "Permission", rename_items = "PascalCase")]
pub enum ViewPermission {
    ReadAccess,
    ChangeUserAccess,
    ChangeTriggers,
    ChangeActions,
    ChangeDashboards,
    ChangeSavedQueries,
    ChangeParsers,
    ChangeIngestTokens,
    ChangeRetention,
    ChangeViewOrRepositoryDescription,
    DeleteDataSources,
    DeleteRepositoryOrView,
    /// Upload, replace and delete lookup files.
    ChangeFiles,
}

/// An organization-wide permission (LogScale's `OrganizationPermission`).
#[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[graphql(rename_items = "PascalCase")]
pub enum OrganizationPermission {
    CreateRepository,
    ManageUsers,
    ChangeOrganizationPermissions,
    /// Every permission on every repository (LogScale: change all view or repository
    /// permissions).
    ChangeAllViewOrRepositoryPermissions,
}

/// A cluster-wide permission (LogScale's `SystemPermission`).
#[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[graphql(rename_items = "PascalCase")]
pub enum SystemPermission {
    /// Change cluster settings (nodes, partitions, replication).
    ManageCluster,
    /// Read cluster health: nodes, partitions, storage, status and metrics.
    ReadHealthCheck,
}

/// Any permission; what a route or field needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    View(ViewPermission),
    Organization(OrganizationPermission),
    System(SystemPermission),
}

impl From<ViewPermission> for Permission {
    fn from(p: ViewPermission) -> Self {
        Permission::View(p)
    }
}
impl From<OrganizationPermission> for Permission {
    fn from(p: OrganizationPermission) -> Self {
        Permission::Organization(p)
    }
}
impl From<SystemPermission> for Permission {
    fn from(p: SystemPermission) -> Self {
        Permission::System(p)
    }
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Permission::View(p) => write!(f, "{p:?}"),
            Permission::Organization(p) => write!(f, "{p:?}"),
            Permission::System(p) => write!(f, "{p:?}"),
        }
    }
}

/// Where a permission is needed: on one repository, or organization/cluster-wide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope<'a> {
    Repository(&'a str),
    Organization,
}

/// The names stored in Global, parsed; unknown names (from a newer build) grant nothing.
fn parse<T: async_graphql::EnumType + Copy + Ord>(names: &[String]) -> BTreeSet<T> {
    names
        .iter()
        .filter_map(|n| T::items().iter().find(|i| i.name == n).map(|i| i.value))
        .collect()
}

/// The name LogScale gives a permission (what Global stores).
pub fn name_of<T: async_graphql::EnumType + Copy + PartialEq>(p: T) -> &'static str {
    T::items()
        .iter()
        .find(|i| i.value == p)
        .map(|i| i.name)
        .unwrap_or("")
}

/// Why an [`Access`] refuses: the repository is invisible (404) or visible but the
/// permission is missing (403).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    NotFound,
    Forbidden,
}

/// What one caller may do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    pub root: bool,
    pub organization: BTreeSet<OrganizationPermission>,
    pub system: BTreeSet<SystemPermission>,
    pub repositories: BTreeMap<String, BTreeSet<ViewPermission>>,
}

impl Access {
    pub fn root() -> Access {
        Access {
            root: true,
            ..Default::default()
        }
    }

    /// A user's permissions: the union of the roles of their groups (root: all).
    pub fn of_user(s: &State, username: &str, is_root: bool) -> Access {
        if is_root {
            return Access::root();
        }
        let mut a = Access::default();
        for g in s.groups_of(username) {
            for assignment in &g.roles {
                let Some(role) = s.roles.get(&assignment.role_id) else {
                    continue;
                };
                match &assignment.repo {
                    Some(repo) => a
                        .repositories
                        .entry(repo.clone())
                        .or_default()
                        .extend(parse::<ViewPermission>(&role.view_permissions)),
                    None => {
                        a.organization.extend(parse::<OrganizationPermission>(
                            &role.organization_permissions,
                        ));
                        a.system
                            .extend(parse::<SystemPermission>(&role.system_permissions));
                    }
                }
            }
        }
        a.repositories.retain(|_, p| !p.is_empty());
        a
    }

    /// A token's permissions: its user's for personal tokens and sessions, exactly the
    /// listed ones for permission tokens. `None` when its user no longer exists.
    pub fn of_token(s: &State, t: &ApiToken) -> Option<Access> {
        match &t.scope {
            TokenScope::Personal | TokenScope::Session => {
                let u = s.users.get(&t.username)?;
                Some(Access::of_user(s, &u.username, u.is_root))
            }
            TokenScope::Organization { permissions } => Some(Access {
                organization: parse(permissions),
                system: parse(permissions),
                ..Default::default()
            }),
            TokenScope::Repositories { repos, permissions } => {
                let p: BTreeSet<ViewPermission> = parse(permissions);
                Some(Access {
                    repositories: repos
                        .iter()
                        .filter(|_| !p.is_empty())
                        .map(|r| (r.clone(), p.clone()))
                        .collect(),
                    ..Default::default()
                })
            }
        }
    }

    fn all_repositories(&self) -> bool {
        self.root
            || self
                .organization
                .contains(&OrganizationPermission::ChangeAllViewOrRepositoryPermissions)
    }

    /// True when the caller holds any permission on `repo` (it is listed for them).
    pub fn can_see(&self, repo: &str) -> bool {
        self.all_repositories() || self.repositories.contains_key(repo)
    }

    /// Decides one check. A repository the caller holds nothing on is invisible: 404, as if
    /// it did not exist (LogScale does not tell who else's repositories exist).
    pub fn check(&self, scope: Scope<'_>, p: Permission) -> Result<(), Denied> {
        if self.root {
            return Ok(());
        }
        match (scope, p) {
            (Scope::Repository(repo), Permission::View(v)) => {
                if self.all_repositories() {
                    return Ok(());
                }
                match self.repositories.get(repo) {
                    None => Err(Denied::NotFound),
                    Some(set) if set.contains(&v) => Ok(()),
                    Some(_) => Err(Denied::Forbidden),
                }
            }
            (_, Permission::Organization(o)) => {
                if self.organization.contains(&o) {
                    Ok(())
                } else {
                    Err(Denied::Forbidden)
                }
            }
            (_, Permission::System(x)) => {
                if self.system.contains(&x) {
                    Ok(())
                } else {
                    Err(Denied::Forbidden)
                }
            }
            // A view permission asked organization-wide: only who has it everywhere.
            (Scope::Organization, Permission::View(_)) => {
                if self.all_repositories() {
                    Ok(())
                } else {
                    Err(Denied::Forbidden)
                }
            }
        }
    }

    /// The view permissions on `repo` (every one for root).
    pub fn view_permissions(&self, repo: &str) -> Vec<ViewPermission> {
        if self.all_repositories() {
            return <ViewPermission as async_graphql::EnumType>::items()
                .iter()
                .map(|i| i.value)
                .collect();
        }
        self.repositories
            .get(repo)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_global::GlobalEvent;

    fn state(events: Vec<GlobalEvent>) -> State {
        let mut s = State::default();
        for (i, e) in events.into_iter().enumerate() {
            let o = s.apply(i as u64, &e);
            assert!(o.is_applied(), "event {i}: {o:?}");
        }
        s
    }

    fn team() -> State {
        use GlobalEvent::*;
        let mut ev = vec![
            CreateRepository {
                name: "a".into(),
                description: String::new(),
            },
            CreateRepository {
                name: "b".into(),
                description: String::new(),
            },
            CreateUser {
                username: "ann".into(),
                is_root: false,
            },
            AddGroup {
                id: "g".into(),
                name: "G".into(),
            },
            AddUsersToGroup {
                group_id: "g".into(),
                usernames: vec!["ann".into()],
            },
            PutRole {
                id: "r".into(),
                name: "Reader".into(),
                view_permissions: vec!["ReadAccess".into(), "NotAPermissionYet".into()],
                organization_permissions: vec!["CreateRepository".into()],
                system_permissions: vec![],
                expected_version: None,
            },
        ];
        ev.push(AssignRole {
            group_id: "g".into(),
            role_id: "r".into(),
            repo: Some("a".into()),
        });
        state(ev)
    }

    #[test]
    fn a_role_on_one_repository_grants_exactly_its_permissions_there() {
        let s = team();
        let a = Access::of_user(&s, "ann", false);
        let read = Permission::View(ViewPermission::ReadAccess);
        let dash = Permission::View(ViewPermission::ChangeDashboards);
        assert_eq!(a.check(Scope::Repository("a"), read), Ok(()));
        assert_eq!(
            a.check(Scope::Repository("a"), dash),
            Err(Denied::Forbidden)
        );
        assert_eq!(a.check(Scope::Repository("b"), read), Err(Denied::NotFound));
        // The role's organization permissions only count when assigned organization-wide.
        assert_eq!(
            a.check(
                Scope::Organization,
                OrganizationPermission::CreateRepository.into()
            ),
            Err(Denied::Forbidden)
        );
        assert!(a.can_see("a") && !a.can_see("b"));
    }

    #[test]
    fn removing_the_role_or_the_repository_takes_the_grant_away() {
        let mut s = team();
        s.apply(100, &GlobalEvent::RemoveRole { id: "r".into() });
        assert!(!Access::of_user(&s, "ann", false).can_see("a"));
        let mut s = team();
        let v = s.repositories["a"].version;
        s.apply(
            100,
            &GlobalEvent::DeleteRepository {
                name: "a".into(),
                expected_version: v,
            },
        );
        s.apply(
            101,
            &GlobalEvent::CreateRepository {
                name: "a".into(),
                description: String::new(),
            },
        );
        assert!(!Access::of_user(&s, "ann", false).can_see("a"));
    }

    #[test]
    fn permission_tokens_hold_only_their_listed_permissions() {
        let s = team();
        let t = ApiToken {
            id: "t".into(),
            username: "ann".into(),
            token_hash: String::new(),
            name: "grafana".into(),
            scope: TokenScope::Repositories {
                repos: vec!["b".into()],
                permissions: vec!["ReadAccess".into()],
            },
            created_ms: 0,
            expires_ms: None,
        };
        let a = Access::of_token(&s, &t).unwrap();
        let read = Permission::View(ViewPermission::ReadAccess);
        assert_eq!(a.check(Scope::Repository("b"), read), Ok(()));
        // Not the creator's permissions: ann may read "a", the token may not.
        assert_eq!(a.check(Scope::Repository("a"), read), Err(Denied::NotFound));
        let org = ApiToken {
            scope: TokenScope::Organization {
                permissions: vec!["ManageUsers".into(), "ReadHealthCheck".into()],
            },
            ..t
        };
        let a = Access::of_token(&s, &org).unwrap();
        assert!(a
            .check(
                Scope::Organization,
                OrganizationPermission::ManageUsers.into()
            )
            .is_ok());
        assert!(a
            .check(
                Scope::Organization,
                SystemPermission::ReadHealthCheck.into()
            )
            .is_ok());
        assert!(a.check(Scope::Repository("a"), read).is_err());
    }

    #[test]
    fn root_may_do_everything_and_names_round_trip() {
        let a = Access::root();
        assert!(a
            .check(
                Scope::Repository("anything"),
                ViewPermission::DeleteRepositoryOrView.into()
            )
            .is_ok());
        assert_eq!(name_of(ViewPermission::ReadAccess), "ReadAccess");
        assert_eq!(
            parse::<ViewPermission>(&["ChangeTriggers".to_string()]),
            BTreeSet::from([ViewPermission::ChangeTriggers])
        );
    }
}
