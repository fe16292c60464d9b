//! The NOTIFY side of the PostgreSQL fan-out: a [`TaskEvent`] as one or more
//! compact JSON payloads on [`CHANNEL`], sent inside the write's transaction.
//!
//! PostgreSQL delivers a transaction's notifications only when it commits, so a
//! rolled-back write never announces itself, and a committed one always does.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

use super::TaskEvent;

/// The channel every instance LISTENs on.
pub const CHANNEL: &str = "todo_graphql_tasks";

/// PostgreSQL refuses a payload of this many bytes or more.
pub const PAYLOAD_LIMIT: usize = 8000;

/// Bytes one id adds to a payload: 36 characters, two quotes, one comma.
const ID_BYTES: usize = 39;

/// Sends `event` on [`CHANNEL`] within the transaction `db`, in as many payloads as
/// its ids need; nothing for an event without ids, nor on SQLite (where the
/// mutation publishes in-process after commit).
///
/// # Errors
/// When the database fails, or the event cannot fit a payload (a user id of
/// thousands of bytes): then the caller's transaction, and its write, roll back.
pub async fn send(db: &impl ConnectionTrait, event: &TaskEvent) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    for payload in payloads(event)? {
        db.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [CHANNEL.into(), payload.into()],
        ))
        .await?;
    }
    Ok(())
}

/// The payloads of `event`: its ids split so that each is under [`PAYLOAD_LIMIT`].
///
/// # Errors
/// When not even one id fits beside the rest of the event.
pub fn payloads(event: &TaskEvent) -> Result<Vec<String>, DbErr> {
    let encode = |ids: &[uuid::Uuid]| {
        let chunk = TaskEvent { kind: event.kind, user_id: event.user_id.clone(), task_ids: ids.to_vec() };
        serde_json::to_string(&chunk).map_err(|err| DbErr::Custom(format!("encoding a task event: {err}")))
    };
    let base = encode(&[])?.len();
    // n ids take n * ID_BYTES - 1 bytes; the whole must stay below the limit.
    let per_payload = (PAYLOAD_LIMIT - 1).saturating_sub(base).saturating_add(1) / ID_BYTES;
    if per_payload == 0 {
        return Err(DbErr::Custom(format!(
            "a task event of a {}-byte user id does not fit a NOTIFY payload",
            event.user_id.len()
        )));
    }
    event.task_ids.chunks(per_payload).map(encode).collect()
}

/// The event a payload carries; `None` for one that is not an event (another
/// version's, or someone else's NOTIFY on the channel).
pub fn decode(payload: &str) -> Option<TaskEvent> {
    serde_json::from_str(payload).ok()
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::events::ChangeKind;

    fn event(user_id: &str, ids: usize) -> TaskEvent {
        TaskEvent {
            kind: ChangeKind::Deleted,
            user_id: user_id.into(),
            task_ids: (0..ids).map(|_| Uuid::new_v4()).collect(),
        }
    }

    #[test]
    fn one_id_is_one_compact_payload_that_decodes_back() {
        let event = event("u1", 1);
        let payloads = payloads(&event).unwrap();
        assert_eq!(payloads.len(), 1);
        assert!(payloads[0].len() < 100, "{}", payloads[0]);
        assert_eq!(decode(&payloads[0]), Some(event));
    }

    #[test]
    fn many_ids_split_into_payloads_under_the_limit_that_fill_it() {
        for user_id in ["u", &"x".repeat(32), &"\"é\\".repeat(300)] {
            for ids in [0, 1, 150, 1000, 5000] {
                let event = event(user_id, ids);
                let payloads = payloads(&event).unwrap();
                let mut seen = Vec::new();
                for payload in &payloads {
                    assert!(payload.len() < PAYLOAD_LIMIT, "{} bytes", payload.len());
                    let chunk = decode(payload).unwrap();
                    assert_eq!((chunk.kind, chunk.user_id.as_str()), (event.kind, user_id));
                    seen.extend(chunk.task_ids);
                }
                assert_eq!(seen, event.task_ids, "every id once, in order");
                // No payload could have taken one more id.
                for payload in payloads.iter().rev().skip(1) {
                    assert!(payload.len() + ID_BYTES >= PAYLOAD_LIMIT, "{} bytes", payload.len());
                }
            }
        }
    }

    #[test]
    fn a_user_id_too_long_for_any_payload_is_an_error() {
        assert!(payloads(&event(&"u".repeat(PAYLOAD_LIMIT), 1)).is_err());
    }

    #[test]
    fn what_is_not_an_event_decodes_to_none() {
        for payload in [
            "",
            "hello",
            "{}",
            r#"{"kind":"Eaten","user_id":"u","task_ids":[]}"#,
            r#"{"kind":"Created","user_id":"u","task_ids":["x"]}"#,
        ] {
            assert_eq!(decode(payload), None, "{payload}");
        }
    }
}
