//! Apply handlers of views (LogScale's model): a view names the repositories it searches and
//! a filter per repository. A view holds no events: deleting one takes only the view and the
//! grants on it. Names are unique among repositories and views, since grants, tokens and the
//! query API address both by name. The filters are query text the server checks before it
//! publishes (Global does not know the query language); apply checks what it can: the
//! connected repositories exist, each once.

use super::{check_version, Outcome, State, View};
use crate::event::ViewConnection;

impl State {
    fn check_connections(&self, connections: &[ViewConnection]) -> Option<Outcome> {
        let mut seen = std::collections::BTreeSet::new();
        for c in connections {
            if !self.repositories.contains_key(&c.repository_name) {
                return Some(Outcome::Rejected(format!(
                    "repository {:?} does not exist",
                    c.repository_name
                )));
            }
            if !seen.insert(c.repository_name.as_str()) {
                return Some(Outcome::Rejected(format!(
                    "repository {:?} is connected twice",
                    c.repository_name
                )));
            }
        }
        None
    }

    pub(super) fn create_view(
        &mut self,
        offset: u64,
        name: &str,
        description: &str,
        connections: &[ViewConnection],
    ) -> Outcome {
        if name.is_empty() {
            reject!("view name is empty");
        }
        if self.views.contains_key(name) {
            reject!("view {name:?} already exists");
        }
        if self.repositories.contains_key(name) {
            reject!("a repository named {name:?} already exists");
        }
        if let Some(o) = self.check_connections(connections) {
            return o;
        }
        self.views.insert(
            name.to_string(),
            View {
                name: name.to_string(),
                description: description.to_string(),
                connections: connections.to_vec(),
                version: offset,
                items: Default::default(),
            },
        );
        Outcome::Applied
    }

    pub(super) fn update_view(
        &mut self,
        offset: u64,
        name: &str,
        expected_version: u64,
        description: &str,
        connections: &[ViewConnection],
    ) -> Outcome {
        let Some(v) = self.views.get(name) else {
            reject!("view {name:?} does not exist");
        };
        if let Some(o) = check_version(&format!("view {name:?}"), v.version, expected_version) {
            return o;
        }
        if let Some(o) = self.check_connections(connections) {
            return o;
        }
        let Some(v) = self.views.get_mut(name) else {
            reject!("view {name:?} does not exist");
        };
        v.description = description.to_string();
        v.connections = connections.to_vec();
        v.version = offset;
        Outcome::Applied
    }

    pub(super) fn delete_view(&mut self, name: &str, expected_version: u64) -> Outcome {
        let Some(v) = self.views.get(name) else {
            reject!("view {name:?} does not exist");
        };
        if let Some(o) = check_version(&format!("view {name:?}"), v.version, expected_version) {
            return o;
        }
        self.views.remove(name);
        self.forget_repository_grants(name);
        Outcome::Applied
    }
}

#[cfg(test)]
mod tests {
    use crate::event::{GlobalEvent, ViewConnection};
    use crate::state::State;

    fn conn(repo: &str, filter: &str) -> ViewConnection {
        ViewConnection {
            repository_name: repo.into(),
            filter: filter.into(),
        }
    }

    #[test]
    fn views_share_the_name_space_of_repositories_and_take_their_grants_when_deleted() {
        let mut s = State::default();
        let mut o = 0;
        let mut apply = |s: &mut State, e: GlobalEvent| {
            o += 1;
            s.apply(o, &e)
        };
        for r in ["a", "b"] {
            let e = GlobalEvent::CreateRepository {
                name: r.into(),
                description: String::new(),
            };
            assert!(apply(&mut s, e).is_applied());
        }
        let create = |name: &str, c: Vec<ViewConnection>| GlobalEvent::CreateView {
            name: name.into(),
            description: "d".into(),
            connections: c,
        };
        assert!(!apply(&mut s, create("a", vec![])).is_applied());
        assert!(!apply(&mut s, create("v", vec![conn("zz", "")])).is_applied());
        assert!(!apply(&mut s, create("v", vec![conn("a", ""), conn("a", "x")])).is_applied());
        assert!(apply(&mut s, create("v", vec![conn("a", "#x"), conn("b", "")])).is_applied());
        let made = GlobalEvent::CreateRepository {
            name: "v".into(),
            description: String::new(),
        };
        assert!(!apply(&mut s, made).is_applied());
        let version = s.views["v"].version;
        let grant = [
            GlobalEvent::AddGroup {
                id: "g".into(),
                name: "G".into(),
            },
            GlobalEvent::PutRole {
                id: "r".into(),
                name: "R".into(),
                view_permissions: vec!["ReadAccess".into()],
                organization_permissions: vec![],
                system_permissions: vec![],
                expected_version: None,
            },
            GlobalEvent::AssignRole {
                group_id: "g".into(),
                role_id: "r".into(),
                repo: Some("v".into()),
            },
        ];
        for e in grant {
            assert!(apply(&mut s, e).is_applied());
        }
        let stale = GlobalEvent::UpdateView {
            name: "v".into(),
            expected_version: version + 100,
            description: String::new(),
            connections: vec![],
        };
        assert!(!apply(&mut s, stale).is_applied());
        let update = GlobalEvent::UpdateView {
            name: "v".into(),
            expected_version: version,
            description: "new".into(),
            connections: vec![conn("b", "level=error")],
        };
        assert!(apply(&mut s, update).is_applied());
        assert_eq!(s.views["v"].connections, vec![conn("b", "level=error")]);
        let version = s.views["v"].version;
        let delete = GlobalEvent::DeleteView {
            name: "v".into(),
            expected_version: version,
        };
        assert!(apply(&mut s, delete).is_applied());
        assert!(s.views.is_empty());
        assert!(
            s.groups["g"].roles.is_empty(),
            "the grant went with the view"
        );
        assert!(s.repositories.contains_key("a") && s.repositories.contains_key("b"));
    }

    #[test]
    fn a_view_holds_items_like_a_repository_and_old_views_load_without_them() {
        let mut s = State::default();
        let events = [
            GlobalEvent::CreateRepository {
                name: "a".into(),
                description: String::new(),
            },
            GlobalEvent::CreateView {
                name: "v".into(),
                description: String::new(),
                connections: vec![conn("a", "")],
            },
        ];
        for (o, e) in events.iter().enumerate() {
            assert!(s.apply(o as u64 + 1, e).is_applied());
        }
        let put = |repo: &str| GlobalEvent::PutItem {
            repo: repo.into(),
            kind: crate::event::ItemKind::SavedQuery,
            id: "q".into(),
            name: "Q".into(),
            body: "{}".into(),
            expected_version: None,
        };
        assert!(s.apply(10, &put("v")).is_applied());
        assert!(!s.apply(11, &put("nowhere")).is_applied());
        let kind = crate::event::ItemKind::SavedQuery;
        assert_eq!(s.domain_items("v").map(|i| i[&kind].len()), Some(1));
        assert!(
            s.repositories["a"].items.is_empty(),
            "the view's, not its repository's"
        );
        let names: Vec<&String> = s.all_domain_items().map(|(n, _)| n).collect();
        assert_eq!(names, ["a", "v"]);
        let delete = GlobalEvent::DeleteItem {
            repo: "v".into(),
            kind,
            id: "q".into(),
        };
        assert!(s.apply(12, &delete).is_applied());
        assert!(s.views["v"].items[&kind].is_empty());
        let old = r#"{"name":"v","description":"","connections":[],"version":3}"#;
        let v: crate::state::View = serde_json::from_str(old).expect("an old view loads");
        assert!(v.items.is_empty());
    }
}
