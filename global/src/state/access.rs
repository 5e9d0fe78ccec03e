//! Apply handlers of who may use Strata: users, their API tokens, and the ingest tokens that
//! let a shipper write into one repository. Tokens are stored as hashes only.

use super::{check_version, ApiToken, IngestToken, Outcome, State, User};

impl State {
    pub(super) fn create_user(&mut self, offset: u64, username: &str, is_root: bool) -> Outcome {
        if self.users.contains_key(username) {
            reject!("user {username:?} already exists");
        }
        self.users.insert(
            username.to_string(),
            User {
                username: username.to_string(),
                is_root,
                version: offset,
            },
        );
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
        self.api_tokens.insert(
            token_id.to_string(),
            ApiToken {
                id: token_id.to_string(),
                username: username.to_string(),
                token_hash: token_hash.to_string(),
            },
        );
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
