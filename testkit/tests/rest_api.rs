//! The REST contract: the API as a web client sees it through the edge (the Envoy stand-in
//! in xir_testkit::edge, driven by deploy/envoy/envoy.yaml and the descriptor set), end to end
//! against the four real services.

use std::time::Duration;

use http::{Method, StatusCode};
use serde_json::{Value, json};
use xir_common::testing;
use xir_testkit::{Options, Stack, edge::Edge};

/// JSON ids are strings (proto3 JSON prints int64 as strings).
fn id(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("an int64 id as a JSON string, got {value}"))
        .to_owned()
}

struct Account {
    id: String,
    token: String,
}

async fn sign_up(edge: &Edge, username: &str) -> Account {
    let reply = edge
        .request(
            Method::POST,
            "/v1/auth/signup",
            None,
            Some(json!({
                "username": username,
                "email": format!("{username}@example.com"),
                "password": "correct horse battery",
                "displayName": username.to_uppercase(),
            })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "sign-up: {}", reply.text);
    Account {
        id: id(&reply.json["userId"]),
        token: reply.json["tokens"]["accessToken"]
            .as_str()
            .expect("accessToken")
            .to_owned(),
    }
}

/// Retries `GET path` until `done` holds for the reply (events travel through outboxes).
async fn eventually_get(
    edge: &Edge,
    path: &str,
    token: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    testing::eventually(Duration::from_secs(30), path, || async {
        let reply = edge.request(Method::GET, path, Some(token), None).await;
        (reply.status == StatusCode::OK && done(&reply.json)).then_some(reply.json)
    })
    .await
}

#[tokio::test]
async fn sign_up_post_follow_read_like_and_get_notified_over_rest() {
    let stack = Stack::start(Options::default()).await;
    let edge = stack.start_edge().await;

    let alice = sign_up(&edge, "alice_rest").await;
    sign_up(&edge, "bob_rest").await;

    // Log in with the email, as a returning user would.
    let login = edge
        .request(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"login": "bob_rest@example.com", "password": "correct horse battery"})),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "login: {}", login.text);
    let bob = Account {
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

#[tokio::test]
async fn the_edge_answers_errors_as_http_statuses_with_google_rpc_status_bodies() {
    let stack = Stack::start(Options::default()).await;
    let edge = stack.start_edge().await;
    let alice = sign_up(&edge, "alice_errors").await;

    // An unknown path or method is the edge's own 404, never an upstream call.
    let unknown = edge
        .request(Method::GET, "/v1/nothing/here", None, None)
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.text);
    let wrong_verb = edge
        .request(Method::PUT, "/v1/tweets", Some(&alice.token), None)
        .await;
    assert_eq!(
        wrong_verb.status,
        StatusCode::NOT_FOUND,
        "{}",
        wrong_verb.text
    );

    // Unknown query parameters and unknown body fields are rejected at the edge.
    let bad_query = edge
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
        .request(
            Method::POST,
            "/v1/auth/signup",
            None,
            Some(json!({
                "username": "ALICE_errors",
                "email": "other@example.com",
                "password": "correct horse battery",
                "displayName": "Other",
            })),
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "{}", taken.text);
}
