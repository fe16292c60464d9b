//! Settings for the other ways Better Auth proves who is signed in: the `jwt()`
//! plugin's JWTs, and the signed session copy of `session.cookieCache`.

use std::time::Duration;

use clap::{Args, ValueEnum};

use super::{ConfigError, error};

/// The raw settings, read by `clap` with typed parsers.
#[derive(Args, Clone, Debug)]
pub struct TokenArgs {
    /// The frontend's Better Auth base URL (`baseURL` / `BETTER_AUTH_URL`). When set,
    /// `Authorization: Bearer <jwt>` from the `jwt()` plugin is accepted: its origin
    /// is the issuer and audience Better Auth puts in the JWT.
    #[arg(long, env = "BETTER_AUTH_URL", value_parser = parse_url, global = true)]
    pub better_auth_url: Option<url::Url>,
    /// The `jwt()` plugin's `jwt.issuer`, when the app sets it (else the base URL's origin).
    #[arg(long, env = "BETTER_AUTH_JWT_ISSUER", global = true)]
    pub better_auth_jwt_issuer: Option<String>,
    /// The `jwt()` plugin's `jwt.audience`, when the app sets it (else the base URL's origin).
    #[arg(long, env = "BETTER_AUTH_JWT_AUDIENCE", global = true)]
    pub better_auth_jwt_audience: Option<String>,
    /// Read the JWT public keys from this JWKS URL instead of the `jwks` table.
    #[arg(long, env = "BETTER_AUTH_JWKS_URL", value_parser = parse_url, global = true)]
    pub better_auth_jwks_url: Option<url::Url>,
    /// Shortest time between two reloads of the keys, in seconds; a JWT with an
    /// unknown `kid` reloads them at most this often, and keys older than twice this
    /// are reloaded, so a deleted key stops verifying.
    #[arg(long, env = "JWKS_RELOAD_MIN_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400), global = true)]
    pub jwks_reload_min_secs: u64,
    /// Accept Better Auth's `session_data` cookie cache without asking the database.
    /// Off by default: a cached session outlives sign-out by up to its `maxAge`.
    #[arg(long, env = "TRUST_COOKIE_CACHE", default_value_t = false, action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new(), global = true)]
    pub trust_cookie_cache: bool,
    /// The app's `session.cookieCache.strategy`.
    #[arg(long, env = "COOKIE_CACHE_STRATEGY", value_enum, default_value_t = CacheStrategy::Compact, global = true)]
    pub cookie_cache_strategy: CacheStrategy,
    /// The app's `session.cookieCache.version` (a string; Better Auth's default is `1`).
    #[arg(long, env = "COOKIE_CACHE_VERSION", default_value = "1", global = true)]
    pub cookie_cache_version: String,
}

impl Default for TokenArgs {
    /// The same defaults as the command line's.
    fn default() -> Self {
        Self {
            better_auth_url: None,
            better_auth_jwt_issuer: None,
            better_auth_jwt_audience: None,
            better_auth_jwks_url: None,
            jwks_reload_min_secs: 30,
            trust_cookie_cache: false,
            cookie_cache_strategy: CacheStrategy::Compact,
            cookie_cache_version: "1".into(),
        }
    }
}

/// Better Auth's `session.cookieCache.strategy`.
#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CacheStrategy {
    /// base64url JSON with an HMAC-SHA256 of the secret (Better Auth's default).
    #[default]
    Compact,
    /// A JWT: HS256 with the secret, or, with `jwt({ sessionCookieCache: true })`,
    /// signed with the `jwt()` plugin's keys.
    Jwt,
    /// A JWE (`dir`, `A256CBC-HS512`) with a key derived from the secret.
    Jwe,
}

fn parse_url(value: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(value.trim()).map_err(|err| format!("not a URL: {err}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("must be an http(s) URL with a host".into());
    }
    Ok(url)
}

/// How JWTs from the `jwt()` plugin are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtSettings {
    /// The expected `iss`.
    pub issuer: String,
    /// The expected `aud` (one of the token's audiences).
    pub audience: String,
    /// Keys from this URL; else from the `jwks` table.
    pub jwks_url: Option<url::Url>,
    /// Shortest time between two key reloads.
    pub reload_min: Duration,
}

/// How the cookie cache is read, when it is trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieCacheSettings {
    /// The app's strategy.
    pub strategy: CacheStrategy,
    /// The app's cache version.
    pub version: String,
    /// The issuer of caches signed with the `jwt()` plugin's keys: the base URL's
    /// origin, as Better Auth sets it, else Better Auth's fallback.
    pub jwks_issuer: String,
}

/// The checked settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tokens {
    /// JWT verification: on when `BETTER_AUTH_URL` (or both issuer and audience) is set.
    pub jwt: Option<JwtSettings>,
    /// The cookie cache: on with `TRUST_COOKIE_CACHE=true`.
    pub cookie_cache: Option<CookieCacheSettings>,
}

impl Tokens {
    /// Checks the raw settings.
    ///
    /// # Errors
    /// A JWKS URL, issuer or audience given without what makes JWTs checkable.
    pub fn from_args(args: &TokenArgs) -> Result<Self, ConfigError> {
        let origin = args.better_auth_url.as_ref().map(|url| url.origin().ascii_serialization());
        let given =
            |value: &Option<String>| value.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
        let issuer = given(&args.better_auth_jwt_issuer).or_else(|| origin.clone());
        let audience = given(&args.better_auth_jwt_audience).or_else(|| origin.clone());
        let jwt = match (issuer, audience) {
            (Some(issuer), Some(audience)) => Some(JwtSettings {
                issuer,
                audience,
                jwks_url: args.better_auth_jwks_url.clone(),
                reload_min: Duration::from_secs(args.jwks_reload_min_secs),
            }),
            _ if args.better_auth_jwks_url.is_some() => {
                return Err(error("BETTER_AUTH_JWKS_URL", "needs BETTER_AUTH_URL (the JWTs' issuer and audience)"));
            }
            (Some(_), None) => {
                return Err(error("BETTER_AUTH_JWT_ISSUER", "needs BETTER_AUTH_URL or BETTER_AUTH_JWT_AUDIENCE"));
            }
            (None, Some(_)) => {
                return Err(error("BETTER_AUTH_JWT_AUDIENCE", "needs BETTER_AUTH_URL or BETTER_AUTH_JWT_ISSUER"));
            }
            (None, None) => None,
        };
        let version = args.cookie_cache_version.trim();
        if version.is_empty() || version.len() > 256 {
            return Err(error("COOKIE_CACHE_VERSION", "must be 1 to 256 characters"));
        }
        let cookie_cache = args.trust_cookie_cache.then(|| CookieCacheSettings {
            strategy: args.cookie_cache_strategy,
            version: version.to_owned(),
            jwks_issuer: origin.unwrap_or_else(|| "better-auth:session-cache".to_owned()),
        });
        Ok(Self { jwt, cookie_cache })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(url: Option<&str>) -> TokenArgs {
        TokenArgs { better_auth_url: url.map(|u| parse_url(u).unwrap()), ..TokenArgs::default() }
    }

    #[test]
    fn the_issuer_and_audience_are_the_base_urls_origin() {
        let tokens = Tokens::from_args(&args(Some("https://app.example.com/some/path/"))).unwrap();
        let jwt = tokens.jwt.unwrap();
        assert_eq!(
            (jwt.issuer.as_str(), jwt.audience.as_str()),
            ("https://app.example.com", "https://app.example.com")
        );
    }

    #[test]
    fn without_a_base_url_jwts_and_the_cache_are_off() {
        assert_eq!(Tokens::from_args(&args(None)).unwrap(), Tokens::default());
    }

    #[test]
    fn a_jwks_url_without_an_issuer_is_refused() {
        let mut raw = args(None);
        raw.better_auth_jwks_url = Some(parse_url("https://app.example.com/api/auth/jwks").unwrap());
        assert_eq!(Tokens::from_args(&raw).unwrap_err().setting, "BETTER_AUTH_JWKS_URL");
        assert!(parse_url("file:///etc/passwd").is_err());
    }
}
