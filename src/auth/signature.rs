//! Better Auth's signed session values: `token "." base64(HMAC-SHA256(secret, token))`.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use percent_encoding::percent_decode_str;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Length of the padded standard base64 of a SHA-256 MAC.
const SIGNATURE_LEN: usize = 44;

/// Verifies signed values with one Better Auth secret.
#[derive(Clone)]
pub struct Signer {
    mac: HmacSha256,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer([REDACTED])")
    }
}

impl Signer {
    /// A signer keyed with the UTF-8 bytes of `secret`.
    pub fn new(secret: &str) -> Self {
        // HMAC takes keys of any length, so this cannot fail.
        let mac = HmacSha256::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
        Self { mac }
    }

    /// The session token inside a cookie or bearer value, when its signature verifies.
    ///
    /// As Better Auth does: percent-decode (`+` stays `+`), strip surrounding double
    /// quotes, split at the last `.`, require a 44-character standard base64
    /// signature, and compare MACs in constant time (`hmac`'s `verify_slice`).
    pub fn verify(&self, raw: &str) -> Option<String> {
        let decoded = percent_decode_str(raw).decode_utf8().ok()?;
        let value = decoded.trim_matches('"');
        let (token, signature) = value.rsplit_once('.')?;
        if token.is_empty() || signature.len() != SIGNATURE_LEN {
            return None;
        }
        let signature = STANDARD.decode(signature).ok()?;
        let mut mac = self.mac.clone();
        mac.update(token.as_bytes());
        mac.verify_slice(&signature).ok()?;
        Some(token.to_owned())
    }

    /// `token.signature`, as Better Auth signs it (not URL-encoded); the service
    /// only verifies, so this is for tests.
    #[cfg(test)]
    pub fn sign(&self, token: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(token.as_bytes());
        format!("{token}.{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Vectors {
        vectors: Vec<Vector>,
    }

    #[derive(Deserialize)]
    struct Vector {
        description: String,
        secret: String,
        cookie_name: String,
        token: String,
        cookie_header: String,
        expected: Expected,
    }

    #[derive(Deserialize)]
    struct Expected {
        valid: bool,
        token: Option<String>,
    }

    fn vectors() -> Vec<Vector> {
        let text = include_str!("../../tests/fixtures/better-auth/vectors.json");
        let parsed: Vectors = serde_json::from_str(text).expect("vectors.json parses");
        assert!(parsed.vectors.len() >= 5, "the vectors file lost its vectors");
        parsed.vectors
    }

    #[test]
    fn every_better_auth_vector_is_judged_as_better_auth_judged_it() {
        for vector in vectors() {
            let signer = Signer::new(&vector.secret);
            let value = vector
                .cookie_header
                .split("; ")
                .find_map(|pair| pair.strip_prefix(&format!("{}=", vector.cookie_name)))
                .expect("the vector's cookie is in its header");
            assert_eq!(signer.verify(value), vector.expected.token, "{}", vector.description);
            assert_eq!(signer.verify(value).is_some(), vector.expected.valid, "{}", vector.description);
        }
    }

    #[test]
    fn signing_reproduces_the_valid_vectors() {
        for vector in vectors().into_iter().filter(|v| v.expected.valid) {
            let signed = Signer::new(&vector.secret).sign(&vector.token);
            let encoded = percent_encoding::utf8_percent_encode(&signed, percent_encoding::NON_ALPHANUMERIC)
                .to_string()
                .replace("%2E", ".");
            assert!(vector.cookie_header.contains(&encoded), "{}", vector.description);
        }
    }

    #[test]
    fn malformed_values_are_refused() {
        let signer = Signer::new("secret");
        let good = signer.sign("Token0000000000000000000000000000");
        assert!(signer.verify(&good).is_some());
        let url_safe = good.replace('+', "-").replace('/', "_");
        let unpadded = good.trim_end_matches('=').to_owned();
        for bad in ["", ".", "token.", ".sig", "no-dot-at-all", &unpadded, &format!("{good}x")] {
            assert_eq!(signer.verify(bad), None, "{bad:?}");
        }
        if url_safe != good {
            assert_eq!(signer.verify(&url_safe), None, "base64url must be refused");
        }
        assert_eq!(signer.verify(&format!("\"{good}\"")).as_deref(), Some("Token0000000000000000000000000000"));
        assert_eq!(Signer::new("other").verify(&good), None);
    }
}
