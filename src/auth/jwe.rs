//! The one JWE Better Auth makes: compact serialisation, `alg: "dir"`,
//! `enc: "A256CBC-HS512"` (RFC 7518 §5.2.2.1), with a 64-byte key from
//! HKDF-SHA256(secret, salt, "BetterAuth.js Generated Encryption Key").
//!
//! Hand-written over RustCrypto's primitives (HKDF, HMAC-SHA512, AES-256-CBC) because
//! no maintained pure-Rust JOSE crate decrypts A256CBC-HS512: the tag is checked in
//! constant time before anything is decrypted.

use aes::cipher::{BlockDecryptMut as _, KeyIvInit as _, block_padding::Pkcs7};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac as _};
use serde::Deserialize;
use sha2::{Digest as _, Sha256, Sha512};

/// Largest JWE read.
pub const MAX_JWE_LEN: usize = 64 * 1024;
const INFO: &[u8] = b"BetterAuth.js Generated Encryption Key";

/// A key for one salt (`better-auth-session` for the session cache).
#[derive(Clone)]
pub struct JweKey {
    key: [u8; 64],
    /// The JWK thumbprint Better Auth puts in `kid`.
    kid: String,
}

impl std::fmt::Debug for JweKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JweKey([REDACTED])")
    }
}

impl JweKey {
    /// The key Better Auth derives from `secret` with `salt`.
    pub fn derive(secret: &str, salt: &str) -> Self {
        let mut key = [0u8; 64];
        // 64 bytes is far below HKDF-SHA256's limit, so this cannot fail.
        hkdf::Hkdf::<Sha256>::new(Some(salt.as_bytes()), secret.as_bytes())
            .expand(INFO, &mut key)
            .unwrap_or_else(|_| unreachable!());
        // RFC 7638 thumbprint of {"k": …, "kty": "oct"}, members in that order.
        let jwk = format!(r#"{{"k":"{}","kty":"oct"}}"#, URL_SAFE_NO_PAD.encode(key));
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(jwk.as_bytes()));
        Self { key, kid }
    }

    /// The plaintext of a JWE made with this key; `None` for anything else.
    pub fn decrypt(&self, token: &str) -> Option<Vec<u8>> {
        #[derive(Deserialize)]
        struct Header {
            alg: String,
            enc: String,
            kid: Option<String>,
            zip: Option<serde_json::Value>,
            crit: Option<serde_json::Value>,
        }
        if token.len() > MAX_JWE_LEN {
            return None;
        }
        let [protected, encrypted_key, iv, ciphertext, tag]: [&str; 5] =
            token.split('.').collect::<Vec<_>>().try_into().ok()?;
        if protected.len() > 1024 || !encrypted_key.is_empty() {
            return None;
        }
        let header: Header = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(protected).ok()?).ok()?;
        if header.alg != "dir"
            || header.enc != "A256CBC-HS512"
            || header.zip.is_some()
            || header.crit.is_some()
            || header.kid.as_ref().is_some_and(|kid| *kid != self.kid)
        {
            return None;
        }
        let (iv, ciphertext, tag) = (
            URL_SAFE_NO_PAD.decode(iv).ok()?,
            URL_SAFE_NO_PAD.decode(ciphertext).ok()?,
            URL_SAFE_NO_PAD.decode(tag).ok()?,
        );
        if iv.len() != 16 || tag.len() != 32 || ciphertext.is_empty() || ciphertext.len() % 16 != 0 {
            return None;
        }
        let (mac_key, enc_key) = self.key.split_at(32);
        let aad = protected.as_bytes();
        let mut mac = Hmac::<Sha512>::new_from_slice(mac_key).ok()?;
        mac.update(aad);
        mac.update(&iv);
        mac.update(&ciphertext);
        mac.update(&(aad.len() as u64 * 8).to_be_bytes());
        mac.verify_truncated_left(&tag).ok()?;
        cbc::Decryptor::<aes::Aes256>::new_from_slices(enc_key, &iv)
            .ok()?
            .decrypt_padded_vec_mut::<Pkcs7>(&ciphertext)
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made by Better Auth 1.7.25's `symmetricEncodeJWT({ hello: "world" },
    /// "jwe-test-secret-0123456789abcdef", "better-auth-session", 3600)` (jose 6).
    const VECTOR: &str = include_str!("../../tests/fixtures/better-auth/jwe-vector.txt");

    #[test]
    fn better_auths_jwe_decrypts_and_a_tampered_one_does_not() {
        let key = JweKey::derive("jwe-test-secret-0123456789abcdef", "better-auth-session");
        let token = VECTOR.trim();
        let plaintext = key.decrypt(token).expect("Better Auth's JWE decrypts");
        let claims: serde_json::Value = serde_json::from_slice(&plaintext).unwrap();
        assert_eq!(claims["hello"], "world");
        let other = JweKey::derive("another-secret-0123456789abcdef0", "better-auth-session");
        assert!(other.decrypt(token).is_none(), "another secret");
        assert!(JweKey::derive("jwe-test-secret-0123456789abcdef", "better-auth-account").decrypt(token).is_none());
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut ciphertext = URL_SAFE_NO_PAD.decode(&parts[3]).unwrap();
        ciphertext[0] ^= 1;
        parts[3] = URL_SAFE_NO_PAD.encode(ciphertext);
        assert!(key.decrypt(&parts.join(".")).is_none(), "a flipped ciphertext bit");
    }
}
