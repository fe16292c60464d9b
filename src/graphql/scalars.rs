//! The `DateTime` scalar: RFC 3339 in UTC with a `Z` and milliseconds.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::{SecondsFormat, Utc};

/// An instant in time, RFC 3339 with an explicit offset, always written in UTC
/// with a `Z` suffix, e.g. `2026-01-26T12:00:00.123Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime(pub chrono::DateTime<Utc>);

/// An instant in time, RFC 3339 with an explicit offset, always written in UTC
/// with a `Z` suffix, e.g. `2026-01-26T12:00:00.123Z`.
#[Scalar(name = "DateTime")]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => chrono::DateTime::parse_from_rfc3339(text)
                .map(|time| Self(time.with_timezone(&Utc)))
                .map_err(|_| InputValueError::custom("expected an RFC 3339 date-time with an offset")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_in_utc_with_z_and_milliseconds() {
        let time = chrono::DateTime::parse_from_rfc3339("2026-01-26T13:00:00.123456+01:00").unwrap();
        let value = DateTime(time.with_timezone(&Utc)).to_value();
        assert_eq!(value, Value::String("2026-01-26T12:00:00.123Z".into()));
    }
}
