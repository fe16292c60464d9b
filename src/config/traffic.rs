//! Settings that bound what clients can hold: connection timers and count, request
//! rates.

use std::time::Duration;

use clap::Args;
use http::HeaderName;

use super::parse::{count, header_name, seconds};

/// Bounds on connections and request rates.
#[derive(Args, Debug, Clone)]
pub struct Traffic {
    /// Longest a client may take to send a request's headers, in seconds; hyper
    /// starts the same timer when a kept-alive connection goes idle, so it is also the
    /// longest a kept-alive connection may sit idle between requests.
    #[arg(long = "header-read-timeout-secs", env = "HEADER_READ_TIMEOUT_SECS", default_value = "10", value_parser = seconds(1..=600), global = true)]
    pub header_read_timeout: Duration,
    /// Longest a client may take to send a request's whole body, in seconds.
    #[arg(long = "body-read-timeout-secs", env = "BODY_READ_TIMEOUT_SECS", default_value = "10", value_parser = seconds(1..=3600), global = true)]
    pub body_read_timeout: Duration,
    /// Most connections open at once; past it new ones wait in the kernel's queue
    /// until one closes.
    #[arg(long = "max-connections", env = "MAX_CONNECTIONS", default_value = "512", value_parser = count(1..=1_000_000), global = true)]
    pub max_connections: usize,
    /// Per-IP and per-user request rates.
    #[command(flatten)]
    pub rate_limits: RateLimits,
}

impl Default for Traffic {
    fn default() -> Self {
        super::defaults().traffic
    }
}

/// Request rates, off in embedded mode.
#[derive(Args, Debug, Clone)]
pub struct RateLimits {
    /// Sustained requests per second per client IP (0: no limit); PostgreSQL mode only.
    #[arg(long = "rate-limit-ip-per-sec", env = "RATE_LIMIT_IP_PER_SEC", default_value_t = 20, value_parser = clap::value_parser!(u32).range(0..=1_000_000), global = true)]
    pub ip_per_sec: u32,
    /// Requests a client IP may send at once before its rate applies.
    #[arg(long = "rate-limit-ip-burst", env = "RATE_LIMIT_IP_BURST", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1_000_000), global = true)]
    pub ip_burst: u32,
    /// Sustained requests per second per session (0: no limit); PostgreSQL mode only.
    #[arg(long = "rate-limit-user-per-sec", env = "RATE_LIMIT_USER_PER_SEC", default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=1_000_000), global = true)]
    pub user_per_sec: u32,
    /// Requests a session may send at once before its rate applies.
    #[arg(long = "rate-limit-user-burst", env = "RATE_LIMIT_USER_BURST", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1_000_000), global = true)]
    pub user_burst: u32,
    /// The header a trusted proxy sets to the client's IP (Fly: `fly-client-ip`);
    /// unset, the TCP peer's address is used, since any other header is the client's
    /// to forge.
    #[arg(long = "client-ip-header", env = "CLIENT_IP_HEADER", value_parser = header_name, global = true)]
    pub client_ip_header: Option<HeaderName>,
}

impl Default for RateLimits {
    fn default() -> Self {
        super::defaults().traffic.rate_limits
    }
}
