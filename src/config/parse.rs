//! Value parsers for `clap` beyond its own: durations and counts with a range, and
//! the few settings with a shape of their own. Their errors become the reason in the
//! one line start-up prints ([`super::cli::one_line`]).

use std::{ops::RangeInclusive, time::Duration};

use clap::builder::{RangedU64ValueParser, TypedValueParser};

/// Whole seconds within `range`, as a [`Duration`].
pub fn seconds(range: RangeInclusive<u64>) -> impl TypedValueParser<Value = Duration> {
    RangedU64ValueParser::<u64>::new().range(range).map(Duration::from_secs)
}

/// Whole milliseconds within `range`, as a [`Duration`].
pub fn millis(range: RangeInclusive<u64>) -> impl TypedValueParser<Value = Duration> {
    RangedU64ValueParser::<u64>::new().range(range).map(Duration::from_millis)
}

/// A count within `range`, as a `usize` (every range here fits one).
pub fn count(range: RangeInclusive<u64>) -> impl TypedValueParser<Value = usize> {
    RangedU64ValueParser::<u64>::new().range(range).map(|n| usize::try_from(n).unwrap_or(usize::MAX))
}

/// Allowed browser origins. An alias, not `Vec<String>` written out: `clap` reads a
/// `Vec` field as a repeated flag, and this is one comma-separated value.
pub type Origins = Vec<String>;

/// Comma-separated `scheme://host[:port]` origins, serialized as browsers send them.
///
/// # Errors
/// The first item that is not an origin.
pub fn origins(value: &str) -> Result<Origins, String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|origin| !origin.is_empty())
        .map(|origin| {
            url::Url::parse(origin)
                .ok()
                .filter(|url| matches!(url.scheme(), "http" | "https") && url.path() == "/" && url.query().is_none())
                .map(|url| url.origin().ascii_serialization())
                .ok_or_else(|| format!("not an origin (scheme://host[:port]): {origin:?}"))
        })
        .collect()
}

/// A cookie name prefix: printable ASCII without `;` or `=`.
///
/// # Errors
/// Empty, or a character a cookie name cannot hold.
pub fn cookie_prefix(value: &str) -> Result<String, String> {
    let prefix = value.trim();
    if prefix.is_empty() || !prefix.chars().all(|c| c.is_ascii_graphic() && c != ';' && c != '=') {
        return Err("must be a non-empty cookie name prefix".into());
    }
    Ok(prefix.to_owned())
}

/// A header name, lower-cased.
///
/// # Errors
/// Not a valid header name.
pub fn header_name(value: &str) -> Result<http::HeaderName, String> {
    http::HeaderName::from_bytes(value.trim().to_ascii_lowercase().as_bytes())
        .map_err(|_| "not a header name".to_owned())
}
