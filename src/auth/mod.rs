//! Who is signed in: Better Auth's session, read from the request as Better Auth
//! itself would read it.
//!
//! 1. `Authorization: Bearer <token>`, bare or signed (URL-encoded or not). A valid
//!    bearer wins; an invalid one is ignored.
//! 2. Else the cookie `__Secure-<prefix>.session_token` or `<prefix>.session_token`,
//!    whose signature must verify (constant time) before any database lookup.
//! 3. The token must name a session whose `"expiresAt"` is in the future.
//!
//! All candidates go to the database in one indexed query, and only when a resolver
//! first asks who is signed in: introspection and `__typename` never touch it. A
//! resolver may run that query with its own read joined to it
//! ([`Viewer::user_along`]): the tasks page does, in one statement.
//!
//! When configured, two more proofs come first: a bearer shaped like a JWT goes to
//! [`jwt`] (the `jwt()` plugin, then one lookup of the user by id) and never to the
//! session lookup; and without a bearer, a trusted [`cookie_cache`] that names the
//! signed session cookie's session answers without the database.

pub mod cookie_cache;
mod jwe;
pub mod jwt;
mod keys;
mod signature;

pub use cookie_cache::CookieCache;
pub use jwt::JwtVerifier;
pub use signature::Signer;

use std::sync::Arc;

use chrono::Utc;
use entity::user;
use http::{HeaderMap, header};
use sea_orm::DbErr;
use tokio::sync::OnceCell;

use crate::db::user::Users;

/// Most candidate tokens taken from one request; more is not a browser's doing.
const MAX_CANDIDATES: usize = crate::db::user::MAX_TOKENS;
/// Longest token looked up; Better Auth's are 32 characters.
const MAX_TOKEN_LEN: usize = 256;

/// What the service needs to recognise Better Auth's sessions.
#[derive(Debug, Clone)]
pub struct SessionReader {
    signer: Signer,
    cookie_names: [String; 2],
    others: Arc<OtherProofs>,
}

/// The proofs that are off unless configured.
#[derive(Debug, Default)]
struct OtherProofs {
    jwt: Option<JwtVerifier>,
    cookie_cache: Option<CookieCache>,
}

impl SessionReader {
    /// A reader for cookies signed with `secret` and named with `prefix`.
    pub fn new(secret: &str, prefix: &str) -> Self {
        Self {
            signer: Signer::new(secret),
            cookie_names: [format!("__Secure-{prefix}.session_token"), format!("{prefix}.session_token")],
            others: Arc::default(),
        }
    }

    /// The same reader, also accepting `jwt()` JWTs and, when given, the cookie cache.
    pub fn with_others(mut self, jwt: Option<JwtVerifier>, cookie_cache: Option<CookieCache>) -> Self {
        self.others = Arc::new(OtherProofs { jwt, cookie_cache });
        self
    }

    /// Who the request says it is, not yet checked against the database or keys.
    pub fn viewer(&self, headers: &HeaderMap) -> Viewer {
        let jwt = self.others.jwt.as_ref().and_then(|_| self.bearer_jwt(headers));
        let bearer = headers.contains_key(header::AUTHORIZATION);
        let cache = match &self.others.cookie_cache {
            Some(cache) if !bearer => cache.raw(headers),
            _ => None,
        };
        Viewer {
            candidates: self.candidates(headers),
            jwt,
            cache,
            others: Some(self.others.clone()),
            ..Viewer::default()
        }
    }

    /// What the per-session rate limit keys a request by: its first session token,
    /// else its JWT (both unverified: the limit only needs them to be stable).
    pub fn rate_key(&self, headers: &HeaderMap) -> Option<String> {
        self.candidates(headers).into_iter().next().or_else(|| self.bearer_jwt(headers))
    }

    fn bearer_jwt(&self, headers: &HeaderMap) -> Option<String> {
        headers.get_all(header::AUTHORIZATION).iter().filter_map(|value| value.to_str().ok()).find_map(|value| {
            let (scheme, credentials) = value.trim().split_once(' ')?;
            let credentials = credentials.trim();
            (scheme.eq_ignore_ascii_case("bearer")
                && credentials.len() <= jwt::MAX_JWT_LEN
                && jwt::looks_like_jwt(credentials))
            .then(|| credentials.to_owned())
        })
    }

    /// The signer, for the tests that mint signed values.
    #[cfg(test)]
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// The tokens a request offers, best first, each already verified where it is
    /// signed. Nothing here touches the database.
    pub fn candidates(&self, headers: &HeaderMap) -> Vec<String> {
        let mut tokens = Vec::new();
        if let Some(token) = headers
            .get_all(header::AUTHORIZATION)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find_map(|value| self.bearer(value))
        {
            tokens.push(token);
        }
        for name in &self.cookie_names {
            tokens.extend(cookie_values(headers, name).filter_map(|value| self.signer.verify(value)));
        }
        tokens.retain(|token| !token.is_empty() && token.len() <= MAX_TOKEN_LEN);
        dedup_in_order(&mut tokens);
        tokens.truncate(MAX_CANDIDATES);
        tokens
    }

    /// The token a `Bearer` authorization value carries, as a string: a bare token is
    /// taken as it is (the lookup decides); a signed one only when it verifies.
    pub fn bearer(&self, value: &str) -> Option<String> {
        let (scheme, credentials) = value.trim().split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let credentials = credentials.trim();
        // A JWT is never a session token.
        if jwt::looks_like_jwt(credentials) {
            return None;
        }
        let decoded = percent_encoding::percent_decode_str(credentials).decode_utf8().ok()?;
        if decoded.contains('.') {
            self.signer.verify(credentials)
        } else if !decoded.is_empty() && decoded.chars().all(|c| c.is_ascii_graphic()) {
            Some(decoded.into_owned())
        } else {
            None
        }
    }
}

/// Every value of the cookie `name` across the request's `Cookie` headers.
fn cookie_values<'h>(headers: &'h HeaderMap, name: &'h str) -> impl Iterator<Item = &'h str> + 'h {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .filter(move |cookie| cookie.name() == name)
        .filter_map(|cookie| cookie.value_raw())
}

fn dedup_in_order(tokens: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    tokens.retain(|token| seen.insert(token.clone()));
}

/// The signed-in user of one request, looked up once, on first use.
#[derive(Debug, Default)]
pub struct Viewer {
    candidates: Vec<String>,
    /// A bearer JWT, when JWTs are on.
    jwt: Option<String>,
    /// The cookie cache's raw value, when trusted and no bearer was sent.
    cache: Option<String>,
    others: Option<Arc<OtherProofs>>,
    user: OnceCell<Option<user::Model>>,
}

impl Viewer {
    /// A viewer that will try these tokens, best first.
    pub fn new(candidates: Vec<String>) -> Self {
        Self { candidates, ..Self::default() }
    }

    /// A viewer already known to be `user` (a WebSocket looked its session up once,
    /// at `connection_init`).
    pub fn known(user: user::Model) -> Self {
        Self { user: OnceCell::new_with(Some(Some(user))), ..Self::default() }
    }

    /// The signed-in user, if any.
    ///
    /// # Errors
    /// When the database does not answer.
    pub async fn user(&self, users: &Users) -> Result<Option<&user::Model>, DbErr> {
        let user = self.user.get_or_try_init(|| self.look_up(users)).await?;
        Ok(user.as_ref())
    }

    /// The signed-in user, as [`Viewer::user`]; and when this call is the one that
    /// looks them up, and by session token, `along`'s answer too. `along` gets the
    /// candidate tokens and does the lookup itself, with its own work in the same
    /// statement: it answers the user with its result, or `None` when no token names
    /// a live session. Any other call (the user already known or being looked up, a
    /// JWT, a trusted cookie cache, no token) answers no result: do the work alone.
    ///
    /// # Errors
    /// When the database does not answer.
    pub async fn user_along<T>(
        &self,
        users: &Users,
        along: impl AsyncFnOnce(&[String]) -> Result<Option<(user::Model, T)>, DbErr>,
    ) -> Result<(Option<&user::Model>, Option<T>), DbErr> {
        if self.jwt.is_some() || self.cache.is_some() || self.candidates.is_empty() {
            return Ok((self.user(users).await?, None));
        }
        let mut result = None;
        let user = self
            .user
            .get_or_try_init(|| async {
                let found = along(&self.candidates).await?;
                Ok::<_, DbErr>(found.map(|(user, answer)| {
                    result = Some(answer);
                    user
                }))
            })
            .await?;
        Ok((user.as_ref(), result))
    }

    /// A valid JWT's user (one lookup by id), else a trusted cache's (none), else
    /// the session lookup. A JWT or cache that does not verify is ignored, as Better
    /// Auth ignores an invalid bearer.
    async fn look_up(&self, users: &Users) -> Result<Option<user::Model>, DbErr> {
        let db = users.db();
        let others = self.others.as_deref();
        if let (Some(token), Some(verifier)) = (&self.jwt, others.and_then(|o| o.jwt.as_ref()))
            && let Some(user_id) = verifier.user_id(db, token).await
            && let Some(user) = users.find_allowed_by_id(&user_id, Utc::now()).await?
        {
            return Ok(Some(user));
        }
        if let (Some(raw), Some(cache)) = (&self.cache, others.and_then(|o| o.cookie_cache.as_ref()))
            && let Some(user) = cache.user(raw, &self.candidates, others.and_then(|o| o.jwt.as_ref()), db).await
        {
            return Ok(Some(user));
        }
        users.find_by_session_token(&self.candidates, Utc::now()).await
    }

    /// The user id, when already looked up (for logs).
    pub fn known_user_id(&self) -> Option<&str> {
        self.user.get().and_then(Option::as_ref).map(|user| user.id.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const TOKEN: &str = "Abcdefghijklmnopqrstuvwxyz012345";

    fn reader() -> SessionReader {
        SessionReader::new("test-secret", "better-auth")
    }

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn encoded(value: &str) -> String {
        value.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D")
    }

    #[test]
    fn a_valid_bearer_comes_before_the_cookie() {
        let signed = reader().signer().sign("CookieToken");
        let map = headers(&[
            (header::AUTHORIZATION, &format!("bearer {TOKEN}")),
            (header::COOKIE, &format!("better-auth.session_token={}", encoded(&signed))),
        ]);
        assert_eq!(reader().candidates(&map), [TOKEN, "CookieToken"]);
    }

    #[test]
    fn a_signed_bearer_verifies_encoded_or_not() {
        let signed = reader().signer().sign(TOKEN);
        for value in [signed.clone(), encoded(&signed)] {
            let map = headers(&[(header::AUTHORIZATION, &format!("Bearer {value}"))]);
            assert_eq!(reader().candidates(&map), [TOKEN]);
        }
    }

    #[test]
    fn a_forged_bearer_or_cookie_is_ignored() {
        let forged = SessionReader::new("other", "better-auth").signer().sign(TOKEN);
        let map = headers(&[
            (header::AUTHORIZATION, &format!("Bearer {forged}")),
            (header::COOKIE, &format!("better-auth.session_token={}", encoded(&forged))),
        ]);
        assert!(reader().candidates(&map).is_empty());
        let unsigned = headers(&[(header::COOKIE, &format!("better-auth.session_token={TOKEN}"))]);
        assert!(reader().candidates(&unsigned).is_empty());
    }

    #[test]
    fn both_cookie_names_and_a_custom_prefix_are_read() {
        let custom = SessionReader::new("test-secret", "myapp");
        let signed = encoded(&custom.signer().sign(TOKEN));
        for name in ["__Secure-myapp.session_token", "myapp.session_token"] {
            let map = headers(&[(header::COOKIE, &format!("theme=dark; {name}={signed}; x=1"))]);
            assert_eq!(custom.candidates(&map), [TOKEN], "{name}");
            assert!(reader().candidates(&map).is_empty(), "{name} read with the default prefix");
        }
    }

    #[test]
    fn other_schemes_are_not_bearers() {
        assert_eq!(reader().bearer(&format!("Basic {TOKEN}")), None);
        assert_eq!(reader().bearer("Bearer "), None);
    }
}
