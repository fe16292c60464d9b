//! Retry-safe creates: a key the client chose (`clientMutationId`), recorded per
//! user in `task_creations` in the same transaction as the task it made, so that
//! the same key again answers that task instead of making another.

use chrono::{DateTime, SubsecRound, Utc};
use entity::{task_creations, tasks::Model};
use sea_orm::{
    ActiveValue::Set,
    ConnectionTrait, DbBackend, DbErr, EntityTrait, ExprTrait, Statement,
    sea_query::{Expr, OnConflict},
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{
    NewTask, find,
    write::{announce, insert},
};
use crate::db::Writer;

/// How long a key is remembered at least. Older records are purged a few at a
/// time by later keyed creates, and until then are treated as gone.
pub const RETENTION: chrono::TimeDelta = chrono::TimeDelta::hours(48);
/// Longest key, in characters.
pub const KEY_MAX: usize = 64;
/// Expired records each keyed create deletes at most: more than the one it adds,
/// so the table never grows past what the retention holds.
const PURGE_BATCH: u32 = 10;

/// A client's key: 1 to [`KEY_MAX`] printable ASCII characters other than space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreationKey(String);

impl CreationKey {
    /// The key, when `text` is one.
    pub fn parse(text: &str) -> Option<Self> {
        let fits = (1..=KEY_MAX).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic());
        fits.then(|| Self(text.to_owned()))
    }

    /// The key as the client sent it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a create with a key came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Creation {
    /// Made now, by this request.
    Made(Model),
    /// Made by an earlier request with this key and the same input; the task as
    /// it is now (a replay: nothing changed, nothing to announce).
    Task(Model),
    /// The key was used before with other input; nothing was made.
    KeyReused,
    /// The key made a task that has since been deleted; nothing was made.
    TaskDeleted,
}

/// Creates the task unless `key` already made one for this user.
///
/// The record is claimed first (`INSERT … ON CONFLICT`): on PostgreSQL a
/// concurrent create with the same key waits on it until this transaction ends,
/// then finds the record and answers the same task; SQLite's single connection
/// serialises them anyway.
///
/// # Errors
/// When the database fails; then nothing was recorded or made.
pub async fn create_once(
    db: &Writer,
    user_id: &str,
    key: &CreationKey,
    new: NewTask,
    now: DateTime<Utc>,
) -> Result<Creation, DbErr> {
    let hash = request_hash(&new);
    let expired = now - RETENTION;
    let transaction = db.begin().await?;
    purge(&transaction, db.backend(), expired).await?;
    let id = Uuid::now_v7();
    let record = task_creations::ActiveModel {
        user_id: Set(user_id.to_owned()),
        client_mutation_id: Set(key.0.clone()),
        task_id: Set(id),
        request_hash: Set(hash.clone()),
        created_at: Set(now.trunc_subsecs(3)),
    };
    use task_creations::Column;
    // An expired record left by a purge that has not reached it yet is taken over.
    let claim = OnConflict::columns([Column::UserId, Column::ClientMutationId])
        .update_columns([Column::TaskId, Column::RequestHash, Column::CreatedAt])
        .action_and_where(Expr::col((task_creations::Entity, Column::CreatedAt)).lt(expired))
        .to_owned();
    let claimed =
        task_creations::Entity::insert(record).on_conflict(claim).exec_without_returning(&transaction).await?;
    let outcome = if claimed == 1 {
        let task = insert(&transaction, id, user_id, new, now).await?;
        announce(&transaction, crate::events::ChangeKind::Created, user_id, vec![id]).await?;
        Creation::Made(task)
    } else {
        let record = task_creations::Entity::find_by_id((user_id.to_owned(), key.0.clone()))
            .one(&transaction)
            .await?
            .ok_or_else(|| DbErr::RecordNotFound("the task_creations row that conflicted".into()))?;
        if record.request_hash != hash {
            Creation::KeyReused
        } else {
            find(&transaction, user_id, record.task_id).await?.map_or(Creation::TaskDeleted, Creation::Task)
        }
    };
    Writer::commit(transaction).await?;
    Ok(outcome)
}

/// Deletes a few records older than the retention. On PostgreSQL rows another
/// transaction is deleting are skipped, not waited for, so two purges never
/// deadlock.
async fn purge(db: &impl ConnectionTrait, backend: DbBackend, expired: DateTime<Utc>) -> Result<(), DbErr> {
    let sql = match backend {
        DbBackend::Postgres => format!(
            "DELETE FROM task_creations WHERE (user_id, client_mutation_id) IN \
             (SELECT user_id, client_mutation_id FROM task_creations WHERE created_at < $1 \
              LIMIT {PURGE_BATCH} FOR UPDATE SKIP LOCKED)"
        ),
        _ => format!(
            "DELETE FROM task_creations WHERE (user_id, client_mutation_id) IN \
             (SELECT user_id, client_mutation_id FROM task_creations WHERE created_at < ? LIMIT {PURGE_BATCH})"
        ),
    };
    db.execute_raw(Statement::from_sql_and_values(backend, sql, [expired.into()])).await?;
    Ok(())
}

/// SHA-256 of the validated input, in hex: the same key with other input is
/// refused rather than answered with a task the client did not describe.
fn request_hash(new: &NewTask) -> String {
    let canonical = serde_json::json!([new.title, new.description, new.completed]);
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_one_to_sixty_four_visible_ascii_characters() {
        for good in ["a", "0d2f6d0e-3c1b-4e8a-9a57-6c1f0f1b2a3c", &"k".repeat(64), "~!@#$%^&*()_+{}|:\"<>?"] {
            assert_eq!(CreationKey::parse(good).map(|k| k.0), Some(good.to_owned()), "{good:?}");
        }
        for bad in ["", &"k".repeat(65), "with space", "tab\t", "nul\0", "é", "日本", "line\n", "\u{7f}"] {
            assert_eq!(CreationKey::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_hash_tells_inputs_apart() {
        let task = |title: &str, description: Option<&str>, completed| NewTask {
            title: title.into(),
            description: description.map(str::to_owned),
            completed,
        };
        let base = request_hash(&task("a", None, false));
        assert_eq!(base, request_hash(&task("a", None, false)));
        for other in
            [task("a", Some(""), false), task("a", None, true), task("b", None, false), task("a\",null", None, false)]
        {
            assert_ne!(base, request_hash(&other), "{other:?}");
        }
        assert_eq!(base.len(), 64);
    }
}
