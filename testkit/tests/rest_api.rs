//! The REST contract: the API as a web client sees it through the real Envoy edge, on the
//! Compose config (deploy/envoy/envoy.yaml) and on the chart's rendered config alike, end to
//! end against the four real services.

use std::{net::Ipv4Addr, time::Duration};

use futures_util::future::join_all;
use http::{Method, StatusCode};
use serde_json::{Value, json};
use xir_common::testing;
use xir_testkit::{
    Options, Stack,
    edge::{Edge, EdgeConfig, PASSWORD, RestAccount, RestClient},
};

/// Two tests running `$scenario`: one through the Compose edge config, one through the chart's.
macro_rules! on_both_edge_configs {
    ($compose:ident, $chart:ident, $scenario:ident) => {
        #[tokio::test]
        async fn $compose() {
            $scenario(EdgeConfig::Compose).await;
        }

        #[tokio::test]
        async fn $chart() {
            $scenario(EdgeConfig::Chart).await;
        }
    };
}

/// JSON ids are strings (proto3 JSON prints int64 as strings).
fn id(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("an int64 id as a JSON string, got {value}"))
        .to_owned()
}

/// Retries `GET path` until `done` holds for the reply (events travel through outboxes).
async fn eventually_get(
    edge: &Edge,
    path: &str,
    token: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    testing::eventually(Duration::from_secs(30), path, || async {
        let reply = edge
            .rest()
            .request(Method::GET, path, Some(token), None)
            .await;
        (reply.status == StatusCode::OK && done(&reply.json)).then_some(reply.json)
    })
    .await
}

on_both_edge_configs!(
    sign_up_post_follow_read_like_and_get_notified_through_the_compose_edge,
    sign_up_post_follow_read_like_and_get_notified_through_the_chart_edge,
    sign_up_post_follow_read_like_and_get_notified
);

async fn sign_up_post_follow_read_like_and_get_notified(config: EdgeConfig) {
    let stack = Stack::start(Options::default()).await;
    let edge = stack.start_edge(config).await;

    let alice = edge.rest().sign_up("alice_rest").await;
    edge.rest().sign_up("bob_rest").await;

    // Log in with the email, as a returning user would.
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

    // The profile comes from svc-auth's outbox; the additional binding finds it by name.
    let profile = eventually_get(&edge, "/v1/usernames/alice_rest", &bob.token, |json| {
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

    let home = eventually_get(&edge, "/v1/timeline/home?limit=10", &bob.token, |json| {
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

    let notifications = eventually_get(&edge, "/v1/notifications", &alice.token, |json| {
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
    the_compose_edge_answers_errors_as_http_statuses_with_google_rpc_status_bodies,
    the_chart_edge_answers_errors_as_http_statuses_with_google_rpc_status_bodies,
    errors_are_http_statuses_with_google_rpc_status_bodies
);

async fn errors_are_http_statuses_with_google_rpc_status_bodies(config: EdgeConfig) {
    let stack = Stack::start(Options::default()).await;
    let edge = stack.start_edge(config).await;
    let alice = edge.rest().sign_up("alice_errors").await;

    // An unknown path or method is the edge's own 404, never an upstream call; so is an
    // internal RPC asked for by its gRPC path.
    let unknown = edge
        .rest()
        .request(Method::GET, "/v1/nothing/here", None, None)
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.text);
    let wrong_verb = edge
        .rest()
        .request(Method::PUT, "/v1/tweets", Some(&alice.token), None)
        .await;
    assert_eq!(
        wrong_verb.status,
        StatusCode::NOT_FOUND,
        "{}",
        wrong_verb.text
    );
    let internal = edge
        .rest()
        .request(
            Method::POST,
            "/xir.user.v1.UserService/CreateProfile",
            None,
            Some(json!({})),
        )
        .await;
    assert_eq!(internal.status, StatusCode::NOT_FOUND, "{}", internal.text);

    // Unknown query parameters and unknown body fields are rejected at the edge.
    let bad_query = edge
        .rest()
        .request(
            Method::GET,
            "/v1/timeline/home?limt=5",
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!(
        bad_query.status,
        StatusCode::BAD_REQUEST,
        "{}",
        bad_query.text
    );
    let bad_body = edge
        .rest()
        .request(
            Method::POST,
            "/v1/tweets",
            Some(&alice.token),
            Some(json!({"txt": "typo"})),
        )
        .await;
    assert_eq!(
        bad_body.status,
        StatusCode::BAD_REQUEST,
        "{}",
        bad_body.text
    );
    let bad_number = edge
        .rest()
        .request(
            Method::GET,
            "/v1/tweets/not-a-number",
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!(
        bad_number.status,
        StatusCode::BAD_REQUEST,
        "{}",
        bad_number.text
    );

    // No token: Unauthenticated -> 401, as google.rpc.Status JSON.
    let anonymous = edge
        .rest()
        .request(Method::GET, "/v1/timeline/home", None, None)
        .await;
    assert_eq!(
        anonymous.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        anonymous.text
    );
    assert_eq!(anonymous.json["code"], 16);

    // InvalidArgument -> 400 with the BadRequest detail naming the field.
    let empty = edge
        .rest()
        .request(
            Method::POST,
            "/v1/tweets",
            Some(&alice.token),
            Some(json!({"text": ""})),
        )
        .await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST, "{}", empty.text);
    assert_eq!(empty.json["code"], 3);
    let detail = &empty.json["details"][0];
    assert_eq!(detail["@type"], "type.googleapis.com/google.rpc.BadRequest");
    assert_eq!(detail["fieldViolations"][0]["field"], "text");

    // NotFound -> 404 from the service, through the edge.
    let missing = edge
        .rest()
        .request(
            Method::GET,
            "/v1/tweets/123456789",
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.text);
    assert_eq!(missing.json["code"], 5);

    // AlreadyExists -> 409.
    let taken = edge
        .rest()
        .request(
            Method::POST,
            "/v1/auth/signup",
            None,
            Some(json!({
                "username": "ALICE_errors",
                "email": "other@example.com",
                "password": PASSWORD,
                "displayName": "Other",
            })),
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "{}", taken.text);
}

const WEB_ORIGIN: &str = "http://localhost:5173";

on_both_edge_configs!(
    cors_admits_the_listed_origins_only_through_the_compose_edge,
    cors_admits_the_listed_origins_only_through_the_chart_edge,
    cors_admits_the_listed_origins_only
);

/// A browser's CORS preflight for a GET of the home timeline with a token.
async fn preflight(edge: &Edge, origin: &str) -> xir_testkit::edge::Reply {
    edge.rest()
        .request_with_headers(
            Method::OPTIONS,
            "/v1/timeline/home",
            None,
            None,
            &[
                ("origin", origin),
                ("access-control-request-method", "GET"),
                (
                    "access-control-request-headers",
                    "authorization,content-type",
                ),
            ],
        )
        .await
}

async fn cors_admits_the_listed_origins_only(config: EdgeConfig) {
    let stack = Stack::start(Options::default()).await;
    let edge = stack.start_edge(config).await;
    let alice = edge.rest().sign_up("alice_cors").await;
    let allowed = preflight(&edge, WEB_ORIGIN).await;
    assert_eq!(allowed.status, StatusCode::OK, "{allowed:?}");
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some(WEB_ORIGIN)
    );
    assert!(
        allowed
            .header("access-control-allow-methods")
            .is_some_and(|m| m.contains("GET")),
        "{allowed:?}"
    );
    let headers = allowed
        .header("access-control-allow-headers")
        .unwrap_or_default();
    assert!(
        headers.contains("authorization") && headers.contains("content-type"),
        "{allowed:?}"
    );

    let read = edge
        .rest()
        .request_with_headers(
            Method::GET,
            "/v1/timeline/home",
            Some(&alice.token),
            None,
            &[("origin", WEB_ORIGIN)],
        )
        .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    assert_eq!(read.header("access-control-allow-origin"), Some(WEB_ORIGIN));
    assert!(
        read.header("access-control-expose-headers")
            .is_some_and(|h| h.contains("retry-after")),
        "{read:?}"
    );

    // Another origin gets no allow header, on the preflight or on the request itself.
    let foreign = preflight(&edge, "http://evil.example").await;
    assert_eq!(
        foreign.header("access-control-allow-origin"),
        None,
        "{foreign:?}"
    );
    let foreign_read = edge
        .rest()
        .request_with_headers(
            Method::GET,
            "/v1/timeline/home",
            Some(&alice.token),
            None,
            &[("origin", "http://evil.example")],
        )
        .await;
    assert_eq!(
        foreign_read.header("access-control-allow-origin"),
        None,
        "{foreign_read:?}"
    );
}

on_both_edge_configs!(
    the_auth_rate_limit_is_per_client_through_the_compose_edge,
    the_auth_rate_limit_is_per_client_through_the_chart_edge,
    the_auth_rate_limit_is_per_client
);

/// One client flooding the auth routes is answered 429 with `retry-after` by the edge, while
/// another client, arriving right after, is not limited at all.
async fn the_auth_rate_limit_is_per_client(config: EdgeConfig) {
    let stack = Stack::start(Options::default()).await;
    let edge = stack.start_edge(config).await;
    let flooder = edge.client_from(Ipv4Addr::new(127, 0, 0, 2));
    let bystander = edge.client_from(Ipv4Addr::new(127, 0, 0, 3));
    // Refresh with a token that does not exist: cheap for svc-auth, 401 when let through.
    let refresh = |client: &RestClient| {
        let client = client.clone();
        async move {
            client
                .request(
                    Method::POST,
                    "/v1/auth/refresh",
                    None,
                    Some(json!({"refreshToken": "no-such-token"})),
                )
                .await
        }
    };

    // Bursts of 50 at once against a bucket of 20: the edge must refuse some. Bounded: at most
    // ten bursts, in case the machine is slow enough for the bucket to refill between sends.
    let mut limited = None;
    for _ in 0..10 {
        let replies = join_all((0..50).map(|_| refresh(&flooder))).await;
        for reply in &replies {
            assert!(
                matches!(
                    reply.status,
                    StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS
                ),
                "{reply:?}"
            );
        }
        limited = replies
            .into_iter()
            .find(|r| r.status == StatusCode::TOO_MANY_REQUESTS);
        if limited.is_some() {
            break;
        }
    }
    let limited = limited.expect("the flooding client is rate limited");
    assert!(
        limited
            .header("retry-after")
            .and_then(|s| s.parse::<u64>().ok())
            .is_some_and(|s| s >= 1),
        "{limited:?}"
    );

    let other = refresh(&bystander).await;
    assert_eq!(other.status, StatusCode::UNAUTHORIZED, "{other:?}");
}

/// svc-auth counts login failures per client address, and the address is the one the edge
/// saw: what a client writes into `x-forwarded-for` neither moves its failures elsewhere nor
/// lands them on somebody else.
#[tokio::test]
async fn a_client_sent_x_forwarded_for_does_not_move_the_login_throttle() {
    let stack = Stack::start(Options {
        max_login_failures_per_address: 3,
        ..Options::default()
    })
    .await;
    let edge = stack.start_edge(EdgeConfig::Compose).await;
    edge.rest().sign_up("carol_xff").await;
    let attacker = edge.client_from(Ipv4Addr::new(127, 0, 0, 4));
    let honest = edge.client_from(Ipv4Addr::new(127, 0, 0, 5));
    let login = |client: &RestClient, login: &str, password: &str, forwarded_for: &str| {
        let client = client.clone();
        let body = json!({"login": login, "password": password});
        let forwarded_for = forwarded_for.to_owned();
        async move {
            client
                .request_with_headers(
                    Method::POST,
                    "/v1/auth/login",
                    None,
                    Some(body),
                    &[
                        ("x-forwarded-for", &forwarded_for),
                        ("x-real-ip", &forwarded_for),
                    ],
                )
                .await
        }
    };

    // Three failures from one client, each claiming another origin (and different accounts,
    // so the per-account limit plays no part).
    for (n, claimed) in ["1.2.3.4", "5.6.7.8", "9.9.9.9"].iter().enumerate() {
        let failed = login(&attacker, &format!("nobody_{n}"), "wrong password", claimed).await;
        assert_eq!(failed.status, StatusCode::UNAUTHORIZED, "{failed:?}");
    }
    // The client is throttled whatever address it claims next, even with the right password.
    let throttled = login(&attacker, "carol_xff", PASSWORD, "10.0.0.1").await;
    assert_eq!(
        throttled.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{throttled:?}"
    );
    assert_eq!(
        throttled.json["code"], 8,
        "svc-auth's throttle, not the edge's limit"
    );
    // Another client claiming the attacker's addresses is not.
    let fine = login(&honest, "carol_xff", PASSWORD, "1.2.3.4").await;
    assert_eq!(fine.status, StatusCode::OK, "{fine:?}");
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
    let own = eventually_get(&edge, "/v1/profile", &carol.token, |json| {
        json["profile"]["username"] == "carol_rest"
    })
    .await;
    assert_eq!(id(&own["profile"]["userId"]), carol.id);

    let post = async |account: &RestAccount, body: Value| {
        let reply = rest
            .request(Method::POST, "/v1/tweets", Some(&account.token), Some(body))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "post: {}", reply.text);
        id(&reply.json["tweet"]["tweetId"])
    };
    let original = post(&carol, json!({"text": "a post"})).await;
    let reply = post(&carol, json!({"text": "a reply", "replyToId": original})).await;
    let tweets = |exclude: bool| format!("/v1/users/{}/tweets?excludeReplies={exclude}", carol.id);
    let everything = eventually_get(&edge, &tweets(false), &carol.token, |_| true).await;
    let ids: Vec<String> = everything["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| id(&item["itemId"]))
        .collect();
    assert_eq!(ids, [reply.clone(), original.clone()]);
    let posts = eventually_get(&edge, &tweets(true), &carol.token, |_| true).await;
    assert_eq!(posts["items"].as_array().map(Vec::len), Some(1), "{posts}");
    assert_eq!(id(&posts["items"][0]["itemId"]), original);

    // Pages render from one call: every tweet carries its author, a quote its quoted tweet.
    assert_eq!(
        posts["items"][0]["tweet"]["author"]["username"],
        "carol_rest"
    );
    let thread = eventually_get(
        &edge,
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
    let tagged = eventually_get(&edge, "/v1/hashtags/cards/tweets", &carol.token, |json| {
        json["tweets"].as_array().map(Vec::len) == Some(1)
    })
    .await;
    assert_eq!(tagged["tweets"][0]["author"]["username"], "dave_rest");
    assert_eq!(tagged["tweets"][0]["quoted"]["text"], "a post");

    // Dave (who quoted her above) follows, likes and reposts: four notifications for carol,
    // and the repost comes into carol's timeline (she follows dave) with its time.
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
    let home = eventually_get(&edge, "/v1/timeline/home", &carol.token, |json| {
        json["items"][0]["repostedBy"]["username"] == "dave_rest"
    })
    .await;
    assert!(
        home["items"][0]["repostedAt"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{home}"
    );

    let listed = eventually_get(&edge, "/v1/notifications", &carol.token, |json| {
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
