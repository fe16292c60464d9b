//! The Dockerfile and fly.toml agree with the code.

use std::path::PathBuf;

use crate::helpers::*;

fn repo_file(name: &str) -> String {
    std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(name)).unwrap()
}

/// The JSON array of a Dockerfile instruction in exec form.
fn exec_form(dockerfile: &str, instruction: &str) -> Vec<String> {
    let line = dockerfile
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{instruction} ")))
        .unwrap_or_else(|| panic!("the Dockerfile has no {instruction}"));
    serde_json::from_str(line).unwrap()
}

#[tokio::test]
async fn the_dockerfile_and_fly_toml_agree_with_the_code() {
    use clap::Parser as _;
    let dockerfile = repo_file("Dockerfile");
    let fly: toml::Table = repo_file("fly.toml").parse().unwrap();
    let ci = repo_file(".ci/run");

    // The binary: built by the same command CI runs, copied to the entrypoint.
    let build = "cargo build --release --locked --bin todo-graphql";
    assert!(dockerfile.contains(build) && ci.contains(build), "Dockerfile and .ci/run build alike");
    assert!(env!("CARGO_BIN_EXE_todo-graphql").ends_with("/todo-graphql"));
    let entrypoint = exec_form(&dockerfile, "ENTRYPOINT");
    assert_eq!(entrypoint, ["/usr/local/bin/todo-graphql"]);
    assert!(dockerfile.contains("COPY --from=builder /app/target/release/todo-graphql /usr/local/bin/todo-graphql"));
    assert_eq!(exec_form(&dockerfile, "CMD"), ["serve"]);
    assert!(dockerfile.lines().any(|l| l.starts_with("USER ") && !l.contains("root ") && l != "USER root"));
    assert!(dockerfile.contains("FROM gcr.io/distroless/cc"), "a small final image with CA certificates");
    assert!(dockerfile.contains("ALLOW_EMBEDDED=false"), "a deployed image never falls back to a SQLite file");

    // The port: code default, Dockerfile, fly.toml.
    use clap::CommandFactory as _;
    let command = todo_graphql::config::Cli::command();
    let port = command.get_arguments().find(|arg| arg.get_id() == "port").unwrap();
    assert_eq!(port.get_default_values(), ["8080"], "the code's default port");
    assert!(dockerfile.contains("EXPOSE 8080") && dockerfile.contains("PORT=8080"));
    let http = fly["http_service"].as_table().unwrap();
    assert_eq!(http["internal_port"].as_integer(), Some(8080));
    assert_eq!(fly["env"]["PORT"].as_str(), Some("8080"));
    let metrics_addr: std::net::SocketAddr = fly["env"]["METRICS_ADDR"].as_str().unwrap().parse().unwrap();
    assert_eq!(fly["metrics"]["port"].as_integer(), Some(i64::from(metrics_addr.port())), "Fly scrapes METRICS_ADDR");
    assert!(metrics_addr.ip().is_unspecified(), "Fly's scraper reaches the machine over its private address");
    assert_eq!(http["force_https"].as_bool(), Some(true));
    assert_eq!(http["min_machines_running"].as_integer(), Some(0));
    assert_eq!(http["auto_start_machines"].as_bool(), Some(true));
    assert!(http["auto_stop_machines"].as_str().is_some_and(|v| v == "stop" || v == "suspend"));
    let concurrency = http["concurrency"].as_table().unwrap();
    assert_eq!(concurrency["type"].as_str(), Some("requests"));
    assert!(concurrency["soft_limit"].as_integer() < concurrency["hard_limit"].as_integer());

    // The release command is the binary's migrate command.
    let release = fly["deploy"]["release_command"].as_str().unwrap();
    let argv: Vec<&str> = entrypoint.iter().map(String::as_str).chain(release.split_whitespace()).collect();
    let cli = todo_graphql::config::Cli::try_parse_from(argv).unwrap();
    assert_eq!(cli.command, Some(todo_graphql::config::Command::Migrate));
    assert_eq!(fly["env"]["RUN_MIGRATIONS"].as_str(), Some("false"), "the release command migrates");

    // Shutdown: SIGTERM, and Fly waits longer than the drain.
    assert_eq!(fly["kill_signal"].as_str(), Some("SIGTERM"));
    let kill_timeout: u64 = fly["kill_timeout"].as_str().unwrap().trim_end_matches('s').parse().unwrap();
    let drain: u64 = fly["env"]["SHUTDOWN_DRAIN_SECS"].as_str().unwrap().parse().unwrap();
    assert!(kill_timeout > drain, "kill_timeout {kill_timeout}s must exceed the drain {drain}s");

    // Every [env] name is a real setting, and the paths Fly calls exist.
    for name in fly["env"].as_table().unwrap().keys() {
        let flag = format!("--{}", name.to_lowercase().replace('_', "-"));
        let value = fly["env"][name].as_str().unwrap();
        todo_graphql::config::Cli::try_parse_from(["todo-graphql", &flag, value])
            .unwrap_or_else(|err| panic!("fly.toml sets {name}, which the binary does not know: {err}"));
    }
    let checks = http["checks"].as_array().unwrap();
    let app = spawn_app_with(|config| config.metrics_addr = Some(([127, 0, 0, 1], 0).into())).await;
    for path in checks.iter().map(|c| c["path"].as_str().unwrap()) {
        assert_eq!(app.get(path).await.status(), 200, "{path}");
    }
    let metrics = format!("{}{}", app.metrics_address.as_deref().unwrap(), fly["metrics"]["path"].as_str().unwrap());
    assert_eq!(app.client.get(metrics).send().await.unwrap().status(), 200, "Fly's metrics path");
    assert_eq!(checks[0]["path"].as_str(), Some("/health"));
    app.execute("ALTER TABLE tasks RENAME TO t", []).await;
    assert_eq!(app.get("/health").await.status(), 200, "the health check never depends on the database");
}
