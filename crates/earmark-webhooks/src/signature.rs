//! The signature a receiver checks a delivery with.

use earmark_core::domain::webhook::WebhookSecret;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// `sha256=<hex HMAC-SHA256 of body keyed with secret>`: the `X-Earmark-Signature` header.
pub fn signature(secret: &WebhookSecret, body: &[u8]) -> String {
    // HMAC takes a key of any length: this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose()) else {
        return String::new();
    };
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(7 + digest.len() * 2);
    hex.push_str("sha256=");
    for byte in digest {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_rfc_4231_test_case_2() {
        // RFC 4231 §4.3: key "Jefe", data "what do ya want for nothing?".
        let secret = WebhookSecret::new("Jefe".into()).unwrap();
        assert_eq!(
            signature(&secret, b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
