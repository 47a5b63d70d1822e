//! A new tweet: its place in a conversation, the document it is stored as, and the events it
//! carries in that document's outbox (svc-timeline's TweetCreated, svc-user's tweet count).
//! Pure rules, unit-tested without a database; the RPC finds the parent and the quoted tweet
//! and stores the result.

use mongodb::bson::{DateTime, Document};
use prost::Message;
use xir_proto::{
    timeline::v1::{self as events, tweet_event::Kind},
    user::v1::ApplyTweetCountEventRequest,
};

use crate::{
    domain::TweetText,
    reactions,
    store::{MentionDoc, PendingEvent, Target, TweetDoc, outbox_push},
};

/// How many ancestors a reply records (from the root down to its parent), so GetThread reads
/// a whole branch in one query; a deeper thread keeps the nearest ones.
pub const MAX_ANCESTORS: usize = 100;

/// What a new tweet is made of, once its references are found and its ids minted.
pub struct NewTweet<'a> {
    pub id: i64,
    pub author: i64,
    pub text: &'a TweetText,
    pub parent: Option<&'a TweetDoc>,
    pub quoted: Option<&'a TweetDoc>,
    pub mentions: Vec<MentionDoc>,
    /// Ids of its two events: TweetCreated and the author's tweet count.
    pub event_ids: [i64; 2],
    pub now: DateTime,
}

/// The ancestors a reply to `parent` records: the parent's own, then the parent, at most
/// [`MAX_ANCESTORS`] of the nearest.
pub fn ancestors_of(parent: &TweetDoc) -> Vec<i64> {
    let mut ancestors = parent.ancestor_ids.clone();
    ancestors.push(parent.id);
    if ancestors.len() > MAX_ANCESTORS {
        ancestors.drain(..ancestors.len() - MAX_ANCESTORS);
    }
    ancestors
}

/// The document a new tweet is stored as, its events already in its outbox, so the tweet and
/// what others must hear about it are one write.
pub fn document(new: NewTweet<'_>) -> TweetDoc {
    let reply_to_tweet_id = new.parent.map_or(0, |p| p.id);
    let reply_to_user_id = new.parent.map_or(0, |p| p.author_id);
    let quote_of_tweet_id = new.quoted.map_or(0, |q| q.id);
    let created = events::TweetCreated {
        tweet_id: new.id,
        author_id: new.author,
        reply_to_tweet_id,
        reply_to_user_id,
        quote_of_tweet_id,
        quoted_user_id: new.quoted.map_or(0, |q| q.author_id),
        mentioned_user_ids: new.mentions.iter().map(|m| m.user_id).collect(),
    };
    let pending = [
        reactions::timeline_event(new.event_ids[0], Kind::Created(created)),
        count_event(new.event_ids[1], new.author, 1),
    ];
    let (outbox_set, outbox_count) = outbox_push(&pending);
    TweetDoc {
        id: new.id,
        author_id: new.author,
        text: new.text.as_str().to_owned(),
        created_at: new.now,
        reply_to_tweet_id,
        reply_to_user_id,
        conversation_id: new.parent.map_or(new.id, |p| p.conversation_id),
        ancestor_ids: new.parent.map(ancestors_of).unwrap_or_default(),
        quote_of_tweet_id,
        mentions: new.mentions,
        hashtags: new.text.hashtags().to_vec(),
        like_count: 0,
        reply_count: 0,
        repost_count: 0,
        quote_count: 0,
        deleted_at: None,
        outbox: nested(outbox_set),
        outbox_count,
    }
}

/// The event that moves the author's tweet count in svc-user by `delta`.
pub fn count_event(id: i64, author: i64, delta: i32) -> (String, PendingEvent) {
    let request = ApplyTweetCountEventRequest {
        event_id: format!("svc-tweet:{id}"),
        user_id: author,
        delta,
    };
    (
        id.to_string(),
        PendingEvent::new(Target::UserTweetCount, request.encode_to_vec()),
    )
}

/// `outbox.<id>` dotted keys (an update's `$set`) as the nested document an insert needs.
fn nested(set: Document) -> Document {
    let mut outbox = Document::new();
    for (key, value) in set {
        if let Some(id) = key.strip_prefix("outbox.") {
            outbox.insert(id, value);
        }
    }
    outbox
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(id: i64, author: i64, ancestors: Vec<i64>, conversation: i64) -> TweetDoc {
        let text = TweetText::parse("a stored tweet").expect("valid text");
        let mut doc = document(NewTweet {
            id,
            author,
            text: &text,
            parent: None,
            quoted: None,
            mentions: Vec::new(),
            event_ids: [id + 1, id + 2],
            now: DateTime::from_millis(0),
        });
        doc.ancestor_ids = ancestors;
        doc.conversation_id = conversation;
        doc
    }

    #[test]
    fn a_new_conversation_starts_at_the_tweet_with_two_events_in_its_outbox() {
        let text = TweetText::parse("hello #Rust @ada").expect("valid text");
        let doc = document(NewTweet {
            id: 10,
            author: 1,
            text: &text,
            parent: None,
            quoted: None,
            mentions: vec![MentionDoc {
                user_id: 7,
                username: "ada".into(),
            }],
            event_ids: [11, 12],
            now: DateTime::from_millis(5),
        });
        assert_eq!(doc.conversation_id, 10);
        assert!(doc.ancestor_ids.is_empty());
        assert_eq!((doc.reply_to_tweet_id, doc.quote_of_tweet_id), (0, 0));
        assert_eq!(doc.hashtags, ["rust"]);
        assert_eq!(doc.outbox_count, 2);
        assert!(doc.outbox.contains_key("11") && doc.outbox.contains_key("12"));
    }

    #[test]
    fn a_reply_joins_its_parents_conversation_below_its_ancestors() {
        let parent = stored(20, 2, vec![1, 5], 1);
        let quoted = stored(30, 3, Vec::new(), 30);
        let text = TweetText::parse("a reply").expect("valid text");
        let doc = document(NewTweet {
            id: 40,
            author: 4,
            text: &text,
            parent: Some(&parent),
            quoted: Some(&quoted),
            mentions: Vec::new(),
            event_ids: [41, 42],
            now: DateTime::from_millis(0),
        });
        assert_eq!(doc.conversation_id, 1);
        assert_eq!(doc.ancestor_ids, [1, 5, 20]);
        assert_eq!((doc.reply_to_tweet_id, doc.reply_to_user_id), (20, 2));
        assert_eq!(doc.quote_of_tweet_id, 30);
    }

    #[test]
    fn a_deep_reply_keeps_the_nearest_ancestors() {
        let parent = stored(1_000, 2, (1..=MAX_ANCESTORS as i64).collect(), 1);
        let ancestors = ancestors_of(&parent);
        assert_eq!(ancestors.len(), MAX_ANCESTORS);
        assert_eq!(ancestors.first(), Some(&2));
        assert_eq!(ancestors.last(), Some(&1_000));
    }
}
