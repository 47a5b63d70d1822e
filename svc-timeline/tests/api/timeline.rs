use std::{collections::HashSet, time::Duration};

use futures_util::{StreamExt, stream};
use mongodb::bson::{Document, doc};
use svc_timeline::fanout::Entry;

use crate::homes::{holding, tweet_entry};
use tonic::Code;
use xir_common::testing;
use xir_proto::{
    timeline::v1::{GetHomeTimelineRequest, GetHomeTimelineResponse},
    tweet::v1::{CreateTweetRequest, DeleteTweetRequest, RepostRequest, Tweet},
    user::v1::UnfollowRequest,
};
use xir_testkit::{Options, Stack, bearer};

pub(crate) async fn post(stack: &Stack, author: i64, request: CreateTweetRequest) -> Tweet {
    stack
        .tweets()
        .await
        .create_tweet(bearer(&stack.token(author), request))
        .await
        .expect("posted")
        .into_inner()
        .tweet
        .expect("tweet")
}

pub(crate) async fn say(stack: &Stack, author: i64, text: &str) -> Tweet {
    post(
        stack,
        author,
        CreateTweetRequest {
            text: text.into(),
            ..Default::default()
        },
    )
    .await
}

pub(crate) async fn home(
    stack: &Stack,
    user: i64,
    max_id: i64,
    limit: i32,
) -> GetHomeTimelineResponse {
    stack
        .timelines()
        .await
        .get_home_timeline(bearer(
            &stack.token(user),
            GetHomeTimelineRequest {
                max_id,
                since_id: 0,
                limit,
            },
        ))
        .await
        .expect("home timeline")
        .into_inner()
}

/// The first five entries of `user`'s home timeline, asking again while the service answers
/// that it ran out of time (a loaded machine) rather than with a page or a real error.
pub(crate) async fn home_when_answered(stack: &Stack, user: i64) -> GetHomeTimelineResponse {
    let timelines = stack.timelines().await;
    testing::eventually(Duration::from_secs(600), "a home timeline read", || {
        let request = bearer(
            &stack.token(user),
            GetHomeTimelineRequest {
                max_id: 0,
                since_id: 0,
                limit: 5,
            },
        );
        let mut timelines = timelines.clone();
        async move {
            match timelines.get_home_timeline(request).await {
                Ok(page) => Some(page.into_inner()),
                Err(status)
                    if matches!(
                        status.code(),
                        Code::Cancelled | Code::DeadlineExceeded | Code::Unavailable
                    ) =>
                {
                    None
                }
                Err(status) => panic!("home timeline of {user}: {status:?}"),
            }
        }
    })
    .await
}

/// Waits until `user`'s timeline holds exactly `ids` (as tweet ids, newest first).
pub(crate) async fn wait_for_timeline(stack: &Stack, user: i64, expected: &[i64]) {
    testing::eventually(
        Duration::from_secs(30),
        "the timeline converging",
        || async {
            let got: Vec<i64> = home(stack, user, 0, 100)
                .await
                .items
                .iter()
                .filter_map(|i| i.card.as_ref()?.tweet.as_ref().map(|t| t.tweet_id))
                .collect();
            (got == expected).then_some(())
        },
    )
    .await;
}

pub(crate) async fn drained(stack: &Stack) {
    testing::eventually(Duration::from_secs(60), "every outbox draining", || async {
        let pending = stack
            .tweet_database
            .collection::<Document>("tweets")
            .count_documents(doc! { "outbox_count": { "$gt": 0 } })
            .await
            .ok()?;
        let user_pending: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
            .fetch_one(&stack.user_pool().await)
            .await
            .ok()?;
        (pending == 0 && user_pending == 0).then_some(())
    })
    .await;
}

/// A reader following three authors pages through their tweets newest first, with no gap and
/// no duplicate, while new tweets arrive between the pages.
#[tokio::test]
async fn pages_are_newest_first_without_gaps_or_duplicates_while_tweets_arrive() {
    let stack = Stack::start(Options::default()).await;
    stack.seed_profiles(1, 4, "user").await; // 1 reads; 2, 3, 4 write
    for author in 2..=4 {
        stack.follow(1, author).await;
    }
    drained(&stack).await;
    let mut posted = Vec::new();
    for round in 0..12 {
        for author in 2..=4 {
            posted.push(
                say(&stack, author, &format!("round {round} from {author}"))
                    .await
                    .tweet_id,
            );
        }
    }
    drained(&stack).await;

    let mut seen = Vec::new();
    let mut max_id = 0;
    let mut late = Vec::new();
    loop {
        let page = home(&stack, 1, max_id, 10).await;
        assert!(page.items.len() <= 10);
        seen.extend(page.items.iter().map(|i| i.item_id));
        for item in &page.items {
            let card = item.card.as_ref().expect("card");
            assert!(card.author.is_some(), "author profile hydrated");
            assert!(
                card.tweet.as_ref().and_then(|t| t.viewer).is_some(),
                "viewer state filled"
            );
        }
        if page.next_max_id == 0 {
            break;
        }
        max_id = page.next_max_id;
        late.push(say(&stack, 2, "arrived between pages").await.tweet_id);
    }
    let mut expected = posted.clone();
    expected.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(seen, expected, "every tweet once, newest first");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 36);
    drained(&stack).await;
    let newest = home(&stack, 1, 0, 5).await;
    assert!(
        late.iter()
            .all(|id| newest.items.iter().any(|i| i.item_id == *id)),
        "new tweets head the timeline"
    );

    let error = stack
        .timelines()
        .await
        .get_home_timeline(GetHomeTimelineRequest::default())
        .await
        .expect_err("needs a token");
    assert_eq!(error.code(), Code::Unauthenticated);
}

/// A tweet by an author with 5,000 followers reaches all 5,000 home timelines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tweet_reaches_five_thousand_home_timelines() {
    const FOLLOWERS: i64 = 5_000;
    let stack = Stack::start(Options::default()).await;
    stack.seed_profiles(1, 1, "author").await;
    let followers = stack.seed_profiles(1_000, FOLLOWERS, "reader").await;
    stack.seed_followers(1, &followers).await;
    stack.create_timelines(&followers).await;

    let started = std::time::Instant::now();
    let tweet = say(&stack, 1, "hello, five thousand").await;
    let member = tweet_entry(&tweet).member();
    // A bound on completeness, not a speed test. The time is printed below.
    testing::eventually(
        Duration::from_secs(600),
        "fan-out to every follower",
        || async {
            (holding(&stack, &followers, &member).await.len() == followers.len()).then_some(())
        },
    )
    .await;
    println!(
        "fan-out of one tweet to {FOLLOWERS} followers: {:?} from post to last entry",
        started.elapsed()
    );

    // ...and reading them through GetHomeTimeline shows the tweet (a spread of 250 readers: each
    // read costs several calls, and all 5,000 take minutes on FerretDB in a debug build). A read
    // that the loaded machine answers too late is asked again: the test waits for answers, it
    // does not time them.
    let sample: Vec<i64> = followers.iter().copied().step_by(20).collect();
    let missing: Vec<i64> = stream::iter(sample)
        .map(|reader| {
            let stack = &stack;
            async move {
                let page = home_when_answered(stack, reader).await;
                let found = page.items.iter().any(|i| i.item_id == tweet.tweet_id);
                (!found).then_some(reader)
            }
        })
        .buffer_unordered(4)
        .filter_map(|missing| async move { missing })
        .collect()
        .await;
    assert!(
        missing.is_empty(),
        "{} timelines lack the tweet",
        missing.len()
    );
}

/// An author above the threshold is not fanned out: followers see the tweets through the
/// read-time merge, and posting wrote no per-follower entries.
#[tokio::test]
async fn celebrities_are_merged_at_read_time() {
    let stack = Stack::start(Options {
        celebrity_followers: 3,
        ..Options::default()
    })
    .await;
    stack.seed_profiles(1, 1, "celebrity").await;
    stack.seed_profiles(10, 1, "friend").await;
    let fans = stack.seed_profiles(100, 4, "fan").await;
    stack.seed_followers(1, &fans).await; // 4 followers > threshold 3
    // The fans' timelines exist, so a fan-out to them would show.
    stack.create_timelines(&[1]).await;
    stack.create_timelines(&fans).await;
    stack.follow(100, 10).await;
    drained(&stack).await;

    let famous = say(&stack, 1, "from the celebrity").await;
    let ordinary = say(&stack, 10, "from a friend").await;
    drained(&stack).await;
    let famous_member = tweet_entry(&famous).member();
    assert_eq!(
        holding(&stack, &[1], &famous_member).await.len(),
        1,
        "the celebrity's own timeline has the entry"
    );
    assert!(
        holding(&stack, &fans, &famous_member).await.is_empty(),
        "no follower's timeline got an entry"
    );
    wait_for_timeline(&stack, 100, &[ordinary.tweet_id, famous.tweet_id]).await;
    let page = home(&stack, 101, 0, 20).await;
    assert_eq!(
        page.items.iter().map(|i| i.item_id).collect::<Vec<_>>(),
        [famous.tweet_id]
    );
}

/// Follow backfills, unfollow removes, delete removes; reposts and quotes show correctly.
#[tokio::test]
async fn follow_unfollow_delete_repost_and_quote_shape_the_timeline() {
    let stack = Stack::start(Options::default()).await;
    stack.seed_profiles(1, 3, "user").await; // 1 reads; 2 and 3 write
    let old = say(&stack, 2, "before the follow").await;
    stack.follow(1, 2).await;
    wait_for_timeline(&stack, 1, &[old.tweet_id]).await;

    let doomed = say(&stack, 2, "soon gone").await;
    wait_for_timeline(&stack, 1, &[doomed.tweet_id, old.tweet_id]).await;
    stack
        .tweets()
        .await
        .delete_tweet(bearer(
            &stack.token(2),
            DeleteTweetRequest {
                tweet_id: doomed.tweet_id,
            },
        ))
        .await
        .expect("delete");
    wait_for_timeline(&stack, 1, &[old.tweet_id]).await;
    // Gone from Redis too, not only hidden by the read.
    let doomed_member = tweet_entry(&doomed).member();
    testing::eventually(Duration::from_secs(30), "the entry leaving", || async {
        holding(&stack, &[1, 2], &doomed_member)
            .await
            .is_empty()
            .then_some(())
    })
    .await;

    reposts_and_quotes_reach_followers_of_the_reposter(&stack, old.tweet_id).await;
    stack
        .users()
        .await
        .unfollow(bearer(&stack.token(1), UnfollowRequest { user_id: 2 }))
        .await
        .expect("unfollow");
    wait_for_timeline(&stack, 1, &[]).await;
    let members = stack.timeline_members(1).await;
    assert!(
        members
            .iter()
            .filter_map(|m| Entry::from_member(m))
            .all(|entry| entry.author_id != 2),
        "an entry brought by the unfollowed author remains: {members:?}"
    );
}

/// 2 reposts 3's tweet and quotes it: both reach 1, who does not follow 3.
async fn reposts_and_quotes_reach_followers_of_the_reposter(stack: &Stack, old: i64) {
    let original = say(stack, 3, "original by three").await;
    stack
        .tweets()
        .await
        .repost(bearer(
            &stack.token(2),
            RepostRequest {
                tweet_id: original.tweet_id,
            },
        ))
        .await
        .expect("repost");
    let quote = post(
        stack,
        2,
        CreateTweetRequest {
            text: "quoting three".into(),
            quote_of_id: original.tweet_id,
            ..Default::default()
        },
    )
    .await;
    wait_for_timeline(stack, 1, &[quote.tweet_id, original.tweet_id, old]).await;
    let page = home(stack, 1, 0, 10).await;
    let quoted = page.items[0]
        .card
        .as_ref()
        .and_then(|c| c.quoted.as_ref())
        .expect("one level of quote");
    assert_eq!(
        quoted.tweet.as_ref().map(|t| t.tweet_id),
        Some(original.tweet_id)
    );
    assert_eq!(quoted.author.as_ref().map(|a| a.user_id), Some(3));
    let repost = &page.items[1];
    assert_eq!(repost.reposted_by.as_ref().map(|p| p.user_id), Some(2));
    assert_eq!(
        repost
            .card
            .as_ref()
            .and_then(|c| c.author.as_ref())
            .map(|a| a.user_id),
        Some(3)
    );
    assert!(
        repost.item_id > original.tweet_id,
        "the repost sorts by its own time"
    );
}
