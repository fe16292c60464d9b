//! What the service reports about itself: its log ([`logs`]: `tracing`, JSON or
//! pretty), its Prometheus metrics ([`metrics`]: `/metrics`), and for every request
//! one span carrying the request id and one log line ([`metrics::track`]).

pub mod logs;
pub mod metrics;
