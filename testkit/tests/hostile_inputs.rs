//! A catalogue of hostile inputs (control characters, bidi overrides, huge strings,
//! overflowing numbers, operator-looking strings, path traversal, invalid UTF-8 in the path)
//! sent to every public REST endpoint through the real edge: each is answered with a 4xx or a
//! success, never a 5xx, and never hangs.

use std::time::Duration;

use http::Method;
use serde_json::{Value, json};
use xir_testkit::{
    Options, Stack,
    edge::{EdgeConfig, Reply, RestClient},
};

fn catalogue() -> Vec<String> {
    vec![
        String::new(),
        "\u{0}".into(),
        "bell\u{7} escape\u{1b}[2J".into(),
        "\u{202e}evil\u{202c} bidi override".into(),
        "\u{feff}\u{200b}zero width".into(),
        "\u{ffff}\u{fffe}".into(),
        "a".repeat(100_000),
        "😀".repeat(5_000),
        "99999999999999999999999".into(),
        "-9223372036854775809".into(),
        "1e309".into(),
        "NaN".into(),
        r#"{"$gt": ""}"#.into(),
        "$where: sleep(10000)".into(),
        "../../../../etc/passwd".into(),
        "' OR '1'='1' --".into(),
        "<script>alert(1)</script>".into(),
        "%00%ff".into(),
    ]
}

/// Every byte outside [A-Za-z0-9_-] percent-encoded.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn send(
    rest: &RestClient,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Reply {
    tokio::time::timeout(
        Duration::from_secs(60),
        rest.request(method.clone(), path, token, body),
    )
    .await
    .unwrap_or_else(|_| {
        panic!(
            "{method} {} did not answer within 60 s",
            &path[..path.len().min(200)]
        )
    })
}

/// Every string field of the write endpoints, set to `value`.
fn write_bodies<'a>(
    value: &str,
    token: Option<&'a str>,
) -> Vec<(Method, &'static str, Option<&'a str>, serde_json::Value)> {
    vec![
        (
            Method::POST,
            "/v1/auth/signup",
            None,
            json!({"username": value, "email": value, "password": value, "displayName": value}),
        ),
        (
            Method::POST,
            "/v1/auth/login",
            None,
            json!({"login": value, "password": value}),
        ),
        (
            Method::POST,
            "/v1/auth/refresh",
            None,
            json!({"refreshToken": value}),
        ),
        (
            Method::POST,
            "/v1/auth/logout",
            None,
            json!({"refreshToken": value}),
        ),
        (
            Method::POST,
            "/v1/auth/password",
            token,
            json!({"currentPassword": value, "newPassword": value}),
        ),
        (
            Method::POST,
            "/v1/tweets",
            token,
            json!({"text": value, "idempotencyKey": value}),
        ),
        (
            Method::PATCH,
            "/v1/profile",
            token,
            json!({"displayName": value, "bio": value}),
        ),
        (
            Method::PUT,
            "/v1/notifications/marker",
            token,
            json!({"lastReadId": value}),
        ),
    ]
}

/// Paths and query parameters, including numeric ones given text, set to `v` (encoded).
fn read_paths(v: &str) -> Vec<(Method, String)> {
    vec![
        (Method::GET, format!("/v1/usernames/{v}")),
        (Method::GET, format!("/v1/hashtags/{v}/tweets")),
        (Method::GET, format!("/v1/tweets/{v}")),
        (Method::GET, format!("/v1/tweets/{v}/thread")),
        (Method::POST, format!("/v1/tweets/{v}/like")),
        (Method::DELETE, format!("/v1/tweets/{v}")),
        (Method::GET, format!("/v1/users/{v}")),
        (Method::POST, format!("/v1/users/{v}/follow")),
        (
            Method::GET,
            format!("/v1/users/{v}/tweets?limit={v}&maxId={v}"),
        ),
        (
            Method::GET,
            format!("/v1/users/1/followers?cursor={v}&limit={v}"),
        ),
        (Method::GET, format!("/v1/search/users?query={v}&limit={v}")),
        (
            Method::GET,
            format!("/v1/relationships?userIds={v}&userIds=1"),
        ),
        (
            Method::GET,
            format!("/v1/timeline/home?maxId={v}&sinceId={v}&limit={v}"),
        ),
        (
            Method::GET,
            format!("/v1/notifications?maxId={v}&sinceId={v}&limit={v}"),
        ),
        (
            Method::GET,
            format!("/v1/users/1/tweets?excludeReplies={v}"),
        ),
        (Method::GET, "/v1/profile".to_owned()),
        (Method::GET, "/v1/notifications/marker".to_owned()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_public_endpoint_answers_hostile_input_with_a_4xx_or_a_success() {
    let stack = Stack::start(Options {
        notifying_writes: (6000, 1000),
        ..Options::default()
    })
    .await;
    let edge = stack.start_edge(EdgeConfig::Compose).await;
    let rest = edge.rest();
    let me = rest.sign_up("hostile_tester").await;
    let token = Some(me.token.as_str());

    let mut checked = 0;
    let mut check = |what: String, reply: Reply| {
        assert!(
            reply.status.as_u16() < 500,
            "{what}: {} {}",
            reply.status,
            &reply.text[..reply.text.len().min(300)]
        );
        checked += 1;
    };
    for value in catalogue() {
        let short = value.chars().take(30).collect::<String>();
        // In a URL, at most 1,500 bytes of it (4.5 KB encoded, up to three copies a URL): the
        // HTTP client itself refuses URLs of 64 KB; bodies carry the whole value.
        let mut cut = value.len().min(1_500);
        while !value.is_char_boundary(cut) {
            cut -= 1;
        }
        let v = encode(&value[..cut]);
        for (method, path, auth, body) in write_bodies(&value, token) {
            let reply = send(rest, method.clone(), path, auth, Some(body)).await;
            check(format!("{method} {path} with {short:?}"), reply);
        }
        for (method, path) in read_paths(&v) {
            let reply = send(rest, method.clone(), &path, token, None).await;
            check(
                format!("{method} {} with {short:?}", &path[..path.len().min(80)]),
                reply,
            );
        }
    }
    // Invalid UTF-8 where the transport allows it: percent-encoded in a path.
    for path in [
        "/v1/usernames/%FF%FE",
        "/v1/hashtags/%C3%28/tweets",
        "/v1/search/users?query=%ED%A0%80",
    ] {
        let reply = send(rest, Method::GET, path, token, None).await;
        check(format!("GET {path}"), reply);
    }
    assert!(checked > 350, "{checked}");

    // And the platform still works.
    let posted = send(
        rest,
        Method::POST,
        "/v1/tweets",
        token,
        Some(json!({"text": "still here"})),
    )
    .await;
    assert_eq!(posted.status, http::StatusCode::OK, "{}", posted.text);
}
