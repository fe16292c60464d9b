//! Migrations through a pooler: PgBouncer in transaction mode, as Neon's pooled URL
//! is, with two releases migrating at once, and a stale lock that must not hang.

use std::{
    fs::File,
    net::{TcpListener, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database};

use crate::helpers::*;

/// A PgBouncer of the test's own, in transaction mode, in front of the test server;
/// killed when dropped.
struct PgBouncer {
    port: u16,
    dir: PathBuf,
    _process: Running,
}

impl PgBouncer {
    /// Starts one on a free port. Fails the test when PgBouncer is not installed:
    /// a test that cannot run must not pass.
    fn start(server: &url::Url) -> Self {
        let program = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
            .into_iter()
            .map(PathBuf::from)
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).map(|d| d.join("pgbouncer")))
            .find(|path| path.is_file())
            .expect("pgbouncer is not installed: apt-get install -y pgbouncer (.ci/run does)");
        let dir =
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("pgbouncer-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let ini = dir.join("pgbouncer.ini");
        std::fs::write(
            &ini,
            format!(
                "[databases]\n* = host={host} port={server_port}\n\
                 [pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
                 auth_type = trust\nauth_file = {users}\npool_mode = transaction\n\
                 default_pool_size = 4\nignore_startup_parameters = extra_float_digits\n",
                host = server.host_str().unwrap(),
                server_port = server.port().unwrap_or(5432),
                users = dir.join("userlist.txt").display(),
            ),
        )
        .unwrap();
        std::fs::write(dir.join("userlist.txt"), format!("\"{}\" \"\"\n", server.username())).unwrap();
        let mut command = Command::new(&program);
        // PgBouncer refuses to run as root; -u drops to another user.
        if Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n")) {
            command.args(["-u", "nobody"]);
            Command::new("chmod").args(["-R", "a+rX"]).arg(&dir).status().unwrap();
        }
        let log = File::create(dir.join("pgbouncer.log")).unwrap();
        let process = Running(command.arg(&ini).stdout(Stdio::null()).stderr(log).spawn().unwrap());
        let bouncer = Self { port, dir, _process: process };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "pgbouncer did not start: {}", bouncer.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        bouncer
    }

    /// The URL of `database` through the bouncer.
    fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pgbouncer.log")).unwrap_or_default()
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Waits at most `bound` for `child`, killing it and failing the test past that.
fn finish(mut child: Child, bound: Duration) -> (std::process::ExitStatus, String) {
    let deadline = Instant::now() + bound;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let output = child.wait_with_output().unwrap();
            let text =
                format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
            return (status, text);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!("`todo-graphql migrate` hung for {bound:?}: {}", String::from_utf8_lossy(&output.stdout));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn scalar(db: &sea_orm::DatabaseConnection, sql: &str) -> i64 {
    let row = db.query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
    row.unwrap().try_get_by_index(0).unwrap()
}

#[tokio::test]
async fn two_releases_migrating_through_pgbouncer_apply_each_migration_once() {
    // DATABASE_URL always on the bouncer, as on Fly; DATABASE_DIRECT_URL set or not.
    for direct in [false, true] {
        let database = TestDatabase::better_auth_only().await;
        let server = url::Url::parse(&database.url).unwrap();
        let bouncer = PgBouncer::start(&server);
        let migrate = || {
            let mut command = binary();
            command
                .arg("migrate")
                .env("DATABASE_URL", bouncer.url(&database.name))
                .env("BETTER_AUTH_SECRET", SECRET)
                .env("DATABASE_CONNECT_RETRY_SECS", "0")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            if direct {
                command.env("DATABASE_DIRECT_URL", &database.url);
            }
            command.spawn().unwrap()
        };
        let (first, second) = (migrate(), migrate());
        let bound = Duration::from_secs(90);
        let (first, second) =
            tokio::task::spawn_blocking(move || (finish(first, bound), finish(second, bound))).await.unwrap();
        // And the next release, on a server session the first two used and left.
        let third = migrate();
        let third = tokio::task::spawn_blocking(move || finish(third, bound)).await.unwrap();
        for (status, output) in [first, second, third] {
            assert!(status.success(), "direct: {direct}; migrate failed: {output}");
        }

        let db = database.connect().await;
        let applied = scalar(&db, "SELECT count(*) FROM todo_graphql_migrations").await;
        assert_eq!(applied, Migrator::migrations().len() as i64, "direct: {direct}; each migration recorded once");
        let distinct = scalar(&db, "SELECT count(DISTINCT version) FROM todo_graphql_migrations").await;
        assert_eq!(distinct, applied);
        let tables = scalar(&db, "SELECT count(*) FROM pg_tables WHERE tablename = 'tasks'").await;
        assert_eq!(tables, 1);
        let indexes =
            scalar(&db, "SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_tasks_user_id_created_at_id'").await;
        assert_eq!(indexes, 1);
        // With a direct URL the migration never touches the pooled one.
        let through_bouncer = bouncer.log().contains(&format!("login attempt: db={}", database.name));
        assert_eq!(through_bouncer, !direct, "direct: {direct}; pgbouncer log: {}", bouncer.log());
        db.close().await.unwrap();
    }
}

#[tokio::test]
async fn a_stale_migration_lock_fails_migrate_with_a_clear_message_instead_of_hanging() {
    let database = TestDatabase::better_auth_only().await;
    // Another session took the lock and never let go (a crashed migrate of an
    // earlier version, left on a pooled server connection).
    let holder = Database::connect(database.url.as_str()).await.unwrap();
    holder
        .execute_unprepared(&format!("SELECT pg_advisory_lock({})", todo_graphql::db::MIGRATION_LOCK_KEY))
        .await
        .unwrap();

    let config = test_config(&database.url).database;
    let run = todo_graphql::db::migrate_within(&config, Duration::from_secs(1));
    let err = tokio::time::timeout(Duration::from_secs(30), run).await.expect("migrate hung").unwrap_err();
    let message = format!("{err:#}");
    assert!(message.contains("waiting for the migration lock") && message.contains("pg_locks"), "{message}");

    let db = database.connect().await;
    let tables =
        scalar(&db, "SELECT count(*) FROM pg_tables WHERE tablename IN ('tasks', 'todo_graphql_migrations')").await;
    assert_eq!(tables, 0, "nothing applied without the lock");

    // Once the session lets go, the same call goes through.
    holder
        .execute_unprepared(&format!("SELECT pg_advisory_unlock({})", todo_graphql::db::MIGRATION_LOCK_KEY))
        .await
        .unwrap();
    let applied = todo_graphql::db::migrate_within(&config, Duration::from_secs(1)).await.unwrap();
    assert_eq!(applied, Migrator::migrations().len());
    holder.close().await.unwrap();
    db.close().await.unwrap();
}
