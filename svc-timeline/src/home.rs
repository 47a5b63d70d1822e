//! The home-timeline merge: a page from the owner's stored fan-out entries and the recent
//! items of the celebrities they follow (read at request time, never fanned out).

use std::collections::HashSet;

/// A timeline item before hydration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item {
    /// The cursor key: the tweet id, or the repost's own id for a repost.
    pub item_id: i64,
    pub tweet_id: i64,
    /// 0 for an original tweet.
    pub reposted_by: i64,
}

/// One page of at most `limit` items from `candidates` (each source's newest `limit + 1` in
/// the requested range): newest first, each item once, and each tweet once (the newest of a
/// tweet and its reposts). Returns the page and the `max_id` of the next one, 0 when nothing
/// is left. The cursor is the last item of the page, so the next page starts right below it
/// and skips nothing.
pub fn merge(mut candidates: Vec<Item>, limit: usize) -> (Vec<Item>, i64) {
    candidates.sort_by_key(|item| std::cmp::Reverse(item.item_id));
    let mut seen_items = HashSet::new();
    let mut seen_tweets = HashSet::new();
    candidates.retain(|item| seen_items.insert(item.item_id) && seen_tweets.insert(item.tweet_id));
    let more = candidates.len() > limit;
    candidates.truncate(limit);
    let next_max_id = if more {
        candidates.last().map_or(0, |item| item.item_id)
    } else {
        0
    };
    (candidates, next_max_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tweet(id: i64) -> Item {
        Item {
            item_id: id,
            tweet_id: id,
            reposted_by: 0,
        }
    }

    fn repost(id: i64, of: i64) -> Item {
        Item {
            item_id: id,
            tweet_id: of,
            reposted_by: 9,
        }
    }

    fn ids(items: &[Item]) -> Vec<i64> {
        items.iter().map(|item| item.item_id).collect()
    }

    #[test]
    fn stored_and_pulled_items_interleave_newest_first_with_a_cursor_below_the_page() {
        let stored = [tweet(10), tweet(7), tweet(3)];
        let pulled = [tweet(9), tweet(8), tweet(2)];
        let (page, next) = merge(stored.iter().chain(&pulled).copied().collect(), 4);
        assert_eq!(ids(&page), [10, 9, 8, 7]);
        assert_eq!(next, 7);
    }

    #[test]
    fn the_last_page_has_no_cursor() {
        let (page, next) = merge(vec![tweet(2), tweet(5)], 4);
        assert_eq!(ids(&page), [5, 2]);
        assert_eq!(next, 0);
    }

    #[test]
    fn an_item_met_twice_and_a_tweet_with_its_repost_show_once() {
        // The same entry from both sources, and tweet 4 reposted (item 12) into the page.
        let (page, next) = merge(vec![tweet(6), tweet(6), tweet(4), repost(12, 4)], 10);
        assert_eq!(ids(&page), [12, 6]);
        assert_eq!(next, 0);
    }
}
