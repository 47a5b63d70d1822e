//! ApplyFollowEvents and ApplyTweetEvents, called as their relays call them: each sequence in
//! order, an invalid event refused alone, a repeat applied once, an oversized call refused
//! whole before any event is applied.

use tonic::Code;
use xir_common::{
    identity::Peer,
    testing::{self, channel_as},
};
use xir_proto::timeline::v1::{
    ApplyEventsResponse, ApplyFollowEventsRequest, ApplyTweetEventsRequest, FollowEvent,
    FollowEventSequence, TweetCreated, TweetDeleted, TweetEvent, TweetEventSequence,
    event_outcome::Outcome, timeline_service_client::TimelineServiceClient, tweet_event::Kind,
};
use xir_testkit::{Options, Stack};

use crate::timeline::{say, wait_for_timeline};

fn follow(event_id: &str, follower_id: i64, followee_id: i64, following: bool) -> FollowEvent {
    FollowEvent {
        event_id: event_id.into(),
        follower_id,
        followee_id,
        following,
        ..Default::default()
    }
}

fn follows(sequences: Vec<Vec<FollowEvent>>) -> ApplyFollowEventsRequest {
    ApplyFollowEventsRequest {
        sequences: sequences
            .into_iter()
            .map(|events| FollowEventSequence { events })
            .collect(),
    }
}

/// Each sequence's outcomes, as "applied", "before", "retry: ..." or "rejected: ...".
fn outcomes(response: &ApplyEventsResponse) -> Vec<Vec<String>> {
    let outcome = |outcome: &Option<Outcome>| match outcome {
        Some(Outcome::Applied(true)) => "applied".to_owned(),
        Some(Outcome::Applied(false)) => "before".to_owned(),
        Some(Outcome::Retry(reason)) => format!("retry: {reason}"),
        Some(Outcome::Rejected(reason)) => format!("rejected: {reason}"),
        None => "none".to_owned(),
    };
    response
        .sequences
        .iter()
        .map(|sequence| {
            sequence
                .events
                .iter()
                .map(|e| outcome(&e.outcome))
                .collect()
        })
        .collect()
}

async fn as_peer(
    stack: &Stack,
    caller: Peer,
) -> TimelineServiceClient<xir_common::peer::PeerChannel> {
    TimelineServiceClient::new(channel_as(stack.timeline_addr, caller, Peer::Timeline).await)
}

#[tokio::test]
async fn follow_sequences_apply_in_order_and_an_invalid_event_is_refused_alone() {
    let stack = Stack::start(Options::default()).await;
    stack.seed_profiles(1, 3, "batch").await;
    stack.create_timelines(&[1, 3]).await;
    let tweet = say(&stack, 2, "followed in a batch").await;
    let run = testing::unique_name("batch");
    let id = |n: &str| format!("{run}:{n}");
    let request = follows(vec![
        // Follow, unfollow, follow again: applied in this order, user 1 ends up following.
        vec![
            follow(&id("a1"), 1, 2, true),
            follow(&id("a2"), 1, 2, false),
            follow(&id("a3"), 1, 2, true),
        ],
        // The invalid event is refused; the one after it is applied all the same.
        vec![follow(&id("b1"), 0, 2, true), follow(&id("b2"), 3, 2, true)],
    ]);
    let mut timelines = as_peer(&stack, Peer::User).await;
    let first = timelines
        .apply_follow_events(request.clone())
        .await
        .expect("applied")
        .into_inner();
    let first = outcomes(&first);
    assert_eq!(first[0], ["applied", "applied", "applied"]);
    assert!(
        first[1][0].starts_with("rejected") && first[1][0].contains("follower_id"),
        "{first:?}"
    );
    assert_eq!(first[1][1], "applied");
    wait_for_timeline(&stack, 1, &[tweet.tweet_id]).await;
    wait_for_timeline(&stack, 3, &[tweet.tweet_id]).await;

    let again = timelines
        .apply_follow_events(request)
        .await
        .expect("applied again")
        .into_inner();
    let again = outcomes(&again);
    assert_eq!(
        again[0],
        ["before", "before", "before"],
        "a repeat is a no-op"
    );
    assert_eq!(again[1][1], "before");
    assert!(again[1][0].starts_with("rejected"));
}

#[tokio::test]
async fn tweet_sequences_apply_in_order_once() {
    let stack = Stack::start(Options::default()).await;
    stack.seed_profiles(1, 2, "batch").await;
    stack.create_timelines(&[1]).await;
    stack.follow(1, 2).await;
    let tweet = say(&stack, 2, "posted, then taken back").await;
    // svc-tweet's own relay has applied the tweet's creation.
    wait_for_timeline(&stack, 1, &[tweet.tweet_id]).await;
    let run = testing::unique_name("batch");
    let event = |name: &str, kind: Kind| TweetEvent {
        event_id: format!("{run}:{name}"),
        kind: Some(kind),
        ..Default::default()
    };
    let created = Kind::Created(TweetCreated {
        tweet_id: tweet.tweet_id,
        author_id: 2,
        ..Default::default()
    });
    let deleted = Kind::Deleted(TweetDeleted {
        tweet_id: tweet.tweet_id,
        author_id: 2,
    });
    let request = ApplyTweetEventsRequest {
        sequences: vec![
            // Created again, then deleted: applied in this order, the tweet leaves.
            TweetEventSequence {
                events: vec![event("created", created), event("deleted", deleted.clone())],
            },
            // An event without an id or a kind is refused; the one after it goes on.
            TweetEventSequence {
                events: vec![TweetEvent::default(), event("deleted again", deleted)],
            },
        ],
    };
    let mut timelines = as_peer(&stack, Peer::Tweet).await;
    let first = timelines
        .apply_tweet_events(request.clone())
        .await
        .expect("applied")
        .into_inner();
    let first = outcomes(&first);
    assert_eq!(first[0], ["applied", "applied"]);
    assert!(
        first[1][0].starts_with("rejected") && first[1][0].contains("event_id"),
        "{first:?}"
    );
    assert_eq!(first[1][1], "applied");
    wait_for_timeline(&stack, 1, &[]).await;
    let again = timelines
        .apply_tweet_events(request)
        .await
        .expect("applied again")
        .into_inner();
    let again = outcomes(&again);
    assert_eq!(again[0], ["before", "before"], "a repeat is a no-op");
    assert_eq!(again[1][1], "before");
}

#[tokio::test]
async fn a_call_with_too_many_events_is_refused_whole_naming_the_field() {
    let stack = Stack::start(Options::default()).await;
    let sequence: Vec<FollowEvent> = (0..1_001)
        .map(|n| follow(&format!("too-many:{n}"), 1, 2, true))
        .collect();
    let status = as_peer(&stack, Peer::User)
        .await
        .apply_follow_events(follows(vec![sequence]))
        .await
        .expect_err("refused");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("sequences"), "{status:?}");
}
