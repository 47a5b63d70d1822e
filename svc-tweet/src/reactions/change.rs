//! A reaction's pending change as its document records it, and what it tells svc-timeline.

use mongodb::bson::{DateTime, Document, doc};
use prost::Message;
use xir_proto::timeline::v1::{self as events, tweet_event::Kind};

use crate::store::{self, PendingEvent, Target};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reaction {
    Like,
    Repost,
}

impl Reaction {
    pub(super) fn counter(self) -> &'static str {
        match self {
            Reaction::Like => "like_count",
            Reaction::Repost => "repost_count",
        }
    }
}

/// One pending change of a reaction, as its document records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Change {
    pub(super) reaction: Reaction,
    pub(super) event_id: i64,
    /// +1 for a new reaction, -1 for one undone.
    pub(super) delta: i32,
    pub(super) tweet_id: i64,
    pub(super) user_id: i64,
    /// The reaction document's id (a repost's id orders it in timelines).
    pub(super) reaction_id: i64,
}

impl Change {
    /// The timeline event the change makes: a like, a repost and its undoing tell
    /// svc-timeline; taking back a like tells nobody.
    pub(super) fn event(&self, tweet_author_id: i64) -> Option<Kind> {
        let (tweet_id, user_id, repost_id) = (self.tweet_id, self.user_id, self.reaction_id);
        match (self.reaction, self.delta > 0) {
            (Reaction::Like, true) => Some(Kind::Liked(events::TweetLiked {
                tweet_id,
                tweet_author_id,
                liker_id: user_id,
            })),
            (Reaction::Like, false) => None,
            (Reaction::Repost, true) => Some(Kind::Reposted(events::TweetReposted {
                repost_id,
                tweet_id,
                tweet_author_id,
                reposter_id: user_id,
            })),
            (Reaction::Repost, false) => Some(Kind::Unreposted(events::TweetUnreposted {
                repost_id,
                tweet_id,
                reposter_id: user_id,
            })),
        }
    }
}

/// A tweet event for the timeline service, keyed by `id` in the tweet's outbox.
pub fn timeline_event(id: i64, kind: Kind) -> (String, PendingEvent) {
    let event = events::TweetEvent {
        event_id: format!("svc-tweet:{id}"),
        occurred_at: Some(store::timestamp(DateTime::now())),
        kind: Some(kind),
    };
    (
        id.to_string(),
        PendingEvent::new(Target::Timeline, event.encode_to_vec()),
    )
}

/// The delta of a reaction's pending change, if it has one.
pub fn pending_delta(reaction: &Document) -> Option<i32> {
    reaction
        .get_document("pending")
        .ok()
        .and_then(|pending| pending.get_i32("delta").ok())
}

/// The filter of reactions that count as the viewer's (an undo under way no longer does).
pub fn current() -> Document {
    doc! { "pending.delta": { "$ne": -1 } }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(reaction: Reaction, delta: i32) -> Change {
        Change {
            reaction,
            event_id: 1,
            delta,
            tweet_id: 10,
            user_id: 20,
            reaction_id: 30,
        }
    }

    #[test]
    fn a_like_tells_the_timeline_and_its_undoing_tells_nobody() {
        let liked = change(Reaction::Like, 1).event(5);
        assert_eq!(
            liked,
            Some(Kind::Liked(events::TweetLiked {
                tweet_id: 10,
                tweet_author_id: 5,
                liker_id: 20,
            }))
        );
        assert_eq!(change(Reaction::Like, -1).event(5), None);
    }

    #[test]
    fn a_repost_and_its_undoing_name_the_repost() {
        let Some(Kind::Reposted(reposted)) = change(Reaction::Repost, 1).event(5) else {
            panic!("a repost makes a Reposted event");
        };
        assert_eq!((reposted.repost_id, reposted.reposter_id), (30, 20));
        let Some(Kind::Unreposted(undone)) = change(Reaction::Repost, -1).event(5) else {
            panic!("an undone repost makes an Unreposted event");
        };
        assert_eq!((undone.repost_id, undone.tweet_id), (30, 10));
    }
}
