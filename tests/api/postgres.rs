//! Throwaway PostgreSQL servers from `initdb`/`pg_ctl` on PATH, in a temporary
//! folder on a free port, run as `nobody` when the tests run as root.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

/// A server of our own; stopped and removed when dropped, or, should this process
/// die first, by a watcher once it is gone.
pub struct Throwaway {
    pub port: u16,
    dir: PathBuf,
    pg_ctl: PathBuf,
    as_root: bool,
}

impl Throwaway {
    /// Starts a server with extra `postgresql.conf` settings and, when given, a
    /// `pg_hba.conf` of its own. `prepare` may write files into the data folder
    /// (certificates) before the server starts.
    pub fn start(settings: &[String], hba: Option<&str>, prepare: impl FnOnce(&Path)) -> Self {
        let (Some(initdb), Some(pg_ctl)) = (on_path("initdb"), on_path("pg_ctl")) else {
            panic!(
                "no PostgreSQL answers at TEST_DATABASE_URL and initdb/pg_ctl are not on PATH: \
                 install PostgreSQL (apt-get install postgresql) or set TEST_DATABASE_URL"
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
        let server = Self { port, dir, pg_ctl, as_root };
        server.chown();
        let data = server.data();
        server.run(&initdb, &["-D", &data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]);
        if let Some(hba) = hba {
            std::fs::write(Path::new(&data).join("pg_hba.conf"), hba).unwrap();
        }
        prepare(Path::new(&data));
        server.chown();
        let mut options = format!("-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", server.dir.display());
        for setting in settings {
            options.push_str(&format!(" -c {setting}"));
        }
        server.run(&server.pg_ctl, &["-D", &data, "-o", &options, "-l", &format!("{data}.log"), "-w", "start"]);
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
        if self.as_root {
            let mut command = Command::new("runuser");
            command.args(["-u", "nobody", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }

    fn run(&self, program: &Path, args: &[&str]) {
        let status = self.command(program).args(args).stdout(Stdio::null()).status().unwrap();
        assert!(status.success(), "{} {args:?} failed", program.display());
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
        Command::new("sh").args(["-c", &stop]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
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

fn on_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| PathBuf::from(dir).join(program))
        .find(|path| path.is_file())
}
