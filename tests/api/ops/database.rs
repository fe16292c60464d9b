//! The database: retried at start-up for a bounded time, answered as
//! SERVICE_UNAVAILABLE when it goes away, and reached over TLS when required.

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use sea_orm::{ConnectionTrait, Database};
use serde_json::json;

use crate::{helpers::*, postgres::Throwaway};

#[test]
fn start_up_retries_an_unreachable_database_for_a_bounded_time() {
    let port = free_port();
    let started = Instant::now();
    let output = binary()
        .env("DATABASE_URL", format!("postgres://postgres@127.0.0.1:{port}/todo"))
        .env("BETTER_AUTH_SECRET", SECRET)
        .env("LOG_FORMAT", "json")
        .env("DATABASE_CONNECT_RETRY_SECS", "2")
        .env("DATABASE_ACQUIRE_TIMEOUT_SECS", "1")
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(log.contains("retrying"), "{log}");
    assert!(elapsed >= Duration::from_millis(1500) && elapsed < Duration::from_secs(15), "{elapsed:?}");
}

/// A CA and a server certificate for 127.0.0.1 and localhost, signed by it.
fn certificates() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .unwrap()
        .signed_by(&server_key, &issuer)
        .unwrap();
    (ca.pem(), server.pem(), server_key.serialize_pem())
}

#[tokio::test]
async fn tls_is_used_when_required_and_plain_text_is_refused() {
    let (ca, cert, key) = certificates();
    let server = Throwaway::start(
        &["ssl=on".into(), "ssl_cert_file=server.crt".into(), "ssl_key_file=server.key".into()],
        Some("local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n"),
        |data| {
            std::fs::write(data.join("server.crt"), &cert).unwrap();
            std::fs::write(data.join("server.key"), &key).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(data.join("server.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
        },
    );
    let ca_file = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("ca-{}.pem", server.port));
    std::fs::write(&ca_file, &ca).unwrap();
    let base = server.url("postgres");

    for params in ["sslmode=require".to_owned(), format!("sslmode=verify-full&sslrootcert={}", ca_file.display())] {
        let config = test_config(&format!("{base}?{params}")).database;
        let (db, _) = todo_graphql::db::connect(&config).await.unwrap_or_else(|err| panic!("{params}: {err}"));
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            ))
            .await
            .unwrap()
            .unwrap();
        assert!(row.try_get_by_index::<bool>(0).unwrap(), "{params}: the connection is not encrypted");
        db.close().await.unwrap();
    }
    let unverified = Database::connect(format!("{base}?sslmode=verify-full")).await;
    assert!(unverified.is_err(), "verify-full must refuse a certificate from an unknown CA");
    let plain = Database::connect(format!("{base}?sslmode=disable")).await;
    let Err(err) = plain else { panic!("a plain-text connection must be refused") };
    let err = err.to_string();
    assert!(err.contains("no encryption") || err.contains("pg_hba"), "{err}");
}

#[tokio::test]
async fn a_database_that_stops_taking_connections_answers_service_unavailable_with_a_request_id() {
    let app = spawn_app_with(|config| config.database.acquire_timeout = std::time::Duration::from_secs(1)).await;
    let ada = app.create_user("Ada").await;
    let name = &app.database.name;
    on_server(&format!(
        "ALTER DATABASE {name} ALLOW_CONNECTIONS false;
         SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}';"
    ))
    .await;
    let body = app.graphql(Some(&ada), "{ tasks { totalCount } }", json!({})).await;
    assert_eq!(error_code(&body), "SERVICE_UNAVAILABLE", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["requestId"].as_str().map(str::is_empty), Some(false));
}
