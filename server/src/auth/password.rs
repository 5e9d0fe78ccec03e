//! Password hashing for local users: Argon2id with the `argon2` crate's defaults (OWASP's
//! minimum: 19 MiB, 2 passes), stored as a PHC string that names its own parameters, so
//! stronger settings later still verify old hashes. Hashing is deliberately slow: callers run
//! it off the async threads ([`hash`], [`verify`] are blocking).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// Longest password accepted: bounds the work one request can ask for.
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Shortest password accepted for a local user.
pub const MIN_PASSWORD_CHARS: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("the password must be at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("the password is longer than {MAX_PASSWORD_BYTES} bytes")]
    TooLong,
    #[error("could not hash the password: {0}")]
    Hash(String),
}

/// Checks a new password's length.
pub fn check(password: &str) -> Result<(), PasswordError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordError::TooLong);
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    Ok(())
}

/// The Argon2id PHC string of `password` with a fresh random salt (blocking).
pub fn hash(password: &str) -> Result<String, PasswordError> {
    check(password)?;
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// A PHC string of no password, verified against when the user does not exist, so an
/// unknown username takes as long as a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash("not a password of anyone").unwrap_or_default())
}

/// True when `password` matches the PHC string (comparison in constant time by the crate).
pub fn verify(password: &str, phc: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    match PasswordHash::new(phc) {
        Ok(h) => Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify("correct horse battery", &h));
        assert!(!verify("correct horse batterz", &h));
        assert!(!verify("correct horse battery", "not a phc string"));
        // Two hashes of one password differ (salted).
        assert_ne!(h, hash("correct horse battery").unwrap());
    }

    #[test]
    fn bad_passwords_are_refused_by_name() {
        assert!(matches!(hash("short"), Err(PasswordError::TooShort)));
        assert!(matches!(
            hash(&"x".repeat(MAX_PASSWORD_BYTES + 1)),
            Err(PasswordError::TooLong)
        ));
    }
}
