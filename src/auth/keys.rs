//! The `jwt()` plugin's public keys: parsed from JWK JSON, kept in memory by `kid`,
//! reloaded (at most once per `reload_min`) when a token names a key not yet known.
//!
//! The algorithm comes from the key (the `jwks.alg` column, else the JWK, else its
//! type), never from the token: a token whose header names another is refused.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey};
use sea_orm::DatabaseConnection;
use serde::Deserialize;

use crate::db;

/// Most keys kept; Better Auth keeps one per rotation.
pub const MAX_KEYS: usize = 100;
/// Largest JWKS document read from a URL.
const MAX_JWKS_BYTES: usize = 256 * 1024;
/// Longest a JWKS URL may take to answer.
const JWKS_TIMEOUT: Duration = Duration::from_secs(5);

/// One public key, ready to verify signatures.
pub enum VerifyKey {
    /// EdDSA (Ed25519), ES256, RS256, PS256: through `jsonwebtoken`.
    Jose(Algorithm, DecodingKey),
    /// ES512 (P-521), which `jsonwebtoken` lacks: through `p521`.
    Es512(Box<p521::ecdsa::VerifyingKey>),
}

impl VerifyKey {
    /// A key from its JWK JSON and the algorithm Better Auth signs with (the `alg`
    /// column); `None` for anything Better Auth cannot make or a malformed key.
    pub fn from_jwk(jwk: &str, alg: Option<&str>) -> Option<Self> {
        #[derive(Deserialize)]
        struct Jwk {
            kty: String,
            crv: Option<String>,
            alg: Option<String>,
            x: Option<String>,
            y: Option<String>,
            n: Option<String>,
            e: Option<String>,
        }
        let jwk: Jwk = serde_json::from_str(jwk).ok()?;
        let inferred = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
            ("OKP", Some("Ed25519")) => Some("EdDSA"),
            ("EC", Some("P-256")) => Some("ES256"),
            ("EC", Some("P-521")) => Some("ES512"),
            _ => None,
        };
        let alg = alg.or(jwk.alg.as_deref()).or(inferred)?;
        let (kty, crv) = (jwk.kty.as_str(), jwk.crv.as_deref());
        match alg {
            "EdDSA" if (kty, crv) == ("OKP", Some("Ed25519")) => {
                let x = jwk.x?;
                (URL_SAFE_NO_PAD.decode(&x).ok()?.len() == 32)
                    .then(|| DecodingKey::from_ed_components(&x).ok())?
                    .map(|key| Self::Jose(Algorithm::EdDSA, key))
            }
            "ES256" if (kty, crv) == ("EC", Some("P-256")) => {
                sec1_point(jwk.x.as_deref()?, jwk.y.as_deref()?, 32)?;
                let key = DecodingKey::from_ec_components(jwk.x.as_deref()?, jwk.y.as_deref()?).ok()?;
                Some(Self::Jose(Algorithm::ES256, key))
            }
            "ES512" if (kty, crv) == ("EC", Some("P-521")) => {
                let point = sec1_point(jwk.x.as_deref()?, jwk.y.as_deref()?, 66)?;
                p521::ecdsa::VerifyingKey::from_sec1_bytes(&point).ok().map(|key| Self::Es512(Box::new(key)))
            }
            "RS256" | "PS256" if kty == "RSA" => {
                let (n, e) = (jwk.n?, jwk.e?);
                // As jose: at least 2048 bits; at most 8192, so a key costs little to use.
                let bits = URL_SAFE_NO_PAD.decode(&n).ok()?.len() * 8;
                if !(2048..=8192).contains(&bits) || URL_SAFE_NO_PAD.decode(&e).ok()?.len() > 8 {
                    return None;
                }
                let algorithm = if alg == "RS256" { Algorithm::RS256 } else { Algorithm::PS256 };
                Some(Self::Jose(algorithm, DecodingKey::from_rsa_components(&n, &e).ok()?))
            }
            _ => None,
        }
    }

    /// The JWS `alg` this key verifies.
    pub fn alg(&self) -> &'static str {
        match self {
            Self::Jose(Algorithm::EdDSA, _) => "EdDSA",
            Self::Jose(Algorithm::ES256, _) => "ES256",
            Self::Jose(Algorithm::RS256, _) => "RS256",
            Self::Jose(Algorithm::PS256, _) => "PS256",
            Self::Jose(..) => "unsupported",
            Self::Es512(_) => "ES512",
        }
    }

    /// Whether `signature` (base64url) signs `message` (`header.payload`).
    pub fn verify(&self, message: &[u8], signature: &str) -> bool {
        match self {
            Self::Jose(algorithm, key) => {
                jsonwebtoken::crypto::verify(signature, message, key, *algorithm).unwrap_or(false)
            }
            Self::Es512(key) => {
                use p521::ecdsa::signature::Verifier as _;
                let Ok(bytes) = URL_SAFE_NO_PAD.decode(signature) else { return false };
                // JWS carries r || s, 66 bytes each.
                let Ok(signature) = p521::ecdsa::Signature::from_slice(&bytes) else { return false };
                bytes.len() == 132 && key.verify(message, &signature).is_ok()
            }
        }
    }
}

fn sec1_point(x: &str, y: &str, size: usize) -> Option<Vec<u8>> {
    let (x, y) = (URL_SAFE_NO_PAD.decode(x).ok()?, URL_SAFE_NO_PAD.decode(y).ok()?);
    (x.len() == size && y.len() == size).then(|| [&[0x04][..], &x, &y].concat())
}

/// Where the keys come from.
pub enum KeySource {
    /// The `jwks` table Better Auth writes (read only).
    Table,
    /// A JWKS document at this URL.
    Url(url::Url, reqwest::Client),
}

/// After a failed load, the next may come this soon (not a whole `reload_min`).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// The keys by `kid`, when they were loaded, and when a load may run again.
pub struct KeyStore {
    source: KeySource,
    keys: RwLock<Loaded>,
    next_load: tokio::sync::Mutex<Option<Instant>>,
    reload_min: Duration,
}

/// One successful load.
#[derive(Default)]
struct Loaded {
    keys: Arc<HashMap<String, Arc<VerifyKey>>>,
    at: Option<Instant>,
}

impl KeyStore {
    /// An empty store; the first token loads the keys.
    pub fn new(source: KeySource, reload_min: Duration) -> Self {
        Self { source, keys: RwLock::default(), next_load: tokio::sync::Mutex::new(None), reload_min }
    }

    /// The key `kid`. The keys are loaded again when `kid` is unknown, at most once
    /// per `reload_min` (so a flood of made-up ids costs one load per interval), and
    /// when they are older than twice `reload_min` (so a key deleted from the `jwks`
    /// table or the JWKS document stops verifying within that time).
    pub async fn get(&self, db: &DatabaseConnection, kid: &str) -> Option<Arc<VerifyKey>> {
        let (key, fresh) = self.cached(kid);
        if key.is_some() && fresh {
            return key;
        }
        let mut next_load = self.next_load.lock().await;
        // Another request may have loaded them while this one waited.
        let (key, fresh) = self.cached(kid);
        if key.is_some() && fresh {
            return key;
        }
        if next_load.is_some_and(|at| Instant::now() < at) {
            return key;
        }
        match self.load(db).await {
            Ok(keys) => {
                tracing::info!(keys = keys.len(), "loaded the JWT public keys");
                *self.keys.write().unwrap_or_else(std::sync::PoisonError::into_inner) =
                    Loaded { keys: Arc::new(keys), at: Some(Instant::now()) };
                *next_load = Some(Instant::now() + self.reload_min);
            }
            Err(reason) => {
                tracing::warn!(error = %reason, "loading the JWT public keys failed; keeping the old ones");
                *next_load = Some(Instant::now() + RETRY_AFTER_FAILURE);
            }
        }
        self.cached(kid).0
    }

    /// The key `kid` if known, and whether the keys are younger than twice `reload_min`.
    fn cached(&self, kid: &str) -> (Option<Arc<VerifyKey>>, bool) {
        let loaded = self.keys.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let fresh = loaded.at.is_some_and(|at| at.elapsed() < self.reload_min.saturating_mul(2));
        (loaded.keys.get(kid).cloned(), fresh)
    }

    async fn load(&self, db: &DatabaseConnection) -> Result<HashMap<String, Arc<VerifyKey>>, String> {
        let rows: Vec<(String, String, Option<String>)> = match &self.source {
            KeySource::Table => db::jwks::public_keys(db, MAX_KEYS as u64)
                .await
                .map_err(|err| err.to_string())?
                .into_iter()
                .map(|row| (row.id, row.public_key, row.alg))
                .collect(),
            KeySource::Url(url, client) => fetch_jwks(client, url).await?,
        };
        let mut keys = HashMap::new();
        for (kid, jwk, alg) in rows.into_iter().take(MAX_KEYS) {
            match VerifyKey::from_jwk(&jwk, alg.as_deref()) {
                Some(key) => {
                    keys.insert(kid, Arc::new(key));
                }
                None => tracing::warn!(kid = %kid, "skipping a JWT public key this service cannot use"),
            }
        }
        Ok(keys)
    }
}

/// A JWKS document, bounded in time and size: `(kid, jwk, alg)` per key.
async fn fetch_jwks(client: &reqwest::Client, url: &url::Url) -> Result<Vec<(String, String, Option<String>)>, String> {
    #[derive(Deserialize)]
    struct Jwks {
        keys: Vec<serde_json::Map<String, serde_json::Value>>,
    }
    let mut response = client
        .get(url.clone())
        .timeout(JWKS_TIMEOUT)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|err| format!("fetching the JWKS: {}", err.without_url()))?;
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|err| format!("reading the JWKS: {}", err.without_url()))? {
        if body.len() + chunk.len() > MAX_JWKS_BYTES {
            return Err(format!("the JWKS is larger than {MAX_JWKS_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    let jwks: Jwks = serde_json::from_slice(&body).map_err(|err| format!("the JWKS is not JSON: {err}"))?;
    Ok(jwks
        .keys
        .into_iter()
        .take(MAX_KEYS)
        .filter_map(|key| {
            let kid = key.get("kid")?.as_str()?.to_owned();
            let alg = key.get("alg").and_then(|alg| alg.as_str()).map(str::to_owned);
            Some((kid, serde_json::Value::Object(key).to_string(), alg))
        })
        .collect())
}
