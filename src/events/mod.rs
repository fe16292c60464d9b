//! Task changes, from the mutation that made them to every live subscription of
//! the same user.
//!
//! On PostgreSQL a mutation sends `pg_notify` in the transaction of its write (so
//! a rolled-back write never announces itself) and each instance's one LISTEN
//! connection ([`listen`]) hands what arrives to [`Hub::deliver`]. On embedded
//! SQLite there is one instance, and the mutation hands its event to the hub once
//! committed ([`Hub::publish_after_commit`]).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};
use uuid::Uuid;

pub mod listen;
pub mod notify;

/// What happened to the tasks of an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChangeKind {
    /// Created.
    Created,
    /// Changed (update or toggle).
    Updated,
    /// Deleted (one, or `clearCompletedTasks`'s many).
    Deleted,
}

/// One change to one user's tasks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskEvent {
    /// What happened.
    pub kind: ChangeKind,
    /// Whose tasks.
    pub user_id: String,
    /// Which tasks (several only for a bulk delete).
    pub task_ids: Vec<Uuid>,
}

/// Where events meet subscriptions, in one process.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    /// One channel per user with live subscriptions, so a subscription only ever
    /// buffers its own user's events: a busy neighbour cannot make it fall behind.
    users: Mutex<HashMap<String, broadcast::Sender<Arc<TaskEvent>>>>,
    /// How many subscriptions are live; the LISTEN connection follows it.
    subscribers: watch::Sender<usize>,
    /// Whether mutations publish in-process (SQLite) or by NOTIFY (PostgreSQL).
    in_process: bool,
}

/// Events of its user buffered per subscription before it counts as too slow.
pub const BUFFER: usize = 256;

impl Hub {
    /// A hub; `in_process` for embedded SQLite, where no NOTIFY carries events.
    pub fn new(in_process: bool) -> Self {
        let (subscribers, _) = watch::channel(0);
        Self { inner: Arc::new(Inner { users: Mutex::default(), subscribers, in_process }) }
    }

    fn users(&self) -> std::sync::MutexGuard<'_, HashMap<String, broadcast::Sender<Arc<TaskEvent>>>> {
        self.inner.users.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Hands an event that arrived (by NOTIFY, or in-process) to every subscription
    /// of its user; nothing is kept when the user has none here.
    pub fn deliver(&self, event: TaskEvent) {
        let sender = self.users().get(&event.user_id).cloned();
        if let Some(sender) = sender {
            let _ = sender.send(Arc::new(event));
        }
    }

    /// After a mutation committed: delivers its event when this hub is in-process;
    /// on PostgreSQL the NOTIFY sent in the transaction already is the publication.
    pub fn publish_after_commit(&self, event: TaskEvent) {
        if self.inner.in_process {
            self.deliver(event);
        }
    }

    /// A subscription to `user_id`'s events; dropping it unsubscribes.
    pub fn subscribe(&self, user_id: &str) -> Subscription {
        self.inner.subscribers.send_modify(|n| *n += 1);
        let events = self.users().entry(user_id.to_owned()).or_insert_with(|| broadcast::channel(BUFFER).0).subscribe();
        Subscription { user_id: user_id.to_owned(), events, hub: self.clone() }
    }

    /// How many subscriptions are live, and a way to wait for that to change.
    pub fn subscribers(&self) -> watch::Receiver<usize> {
        self.inner.subscribers.subscribe()
    }
}

/// One live subscription.
pub struct Subscription {
    user_id: String,
    events: broadcast::Receiver<Arc<TaskEvent>>,
    hub: Hub,
}

/// Why a subscription ended.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Ended {
    /// It fell more than [`BUFFER`] events behind; it is closed rather than allowed to grow.
    #[error("the subscription fell too far behind and was closed")]
    TooSlow,
    /// The hub is gone (the service is stopping).
    #[error("the service is stopping")]
    Closed,
}

impl Subscription {
    /// The next event of this subscription's user.
    ///
    /// # Errors
    /// When it fell too far behind, or the hub closed.
    pub async fn next(&mut self) -> Result<Arc<TaskEvent>, Ended> {
        loop {
            match self.events.recv().await {
                Ok(event) if event.user_id == self.user_id => return Ok(event),
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => return Err(Ended::TooSlow),
                Err(broadcast::error::RecvError::Closed) => return Err(Ended::Closed),
            }
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.inner.subscribers.send_modify(|n| *n = n.saturating_sub(1));
        // The last subscription of its user (this one's receiver is dropped right
        // after) takes the user's channel with it.
        let mut users = self.hub.users();
        if users.get(&self.user_id).is_some_and(|sender| sender.receiver_count() <= 1) {
            users.remove(&self.user_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn created(user_id: &str) -> TaskEvent {
        TaskEvent { kind: ChangeKind::Created, user_id: user_id.into(), task_ids: vec![Uuid::now_v7()] }
    }

    #[tokio::test]
    async fn a_busy_neighbour_never_makes_a_subscription_fall_behind() {
        let hub = Hub::new(true);
        let mut ada = hub.subscribe("ada");
        let _bob = hub.subscribe("bob");
        for _ in 0..BUFFER * 4 {
            hub.deliver(created("bob"));
        }
        let hers = created("ada");
        hub.deliver(hers.clone());
        assert_eq!(*ada.next().await.unwrap(), hers);
    }

    #[tokio::test]
    async fn a_users_channel_lives_as_long_as_their_subscriptions() {
        let hub = Hub::new(true);
        let (first, second) = (hub.subscribe("ada"), hub.subscribe("ada"));
        assert_eq!(*hub.subscribers().borrow(), 2);
        drop(first);
        assert!(hub.users().contains_key("ada"), "one subscription is left");
        drop(second);
        assert!(hub.users().is_empty());
        assert_eq!(*hub.subscribers().borrow(), 0);
        hub.deliver(created("ada"));
        let mut again = hub.subscribe("ada");
        let next = created("ada");
        hub.deliver(next.clone());
        assert_eq!(*again.next().await.unwrap(), next, "nothing kept from before");
    }
}
