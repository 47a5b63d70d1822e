use std::time::Duration;

use futures_util::future::join_all;
use mongodb::bson::{self, DateTime, Document, doc};
use prost::Message;
use svc_tweet::store::{PendingEvent, Target};
use xir_common::testing;
use xir_proto::{
    timeline::v1::{
        ListNotificationsRequest, NotificationKind, TweetCreated, TweetEvent, tweet_event::Kind,
    },
    tweet::v1::{CreateTweetRequest, DeleteTweetRequest, LikeTweetRequest},
};
use xir_testkit::{Options, Service, Stack, bearer};

use crate::tweets::post;

async fn post_many(stack: &Stack, author: i64, count: usize) {
    for chunk in (0..count).collect::<Vec<_>>().chunks(20) {
        let posted = join_all(chunk.iter().map(|i| {
            let token = stack.token(author);
            async move {
                stack
                    .tweets()
                    .await
                    .create_tweet(bearer(
                        &token,
                        CreateTweetRequest {
                            text: format!("tweet {i}"),
                            ..Default::default()
                        },
                    ))
                    .await
            }
        }))
        .await;
        assert!(posted.iter().all(Result::is_ok), "{posted:?}");
    }
}

async fn applied_created_events(stack: &Stack) -> u64 {
    stack
        .timeline_database
        .collection::<Document>("applied_events")
        .count_documents(doc! {})
        .await
        .expect("count")
}

async fn pending_documents(stack: &Stack) -> u64 {
    stack
        .tweet_database
        .collection::<Document>("tweets")
        .count_documents(doc! { "outbox_count": { "$gt": 0 } })
        .await
        .expect("count")
}

/// With svc-timeline stopped, 200 tweets are posted; once it starts, every event is applied
/// exactly once (counted on the receiving side) and none stays pending.
#[tokio::test]
async fn events_posted_while_svc_timeline_is_down_are_applied_exactly_once() {
    let mut stack = Stack::start(Options {
        stopped: vec![Service::Timeline],
        ..Options::default()
    })
    .await;
    stack.seed_profiles(1, 1, "poster").await;
    // The author's home timeline exists (as an active user's does), so fan-out writes to it.
    stack.create_timelines(&[1]).await;
    post_many(&stack, 1, 200).await;
    assert_eq!(
        pending_documents(&stack).await,
        200,
        "every tweet waits with its events"
    );
    // Each tweet holds two events (timeline and tweet count); svc-user takes its share, so at
    // least the 200 for svc-timeline stay pending, and the shared relay's gauge counts them.
    let addr = stack.metrics_addr(Service::Tweet);
    testing::eventually(
        Duration::from_secs(10),
        "the pending gauge counting events",
        || async move {
            let metrics = testing::scrape_metrics(addr).await;
            metrics
                .lines()
                .find(|line| line.starts_with("outbox_pending_events "))
                .and_then(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
                .filter(|pending| *pending >= 200.0)
        },
    )
    .await;

    stack.start_service(Service::Timeline).await;
    testing::eventually(
        Duration::from_secs(90),
        "all 200 events applied",
        || async { (applied_created_events(&stack).await >= 200).then_some(()) },
    )
    .await;
    testing::eventually(Duration::from_secs(30), "the outbox draining", || async {
        (pending_documents(&stack).await == 0).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        applied_created_events(&stack).await,
        200,
        "each exactly once"
    );
    let profile_tweets: i64 =
        sqlx::query_scalar("SELECT tweet_count FROM profiles WHERE user_id = 1")
            .fetch_one(&stack.user_pool().await)
            .await
            .expect("count");
    assert_eq!(
        profile_tweets, 200,
        "the tweet-count events were applied once each too"
    );
    assert_eq!(
        stack.timeline_len(1).await,
        200,
        "the author's own timeline holds every tweet once"
    );
}

/// With svc-tweet's relay polling once an hour, a new tweet, a like and a deletion still reach
/// svc-timeline: each write wakes the relay for its own tweet.
#[tokio::test]
async fn writes_wake_the_relay_without_waiting_for_its_poll() {
    let stack = Stack::start(Options {
        tweet_relay_poll_ms: 3_600_000,
        ..Options::default()
    })
    .await;
    stack.seed_profiles(1, 2, "woken").await;
    stack.follow(2, 1).await;
    stack.create_timelines(&[2]).await;
    // The relay's first pass ran at start; from here on only the writes' nudges wake it.
    let within = Duration::from_secs(60);

    let tweet = post(&stack, 1, "no poll needed").await.expect("posted");
    testing::eventually(within, "the tweet in the follower's home", || async {
        stack
            .timeline_tweet_ids(2)
            .await
            .contains(&tweet.tweet_id)
            .then_some(())
    })
    .await;

    stack
        .tweets()
        .await
        .like_tweet(bearer(
            &stack.token(2),
            LikeTweetRequest {
                tweet_id: tweet.tweet_id,
            },
        ))
        .await
        .expect("like");
    testing::eventually(within, "the author notified of the like", || async {
        let notifications = stack
            .timelines()
            .await
            .list_notifications(bearer(&stack.token(1), ListNotificationsRequest::default()))
            .await
            .expect("notifications")
            .into_inner()
            .notifications;
        (notifications
            .iter()
            .any(|n| n.kind() == NotificationKind::Like))
        .then_some(())
    })
    .await;

    stack
        .tweets()
        .await
        .delete_tweet(bearer(
            &stack.token(1),
            DeleteTweetRequest {
                tweet_id: tweet.tweet_id,
            },
        ))
        .await
        .expect("delete");
    testing::eventually(
        within,
        "the tweet gone from the follower's home",
        || async { (!stack.timeline_tweet_ids(2).await.contains(&tweet.tweet_id)).then_some(()) },
    )
    .await;
    testing::eventually(within, "the outbox empty", || async {
        (pending_documents(&stack).await == 0).then_some(())
    })
    .await;
}

/// A new tweet is written claimed by its own process's relay; should that process die before
/// delivering it, another replica's relay delivers it once the birth lease has ended.
#[tokio::test]
async fn a_tweet_whose_writer_died_before_delivering_it_is_delivered_after_its_lease() {
    let stack = Stack::start(Options::default()).await;
    stack.seed_profiles(1, 2, "orphan").await;
    stack.follow(2, 1).await;
    stack.create_timelines(&[2]).await;
    let tweet_id = 1_i64 << 52;
    let created = TweetEvent {
        event_id: format!("svc-tweet:{}", tweet_id + 1),
        occurred_at: None,
        kind: Some(Kind::Created(TweetCreated {
            tweet_id,
            author_id: 1,
            ..Default::default()
        })),
    };
    let event = PendingEvent::new(Target::Timeline, created.encode_to_vec());
    let tweets = stack.tweet_database.collection::<Document>("tweets");
    // As the dead process wrote it: its birth claim on, the lease ended a second ago.
    tweets
        .insert_one(doc! {
            "_id": tweet_id,
            "author_id": 1_i64,
            "text": "orphaned",
            "created_at": DateTime::now(),
            "conversation_id": tweet_id,
            "outbox": { (tweet_id + 1).to_string(): bson::to_bson(&event).expect("event") },
            "outbox_count": 1_i64,
            "outbox_claim": 42_i64,
            "outbox_lease_until": DateTime::from_millis(DateTime::now().timestamp_millis() - 1_000),
        })
        .await
        .expect("insert");
    testing::eventually(
        Duration::from_secs(60),
        "the tweet in the follower's home",
        || async {
            stack
                .timeline_tweet_ids(2)
                .await
                .contains(&tweet_id)
                .then_some(())
        },
    )
    .await;
    testing::eventually(Duration::from_secs(60), "the outbox empty", || async {
        (pending_documents(&stack).await == 0).then_some(())
    })
    .await;
}
