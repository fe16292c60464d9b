//! Automatic persisted queries, as Apollo's protocol defines them: a client sends
//! `extensions.persistedQuery.sha256Hash` alone; an unknown hash answers
//! `PersistedQueryNotFound`, and the client retries with the document, which is
//! then remembered (in a bounded LRU) under its verified hash.

use std::{num::NonZeroUsize, sync::Mutex};

use async_graphql::{Request, Value};
use lru::LruCache;
use sha2::{Digest, Sha256};

/// Why a persisted query could not be used.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApqError {
    /// A hash the service has not seen (or has forgotten); the client resends the document.
    #[error("PersistedQueryNotFound")]
    NotFound,
    /// The document does not hash to the hash sent with it.
    #[error("provided sha does not match query")]
    HashMismatch,
    /// A malformed `persistedQuery` extension or a version other than 1.
    #[error("unsupported persisted query: expected version 1 and a sha256Hash")]
    Unsupported,
}

/// The documents seen, by SHA-256.
pub struct PersistedQueries {
    cache: Mutex<LruCache<String, String>>,
}

impl PersistedQueries {
    /// A store that remembers at most `capacity` documents.
    pub fn new(capacity: usize) -> Self {
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        Self { cache: Mutex::new(LruCache::new(capacity)) }
    }

    /// Fills in or records the request's document when it carries a persisted query.
    ///
    /// # Errors
    /// An unknown hash, a hash that does not match, or a malformed extension.
    pub fn resolve(&self, request: &mut Request) -> Result<(), ApqError> {
        let Some(extension) = request.extensions.get("persistedQuery") else {
            return Ok(());
        };
        let hash = persisted_hash(extension)?;
        let mut cache = self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if request.query.is_empty() {
            request.query = cache.get(&hash).cloned().ok_or(ApqError::NotFound)?;
        } else if hex::encode(Sha256::digest(request.query.as_bytes())) == hash {
            cache.put(hash, request.query.clone());
        } else {
            return Err(ApqError::HashMismatch);
        }
        Ok(())
    }
}

fn persisted_hash(extension: &Value) -> Result<String, ApqError> {
    let Value::Object(fields) = extension else {
        return Err(ApqError::Unsupported);
    };
    let version_one = matches!(fields.get("version"), Some(Value::Number(n)) if n.as_u64() == Some(1));
    match fields.get("sha256Hash") {
        Some(Value::String(hash)) if version_one && hash.len() == 64 => Ok(hash.to_ascii_lowercase()),
        _ => Err(ApqError::Unsupported),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn persisted(query: &str, hash: &str) -> Request {
        let mut request = Request::new(query);
        let extension = serde_json::json!({ "version": 1, "sha256Hash": hash });
        request.extensions.insert("persistedQuery".into(), Value::from_json(extension).unwrap());
        request
    }

    #[test]
    fn a_hash_is_unknown_until_its_document_is_sent_once() {
        let store = PersistedQueries::new(2);
        let query = "{ __typename }";
        let hash = hex::encode(Sha256::digest(query));
        assert_eq!(store.resolve(&mut persisted("", &hash)), Err(ApqError::NotFound));
        assert_eq!(store.resolve(&mut persisted(query, &hash)), Ok(()));
        let mut again = persisted("", &hash);
        assert_eq!(store.resolve(&mut again), Ok(()));
        assert_eq!(again.query, query);
    }

    #[test]
    fn a_wrong_hash_is_refused_and_the_cache_is_bounded() {
        let store = PersistedQueries::new(1);
        let wrong = "0".repeat(64);
        assert_eq!(store.resolve(&mut persisted("{ a }", &wrong)), Err(ApqError::HashMismatch));
        let first = hex::encode(Sha256::digest("{ a }"));
        store.resolve(&mut persisted("{ a }", &first)).unwrap();
        store.resolve(&mut persisted("{ b }", &hex::encode(Sha256::digest("{ b }")))).unwrap();
        assert_eq!(store.resolve(&mut persisted("", &first)), Err(ApqError::NotFound));
        assert_eq!(store.resolve(&mut persisted("", "short")), Err(ApqError::Unsupported));
    }
}
