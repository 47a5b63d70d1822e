//! Home timelines in Redis: each timeline capped in the write that adds to it, idempotent by
//! member, written only once it exists, and rebuilt whole when it is lost.

use std::{collections::HashSet, time::Duration};

use svc_timeline::{
    config::RedisSettings,
    fanout::Entry,
    homes::{HomeTimelines, SENTINEL},
};
use xir_common::testing;
use xir_proto::tweet::v1::Tweet;
use xir_testkit::{Options, Stack};

use crate::timeline::{home, say, wait_for_timeline};

/// The members of `owners`' timelines that are `member`, by owner (one pipelined round trip).
pub(crate) async fn holding(stack: &Stack, owners: &[i64], member: &str) -> HashSet<i64> {
    let mut pipe = redis::pipe();
    for &owner in owners {
        pipe.zscore(stack.timeline_key(owner), member);
    }
    let scores: Vec<Option<f64>> = pipe
        .query_async(&mut stack.redis().await)
        .await
        .expect("read timelines");
    owners
        .iter()
        .zip(scores)
        .filter_map(|(&owner, score)| score.map(|_| owner))
        .collect()
}

/// The timeline entry a fan-out of `tweet` writes.
pub(crate) fn tweet_entry(tweet: &Tweet) -> Entry {
    Entry {
        item_id: tweet.tweet_id,
        tweet_id: tweet.tweet_id,
        author_id: tweet.author_id,
        reposted_by: 0,
    }
}

fn entry(item_id: i64) -> Entry {
    Entry {
        item_id,
        tweet_id: item_id,
        author_id: 7,
        reposted_by: 0,
    }
}

/// The timelines of a key prefix of their own, on the test Redis.
fn homes(cap: i64) -> (HomeTimelines, String) {
    let prefix = format!("{}:", testing::unique_name("homes"));
    let settings = RedisSettings {
        url: testing::redis_url(),
        key_prefix: prefix.clone(),
    };
    (
        HomeTimelines::new(&settings, cap).expect("a Redis URL"),
        prefix,
    )
}

async fn members(key: &str) -> Vec<String> {
    let mut redis = redis::Client::open(testing::redis_url())
        .expect("URL")
        .get_multiplexed_async_connection()
        .await
        .expect("Redis");
    redis::cmd("ZRANGE")
        .arg(key)
        .arg(0)
        .arg(-1)
        .query_async(&mut redis)
        .await
        .expect("ZRANGE")
}

/// The item ids of user 1's page between `max_id` and `since_id`.
async fn page_ids(homes: &HomeTimelines, max_id: i64, since_id: i64) -> Vec<i64> {
    homes
        .page(1, max_id, since_id, 10)
        .await
        .expect("page")
        .expect("exists")
        .iter()
        .map(|item| item.item_id)
        .collect()
}

#[tokio::test]
async fn a_timeline_takes_entries_once_keeps_the_newest_cap_and_only_once_it_exists() {
    let (homes, prefix) = homes(3);
    let key = svc_timeline::homes::timeline_key(&prefix, 1);
    // Not there yet: fan-out leaves it to the rebuild.
    assert_eq!(homes.insert(&[1], entry(10)).await.expect("insert"), 0);
    assert!(!homes.exists(1).await.expect("exists"));
    assert!(members(&key).await.is_empty());

    homes.create(1).await.expect("create");
    // Created, not yet built: read as missing (a rebuild cut short is done again).
    assert_eq!(homes.page(1, 0, 0, 10).await.expect("page"), None);
    assert!(!homes.exists(1).await.expect("exists"));
    homes.mark_built(1).await.expect("built");
    assert_eq!(homes.page(1, 0, 0, 10).await.expect("page"), Some(vec![]));
    assert_eq!(homes.insert(&[1], entry(10)).await.expect("insert"), 1);
    // The same entry again (a redelivered event) changes nothing.
    assert_eq!(homes.insert(&[1], entry(10)).await.expect("insert"), 0);
    assert_eq!(
        members(&key).await,
        [SENTINEL.to_owned(), entry(10).member()]
    );

    // Past the cap, the oldest go in the same write (the sentinel first: it sorts lowest).
    for id in [20, 5, 30, 40] {
        homes.insert(&[1], entry(id)).await.expect("insert");
    }
    assert_eq!(page_ids(&homes, 0, 0).await, [40, 30, 20]);
    assert_eq!(members(&key).await.len(), 3);

    // Pages are bounded on both sides, exclusively.
    assert_eq!(page_ids(&homes, 40, 20).await, [30]);
    homes.remove(&[1], entry(30)).await.expect("remove");
    assert_eq!(
        members(&key).await,
        [entry(20).member(), entry(40).member()]
    );
}

/// A timeline Redis lost (evicted, or Redis restarted) is rebuilt from the follow graph and
/// recent tweets on its next read, with the same items.
#[tokio::test]
async fn a_lost_timeline_is_rebuilt_on_its_next_read() {
    let stack = Stack::start(Options::default()).await;
    stack.seed_profiles(1, 3, "user").await;
    stack.follow(1, 2).await;
    stack.follow(1, 3).await;
    let first = say(&stack, 2, "one").await;
    let second = say(&stack, 3, "two").await;
    let own = say(&stack, 1, "mine").await;
    let expected = [own.tweet_id, second.tweet_id, first.tweet_id];
    wait_for_timeline(&stack, 1, &expected).await;

    let mut redis = stack.redis().await;
    redis::cmd("DEL")
        .arg(stack.timeline_key(1))
        .query_async::<()>(&mut redis)
        .await
        .expect("drop the timeline");
    let ids: Vec<i64> = home(&stack, 1, 0, 10)
        .await
        .items
        .iter()
        .map(|item| item.item_id)
        .collect();
    assert_eq!(ids, expected, "the rebuilt timeline");
    // Rebuilt in Redis, so fan-out reaches it again.
    let later = say(&stack, 2, "after the rebuild").await;
    testing::eventually(
        Duration::from_secs(30),
        "the fan-out after a rebuild",
        || async {
            stack
                .timeline_members(1)
                .await
                .iter()
                .filter_map(|m| Entry::from_member(m))
                .any(|e| e.tweet_id == later.tweet_id)
                .then_some(())
        },
    )
    .await;
}
