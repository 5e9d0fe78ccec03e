//! Apply handlers of repositories and the objects that live in one: parsers and items (saved
//! queries, dashboards, alerts, actions). Deleting a repository takes its ingest tokens,
//! datasources and segments with it.

use super::{check_version, Item, Outcome, Parser, Repository, State};
use crate::event::{ItemKind, Retention};

impl State {
    pub(super) fn create_repository(
        &mut self,
        offset: u64,
        name: &str,
        description: &str,
    ) -> Outcome {
        if name.is_empty() {
            reject!("repository name is empty");
        }
        if self.repositories.contains_key(name) {
            reject!("repository {name:?} already exists");
        }
        if self.views.contains_key(name) {
            reject!("a view named {name:?} already exists");
        }
        self.repositories.insert(
            name.to_string(),
            Repository {
                name: name.to_string(),
                description: description.to_string(),
                version: offset,
                ..Default::default()
            },
        );
        Outcome::Applied
    }

    pub(super) fn update_repository(
        &mut self,
        offset: u64,
        name: &str,
        expected_version: u64,
        description: &str,
        retention: &Retention,
    ) -> Outcome {
        let Some(r) = self.repositories.get_mut(name) else {
            reject!("repository {name:?} does not exist");
        };
        if let Some(o) = check_version(&format!("repository {name:?}"), r.version, expected_version)
        {
            return o;
        }
        r.description = description.to_string();
        r.retention = retention.clone();
        r.version = offset;
        Outcome::Applied
    }

    pub(super) fn delete_repository(&mut self, name: &str, expected_version: u64) -> Outcome {
        let Some(r) = self.repositories.get(name) else {
            reject!("repository {name:?} does not exist");
        };
        if let Some(o) = check_version(&format!("repository {name:?}"), r.version, expected_version)
        {
            return o;
        }
        self.repositories.remove(name);
        self.ingest_tokens.retain(|_, t| t.repo != name);
        self.datasources.retain(|_, d| d.repo != name);
        self.segments.retain(|s| s.repo != name);
        self.forget_repository_grants(name);
        // Views stop reading it: a new repository of the same name is not theirs.
        for v in self.views.values_mut() {
            v.connections.retain(|c| c.repository_name != name);
        }
        Outcome::Applied
    }

    /// Creates (`expected_version` `None`) or replaces a parser.
    pub(super) fn put_parser(
        &mut self,
        offset: u64,
        repo: &str,
        name: &str,
        script: &str,
        expected_version: Option<u64>,
    ) -> Outcome {
        let Some(r) = self.repositories.get_mut(repo) else {
            reject!("repository {repo:?} does not exist");
        };
        match (r.parsers.get(name), expected_version) {
            (Some(_), None) => reject!("parser {name:?} already exists in {repo:?}"),
            (None, Some(_)) => reject!("parser {name:?} does not exist in {repo:?}"),
            (Some(p), Some(v)) => {
                if let Some(o) = check_version(&format!("parser {name:?}"), p.version, v) {
                    return o;
                }
            }
            (None, None) => {}
        }
        r.parsers.insert(
            name.to_string(),
            Parser {
                name: name.to_string(),
                script: script.to_string(),
                version: offset,
            },
        );
        Outcome::Applied
    }

    pub(super) fn delete_parser(&mut self, repo: &str, name: &str) -> Outcome {
        let removed = self
            .repositories
            .get_mut(repo)
            .and_then(|r| r.parsers.remove(name));
        if removed.is_none() {
            reject!("parser {name:?} does not exist in {repo:?}");
        }
        Outcome::Applied
    }

    /// Creates (`expected_version` `None`) or replaces a saved query, dashboard, alert or
    /// action.
    // One argument per field of `GlobalEvent::PutItem`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn put_item(
        &mut self,
        offset: u64,
        repo: &str,
        kind: ItemKind,
        id: &str,
        name: &str,
        body: &str,
        expected_version: Option<u64>,
    ) -> Outcome {
        let Some(items) = self.domain_items_mut(repo) else {
            reject!("repository or view {repo:?} does not exist");
        };
        let items = items.entry(kind).or_default();
        match (items.get(id), expected_version) {
            (Some(_), None) => reject!("{kind:?} {id:?} already exists in {repo:?}"),
            (None, Some(_)) => reject!("{kind:?} {id:?} does not exist in {repo:?}"),
            (Some(i), Some(v)) => {
                if let Some(o) = check_version(&format!("{kind:?} {id:?}"), i.version, v) {
                    return o;
                }
            }
            (None, None) => {}
        }
        items.insert(
            id.to_string(),
            Item {
                id: id.to_string(),
                name: name.to_string(),
                body: body.to_string(),
                version: offset,
            },
        );
        Outcome::Applied
    }

    pub(super) fn delete_item(&mut self, repo: &str, kind: ItemKind, id: &str) -> Outcome {
        let removed = self
            .domain_items_mut(repo)
            .and_then(|items| items.get_mut(&kind))
            .and_then(|m| m.remove(id));
        if removed.is_none() {
            reject!("{kind:?} {id:?} does not exist in {repo:?}");
        }
        Outcome::Applied
    }
}
