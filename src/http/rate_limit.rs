//! Per-IP and per-session request rates (GCRA, from `governor`), answered with 429,
//! `Retry-After` and a GraphQL-shaped error whose code is `RATE_LIMITED`.
//!
//! - The IP is the TCP peer's, or, when `CLIENT_IP_HEADER` names one, the header a
//!   trusted proxy sets (Fly's `fly-client-ip`). IPv6 addresses count per /64, the
//!   block one subscriber gets, so a client cannot dodge the limit by rotating
//!   addresses inside its own block.
//! - The session is the request's first credential after its signature is checked,
//!   known before any database work; it is kept only as a hash. A request without
//!   one gets the per-IP limit alone.
//! - `/health` is never limited: Fly's checks must always get through.
//! - Keys whose limit has fully recovered are dropped every few seconds, and at
//!   once when the map grows past [`MAX_KEYS`], so a spray of addresses or tokens
//!   costs memory only for as long as each key is actually limited.

use std::{
    hash::Hash,
    net::{IpAddr, Ipv6Addr, SocketAddr},
    num::NonZeroU32,
    sync::Arc,
    time::Duration,
};

use axum::{
    extract::{ConnectInfo, Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use governor::{
    Quota, RateLimiter,
    clock::{Clock as _, DefaultClock},
    state::keyed::DefaultKeyedStateStore,
};
use http::{HeaderMap, HeaderName, StatusCode, header};
use sha2::{Digest as _, Sha256};

use crate::{
    auth::SessionReader,
    config::RateLimits,
    error::{self, code},
};

/// Keys held before an immediate prune.
pub const MAX_KEYS: usize = 100_000;
/// How often recovered keys are dropped.
const PRUNE_EVERY: Duration = Duration::from_secs(10);

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock>;

/// The limiters and what they key by.
pub struct RateLimit {
    per_ip: Option<Keyed<IpAddr>>,
    per_user: Option<Keyed<u128>>,
    client_ip_header: Option<HeaderName>,
    sessions: SessionReader,
    clock: DefaultClock,
}

impl RateLimit {
    /// Limiters for `limits`, and a task that prunes them for as long as they live;
    /// `None` when both limits are off.
    pub fn start(limits: &RateLimits, sessions: SessionReader) -> Option<Arc<Self>> {
        let per_ip = quota(limits.ip_per_sec, limits.ip_burst).map(RateLimiter::keyed);
        let per_user = quota(limits.user_per_sec, limits.user_burst).map(RateLimiter::keyed);
        if per_ip.is_none() && per_user.is_none() {
            return None;
        }
        let clock = DefaultClock::default();
        let limit =
            Arc::new(Self { per_ip, per_user, client_ip_header: limits.client_ip_header.clone(), sessions, clock });
        let weak = Arc::downgrade(&limit);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(PRUNE_EVERY);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(limit) = weak.upgrade() else { break };
                limit.prune();
            }
        });
        Some(limit)
    }

    fn prune(&self) {
        if let Some(limiter) = &self.per_ip {
            prune(limiter);
        }
        if let Some(limiter) = &self.per_user {
            prune(limiter);
        }
    }

    /// How long the request must wait, if it is over a limit. Counts it otherwise.
    fn check(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> Option<Duration> {
        if let (Some(limiter), Some(ip)) = (&self.per_ip, self.client_ip(headers, peer))
            && let Some(wait) = check(limiter, &ip, &self.clock)
        {
            return Some(wait);
        }
        let limiter = self.per_user.as_ref()?;
        let token = self.sessions.rate_key(headers)?;
        check(limiter, &session_key(&token), &self.clock)
    }

    /// The client's address, as the rate limit keys it.
    fn client_ip(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> Option<IpAddr> {
        let forwarded = self.client_ip_header.as_ref().and_then(|name| forwarded_ip(headers, name));
        forwarded.or(peer.map(|peer| peer.ip())).map(block)
    }
}

fn quota(per_sec: u32, burst: u32) -> Option<Quota> {
    Some(Quota::per_second(NonZeroU32::new(per_sec)?).allow_burst(NonZeroU32::new(burst)?))
}

fn check<K: Hash + Eq + Clone>(limiter: &Keyed<K>, key: &K, clock: &DefaultClock) -> Option<Duration> {
    if limiter.len() > MAX_KEYS {
        prune(limiter);
    }
    limiter.check_key(key).err().map(|not_until| not_until.wait_time_from(clock.now()))
}

fn prune<K: Hash + Eq + Clone>(limiter: &Keyed<K>) {
    limiter.retain_recent();
    limiter.shrink_to_fit();
}

/// The last address in the trusted header: a proxy appends the peer it saw, so with
/// a list (`x-forwarded-for`) only the last entry is the trusted proxy's own word.
fn forwarded_ip(headers: &HeaderMap, name: &HeaderName) -> Option<IpAddr> {
    let value = headers.get_all(name).iter().next_back()?.to_str().ok()?;
    value.rsplit(',').next()?.trim().parse().ok()
}

/// IPv4 addresses as they are; IPv6 ones by their /64.
fn block(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        v4 => v4,
    }
}

/// A session token's key: part of its SHA-256, never the token.
fn session_key(token: &str) -> u128 {
    let digest = Sha256::digest(token.as_bytes());
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    u128::from_le_bytes(key)
}

/// Refuses a request over a limit; `/health` always passes.
pub async fn limit(State(limit): State<Arc<RateLimit>>, request: Request, next: Next) -> Response {
    if request.uri().path() == "/health" {
        return next.run(request).await;
    }
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0);
    match limit.check(request.headers(), peer) {
        None => next.run(request).await,
        Some(wait) => too_many_requests(wait),
    }
}

fn too_many_requests(wait: Duration) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let seconds = seconds.max(1);
    let body = error::refusal_body(code::RATE_LIMITED, &format!("too many requests; retry after {seconds} s"));
    (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, seconds.to_string())], axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_count_per_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(block(a), block(b));
        assert_ne!(block(a), block(other));
        assert_eq!(block("::ffff:10.0.0.1".parse().unwrap()), "10.0.0.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn only_the_last_forwarded_address_is_trusted() {
        let name = HeaderName::from_static("x-forwarded-for");
        let mut headers = HeaderMap::new();
        headers.insert(&name, "6.6.6.6, 203.0.113.7".parse().unwrap());
        assert_eq!(forwarded_ip(&headers, &name), Some("203.0.113.7".parse().unwrap()));
        headers.insert(&name, "not an ip".parse().unwrap());
        assert_eq!(forwarded_ip(&headers, &name), None);
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up() {
        let response = too_many_requests(Duration::from_millis(1200));
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
        assert_eq!(too_many_requests(Duration::ZERO).headers()[header::RETRY_AFTER], "1");
    }
}
