//! Settings that bound subscriptions over WebSocket: timers, and how many a
//! connection and a user may hold.

use std::time::Duration;

use clap::Args;

use super::parse::{count, seconds};

/// Bounds on WebSocket connections and their subscriptions.
#[derive(Args, Debug, Clone)]
pub struct Subscriptions {
    /// A WebSocket must send `connection_init` within this, in seconds (else 4408).
    #[arg(long = "ws-init-timeout-secs", env = "WS_INIT_TIMEOUT_SECS", default_value = "10", value_parser = seconds(1..=600), global = true)]
    pub init_timeout: Duration,
    /// How often a WebSocket's session is checked again, in seconds; a signed-out or
    /// expired session ends its subscriptions at the next check (or at its expiry).
    #[arg(long = "ws-session-check-secs", env = "WS_SESSION_CHECK_SECS", default_value = "30", value_parser = seconds(1..=3600), global = true)]
    pub session_check: Duration,
    /// How often the service pings a WebSocket, in seconds; a peer that answers
    /// nothing for two intervals, or whose socket takes longer than one to accept a
    /// message, is closed.
    #[arg(long = "ws-ping-secs", env = "WS_PING_SECS", default_value = "30", value_parser = seconds(1..=3600), global = true)]
    pub ping_interval: Duration,
    /// Most subscriptions one WebSocket may run at once.
    #[arg(long = "ws-max-subscriptions", env = "WS_MAX_SUBSCRIPTIONS", default_value = "20", value_parser = count(1..=1000), global = true)]
    pub max_per_connection: usize,
    /// Most WebSockets one user may hold open on one instance.
    #[arg(long = "ws-max-connections-per-user", env = "WS_MAX_CONNECTIONS_PER_USER", default_value = "10", value_parser = count(1..=10_000), global = true)]
    pub max_connections_per_user: usize,
}

impl Default for Subscriptions {
    fn default() -> Self {
        super::defaults().subscriptions
    }
}
