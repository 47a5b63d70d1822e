//! The edge's own policies: CORS, the per-client rate limit, and the client address it trusts.

use std::net::Ipv4Addr;

use futures_util::future::join_all;
use http::{Method, StatusCode};
use serde_json::json;
use xir_testkit::{
    Options, Stack,
    edge::{Edge, EdgeConfig, PASSWORD, RestClient},
};

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
