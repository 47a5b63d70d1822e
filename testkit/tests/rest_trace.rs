//! One REST request through the edge is one trace: the edge's span and the server spans of
//! every service it reaches (svc-timeline, which hydrates from svc-tweet and svc-user) share
//! its trace id, and so do the JSON log lines those services write.
//!
//! A binary of its own: it installs the process-wide telemetry (an in-memory span exporter
//! and a captured log writer), which would see every other test's spans and logs.

use std::time::Duration;

use http::{Method, StatusCode};
use opentelemetry::{KeyValue, trace::TraceId};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use xir_common::{
    telemetry::{self, CapturedLogs},
    testing,
};
use xir_proto::{tweet::v1::CreateTweetRequest, user::v1::FollowRequest};
use xir_testkit::{Options, Stack, bearer};

fn attribute<'a>(span: &'a SpanData, key: &str) -> Option<&'a opentelemetry::Value> {
    span.attributes
        .iter()
        .find(|KeyValue { key: k, .. }| k.as_str() == key)
        .map(|kv| &kv.value)
}

#[tokio::test]
async fn a_rest_request_is_one_trace_across_the_edge_and_the_services() {
    let exporter = InMemorySpanExporter::default();
    let logs = CapturedLogs::default();
    let _telemetry = telemetry::init_with_exporter_and_writer(
        "xir-stack",
        &testing::telemetry_settings(),
        exporter.clone(),
        logs.clone(),
    )
    .expect("telemetry");

    let stack = Stack::start(Options::default()).await;
    let edge = stack.start_edge().await;
    stack.seed_profiles(1, 2, "tracer").await;
    stack
        .users()
        .await
        .follow(bearer(&stack.token(2), FollowRequest { user_id: 1 }))
        .await
        .expect("follow");
    stack
        .tweets()
        .await
        .create_tweet(bearer(
            &stack.token(1),
            CreateTweetRequest {
                text: "traced".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("post");
    let reader = stack.token(2);
    testing::eventually(
        Duration::from_secs(30),
        "the tweet in user 2's timeline",
        || async {
            let reply = edge
                .request(Method::GET, "/v1/timeline/home", Some(&reader), None)
                .await;
            reply.json["items"]
                .as_array()
                .is_some_and(|i| !i.is_empty())
                .then_some(())
        },
    )
    .await;

    // The request under test, with a trace id of the client's own.
    let trace_id = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").expect("hex");
    let reply = edge
        .request_with_headers(
            Method::GET,
            "/v1/timeline/home?limit=5",
            Some(&reader),
            None,
            &[(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);

    let in_trace = |spans: &[SpanData], rpc_service: &str| {
        spans.iter().any(|s| {
            s.span_context.trace_id() == trace_id
                && attribute(s, "rpc.service").is_some_and(|v| v.as_str() == rpc_service)
        })
    };
    let services = [
        "xir.timeline.v1.TimelineService",
        "xir.tweet.v1.TweetService",
        "xir.user.v1.UserService",
    ];
    let spans = testing::eventually(
        Duration::from_secs(10),
        "the spans of the trace",
        || async {
            let spans = exporter.get_finished_spans().expect("spans");
            let edge_done = spans.iter().any(|s| {
                s.span_context.trace_id() == trace_id && s.name == "GET /v1/timeline/home"
            });
            (edge_done && services.iter().all(|s| in_trace(&spans, s))).then_some(spans)
        },
    )
    .await;

    // The edge's span is the parent of svc-timeline's server span.
    let edge_span = spans
        .iter()
        .find(|s| s.span_context.trace_id() == trace_id && s.name == "GET /v1/timeline/home")
        .expect("edge span");
    let timeline_span = spans
        .iter()
        .find(|s| {
            s.span_context.trace_id() == trace_id
                && s.name == "xir.timeline.v1.TimelineService/GetHomeTimeline"
        })
        .expect("timeline span");
    assert_eq!(
        timeline_span.parent_span_id,
        edge_span.span_context.span_id()
    );

    // Each service wrote a log line with the trace id, inside its own server span.
    let trace_hex = trace_id.to_string();
    let lines = logs.lines();
    let logged_by = |rpc_service: &str| {
        lines.iter().any(|line| {
            line["trace_id"] == trace_hex.as_str() && line["span"]["rpc.service"] == rpc_service
        })
    };
    for service in services {
        assert!(
            logged_by(service),
            "no log line of {service} with trace id {trace_hex}"
        );
    }
    assert!(
        lines
            .iter()
            .any(|line| line["trace_id"] == trace_hex.as_str() && line["target"] == "xir::edge"),
        "no edge log line with trace id {trace_hex}"
    );
}
