//! Operating it: metrics, logs without secrets, graceful shutdown, the database
//! going away or wanting TLS, and deployment files that agree with the code. One
//! file per behaviour; [`Served`] runs the real binary for them.

mod database;
mod deployment;
mod logs;
mod metrics;
mod shutdown;

use std::{path::PathBuf, time::Duration};

use crate::helpers::*;

/// The binary, serving `database` on a free port, its log in a file.
pub struct Served {
    pub port: u16,
    pub process: Running,
    log: PathBuf,
}

pub fn serve(database: &TestDatabase, extra: &[(&str, &str)]) -> Served {
    let port = free_port();
    let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("serve-{port}.log"));
    let process = serving(database, port)
        .envs(extra.iter().copied())
        .stdout(std::fs::File::create(log.with_extension("out")).unwrap())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    Served { port, process: Running(process), log }
}

impl Served {
    pub async fn ready(&self) {
        wait_for_health(self.port, Duration::from_secs(20), || self.log()).await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// What it wrote to standard output.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(self.log.with_extension("out")).unwrap_or_default()
    }

    pub fn signal(&self, name: &str) {
        let status =
            std::process::Command::new("kill").args(["-s", name, &self.process.0.id().to_string()]).status().unwrap();
        assert!(status.success());
    }
}
