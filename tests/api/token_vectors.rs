//! What better-auth 1.7.25 itself made (tests/clients/scripts/token-vectors.mjs):
//! a `jwt()` JWT and a cookie cache per strategy, for users whose rows are in the
//! fixture too. The service must accept each exactly as configured.

use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde_json::Value;
use todo_graphql::config::{CacheStrategy, CookieCacheSettings, JwtSettings};

use crate::{helpers::*, jwt};

fn vectors() -> Value {
    let vectors: Value = serde_json::from_str(include_str!("../fixtures/better-auth/token-vectors.json")).unwrap();
    let expiry = vectors["rows"]["session"][0]["expiresAt"].as_str().unwrap();
    let expires: DateTime<Utc> = expiry.parse().unwrap();
    assert!(
        expires > Utc::now() + chrono::Duration::days(1),
        "the real-package vectors expire on {expiry}: run `node tests/clients/scripts/token-vectors.mjs`"
    );
    vectors
}

/// A service with the vectors' secret and base URL, and their rows in its database.
async fn spawn(vectors: &Value, cache: Option<CacheStrategy>) -> TestApp {
    let base_url = vectors["baseURL"].as_str().unwrap().to_owned();
    let secret = vectors["secret"].as_str().unwrap().to_owned();
    let app = spawn_app_with(move |config| {
        config.better_auth_secret = Some(SecretString::from(secret));
        config.tokens.jwt = Some(JwtSettings {
            issuer: base_url.clone(),
            audience: base_url.clone(),
            jwks_url: None,
            reload_min: Duration::from_secs(60),
        });
        config.tokens.cookie_cache =
            cache.map(|strategy| CookieCacheSettings { strategy, version: "1".into(), jwks_issuer: base_url });
    })
    .await;
    jwt::create_jwks_table(&app).await;
    let rows = &vectors["rows"];
    let text = |row: &Value, key: &str| sea_orm::Value::from(row[key].as_str().unwrap().to_owned());
    for user in rows["user"].as_array().unwrap() {
        app.execute(
            r#"INSERT INTO "user" (id, name, email, "emailVerified", "createdAt", "updatedAt")
               VALUES ($1, $2, $3, false, $4::timestamptz, $5::timestamptz)"#,
            [
                text(user, "id"),
                text(user, "name"),
                text(user, "email"),
                text(user, "createdAt"),
                text(user, "updatedAt"),
            ],
        )
        .await;
    }
    for session in rows["session"].as_array().unwrap() {
        app.execute(
            r#"INSERT INTO session (id, token, "userId", "expiresAt", "createdAt", "updatedAt")
               VALUES ($1, $2, $3, $4::timestamptz, $5::timestamptz, $6::timestamptz)"#,
            [
                text(session, "id"),
                text(session, "token"),
                text(session, "userId"),
                text(session, "expiresAt"),
                text(session, "createdAt"),
                text(session, "updatedAt"),
            ],
        )
        .await;
    }
    for key in rows["jwks"].as_array().unwrap() {
        app.execute(
            r#"INSERT INTO jwks (id, "publicKey", "privateKey", "createdAt", alg) VALUES ($1, $2, 'not here', now(), $3)"#,
            [text(key, "id"), text(key, "publicKey"), text(key, "alg")],
        )
        .await;
    }
    app
}

async fn me(app: &TestApp, header: (&str, &str)) -> Value {
    app.graphql_with(header, "{ me { id } }").await["data"]["me"]["id"].clone()
}

#[tokio::test]
async fn better_auths_own_jwt_signs_its_user_in() {
    let vectors = vectors();
    let app = spawn(&vectors, None).await;
    let bearer = format!("Bearer {}", vectors["jwt"]["token"].as_str().unwrap());
    assert_eq!(me(&app, ("authorization", &bearer)).await, vectors["jwt"]["userId"]);
}

#[tokio::test]
async fn better_auths_own_caches_are_trusted_only_when_told() {
    let vectors = vectors();
    for cache in vectors["caches"].as_array().unwrap() {
        let strategy = match cache["strategy"].as_str().unwrap() {
            "compact" => CacheStrategy::Compact,
            "jwt" => CacheStrategy::Jwt,
            "jwe" => CacheStrategy::Jwe,
            other => panic!("unknown strategy {other}"),
        };
        let what = format!("{} (jwt() keys: {})", cache["strategy"], cache["jwtPluginKeys"]);
        let cookie = cache["cookie"].as_str().unwrap();
        let trusting = spawn(&vectors, Some(strategy)).await;
        let not_trusting = spawn(&vectors, None).await;
        // Signed out: only the cache can sign the user in.
        for app in [&trusting, &not_trusting] {
            app.execute(r#"DELETE FROM session WHERE "userId" = $1"#, [cache["userId"].as_str().unwrap().into()]).await;
        }
        assert_eq!(me(&trusting, ("cookie", cookie)).await, cache["userId"], "{what}: trusted");
        assert_eq!(me(&not_trusting, ("cookie", cookie)).await, Value::Null, "{what}: not trusted");
    }
}
