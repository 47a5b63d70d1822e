use futures_util::future::join_all;
use tonic::Code;
use xir_proto::tweet::v1::{CreateTweetRequest, GetTweetRequest, Tweet};
use xir_testkit::{Options, Stack, bearer};

pub(crate) async fn post(stack: &Stack, author: i64, text: &str) -> Result<Tweet, tonic::Status> {
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

pub(crate) async fn post_with(
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

pub(crate) fn bad_field(error: &tonic::Status) -> Vec<String> {
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

/// A key whose day has passed is as if never used: it makes a new tweet, even with another
/// text. A repeat of a reply whose parent was deleted since is still answered with its reply.
#[tokio::test]
async fn an_expired_key_makes_a_new_tweet_and_a_repeat_outlives_its_parent() {
    let stack = Stack::start(Options::default()).await;
    stack.seed_profiles(1, 1, "keys").await;
    let keys = stack
        .tweet_database
        .collection::<mongodb::bson::Document>("idempotency_keys");
    keys.insert_one(mongodb::bson::doc! {
        "_id": "1:k-old",
        "tweet_id": 12_345_i64,
        "text_sha256": "the hash of another text",
        "expires_at": mongodb::bson::DateTime::from_millis(0),
    })
    .await
    .expect("an expired key");
    let keyed = |text: &str, key: &str, reply_to_id: i64| CreateTweetRequest {
        text: text.into(),
        idempotency_key: key.into(),
        reply_to_id,
        ..Default::default()
    };
    let fresh = post_with(&stack, 1, keyed("a new day", "k-old", 0))
        .await
        .expect("an expired key is free again");
    assert_ne!(fresh.tweet_id, 12_345);

    let parent = post(&stack, 1, "the parent").await.expect("parent");
    let reply = post_with(&stack, 1, keyed("the reply", "k-reply", parent.tweet_id))
        .await
        .expect("reply");
    stack
        .tweets()
        .await
        .delete_tweet(bearer(
            &stack.token(1),
            xir_proto::tweet::v1::DeleteTweetRequest {
                tweet_id: parent.tweet_id,
            },
        ))
        .await
        .expect("delete the parent");
    let repeat = post_with(&stack, 1, keyed("the reply", "k-reply", parent.tweet_id))
        .await
        .expect("the repeat is answered");
    assert_eq!(repeat.tweet_id, reply.tweet_id);
    let error = post_with(&stack, 1, keyed("a new reply", "k-new", parent.tweet_id))
        .await
        .expect_err("a new reply to a deleted tweet");
    assert_eq!(error.code(), Code::NotFound);
}
