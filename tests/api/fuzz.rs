//! A bounded grammar-based fuzz run against the binary: random operations generated
//! from `schema.graphql` with a fixed seed (`FUZZ_SEED` overrides it), half of them
//! signed in. No answer may be a 5xx, carry `INTERNAL_SERVER_ERROR`, or come later
//! than the request deadline; a failure prints the seed and the document.

use serde_json::{Value, json};

use crate::hostile::{FUZZ_CLIENT_TIMEOUT, FUZZ_DOCUMENTS, FUZZ_REQUEST_TIMEOUT_SECS, FUZZ_SEED, service::Service};

mod generator;

use generator::{Generator, Schema};

#[tokio::test]
async fn random_documents_from_the_schema_never_fail_the_server() {
    let seed = std::env::var("FUZZ_SEED").ok().map_or(FUZZ_SEED, |s| s.parse().expect("FUZZ_SEED is a number"));
    let schema = Schema::parse(include_str!("../../schema.graphql"));
    let mut generator = Generator::new(&schema, seed);
    let service = Service::start(&[("REQUEST_TIMEOUT_SECS", FUZZ_REQUEST_TIMEOUT_SECS)]).await;
    let cookie = service.sign_in().await;
    let client = reqwest::Client::builder().timeout(FUZZ_CLIENT_TIMEOUT).build().unwrap();
    let mut failures = Vec::new();
    for n in 0..FUZZ_DOCUMENTS {
        let generated = generator.next();
        let context =
            || format!("seed {seed}, document {n}:\n{}\nvariables: {}", generated.document, generated.variables);
        let mut request = client
            .post(service.url("/graphql"))
            .header("accept", "application/graphql-response+json, application/json;q=0.9")
            .json(&json!({ "query": generated.document, "variables": generated.variables }));
        if n % 2 == 1 {
            request = request.header("cookie", &cookie);
        }
        let response = request.send().await.unwrap_or_else(|err| panic!("no answer in time ({err:?}); {}", context()));
        let status = response.status();
        let body: Value = response.json().await.unwrap_or_else(|err| panic!("not JSON ({err}); {}", context()));
        let errors = body["errors"].as_array().map(Vec::as_slice).unwrap_or_default();
        if status.is_server_error() || errors.iter().any(|e| e["extensions"]["code"] == "INTERNAL_SERVER_ERROR") {
            failures.push(format!("HTTP {status}: {body}\n{}", context()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {FUZZ_DOCUMENTS} documents failed the server; the first ones:\n\n{}",
        failures.len(),
        failures.iter().take(5).cloned().collect::<Vec<_>>().join("\n\n")
    );
    service.assert_healthy("the fuzz run").await;
}
