//! Short-lived signed tokens for clients that cannot send headers (`<audio>`, browser
//! WebSockets): `?token=` on `/stream/...` and the WebSocket paths only.
//!
//! A token is `em1.<scope>.<target>.<expiry>.<mac>`: scope `stream` or `ws`, target a file id
//! or ASIN (or `-` for any), expiry in Unix seconds, and an HMAC-SHA256 over the rest with a
//! server secret kept in `<data>/token-secret` (mode 0600). Nothing is stored per token:
//! rotating the secret (deleting the file) revokes every token.

use std::path::Path;

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use time::OffsetDateTime;

/// The file holding the signing secret, under the data directory.
pub const SECRET_FILE: &str = "token-secret";
/// Longest lifetime a token may be given.
pub const MAX_TTL_S: i64 = 24 * 60 * 60;
/// Lifetime when none is asked for.
pub const DEFAULT_TTL_S: i64 = 60 * 60;

const VERSION: &str = "em1";

/// What a token lets its bearer do.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum TokenScope {
    /// `GET`/`HEAD /stream/{id}`.
    Stream,
    /// The job WebSockets.
    Ws,
}

impl TokenScope {
    fn as_str(self) -> &'static str {
        match self {
            Self::Stream => "stream",
            Self::Ws => "ws",
        }
    }
}

/// Why a token was refused. The client is told only that it was, and which of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token, or its signature does not match.
    #[error("the token is not valid")]
    Invalid,
    /// It was valid until its expiry.
    #[error("the token has expired: ask POST /auth/tokens for a new one")]
    Expired,
    /// It is valid, for something else.
    #[error("the token does not allow this request (wrong scope or file)")]
    WrongScope,
}

/// Why the signing secret could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// No randomness.
    #[error("cannot generate the token secret: {0}")]
    Random(String),
    /// The file could not be read or written, or holds no usable secret.
    #[error("token secret {0}: {1}")]
    File(String, String),
}

/// Issues and checks tokens with one secret.
#[derive(Clone)]
pub struct TokenSigner {
    secret: [u8; 32],
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSigner(..)")
    }
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

impl TokenSigner {
    /// A signer with `secret`.
    pub fn new(secret: [u8; 32]) -> Self {
        Self { secret }
    }

    /// The signer of `data_dir`: its stored secret, or a new one stored there (mode 0600).
    ///
    /// # Errors
    /// [`SecretError`] when the secret cannot be read, generated or written.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, SecretError> {
        let path = data_dir.join(SECRET_FILE);
        let shown = path.display().to_string();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let bytes = b64()
                    .decode(text.trim())
                    .map_err(|e| SecretError::File(shown.clone(), e.to_string()))?;
                let secret: [u8; 32] = bytes
                    .try_into()
                    .map_err(|_| SecretError::File(shown, "not 32 bytes".into()))?;
                Ok(Self::new(secret))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut secret = [0u8; 32];
                getrandom::fill(&mut secret).map_err(|e| SecretError::Random(e.to_string()))?;
                crate::fs_atomic::write_file(
                    &path,
                    format!("{}\n", b64().encode(secret)).as_bytes(),
                    0o600,
                )
                .map_err(|e| SecretError::File(shown, e.to_string()))?;
                Ok(Self::new(secret))
            }
            Err(e) => Err(SecretError::File(shown, e.to_string())),
        }
    }

    fn mac(&self, signed: &str) -> Hmac<Sha256> {
        // HMAC takes a key of any length; 32 bytes never fails.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(signed.as_bytes());
        mac
    }

    /// A token for `scope`, limited to `target` (a file id or ASIN) when given, valid until
    /// `expires_at`.
    pub fn issue(
        &self,
        scope: TokenScope,
        target: Option<&str>,
        expires_at: OffsetDateTime,
    ) -> String {
        let signed = format!(
            "{VERSION}.{}.{}.{}",
            scope.as_str(),
            target.unwrap_or("-"),
            expires_at.unix_timestamp()
        );
        let tag = self.mac(&signed).finalize().into_bytes();
        format!("{signed}.{}", b64().encode(tag))
    }

    /// Checks `token` for a request of `scope` on `target` (the path's id, if any) at `now`.
    ///
    /// # Errors
    /// [`TokenError`]: invalid (malformed or tampered), expired, or for something else.
    pub fn verify(
        &self,
        token: &str,
        scope: TokenScope,
        target: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<(), TokenError> {
        let (signed, tag) = token.rsplit_once('.').ok_or(TokenError::Invalid)?;
        let tag = b64().decode(tag).map_err(|_| TokenError::Invalid)?;
        self.mac(signed)
            .verify_slice(&tag)
            .map_err(|_| TokenError::Invalid)?;
        let mut parts = signed.split('.');
        let (Some(VERSION), Some(token_scope), Some(token_target), Some(expiry), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(TokenError::Invalid);
        };
        let expiry: i64 = expiry.parse().map_err(|_| TokenError::Invalid)?;
        if now.unix_timestamp() >= expiry {
            return Err(TokenError::Expired);
        }
        if token_scope != scope.as_str() {
            return Err(TokenError::WrongScope);
        }
        if token_target != "-" && Some(token_target) != target {
            return Err(TokenError::WrongScope);
        }
        Ok(())
    }
}

/// What a path accepts a token for: `(scope, the path's id)`, or `None` when it takes only
/// the API key.
pub fn token_route(path: &str) -> Option<(TokenScope, Option<&str>)> {
    if let Some(id) = path.strip_prefix("/stream/") {
        return (!id.is_empty() && !id.contains('/')).then_some((TokenScope::Stream, Some(id)));
    }
    for prefix in ["/ws/jobs", "/jobs/ws"] {
        if let Some(rest) = path.strip_prefix(prefix) {
            return match rest {
                "" => Some((TokenScope::Ws, None)),
                id if id.starts_with('/') && !id[1..].contains('/') && id.len() > 1 => {
                    Some((TokenScope::Ws, Some(&id[1..])))
                }
                _ => None,
            };
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use time::Duration;

    use super::*;

    fn signer() -> TokenSigner {
        TokenSigner::new([7; 32])
    }

    #[test]
    fn a_token_works_for_its_scope_and_target_until_it_expires() {
        let now = OffsetDateTime::now_utc();
        let token = signer().issue(TokenScope::Stream, Some("f1"), now + Duration::minutes(5));
        let s = signer();
        assert_eq!(
            s.verify(&token, TokenScope::Stream, Some("f1"), now),
            Ok(())
        );
        assert_eq!(
            s.verify(&token, TokenScope::Stream, Some("f2"), now),
            Err(TokenError::WrongScope)
        );
        assert_eq!(
            s.verify(&token, TokenScope::Ws, None, now),
            Err(TokenError::WrongScope)
        );
        assert_eq!(
            s.verify(
                &token,
                TokenScope::Stream,
                Some("f1"),
                now + Duration::minutes(5)
            ),
            Err(TokenError::Expired)
        );
        let any = s.issue(TokenScope::Ws, None, now + Duration::minutes(1));
        assert_eq!(s.verify(&any, TokenScope::Ws, Some("job"), now), Ok(()));
    }

    #[test]
    fn tampering_or_another_secret_invalidates_it() {
        let now = OffsetDateTime::now_utc();
        let token = signer().issue(TokenScope::Stream, Some("f1"), now + Duration::minutes(5));
        let longer = token.replacen(
            &format!("{}", (now + Duration::minutes(5)).unix_timestamp()),
            &format!("{}", (now + Duration::days(365)).unix_timestamp()),
            1,
        );
        let elsewhere = token.replacen(".f1.", ".-.", 1);
        for bad in [
            longer.as_str(),
            elsewhere.as_str(),
            "em1.stream.f1",
            "",
            "x.y",
        ] {
            assert_eq!(
                signer().verify(bad, TokenScope::Stream, Some("f1"), now),
                Err(TokenError::Invalid),
                "{bad}"
            );
        }
        assert_eq!(
            TokenSigner::new([8; 32]).verify(&token, TokenScope::Stream, Some("f1"), now),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn only_stream_and_websocket_paths_take_tokens() {
        assert_eq!(
            token_route("/stream/abc"),
            Some((TokenScope::Stream, Some("abc")))
        );
        assert_eq!(token_route("/ws/jobs"), Some((TokenScope::Ws, None)));
        assert_eq!(
            token_route("/jobs/ws/j1"),
            Some((TokenScope::Ws, Some("j1")))
        );
        for none in [
            "/stream/",
            "/stream/a/b",
            "/jobs",
            "/jobs/wsx",
            "/library",
            "/ws/jobs/a/b",
        ] {
            assert_eq!(token_route(none), None, "{none}");
        }
    }

    #[test]
    fn the_secret_is_made_once_and_kept_private() {
        let dir = tempfile::tempdir().unwrap();
        let first = TokenSigner::load_or_create(dir.path()).unwrap();
        let again = TokenSigner::load_or_create(dir.path()).unwrap();
        assert_eq!(first.secret, again.secret);
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(dir.path().join(SECRET_FILE))
                .unwrap()
                .permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
    }
}
