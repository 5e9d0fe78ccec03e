//! Apply handlers of who may use Strata: users, their API tokens (personal, sessions,
//! organization and repository permission tokens), and the ingest tokens that let a shipper
//! write into one repository. Tokens are stored as hashes only, passwords as Argon2id hashes.

use super::{check_version, ApiToken, IngestToken, Outcome, State, User};
use crate::event::TokenScope;

/// A new user's fields (the `CreateUser`/`CreateUserV2` events).
pub(super) struct NewUser<'a> {
    pub username: &'a str,
    pub is_root: bool,
    pub full_name: &'a Option<String>,
    pub email: &'a Option<String>,
}

/// A new API token's fields (the `CreateToken` event).
pub(super) struct NewToken<'a> {
    pub token_id: &'a str,
    pub name: &'a str,
    pub username: &'a str,
    pub scope: &'a TokenScope,
    pub token_hash: &'a str,
    pub created_ms: i64,
    pub expires_ms: Option<i64>,
}

impl State {
    pub(super) fn create_user(&mut self, offset: u64, u: NewUser<'_>) -> Outcome {
        if u.username.is_empty() {
            reject!("username is empty");
        }
        if self.users.contains_key(u.username) {
            reject!("user {:?} already exists", u.username);
        }
        self.users.insert(
            u.username.to_string(),
            User {
                username: u.username.to_string(),
                is_root: u.is_root,
                version: offset,
                full_name: u.full_name.clone(),
                email: u.email.clone(),
                password_hash: None,
            },
        );
        Outcome::Applied
    }

    pub(super) fn update_user(
        &mut self,
        offset: u64,
        u: NewUser<'_>,
        expected_version: u64,
    ) -> Outcome {
        let Some(user) = self.users.get_mut(u.username) else {
            reject!("user {:?} does not exist", u.username);
        };
        if let Some(o) = check_version(
            &format!("user {:?}", u.username),
            user.version,
            expected_version,
        ) {
            return o;
        }
        user.is_root = u.is_root;
        user.full_name = u.full_name.clone();
        user.email = u.email.clone();
        user.version = offset;
        Outcome::Applied
    }

    /// Takes the user's personal tokens and sessions and group memberships with them;
    /// permission tokens they created stay (they are not the user's to use).
    pub(super) fn remove_user(&mut self, username: &str) -> Outcome {
        if self.users.remove(username).is_none() {
            reject!("user {username:?} does not exist");
        }
        self.api_tokens.retain(|t| {
            t.username != username || !matches!(t.scope, TokenScope::Personal | TokenScope::Session)
        });
        for g in self.groups.values_mut() {
            g.members.remove(username);
        }
        Outcome::Applied
    }

    pub(super) fn set_user_password(
        &mut self,
        offset: u64,
        username: &str,
        password_hash: &str,
    ) -> Outcome {
        let Some(user) = self.users.get_mut(username) else {
            reject!("user {username:?} does not exist");
        };
        user.password_hash = (!password_hash.is_empty()).then(|| password_hash.to_string());
        user.version = offset;
        Outcome::Applied
    }

    pub(super) fn create_token(&mut self, t: NewToken<'_>) -> Outcome {
        if matches!(t.scope, TokenScope::Personal | TokenScope::Session)
            && !self.users.contains_key(t.username)
        {
            reject!("user {:?} does not exist", t.username);
        }
        if let TokenScope::Repositories { repos, .. } = t.scope {
            if let Some(r) = repos.iter().find(|r| !self.search_domain_exists(r)) {
                reject!("repository or view {r:?} does not exist");
            }
        }
        if self.api_tokens.contains_key(t.token_id) {
            reject!("api token {:?} already exists", t.token_id);
        }
        if self.api_tokens.by_hash(t.token_hash).is_some() {
            reject!("api token value already in use");
        }
        self.api_tokens.insert(ApiToken {
            id: t.token_id.to_string(),
            username: t.username.to_string(),
            token_hash: t.token_hash.to_string(),
            name: t.name.to_string(),
            scope: t.scope.clone(),
            created_ms: t.created_ms,
            expires_ms: t.expires_ms,
        });
        Outcome::Applied
    }

    pub(super) fn add_api_token(
        &mut self,
        username: &str,
        token_id: &str,
        token_hash: &str,
    ) -> Outcome {
        if !self.users.contains_key(username) {
            reject!("user {username:?} does not exist");
        }
        if self.api_tokens.contains_key(token_id) {
            reject!("api token {token_id:?} already exists");
        }
        self.api_tokens.insert(ApiToken {
            id: token_id.to_string(),
            username: username.to_string(),
            token_hash: token_hash.to_string(),
            name: String::new(),
            scope: TokenScope::Personal,
            created_ms: 0,
            expires_ms: None,
        });
        Outcome::Applied
    }

    pub(super) fn remove_api_token(&mut self, token_id: &str) -> Outcome {
        if self.api_tokens.remove(token_id).is_none() {
            reject!("api token {token_id:?} does not exist");
        }
        Outcome::Applied
    }

    pub(super) fn create_ingest_token(
        &mut self,
        offset: u64,
        repo: &str,
        name: &str,
        token_hash: &str,
        parser: &Option<String>,
    ) -> Outcome {
        if !self.repositories.contains_key(repo) {
            reject!("repository {repo:?} does not exist");
        }
        let key = format!("{repo}/{name}");
        if self.ingest_tokens.contains_key(&key) {
            reject!("ingest token {name:?} already exists in {repo:?}");
        }
        if self
            .ingest_tokens
            .values()
            .any(|t| t.token_hash == token_hash)
        {
            reject!("ingest token value already in use");
        }
        self.ingest_tokens.insert(
            key,
            IngestToken {
                repo: repo.to_string(),
                name: name.to_string(),
                token_hash: token_hash.to_string(),
                parser: parser.clone(),
                version: offset,
            },
        );
        Outcome::Applied
    }

    pub(super) fn set_ingest_token_parser(
        &mut self,
        offset: u64,
        repo: &str,
        name: &str,
        parser: &Option<String>,
        expected_version: u64,
    ) -> Outcome {
        let Some(t) = self.ingest_tokens.get_mut(&format!("{repo}/{name}")) else {
            reject!("ingest token {name:?} does not exist in {repo:?}");
        };
        if let Some(o) = check_version(
            &format!("ingest token {name:?}"),
            t.version,
            expected_version,
        ) {
            return o;
        }
        t.parser = parser.clone();
        t.version = offset;
        Outcome::Applied
    }

    pub(super) fn delete_ingest_token(&mut self, repo: &str, name: &str) -> Outcome {
        if self
            .ingest_tokens
            .remove(&format!("{repo}/{name}"))
            .is_none()
        {
            reject!("ingest token {name:?} does not exist in {repo:?}");
        }
        Outcome::Applied
    }
}
