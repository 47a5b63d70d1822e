//! svc-tweet's cache (Redis, in front of MongoDB) of tweets by id, of each author's items and
//! of viewers' likes and reposts: reads are served from it, a change through the service is
//! never answered stale, and a cache that is down only costs MongoDB reads.

use mongodb::bson::{Document, doc};
use std::collections::HashMap;

use svc_tweet::cache::{PageKey, PageLookup, PageSlot, Reacted, TweetCache, TweetCacheSettings};
use xir_common::{cache::RedisSettings, identity::Peer, testing};
use xir_proto::tweet::v1::{
    BatchGetTweetsRequest, CreateTweetRequest, DeleteTweetRequest, LikeTweetRequest,
    ListUserTweetsRequest, RepostRequest, Tweet, UnlikeTweetRequest, UnrepostRequest,
};
use xir_testkit::{Options, Service, Stack, bearer};

use crate::tweets::{post, post_with};

async fn batch(stack: &Stack, ids: &[i64], viewer_id: i64) -> Vec<Tweet> {
    stack
        .tweets_as(Peer::Timeline)
        .await
        .batch_get_tweets(BatchGetTweetsRequest {
            tweet_ids: ids.to_vec(),
            viewer_id,
        })
        .await
        .expect("batch")
        .into_inner()
        .tweets
}

/// `tweet_cache_lookups_total{kind="…",outcome="…"}` as svc-tweet reports it.
async fn lookups(stack: &Stack, kind: &str, outcome: &str) -> f64 {
    let metrics = testing::scrape_metrics(stack.metrics_addr(Service::Tweet)).await;
    let prefix = format!("tweet_cache_lookups_total{{kind=\"{kind}\",outcome=\"{outcome}\"}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&prefix)?.parse().ok())
        .unwrap_or(0.0)
}

/// Changes the stored text behind the service's back (no write through it, so no hold).
async fn overwrite_text(stack: &Stack, id: i64, text: &str) {
    stack
        .tweet_database
        .collection::<Document>("tweets")
        .update_one(doc! { "_id": id }, doc! { "$set": { "text": text } })
        .await
        .expect("overwrite");
}

#[tokio::test]
async fn tweets_are_read_from_the_cache_and_a_change_is_never_answered_stale() {
    let stack = Stack::start(Options::default()).await;
    stack.seed_profiles(1, 2, "cached").await;
    let tweet = post(&stack, 1, "cache me").await.expect("posted");
    let id = tweet.tweet_id;

    // Put in as it was written: read from the cache, even once MongoDB holds something else.
    overwrite_text(&stack, id, "changed behind its back").await;
    assert_eq!(batch(&stack, &[id], 0).await[0].text, "cache me");
    assert!(lookups(&stack, "tweet", "hit").await >= 1.0);

    // A like through the service: the next read has the new count, from MongoDB.
    stack
        .tweets()
        .await
        .like_tweet(bearer(&stack.token(2), LikeTweetRequest { tweet_id: id }))
        .await
        .expect("like");
    let liked = batch(&stack, &[id], 2).await;
    assert_eq!(liked[0].like_count, 1);
    assert!(liked[0].viewer.is_some_and(|viewer| viewer.liked));
    assert_eq!(
        liked[0].text, "changed behind its back",
        "read from MongoDB"
    );

    // A deletion: gone from the next read.
    stack
        .tweets()
        .await
        .delete_tweet(bearer(&stack.token(1), DeleteTweetRequest { tweet_id: id }))
        .await
        .expect("delete");
    assert!(batch(&stack, &[id], 0).await.is_empty());
    assert!(
        stack
            .tweets()
            .await
            .get_tweet(xir_proto::tweet::v1::GetTweetRequest { tweet_id: id })
            .await
            .is_err(),
        "GetTweet agrees"
    );
}

/// A reader that fetched a tweet just before a change cannot put the old one back: the
/// change left a hold that only an absent entry may replace.
#[tokio::test]
async fn a_fill_after_a_change_does_not_bring_the_old_tweet_back() {
    let stack = Stack::start(Options::default()).await;
    stack.seed_profiles(1, 1, "held").await;
    let tweet = post(&stack, 1, "the old text").await.expect("posted");
    let id = tweet.tweet_id;
    let stale = stack
        .tweet_database
        .collection::<svc_tweet::store::TweetDoc>("tweets")
        .find_one(doc! { "_id": id })
        .await
        .expect("read")
        .expect("stored");
    let cache = stack.tweet_cache();
    // The change (a like, through the service), then the late reader's fill.
    stack
        .tweets()
        .await
        .like_tweet(bearer(&stack.token(1), LikeTweetRequest { tweet_id: id }))
        .await
        .expect("like");
    cache.fill(std::slice::from_ref(&stale)).await;
    assert!(cache.get(&[id]).await.is_empty(), "held, not refilled");
    assert_eq!(batch(&stack, &[id], 0).await[0].like_count, 1);
}

#[tokio::test]
async fn a_cache_that_is_down_answers_nothing_at_once() {
    let down = RedisSettings {
        url: format!("redis://127.0.0.1:{}/", testing::free_port()),
        key_prefix: "down:".into(),
    };
    let cache = TweetCache::new(Some(&down), TweetCacheSettings::default()).expect("a URL");
    assert!(cache.get(&[1, 2, 3]).await.is_empty());
    cache.hold(1).await;
}

/// A page of ListUserTweets as anyone sees it: (item id, tweet id) of each item.
async fn user_tweets(stack: &Stack, request: ListUserTweetsRequest) -> Vec<(i64, i64)> {
    stack
        .tweets()
        .await
        .list_user_tweets(request)
        .await
        .expect("user timeline")
        .into_inner()
        .items
        .iter()
        .map(|item| (item.item_id, item.tweet.as_ref().map_or(0, |t| t.tweet_id)))
        .collect()
}

/// `user`'s timeline as anyone sees it: (item id, tweet id) of the first page.
async fn user_timeline(stack: &Stack, user: i64) -> Vec<(i64, i64)> {
    let request = ListUserTweetsRequest {
        user_id: user,
        ..Default::default()
    };
    user_tweets(stack, request).await
}

fn tweet_ids(items: &[(i64, i64)]) -> Vec<i64> {
    items.iter().map(|&(_, tweet)| tweet).collect()
}

/// A user timeline read twice is the second time from the cache, and each change of it (a
/// tweet, a repost, its undoing, a deletion) shows in the very next read.
#[tokio::test]
async fn user_timelines_are_cached_and_every_change_shows_at_once() {
    let stack = Stack::start(Options::default()).await;
    stack.seed_profiles(1, 2, "paged").await;
    let first = post(&stack, 1, "first").await.expect("posted").tweet_id;
    let other = post(&stack, 2, "by the other")
        .await
        .expect("posted")
        .tweet_id;
    assert_eq!(tweet_ids(&user_timeline(&stack, 1).await), [first]);
    let hits = lookups(&stack, "items", "hit").await;
    assert_eq!(tweet_ids(&user_timeline(&stack, 1).await), [first]);
    assert!(
        lookups(&stack, "items", "hit").await > hits,
        "the second read hit"
    );

    let second = post(&stack, 1, "second").await.expect("posted").tweet_id;
    assert_eq!(tweet_ids(&user_timeline(&stack, 1).await), [second, first]);

    let token = stack.token(1);
    let mut tweets = stack.tweets().await;
    tweets
        .repost(bearer(&token, RepostRequest { tweet_id: other }))
        .await
        .expect("repost");
    assert_eq!(
        tweet_ids(&user_timeline(&stack, 1).await),
        [other, second, first]
    );
    tweets
        .unrepost(bearer(&token, UnrepostRequest { tweet_id: other }))
        .await
        .expect("unrepost");
    assert_eq!(tweet_ids(&user_timeline(&stack, 1).await), [second, first]);

    tweets
        .delete_tweet(bearer(&token, DeleteTweetRequest { tweet_id: second }))
        .await
        .expect("delete");
    assert_eq!(tweet_ids(&user_timeline(&stack, 1).await), [first]);
}

/// A user timeline's first page as the service reads it from the cache: ListUserTweets'
/// first page is 20 items and one more to tell whether others follow.
const FIRST_PAGE: PageKey = PageKey {
    max_id: 0,
    since_id: 0,
    limit: 21,
    exclude_replies: false,
};

fn miss(lookup: PageLookup) -> PageSlot {
    match lookup {
        PageLookup::Miss(slot) => slot,
        _ => panic!("expected a miss"),
    }
}

/// A reader that looked for a page before a new tweet and stores what it read after cannot
/// hide the tweet: the page went under a version nobody reads any more.
#[tokio::test]
async fn a_page_stored_after_a_change_is_never_read() {
    let stack = Stack::start(Options::default()).await;
    stack.seed_profiles(1, 2, "late").await;
    let cache = stack.tweet_cache();
    // The slot is the one the service reads: a page planted there is what it answers.
    post(&stack, 1, "planted over").await.expect("posted");
    let slot = miss(cache.author_page(1, FIRST_PAGE).await);
    cache.put_author_page(slot, &[]).await;
    assert_eq!(user_timeline(&stack, 1).await, []);

    let first = post(&stack, 2, "first").await.expect("posted").tweet_id;
    let late = miss(cache.author_page(2, FIRST_PAGE).await);
    let second = post(&stack, 2, "second").await.expect("posted").tweet_id;
    cache.put_author_page(late, &[]).await; // the late reader's stale page
    assert_eq!(tweet_ids(&user_timeline(&stack, 2).await), [second, first]);
}

/// A new tweet joins its author's cached first pages (the ones without replies only if it is
/// no reply) instead of sending the next reader to MongoDB.
#[tokio::test]
async fn a_new_tweet_joins_the_cached_first_pages() {
    let stack = Stack::start(Options::default()).await;
    stack.seed_profiles(1, 1, "busy").await;
    let first = post(&stack, 1, "first").await.expect("posted").tweet_id;
    let without_replies = || async {
        let request = ListUserTweetsRequest {
            user_id: 1,
            exclude_replies: true,
            ..Default::default()
        };
        tweet_ids(&user_tweets(&stack, request).await)
    };
    assert_eq!(tweet_ids(&user_timeline(&stack, 1).await), [first]);
    assert_eq!(without_replies().await, [first]);

    let misses = lookups(&stack, "items", "miss").await;
    let second = post(&stack, 1, "second").await.expect("posted").tweet_id;
    let reply = post_with(
        &stack,
        1,
        CreateTweetRequest {
            text: "a reply".into(),
            reply_to_id: first,
            ..Default::default()
        },
    )
    .await
    .expect("replied")
    .tweet_id;
    assert_eq!(
        tweet_ids(&user_timeline(&stack, 1).await),
        [reply, second, first]
    );
    assert_eq!(without_replies().await, [second, first]);
    assert_eq!(
        lookups(&stack, "items", "miss").await,
        misses,
        "both pages came from the cache"
    );
}

/// What viewer 2 did to `id`, as BatchGetTweets answers it: (liked, reposted).
async fn seen_by_2(stack: &Stack, id: i64) -> (bool, bool) {
    let viewer = batch(stack, &[id], 2).await[0]
        .viewer
        .expect("a viewer state");
    (viewer.liked, viewer.reposted)
}

/// A viewer's likes and reposts are read from the cache once read, and each change of them
/// shows in the very next read.
#[tokio::test]
async fn viewer_states_are_cached_and_every_change_shows_at_once() {
    let stack = Stack::start(Options::default()).await;
    stack.seed_profiles(1, 2, "viewer").await;
    let id = post(&stack, 1, "react to me")
        .await
        .expect("posted")
        .tweet_id;
    assert_eq!(seen_by_2(&stack, id).await, (false, false));
    let hits = lookups(&stack, "viewer", "hit").await;
    assert_eq!(seen_by_2(&stack, id).await, (false, false));
    assert!(
        lookups(&stack, "viewer", "hit").await > hits,
        "the second read hit"
    );

    let token = stack.token(2);
    let mut tweets = stack.tweets().await;
    tweets
        .like_tweet(bearer(&token, LikeTweetRequest { tweet_id: id }))
        .await
        .expect("like");
    assert_eq!(seen_by_2(&stack, id).await, (true, false));
    tweets
        .repost(bearer(&token, RepostRequest { tweet_id: id }))
        .await
        .expect("repost");
    assert_eq!(seen_by_2(&stack, id).await, (true, true));
    tweets
        .unlike_tweet(bearer(&token, UnlikeTweetRequest { tweet_id: id }))
        .await
        .expect("unlike");
    assert_eq!(seen_by_2(&stack, id).await, (false, true));
    tweets
        .unrepost(bearer(&token, UnrepostRequest { tweet_id: id }))
        .await
        .expect("unrepost");
    assert_eq!(seen_by_2(&stack, id).await, (false, false));

    // A reader that read "not liked" before a like cannot store it after: the like held it.
    tweets
        .like_tweet(bearer(&token, LikeTweetRequest { tweet_id: id }))
        .await
        .expect("like again");
    let late = HashMap::from([(id, Reacted::default())]);
    stack.tweet_cache().fill_viewer_states(2, &late).await;
    assert_eq!(seen_by_2(&stack, id).await, (true, false));
}
