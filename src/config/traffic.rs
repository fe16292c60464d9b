//! Settings that bound what clients can hold: connection timers and count, request
//! rates, the metrics listener.

use std::{net::SocketAddr, time::Duration};

use http::HeaderName;

use super::{ConfigError, Settings, error, number, seconds};

/// Bounds on connections and request rates.
#[derive(Debug, Clone)]
pub struct Traffic {
    /// Longest a client may take to send a request's headers; hyper starts the same
    /// timer when a kept-alive connection goes idle, so it is also the longest idle
    /// time between requests (`HEADER_READ_TIMEOUT_SECS`).
    pub header_read_timeout: Duration,
    /// Longest a client may take to send a request's whole body
    /// (`BODY_READ_TIMEOUT_SECS`).
    pub body_read_timeout: Duration,
    /// Most connections open at once; past it the service stops accepting until one
    /// closes (`MAX_CONNECTIONS`).
    pub max_connections: usize,
    /// Per-IP and per-user request rates.
    pub rate_limits: RateLimits,
}

impl Default for Traffic {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            max_connections: 512,
            rate_limits: RateLimits::default(),
        }
    }
}

/// Request rates, off in embedded mode.
#[derive(Debug, Clone)]
pub struct RateLimits {
    /// Sustained requests per second per client IP; 0 turns the limit off
    /// (`RATE_LIMIT_IP_PER_SEC`).
    pub ip_per_sec: u32,
    /// Requests a client IP may send at once before the rate applies
    /// (`RATE_LIMIT_IP_BURST`).
    pub ip_burst: u32,
    /// Sustained requests per second per session; 0 turns the limit off
    /// (`RATE_LIMIT_USER_PER_SEC`).
    pub user_per_sec: u32,
    /// Requests a session may send at once (`RATE_LIMIT_USER_BURST`).
    pub user_burst: u32,
    /// The header a trusted proxy puts the client's IP in (Fly: `fly-client-ip`);
    /// `None` uses the TCP peer, since any other header is the client's to forge
    /// (`CLIENT_IP_HEADER`).
    pub client_ip_header: Option<HeaderName>,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self { ip_per_sec: 20, ip_burst: 100, user_per_sec: 10, user_burst: 50, client_ip_header: None }
    }
}

impl Traffic {
    /// Checks the raw settings.
    ///
    /// # Errors
    /// The first setting that is malformed or out of range.
    pub fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        Ok(Self {
            header_read_timeout: seconds("HEADER_READ_TIMEOUT_SECS", &settings.header_read_timeout_secs, 1..=600)?,
            body_read_timeout: seconds("BODY_READ_TIMEOUT_SECS", &settings.body_read_timeout_secs, 1..=3600)?,
            max_connections: number("MAX_CONNECTIONS", &settings.max_connections, 1..=1_000_000)?,
            rate_limits: RateLimits {
                ip_per_sec: number("RATE_LIMIT_IP_PER_SEC", &settings.rate_limit_ip_per_sec, 0..=1_000_000)?,
                ip_burst: number("RATE_LIMIT_IP_BURST", &settings.rate_limit_ip_burst, 1..=1_000_000)?,
                user_per_sec: number("RATE_LIMIT_USER_PER_SEC", &settings.rate_limit_user_per_sec, 0..=1_000_000)?,
                user_burst: number("RATE_LIMIT_USER_BURST", &settings.rate_limit_user_burst, 1..=1_000_000)?,
                client_ip_header: client_ip_header(settings.client_ip_header.as_deref())?,
            },
        })
    }
}

fn client_ip_header(value: Option<&str>) -> Result<Option<HeaderName>, ConfigError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(name) => HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
            .map(Some)
            .map_err(|_| error("CLIENT_IP_HEADER", format!("not a header name: {name:?}"))),
    }
}

/// `METRICS_ADDR`: where `/metrics` is served instead of the main port, if anywhere.
pub(super) fn metrics_addr(value: Option<&str>) -> Result<Option<SocketAddr>, ConfigError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(address) => address
            .parse()
            .map(Some)
            .map_err(|_| error("METRICS_ADDR", format!("not an address like 127.0.0.1:9091: {address:?}"))),
    }
}
