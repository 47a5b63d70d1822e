//! Likes and reposts interrupted between their two writes (as by a crash of svc-tweet or of
//! the database) are completed, and counted, exactly once: by the next request on the same
//! reaction or by the sweeper.

use std::{sync::Arc, time::Duration};

use mongodb::bson::{DateTime, Document, doc};
use svc_tweet::{changes::Changes, reactions::Reactions};
use xir_proto::{
    timeline::v1::{ListNotificationsRequest, NotificationKind},
    tweet::v1::{CreateTweetRequest, GetTweetRequest, RepostRequest, Tweet},
};
use xir_testkit::{Options, Stack, bearer};

async fn tweet_as_seen_by(stack: &Stack, tweet_id: i64, viewer: i64) -> Tweet {
    stack
        .tweets()
        .await
        .get_tweet(bearer(&stack.token(viewer), GetTweetRequest { tweet_id }))
        .await
        .expect("get")
        .into_inner()
        .tweet
        .expect("tweet")
}

/// A reaction as a crash leaves it: written, pending since long ago, not counted.
fn interrupted(
    id: mongodb::bson::Bson,
    tweet_id: i64,
    user_id: i64,
    event_id: i64,
    delta: i32,
) -> Document {
    let long_ago = DateTime::from_millis(DateTime::now().timestamp_millis() - 600_000);
    doc! {
        "_id": id,
        "tweet_id": tweet_id,
        "user_id": user_id,
        "created_at": long_ago,
        "pending": { "event_id": event_id, "delta": delta, "since": long_ago },
    }
}

#[tokio::test]
async fn interrupted_likes_and_reposts_are_completed_exactly_once() {
    let stack = Stack::start(Options::default()).await;
    stack.seed_profiles(1, 3, "react").await;
    let tweet_id = stack
        .tweets()
        .await
        .create_tweet(bearer(
            &stack.token(1),
            CreateTweetRequest {
                text: "react to me".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("post")
        .into_inner()
        .tweet
        .expect("tweet")
        .tweet_id;
    let reactions = Reactions::new(
        &stack.tweet_database,
        // The service's cache: what this sweeper counts, readers must not be answered stale.
        Changes::new(Default::default(), Arc::new(stack.tweet_cache())),
    );
    a_like_never_counted_is_counted_once_by_the_sweep(&stack, &reactions, tweet_id).await;
    a_repost_never_counted_is_completed_by_its_retry(&stack, tweet_id).await;
    an_unlike_never_counted_is_taken_back_by_the_sweep(&stack, &reactions, tweet_id).await;
    settled_markers_are_dropped(&stack, tweet_id).await;
    each_completed_change_notified_once(&stack).await;
}

fn likes(stack: &Stack) -> mongodb::Collection<Document> {
    stack.tweet_database.collection::<Document>("likes")
}

/// Sweeps for abandoned changes. The service's own sweeper runs every few seconds too and may
/// have completed the change first, so this checks the outcome, not who swept: at most one
/// change completed here, none left for the next sweep (the counts show it happened once).
async fn swept_once(reactions: &Reactions) {
    // Abandoned for a minute (the changes here are ten minutes old): a sweep gives each
    // completion a third of that, so a loaded machine does not cut one short half-way.
    let sweep = || reactions.sweep(Duration::from_secs(60));
    let completed = sweep().await.expect("sweep");
    assert!(completed <= 1, "{completed} changes completed for one");
    assert_eq!(sweep().await.expect("sweep"), 0, "nothing left to complete");
}

/// A like written but never counted: a sweep completes it once.
async fn a_like_never_counted_is_counted_once_by_the_sweep(
    stack: &Stack,
    reactions: &Reactions,
    tweet_id: i64,
) {
    likes(stack)
        .insert_one(interrupted(
            format!("{tweet_id}:2").into(),
            tweet_id,
            2,
            9_001,
            1,
        ))
        .await
        .expect("an interrupted like");
    let seen = tweet_as_seen_by(stack, tweet_id, 2).await;
    assert!(
        seen.viewer.expect("viewer").liked,
        "the like is the viewer's already"
    );
    assert_eq!(seen.like_count, 0, "not counted yet");
    swept_once(reactions).await;
    assert_eq!(tweet_as_seen_by(stack, tweet_id, 2).await.like_count, 1);
}

/// A repost written but never counted, and its author retries: the retry completes it.
async fn a_repost_never_counted_is_completed_by_its_retry(stack: &Stack, tweet_id: i64) {
    let reposts = stack.tweet_database.collection::<Document>("reposts");
    reposts
        .insert_one(interrupted(9_002_i64.into(), tweet_id, 3, 9_003, 1))
        .await
        .expect("an interrupted repost");
    let retried = stack
        .tweets()
        .await
        .repost(bearer(&stack.token(3), RepostRequest { tweet_id }))
        .await
        .expect("repost")
        .into_inner()
        .tweet
        .expect("tweet");
    assert_eq!(retried.repost_count, 1);
    assert_eq!(
        reposts.count_documents(doc! {}).await.expect("count"),
        1,
        "one repost"
    );
}

/// An unlike marked but never counted: no longer the viewer's like; the sweep takes it back.
async fn an_unlike_never_counted_is_taken_back_by_the_sweep(
    stack: &Stack,
    reactions: &Reactions,
    tweet_id: i64,
) {
    likes(stack)
        .update_one(
            doc! { "_id": format!("{tweet_id}:2") },
            doc! { "$set": interrupted(0.into(), tweet_id, 2, 9_004, -1).get_document("pending").map(|p| doc! { "pending": p.clone() }).expect("pending") },
        )
        .await
        .expect("an interrupted unlike");
    let seen = tweet_as_seen_by(stack, tweet_id, 2).await;
    assert!(!seen.viewer.expect("viewer").liked, "being undone");
    swept_once(reactions).await;
    let seen = tweet_as_seen_by(stack, tweet_id, 2).await;
    assert_eq!((seen.like_count, seen.repost_count), (0, 1));
    assert_eq!(
        likes(stack).count_documents(doc! {}).await.expect("count"),
        0
    );
}

/// Markers of settled changes are dropped by the next count or the service's sweeper.
async fn settled_markers_are_dropped(stack: &Stack, tweet_id: i64) {
    let tweets = stack.tweet_database.collection::<Document>("tweets");
    xir_common::testing::eventually(Duration::from_secs(30), "no marker left", || {
        let tweets = tweets.clone();
        async move {
            let tweet = tweets.find_one(doc! { "_id": tweet_id }).await.ok()??;
            tweet
                .get_document("counted")
                .map_or(true, |markers| markers.is_empty())
                .then_some(())
        }
    })
    .await;
}

/// Each completed change notified once: one like, one repost.
async fn each_completed_change_notified_once(stack: &Stack) {
    let notified = xir_common::testing::eventually(
        Duration::from_secs(30),
        "the like and repost notifications",
        || async {
            let kinds: Vec<i32> = stack
                .timelines()
                .await
                .list_notifications(bearer(
                    &stack.token(1),
                    ListNotificationsRequest {
                        since_id: 0,
                        max_id: 0,
                        limit: 20,
                    },
                ))
                .await
                .ok()?
                .into_inner()
                .notifications
                .iter()
                .map(|n| n.kind)
                .collect();
            (kinds.len() >= 2).then_some(kinds)
        },
    )
    .await;
    let mut notified = notified;
    notified.sort_unstable();
    assert_eq!(
        notified,
        [
            NotificationKind::Like as i32,
            NotificationKind::Repost as i32
        ]
    );
}
