use futures_util::future::join_all;
use tonic::Code;
use xir_common::identity::Peer;
use xir_proto::tweet::v1::{
    BatchGetTweetsRequest, CreateTweetRequest, DeleteTweetRequest, GetThreadRequest,
    GetTweetRequest, LikeTweetRequest, ListHashtagTweetsRequest, ListUserTweetsRequest,
    RepostRequest, Tweet, UnlikeTweetRequest, UnrepostRequest,
};
use xir_testkit::{Options, Stack, bearer};

async fn post(stack: &Stack, author: i64, text: &str) -> Result<Tweet, tonic::Status> {
    post_with(
        stack,
        author,
        CreateTweetRequest {
            text: text.into(),
            ..Default::default()
        },
    )
    .await
}

async fn post_with(
    stack: &Stack,
    author: i64,
    request: CreateTweetRequest,
) -> Result<Tweet, tonic::Status> {
    stack
        .tweets()
        .await
        .create_tweet(bearer(&stack.token(author), request))
        .await
        .map(|r| r.into_inner().tweet.expect("tweet"))
}

fn bad_field(error: &tonic::Status) -> Vec<String> {
    tonic_types::StatusExt::get_error_details(error)
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn text_is_counted_as_x_counts_it_and_entities_are_extracted() {
    let stack = Stack::start(Options::default()).await;
    stack.seed_profiles(1, 1, "writer").await;
    stack.seed_profiles(2, 1, "alice").await; // username "alice2"

    let url = format!("https://example.com/{}", "p".repeat(60));
    for (text, ok) in [
        ("a".repeat(280), true),
        ("a".repeat(281), false),
        ("漢".repeat(140), true),
        ("漢".repeat(141), false),
        (format!("{}😀", "a".repeat(278)), true),
        (format!("{}😀", "a".repeat(279)), false),
        (format!("{} {url}", "a".repeat(256)), true),
        (format!("{} {url}", "a".repeat(257)), false),
        (String::new(), false),
    ] {
        let result = post(&stack, 1, &text).await;
        match (ok, result) {
            (true, Ok(_)) => {}
            (false, Err(error)) => {
                assert_eq!(error.code(), Code::InvalidArgument);
                assert_eq!(bad_field(&error), ["text"]);
            }
            (ok, result) => panic!(
                "{} chars: expected ok={ok}, got {result:?}",
                text.chars().count()
            ),
        }
    }

    let tweet = post(
        &stack,
        1,
        "Hello @ALICE2 and @nobody_here #Rust #rust #TDD e\u{301}",
    )
    .await
    .expect("posted");
    assert_eq!(tweet.mentions.len(), 1, "unknown names stay plain text");
    assert_eq!(
        (
            tweet.mentions[0].user_id,
            tweet.mentions[0].username.as_str()
        ),
        (2, "ALICE2")
    );
    assert_eq!(tweet.hashtags, ["rust", "tdd"]);
    assert!(tweet.text.ends_with('\u{e9}'), "stored NFC");
    assert_eq!(tweet.conversation_id, tweet.tweet_id);
    assert!(tweet.viewer.is_none());

    let error = stack
        .tweets()
        .await
        .create_tweet(CreateTweetRequest {
            text: "hi".into(),
            ..Default::default()
        })
        .await
        .expect_err("no token");
    assert_eq!(error.code(), Code::Unauthenticated);
}

/// Before this was bounded, one authenticated CreateTweet with a megabyte of text kept a core
/// busy for over ten minutes and every other tweet call timed out behind it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_megabyte_texts_are_refused_on_their_size_and_other_calls_carry_on() {
    let stack = Stack::start(Options::default()).await;
    stack.seed_profiles(1, 1, "flooder").await;
    let huge = "a".repeat(1 << 20);
    let floods = join_all((0..100).map(|_| post(&stack, 1, &huge)));
    let ordinary = post(&stack, 1, "an ordinary tweet, posted during the flood");
    let (floods, ordinary) = tokio::join!(floods, ordinary);
    for result in floods {
        let error = result.expect_err("a megabyte is refused");
        assert_eq!(error.code(), Code::InvalidArgument, "{error:?}");
        assert_eq!(bad_field(&error), ["text"]);
        assert!(error.message().contains("bytes"), "{}", error.message());
    }
    ordinary.expect("the ordinary tweet is posted");
    // Beyond the service's request bound (2 MiB) the transport refuses it undecoded.
    let error = post(&stack, 1, &"a".repeat(3 << 20))
        .await
        .expect_err("over the request bound");
    assert_eq!(error.code(), Code::OutOfRange, "{error:?}");
    // And the service still answers reads.
    let tweet = post(&stack, 1, "after the flood").await.expect("posted");
    stack
        .tweets()
        .await
        .get_tweet(GetTweetRequest {
            tweet_id: tweet.tweet_id,
        })
        .await
        .expect("read after the flood");
}

#[tokio::test]
async fn control_characters_other_than_line_breaks_are_refused_in_text() {
    let stack = Stack::start(Options::default()).await;
    stack.seed_profiles(1, 1, "writer").await;
    for text in ["nul\0byte", "bell\u{7}", "escape\u{1b}[2J", "tab\there"] {
        let error = post(&stack, 1, text).await.expect_err("refused");
        assert_eq!(error.code(), Code::InvalidArgument, "{text:?}");
        assert_eq!(bad_field(&error), ["text"]);
    }
    post(&stack, 1, "two\nlines")
        .await
        .expect("line breaks are fine");
}

#[tokio::test]
async fn replies_quotes_threads_deletes_and_lists() {
    let stack = Stack::start(Options::default()).await;
    stack.seed_profiles(1, 3, "user").await;
    let mut tweets = stack.tweets().await;

    let root = post(&stack, 1, "root #Topic").await.expect("root");
    let reply = post_with(
        &stack,
        2,
        CreateTweetRequest {
            text: "reply".into(),
            reply_to_id: root.tweet_id,
            ..Default::default()
        },
    )
    .await
    .expect("reply");
    let nested = post_with(
        &stack,
        3,
        CreateTweetRequest {
            text: "nested".into(),
            reply_to_id: reply.tweet_id,
            ..Default::default()
        },
    )
    .await
    .expect("nested reply");
    assert_eq!(
        (reply.conversation_id, nested.conversation_id),
        (root.tweet_id, root.tweet_id)
    );
    assert_eq!((reply.reply_to_user_id, nested.reply_to_user_id), (1, 2));
    let quote = post_with(
        &stack,
        3,
        CreateTweetRequest {
            text: "look #topic".into(),
            quote_of_id: root.tweet_id,
            ..Default::default()
        },
    )
    .await
    .expect("quote");
    assert_eq!(quote.quote_of_tweet_id, root.tweet_id);

    let error = post_with(
        &stack,
        2,
        CreateTweetRequest {
            text: "x".into(),
            reply_to_id: 999_999,
            ..Default::default()
        },
    )
    .await
    .expect_err("unknown parent");
    assert_eq!(error.code(), Code::NotFound);

    let root_now = tweets
        .get_tweet(GetTweetRequest {
            tweet_id: root.tweet_id,
        })
        .await
        .expect("get")
        .into_inner()
        .tweet
        .expect("tweet");
    assert_eq!((root_now.reply_count, root_now.quote_count), (1, 1));

    let thread = tweets
        .get_thread(GetThreadRequest {
            tweet_id: nested.tweet_id,
            replies_after_id: 0,
            limit: 0,
        })
        .await
        .expect("thread")
        .into_inner();
    assert_eq!(
        thread
            .ancestors
            .iter()
            .map(|t| t.tweet_id)
            .collect::<Vec<_>>(),
        [root.tweet_id, reply.tweet_id]
    );
    let thread = tweets
        .get_thread(GetThreadRequest {
            tweet_id: root.tweet_id,
            replies_after_id: 0,
            limit: 0,
        })
        .await
        .expect("thread")
        .into_inner();
    assert_eq!(
        thread
            .replies
            .iter()
            .map(|t| t.tweet_id)
            .collect::<Vec<_>>(),
        [reply.tweet_id]
    );

    let tagged = tweets
        .list_hashtag_tweets(ListHashtagTweetsRequest {
            hashtag: "#TOPIC".into(),
            ..Default::default()
        })
        .await
        .expect("hashtag")
        .into_inner()
        .tweets;
    assert_eq!(
        tagged.iter().map(|t| t.tweet_id).collect::<Vec<_>>(),
        [quote.tweet_id, root.tweet_id]
    );

    // Someone else's tweet cannot be deleted; one's own can, and it is gone everywhere.
    let error = tweets
        .delete_tweet(bearer(
            &stack.token(2),
            DeleteTweetRequest {
                tweet_id: root.tweet_id,
            },
        ))
        .await
        .expect_err("not the author");
    assert_eq!(error.code(), Code::PermissionDenied);
    tweets
        .delete_tweet(bearer(
            &stack.token(2),
            DeleteTweetRequest {
                tweet_id: reply.tweet_id,
            },
        ))
        .await
        .expect("delete own");
    tweets
        .delete_tweet(bearer(
            &stack.token(2),
            DeleteTweetRequest {
                tweet_id: reply.tweet_id,
            },
        ))
        .await
        .expect("idempotent");
    let error = tweets
        .get_tweet(GetTweetRequest {
            tweet_id: reply.tweet_id,
        })
        .await
        .expect_err("deleted");
    assert_eq!(error.code(), Code::NotFound);
    let batch = stack
        .tweets_as(Peer::Timeline)
        .await
        .batch_get_tweets(BatchGetTweetsRequest {
            tweet_ids: vec![quote.tweet_id, reply.tweet_id, root.tweet_id],
            viewer_id: 0,
        })
        .await
        .expect("batch")
        .into_inner()
        .tweets;
    assert_eq!(
        batch.iter().map(|t| t.tweet_id).collect::<Vec<_>>(),
        [quote.tweet_id, root.tweet_id],
        "order kept, deleted left out"
    );
    let root_now = tweets
        .get_tweet(GetTweetRequest {
            tweet_id: root.tweet_id,
        })
        .await
        .expect("get")
        .into_inner()
        .tweet
        .expect("tweet");
    assert_eq!(root_now.reply_count, 0);

    // A user's list: their tweets and reposts, newest first, paged.
    tweets
        .repost(bearer(
            &stack.token(3),
            RepostRequest {
                tweet_id: root.tweet_id,
            },
        ))
        .await
        .expect("repost");
    let first = tweets
        .list_user_tweets(bearer(
            &stack.token(3),
            ListUserTweetsRequest {
                user_id: 3,
                limit: 2,
                ..Default::default()
            },
        ))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(first.items.len(), 2);
    assert_eq!(first.items[0].reposted_by_user_id, 3);
    assert_eq!(
        first.items[0].tweet.as_ref().map(|t| t.tweet_id),
        Some(root.tweet_id)
    );
    assert!(
        first.items[0]
            .tweet
            .as_ref()
            .and_then(|t| t.viewer)
            .is_some_and(|v| v.reposted)
    );
    assert_eq!(
        first.items[1].tweet.as_ref().map(|t| t.tweet_id),
        Some(quote.tweet_id)
    );
    let rest = tweets
        .list_user_tweets(ListUserTweetsRequest {
            user_id: 3,
            limit: 2,
            max_id: first.next_max_id,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(
        rest.items
            .iter()
            .filter_map(|i| i.tweet.as_ref())
            .map(|t| t.tweet_id)
            .collect::<Vec<_>>(),
        [nested.tweet_id]
    );
    assert_eq!(rest.next_max_id, 0);
    tweets
        .unrepost(bearer(
            &stack.token(3),
            UnrepostRequest {
                tweet_id: root.tweet_id,
            },
        ))
        .await
        .expect("unrepost");
    let root_now = tweets
        .get_tweet(GetTweetRequest {
            tweet_id: root.tweet_id,
        })
        .await
        .expect("get")
        .into_inner()
        .tweet
        .expect("tweet");
    assert_eq!(root_now.repost_count, 0);
}

/// 100 users like one tweet at once: exactly 100. Liking twice counts once; unliking never
/// goes below zero.
#[tokio::test]
async fn likes_count_exactly_under_concurrency() {
    let stack = Stack::start(Options::default()).await;
    stack.seed_profiles(1, 1, "author").await;
    let fans = stack.seed_profiles(100, 100, "fan").await;
    let tweet = post(&stack, 1, "like me").await.expect("posted");

    let likes = join_all(fans.iter().map(|&fan| {
        let token = stack.token(fan);
        let stack = &stack;
        async move {
            stack
                .tweets()
                .await
                .like_tweet(bearer(
                    &token,
                    LikeTweetRequest {
                        tweet_id: tweet.tweet_id,
                    },
                ))
                .await
        }
    }))
    .await;
    let failed: Vec<_> = likes.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(failed.is_empty(), "likes failed: {failed:?}");
    let mut tweets = stack.tweets().await;
    let liked = tweets
        .like_tweet(bearer(
            &stack.token(100),
            LikeTweetRequest {
                tweet_id: tweet.tweet_id,
            },
        ))
        .await
        .expect("like again")
        .into_inner()
        .tweet
        .expect("tweet");
    assert_eq!(liked.like_count, 100);
    assert!(liked.viewer.is_some_and(|v| v.liked));

    for _ in 0..2 {
        tweets
            .unlike_tweet(bearer(
                &stack.token(100),
                UnlikeTweetRequest {
                    tweet_id: tweet.tweet_id,
                },
            ))
            .await
            .expect("unlike");
    }
    let other = post(&stack, 1, "nobody likes this").await.expect("posted");
    let unliked = tweets
        .unlike_tweet(bearer(
            &stack.token(100),
            UnlikeTweetRequest {
                tweet_id: other.tweet_id,
            },
        ))
        .await
        .expect("unlike what was never liked")
        .into_inner()
        .tweet
        .expect("tweet");
    assert_eq!(unliked.like_count, 0);
    let now = tweets
        .get_tweet(GetTweetRequest {
            tweet_id: tweet.tweet_id,
        })
        .await
        .expect("get")
        .into_inner()
        .tweet
        .expect("tweet");
    assert_eq!(now.like_count, 99);
}

#[tokio::test]
async fn the_same_idempotency_key_yields_one_tweet() {
    let stack = Stack::start(Options::default()).await;
    stack.seed_profiles(1, 2, "user").await;
    let request = || CreateTweetRequest {
        text: "only once".into(),
        idempotency_key: "k-123".into(),
        ..Default::default()
    };
    let attempts = join_all((0..3).map(|_| post_with(&stack, 1, request()))).await;
    let ids: std::collections::HashSet<i64> = attempts
        .into_iter()
        .map(|r| r.expect("posted").tweet_id)
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let again = post_with(&stack, 1, request()).await.expect("replayed");
    assert!(ids.contains(&again.tweet_id));
    let other_user = post_with(&stack, 2, request())
        .await
        .expect("keys are per user");
    assert!(!ids.contains(&other_user.tweet_id));
    let error = post_with(
        &stack,
        1,
        CreateTweetRequest {
            text: "another text".into(),
            idempotency_key: "k-123".into(),
            ..Default::default()
        },
    )
    .await
    .expect_err("key reused with another text");
    assert_eq!(bad_field(&error), ["idempotency_key"]);
    let count = stack
        .tweet_database
        .collection::<mongodb::bson::Document>("tweets")
        .count_documents(mongodb::bson::doc! { "author_id": 1_i64 })
        .await
        .expect("count");
    assert_eq!(count, 1);
}

/// Writes that notify somebody were unlimited: one user could flood another's notifications.
/// A user's likes are limited (here a burst of 3, then one a minute); another user's are not.
#[tokio::test]
async fn likes_are_rate_limited_per_user() {
    let stack = Stack::start(Options {
        notifying_writes: (1, 3),
        ..Options::default()
    })
    .await;
    stack.seed_profiles(1, 3, "user").await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(
            post(&stack, 1, &format!("likeable {n}"))
                .await
                .expect("posted")
                .tweet_id,
        );
    }
    let mut tweets = stack.tweets().await;
    let (two, three) = (stack.token(2), stack.token(3));
    let mut refused = None;
    for &tweet_id in &ids {
        match tweets
            .like_tweet(bearer(&two, LikeTweetRequest { tweet_id }))
            .await
        {
            Ok(_) => {}
            Err(status) => {
                refused = Some(status);
                break;
            }
        }
    }
    let refused = refused.expect("5 likes in a row go over the burst of 3");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(
        refused
            .metadata()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|s| s >= 1),
        "{refused:?}"
    );
    tweets
        .like_tweet(bearer(&three, LikeTweetRequest { tweet_id: ids[0] }))
        .await
        .expect("another user likes freely");
}
