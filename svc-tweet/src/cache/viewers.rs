//! What a viewer did to a tweet (liked it, reposted it), per viewer and tweet: the last part of
//! hydrating a page that read MongoDB. An entry reads `<liked><reposted>` (`"10"`: liked, not
//! reposted) and lives `tweet_cache.ttl_secs`. A like, a repost or their undoing writes its
//! reaction to MongoDB and then replaces the entry with an empty hold for
//! `tweet_cache.hold_ms`, as for tweets (see [`super::tweets`]): readers fill only absent
//! entries, so one who read the old state just before cannot put it back.

use std::collections::HashMap;

use super::TweetCache;

/// A viewer's reactions to one tweet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reacted {
    pub liked: bool,
    pub reposted: bool,
}

impl Reacted {
    fn encode(self) -> &'static str {
        match (self.liked, self.reposted) {
            (false, false) => "00",
            (false, true) => "01",
            (true, false) => "10",
            (true, true) => "11",
        }
    }

    fn decode(value: &str) -> Option<Self> {
        let mut flags = value.bytes().map(|b| b == b'1');
        let reacted = Reacted {
            liked: flags.next()?,
            reposted: flags.next()?,
        };
        (value.len() == 2).then_some(reacted)
    }
}

fn key(prefix: &str, viewer: i64, tweet: i64) -> String {
    format!("{prefix}viewer:{viewer}:{tweet}")
}

impl TweetCache {
    /// The cached states of `viewer` among `tweets` (holds and misses left out).
    pub async fn viewer_states(&self, viewer: i64, tweets: &[i64]) -> HashMap<i64, Reacted> {
        let key = |prefix: &str, tweet| key(prefix, viewer, tweet);
        self.get_many("viewer", tweets, key, |_, bytes| {
            Reacted::decode(std::str::from_utf8(bytes).ok()?)
        })
        .await
    }

    /// Puts `viewer`'s states (as read from MongoDB) in where nothing, not even a hold, is.
    pub async fn fill_viewer_states(&self, viewer: i64, states: &HashMap<i64, Reacted>) {
        let entries = states
            .iter()
            .map(|(&tweet, state)| (tweet, state.encode().as_bytes().to_vec()))
            .collect();
        self.fill_many(entries, |prefix, tweet| key(prefix, viewer, tweet))
            .await;
    }

    /// `viewer` reacted to `tweet` (or took it back): the entry becomes a hold.
    pub async fn hold_viewer_state(&self, viewer: i64, tweet: i64) {
        let what = format!("state of tweet {tweet} for user {viewer}");
        self.hold_entry(|prefix| key(prefix, viewer, tweet), &what)
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_and_anything_else_is_a_miss() {
        for liked in [false, true] {
            for reposted in [false, true] {
                let state = Reacted { liked, reposted };
                assert_eq!(Reacted::decode(state.encode()), Some(state));
            }
        }
        for other in ["", "1", "100", "2"] {
            assert_eq!(Reacted::decode(other), None, "{other:?}");
        }
    }
}
