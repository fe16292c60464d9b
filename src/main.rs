//! The `todo-graphql` command: `serve` (the default), `migrate`, `print-schema`.

use std::process::ExitCode;

use clap::Parser;
use todo_graphql::{
    config::{Cli, Command, Config, SeedArgs},
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
    db::migrate(&config.database).await?;
    let (db, _) = db::connect(&config.database).await?;
    let started = std::time::Instant::now();
    let added = db::seed::tasks(&db, &args.user_ids, args.tasks_per_user).await?;
    tracing::info!(added, seconds = started.elapsed().as_secs_f64(), "seeded");
    db.close().await?;
    Ok(())
}

async fn serve(config: &Config) -> anyhow::Result<()> {
    let app = Application::build(config).await?;
    tracing::info!(
        port = app.port(),
        database.host = %config.database.host(),
        "listening on http://{}:{}/graphql",
        config.host,
        app.port()
    );
    app.run_until_stopped().await
}
