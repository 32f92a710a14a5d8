//! Secrets the domain carries: kept out of `Debug`, `Display` and serialisation, so that no
//! log line or error message can print them by accident.

use std::fmt;

/// An account's activation bytes: the 4-byte key (8 hex digits) that decrypts its AAX files.
#[derive(Clone, PartialEq, Eq)]
pub struct ActivationBytes(String);

/// Why a string is not activation bytes. Never contains the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("activation bytes are exactly 8 hexadecimal digits")]
pub struct ActivationBytesError;

impl ActivationBytes {
    /// Validates `raw` (trimmed, any case) and keeps it in lower case.
    ///
    /// # Errors
    /// [`ActivationBytesError`] unless it is exactly 8 hex digits.
    pub fn parse(raw: &str) -> Result<Self, ActivationBytesError> {
        let value = raw.trim();
        if value.len() == 8 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(value.to_ascii_lowercase()))
        } else {
            Err(ActivationBytesError)
        }
    }

    /// The value, for the one place that needs it (ffmpeg's `-activation_bytes`, a
    /// redactor).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ActivationBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ActivationBytes(********)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_eight_hex_digits_are_accepted_and_never_shown() {
        let bytes = ActivationBytes::parse(" 1CEB00DA\n").unwrap();
        assert_eq!(bytes.expose(), "1ceb00da");
        assert!(!format!("{bytes:?}").contains("1ceb00da"));
        for bad in ["1ceb00d", "1ceb00dax", "zzzzzzzz", ""] {
            assert_eq!(
                ActivationBytes::parse(bad),
                Err(ActivationBytesError),
                "{bad}"
            );
        }
    }
}
