//! A day of a client: sign up, post, follow, read, like, get notified; and the reads its pages
//! are built from.

use http::{Method, StatusCode};
use serde_json::{Value, json};
use xir_testkit::{
    Options, Stack,
    edge::{Edge, EdgeConfig, PASSWORD, RestAccount},
};

use crate::{eventually_get, id};

on_both_edge_configs!(
    sign_up_post_follow_read_like_and_get_notified_through_the_compose_edge,
    sign_up_post_follow_read_like_and_get_notified_through_the_chart_edge,
    sign_up_post_follow_read_like_and_get_notified
);

async fn sign_up_post_follow_read_like_and_get_notified(config: EdgeConfig) {
    let stack = Stack::start(Options::default()).await;
    let edge = stack.start_edge(config).await;
    let (alice, bob) = alice_signs_up_and_bob_logs_in(&edge).await;
    let tweet_id = bob_follows_alice_who_posts(&edge, &alice, &bob).await;
    bob_reads_likes_and_alice_is_notified(&edge, &alice, &bob, &tweet_id).await;
}

/// Alice and bob sign up; bob logs in again with his email, as a returning user would.
async fn alice_signs_up_and_bob_logs_in(edge: &Edge) -> (RestAccount, RestAccount) {
    let alice = edge.rest().sign_up("alice_rest").await;
    edge.rest().sign_up("bob_rest").await;

    let login = edge
        .rest()
        .request(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"login": "bob_rest@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "login: {}", login.text);
    let bob = RestAccount {
        id: id(&login.json["userId"]),
        token: login.json["tokens"]["accessToken"]
            .as_str()
            .expect("token")
            .to_owned(),
    };

    (alice, bob)
}

/// Bob finds alice by name and follows her; she posts. Returns the tweet's id.
async fn bob_follows_alice_who_posts(
    edge: &Edge,
    alice: &RestAccount,
    bob: &RestAccount,
) -> String {
    // The profile comes from svc-auth's outbox; the additional binding finds it by name.
    let profile = eventually_get(edge, "/v1/usernames/alice_rest", &bob.token, |json| {
        json["profile"]["userId"].is_string()
    })
    .await;
    assert_eq!(id(&profile["profile"]["userId"]), alice.id);
    assert_eq!(profile["profile"]["displayName"], "ALICE_REST");

    let follow = edge
        .rest()
        .request(
            Method::POST,
            &format!("/v1/users/{}/follow", alice.id),
            Some(&bob.token),
            None,
        )
        .await;
    assert_eq!(follow.status, StatusCode::OK, "follow: {}", follow.text);
    assert_eq!(follow.json["relationship"]["following"], true);

    let posted = edge
        .rest()
        .request(
            Method::POST,
            "/v1/tweets",
            Some(&alice.token),
            Some(json!({"text": "hello over REST #edge", "idempotencyKey": "rest-1"})),
        )
        .await;
    assert_eq!(posted.status, StatusCode::OK, "post: {}", posted.text);
    let tweet_id = id(&posted.json["tweet"]["tweetId"]);
    assert_eq!(posted.json["tweet"]["hashtags"], json!(["edge"]));
    // Zero values are printed (always_print_primitive_fields), int64 as strings.
    assert_eq!(posted.json["tweet"]["likeCount"], "0");

    tweet_id
}

/// The tweet reaches bob's home timeline as a card; he likes it; alice is notified of the
/// follow and the like.
async fn bob_reads_likes_and_alice_is_notified(
    edge: &Edge,
    alice: &RestAccount,
    bob: &RestAccount,
    tweet_id: &str,
) {
    let home = eventually_get(edge, "/v1/timeline/home?limit=10", &bob.token, |json| {
        json["items"]
            .as_array()
            .is_some_and(|items| !items.is_empty())
    })
    .await;
    let card = &home["items"][0]["card"];
    assert_eq!(id(&card["tweet"]["tweetId"]), tweet_id);
    assert_eq!(card["author"]["username"], "alice_rest");

    let liked = edge
        .rest()
        .request(
            Method::POST,
            &format!("/v1/tweets/{tweet_id}/like"),
            Some(&bob.token),
            None,
        )
        .await;
    assert_eq!(liked.status, StatusCode::OK, "like: {}", liked.text);
    assert_eq!(liked.json["tweet"]["likeCount"], "1");
    assert_eq!(liked.json["tweet"]["viewer"]["liked"], true);

    let notifications = eventually_get(edge, "/v1/notifications", &alice.token, |json| {
        json["notifications"]
            .as_array()
            .is_some_and(|n| n.len() >= 2)
    })
    .await;
    let kinds: Vec<&str> = notifications["notifications"]
        .as_array()
        .expect("notifications")
        .iter()
        .map(|n| {
            assert_eq!(id(&n["actor"]["userId"]), bob.id);
            n["kind"].as_str().expect("enum names, not numbers")
        })
        .collect();
    assert_eq!(
        kinds,
        ["NOTIFICATION_KIND_LIKE", "NOTIFICATION_KIND_FOLLOW"]
    );
}

on_both_edge_configs!(
    own_profile_replies_filter_repost_time_and_read_marker_through_the_compose_edge,
    own_profile_replies_filter_repost_time_and_read_marker_through_the_chart_edge,
    own_profile_replies_filter_repost_time_and_read_marker
);

/// The reads a client builds its pages from: the caller's own profile, a profile's "Posts"
/// tab without replies, when a repost was made, and notifications with a read marker.
async fn own_profile_replies_filter_repost_time_and_read_marker(config: EdgeConfig) {
    let stack = Stack::start(Options::default()).await;
    let edge = stack.start_edge(config).await;
    let (carol, dave) = own_profiles_once_created(&stack, &edge).await;
    let (original, reply, posts) = the_posts_tab_leaves_replies_out(&edge, &carol).await;
    pages_render_from_one_call(&edge, &carol, &dave, &original, &reply, &posts).await;
    follows_reactions_and_the_repost_time(&edge, &carol, &dave, &original).await;
    the_read_marker_counts_what_is_unread(&edge, &carol).await;
}

/// `GET /v1/profile` answers "retry" until svc-auth's outbox has delivered the profile, then
/// the caller's own profile. Returns carol and dave, signed up.
async fn own_profiles_once_created(stack: &Stack, edge: &Edge) -> (RestAccount, RestAccount) {
    let rest = edge.rest();
    // An account whose profile svc-auth's outbox has not delivered yet: retry, not 404.
    let pending = rest
        .request(
            Method::GET,
            "/v1/profile",
            Some(&stack.token(987_654)),
            None,
        )
        .await;
    assert_eq!(
        pending.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        pending.text
    );
    assert_eq!(pending.header("retry-after"), Some("1"));
    assert!(pending.text.contains("being created"), "{}", pending.text);

    let carol = rest.sign_up("carol_rest").await;
    let dave = rest.sign_up("dave_rest").await;
    let own = eventually_get(edge, "/v1/profile", &carol.token, |json| {
        json["profile"]["username"] == "carol_rest"
    })
    .await;
    assert_eq!(id(&own["profile"]["userId"]), carol.id);

    (carol, dave)
}

/// Carol posts and replies to herself; her "Posts" tab shows the post only. Returns the post,
/// the reply and the "Posts" page.
async fn the_posts_tab_leaves_replies_out(
    edge: &Edge,
    carol: &RestAccount,
) -> (String, String, Value) {
    let rest = edge.rest();
    let post = async |account: &RestAccount, body: Value| {
        let reply = rest
            .request(Method::POST, "/v1/tweets", Some(&account.token), Some(body))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "post: {}", reply.text);
        id(&reply.json["tweet"]["tweetId"])
    };
    let original = post(carol, json!({"text": "a post"})).await;
    let reply = post(carol, json!({"text": "a reply", "replyToId": original})).await;
    let tweets = |exclude: bool| format!("/v1/users/{}/tweets?excludeReplies={exclude}", carol.id);
    let everything = eventually_get(edge, &tweets(false), &carol.token, |_| true).await;
    let ids: Vec<String> = everything["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| id(&item["itemId"]))
        .collect();
    assert_eq!(ids, [reply.clone(), original.clone()]);
    let posts = eventually_get(edge, &tweets(true), &carol.token, |_| true).await;
    assert_eq!(posts["items"].as_array().map(Vec::len), Some(1), "{posts}");
    assert_eq!(id(&posts["items"][0]["itemId"]), original);

    (original, reply, posts)
}

/// Pages render from one call: every tweet carries its author, a quote its quoted tweet.
async fn pages_render_from_one_call(
    edge: &Edge,
    carol: &RestAccount,
    dave: &RestAccount,
    original: &str,
    reply: &str,
    posts: &Value,
) {
    let rest = edge.rest();
    assert_eq!(
        posts["items"][0]["tweet"]["author"]["username"],
        "carol_rest"
    );
    let thread = eventually_get(
        edge,
        &format!("/v1/tweets/{reply}/thread"),
        &carol.token,
        |_| true,
    )
    .await;
    assert_eq!(id(&thread["ancestors"][0]["tweetId"]), original);
    assert_eq!(thread["ancestors"][0]["author"]["username"], "carol_rest");
    assert_eq!(thread["tweet"]["author"]["displayName"], "CAROL_REST");
    let quoting = rest
        .request(
            Method::POST,
            "/v1/tweets",
            Some(&dave.token),
            Some(json!({"text": "quoting #cards", "quoteOfId": original})),
        )
        .await;
    assert_eq!(quoting.status, StatusCode::OK, "{}", quoting.text);
    assert_eq!(quoting.json["tweet"]["author"]["username"], "dave_rest");
    assert_eq!(id(&quoting.json["tweet"]["quoted"]["tweetId"]), original);
    assert_eq!(
        quoting.json["tweet"]["quoted"]["author"]["username"],
        "carol_rest"
    );
    let tagged = eventually_get(edge, "/v1/hashtags/cards/tweets", &carol.token, |json| {
        json["tweets"].as_array().map(Vec::len) == Some(1)
    })
    .await;
    assert_eq!(tagged["tweets"][0]["author"]["username"], "dave_rest");
    assert_eq!(tagged["tweets"][0]["quoted"]["text"], "a post");
}

/// Dave (who quoted her) follows, likes and reposts: four notifications for carol, and the
/// repost comes into carol's timeline (she follows dave) with its time.
async fn follows_reactions_and_the_repost_time(
    edge: &Edge,
    carol: &RestAccount,
    dave: &RestAccount,
    original: &str,
) {
    let rest = edge.rest();
    for (method, path, token) in [
        (
            Method::POST,
            format!("/v1/users/{}/follow", carol.id),
            &dave.token,
        ),
        (
            Method::POST,
            format!("/v1/users/{}/follow", dave.id),
            &carol.token,
        ),
        (
            Method::POST,
            format!("/v1/tweets/{original}/like"),
            &dave.token,
        ),
        (
            Method::POST,
            format!("/v1/tweets/{original}/repost"),
            &dave.token,
        ),
    ] {
        let done = rest.request(method, &path, Some(token), None).await;
        assert_eq!(done.status, StatusCode::OK, "{path}: {}", done.text);
    }
    let home = eventually_get(edge, "/v1/timeline/home", &carol.token, |json| {
        json["items"][0]["repostedBy"]["username"] == "dave_rest"
    })
    .await;
    assert!(
        home["items"][0]["repostedAt"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{home}"
    );
}

/// Notifications say how many are unread; the marker moves forward only.
async fn the_read_marker_counts_what_is_unread(edge: &Edge, carol: &RestAccount) {
    let rest = edge.rest();
    let listed = eventually_get(edge, "/v1/notifications", &carol.token, |json| {
        json["notifications"].as_array().map(Vec::len) == Some(4)
    })
    .await;
    // Nothing read yet: everything is unread (int64 as a string).
    assert_eq!(listed["unreadCount"], "4", "{listed}");
    let newest = id(&listed["notifications"][0]["notificationId"]);
    let oldest = id(&listed["notifications"][3]["notificationId"]);

    let since = rest
        .request(
            Method::GET,
            &format!("/v1/notifications?sinceId={oldest}"),
            Some(&carol.token),
            None,
        )
        .await;
    assert_eq!(since.status, StatusCode::OK, "{}", since.text);
    assert_eq!(
        since.json["notifications"].as_array().map(Vec::len),
        Some(3)
    );

    let marker = rest
        .request(
            Method::GET,
            "/v1/notifications/marker",
            Some(&carol.token),
            None,
        )
        .await;
    assert_eq!(marker.status, StatusCode::OK, "{}", marker.text);
    assert_eq!(marker.json["unreadCount"], "4", "{}", marker.text);
    let set = async |last_read: &str| {
        rest.request(
            Method::PUT,
            "/v1/notifications/marker",
            Some(&carol.token),
            Some(json!({ "lastReadId": last_read })),
        )
        .await
    };
    let read = set(&newest).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    assert_eq!(id(&read.json["lastReadId"]), newest);
    assert_eq!(read.json["unreadCount"], "0", "{}", read.text);
    // A stale tab cannot move it back.
    let stale = set(&oldest).await;
    assert_eq!(id(&stale.json["lastReadId"]), newest, "{}", stale.text);
    let refused = set("-1").await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
    assert!(refused.text.contains("last_read_id"), "{}", refused.text);
}
