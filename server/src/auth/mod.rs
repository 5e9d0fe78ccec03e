//! Who may do what: local users' passwords (`password.rs`), sign-in sessions (`login.rs`),
//! LogScale's permission model (`permissions.rs`), the creator's role on what they create
//! (`creator.rs`) and the audit log (`audit.rs`). The HTTP
//! layer (`api/mod.rs`: `authenticate`, `authorize`) and GraphQL use these; the decision
//! itself is the pure [`permissions::Access::check`].
//!
//! Sessions are API tokens of kind `Session` stored hashed in Global with an expiry, not
//! node-local: a session made on one node works on every node of the cluster (Global is
//! replicated to all of them, and an unknown token makes a node catch up before it refuses),
//! and survives restarts. Expired sessions are refused by whoever reads them (apply has no
//! clock) and removed at their user's next sign-in.

pub mod audit;
pub mod creator;
pub mod login;
pub mod password;
pub mod permissions;
pub mod ratelimit;

pub use permissions::{
    Access, Denied, OrganizationPermission, Permission, Scope, SystemPermission, ViewPermission,
};

/// How long a sign-in session lasts.
pub const SESSION_TTL_MS: i64 = 24 * 3600 * 1000;

/// The repository audit events are written to (LogScale's name). It cannot be deleted through
/// the API, and only callers given a permission on it can search it.
pub const AUDIT_REPO: &str = "humio-audit";

/// Compares two secrets in constant time (for equal lengths; the length is not secret).
pub fn secret_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// A new random secret token (256 bits, hex).
pub fn new_token() -> String {
    format!(
        "{:032x}{:032x}",
        rand::random::<u128>(),
        rand::random::<u128>()
    )
}

/// A new random object id (groups, roles, tokens): 128 bits, hex.
pub fn new_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_compare_by_every_byte() {
        assert!(super::secret_eq(b"abc", b"abc"));
        assert!(!super::secret_eq(b"abc", b"abd"));
        assert!(!super::secret_eq(b"abc", b"abcd"));
        assert_ne!(super::new_token(), super::new_token());
    }
}
