//! Hostile documents against the running binary (issue 8): each is refused fast or
//! answered correctly, the process's CPU time and peak resident memory measured
//! around it, and `/health` still answers afterwards. The standard introspection
//! queries and the client suite's operations still pass.

use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

mod clients;
mod documents;
pub mod service;

use documents::*;
use service::{Service, short};

// Every bound these tests use. The service's limits as the design names them
// (defaults may still move; adjust here):
/// `MAX_BODY_BYTES`: larger bodies answer 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// `MAX_BATCH`.
pub const MAX_BATCH: usize = 10;
/// `MAX_ALIASES`.
pub const MAX_ALIASES: usize = 15;
/// `MAX_DIRECTIVES`.
pub const MAX_DIRECTIVES: usize = 50;
/// `MAX_INTROSPECTION_ROOTS`.
pub const MAX_INTROSPECTION_ROOTS: usize = 3;
/// `MAX_RESPONSE_BYTES` for the response-size test (set on the command line).
pub const SMALL_MAX_RESPONSE_BYTES: usize = 2048;
/// `APQ_MAX_DOCUMENT_BYTES` for the APQ registration test (set on the command line).
pub const SMALL_APQ_MAX_DOCUMENT_BYTES: usize = 2048;
// The hostile documents:
/// A document's JSON-encoded size that leaves room for the rest of the body.
pub const BODY_BUDGET: usize = MAX_BODY_BYTES - 1024;
/// Fragments in the fragment bomb: 2^30 fields once expanded.
pub const FRAGMENT_BOMB: usize = 30;
/// Aliases of `__typename` in the wide document.
pub const WIDE_ALIASES: usize = 5000;
/// Directives on one field.
pub const DIRECTIVES: usize = 1000;
/// `fields { type { … } }` levels under `__type`.
pub const NESTED_TYPE_LEVELS: usize = 8;
/// `{a{a{…}}}` levels, against parser recursion.
pub const NESTING: usize = 10_000;
/// Comment-only documents registered as persisted queries, and their size (under
/// `MAX_QUERY_BYTES`, so each is really parsed): 39 MiB
/// in all, well above `APQ_RSS_GROWTH`, so storing them fails the test. (The issue's
/// 200 × 1 MB costs minutes of CPU in a debug build; bench/abuse.py sends those.)
pub const APQ_POSTS: usize = 200;
pub const APQ_DOCUMENT_BYTES: usize = 200 * 1024;
// What one request may cost the service (a DEBUG build; exponential blow-ups
// cost seconds to minutes, so these still tell broken from fixed):
/// CPU time per request, plus an allowance per MiB of body for reading, hashing and
/// parsing it (a debug build's parser takes about 0.5 s per MiB of comments).
pub const CPU_PER_REQUEST: Duration = Duration::from_millis(500);
pub const CPU_PER_BODY_MIB: Duration = Duration::from_millis(1500);
/// Peak resident memory of the process.
pub const PEAK_RSS: u64 = 128 * MIB;
/// Resident memory the 200 APQ registrations may add.
pub const APQ_RSS_GROWTH: u64 = 32 * MIB;
/// `/health` answers within this after each document.
pub const HEALTH_WITHIN: Duration = Duration::from_secs(1);
/// The client gives up on a request after this (the test fails, never hangs).
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// The watchdog kills the service (and fails the test) above these, so a blow-up
/// cannot take the machine down.
pub const KILL_ABOVE_RSS: u64 = 512 * MIB;
pub const KILL_ABOVE_CPU: Duration = Duration::from_secs(3);
/// The binary answers `/health` within this after start.
pub const START_WITHIN: Duration = Duration::from_secs(20);
/// The fuzz run: documents, seed (`FUZZ_SEED` overrides), the service's
/// `REQUEST_TIMEOUT_SECS` and the client's timeout, just above it.
pub const FUZZ_DOCUMENTS: usize = 300;
pub const FUZZ_SEED: u64 = 0x5eed_0008;
pub const FUZZ_REQUEST_TIMEOUT_SECS: &str = "5";
pub const FUZZ_CLIENT_TIMEOUT: Duration = Duration::from_secs(6);

pub const MIB: u64 = 1024 * 1024;

const VALIDATION: &str = "GRAPHQL_VALIDATION_FAILED";
const PARSE: &str = "GRAPHQL_PARSE_FAILED";
const REFUSALS: &[&str] = &[VALIDATION, PARSE];

/// Posts `document` to a fresh service; it must be refused with one of `codes`, cheaply.
async fn refused_fast(label: &str, document: &str, codes: &[&str]) {
    let service = Service::start(&[]).await;
    service.post(label, body(document), None).await.assert_cheap().assert_refused(codes);
    service.assert_healthy(label).await;
}

/// Posts `document`; it must be refused with a refusal code or answered with `data`, cheaply.
async fn refused_or_answered_fast(label: &str, document: &str, data: Value) {
    let service = Service::start(&[]).await;
    service.post(label, body(document), None).await.assert_cheap().assert_refused_or(REFUSALS, &data);
    service.assert_healthy(label).await;
}

#[tokio::test]
async fn a_fragment_bomb_is_refused_fast() {
    refused_fast("fragment bomb", &fragment_bomb(FRAGMENT_BOMB), &[VALIDATION]).await;
}

#[tokio::test]
async fn an_introspection_alias_bomb_is_refused_fast() {
    refused_fast("introspection alias bomb", &introspection_alias_bomb(BODY_BUDGET), &[VALIDATION]).await;
}

#[tokio::test]
async fn a_batch_of_introspection_alias_bombs_is_refused_fast() {
    let service = Service::start(&[]).await;
    let bombs = (0..MAX_BATCH).map(|_| introspection_alias_bomb(BODY_BUDGET / MAX_BATCH - 64));
    let measured = service.post("batch of alias bombs", batch(bombs), None).await;
    measured.assert_cheap();
    assert_batch_refused(&measured.body, measured.status);
    service.assert_healthy("batch of alias bombs").await;
}

/// Refused as a whole (4xx with a code), or every operation refused without data.
fn assert_batch_refused(body: &Value, status: u16) {
    match body.as_array() {
        Some(answers) => {
            assert_eq!(status, 200, "{}", short(body));
            for answer in answers {
                assert_eq!(answer["errors"][0]["extensions"]["code"], VALIDATION, "{}", short(answer));
                assert!(answer.get("data").is_none(), "{}", short(answer));
            }
        }
        None => {
            assert!((400..500).contains(&status), "HTTP {status}: {}", short(body));
            let code = body["errors"][0]["extensions"]["code"].as_str().unwrap_or_default();
            assert!([VALIDATION, "BAD_REQUEST"].contains(&code), "{}", short(body));
        }
    }
}

#[tokio::test]
async fn five_thousand_aliases_are_refused_fast() {
    const { assert!(WIDE_ALIASES > MAX_ALIASES) };
    refused_fast("5000 aliases", &aliases(WIDE_ALIASES), &[VALIDATION]).await;
}

#[tokio::test]
async fn a_body_full_of_tokens_is_refused_fast() {
    refused_fast("~95k tokens", &tokens(BODY_BUDGET), &[VALIDATION]).await;
}

#[tokio::test]
async fn a_thousand_directives_are_refused_fast() {
    const { assert!(DIRECTIVES > MAX_DIRECTIVES) };
    refused_fast("1000 directives", &directives(DIRECTIVES), &[VALIDATION]).await;
}

#[tokio::test]
async fn nested_type_introspection_is_refused_fast() {
    refused_fast("nested __type", &nested_type(NESTED_TYPE_LEVELS), &[VALIDATION]).await;
}

#[tokio::test]
async fn ten_thousand_levels_of_nesting_are_refused_fast() {
    refused_fast("10k levels", &nesting(NESTING), REFUSALS).await;
}

#[tokio::test]
async fn a_megabyte_of_comments_is_answered_or_refused_fast() {
    refused_or_answered_fast("1 MiB of comments", &comments(BODY_BUDGET), json!({ "__typename": "Query" })).await;
}

#[tokio::test]
async fn a_megabyte_string_argument_is_answered_or_refused_fast() {
    refused_or_answered_fast("1 MiB string", &string_argument(BODY_BUDGET), json!({ "__type": null })).await;
}

#[tokio::test]
async fn a_body_full_of_operations_is_answered_or_refused_fast() {
    let service = Service::start(&[]).await;
    let request = json!({ "query": operations(BODY_BUDGET - 64), "operationName": "Q0" }).to_string();
    let measured = service.post("many operations", request, None).await;
    measured.assert_cheap().assert_refused_or(REFUSALS, &json!({ "__typename": "Query" }));
    service.assert_healthy("many operations").await;
}

#[tokio::test]
async fn a_batch_just_under_the_limits_is_refused_or_stays_cheap() {
    let service = Service::start(&[]).await;
    let measured = service
        .post("batch of near-limit introspection", batch(vec![near_limit_introspection(); MAX_BATCH]), None)
        .await;
    measured.assert_cheap();
    match measured.body.as_array() {
        Some(answers) if measured.status == 200 => {
            for answer in answers {
                let code = answer["errors"][0]["extensions"]["code"].as_str();
                assert!(code.is_none() || code == Some(VALIDATION), "{}", short(answer));
            }
        }
        _ => assert_batch_refused(&measured.body, measured.status),
    }
    service.assert_healthy("near-limit batch").await;
}

#[tokio::test]
async fn more_introspection_roots_than_allowed_are_refused() {
    let roots: String =
        (0..=MAX_INTROSPECTION_ROOTS).map(|i| format!(" s{i}: __schema {{ queryType {{ name }} }}")).collect();
    refused_fast("introspection roots", &format!("{{{roots} }}"), &[VALIDATION]).await;
}

/// A persisted query's body: the document with its SHA-256.
fn persisted(document: &str) -> String {
    let hash = hex::encode(Sha256::digest(document.as_bytes()));
    json!({ "query": document, "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } } }).to_string()
}

/// The hash alone, as Apollo sends it first.
fn hash_only(document: &str) -> String {
    let hash = hex::encode(Sha256::digest(document.as_bytes()));
    json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } } }).to_string()
}

#[tokio::test]
async fn unparseable_persisted_queries_are_never_stored_and_memory_stays_bounded() {
    let service = Service::start(&[]).await;
    let before = service.memory("VmRSS");
    let mut peak = before;
    for n in 0..APQ_POSTS {
        let label = format!("APQ registration {n}");
        let measured = service.post(&label, persisted(&comment_only(n, APQ_DOCUMENT_BYTES)), None).await;
        measured.assert_cheap().assert_refused(&[PARSE]);
        peak = peak.max(measured.peak_rss);
        assert!(peak - before < APQ_RSS_GROWTH, "after {n} registrations: {} MiB more", (peak - before) / MIB);
    }
    let lookup = service.post("APQ lookup", hash_only(&comment_only(0, APQ_DOCUMENT_BYTES)), None).await;
    assert_eq!(lookup.code(), Some("PERSISTED_QUERY_NOT_FOUND"), "{}", short(&lookup.body));
    service.assert_healthy("APQ registrations").await;
}

#[tokio::test]
async fn persisted_queries_over_the_document_cap_are_executed_but_not_stored() {
    let cap = SMALL_APQ_MAX_DOCUMENT_BYTES.to_string();
    let service = Service::start(&[("APQ_MAX_DOCUMENT_BYTES", &cap)]).await;
    let small = "query Small { __typename }";
    let large =
        format!("query Large {{ __typename }}\n{}", "# padding\n".repeat(SMALL_APQ_MAX_DOCUMENT_BYTES / 10 + 1));
    for document in [small, large.as_str()] {
        let measured = service.post("APQ registration", persisted(document), None).await;
        assert_eq!(measured.assert_answered(), &json!({ "__typename": "Query" }));
    }
    let small_hit = service.post("APQ small", hash_only(small), None).await;
    assert_eq!(small_hit.assert_answered(), &json!({ "__typename": "Query" }));
    let large_miss = service.post("APQ large", hash_only(&large), None).await;
    assert_eq!(large_miss.code(), Some("PERSISTED_QUERY_NOT_FOUND"), "{}", short(&large_miss.body));
}

#[tokio::test]
async fn include_and_skip_on_typename_follow_the_spec() {
    let service = Service::start(&[]).await;
    let request = json!({
        "query": "query Dir($no: Boolean!, $yes: Boolean!) { a: __typename @include(if: $no) b: __typename c: __typename @skip(if: $yes) d: __typename @skip(if: $no) }",
        "variables": { "no": false, "yes": true },
    });
    let measured = service.post("@include/@skip on __typename", request.to_string(), None).await;
    assert_eq!(measured.assert_answered(), &json!({ "b": "Query", "d": "Query" }));
}

#[tokio::test]
async fn a_response_over_the_size_ceiling_is_refused_with_a_clear_error() {
    let ceiling = SMALL_MAX_RESPONSE_BYTES.to_string();
    let service = Service::start(&[("MAX_RESPONSE_BYTES", &ceiling)]).await;
    let document = "{ __schema { types { name description } } }";
    let measured = service.post("large response", body(document), None).await;
    assert_eq!(measured.code(), Some("RESPONSE_TOO_LARGE"), "{}", short(&measured.body));
    assert!(measured.body["data"]["__schema"].is_null(), "the large data is not sent");
    let small = service.post("small response", body("{ __typename }"), None).await;
    assert_eq!(small.assert_answered(), &json!({ "__typename": "Query" }));
}

#[tokio::test]
async fn standard_introspection_queries_still_pass_cheaply() {
    let service = Service::start(&[]).await;
    for (label, document) in [("GraphiQL", GRAPHIQL_INTROSPECTION), ("graphql-js", GRAPHQL_JS_INTROSPECTION)] {
        let measured = service.post(label, body(document), None).await;
        let data = measured.assert_cheap().assert_answered();
        assert_eq!(data["__schema"]["queryType"]["name"], "Query", "{label}");
        assert!(data["__schema"]["types"].as_array().is_some_and(|t| t.len() > 10), "{label}");
    }
}
