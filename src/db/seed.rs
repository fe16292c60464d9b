//! `todo-graphql seed`: many demo tasks, fast. Rows go in batches of
//! [`BATCH`], each one multi-row INSERT in a transaction of its own, with a
//! progress bar on a terminal.

use std::io::IsTerminal;

use anyhow::{Context as _, bail};
use chrono::{Duration, SubsecRound, Utc};
use entity::{session, tasks, user};
use indicatif::{ProgressBar, ProgressStyle};
use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait, TransactionTrait};
use uuid::Uuid;

use super::task::NewTask;

/// Rows per INSERT: 7 columns each stays under PostgreSQL's 65535 parameters and
/// SQLite's 32766.
pub const BATCH: usize = 2000;

/// Embedded mode: `count` demo users, each with a year-long session, in batches;
/// answers their ids.
///
/// # Errors
/// A database failure.
pub async fn users(db: &DatabaseConnection, count: u32) -> anyhow::Result<Vec<String>> {
    let now = Utc::now().trunc_subsecs(3);
    let run = crate::embedded::random_token();
    let ids: Vec<String> = (1..=count).map(|n| format!("seed-{}-{n}", &run[..8])).collect();
    for chunk in ids.chunks(BATCH / 2) {
        let transaction = db.begin().await?;
        let users = chunk.iter().map(|id| user::ActiveModel {
            id: Set(id.clone()),
            name: Set(format!("Seed user {id}")),
            email: Set(format!("{id}@example.com")),
            email_verified: Set(true),
            image: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        });
        user::Entity::insert_many(users).exec(&transaction).await.context("inserting users")?;
        let sessions = chunk.iter().map(|id| session::ActiveModel {
            id: Set(crate::embedded::random_token()),
            expires_at: Set(now + Duration::days(365)),
            token: Set(crate::embedded::random_token()),
            created_at: Set(now),
            updated_at: Set(now),
            ip_address: Set(None),
            user_agent: Set(Some("todo-graphql seed".to_owned())),
            user_id: Set(id.clone()),
        });
        session::Entity::insert_many(sessions).exec(&transaction).await.context("inserting sessions")?;
        transaction.commit().await?;
    }
    Ok(ids)
}

/// Adds `per_user` tasks to each of the Better Auth users `user_ids`, which must
/// exist in the user table `users` reads; answers how many were added.
///
/// # Errors
/// An unknown user id, or a database failure (earlier batches stay committed).
pub async fn tasks(
    db: &DatabaseConnection,
    users: &super::user::Users,
    user_ids: &[String],
    per_user: u32,
) -> anyhow::Result<u64> {
    let distinct: std::collections::HashSet<&String> = user_ids.iter().collect();
    let ids: Vec<String> = distinct.iter().map(|id| (*id).clone()).collect();
    let known = users.find_by_ids(&ids).await?.len();
    if known != distinct.len() {
        bail!("not every --user-id names a Better Auth user ({known} of {} found)", distinct.len());
    }
    let total = distinct.len() as u64 * u64::from(per_user);
    let progress = if std::io::stderr().is_terminal() { ProgressBar::new(total) } else { ProgressBar::hidden() };
    progress.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} tasks {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let now = Utc::now().trunc_subsecs(3);
    let mut rows = distinct.iter().flat_map(|user_id| {
        (0..per_user).map(move |n| {
            // Spread over the past, one millisecond apart, newest first in the list.
            let at = now - Duration::milliseconds(i64::from(n));
            NewTask {
                title: format!("Demo task {}", n + 1),
                description: (n % 4 == 0).then(|| "Seeded by todo-graphql seed".to_owned()),
                completed: n % 3 == 0,
            }
            .row(Uuid::now_v7(), user_id, at)
        })
    });
    let mut added = 0;
    loop {
        let batch: Vec<tasks::ActiveModel> = rows.by_ref().take(BATCH).collect();
        if batch.is_empty() {
            break;
        }
        let size = batch.len() as u64;
        let transaction = db.begin().await?;
        tasks::Entity::insert_many(batch).exec(&transaction).await.context("inserting a batch")?;
        transaction.commit().await?;
        added += size;
        progress.inc(size);
    }
    progress.finish_and_clear();
    Ok(added)
}
