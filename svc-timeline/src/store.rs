//! svc-timeline's collections and the indexes every query needs. (Home timelines are in
//! Redis: see `homes`.)

use mongodb::bson::{DateTime, doc};
use serde::{Deserialize, Serialize};
pub use xir_common::mongo::is_duplicate;
use xir_common::mongo::{IndexPlan, index};

pub const NOTIFICATIONS: &str = "notifications";
pub const APPLIED_EVENTS: &str = "applied_events";
/// One read marker per user, by `_id` (see [`crate::markers`]).
pub const MARKERS: &str = "notification_markers";

/// A notification: `actor_id` did `kind` (a `NotificationKind`) to the recipient, on
/// `tweet_id` (0 for a follow). Its id orders the list and dates it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationDoc {
    #[serde(rename = "_id")]
    pub id: i64,
    /// The event that made it: one notification per event and recipient.
    pub event_id: String,
    pub recipient_id: i64,
    pub actor_id: i64,
    pub kind: i32,
    #[serde(default)]
    pub tweet_id: i64,
    pub created_at: DateTime,
}

/// A user's read marker: the newest notification they have seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkerDoc {
    /// The user.
    #[serde(rename = "_id")]
    pub user_id: i64,
    pub last_read_id: i64,
}

/// An event applied: its effects are written and a redelivery is a no-op.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedDoc {
    #[serde(rename = "_id")]
    pub event_id: String,
    pub applied_at: DateTime,
}

pub fn indexes() -> IndexPlan {
    vec![
        // A recipient's notifications, newest first.
        (
            NOTIFICATIONS,
            index(
                doc! { "recipient_id": 1, "_id": -1 },
                "recipient_newest",
                false,
            ),
        ),
        // One notification per event and recipient, however often the event is delivered.
        (
            NOTIFICATIONS,
            index(
                doc! { "event_id": 1, "recipient_id": 1 },
                "event_recipient_unique",
                true,
            ),
        ),
        // One notification per actor, kind and target, however often the action is undone and
        // done again: toggling a like, follow or repost cannot flood anyone.
        (
            NOTIFICATIONS,
            index(
                doc! { "recipient_id": 1, "actor_id": 1, "kind": 1, "tweet_id": 1 },
                "recipient_actor_kind_target_unique",
                true,
            ),
        ),
        // Applied event ids (the _id) make redelivery a no-op; old ones are swept by age.
        (
            APPLIED_EVENTS,
            index(doc! { "applied_at": 1 }, "applied_at", false),
        ),
    ]
}
