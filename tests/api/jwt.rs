//! JWTs from Better Auth's `jwt()` plugin as `Authorization: Bearer`: verified
//! against the `jwks` table's public keys, for every algorithm Better Auth can be
//! configured with, and refused for every way a token can be wrong.

use std::time::Duration;

use base64::{Engine as _, engine::general_purpose::STANDARD, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Utc;
use serde_json::{Value, json};
use todo_graphql::config::JwtSettings;

use crate::helpers::*;

/// The issuer and audience Better Auth puts in a JWT for `baseURL: "http://localhost:3000"`.
pub const ORIGIN: &str = "http://localhost:3000";
const BOTH: &str = "{ me { id } tasks { totalCount } }";

/// A test key pair made by jose as Better Auth makes them (fixture).
#[derive(Clone)]
pub struct Key {
    pub alg: String,
    pub public_jwk: String,
    private_der: Vec<u8>,
    d: Option<String>,
}

pub fn keys() -> Vec<Key> {
    let fixture: Value = serde_json::from_str(include_str!("../fixtures/better-auth/jwt-keys.json")).unwrap();
    fixture["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| Key {
            alg: key["alg"].as_str().unwrap().to_owned(),
            public_jwk: key["publicKey"].as_str().unwrap().to_owned(),
            private_der: STANDARD.decode(key["privateDer"].as_str().unwrap()).unwrap(),
            d: key["d"].as_str().map(str::to_owned),
        })
        .collect()
}

pub fn key(alg: &str) -> Key {
    keys().into_iter().find(|key| key.alg == alg).unwrap()
}

impl Key {
    /// A JWS over `header` and `claims`, signed with this key.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let message =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        use jsonwebtoken::{Algorithm, EncodingKey, crypto::sign};
        let signature = match self.alg.as_str() {
            "EdDSA" => {
                sign(message.as_bytes(), &EncodingKey::from_ed_der(&self.private_der), Algorithm::EdDSA).unwrap()
            }
            "ES256" => {
                sign(message.as_bytes(), &EncodingKey::from_ec_der(&self.private_der), Algorithm::ES256).unwrap()
            }
            "RS256" => {
                sign(message.as_bytes(), &EncodingKey::from_rsa_der(&self.private_der), Algorithm::RS256).unwrap()
            }
            "PS256" => {
                sign(message.as_bytes(), &EncodingKey::from_rsa_der(&self.private_der), Algorithm::PS256).unwrap()
            }
            "ES512" => {
                use p521::ecdsa::signature::Signer as _;
                let d = URL_SAFE_NO_PAD.decode(self.d.as_ref().unwrap()).unwrap();
                let key = p521::ecdsa::SigningKey::from_slice(&d).unwrap();
                let signature: p521::ecdsa::Signature = key.sign(message.as_bytes());
                URL_SAFE_NO_PAD.encode(signature.to_bytes())
            }
            other => panic!("no signer for {other}"),
        };
        format!("{message}.{signature}")
    }

    /// A token as Better Auth's `/token` makes it for `user_id`, with `kid`.
    pub fn token(&self, kid: &str, user_id: &str) -> String {
        self.sign(&json!({ "alg": self.alg, "kid": kid }), &claims(user_id))
    }
}

/// Better Auth's claims: the user's fields, `sub`, `iat`, `exp` in 15 minutes, `iss`, `aud`.
pub fn claims(user_id: &str) -> Value {
    let now = Utc::now().timestamp();
    json!({
        "name": "Ada", "email": "ada@example.com", "emailVerified": false, "image": null,
        "createdAt": "2026-11-30T12:00:00.000Z", "updatedAt": "2026-11-30T12:00:00.000Z", "id": user_id,
        "iat": now, "sub": user_id, "exp": now + 900, "iss": ORIGIN, "aud": ORIGIN,
    })
}

/// The `jwks` table as the `jwt()` plugin's migration makes it.
pub async fn create_jwks_table(app: &TestApp) {
    app.execute(
        r#"CREATE TABLE jwks (id text PRIMARY KEY, "publicKey" text NOT NULL, "privateKey" text NOT NULL,
           "createdAt" timestamptz NOT NULL, "expiresAt" timestamptz, alg text, crv text)"#,
        [],
    )
    .await;
}

/// Stores a public key as Better Auth does (the private half is not the service's business).
pub async fn insert_key(app: &TestApp, kid: &str, key: &Key) {
    app.execute(
        r#"INSERT INTO jwks (id, "publicKey", "privateKey", "createdAt", alg) VALUES ($1, $2, '{"encrypted":"elsewhere"}', now(), $3)"#,
        [kid.into(), key.public_jwk.clone().into(), key.alg.clone().into()],
    )
    .await;
}

pub fn jwt_settings(reload: Duration) -> JwtSettings {
    JwtSettings { issuer: ORIGIN.into(), audience: ORIGIN.into(), jwks_url: None, reload_min: reload }
}

async fn spawn_with_jwt(reload: Duration) -> TestApp {
    let app = spawn_app_with(|config| config.tokens.jwt = Some(jwt_settings(reload))).await;
    create_jwks_table(&app).await;
    app
}

async fn as_bearer(app: &TestApp, token: &str) -> Value {
    app.graphql_with(("authorization", &format!("Bearer {token}")), BOTH).await
}

fn assert_signed_in(body: &Value, user_id: &str, what: &str) {
    assert_eq!(body["errors"], Value::Null, "{what}: {body}");
    assert_eq!(body["data"]["me"]["id"], user_id, "{what}");
    assert_eq!(body["data"]["tasks"]["totalCount"], 1, "{what}");
}

fn assert_refused(body: &Value, what: &str) {
    assert_eq!(error_code(body), "UNAUTHENTICATED", "{what}: {body}");
}

#[tokio::test]
async fn every_algorithm_better_auth_can_configure_signs_in_for_me_and_tasks() {
    let app = spawn_with_jwt(Duration::from_secs(1)).await;
    let user = app.create_user("Ada").await;
    app.create_task(&user, "mine").await;
    for (index, key) in keys().iter().enumerate() {
        insert_key(&app, &format!("key-{index}"), key).await;
    }
    for (index, key) in keys().iter().enumerate() {
        let body = as_bearer(&app, &key.token(&format!("key-{index}"), &user.id)).await;
        assert_signed_in(&body, &user.id, &key.alg);
    }
}

#[tokio::test]
async fn every_wrong_token_is_unauthenticated() {
    let app = spawn_with_jwt(Duration::from_secs(60)).await;
    let user = app.create_user("Ada").await;
    app.create_task(&user, "mine").await;
    let ed = key("EdDSA");
    insert_key(&app, "ed", &ed).await;
    let header = json!({ "alg": "EdDSA", "kid": "ed" });
    let good = ed.token("ed", &user.id);
    assert_signed_in(&as_bearer(&app, &good).await, &user.id, "the good token");

    let now = Utc::now().timestamp();
    let with = |name: &str, value: Value| {
        let mut claims = claims(&user.id);
        claims[name] = value;
        ed.sign(&header, &claims)
    };
    let without = |name: &str| {
        let mut claims = claims(&user.id);
        claims.as_object_mut().unwrap().remove(name);
        ed.sign(&header, &claims)
    };
    let (head, payload, signature) = {
        let parts: Vec<&str> = good.split('.').collect();
        (parts[0].to_owned(), parts[1].to_owned(), parts[2].to_owned())
    };
    let other_claims = URL_SAFE_NO_PAD.encode(with("sub", json!("someone-else")).split('.').nth(1).unwrap());
    let hs256_with_public_key = {
        use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("ed".into());
        encode(&header, &claims(&user.id), &EncodingKey::from_secret(ed.public_jwk.as_bytes())).unwrap()
    };
    let es256 = key("ES256");
    let cases = [
        ("expired", with("exp", json!(now - 1))),
        ("no exp", without("exp")),
        ("not yet valid", with("nbf", json!(now + 60))),
        ("wrong issuer", with("iss", json!("https://evil.example"))),
        ("wrong audience", with("aud", json!("https://evil.example"))),
        ("no audience", without("aud")),
        ("no subject", without("sub")),
        ("tampered payload", format!("{head}.{}.{signature}", other_claims.trim_end_matches('='))),
        ("tampered signature", format!("{head}.{payload}.{}", flip_first(&signature))),
        ("alg none", format!("{}.{payload}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"ed"}"#))),
        (
            "alg none with a signature",
            format!("{}.{payload}.{signature}", URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"ed"}"#)),
        ),
        ("HS256 signed with the public key", hs256_with_public_key),
        ("another key's alg in the header", es256.sign(&json!({ "alg": "ES256", "kid": "ed" }), &claims(&user.id))),
        ("no kid", ed.sign(&json!({ "alg": "EdDSA" }), &claims(&user.id))),
        ("unknown kid", ed.token("nobody", &user.id)),
        ("a critical extension", ed.sign(&json!({ "alg": "EdDSA", "kid": "ed", "crit": ["exp"] }), &claims(&user.id))),
        ("too long", format!("{head}.{}.{signature}", "A".repeat(9000))),
    ];
    for (what, token) in cases {
        assert_refused(&as_bearer(&app, &token).await, what);
    }
}

fn flip_first(part: &str) -> String {
    let mut bytes = URL_SAFE_NO_PAD.decode(part).unwrap();
    bytes[0] ^= 1;
    URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test]
async fn a_key_added_by_rotation_is_picked_up_and_unknown_kids_reload_at_most_once_per_interval() {
    let app = spawn_with_jwt(Duration::from_secs(2)).await;
    let user = app.create_user("Ada").await;
    app.create_task(&user, "mine").await;
    let ed = key("EdDSA");
    insert_key(&app, "old", &ed).await;
    assert_signed_in(&as_bearer(&app, &ed.token("old", &user.id)).await, &user.id, "the first key");

    // A flood of made-up kids right after a load: no query at all.
    let before = app.statements.get();
    for n in 0..20 {
        assert_refused(&as_bearer(&app, &ed.token(&format!("made-up-{n}"), &user.id)).await, "made-up kid");
    }
    assert_eq!(app.statements.get() - before, 0, "unknown kids within the interval reload nothing");

    let rotated = key("ES256");
    insert_key(&app, "new", &rotated).await;
    let token = rotated.token("new", &user.id);
    assert_refused(&as_bearer(&app, &token).await, "a new key inside the reload interval");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_signed_in(&as_bearer(&app, &token).await, &user.id, "the rotated key after the interval");
    assert_signed_in(&as_bearer(&app, &ed.token("old", &user.id)).await, &user.id, "the old key still verifies");
}

#[tokio::test]
async fn a_jwt_whose_user_was_deleted_is_unauthenticated() {
    let app = spawn_with_jwt(Duration::from_secs(60)).await;
    let user = app.create_user("Ada").await;
    let ed = key("EdDSA");
    insert_key(&app, "ed", &ed).await;
    let token = ed.token("ed", &user.id);
    app.execute(r#"DELETE FROM "user" WHERE id = $1"#, [user.id.clone().into()]).await;
    assert_refused(&as_bearer(&app, &token).await, "deleted user");
}

#[tokio::test]
async fn a_jwt_stays_valid_after_sign_out_until_it_expires() {
    let app = spawn_with_jwt(Duration::from_secs(60)).await;
    let user = app.create_user("Ada").await;
    app.create_task(&user, "mine").await;
    let ed = key("EdDSA");
    insert_key(&app, "ed", &ed).await;
    app.execute("DELETE FROM session WHERE token = $1", [user.token.clone().into()]).await;
    assert_signed_in(&as_bearer(&app, &ed.token("ed", &user.id)).await, &user.id, "after sign-out");
}

#[tokio::test]
async fn without_better_auth_url_a_jwt_is_not_accepted() {
    let app = spawn_app().await;
    create_jwks_table(&app).await;
    let user = app.create_user("Ada").await;
    let ed = key("EdDSA");
    insert_key(&app, "ed", &ed).await;
    assert_refused(&as_bearer(&app, &ed.token("ed", &user.id)).await, "JWTs off");
}

/// A service whose keys come from a JWKS URL serving `jwks`.
async fn spawn_with_jwks_url(jwks: Value) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/auth/jwks", listener.local_addr().unwrap());
    let router =
        axum::Router::new().route("/api/auth/jwks", axum::routing::get(move || async move { axum::Json(jwks) }));
    tokio::spawn(async move { axum::serve(listener, router).await });
    let settings = JwtSettings { jwks_url: Some(url.parse().unwrap()), ..jwt_settings(Duration::from_secs(60)) };
    spawn_app_with(|config| config.tokens.jwt = Some(settings)).await
}

fn remote_jwk(key: &Key) -> Value {
    let mut jwk: Value = serde_json::from_str(&key.public_jwk).unwrap();
    jwk["kid"] = json!("remote");
    jwk["alg"] = json!(key.alg);
    jwk
}

#[tokio::test]
async fn keys_can_come_from_a_jwks_url() {
    let ed = key("EdDSA");
    let app = spawn_with_jwks_url(json!({ "keys": [remote_jwk(&ed)] })).await;
    let user = app.create_user("Ada").await;
    app.create_task(&user, "mine").await;
    assert_signed_in(&as_bearer(&app, &ed.token("remote", &user.id)).await, &user.id, "JWKS URL");
    assert_refused(&as_bearer(&app, &ed.token("other", &user.id)).await, "a kid the URL does not list");
}

#[tokio::test]
async fn a_jwks_document_over_256_kib_is_not_read() {
    let ed = key("EdDSA");
    let app = spawn_with_jwks_url(json!({ "keys": [remote_jwk(&ed)], "padding": "x".repeat(300 * 1024) })).await;
    let user = app.create_user("Ada").await;
    assert_refused(&as_bearer(&app, &ed.token("remote", &user.id)).await, "oversized JWKS");
}

#[tokio::test]
async fn a_jwt_of_a_banned_user_is_unauthenticated_until_the_ban_expires() {
    let app = crate::better_auth_schemas::spawn_with_admin_plugin(|config| {
        config.tokens.jwt = Some(jwt_settings(Duration::from_secs(60)));
    })
    .await;
    create_jwks_table(&app).await;
    let user = app.create_user("Ada").await;
    app.create_task(&user, "mine").await;
    let ed = key("EdDSA");
    insert_key(&app, "ed", &ed).await;
    let token = ed.token("ed", &user.id);
    assert_signed_in(&as_bearer(&app, &token).await, &user.id, "before the ban");
    app.execute(r#"UPDATE "user" SET banned = true WHERE id = $1"#, [user.id.clone().into()]).await;
    assert_refused(&as_bearer(&app, &token).await, "banned");
    app.execute(
        r#"UPDATE "user" SET "banExpires" = now() - interval '1 minute' WHERE id = $1"#,
        [user.id.clone().into()],
    )
    .await;
    assert_signed_in(&as_bearer(&app, &token).await, &user.id, "after the ban expired");
}

#[tokio::test]
async fn a_key_deleted_from_jwks_stops_verifying_within_twice_the_reload_interval() {
    let app = spawn_with_jwt(Duration::from_secs(1)).await;
    let user = app.create_user("Ada").await;
    app.create_task(&user, "mine").await;
    let ed = key("EdDSA");
    insert_key(&app, "leaked", &ed).await;
    let token = ed.token("leaked", &user.id);
    assert_signed_in(&as_bearer(&app, &token).await, &user.id, "before the key is deleted");
    app.execute("DELETE FROM jwks WHERE id = 'leaked'", []).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_refused(&as_bearer(&app, &token).await, "a token signed by the deleted key");
}
