//! The person's Audible accounts: logging in a new device (in two steps, for a web UI), and
//! the audible-cli profiles that hold the resulting credentials.

use async_trait::async_trait;

use crate::domain::secret::ActivationBytes;

/// The first half of a login: where to send the person, and what the second half needs.
/// `code_verifier` and `serial` are secrets kept on the server, never shown to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginStart {
    /// Amazon's sign-in page for this device.
    pub login_url: String,
    /// The PKCE verifier of the challenge in `login_url`.
    pub code_verifier: String,
    /// The new device's serial number.
    pub serial: String,
}

/// An audible-cli profile, without any secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AudibleProfile {
    /// Profile name (`-P <name>` for audible-cli).
    pub name: String,
    /// Marketplace (`us`, `de`, `uk`, ...).
    pub country_code: Option<String>,
    /// The auth file's name in the config directory.
    pub auth_file: Option<String>,
    /// Whether that file exists.
    pub auth_file_present: bool,
    /// The registered device's name.
    pub device_name: Option<String>,
    /// Whether the account's activation bytes are cached in the auth file (never the bytes).
    pub activation_bytes_cached: bool,
    /// Whether audible-cli uses it when no profile is named.
    pub primary: bool,
}

/// Why an account operation failed; each message says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountsError {
    /// The request cannot work as given (unknown marketplace, a URL without a code, an auth
    /// file that cannot be read).
    #[error("{0}")]
    Invalid(String),
    /// The profile named does not exist.
    #[error("{0}")]
    NoProfile(String),
    /// The profile to create exists already.
    #[error("{0}")]
    ProfileExists(String),
    /// Amazon refused to register the device (expired or already used code).
    #[error("{0}; start the login again")]
    Refused(String),
    /// The helper could not run or failed otherwise.
    #[error("the Audible account helper failed: {0}")]
    Tool(String),
}

/// Manages Audible logins and audible-cli profiles.
#[async_trait]
pub trait AudibleAccounts: Send + Sync {
    /// Starts a login for `country_code`'s marketplace (with an Audible rather than an
    /// Amazon account when `with_username`).
    ///
    /// # Errors
    /// `Invalid` for an unknown marketplace; `Tool`.
    async fn start_login(
        &self,
        country_code: &str,
        with_username: bool,
    ) -> Result<LoginStart, AccountsError>;

    /// Finishes a login with what the person pasted (the final `maplanding` address or the
    /// bare authorization code): registers the device and stores it as profile `profile`
    /// (primary if asked or if it is the first).
    ///
    /// # Errors
    /// `Invalid` (no code in the address, profile exists), `Refused`, `Tool`.
    async fn finish_login(
        &self,
        profile: &str,
        country_code: &str,
        with_username: bool,
        primary: bool,
        start: &LoginStart,
        response: &str,
    ) -> Result<AudibleProfile, AccountsError>;

    /// Stores an existing audible-cli auth file (`password` for an encrypted one) as
    /// profile `profile`.
    ///
    /// # Errors
    /// `Invalid` (unreadable file, wrong password, profile exists), `Tool`.
    async fn import(
        &self,
        profile: &str,
        country_code: &str,
        primary: bool,
        auth_file: &str,
        password: Option<&str>,
    ) -> Result<AudibleProfile, AccountsError>;

    /// Every profile.
    ///
    /// # Errors
    /// `Tool`.
    async fn profiles(&self) -> Result<Vec<AudibleProfile>, AccountsError>;

    /// Makes `profile` the primary one.
    ///
    /// # Errors
    /// `Invalid` when it does not exist; `Tool`.
    async fn set_primary(&self, profile: &str) -> Result<AudibleProfile, AccountsError>;

    /// The activation bytes of `profile`'s account (the primary profile when `None`):
    /// fetched from Audible the first time, cached in the auth file, read from there after.
    ///
    /// # Errors
    /// `Invalid` (no such profile), `Refused` (Audible refused: log in again), `Tool`.
    async fn activation_bytes(
        &self,
        profile: Option<&str>,
    ) -> Result<ActivationBytes, AccountsError>;

    /// Removes `profile` and its auth file.
    ///
    /// # Errors
    /// `Invalid` when it does not exist; `Tool`.
    async fn remove(&self, profile: &str) -> Result<(), AccountsError>;
}
