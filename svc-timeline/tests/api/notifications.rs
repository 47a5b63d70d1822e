//! Notifications: exactly once per event and recipient, never for your own actions, once per undone and redone action.

use mongodb::bson::doc;
use xir_proto::{
    timeline::v1::{ListNotificationsRequest, NotificationKind},
    tweet::v1::{
        CreateTweetRequest, LikeTweetRequest, RepostRequest, Tweet, UnlikeTweetRequest,
        UnrepostRequest,
    },
    user::v1::{FollowRequest, UnfollowRequest},
};
use xir_testkit::{Options, Stack, bearer};

use crate::timeline::{drained, post, say};

/// A like, a reply, a mention and a follow each notify the right user exactly once; acting on
/// your own tweet notifies nobody.
#[tokio::test]
async fn notifications_are_exactly_once_and_never_for_yourself() {
    let stack = Stack::start(Options::default()).await;
    stack.seed_profiles(1, 2, "user").await; // user1, user2
    let tweet = say(&stack, 1, "notice me").await;
    user2_likes_twice_replies_mentions_follows_and_user1_acts_on_their_own(&stack, &tweet).await;
    drained(&stack).await;
    let kinds = |user: i64| {
        let stack = &stack;
        async move {
            stack
                .timelines()
                .await
                .list_notifications(bearer(
                    &stack.token(user),
                    ListNotificationsRequest {
                        max_id: 0,
                        limit: 50,
                        since_id: 0,
                    },
                ))
                .await
                .expect("notifications")
                .into_inner()
                .notifications
        }
    };
    let mine = kinds(1).await;
    let mut got: Vec<i32> = mine.iter().map(|n| n.kind).collect();
    got.sort_unstable();
    let mut want = vec![
        NotificationKind::Mention as i32,
        NotificationKind::Reply as i32,
        NotificationKind::Like as i32,
        NotificationKind::Follow as i32,
    ];
    want.sort_unstable();
    assert_eq!(got, want, "{mine:#?}");
    assert!(
        mine.iter()
            .all(|n| n.actor.as_ref().map(|a| a.user_id) == Some(2))
    );
    let like = mine
        .iter()
        .find(|n| n.kind == NotificationKind::Like as i32)
        .expect("like");
    assert_eq!(
        like.card
            .as_ref()
            .and_then(|c| c.tweet.as_ref())
            .map(|t| t.tweet_id),
        Some(tweet.tweet_id)
    );
    assert!(
        kinds(2).await.is_empty(),
        "user2 did everything and is notified of nothing"
    );
}

fn like(tweet: &Tweet) -> LikeTweetRequest {
    LikeTweetRequest {
        tweet_id: tweet.tweet_id,
    }
}

async fn user2_likes_twice_replies_mentions_follows_and_user1_acts_on_their_own(
    stack: &Stack,
    tweet: &Tweet,
) {
    let mut tweets = stack.tweets().await;
    tweets
        .like_tweet(bearer(&stack.token(2), like(tweet)))
        .await
        .expect("like");
    tweets
        .like_tweet(bearer(&stack.token(2), like(tweet)))
        .await
        .expect("like twice");
    post(
        stack,
        2,
        CreateTweetRequest {
            text: "a reply".into(),
            reply_to_id: tweet.tweet_id,
            ..Default::default()
        },
    )
    .await;
    say(stack, 2, "hey @user1").await;
    stack.follow(2, 1).await;
    // Your own actions notify nobody.
    tweets
        .like_tweet(bearer(&stack.token(1), like(tweet)))
        .await
        .expect("self like");
    post(
        stack,
        1,
        CreateTweetRequest {
            text: "self reply @user1".into(),
            reply_to_id: tweet.tweet_id,
            ..Default::default()
        },
    )
    .await;
}

/// Each like/unlike, follow/unfollow and repost/unrepost toggle created a new notification, so
/// one user could flood another's notifications.
#[tokio::test]
async fn undoing_and_redoing_an_action_notifies_once() {
    let stack = Stack::start(Options::default()).await;
    stack.seed_profiles(1, 2, "user").await; // user1 is toggled at by user2
    let tweet = say(&stack, 1, "toggle me").await;
    let mut tweets = stack.tweets().await;
    let mut users = stack.users().await;
    let two = stack.token(2);
    let target = tweet.tweet_id;
    for _ in 0..3 {
        tweets
            .like_tweet(bearer(&two, LikeTweetRequest { tweet_id: target }))
            .await
            .expect("like");
        tweets
            .unlike_tweet(bearer(&two, UnlikeTweetRequest { tweet_id: target }))
            .await
            .expect("unlike");
        tweets
            .repost(bearer(&two, RepostRequest { tweet_id: target }))
            .await
            .expect("repost");
        tweets
            .unrepost(bearer(&two, UnrepostRequest { tweet_id: target }))
            .await
            .expect("unrepost");
        users
            .follow(bearer(&two, FollowRequest { user_id: 1 }))
            .await
            .expect("follow");
        users
            .unfollow(bearer(&two, UnfollowRequest { user_id: 1 }))
            .await
            .expect("unfollow");
    }
    drained(&stack).await;

    let notifications = stack
        .timelines()
        .await
        .list_notifications(bearer(
            &stack.token(1),
            ListNotificationsRequest {
                max_id: 0,
                limit: 50,
                since_id: 0,
            },
        ))
        .await
        .expect("notifications")
        .into_inner()
        .notifications;
    let mut kinds: Vec<i32> = notifications.iter().map(|n| n.kind).collect();
    kinds.sort_unstable();
    let mut want = vec![
        NotificationKind::Like as i32,
        NotificationKind::Repost as i32,
        NotificationKind::Follow as i32,
    ];
    want.sort_unstable();
    assert_eq!(kinds, want, "{notifications:#?}");
}
