//! API tokens by id with a hash index beside them: every request authenticates by the SHA-256
//! of the token it presents, so the lookup by hash must not walk every token. The index is
//! derived state: kept in step by the only mutators below, rebuilt whenever the map is
//! deserialised (snapshot load), and neither serialised nor compared.

use std::collections::BTreeMap;
use std::ops::Deref;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{ApiToken, FastMap};

/// API tokens by token id, with the token id of each token hash.
#[derive(Clone, Debug, Default)]
pub struct ApiTokens {
    by_id: BTreeMap<String, ApiToken>,
    by_hash: FastMap<String, String>,
}

impl ApiTokens {
    /// The token whose hash is `hash`: one hash probe.
    pub fn by_hash(&self, hash: &str) -> Option<&ApiToken> {
        self.by_hash.get(hash).and_then(|id| self.by_id.get(id))
    }

    pub(super) fn insert(&mut self, t: ApiToken) {
        if self.by_id.contains_key(&t.id) {
            self.remove(&t.id.clone());
        }
        // Legacy `AddApiToken` did not refuse a hash in use: the lowest id wins, as the
        // linear lookup in id order did.
        match self.by_hash.get_mut(&t.token_hash) {
            Some(id) if *id < t.id => {}
            Some(id) => *id = t.id.clone(),
            None => {
                self.by_hash.insert(t.token_hash.clone(), t.id.clone());
            }
        }
        self.by_id.insert(t.id.clone(), t);
    }

    pub(super) fn remove(&mut self, id: &str) -> Option<ApiToken> {
        let t = self.by_id.remove(id)?;
        // Only this token's entry: a legacy duplicate hash may point at another id, and when
        // this one was indexed the next-lowest id holding the same hash takes its place.
        if self.by_hash.get(&t.token_hash).is_some_and(|x| x == id) {
            self.by_hash.remove(&t.token_hash);
            if let Some(next) = self.by_id.values().find(|x| x.token_hash == t.token_hash) {
                self.by_hash.insert(t.token_hash.clone(), next.id.clone());
            }
        }
        Some(t)
    }

    pub(super) fn retain(&mut self, mut keep: impl FnMut(&ApiToken) -> bool) {
        self.by_id.retain(|_, t| keep(t));
        self.rebuild();
    }

    /// Mutable tokens for changes that leave `token_hash` alone (scopes).
    pub(super) fn for_each_scope_mut(&mut self, mut f: impl FnMut(&mut crate::event::TokenScope)) {
        for t in self.by_id.values_mut() {
            f(&mut t.scope);
        }
    }

    fn rebuild(&mut self) {
        self.by_hash.clear();
        // In id order, first wins: the same token the linear lookup used to return.
        for t in self.by_id.values() {
            self.by_hash
                .entry(t.token_hash.clone())
                .or_insert_with(|| t.id.clone());
        }
    }
}

impl Deref for ApiTokens {
    type Target = BTreeMap<String, ApiToken>;
    fn deref(&self) -> &Self::Target {
        &self.by_id
    }
}

impl PartialEq for ApiTokens {
    fn eq(&self, other: &Self) -> bool {
        self.by_id == other.by_id
    }
}
impl Eq for ApiTokens {}

impl Serialize for ApiTokens {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.by_id.serialize(s)
    }
}

impl<'de> Deserialize<'de> for ApiTokens {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut t = ApiTokens {
            by_id: BTreeMap::deserialize(d)?,
            by_hash: FastMap::default(),
        };
        t.rebuild();
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::TokenScope;

    fn token(id: &str, hash: &str) -> ApiToken {
        ApiToken {
            id: id.into(),
            username: "u".into(),
            token_hash: hash.into(),
            name: String::new(),
            scope: TokenScope::Personal,
            created_ms: 0,
            expires_ms: None,
        }
    }

    #[test]
    fn index_follows_inserts_removals_and_deserialisation() {
        let mut t = ApiTokens::default();
        t.insert(token("b", "h1"));
        t.insert(token("a", "h1"));
        t.insert(token("c", "h2"));
        assert_eq!(t.by_hash("h1").map(|x| x.id.as_str()), Some("a"));
        t.remove("a");
        assert_eq!(t.by_hash("h1").map(|x| x.id.as_str()), Some("b"));
        t.retain(|x| x.id != "b");
        assert!(t.by_hash("h1").is_none());
        assert_eq!(t.by_hash("h2").map(|x| x.id.as_str()), Some("c"));
        let json = serde_json::to_string(&t).unwrap();
        let back: ApiTokens = serde_json::from_str(&json).unwrap();
        assert_eq!(back, t);
        assert_eq!(back.by_hash("h2").map(|x| x.id.as_str()), Some("c"));
        assert!(back.by_hash("h1").is_none());
    }
}
