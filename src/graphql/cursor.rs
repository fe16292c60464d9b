//! Opaque, signed page cursors.
//!
//! A cursor is the position of a row in one order (`db::task::Key`) plus which order
//! it belongs to, with a truncated HMAC so a cursor that the service did not hand
//! out is refused instead of silently meaning something else.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

use crate::db::task::{Key, KeyValue, SortField};

const VERSION: u8 = 1;
const TAG_LEN: usize = 12;

/// Signs and checks cursors with a key derived from the service's secret.
#[derive(Clone)]
pub struct CursorCodec {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for CursorCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorCodec([REDACTED])")
    }
}

/// Why a cursor was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    /// Not a cursor this service made.
    #[error("not a valid cursor")]
    Invalid,
    /// A cursor of another order (for example a `TITLE` cursor on a `CREATED_AT` list).
    #[error("this cursor belongs to another order")]
    OtherOrder,
}

impl CursorCodec {
    /// A codec keyed from `secret` (domain-separated, so it never equals a cookie MAC).
    pub fn new(secret: &str) -> Self {
        let mut derive = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
        derive.update(b"todo-graphql cursor v1");
        let key = derive.finalize().into_bytes();
        let mac = Hmac::<Sha256>::new_from_slice(&key).unwrap_or_else(|_| unreachable!());
        Self { mac }
    }

    /// The cursor of `key` in an order by `field`.
    pub fn encode(&self, field: SortField, key: &Key) -> String {
        let mut bytes = Vec::with_capacity(26 + TAG_LEN);
        bytes.push(VERSION);
        bytes.push(field_byte(field));
        bytes.extend_from_slice(key.id.as_bytes());
        match &key.value {
            KeyValue::Time(time) => bytes.extend_from_slice(&time.timestamp_micros().to_be_bytes()),
            KeyValue::Text(text) => bytes.extend_from_slice(text.as_bytes()),
        }
        let tag = self.tag(&bytes);
        bytes.extend_from_slice(&tag);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The key inside `cursor`, which must belong to an order by `field`.
    ///
    /// # Errors
    /// When the cursor was not made by this service, or not for this order.
    pub fn decode(&self, field: SortField, cursor: &str) -> Result<Key, CursorError> {
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| CursorError::Invalid)?;
        if bytes.len() < 18 + TAG_LEN {
            return Err(CursorError::Invalid);
        }
        let (payload, tag) = bytes.split_at(bytes.len() - TAG_LEN);
        let mut mac = self.mac.clone();
        mac.update(payload);
        mac.verify_truncated_left(tag).map_err(|_| CursorError::Invalid)?;
        if payload[0] != VERSION {
            return Err(CursorError::Invalid);
        }
        if payload[1] != field_byte(field) {
            return Err(CursorError::OtherOrder);
        }
        let id = Uuid::from_slice(&payload[2..18]).map_err(|_| CursorError::Invalid)?;
        let rest = &payload[18..];
        let value = match field {
            SortField::CreatedAt | SortField::UpdatedAt => {
                let micros = i64::from_be_bytes(rest.try_into().map_err(|_| CursorError::Invalid)?);
                KeyValue::Time(chrono::DateTime::from_timestamp_micros(micros).ok_or(CursorError::Invalid)?)
            }
            SortField::Title => KeyValue::Text(String::from_utf8(rest.to_vec()).map_err(|_| CursorError::Invalid)?),
        };
        Ok(Key { value, id })
    }

    fn tag(&self, payload: &[u8]) -> [u8; TAG_LEN] {
        let mut mac = self.mac.clone();
        mac.update(payload);
        let full = mac.finalize().into_bytes();
        let mut tag = [0; TAG_LEN];
        tag.copy_from_slice(&full[..TAG_LEN]);
        tag
    }
}

fn field_byte(field: SortField) -> u8 {
    match field {
        SortField::CreatedAt => 1,
        SortField::UpdatedAt => 2,
        SortField::Title => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(value: KeyValue) -> Key {
        Key { value, id: Uuid::now_v7() }
    }

    #[test]
    fn cursors_round_trip_to_the_microsecond_and_character() {
        let codec = CursorCodec::new("secret");
        let time = chrono::DateTime::from_timestamp_micros(1_790_000_000_123_456).unwrap();
        for (field, key) in [
            (SortField::CreatedAt, key(KeyValue::Time(time))),
            (SortField::UpdatedAt, key(KeyValue::Time(time))),
            (SortField::Title, key(KeyValue::Text("Grüße, 日本 ✓".into()))),
        ] {
            let cursor = codec.encode(field, &key);
            assert_eq!(codec.decode(field, &cursor), Ok(key));
        }
    }

    #[test]
    fn forged_and_foreign_cursors_are_refused() {
        let codec = CursorCodec::new("secret");
        let cursor = codec.encode(SortField::Title, &key(KeyValue::Text("a".into())));
        assert_eq!(codec.decode(SortField::CreatedAt, &cursor), Err(CursorError::OtherOrder));
        assert_eq!(CursorCodec::new("other").decode(SortField::Title, &cursor), Err(CursorError::Invalid));
        let mut bytes = URL_SAFE_NO_PAD.decode(&cursor).unwrap();
        bytes[5] ^= 1;
        assert_eq!(codec.decode(SortField::Title, &URL_SAFE_NO_PAD.encode(bytes)), Err(CursorError::Invalid));
        for junk in ["", "abc", "!!!!", "YWJj"] {
            assert_eq!(codec.decode(SortField::Title, junk), Err(CursorError::Invalid), "{junk}");
        }
    }
}
