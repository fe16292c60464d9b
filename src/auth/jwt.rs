//! JWTs from Better Auth's `jwt()` plugin (`GET /api/auth/token`, the `set-auth-jwt`
//! header), sent as `Authorization: Bearer <jwt>`.
//!
//! Checked as Better Auth's own `verifyJWT` does (jose's `jwtVerify`): the key named
//! by `kid`, with the key's algorithm only; `exp` required and in the future, `nbf`
//! not in the future, `iss` and `aud` as configured, no clock tolerance; then `sub`
//! is the user id. Everything read from the token is bounded before it is parsed.

use std::time::Duration;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use sea_orm::DatabaseConnection;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::keys::{KeySource, KeyStore};
use crate::config::JwtSettings;

/// Longest JWT read; Better Auth's carry the user's fields, a few hundred bytes.
pub const MAX_JWT_LEN: usize = 8 * 1024;
/// Longest encoded header read.
const MAX_HEADER_LEN: usize = 1024;
/// Longest `kid`.
const MAX_KID_LEN: usize = 256;

/// Whether a bearer value has the shape of a JWS: three non-empty base64url parts.
pub fn looks_like_jwt(value: &str) -> bool {
    let parts: Vec<&str> = value.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

/// A protected header: what is read of it.
#[derive(Deserialize)]
pub struct Header {
    /// The algorithm the token claims.
    pub alg: String,
    /// The key id.
    pub kid: Option<String>,
    /// The type, which tells a cookie-cache JWT apart.
    pub typ: Option<String>,
    /// Critical extensions: none is understood, so any is refused (as jose does).
    crit: Option<Value>,
}

/// The header and claims of a JWS whose signature `verify` accepted, and the parts.
pub struct Parts<'t> {
    /// `header.payload`, the signed message.
    pub message: &'t str,
    /// The signature, base64url.
    pub signature: &'t str,
    /// The payload, base64url.
    pub payload: &'t str,
}

/// Splits a JWS and reads its header; `None` when malformed or over a bound.
pub fn split(token: &str) -> Option<(Header, Parts<'_>)> {
    if token.len() > MAX_JWT_LEN || !looks_like_jwt(token) {
        return None;
    }
    let (message, signature) = token.rsplit_once('.')?;
    let (header, payload) = message.split_once('.')?;
    if header.len() > MAX_HEADER_LEN {
        return None;
    }
    let header: Header = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    if header.crit.is_some() || header.kid.as_ref().is_some_and(|kid| kid.len() > MAX_KID_LEN) {
        return None;
    }
    Some((header, Parts { message, signature, payload }))
}

/// The claims of a verified token, if they are a JSON object.
pub fn claims(payload: &str) -> Option<Map<String, Value>> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

/// The registered claims, checked as jose's `jwtVerify` checks them, with `now` and
/// a clock tolerance in seconds: `exp` required, `nbf` optional, `iss` equal, `aud`
/// (a string or an array) containing the audience.
pub fn check_claims(claims: &Map<String, Value>, issuer: &str, audience: &str, now: f64, tolerance: f64) -> bool {
    let number = |name: &str| claims.get(name).map(Value::as_f64);
    let expired = match number("exp") {
        Some(Some(exp)) => exp <= now - tolerance,
        _ => true,
    };
    let early = match number("nbf") {
        None => false,
        Some(Some(nbf)) => nbf > now + tolerance,
        Some(None) => true,
    };
    let issued = claims.get("iss").and_then(Value::as_str) == Some(issuer);
    let audience_matches = match claims.get("aud") {
        Some(Value::String(aud)) => aud == audience,
        Some(Value::Array(auds)) => auds.iter().any(|aud| aud.as_str() == Some(audience)),
        _ => false,
    };
    !expired && !early && issued && audience_matches
}

/// Seconds since the epoch, as JWT claims count them.
pub fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs_f64()
}

/// Verifies the `jwt()` plugin's tokens against its public keys.
pub struct JwtVerifier {
    issuer: String,
    audience: String,
    keys: KeyStore,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier").field("issuer", &self.issuer).field("audience", &self.audience).finish()
    }
}

impl JwtVerifier {
    /// A verifier with the configured issuer, audience and key source.
    ///
    /// # Errors
    /// When the HTTP client for a JWKS URL cannot be built.
    pub fn new(settings: &JwtSettings) -> anyhow::Result<Self> {
        let source = match &settings.jwks_url {
            None => KeySource::Table,
            Some(url) => KeySource::Url(
                url.clone(),
                reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::limited(2))
                    .connect_timeout(Duration::from_secs(5))
                    .build()?,
            ),
        };
        Ok(Self {
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            keys: KeyStore::new(source, settings.reload_min),
        })
    }

    /// The verified signature's claims of a JWS signed with one of the keys, with
    /// the key's own algorithm; `None` otherwise. `typ` must be the header's.
    pub async fn verified_claims(
        &self,
        db: &DatabaseConnection,
        token: &str,
        typ: Option<&str>,
    ) -> Option<Map<String, Value>> {
        let (header, parts) = split(token)?;
        if header.typ.as_deref() != typ && !(typ.is_none() && header.typ.as_deref() == Some("JWT")) {
            return None;
        }
        let key = self.keys.get(db, header.kid.as_deref()?).await?;
        if header.alg != key.alg() || !key.verify(parts.message.as_bytes(), parts.signature) {
            return None;
        }
        claims(parts.payload)
    }

    /// The user id (`sub`) of a valid token; `None` for anything else.
    pub async fn user_id(&self, db: &DatabaseConnection, token: &str) -> Option<String> {
        let claims = self.verified_claims(db, token, None).await?;
        if !check_claims(&claims, &self.issuer, &self.audience, now(), 0.0) {
            return None;
        }
        claims.get("sub").and_then(Value::as_str).filter(|sub| !sub.is_empty() && sub.len() <= 256).map(str::to_owned)
    }

    /// The issuer a cookie-cache JWT must carry is not this one's; the keys are.
    pub async fn cache_claims(&self, db: &DatabaseConnection, token: &str) -> Option<Map<String, Value>> {
        self.verified_claims(db, token, Some(super::cookie_cache::JWKS_CACHE_TYPE)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn only_three_base64url_parts_look_like_a_jwt() {
        assert!(looks_like_jwt("eyJh.eyJi.c2ln"));
        for not in ["Abcdefghijklmnopqrstuvwxyz012345", "a.b", "a.b.c.d", "a..c", "a.b+.c", "tok.sig%3D"] {
            assert!(!looks_like_jwt(not), "{not}");
        }
    }

    #[test]
    fn claims_are_checked_as_jose_checks_them() {
        let good = json!({ "exp": 200, "iss": "https://a.example", "aud": "https://a.example", "sub": "u" });
        let check =
            |claims: Value, now: f64| check_claims(&object(claims), "https://a.example", "https://a.example", now, 0.0);
        assert!(check(good.clone(), 100.0));
        assert!(!check(good.clone(), 200.0), "exp is exclusive");
        let mut without_exp = good.clone();
        without_exp.as_object_mut().unwrap().remove("exp");
        assert!(!check(without_exp, 100.0), "exp is required");
        let with = |key: &str, value: Value| {
            let mut claims = good.clone();
            claims[key] = value;
            claims
        };
        assert!(!check(with("nbf", json!(150)), 100.0));
        assert!(check(with("nbf", json!(100)), 100.0));
        assert!(!check(with("nbf", json!("100")), 100.0));
        assert!(!check(with("exp", json!("300")), 100.0));
        assert!(!check(with("iss", json!("https://b.example")), 100.0));
        assert!(!check(with("aud", json!("https://b.example")), 100.0));
        assert!(check(with("aud", json!(["x", "https://a.example"])), 100.0));
        assert!(!check(with("aud", json!(["x"])), 100.0));
        assert!(check_claims(&object(good), "https://a.example", "https://a.example", 210.0, 15.0), "tolerance");
    }

    #[test]
    fn oversized_or_critical_headers_are_refused() {
        let header = |value: Value| URL_SAFE_NO_PAD.encode(value.to_string());
        let token = |h: String| format!("{h}.eyJ9.c2ln");
        assert!(split(&token(header(json!({ "alg": "EdDSA", "kid": "k" })))).is_some());
        assert!(split(&token(header(json!({ "alg": "EdDSA", "kid": "k", "crit": ["b64"] })))).is_none());
        assert!(split(&token(header(json!({ "alg": "EdDSA", "kid": "k".repeat(300) })))).is_none());
        assert!(split(&"a".repeat(MAX_JWT_LEN + 1)).is_none());
    }
}
