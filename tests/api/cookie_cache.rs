//! Better Auth's cookie cache (`<prefix>.session_data`), trusted only with
//! `TRUST_COOKIE_CACHE=true`: each strategy signs in without a session lookup, and
//! anything that does not verify falls back to the session cookie and the database.

use std::time::Duration;

use aes::cipher::{BlockEncryptMut as _, KeyIvInit as _, block_padding::Pkcs7};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{SecondsFormat, Utc};
use hmac::{Hmac, Mac as _};
use serde_json::{Value, json};
use sha2::{Sha256, Sha512};
use todo_graphql::config::{CacheStrategy, CookieCacheSettings};

use crate::{helpers::*, jwt};

const BOTH: &str = "{ me { id email } tasks { totalCount } }";

/// `{ session, user, updatedAt, version }` as Better Auth's `setCookieCache` builds it.
fn session_data(user: &TestUser, token: &str) -> Value {
    let iso = |at: chrono::DateTime<Utc>| at.to_rfc3339_opts(SecondsFormat::Millis, true);
    let now = Utc::now();
    json!({
        "session": {
            "expiresAt": iso(now + chrono::Duration::days(7)), "token": token, "createdAt": iso(now),
            "updatedAt": iso(now), "ipAddress": "127.0.0.1", "userAgent": "test", "userId": user.id, "id": random_id(),
        },
        "user": {
            "name": "Ada", "email": user.email, "emailVerified": false, "image": null,
            "createdAt": iso(now), "updatedAt": iso(now), "id": user.id,
        },
        "updatedAt": now.timestamp_millis(),
        "version": "1",
    })
}

/// The `compact` strategy: HMAC-SHA256 (base64url) of `{...data, expiresAt}`.
fn compact(data: &Value, expires_at_ms: i64) -> String {
    let mut signed = data.clone();
    signed["expiresAt"] = json!(expires_at_ms);
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(js_stringify(&signed).as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    let outer =
        format!(r#"{{"session":{},"expiresAt":{expires_at_ms},"signature":"{signature}"}}"#, js_stringify(data));
    URL_SAFE_NO_PAD.encode(outer)
}

/// `JSON.stringify` for these objects: keys in insertion order (serde_json keeps
/// them sorted, so the order here is written out), no spaces.
fn js_stringify(value: &Value) -> String {
    let order = [
        "session",
        "user",
        "updatedAt",
        "version",
        "expiresAt",
        "token",
        "createdAt",
        "ipAddress",
        "userAgent",
        "userId",
        "id",
        "name",
        "email",
        "emailVerified",
        "image",
    ];
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by_key(|key| order.iter().position(|k| k == key).unwrap_or(usize::MAX));
            let fields: Vec<String> =
                keys.iter().map(|key| format!("{}:{}", json!(key), js_stringify(&map[*key]))).collect();
            format!("{{{}}}", fields.join(","))
        }
        other => other.to_string(),
    }
}

fn with_times(data: &Value, exp: i64) -> Value {
    let mut claims = data.clone();
    claims["iat"] = json!(Utc::now().timestamp());
    claims["exp"] = json!(exp);
    claims
}

/// The `jwt` strategy without the plugin: HS256 with the secret.
fn hs256(data: &Value, exp: i64) -> String {
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    encode(&Header::new(Algorithm::HS256), &with_times(data, exp), &EncodingKey::from_secret(SECRET.as_bytes()))
        .unwrap()
}

/// The `jwe` strategy: dir + A256CBC-HS512, key HKDF-SHA256(secret, "better-auth-session").
fn jwe(data: &Value, exp: i64) -> String {
    let mut key = [0u8; 64];
    hkdf::Hkdf::<Sha256>::new(Some(b"better-auth-session"), SECRET.as_bytes())
        .expand(b"BetterAuth.js Generated Encryption Key", &mut key)
        .unwrap();
    let protected = URL_SAFE_NO_PAD.encode(r#"{"alg":"dir","enc":"A256CBC-HS512"}"#);
    let iv: [u8; 16] = rand::random();
    let plaintext = with_times(data, exp).to_string();
    let ciphertext = cbc::Encryptor::<aes::Aes256>::new_from_slices(&key[32..], &iv)
        .unwrap()
        .encrypt_padded_vec_mut::<Pkcs7>(plaintext.as_bytes());
    let mut mac = Hmac::<Sha512>::new_from_slice(&key[..32]).unwrap();
    mac.update(protected.as_bytes());
    mac.update(&iv);
    mac.update(&ciphertext);
    mac.update(&(protected.len() as u64 * 8).to_be_bytes());
    let tag = &mac.finalize().into_bytes()[..32];
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    format!("{protected}..{}.{}.{}", b64(&iv), b64(&ciphertext), b64(tag))
}

/// The `jwt` strategy with `jwt({ sessionCookieCache: true })`: the plugin's key.
fn jwks_signed(data: &Value, exp: i64) -> String {
    let mut claims = with_times(data, exp);
    claims["sid"] = data["session"]["token"].clone();
    claims["sub"] = data["user"]["id"].clone();
    claims["iss"] = json!(jwt::ORIGIN);
    claims["aud"] = json!("better-auth:session-cache");
    let header = json!({ "alg": "EdDSA", "kid": "ed", "typ": "better-auth.session-cache+jwt" });
    jwt::key("EdDSA").sign(&header, &claims)
}

fn settings(strategy: CacheStrategy) -> CookieCacheSettings {
    CookieCacheSettings { strategy, version: "1".into(), jwks_issuer: jwt::ORIGIN.into() }
}

async fn spawn(strategy: Option<CacheStrategy>) -> TestApp {
    let app = spawn_app_with(|config| {
        config.tokens.cookie_cache = strategy.map(settings);
        config.tokens.jwt = Some(jwt::jwt_settings(Duration::from_secs(60)));
    })
    .await;
    jwt::create_jwks_table(&app).await;
    jwt::insert_key(&app, "ed", &jwt::key("EdDSA")).await;
    app
}

/// A user with a task, and their session cookie.
async fn user_with_task(app: &TestApp) -> TestUser {
    let user = app.create_user("Ada").await;
    app.create_task(&user, "mine").await;
    user
}

async fn sign_out(app: &TestApp, user: &TestUser) {
    app.execute("DELETE FROM session WHERE token = $1", [user.token.clone().into()]).await;
}

/// The response, and how many statements the service ran for it.
async fn query(app: &TestApp, cookie: &str) -> (Value, u64) {
    let before = app.statements.get();
    let body = app.graphql_with(("cookie", cookie), BOTH).await;
    (body, app.statements.get() - before)
}

/// Makes a cache of session data that expires at the given time.
type Mint = fn(&Value, i64) -> String;

fn strategies() -> [(CacheStrategy, &'static str, Mint); 4] {
    [
        (CacheStrategy::Compact, "compact", compact),
        (CacheStrategy::Jwt, "jwt (HS256)", hs256),
        (CacheStrategy::Jwe, "jwe", jwe),
        (CacheStrategy::Jwt, "jwt (jwt() plugin keys)", jwks_signed),
    ]
}

fn fresh(strategy: CacheStrategy, name: &str) -> i64 {
    if strategy == CacheStrategy::Compact && name == "compact" {
        Utc::now().timestamp_millis() + 300_000
    } else {
        Utc::now().timestamp() + 300
    }
}

fn expired(strategy: CacheStrategy, name: &str) -> i64 {
    if strategy == CacheStrategy::Compact && name == "compact" {
        Utc::now().timestamp_millis() - 1000
    } else {
        Utc::now().timestamp() - 60
    }
}

#[tokio::test]
async fn each_strategy_signs_in_without_a_session_lookup_and_outlives_sign_out() {
    for (strategy, name, make) in strategies() {
        let app = spawn(Some(strategy)).await;
        let user = user_with_task(&app).await;
        let cache = make(&session_data(&user, &user.token), fresh(strategy, name));
        let cookie = format!("{}; better-auth.session_data={cache}", user.cookie());

        let (_, without_cache) = query(&app, &user.cookie()).await;
        // The first use of the jwt() plugin's keys loads them; count the next one.
        query(&app, &cookie).await;
        let (body, with_cache) = query(&app, &cookie).await;
        assert_eq!(body["data"]["me"]["id"], user.id.as_str(), "{name}: {body}");
        assert_eq!(body["data"]["tasks"]["totalCount"], 1, "{name}");
        assert_eq!(without_cache - with_cache, 1, "{name}: the cache saves the session lookup");
        println!("{name}: {without_cache} statements without the cache, {with_cache} with it");
        let before = app.statements.get();
        let body = app.graphql_with(("cookie", &cookie), "{ me { id } }").await;
        assert_eq!(body["data"]["me"]["id"], user.id.as_str(), "{name}");
        assert_eq!(app.statements.get() - before, 0, "{name}: `me` alone costs no statement");

        sign_out(&app, &user).await;
        let (body, _) = query(&app, &cookie).await;
        assert_eq!(body["data"]["me"]["id"], user.id.as_str(), "{name}: the cache outlives sign-out, as documented");
    }
}

#[tokio::test]
async fn chunks_and_the_secure_name_are_read() {
    let app = spawn(Some(CacheStrategy::Jwe)).await;
    let user = user_with_task(&app).await;
    sign_out(&app, &user).await;
    let cache = jwe(&session_data(&user, &user.token), Utc::now().timestamp() + 300);
    let (first, second) = cache.split_at(cache.len() / 2);
    for cookie in [
        format!("{}; better-auth.session_data.1={second}; better-auth.session_data.0={first}", user.cookie()),
        format!("{}; __Secure-better-auth.session_data={cache}", user.cookie()),
    ] {
        let (body, _) = query(&app, &cookie).await;
        assert_eq!(body["data"]["me"]["id"], user.id.as_str(), "{cookie}: {body}");
    }
}

#[tokio::test]
async fn when_not_trusted_the_cache_is_ignored() {
    let app = spawn(None).await;
    let user = user_with_task(&app).await;
    sign_out(&app, &user).await;
    for (strategy, name, make) in strategies() {
        let cache = make(&session_data(&user, &user.token), fresh(strategy, name));
        let (body, _) = query(&app, &format!("{}; better-auth.session_data={cache}", user.cookie())).await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{name}: {body}");
    }
}

#[tokio::test]
async fn a_cache_that_does_not_verify_falls_back_to_the_database() {
    for (strategy, name, make) in strategies() {
        let app = spawn(Some(strategy)).await;
        let user = user_with_task(&app).await;
        let other = app.create_user("Eve").await;
        let good = make(&session_data(&user, &user.token), fresh(strategy, name));
        let mut bad_version = session_data(&user, &user.token);
        bad_version["version"] = json!("2");
        let mut ended_session = session_data(&user, &user.token);
        ended_session["session"]["expiresAt"] = json!("2020-01-01T00:00:00.000Z");
        let cases = [
            ("tampered", tamper(&good)),
            ("expired", make(&session_data(&user, &user.token), expired(strategy, name))),
            ("another session's cache", make(&session_data(&other, &other.token), fresh(strategy, name))),
            ("another version", make(&bad_version, fresh(strategy, name))),
            ("an ended session", make(&ended_session, fresh(strategy, name))),
            ("garbage", "not-a-cache".to_owned()),
        ];
        for (case, cache) in &cases {
            let cookie = format!("{}; better-auth.session_data={cache}", user.cookie());
            let (body, statements) = query(&app, &cookie).await;
            assert_eq!(body["data"]["me"]["id"], user.id.as_str(), "{name}, {case}: the database still answers");
            assert!(statements >= 2, "{name}, {case}: looked the session up ({statements})");
        }
        sign_out(&app, &user).await;
        for (case, cache) in &cases {
            let (body, _) = query(&app, &format!("{}; better-auth.session_data={cache}", user.cookie())).await;
            assert_eq!(error_code(&body), "UNAUTHENTICATED", "{name}, {case}, signed out: {body}");
        }
        // A good cache without its session cookie is not enough either.
        let (body, _) = query(&app, &format!("better-auth.session_data={good}")).await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{name}: no session cookie");
    }
}

/// Flips a bit in the middle of the value, keeping it base64url.
fn tamper(value: &str) -> String {
    let mut bytes = value.as_bytes().to_vec();
    let at = bytes.len() / 2;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}
