//! Better Auth's cookie cache (`session.cookieCache`): a signed or encrypted copy of
//! the session and user in `<prefix>.session_data` (or its chunks `.0`, `.1`, …),
//! trusted without a database lookup when `TRUST_COOKIE_CACHE=true`.
//!
//! Accepted as Better Auth's `getSession` accepts it: it must verify with the app's
//! strategy, carry the app's version, be fresh (its own expiry and the session's),
//! and name the same session as the signed `session_token` cookie beside it.
//! Anything else is ignored, and the caller asks the database.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use entity::user;
use hmac::{Hmac, Mac as _};
use http::{HeaderMap, header};
use jsonwebtoken::{Algorithm, DecodingKey};
use sea_orm::DatabaseConnection;
use serde::Deserialize;
use serde_json::{Map, Value, value::RawValue};
use sha2::Sha256;

use super::{
    jwe::JweKey,
    jwt::{self, JwtVerifier},
};
use crate::config::{CacheStrategy, CookieCacheSettings};

/// The `typ` of a cache signed with the `jwt()` plugin's keys.
pub const JWKS_CACHE_TYPE: &str = "better-auth.session-cache+jwt";
/// The audience of such a cache.
const CACHE_AUDIENCE: &str = "better-auth:session-cache";
/// Longest cache read, chunks joined (Better Auth chunks at about 4 KB).
const MAX_CACHE_LEN: usize = 64 * 1024;
/// Most chunks read.
const MAX_CHUNKS: usize = 16;
/// jose's `clockTolerance` for the JWT-plugin and JWE caches, in seconds.
const TOLERANCE: f64 = 15.0;

/// Reads and verifies the cookie cache.
pub struct CookieCache {
    settings: CookieCacheSettings,
    secret: Vec<u8>,
    jwe: JweKey,
    names: [String; 2],
}

impl std::fmt::Debug for CookieCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CookieCache").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl CookieCache {
    /// A reader for the app with this secret and cookie prefix.
    pub fn new(settings: CookieCacheSettings, secret: &str, prefix: &str) -> Self {
        Self {
            settings,
            secret: secret.as_bytes().to_vec(),
            jwe: JweKey::derive(secret, "better-auth-session"),
            names: [format!("__Secure-{prefix}.session_data"), format!("{prefix}.session_data")],
        }
    }

    /// The cache's value, chunks joined in index order; `None` when absent or too big.
    pub fn raw(&self, headers: &HeaderMap) -> Option<String> {
        let cookies: Vec<(String, String)> = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(cookie::Cookie::split_parse)
            .filter_map(Result::ok)
            .filter_map(|c| Some((c.name().to_owned(), c.value_raw()?.to_owned())))
            .take(200)
            .collect();
        self.names.iter().find_map(|name| {
            if let Some((_, value)) = cookies.iter().find(|(n, _)| n == name) {
                return Some(value.clone()).filter(|v| v.len() <= MAX_CACHE_LEN);
            }
            let mut chunks: Vec<(usize, &str)> = cookies
                .iter()
                .filter_map(|(n, v)| {
                    let index = n.strip_prefix(name.as_str())?.strip_prefix('.')?;
                    let parsed: usize = index.parse().ok()?;
                    (parsed.to_string() == index).then_some((parsed, v.as_str()))
                })
                .collect();
            if chunks.is_empty() || chunks.len() > MAX_CHUNKS {
                return None;
            }
            chunks.sort_by_key(|(index, _)| *index);
            let joined: String = chunks.iter().map(|(_, v)| *v).collect();
            (joined.len() <= MAX_CACHE_LEN).then_some(joined)
        })
    }

    /// The user of a cache that verifies and is fresh, and whose session is one of
    /// `session_tokens` (the verified `session_token` cookies); else `None`.
    pub async fn user(
        &self,
        raw: &str,
        session_tokens: &[String],
        jwt: Option<&JwtVerifier>,
        db: &DatabaseConnection,
    ) -> Option<user::Model> {
        let raw = percent_encoding::percent_decode_str(raw).decode_utf8().ok()?;
        let (payload, expires_at_ms) = match self.settings.strategy {
            CacheStrategy::Compact => self.compact(&raw)?,
            CacheStrategy::Jwe => self.jwe(&raw)?,
            CacheStrategy::Jwt => self.jwt(&raw, jwt, db).await?,
        };
        let now = Utc::now();
        if expires_at_ms < now.timestamp_millis() as f64 {
            return None;
        }
        self.session_user(&payload, session_tokens, now)
    }

    /// base64url of `{"session": …, "expiresAt": ms, "signature": …}`, the signature
    /// an HMAC-SHA256 (base64url) of `JSON.stringify({...session, expiresAt})`. The
    /// signed text is rebuilt from the session's own bytes, so nothing is re-encoded.
    fn compact(&self, raw: &str) -> Option<(Map<String, Value>, f64)> {
        #[derive(Deserialize)]
        struct Compact<'a> {
            #[serde(borrow)]
            session: &'a RawValue,
            #[serde(rename = "expiresAt")]
            expires_at: u64,
            signature: String,
        }
        let decoded = URL_SAFE_NO_PAD.decode(raw).ok()?;
        let compact: Compact<'_> = serde_json::from_slice(&decoded).ok()?;
        let session = compact.session.get();
        let body = session.strip_prefix('{')?.strip_suffix('}')?;
        if body.trim().is_empty() || compact.expires_at > (1 << 53) {
            return None;
        }
        let signed = format!("{{{body},\"expiresAt\":{}}}", compact.expires_at);
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).ok()?;
        mac.update(signed.as_bytes());
        mac.verify_slice(&URL_SAFE_NO_PAD.decode(&compact.signature).ok()?).ok()?;
        Some((serde_json::from_str(session).ok()?, compact.expires_at as f64))
    }

    /// A JWE (`dir`, `A256CBC-HS512`) of the payload with `exp`.
    fn jwe(&self, raw: &str) -> Option<(Map<String, Value>, f64)> {
        let claims: Map<String, Value> = serde_json::from_slice(&self.jwe.decrypt(raw)?).ok()?;
        let expires = timed(&claims, jwt::now(), TOLERANCE)?;
        Some((claims, expires))
    }

    /// A JWT: HS256 with the secret, or, when its `typ` says so, signed with the
    /// `jwt()` plugin's keys (issuer the base URL's origin, audience the cache's).
    async fn jwt(
        &self,
        raw: &str,
        verifier: Option<&JwtVerifier>,
        db: &DatabaseConnection,
    ) -> Option<(Map<String, Value>, f64)> {
        let (header, parts) = jwt::split(raw)?;
        let now = jwt::now();
        if header.typ.as_deref() == Some(JWKS_CACHE_TYPE) {
            let claims = verifier?.cache_claims(db, raw).await?;
            if !jwt::check_claims(&claims, &self.settings.jwks_issuer, CACHE_AUDIENCE, now, TOLERANCE) {
                return None;
            }
            // Better Auth binds the token to its payload: `sub` is the user, `sid` the session.
            let (sub, sid) = (claims.get("sub")?, claims.get("sid")?);
            if Some(sub) != claims.get("user")?.get("id") || Some(sid) != claims.get("session")?.get("token") {
                return None;
            }
            let expires = timed(&claims, now, TOLERANCE)?;
            return Some((claims, expires));
        }
        let key = DecodingKey::from_secret(&self.secret);
        if header.alg != "HS256"
            || !jsonwebtoken::crypto::verify(parts.signature, parts.message.as_bytes(), &key, Algorithm::HS256)
                .unwrap_or(false)
        {
            return None;
        }
        let claims = jwt::claims(parts.payload)?;
        let expires = timed(&claims, now, 0.0)?;
        Some((claims, expires))
    }

    /// The cached user, when the payload is Better Auth's and names a live session
    /// among `session_tokens` with the configured version.
    fn session_user(
        &self,
        payload: &Map<String, Value>,
        session_tokens: &[String],
        now: DateTime<Utc>,
    ) -> Option<user::Model> {
        let session = payload.get("session")?.as_object()?;
        let user = payload.get("user")?.as_object()?;
        payload.get("updatedAt")?.as_f64()?;
        let version = match payload.get("version") {
            None => "1",
            Some(value) => value.as_str()?,
        };
        let token = session.get("token")?.as_str()?;
        if version != self.settings.version || !session_tokens.iter().any(|t| t == token) {
            return None;
        }
        let id = user.get("id")?.as_str()?;
        if session.get("userId")?.as_str()? != id || date(session.get("expiresAt")?)? <= now {
            return None;
        }
        Some(user::Model {
            id: id.to_owned(),
            name: user.get("name")?.as_str()?.to_owned(),
            email: user.get("email")?.as_str()?.to_owned(),
            email_verified: user.get("emailVerified")?.as_bool()?,
            image: match user.get("image") {
                None | Some(Value::Null) => None,
                Some(image) => Some(image.as_str()?.to_owned()),
            },
            created_at: date(user.get("createdAt")?)?,
            updated_at: date(user.get("updatedAt")?)?,
        })
    }
}

/// When a JWT or JWE payload stops being valid, in milliseconds: `exp` is required
/// (Better Auth's own check counts from it), `nbf` honoured, with jose's tolerance.
fn timed(claims: &Map<String, Value>, now: f64, tolerance: f64) -> Option<f64> {
    let exp = claims.get("exp")?.as_f64()?;
    if exp <= now - tolerance {
        return None;
    }
    match claims.get("nbf") {
        None => {}
        Some(nbf) if nbf.as_f64()? <= now + tolerance => {}
        Some(_) => return None,
    }
    Some(exp * 1000.0)
}

/// A date as JSON carries it (`Date.prototype.toJSON`: ISO 8601).
fn date(value: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value.as_str()?).ok().map(|date| date.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn cache() -> CookieCache {
        let settings =
            CookieCacheSettings { strategy: CacheStrategy::Compact, version: "1".into(), jwks_issuer: String::new() };
        CookieCache::new(settings, "secret", "better-auth")
    }

    fn headers(cookie: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(header::COOKIE, HeaderValue::from_str(cookie).unwrap());
        map
    }

    #[test]
    fn chunks_are_joined_in_index_order_and_the_whole_value_wins() {
        let chunked = "better-auth.session_data.10=c; better-auth.session_data.2=b; better-auth.session_data.0=a";
        assert_eq!(cache().raw(&headers(chunked)).as_deref(), Some("abc"));
        let both = format!("{chunked}; better-auth.session_data=whole");
        assert_eq!(cache().raw(&headers(&both)).as_deref(), Some("whole"));
        let secure = "__Secure-better-auth.session_data=secure; better-auth.session_data=plain";
        assert_eq!(cache().raw(&headers(secure)).as_deref(), Some("secure"));
        let odd = "better-auth.session_data.01=x; better-auth.session_data.-1=y; better-auth.session_data.a=z";
        assert_eq!(cache().raw(&headers(odd)), None, "only canonical indexes are chunks");
    }

    #[test]
    fn too_many_chunks_or_too_many_bytes_are_not_read() {
        let many: Vec<String> = (0..=MAX_CHUNKS).map(|i| format!("better-auth.session_data.{i}=x")).collect();
        assert_eq!(cache().raw(&headers(&many.join("; "))), None);
        let big = format!("better-auth.session_data={}", "x".repeat(MAX_CACHE_LEN + 1));
        assert_eq!(cache().raw(&headers(&big)), None);
    }

    #[test]
    fn a_compact_cache_is_verified_over_the_sessions_own_bytes() {
        let session = r#"{"session":{"token":"t"},"user":{"id":"u"},"updatedAt":1,"version":"1"}"#;
        let signed = format!(r#"{},"expiresAt":5}}"#, session.strip_suffix('}').unwrap());
        let mut mac = Hmac::<Sha256>::new_from_slice(b"secret").unwrap();
        mac.update(signed.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        let encode = |session: &str| {
            URL_SAFE_NO_PAD.encode(format!(r#"{{"session":{session},"expiresAt":5,"signature":"{signature}"}}"#))
        };
        assert_eq!(cache().compact(&encode(session)).map(|(_, expires)| expires), Some(5.0));
        // The same data spelled differently is not what was signed.
        assert!(cache().compact(&encode(&session.replace(':', ": "))).is_none());
        assert!(cache().compact(&encode(&session.replace("\"t\"", "\"x\""))).is_none());
    }
}
