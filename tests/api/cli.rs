//! The `todo-graphql` binary: start-up checks, `print-schema`, `migrate`, and a real
//! process answering a cookie that Better Auth itself signed.

use std::{collections::BTreeSet, process::Stdio, time::Duration};

use serde_json::{Value, json};

use crate::helpers::*;

#[test]
fn a_bad_setting_stops_start_up_with_one_line_naming_it_and_exit_code_2() {
    let url = "postgres://app:hunter2@127.0.0.1:1/todo";
    let cases: [(&[(&str, &str)], &str); 6] = [
        (&[("DATABASE_URL", url)], "BETTER_AUTH_SECRET"),
        (&[("DATABASE_URL", "mysql://app:hunter2@db/todo"), ("BETTER_AUTH_SECRET", "s3cret")], "DATABASE_URL"),
        (&[("ALLOW_EMBEDDED", "false"), ("BETTER_AUTH_SECRET", "s3cret")], "DATABASE_URL"),
        (&[("DATABASE_URL", "postgres://app:hunter2@db:notaport/x"), ("BETTER_AUTH_SECRET", "s3cret")], "DATABASE_URL"),
        (&[("DATABASE_URL", url), ("BETTER_AUTH_SECRET", "s3cret"), ("PORT", "80800")], "PORT"),
        (&[("DATABASE_URL", url), ("BETTER_AUTH_SECRET", "s3cret"), ("PORT", "eighty")], "PORT"),
    ];
    for (env, setting) in cases {
        let output = binary().envs(env.iter().copied()).output().unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(2), "{setting}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(setting), "{stderr}");
        assert!(!stderr.contains("hunter2") && !stderr.contains("s3cret"), "a secret was printed: {stderr}");
        assert!(output.stdout.is_empty());
    }
    let output = binary().args(["--port", "x", "--database-url", url, "--better-auth-secret", "s"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "flags are checked like the environment");
}

#[test]
fn print_schema_writes_schema_graphql() {
    let output = binary().arg("print-schema").output().unwrap();
    assert!(output.status.success());
    let checked_in = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    assert!(String::from_utf8(output.stdout).unwrap() == checked_in, "print-schema differs from schema.graphql");
}

#[tokio::test]
async fn the_binary_migrates_a_fresh_database_and_answers_a_cookie_better_auth_signed() {
    let database = TestDatabase::better_auth_only().await;
    let db = database.connect().await;
    let status = binary()
        .arg("migrate")
        .env("DATABASE_URL", &database.url)
        .env("BETTER_AUTH_SECRET", SECRET)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "todo-graphql migrate");

    // The first vector: a cookie value the real Better Auth 1.7.25 produced.
    let vectors: Value = serde_json::from_str(include_str!("../fixtures/better-auth/vectors.json")).unwrap();
    let vector = &vectors["vectors"][0];
    assert_eq!(vector["expected"]["valid"], true);
    let user = insert_user_with_token(&db, vector["token"].as_str().unwrap()).await;

    let port = free_port();
    let _server = Running(
        binary()
            .env("DATABASE_URL", &database.url)
            .env("BETTER_AUTH_SECRET", SECRET)
            .env("PORT", port.to_string())
            .env("HOST", "127.0.0.1")
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_health(port, Duration::from_secs(20), String::new).await;
    let client = reqwest::Client::new();
    let graphql = |query: &str| {
        client
            .post(format!("http://127.0.0.1:{port}/graphql"))
            .header("cookie", vector["cookie_header"].as_str().unwrap())
            .json(&json!({ "query": query }))
            .send()
    };
    let body: Value = graphql(r#"mutation { createTask(input: { title: "from the binary" }) { title } }"#)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"]["createTask"]["title"], "from the binary", "{body}");
    let body: Value = graphql("{ me { email } tasks { nodes { title } } }").await.unwrap().json().await.unwrap();
    assert_eq!(
        body["data"],
        json!({ "me": { "email": user.email }, "tasks": { "nodes": [{ "title": "from the binary" }] } })
    );
}

#[tokio::test]
async fn seed_adds_tasks_in_batches_for_existing_users_only() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    let seed = |ids: &[&str]| {
        let mut command = binary();
        command.arg("seed").env("DATABASE_URL", &app.database.url).env("BETTER_AUTH_SECRET", SECRET);
        for id in ids {
            command.args(["--user-id", id]);
        }
        command.args(["--tasks-per-user", "2500"]).output().unwrap()
    };
    let output = seed(&[&ada.id, "no-such-user"]);
    assert!(!output.status.success(), "an unknown user id is refused");
    let count: i64 = app.scalar("SELECT count(*) FROM tasks", []).await;
    assert_eq!(count, 0, "and nothing was added");

    let mut users = binary();
    users.args(["seed", "--users", "2"]).env("DATABASE_URL", &app.database.url).env("BETTER_AUTH_SECRET", SECRET);
    assert!(!users.output().unwrap().status.success(), "with PostgreSQL, users belong to Better Auth");

    let output = seed(&[&ada.id]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let count: i64 = app.scalar("SELECT count(*) FROM tasks WHERE user_id = $1", [ada.id.clone().into()]).await;
    assert_eq!(count, 2500, "more than one batch");
    let body = app
        .graphql(Some(&ada), "{ tasks(first: 1) { nodes { title } totalCount } taskStats { completed } }", json!({}))
        .await;
    assert_eq!(body["data"]["tasks"]["totalCount"], 2500, "{body}");
    assert_eq!(body["data"]["tasks"]["nodes"][0]["title"], "Demo task 1", "newest first");
    assert_eq!(body["data"]["taskStats"]["completed"], 834);
}

/// The environment variable of every setting `clap` knows, flattened `Args` included.
fn declared_settings() -> BTreeSet<String> {
    use clap::CommandFactory;
    let command = todo_graphql::config::Cli::command();
    let names: BTreeSet<String> =
        command.get_arguments().filter_map(|arg| arg.get_env()).map(|env| env.to_string_lossy().into_owned()).collect();
    assert!(names.len() > 40 && names.contains("PORT") && names.contains("WS_PING_SECS"), "{names:?}");
    names
}

/// Fails naming each setting `clap` knows that `listed` lacks, and each it has that
/// `clap` does not know.
fn lists_exactly_the_declared_settings(listed: &BTreeSet<String>, what: &str) {
    let declared = declared_settings();
    let missing: Vec<&String> = declared.difference(listed).collect();
    let unknown: Vec<&String> = listed.difference(&declared).collect();
    assert!(missing.is_empty() && unknown.is_empty(), "{what}: missing {missing:?}, not a setting {unknown:?}");
}

#[test]
fn env_example_lists_exactly_the_settings_the_binary_reads() {
    // `NAME=value`, or `# NAME=value` for one that is unset by default.
    let listed: BTreeSet<String> = include_str!("../../.env.example")
        .lines()
        .map(|line| line.trim_start_matches('#').trim_start())
        .filter_map(|line| line.split_once('=').map(|(name, _)| name))
        .filter(|name| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .map(str::to_owned)
        .collect();
    lists_exactly_the_declared_settings(&listed, ".env.example");
}

#[test]
fn the_readme_settings_table_lists_exactly_the_settings_the_binary_reads() {
    let readme = include_str!("../../README.md");
    let section = readme.split("\n## Configuration\n").nth(1).expect("a Configuration section");
    let section = section.split("\n## ").next().unwrap_or(section);
    // The first column of each row: one setting, or several separated by commas.
    let listed: BTreeSet<String> = section
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|row| row.split(" | ").next())
        .flat_map(|cell| cell.split(',').map(|name| name.trim().trim_matches('`').to_owned()))
        .collect();
    lists_exactly_the_declared_settings(&listed, "the README's settings table");
}
