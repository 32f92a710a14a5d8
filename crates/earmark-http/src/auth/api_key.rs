//! The API key: generated once, stored only as a SHA-256 hash, compared in constant time.

use std::path::{Path, PathBuf};

use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// File under the data directory that holds the hex SHA-256 of the generated key.
pub const KEY_HASH_FILE: &str = "api-key.sha256";

/// The hash of the key that unlocks the API.
#[derive(Clone)]
pub struct ApiKeyHash([u8; 32]);

impl std::fmt::Debug for ApiKeyHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKeyHash(..)")
    }
}

/// Why the key could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ApiKeySetupError {
    /// The stored hash file is unreadable or malformed.
    #[error("cannot use the stored API key hash {0}: {1}; delete it to generate a new key")]
    Stored(PathBuf, String),
    /// The operating system gave no randomness.
    #[error("cannot generate an API key: {0}")]
    Random(String),
    /// The hash could not be written.
    #[error("cannot store the API key hash in {0}: {1}")]
    Write(PathBuf, std::io::Error),
}

impl ApiKeyHash {
    /// The hash of `key`.
    pub fn of(key: &str) -> Self {
        Self(Sha256::digest(key.as_bytes()).into())
    }

    /// Whether `presented` is the key, in time independent of where they differ.
    pub fn matches(&self, presented: &str) -> bool {
        let presented = Sha256::digest(presented.as_bytes());
        self.0.ct_eq(presented.as_slice()).into()
    }

    fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn from_hex(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Self(out))
    }
}

/// A new random key: `emk_` and 43 URL-safe characters (256 bits).
///
/// # Errors
/// When the operating system provides no randomness.
pub fn generate() -> Result<String, ApiKeySetupError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| ApiKeySetupError::Random(e.to_string()))?;
    Ok(format!(
        "emk_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// The key in force, and the key itself when it was generated just now (to print it once).
///
/// A configured key wins; else the stored hash; else a new key is generated and its hash
/// stored (mode 0600) under `data_dir`.
///
/// # Errors
/// [`ApiKeySetupError`] when the stored hash is unusable or a new one cannot be written.
pub fn load_or_create(
    data_dir: &Path,
    configured: Option<&str>,
) -> Result<(ApiKeyHash, Option<String>), ApiKeySetupError> {
    if let Some(key) = configured {
        return Ok((ApiKeyHash::of(key), None));
    }
    let path = data_dir.join(KEY_HASH_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => ApiKeyHash::from_hex(&text)
            .map(|hash| (hash, None))
            .ok_or_else(|| ApiKeySetupError::Stored(path, "not a SHA-256 hex digest".into())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = generate()?;
            let hash = ApiKeyHash::of(&key);
            crate::fs_atomic::write_file(&path, format!("{}\n", hash.to_hex()).as_bytes(), 0o600)
                .map_err(|e| ApiKeySetupError::Write(path, e))?;
            Ok((hash, Some(key)))
        }
        Err(e) => Err(ApiKeySetupError::Stored(path, e.to_string())),
    }
}

/// Replaces the stored key with a new one and returns it (to print once). A running server
/// keeps the key it started with until it is restarted.
///
/// # Errors
/// [`ApiKeySetupError`] when no key can be generated or its hash not written.
pub fn rotate(data_dir: &Path) -> Result<String, ApiKeySetupError> {
    let path = data_dir.join(KEY_HASH_FILE);
    let key = generate()?;
    let hash = ApiKeyHash::of(&key);
    crate::fs_atomic::write_file(&path, format!("{}\n", hash.to_hex()).as_bytes(), 0o600)
        .map_err(|e| ApiKeySetupError::Write(path, e))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_start_generates_later_starts_reuse() {
        let dir = tempfile::tempdir().unwrap();
        let (hash, key) = load_or_create(dir.path(), None).unwrap();
        let key = key.expect("a new key on first start");
        assert!(key.starts_with("emk_") && key.len() == 47, "{key}");
        assert!(hash.matches(&key));
        assert!(!hash.matches("emk_wrong"));
        let stored = std::fs::read_to_string(dir.path().join(KEY_HASH_FILE)).unwrap();
        assert!(!stored.contains(&key), "only the hash is stored");

        let (again, printed) = load_or_create(dir.path(), None).unwrap();
        assert!(printed.is_none(), "printed only once");
        assert!(again.matches(&key));
    }

    #[test]
    fn rotation_replaces_the_stored_key() {
        let dir = tempfile::tempdir().unwrap();
        let (first, Some(old)) = load_or_create(dir.path(), None).unwrap() else {
            panic!("a first start generates a key")
        };
        let new = rotate(dir.path()).unwrap();
        let (after, printed) = load_or_create(dir.path(), None).unwrap();
        assert_eq!(printed, None);
        assert!(first.matches(&old) && !after.matches(&old));
        assert!(after.matches(&new));
    }

    #[test]
    fn configured_key_wins_and_is_not_stored() {
        let dir = tempfile::tempdir().unwrap();
        let (hash, printed) = load_or_create(dir.path(), Some("from-config")).unwrap();
        assert!(printed.is_none());
        assert!(hash.matches("from-config"));
        assert!(!dir.path().join(KEY_HASH_FILE).exists());
    }

    #[test]
    fn corrupt_hash_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(KEY_HASH_FILE), "xyz").unwrap();
        let err = load_or_create(dir.path(), None).unwrap_err();
        assert!(err.to_string().contains("delete it"), "{err}");
    }
}
