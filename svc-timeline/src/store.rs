//! svc-timeline's collections and the indexes every query needs.

use mongodb::bson::doc;
pub use xir_common::mongo::is_duplicate;
use xir_common::mongo::{IndexPlan, index};

pub const ENTRIES: &str = "timeline_entries";
pub const NOTIFICATIONS: &str = "notifications";
pub const APPLIED_EVENTS: &str = "applied_events";
/// One read marker per user, by `_id` (see [`crate::markers`]).
pub const MARKERS: &str = "notification_markers";

pub fn indexes() -> IndexPlan {
    vec![
        // One entry per timeline and item (idempotent fan-out); a page reads it newest first.
        (
            ENTRIES,
            index(
                doc! { "owner_id": 1, "item_id": -1 },
                "owner_newest_unique",
                true,
            ),
        ),
        // Unfollow removes one author's entries from one timeline.
        (
            ENTRIES,
            index(
                doc! { "owner_id": 1, "author_id": 1 },
                "owner_author",
                false,
            ),
        ),
        // A deleted tweet leaves every timeline.
        (ENTRIES, index(doc! { "tweet_id": 1 }, "tweet", false)),
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
