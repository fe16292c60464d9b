//! The tests' PostgreSQL: the one at `TEST_DATABASE_URL` when it lets us in, else
//! a throwaway server from `initdb`/`pg_ctl` (on PATH, else Debian's and Ubuntu's
//! `/usr/lib/postgresql/<version>/bin`, newest first) in a temporary folder on a
//! free port, with trust auth, run as `nobody` when the tests run as root (initdb
//! refuses root), stopped when the tests end.

use std::{
    net::{TcpListener, TcpStream, ToSocketAddrs},
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    time::Duration,
};

use sea_orm::sqlx::{Connection as _, PgConnection};

/// Where the tests' PostgreSQL is. `wanted` is `TEST_DATABASE_URL` when set.
///
/// A server that answers and lets us in is used. A throwaway one is started when
/// nothing answers, and also when the default URL (no `TEST_DATABASE_URL`) answers
/// but refuses the login: that is Debian's own cluster, which wants a password over
/// TCP. A `TEST_DATABASE_URL` that answers but refuses is a mistake to report, not
/// to work around.
pub async fn test_server(wanted: Option<String>) -> url::Url {
    let explicit = wanted.is_some();
    let base = url::Url::parse(&wanted.unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_owned()))
        .expect("TEST_DATABASE_URL is not a URL");
    let why = if !answers(&base) {
        "nothing answers"
    } else {
        match tokio::time::timeout(Duration::from_secs(10), PgConnection::connect(base.as_str())).await {
            Ok(Ok(connection)) => {
                let _ = connection.close().await;
                return base;
            }
            Ok(Err(err)) if explicit => panic!("TEST_DATABASE_URL answers but refuses the tests: {err}"),
            Ok(Err(_)) => "the login is refused (Debian's cluster wants a password over TCP)",
            Err(_) if explicit => panic!("TEST_DATABASE_URL answers but did not let the tests in within 10 s"),
            Err(_) => "the login did not finish within 10 s",
        }
    };
    let host = base.host_str().unwrap_or("127.0.0.1");
    let port = base.port().unwrap_or(5432);
    // Kept for the life of the process; its watcher stops it afterwards.
    let server = Box::leak(Box::new(Throwaway::start(&[], None, |_| {})));
    eprintln!(
        "tests: at {host}:{port} {why}; using a throwaway PostgreSQL on port {} ({})",
        server.port,
        server.initdb.display()
    );
    server.url("postgres")
}

fn answers(url: &url::Url) -> bool {
    let host = url.host_str().unwrap_or("127.0.0.1");
    let port = url.port().unwrap_or(5432);
    (host, port)
        .to_socket_addrs()
        .map(|mut addrs| addrs.any(|addr| TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()))
        .unwrap_or(false)
}

/// A server of our own; stopped and removed when dropped, or, should this process
/// die first, by a watcher once it is gone.
pub struct Throwaway {
    pub port: u16,
    dir: PathBuf,
    initdb: PathBuf,
    pg_ctl: PathBuf,
    as_root: bool,
}

impl Throwaway {
    /// Starts a server with extra `postgresql.conf` settings and, when given, a
    /// `pg_hba.conf` of its own. `prepare` may write files into the data folder
    /// (certificates) before the server starts.
    pub fn start(settings: &[String], hba: Option<&str>, prepare: impl FnOnce(&Path)) -> Self {
        let Some((initdb, pg_ctl)) = binaries() else {
            panic!(
                "the tests need PostgreSQL: nothing usable answers at TEST_DATABASE_URL \
                 (default postgres://postgres@127.0.0.1:5432/postgres), and initdb/pg_ctl are \
                 neither on PATH nor in /usr/lib/postgresql/<version>/bin. Install it \
                 (sudo apt-get install -y postgresql), or run one (docker run -d -p 5432:5432 \
                 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:17), or set TEST_DATABASE_URL"
            );
        };
        let dir = std::env::temp_dir().join(format!(
            "todo-graphql-pg-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let as_root = Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false);
        let server = Self { port, dir, initdb, pg_ctl, as_root };
        server.chown();
        let data = server.data();
        server.run(&server.initdb, &["-D", &data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]);
        if let Some(hba) = hba {
            std::fs::write(Path::new(&data).join("pg_hba.conf"), hba).unwrap();
        }
        prepare(Path::new(&data));
        server.chown();
        // The socket goes into our own folder: Debian's /var/run/postgresql may not
        // exist, or not be ours to write.
        let mut options = format!("-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", server.dir.display());
        for setting in settings {
            options.push_str(&format!(" -c {setting}"));
        }
        let log = format!("{data}.log");
        let started = server.output(&server.pg_ctl, &["-D", &data, "-o", &options, "-l", &log, "-w", "start"]);
        if !started.status.success() {
            panic!(
                "could not start a throwaway PostgreSQL with {}: {}{}\n{}",
                server.pg_ctl.display(),
                String::from_utf8_lossy(&started.stdout),
                String::from_utf8_lossy(&started.stderr),
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        server.watch();
        server
    }

    /// `postgres://postgres@127.0.0.1:<port>/<database>`.
    pub fn url(&self, database: &str) -> url::Url {
        url::Url::parse(&format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)).unwrap()
    }

    fn data(&self) -> String {
        self.dir.join("data").to_str().unwrap().to_owned()
    }

    fn chown(&self) {
        if self.as_root {
            Command::new("chown").args(["-R", "nobody"]).arg(&self.dir).status().unwrap();
        }
    }

    fn command(&self, program: &Path) -> Command {
        let mut command = if self.as_root {
            let mut command = Command::new("runuser");
            command.args(["-u", "nobody", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        };
        // A folder that user may enter (the tests may run from root's home).
        command.current_dir(&self.dir);
        command
    }

    fn output(&self, program: &Path, args: &[&str]) -> Output {
        self.command(program).args(args).stdin(Stdio::null()).output().unwrap_or_else(|err| {
            let runner = if self.as_root { "runuser (to run it as nobody: initdb refuses root)" } else { "it" };
            panic!("could not run {}: {runner}: {err}", program.display())
        })
    }

    fn run(&self, program: &Path, args: &[&str]) {
        let output = self.output(program, args);
        assert!(
            output.status.success(),
            "{} {args:?} failed: {}{}",
            program.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Stops the server once this process is gone, however it ends.
    fn watch(&self) {
        let stop = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {runuser}{pg_ctl} -D {data} -m immediate stop >/dev/null 2>&1; rm -rf {dir}",
            pid = std::process::id(),
            runuser = if self.as_root { "runuser -u nobody -- " } else { "" },
            pg_ctl = self.pg_ctl.display(),
            data = self.data(),
            dir = self.dir.display(),
        );
        // Deliberately never waited for: the watcher must outlive this process.
        #[allow(clippy::zombie_processes)]
        Command::new("sh")
            .args(["-c", &stop])
            .current_dir("/")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self
            .command(&self.pg_ctl)
            .args(["-D", &data, "-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `initdb` and `pg_ctl`: from PATH, else from the newest of Debian's and Ubuntu's
/// `/usr/lib/postgresql/<version>/bin`, which the `postgresql` package does not put
/// on PATH.
fn binaries() -> Option<(PathBuf, PathBuf)> {
    if let (Some(initdb), Some(pg_ctl)) = (on_path("initdb"), on_path("pg_ctl")) {
        return Some((initdb, pg_ctl));
    }
    let mut versions: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let version = name.split('.').map(|part| part.parse().ok()).collect::<Option<Vec<u32>>>()?;
            let bin = entry.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((version, bin))
        })
        .collect();
    versions.sort();
    let (_, bin) = versions.pop()?;
    Some((bin.join("initdb"), bin.join("pg_ctl")))
}

fn on_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| PathBuf::from(dir).join(program))
        .find(|path| path.is_file())
}
