//! The platform as users run it without Docker (`scripts/dev`: every part its own process,
//! the Compose configuration files with addresses rewritten), checked through the real tools:
//! one REST request is one trace in Jaeger, Prometheus scrapes every target and every Grafana
//! panel's query returns data, and Ctrl-C leaves no process behind.

use std::time::Duration;

use http::{Method, StatusCode};
use serde_json::{Value, json};
use xir_common::testing;
use xir_testkit::{
    dev::{DevStack, process_alive},
    edge::{RestAccount, RestClient},
};

/// `follower` follows `followee` once the followee's profile exists (it arrives through
/// svc-auth's outbox).
async fn follow(rest: &RestClient, follower: &RestAccount, followee: &RestAccount) {
    testing::eventually(Duration::from_secs(60), "a follow", || async {
        let reply = rest
            .request(
                Method::POST,
                &format!("/v1/users/{}/follow", followee.id),
                Some(&follower.token),
                None,
            )
            .await;
        (reply.status == StatusCode::OK).then_some(())
    })
    .await;
}

async fn post(rest: &RestClient, author: &RestAccount, text: &str) -> String {
    let reply = rest
        .request(
            Method::POST,
            "/v1/tweets",
            Some(&author.token),
            Some(json!({"text": text})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "post: {}", reply.text);
    reply.json["tweet"]["tweetId"]
        .as_str()
        .expect("tweetId")
        .to_owned()
}

async fn home_has(rest: &RestClient, reader: &RestAccount, tweet_id: &str) {
    testing::eventually(
        Duration::from_secs(60),
        "the tweet in a home timeline",
        || async {
            let reply = rest
                .request(Method::GET, "/v1/timeline/home", Some(&reader.token), None)
                .await;
            reply.json["items"]
                .as_array()
                .is_some_and(|items| {
                    items
                        .iter()
                        .any(|i| i["card"]["tweet"]["tweetId"] == tweet_id)
                })
                .then_some(())
        },
    )
    .await;
}

async fn get_json(url: &str) -> Option<Value> {
    let response = reqwest::get(url).await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    serde_json::from_slice(&response.bytes().await.ok()?).ok()
}

/// A span of a Jaeger trace, with its service.
struct JaegerSpan {
    service: String,
    operation: String,
    span_id: String,
    parent: Option<String>,
}

fn jaeger_spans(trace: &Value) -> Vec<JaegerSpan> {
    let processes = &trace["processes"];
    trace["spans"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|span| JaegerSpan {
            service: processes[span["processID"].as_str().unwrap_or_default()]["serviceName"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            operation: span["operationName"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            span_id: span["spanID"].as_str().unwrap_or_default().to_owned(),
            parent: span["references"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|r| r["refType"] == "CHILD_OF")
                .and_then(|r| r["spanID"].as_str())
                .map(str::to_owned),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rest_request_is_one_trace_in_jaeger_and_ctrl_c_stops_everything() {
    let stack = DevStack::start(&[]).await;
    let rest = stack.rest();
    let alice = rest.sign_up("alice_dev").await;
    let bob = rest.sign_up("bob_dev").await;
    follow(&rest, &bob, &alice).await;
    let tweet = post(&rest, &alice, "hello from scripts/dev #traced").await;
    home_has(&rest, &bob, &tweet).await;

    // The request under test, continuing a trace of the client's.
    let trace_id = "5bf92f3577b34da6a3ce929d0e0e4737";
    let client_span = "00f067aa0ba902b8";
    let reply = rest
        .request_with_headers(
            Method::GET,
            "/v1/timeline/home?limit=5",
            Some(&bob.token),
            None,
            &[("traceparent", &format!("00-{trace_id}-{client_span}-01"))],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let spans = trace_in_jaeger(&stack, trace_id).await;
    the_spans_nest(&spans, client_span);
    ctrl_c_stops_everything(stack).await;
}

/// The server spans the trace must hold. A service exports its spans in batches as they end,
/// so its inner spans can reach Jaeger before its server span: the wait is for these spans
/// themselves, not for any span of each service.
const SERVER_SPANS: [(&str, &str); 3] = [
    (
        "svc-timeline",
        "xir.timeline.v1.TimelineService/GetHomeTimeline",
    ),
    ("svc-tweet", "xir.tweet.v1.TweetService/BatchGetTweets"),
    ("svc-user", "xir.user.v1.UserService/BatchGetProfiles"),
];

/// The trace, found through Jaeger's query API once every part has exported its spans.
async fn trace_in_jaeger(stack: &DevStack, trace_id: &str) -> Vec<JaegerSpan> {
    let url = format!("{}/api/traces/{trace_id}", stack.get("XIR_DEV_JAEGER_URL"));
    testing::eventually(Duration::from_secs(60), "the trace in Jaeger", || async {
        let found = get_json(&url).await?;
        let spans = jaeger_spans(&found["data"][0]);
        let has = |service: &str, operation: &str| {
            spans
                .iter()
                .any(|s| s.service == service && s.operation == operation)
        };
        let edge = spans.iter().any(|s| s.service == "edge");
        (edge && SERVER_SPANS.iter().all(|(service, op)| has(service, op))).then_some(spans)
    })
    .await
}

/// The client's span is the edge's parent, the edge's span svc-timeline's, and svc-timeline's
/// calls to svc-tweet and svc-user hang off spans of svc-timeline.
fn the_spans_nest(spans: &[JaegerSpan], client_span: &str) {
    let server_span = |service: &str, operation: &str| {
        spans
            .iter()
            .find(|s| s.service == service && s.operation == operation)
            .unwrap_or_else(|| panic!("no span {operation} of {service} in the trace"))
    };
    let edge = spans
        .iter()
        .find(|s| s.service == "edge" && s.parent.as_deref() == Some(client_span))
        .expect("the edge's span, a child of the client's");
    let (service, operation) = SERVER_SPANS[0];
    let timeline = server_span(service, operation);
    assert_eq!(timeline.parent.as_deref(), Some(edge.span_id.as_str()));
    // svc-timeline hydrates from svc-tweet and svc-user: their server spans hang off spans of
    // svc-timeline in the same trace.
    let timeline_span_ids: Vec<&str> = spans
        .iter()
        .filter(|s| s.service == "svc-timeline")
        .map(|s| s.span_id.as_str())
        .collect();
    for &(service, operation) in &SERVER_SPANS[1..] {
        let span = server_span(service, operation);
        assert!(
            span.parent
                .as_deref()
                .is_some_and(|p| timeline_span_ids.contains(&p)),
            "{operation} is not a child of a span of svc-timeline"
        );
    }
}

/// Ctrl-C: scripts/dev stops every process it started, and exits.
async fn ctrl_c_stops_everything(stack: DevStack) {
    let pids = stack.pids();
    assert!(
        pids.len() >= 8,
        "services, edge, Jaeger, Prometheus, databases: {pids:?}"
    );
    let status = stack.interrupt().await;
    assert!(
        !status.success(),
        "an interrupted run exits non-zero: {status}"
    );
    let left: Vec<u32> = pids.into_iter().filter(|pid| process_alive(*pid)).collect();
    assert!(left.is_empty(), "processes left behind: {left:?}");
}

/// Grafana's variables as the dashboard's defaults resolve them.
fn resolve_grafana_variables(expr: &str) -> String {
    expr.replace("$__rate_interval", "2m")
        .replace("\"$service\"", "\".*\"")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_every_target_and_every_dashboard_query_has_data() {
    // A low celebrity threshold, so one author with two followers is merged at read time and
    // the fan-out-skipped panel has data too.
    let stack = DevStack::start(&[("svc-timeline", "[fanout]\ncelebrity_followers = 1\n")]).await;
    let prometheus = stack.get("XIR_DEV_PROMETHEUS_URL").to_owned();
    let traffic = traffic_for_every_panel(stack.rest()).await;
    every_target_is_up(&prometheus).await;
    // Every query of every panel returns at least one series.
    let client = reqwest::Client::new();
    for (title, query) in &dashboard_queries() {
        assert!(!query.contains("or vector("), "{title}: {query} is padded");
        testing::eventually(
            Duration::from_secs(120),
            &format!("data for panel {title:?}: {query}"),
            || async {
                let response = client
                    .get(format!("{prometheus}/api/v1/query"))
                    .query(&[("query", query)])
                    .send()
                    .await
                    .ok()?;
                let result: Value = serde_json::from_slice(&response.bytes().await.ok()?).ok()?;
                assert_eq!(result["status"], "success", "{title}: {query}: {result}");
                let series = result["data"]["result"].as_array()?;
                series
                    .iter()
                    .any(|s| s["value"][1].as_str().is_some_and(|v| v != "NaN"))
                    .then_some(())
            },
        )
        .await;
    }
    if traffic.is_finished() {
        panic!("the traffic stopped early: {:?}", traffic.await);
    }
    traffic.abort();
}

/// Traffic that touches every panel: sign-ups (svc-auth's outbox), follows (svc-user's), a
/// fanned-out tweet and a celebrity's, reads, likes and some errors; then the same mix in the
/// background.
async fn traffic_for_every_panel(rest: RestClient) -> tokio::task::JoinHandle<()> {
    let star = rest.sign_up("star_metrics").await;
    let writer = rest.sign_up("writer_metrics").await;
    let fan = rest.sign_up("fan_metrics").await;
    let other = rest.sign_up("other_metrics").await;
    follow(&rest, &fan, &star).await;
    follow(&rest, &other, &star).await;
    follow(&rest, &fan, &writer).await;
    let fanned_out = post(&rest, &writer, "one follower: fanned out").await;
    let merged = post(&rest, &star, "two followers: merged at read time").await;
    home_has(&rest, &fan, &fanned_out).await;
    home_has(&rest, &fan, &merged).await;
    // rate() sees only increases between scrapes, so the same mix keeps going, once a second
    // (at most 600 rounds), until every query has been answered. Best effort: what is checked
    // is what Prometheus saw, not how fast a loaded machine answered. Newcomers follow `other`,
    // who never posts, so `writer` keeps one follower and stays fanned out.
    tokio::spawn(async move {
        let text = |round: i32, what: &str| Some(json!({"text": format!("{what}, round {round}")}));
        for round in 0..600 {
            rest.request(
                Method::POST,
                "/v1/tweets",
                Some(&writer.token),
                text(round, "fanned out"),
            )
            .await;
            rest.request(
                Method::POST,
                "/v1/tweets",
                Some(&star.token),
                text(round, "merged"),
            )
            .await;
            rest.request(Method::GET, "/v1/timeline/home", Some(&fan.token), None)
                .await;
            rest.request(Method::GET, "/v1/timeline/home", None, None)
                .await;
            if round % 5 == 0 {
                let newcomer = rest.sign_up(&format!("newcomer_{round}")).await;
                follow(&rest, &newcomer, &other).await;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
}

/// Every target up, the edge included.
async fn every_target_is_up(prometheus: &str) {
    let up = format!("{prometheus}/api/v1/query?query=up");
    testing::eventually(Duration::from_secs(120), "every target up", || async {
        let result = get_json(&up).await?;
        let targets = result["data"]["result"].as_array()?.clone();
        let jobs: Vec<&str> = targets
            .iter()
            .filter(|t| t["value"][1] == "1")
            .filter_map(|t| t["metric"]["job"].as_str())
            .collect();
        ["edge", "svc-auth", "svc-user", "svc-tweet", "svc-timeline"]
            .iter()
            .all(|job| jobs.contains(job))
            .then_some(())
    })
    .await;
}

/// Every query of the Grafana dashboard with the panel's title, its variables resolved.
fn dashboard_queries() -> Vec<(String, String)> {
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../observability/grafana/dashboards/xir-services.json"),
        )
        .expect("the dashboard"),
    )
    .expect("dashboard JSON");
    let queries: Vec<(String, String)> = dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|panel| {
            panel["targets"].as_array().into_iter().flatten().map(|t| {
                (
                    panel["title"].as_str().unwrap_or_default().to_owned(),
                    resolve_grafana_variables(t["expr"].as_str().expect("expr")),
                )
            })
        })
        .collect();
    assert!(queries.len() >= 10, "{queries:?}");
    queries
}
