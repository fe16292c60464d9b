//! Settings that bound subscriptions over WebSocket: timers, and how many a
//! connection and a user may hold.

use std::time::Duration;

use super::{ConfigError, Settings, number, seconds};

/// Bounds on WebSocket connections and their subscriptions.
#[derive(Debug, Clone)]
pub struct Subscriptions {
    /// A connection must send `connection_init` within this, else 4408
    /// (`WS_INIT_TIMEOUT_SECS`).
    pub init_timeout: Duration,
    /// How often a connection's session is looked up again; a session signed out or
    /// expired ends the connection at the next check, or at its `expiresAt`
    /// (`WS_SESSION_CHECK_SECS`).
    pub session_check: Duration,
    /// How often the service pings; a peer that answers nothing for two intervals,
    /// or whose socket takes longer than one to accept a message, is closed
    /// (`WS_PING_SECS`).
    pub ping_interval: Duration,
    /// Most subscriptions one connection may run at once (`WS_MAX_SUBSCRIPTIONS`).
    pub max_per_connection: usize,
    /// Most WebSocket connections one user may hold on one instance
    /// (`WS_MAX_CONNECTIONS_PER_USER`).
    pub max_connections_per_user: usize,
}

impl Default for Subscriptions {
    fn default() -> Self {
        Self {
            init_timeout: Duration::from_secs(10),
            session_check: Duration::from_secs(30),
            ping_interval: Duration::from_secs(30),
            max_per_connection: 20,
            max_connections_per_user: 10,
        }
    }
}

impl Subscriptions {
    /// Checks the raw settings.
    ///
    /// # Errors
    /// The first setting that is malformed or out of range.
    pub fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        Ok(Self {
            init_timeout: seconds("WS_INIT_TIMEOUT_SECS", &settings.ws_init_timeout_secs, 1..=600)?,
            session_check: seconds("WS_SESSION_CHECK_SECS", &settings.ws_session_check_secs, 1..=3600)?,
            ping_interval: seconds("WS_PING_SECS", &settings.ws_ping_secs, 1..=3600)?,
            max_per_connection: number("WS_MAX_SUBSCRIPTIONS", &settings.ws_max_subscriptions, 1..=1000)?,
            max_connections_per_user: number(
                "WS_MAX_CONNECTIONS_PER_USER",
                &settings.ws_max_connections_per_user,
                1..=10_000,
            )?,
        })
    }
}
