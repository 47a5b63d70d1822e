//! Notifications: stored once per event and recipient (and once per actor, kind and target),
//! listed newest first as cards, with the read marker's unread count.

use futures_util::TryStreamExt;
use mongodb::bson::{DateTime, doc};
use xir_common::{domain::PageLimit, domain::UserId, errors::During, ids};
use xir_proto::timeline::v1::{self as pb, NotificationKind};

use crate::{
    error::Error,
    markers,
    store::{self, NotificationDoc},
    timelines::Timelines,
};

impl Timelines {
    /// Stores a notification unless this event already did for this recipient, or the same
    /// actor already notified the recipient of the same kind on the same target (an undone and
    /// redone like, follow or repost); never for your own actions.
    pub(crate) async fn notify(
        &self,
        event_id: &str,
        recipient: i64,
        actor: i64,
        kind: NotificationKind,
        tweet_id: i64,
    ) -> Result<(), Error> {
        let notice = self.notification(event_id, recipient, actor, kind, tweet_id)?;
        self.store_notifications(notice.into_iter().collect()).await
    }

    /// The notification of `actor`'s `kind` on `tweet_id` for `recipient`, none for your own
    /// actions.
    pub(crate) fn notification(
        &self,
        event_id: &str,
        recipient: i64,
        actor: i64,
        kind: NotificationKind,
        tweet_id: i64,
    ) -> Result<Option<NotificationDoc>, Error> {
        if recipient == actor || recipient <= 0 {
            return Ok(None);
        }
        Ok(Some(NotificationDoc {
            id: self.ids.next_id()?,
            event_id: event_id.to_owned(),
            recipient_id: recipient,
            actor_id: actor,
            kind: kind as i32,
            tweet_id,
            created_at: DateTime::now(),
        }))
    }

    /// Stores `notices` in one write; one stored before (the same event, or the same actor,
    /// kind and target) is kept as it is.
    pub(crate) async fn store_notifications(
        &self,
        notices: Vec<NotificationDoc>,
    ) -> Result<(), Error> {
        if notices.is_empty() {
            return Ok(());
        }
        match self.notifications.insert_many(notices).ordered(false).await {
            Ok(_) => Ok(()),
            Err(error) if store::is_duplicate(&error) => Ok(()),
            Err(error) => Err(Err(error).during("insert notifications")?),
        }
    }

    /// A page of `me`'s notifications in `range` as cards, the next page's `max_id` (0 on the
    /// last) and the unread count.
    pub async fn notifications(
        &self,
        me: UserId,
        range: mongodb::bson::Document,
        limit: PageLimit,
    ) -> Result<pb::ListNotificationsResponse, Error> {
        let mut filter = doc! { "recipient_id": me.get() };
        if !range.is_empty() {
            filter.insert("_id", range);
        }
        let found: Vec<NotificationDoc> = self
            .notifications
            .find(filter)
            .sort(doc! { "_id": -1 })
            .limit(limit.probe())
            .await
            .during("find notifications")?
            .try_collect()
            .await
            .during("read notifications")?;
        let (found, next_max_id) = limit.cut(found, |last| last.id);
        let tweet_ids: Vec<i64> = found
            .iter()
            .map(|n| n.tweet_id)
            .filter(|&id| id > 0)
            .collect();
        let actors: Vec<i64> = found.iter().map(|n| n.actor_id).collect();
        let (cards, profiles) = self.cards(&tweet_ids, &actors, me).await?;
        let notifications = found
            .iter()
            .map(|n| pb::Notification {
                notification_id: n.id,
                kind: n.kind,
                actor: profiles.get(&n.actor_id).cloned(),
                card: cards.get(&n.tweet_id).cloned(),
                created_at: Some(ids::created_at(n.id)),
            })
            .collect();
        let marker = self.marker(me).await?;
        Ok(pb::ListNotificationsResponse {
            notifications,
            next_max_id: next_max_id.unwrap_or(0),
            unread_count: marker.unread_count,
        })
    }

    /// `me`'s read marker and the count of what is newer.
    pub async fn marker(&self, me: UserId) -> Result<pb::NotificationMarker, Error> {
        let last_read_id = markers::last_read(&self.markers, me).await?;
        self.marker_at(me, last_read_id).await
    }

    /// Moves `me`'s marker forward to `wanted` (never back) and answers it as it is now.
    pub async fn advance_marker(
        &self,
        me: UserId,
        wanted: i64,
    ) -> Result<pb::NotificationMarker, Error> {
        let last_read_id = markers::advance(&self.markers, me, wanted).await?;
        self.marker_at(me, last_read_id).await
    }

    async fn marker_at(
        &self,
        me: UserId,
        last_read_id: i64,
    ) -> Result<pb::NotificationMarker, Error> {
        Ok(pb::NotificationMarker {
            last_read_id,
            unread_count: markers::unread(&self.notifications, me, last_read_id).await?,
        })
    }
}
