//! The service binary under attack: started over a fresh database on a free port,
//! with the process's CPU time and peak resident memory measured around each
//! request, and a watchdog that kills it before a blow-up can take the machine down.

use std::{
    path::PathBuf,
    process::Stdio,
    time::{Duration, Instant},
};

use serde_json::Value;

use super::{
    CLIENT_TIMEOUT, CPU_PER_BODY_MIB, CPU_PER_REQUEST, HEALTH_WITHIN, KILL_ABOVE_CPU, KILL_ABOVE_RSS, MIB, PEAK_RSS,
    START_WITHIN,
};
use crate::helpers::{Running, TestDatabase, free_port, insert_user, serving, wait_for_health};

/// A running service binary and its database.
pub struct Service {
    port: u16,
    process: Running,
    log: PathBuf,
    ticks_per_second: u64,
    client: reqwest::Client,
    database: TestDatabase,
}

/// One request's answer and what it cost the service.
#[derive(Debug)]
pub struct Measured {
    pub label: String,
    pub status: u16,
    pub body: Value,
    /// CPU time (user and system) the whole process spent while the request ran.
    pub cpu: Duration,
    /// The process's peak resident memory while the request ran, in bytes.
    pub peak_rss: u64,
    /// The request body's size.
    pub body_bytes: usize,
}

impl Service {
    /// Starts the binary with the defaults plus `extra` settings, and waits until it answers.
    pub async fn start(extra: &[(&str, &str)]) -> Self {
        let database = TestDatabase::new().await;
        let port = free_port();
        let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("hostile-{port}.log"));
        let process = serving(&database, port)
            .env("RUST_LOG", "warn")
            .envs(extra.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let client = reqwest::Client::builder().timeout(CLIENT_TIMEOUT).build().unwrap();
        let service =
            Self { port, process: Running(process), log, ticks_per_second: ticks_per_second(), client, database };
        wait_for_health(service.port, START_WITHIN, || service.log()).await;
        service
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn pid(&self) -> u32 {
        self.process.0.id()
    }

    /// A Better Auth user with a live session, inserted as Better Auth would; its cookie.
    pub async fn sign_in(&self) -> String {
        let db = self.database.connect().await;
        let user = insert_user(&db).await;
        db.close().await.unwrap();
        user.cookie()
    }

    /// User plus system CPU time of the whole process so far.
    pub fn cpu(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).expect("the service is running");
        // The command name is in parentheses and may hold spaces; fields follow it.
        let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 1..].split_whitespace().collect();
        // Fields 14 and 15 of proc(5), utime and stime; the list starts at field 3.
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        Duration::from_millis(ticks * 1000 / self.ticks_per_second)
    }

    /// A `/proc/<pid>/status` figure in bytes (`VmRSS`, `VmHWM`).
    pub fn memory(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("the service is running");
        let line = status.lines().find(|line| line.starts_with(field)).unwrap_or_else(|| panic!("no {field}"));
        line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
    }

    /// Resets the peak resident memory (`VmHWM`) to the current one.
    pub fn reset_peak(&self) {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5")
            .expect("cannot reset the peak RSS through /proc/<pid>/clear_refs");
    }

    /// `POST /graphql` with `body` as it is (JSON text), optionally signed in.
    pub async fn post(&self, label: &str, body: String, cookie: Option<&str>) -> Measured {
        let body_bytes = body.len();
        let mut request = self
            .client
            .post(self.url("/graphql"))
            .header("content-type", "application/json")
            .header("accept", "application/graphql-response+json")
            .body(body);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        self.measure(label, request, body_bytes).await
    }

    /// Sends `request`, measuring the service around it; kills the service (and
    /// fails) when it passes the watchdog's CPU or memory bound.
    async fn measure(&self, label: &str, request: reqwest::RequestBuilder, body_bytes: usize) -> Measured {
        self.reset_peak();
        let cpu_before = self.cpu();
        let sent = async {
            let response = request.send().await?;
            let status = response.status().as_u16();
            Ok::<_, reqwest::Error>((status, response.bytes().await?))
        };
        tokio::pin!(sent);
        let mut watch = tokio::time::interval(Duration::from_millis(20));
        let (status, bytes) = loop {
            tokio::select! {
                result = &mut sent => match result {
                    Ok(answer) => break answer,
                    Err(err) => panic!(
                        "{label}: no answer ({err:?}); the service spent {:?} of CPU, {} MiB resident",
                        self.cpu() - cpu_before, self.memory("VmHWM") / MIB,
                    ),
                },
                _ = watch.tick() => self.watchdog(label, cpu_before),
            }
        };
        let body = serde_json::from_slice(&bytes).unwrap_or_else(|err| {
            panic!(
                "{label}: HTTP {status}, not JSON ({err}): {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(500)])
            )
        });
        let (cpu, peak_rss) = (self.cpu() - cpu_before, self.memory("VmHWM"));
        Measured { label: label.to_owned(), status, body, cpu, peak_rss, body_bytes }
    }

    fn watchdog(&self, label: &str, cpu_before: Duration) {
        let (cpu, rss) = (self.cpu() - cpu_before, self.memory("VmRSS"));
        // Failing drops the service, which kills it.
        assert!(rss < KILL_ABOVE_RSS, "{label}: the service reached {} MiB resident and was killed", rss / MIB);
        assert!(cpu < KILL_ABOVE_CPU, "{label}: the service spent {cpu:?} of CPU and was killed");
    }

    /// `/health` still answers, and quickly.
    pub async fn assert_healthy(&self, after: &str) {
        let started = Instant::now();
        let response = self.client.get(self.url("/health")).timeout(HEALTH_WITHIN).send().await;
        assert!(
            response.is_ok_and(|r| r.status() == 200),
            "after {after}: /health did not answer within {HEALTH_WITHIN:?} ({:?})",
            started.elapsed()
        );
    }
}

impl Measured {
    /// The request cost less than the per-request bounds.
    pub fn assert_cheap(&self) -> &Self {
        assert!(self.status < 500, "{}: HTTP {}: {}", self.label, self.status, self.body);
        let bound = CPU_PER_REQUEST + CPU_PER_BODY_MIB.mul_f64(self.body_bytes as f64 / MIB as f64);
        assert!(self.cpu < bound, "{}: {:?} of CPU (bound {bound:?})", self.label, self.cpu);
        assert!(
            self.peak_rss < PEAK_RSS,
            "{}: peak RSS {} MiB (bound {} MiB)",
            self.label,
            self.peak_rss / MIB,
            PEAK_RSS / MIB
        );
        self
    }

    /// The first error's `extensions.code`, if any.
    pub fn code(&self) -> Option<&str> {
        self.body["errors"][0]["extensions"]["code"].as_str()
    }

    /// Refused before execution with one of `codes`: HTTP 4xx (the client accepts
    /// `application/graphql-response+json`) and no `data`.
    pub fn assert_refused(&self, codes: &[&str]) -> &Self {
        let code = self.code().unwrap_or_else(|| panic!("{}: not refused: {}", self.label, short(&self.body)));
        assert!(codes.contains(&code), "{}: code {code}, expected one of {codes:?}", self.label);
        assert!((400..500).contains(&self.status), "{}: HTTP {} for a refusal", self.label, self.status);
        assert!(self.body.get("data").is_none(), "{}: a refusal has no data: {}", self.label, short(&self.body));
        self
    }

    /// Answered without any error; the `data`.
    pub fn assert_answered(&self) -> &Value {
        assert_eq!(self.status, 200, "{}: {}", self.label, short(&self.body));
        assert!(self.body.get("errors").is_none(), "{}: errors: {}", self.label, short(&self.body));
        &self.body["data"]
    }

    /// Either refused with one of `codes`, or answered with exactly `data`.
    pub fn assert_refused_or(&self, codes: &[&str], data: &Value) {
        if self.code().is_some() || self.status != 200 {
            self.assert_refused(codes);
        } else {
            assert_eq!(self.assert_answered(), data, "{}", self.label);
        }
    }
}

/// The start of a JSON value, for messages.
pub fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.len() > 600 {
        format!("{}… ({} bytes)", text.chars().take(600).collect::<String>(), text.len())
    } else {
        text
    }
}

/// The unit of `/proc/<pid>/stat` times (`USER_HZ`).
fn ticks_per_second() -> u64 {
    let output = std::process::Command::new("getconf").arg("CLK_TCK").output().expect("getconf (libc-bin) is needed");
    String::from_utf8_lossy(&output.stdout).trim().parse().expect("getconf CLK_TCK answers a number")
}
