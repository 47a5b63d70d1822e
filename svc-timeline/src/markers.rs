//! Notification read markers: the newest notification each user has seen, kept in one
//! document per user (`_id` = the user), and how many are newer.

use mongodb::{Collection, bson::doc, options::UpdateOptions};
use tracing::instrument;
use xir_common::{
    domain::UserId,
    errors::{During, FieldViolations},
    ids,
};

use crate::{
    error::Error,
    store::{MarkerDoc, NotificationDoc},
};

/// Unread counts stop here: a badge needs "many", not the exact size of a backlog, and the
/// count stays bounded work.
pub const UNREAD_CAP: u64 = 1000;

/// How far ahead of this process's clock a marker may point: ids carry their creation time,
/// so an id far in the future cannot be a notification the user has seen, and would mark
/// every later one read.
const FUTURE_SLACK_MS: u64 = 60_000;

/// A marker position the user may set: 0 (nothing read yet) or a notification id that is not
/// from the future.
pub fn parse_last_read(raw: i64, now_ms: u64) -> Result<i64, FieldViolations> {
    if raw < 0 {
        return Err(FieldViolations::single(
            "last_read_id",
            "must be 0 or a notification id",
        ));
    }
    if raw > 0 && ids::timestamp_ms(raw) > now_ms + FUTURE_SLACK_MS {
        return Err(FieldViolations::single(
            "last_read_id",
            "is not the id of a notification",
        ));
    }
    Ok(raw)
}

/// The user's marker; 0 when they never set one.
#[instrument(skip_all, fields(user = user.get()))]
pub async fn last_read(markers: &Collection<MarkerDoc>, user: UserId) -> Result<i64, Error> {
    let marker = markers
        .find_one(doc! { "_id": user.get() })
        .await
        .during("read marker")?;
    Ok(marker.map_or(0, |m| m.last_read_id))
}

/// Moves the marker to `last_read_id` unless it is already further (`$max`), and returns
/// where it is now.
#[instrument(skip_all, fields(user = user.get()))]
pub async fn advance(
    markers: &Collection<MarkerDoc>,
    user: UserId,
    last_read_id: i64,
) -> Result<i64, Error> {
    markers
        .update_one(
            doc! { "_id": user.get() },
            doc! { "$max": { "last_read_id": last_read_id } },
        )
        .with_options(UpdateOptions::builder().upsert(true).build())
        .await
        .during("advance marker")?;
    last_read(markers, user).await
}

/// Notifications of `user` newer than `last_read`, up to [`UNREAD_CAP`].
#[instrument(skip_all, fields(user = user.get()))]
pub async fn unread(
    notifications: &Collection<NotificationDoc>,
    user: UserId,
    last_read: i64,
) -> Result<i64, Error> {
    let count = notifications
        .count_documents(doc! { "recipient_id": user.get(), "_id": { "$gt": last_read } })
        .limit(UNREAD_CAP)
        .await
        .during("count unread notifications")?;
    Ok(count as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_is_zero_or_a_notification_id_not_from_the_future() {
        let now_ms = 1_800_000_000_000;
        assert_eq!(parse_last_read(0, now_ms), Ok(0));
        let recent = ids::first_id_at(now_ms - 1_000);
        assert_eq!(parse_last_read(recent, now_ms), Ok(recent));
        for bad in [-1, ids::first_id_at(now_ms + 10 * FUTURE_SLACK_MS)] {
            let error = parse_last_read(bad, now_ms).expect_err("refused");
            assert!(error.to_string().starts_with("last_read_id:"), "{error}");
        }
    }
}
