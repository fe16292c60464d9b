//! The `todo-graphql` command: `serve` (the default), `migrate`, `print-schema`.

use std::process::ExitCode;

use todo_graphql::{
    config::{self, Backend, Cli, Command, Config, LogFormat, SeedArgs},
    db, graphql,
    observability::logs as telemetry,
    startup::Application,
};

#[tokio::main]
async fn main() -> ExitCode {
    // A missing .env is fine; the environment and flags still apply.
    dotenvy::dotenv().ok();
    let cli = match Cli::from_env() {
        Ok(cli) => cli,
        Err(err) => match config::one_line(&err) {
            Some(line) => {
                eprintln!("todo-graphql: {line}");
                return ExitCode::from(2);
            }
            None => err.exit(),
        },
    };
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
    let log_format = telemetry::init(config.log_format);
    let result = match command {
        Command::Migrate => db::migrate(&config.database).await.map(|applied| {
            tracing::info!(applied, "migrations are up to date");
        }),
        Command::Seed(args) => seed(&config, &args).await,
        _ => serve(&config, log_format).await,
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
            todo_graphql::embedded::prepare(&db, None).await?;
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
    let users = db::user::Users::prepare(&db, &config.better_auth_schema).await?;
    let added = db::seed::tasks(&db, &users, &user_ids, args.tasks_per_user).await?;
    tracing::info!(added, seconds = started.elapsed().as_secs_f64(), "seeded");
    db.close().await?;
    Ok(())
}

async fn serve(config: &Config, log_format: LogFormat) -> anyhow::Result<()> {
    let app = Application::build(config).await?;
    match log_format {
        LogFormat::Pretty => println!("{}", banner(config, &app)),
        LogFormat::Json => announce(config, &app),
    }
    app.run_until_stopped().await
}

/// Where the service answers, and where a browser on this machine reaches it.
struct Urls {
    /// The URL to print.
    url: String,
    /// The URL whose GraphiQL carries the demo token, when this machine's browser
    /// can reach one: the listener must be on loopback or every interface.
    local: Option<String>,
}

fn urls(config: &Config, app: &Application) -> Urls {
    let port = app.port();
    // The host names GraphiQL hands the token to (see `http::graphiql`), when this
    // listener answers on them.
    let name = match config.host {
        ip if ip.is_unspecified() => Some("localhost".to_owned()),
        ip if ip == std::net::Ipv4Addr::LOCALHOST || ip == std::net::Ipv6Addr::LOCALHOST => Some(host(ip)),
        _ => None,
    };
    let local = name.map(|name| format!("http://{name}:{port}/graphql"));
    let url = local.clone().unwrap_or_else(|| format!("http://{}:{port}/graphql", host(config.host)));
    Urls { url, local }
}

/// An address as a URL's host (IPv6 in brackets).
fn host(ip: std::net::IpAddr) -> String {
    if ip.is_ipv6() { format!("[{ip}]") } else { ip.to_string() }
}

/// Why GraphiQL may not carry the demo token, when `HOST` is not plain loopback.
fn token_note(config: &Config, urls: &Urls) -> Option<String> {
    match &urls.local {
        Some(_) if config.host.is_loopback() => None,
        Some(local) => Some(format!(
            "HOST={} is not loopback: GraphiQL carries the demo token only for a browser on this machine at {local}; \
             from elsewhere, set the Authorization header yourself",
            config.host
        )),
        None => Some(format!(
            "HOST={} is neither 127.0.0.1, ::1 nor every interface: GraphiQL never carries the demo token here; \
             set the Authorization header yourself",
            config.host
        )),
    }
}

/// What a person starting the service reads first: where to click, how to call it.
/// Never a password; the demo token only in embedded mode, where it is the point,
/// and only here, on the terminal of whoever started it (never in a JSON log).
fn banner(config: &Config, app: &Application) -> String {
    let urls = urls(config, app);
    let url = &urls.url;
    match app.demo() {
        Some(demo) => format!(
            "todo-graphql is serving an embedded SQLite database.\n\n  \
             GraphiQL: {url}  (signed in as {email})\n  \
             curl:     curl -s {url} -H 'content-type: application/json' -H 'authorization: Bearer {token}' \\\n              \
             -d '{{\"query\":\"{{ me {{ email }} tasks {{ nodes {{ title completed }} }} }}\"}}'\n{note}\n\
             Your Better Auth database instead: DATABASE_URL=postgres://… BETTER_AUTH_SECRET=… cargo run",
            email = demo.email,
            token = demo.token,
            note = token_note(config, &urls).map(|note| format!("\n  {note}\n")).unwrap_or_default(),
        ),
        None => format!("todo-graphql is serving {url} from the PostgreSQL database at {}", config.database.host()),
    }
}

/// The banner as one log event, for JSON logs: every line a log shipper reads is
/// JSON. Logs are shipped and kept, so the demo token is not in it; GraphiQL on
/// this machine has it.
fn announce(config: &Config, app: &Application) {
    let urls = urls(config, app);
    match app.demo() {
        Some(demo) => tracing::info!(
            url = %urls.url,
            database = "embedded SQLite",
            demo.email = %demo.email,
            demo.token_at = urls.local.as_deref(),
            note = token_note(config, &urls),
            "serving; the demo session's token is in GraphiQL opened on this machine (or in the pretty banner: LOG_FORMAT=pretty)"
        ),
        None => tracing::info!(url = %urls.url, database.host = %config.database.host(), "serving"),
    }
}
