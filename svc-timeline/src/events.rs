//! What each tweet event does to timelines and notifications, decided without I/O: who is
//! notified, what is fanned out, what leaves the timelines. The API applies the effects in
//! that order, once per event id.

use xir_proto::timeline::v1::{NotificationKind, TweetCreated, tweet_event::Kind};

use crate::fanout::Entry;

/// One notification to make (none when the recipient is the actor: see `notify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Notice {
    pub recipient: i64,
    pub actor: i64,
    pub kind: NotificationKind,
    pub tweet_id: i64,
}

#[derive(Debug)]
pub struct Effects {
    /// The event's kind, for the applied-events record and metrics.
    pub label: &'static str,
    pub notices: Vec<Notice>,
    pub fan_out: Option<Entry>,
    /// The entry to take out of every timeline it was fanned out to: a deleted tweet, or an
    /// undone repost. (Others' reposts of a deleted tweet stay in their followers' timelines
    /// until read: hydration leaves out an item whose tweet is gone.)
    pub removal: Option<Entry>,
}

pub fn effects(kind: Kind) -> Effects {
    let mut effects = Effects {
        label: "",
        notices: Vec::new(),
        fan_out: None,
        removal: None,
    };
    match kind {
        Kind::Created(created) => return created_effects(created),
        Kind::Deleted(deleted) => {
            effects.label = "deleted";
            effects.removal = Some(Entry {
                item_id: deleted.tweet_id,
                tweet_id: deleted.tweet_id,
                author_id: deleted.author_id,
                reposted_by: 0,
            });
        }
        Kind::Reposted(reposted) => {
            effects.label = "reposted";
            effects.notices.push(Notice {
                recipient: reposted.tweet_author_id,
                actor: reposted.reposter_id,
                kind: NotificationKind::Repost,
                tweet_id: reposted.tweet_id,
            });
            effects.fan_out = Some(Entry {
                item_id: reposted.repost_id,
                tweet_id: reposted.tweet_id,
                author_id: reposted.reposter_id,
                reposted_by: reposted.reposter_id,
            });
        }
        Kind::Unreposted(unreposted) => {
            effects.label = "unreposted";
            effects.removal = Some(Entry {
                item_id: unreposted.repost_id,
                tweet_id: unreposted.tweet_id,
                author_id: unreposted.reposter_id,
                reposted_by: unreposted.reposter_id,
            });
        }
        Kind::Liked(liked) => {
            effects.label = "liked";
            effects.notices.push(Notice {
                recipient: liked.tweet_author_id,
                actor: liked.liker_id,
                kind: NotificationKind::Like,
                tweet_id: liked.tweet_id,
            });
        }
    }
    effects
}

/// A new tweet: its reply, quote and mentions notify their users, and it is fanned out.
fn created_effects(created: TweetCreated) -> Effects {
    let notice = |recipient, kind| Notice {
        recipient,
        actor: created.author_id,
        kind,
        tweet_id: created.tweet_id,
    };
    let mut notices = Vec::new();
    if created.reply_to_tweet_id != 0 {
        notices.push(notice(created.reply_to_user_id, NotificationKind::Reply));
    }
    if created.quote_of_tweet_id != 0 {
        notices.push(notice(created.quoted_user_id, NotificationKind::Quote));
    }
    for &mentioned in &created.mentioned_user_ids {
        notices.push(notice(mentioned, NotificationKind::Mention));
    }
    Effects {
        label: "created",
        notices,
        fan_out: Some(Entry {
            item_id: created.tweet_id,
            tweet_id: created.tweet_id,
            author_id: created.author_id,
            reposted_by: 0,
        }),
        removal: None,
    }
}

#[cfg(test)]
mod tests {
    use xir_proto::timeline::v1::{TweetDeleted, TweetReposted, TweetUnreposted};

    use super::*;

    #[test]
    fn a_reply_that_quotes_and_mentions_notifies_each_and_fans_out_the_tweet() {
        let effects = effects(Kind::Created(TweetCreated {
            tweet_id: 50,
            author_id: 1,
            reply_to_tweet_id: 40,
            reply_to_user_id: 2,
            quote_of_tweet_id: 30,
            quoted_user_id: 3,
            mentioned_user_ids: vec![4, 5],
        }));
        let notified: Vec<(i64, NotificationKind)> = effects
            .notices
            .iter()
            .map(|n| (n.recipient, n.kind))
            .collect();
        assert_eq!(
            notified,
            [
                (2, NotificationKind::Reply),
                (3, NotificationKind::Quote),
                (4, NotificationKind::Mention),
                (5, NotificationKind::Mention),
            ]
        );
        assert!(
            effects
                .notices
                .iter()
                .all(|n| n.actor == 1 && n.tweet_id == 50)
        );
        let entry = effects.fan_out.expect("fanned out");
        assert_eq!(
            (entry.item_id, entry.tweet_id, entry.reposted_by),
            (50, 50, 0)
        );
        assert!(effects.removal.is_none());
    }

    #[test]
    fn a_repost_fans_out_under_its_own_id_and_notifies_the_author() {
        let effects = effects(Kind::Reposted(TweetReposted {
            repost_id: 90,
            tweet_id: 50,
            tweet_author_id: 1,
            reposter_id: 7,
        }));
        let entry = effects.fan_out.expect("fanned out");
        assert_eq!(
            (
                entry.item_id,
                entry.tweet_id,
                entry.author_id,
                entry.reposted_by
            ),
            (90, 50, 7, 7)
        );
        assert_eq!(effects.notices[0].kind, NotificationKind::Repost);
        assert_eq!(effects.notices[0].recipient, 1);
    }

    #[test]
    fn a_delete_and_an_unrepost_take_out_exactly_the_entry_their_fan_out_put_in() {
        let deleted = effects(Kind::Deleted(TweetDeleted {
            tweet_id: 50,
            author_id: 1,
        }))
        .removal
        .expect("a removal");
        let created = effects(Kind::Created(TweetCreated {
            tweet_id: 50,
            author_id: 1,
            ..TweetCreated::default()
        }))
        .fan_out
        .expect("fanned out");
        assert_eq!(deleted.member(), created.member());

        let unreposted = effects(Kind::Unreposted(TweetUnreposted {
            repost_id: 90,
            tweet_id: 50,
            reposter_id: 7,
        }))
        .removal
        .expect("a removal");
        let reposted = effects(Kind::Reposted(TweetReposted {
            repost_id: 90,
            tweet_id: 50,
            tweet_author_id: 1,
            reposter_id: 7,
        }))
        .fan_out
        .expect("fanned out");
        assert_eq!(unreposted.member(), reposted.member());
    }
}
