//! Parsed, measured documents, and the cache that keeps them by SHA-256.
//!
//! Every request's document goes through [`Documents::prepare`] once: looked up by
//! its hash, else scanned, parsed and measured ([`super::limits`]) and, when it passes
//! and is small enough, kept. The same cache answers automatic persisted queries, so
//! a hash-only request finds a document that is already parsed, and a repeated
//! document skips parsing. It is bounded by bytes (an estimate of the parsed
//! document, not a count of entries), and only documents that parse and pass the
//! limits go in.

use std::sync::Arc;

use async_graphql::parser::types::ExecutableDocument;
use quick_cache::{Weighter, sync::Cache};
use sha2::{Digest, Sha256};

use super::limits::{self, Measure, Prepared};
use crate::config::Limits;

/// Documents longer than this are scanned and parsed on the blocking pool, so a
/// request never holds an I/O thread for more than a millisecond or so.
const PARSE_INLINE_BYTES: usize = 16 * 1024;

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// A document ready to execute.
#[derive(Debug)]
pub struct Document {
    /// The parsed document, cloned into each request that runs it.
    pub parsed: ExecutableDocument,
    /// Its totals, for a batch's budget.
    pub measure: Measure,
    /// Its text, which async-graphql's errors and extensions still read.
    pub text: Arc<str>,
    /// Bytes it is estimated to hold in memory.
    weight: u64,
}

#[derive(Clone)]
struct ByWeight;

impl Weighter<Hash, Arc<Document>> for ByWeight {
    fn weight(&self, _hash: &Hash, document: &Arc<Document>) -> u64 {
        document.weight
    }
}

/// The parsed-document cache and the limits documents are held to.
pub struct Documents {
    cache: Cache<Hash, Arc<Document>, ByWeight>,
    limits: Limits,
}

/// Why a document cannot run.
#[derive(Debug)]
pub enum Refused {
    /// It does not parse.
    Parse(async_graphql::parser::Error),
    /// It is over a limit.
    Limit(limits::Refusal),
}

impl Documents {
    /// A cache of at most `limits.apq_cache_bytes`, keeping documents of at most
    /// `limits.apq_max_document_bytes`.
    pub fn new(limits: &Limits) -> Self {
        let bytes = u64::try_from(limits.apq_cache_bytes).unwrap_or(u64::MAX);
        // A typical operation weighs a few KiB; the estimate only sizes the shards.
        let estimated = (limits.apq_cache_bytes / 4096).max(16);
        Self { cache: Cache::with_weighter(estimated, bytes, ByWeight), limits: limits.clone() }
    }

    /// Refuses a document longer than `MAX_QUERY_BYTES` before anything reads it:
    /// parsing (and hashing) costs time in proportion to its length.
    ///
    /// # Errors
    /// [`limits::Refusal::Bytes`].
    pub fn check_size(&self, text: &str) -> Result<(), Refused> {
        let limit = self.limits.max_query_bytes;
        if text.len() > limit { Err(Refused::Limit(limits::Refusal::Bytes { limit })) } else { Ok(()) }
    }

    /// The document stored under `hash`, if any.
    pub fn get(&self, hash: &Hash) -> Option<Arc<Document>> {
        self.cache.get(hash)
    }

    /// The document of `text`, from the cache or freshly parsed and measured; kept
    /// when it passes and is small enough.
    ///
    /// # Errors
    /// When the document does not parse or is over a limit.
    pub async fn prepare(&self, text: &str) -> Result<Arc<Document>, Refused> {
        self.check_size(text)?;
        self.prepare_hashed(text, sha256(text)).await
    }

    /// [`Self::prepare`] for a document whose SHA-256 the caller already has.
    ///
    /// # Errors
    /// As [`Self::prepare`].
    pub async fn prepare_hashed(&self, text: &str, hash: Hash) -> Result<Arc<Document>, Refused> {
        self.check_size(text)?;
        let cacheable = text.len() <= self.limits.apq_max_document_bytes;
        let hash = cacheable.then_some(hash);
        if let Some(document) = hash.as_ref().and_then(|hash| self.cache.get(hash)) {
            return Ok(document);
        }
        let document = if text.len() > PARSE_INLINE_BYTES {
            let (text, limits) = (Arc::<str>::from(text), self.limits.clone());
            tokio::task::spawn_blocking(move || build(text, &limits))
                .await
                .unwrap_or_else(|err| std::panic::resume_unwind(err.into_panic()))?
        } else {
            build(Arc::from(text), &self.limits)?
        };
        let document = Arc::new(document);
        if let Some(hash) = hash {
            self.cache.insert(hash, document.clone());
        }
        Ok(document)
    }
}

fn build(text: Arc<str>, limits: &Limits) -> Result<Document, Refused> {
    let (parsed, measure, tokens) = limits::prepare(&text, limits).map_err(|err| match err {
        Prepared::Parse(err) => Refused::Parse(err),
        Prepared::Refused(refusal) => Refused::Limit(refusal),
    })?;
    // Each token becomes a node of a few dozen bytes, positions and names included.
    let weight = (text.len() as u64).saturating_add(128 * tokens as u64).saturating_add(256);
    Ok(Document { parsed, measure, text, weight })
}

/// The SHA-256 of `text`.
pub fn sha256(text: &str) -> Hash {
    Sha256::digest(text.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(cache_bytes: usize) -> Limits {
        Limits { apq_cache_bytes: cache_bytes, apq_max_document_bytes: 1024, ..Limits::default() }
    }

    #[tokio::test]
    async fn documents_that_pass_are_kept_and_others_are_not() {
        let documents = Documents::new(&limits(1 << 20));
        let query = "{ __typename }";
        let first = documents.prepare(query).await.unwrap();
        let again = documents.prepare(query).await.unwrap();
        assert!(Arc::ptr_eq(&first, &again), "a repeat is served from the cache");
        assert!(documents.get(&sha256(query)).is_some());

        let comments = format!("# {}\n", "x".repeat(500));
        assert!(matches!(documents.prepare(&comments).await, Err(Refused::Parse(_))));
        assert!(documents.get(&sha256(&comments)).is_none(), "a document that does not parse is never kept");

        let big = format!("{{ __typename }} # {}", "x".repeat(2000));
        documents.prepare(&big).await.unwrap();
        assert!(documents.get(&sha256(&big)).is_none(), "larger than the document cap: run, not kept");
    }

    #[tokio::test]
    async fn the_cache_is_bounded_by_bytes() {
        let documents = Documents::new(&limits(64 * 1024));
        for n in 0..1000 {
            let query = format!("query Q{n} {{ __typename }} # {}", "y".repeat(500));
            documents.prepare(&query).await.unwrap();
        }
        assert!(documents.cache.weight() <= 64 * 1024, "weight {}", documents.cache.weight());
        assert!(documents.cache.len() < 1000);
    }
}
