//! The `todo-graphql` command: `serve` (the default), `migrate`, `print-schema`.

use std::process::ExitCode;

use clap::Parser;
use todo_graphql::{
    config::{Backend, Cli, Command, Config, SeedArgs},
    db, graphql,
    startup::Application,
    telemetry,
};

#[tokio::main]
async fn main() -> ExitCode {
    // A missing .env is fine; the environment and flags still apply.
    dotenvy::dotenv().ok();
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    if matches!(command, Command::PrintSchema) {
        print!("{}", graphql::sdl());
        return ExitCode::SUCCESS;
    }
    let config = match Config::from_settings(&cli.settings) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("todo-graphql: {err}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(config.log_format);
    let result = match command {
        Command::Migrate => db::migrate(&config.database).await.map(|applied| {
            tracing::info!(applied, "migrations are up to date");
        }),
        Command::Seed(args) => seed(&config, &args).await,
        _ => serve(&config).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = format!("{err:#}"), "todo-graphql stopped");
            ExitCode::FAILURE
        }
    }
}

async fn seed(config: &Config, args: &SeedArgs) -> anyhow::Result<()> {
    let (db, _) = db::connect(&config.database).await?;
    db::migrate_if_pending(&db, &config.database).await?;
    let started = std::time::Instant::now();
    let user_ids = match (config.database.backend(), args.users) {
        (Backend::Sqlite, Some(users)) => {
            db::embedded::prepare(&db, None).await?;
            db::seed::users(&db, users).await?
        }
        (Backend::Postgres, Some(_)) => {
            anyhow::bail!("--users needs embedded mode: with PostgreSQL, users belong to Better Auth (use --user-id)")
        }
        (_, None) if args.user_ids.is_empty() => {
            anyhow::bail!("say whose tasks: --user-id <id> (or --users N in embedded mode)")
        }
        (_, None) => args.user_ids.clone(),
    };
    let added = db::seed::tasks(&db, &user_ids, args.tasks_per_user).await?;
    tracing::info!(added, seconds = started.elapsed().as_secs_f64(), "seeded");
    db.close().await?;
    Ok(())
}

async fn serve(config: &Config) -> anyhow::Result<()> {
    let app = Application::build(config).await?;
    println!("{}", banner(config, &app));
    app.run_until_stopped().await
}

/// What a person starting the service reads first: where to click, how to call it.
/// Never a password; the demo token only in embedded mode, where it is the point.
fn banner(config: &Config, app: &Application) -> String {
    let host = if config.host.is_unspecified() { "localhost".to_owned() } else { config.host.to_string() };
    let url = format!("http://{host}:{}/graphql", app.port());
    match app.demo() {
        Some(demo) => format!(
            "todo-graphql is serving an embedded SQLite database.\n\n  \
             GraphiQL: {url}  (signed in as {email})\n  \
             curl:     curl -s {url} -H 'content-type: application/json' -H 'authorization: Bearer {token}' \\\n              \
             -d '{{\"query\":\"{{ me {{ email }} tasks {{ nodes {{ title completed }} }} }}\"}}'\n\n\
             Your Better Auth database instead: DATABASE_URL=postgres://… BETTER_AUTH_SECRET=… cargo run",
            email = demo.email,
            token = demo.token,
        ),
        None => format!("todo-graphql is serving {url} from the PostgreSQL database at {}", config.database.host()),
    }
}
