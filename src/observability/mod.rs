//! What the service reports about itself: its log ([`logs`]: `tracing`, JSON or
//! pretty), its Prometheus metrics ([`metrics`]: `/metrics`), and for every request
//! one span carrying the request id and one log line ([`metrics::track`]).

pub mod logs;
pub mod metrics;

use std::sync::Arc;

/// The service's id for one request: made by tower-http's `SetRequestIdLayer`
/// (a UUID; a client's own `x-request-id` is only logged as `request.client_id`),
/// read once by [`metrics::track`], which opens the request's span with it and
/// hands it on as this extension to the handlers that put it in errors.
#[derive(Clone, Debug, Default)]
pub struct RequestId(pub Arc<str>);

impl RequestId {
    /// The id, as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
