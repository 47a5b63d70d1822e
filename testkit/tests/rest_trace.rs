//! One REST request through the edge is one trace: the real Envoy's span (exported over
//! OTLP/gRPC, as it would be to Jaeger) and the server spans of every service it reaches
//! (svc-timeline, which hydrates from svc-tweet and svc-user) share its trace id, Envoy's span
//! is the parent of svc-timeline's, and the JSON log lines of the services and Envoy's access
//! log carry that id.
//!
//! A binary of its own: it installs the process-wide telemetry (an in-memory span exporter
//! and a captured log writer), which would see every other test's spans and logs.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use http::{Method, StatusCode};
use opentelemetry::{KeyValue, trace::TraceId};
use opentelemetry_proto::tonic::{
    collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
        trace_service_server::{TraceService, TraceServiceServer},
    },
    common::v1::any_value,
    trace::v1::Span,
};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use xir_common::{
    telemetry::{self, CapturedLogs},
    testing,
};
use xir_proto::{tweet::v1::CreateTweetRequest, user::v1::FollowRequest};
use xir_testkit::{
    Options, Stack, bearer,
    edge::{Edge, EdgeConfig},
};

/// An OTLP/gRPC trace receiver: keeps every span it is sent, with its resource's service name.
#[derive(Clone, Default)]
struct OtlpReceiver {
    spans: Arc<Mutex<Vec<(String, Span)>>>,
}

#[tonic::async_trait]
impl TraceService for OtlpReceiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.spans.lock().expect("spans");
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|a| a.key == "service.name")
                .and_then(|a| a.value.as_ref()?.value.as_ref())
                .map(|v| match v {
                    any_value::Value::StringValue(name) => name.clone(),
                    other => format!("{other:?}"),
                })
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                spans.extend(scope.spans.into_iter().map(|s| (service.clone(), s)));
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

impl OtlpReceiver {
    async fn start(&self) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let service = TraceServiceServer::new(self.clone());
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        addr
    }

    fn span_of(&self, service: &str, trace_id: TraceId) -> Option<Span> {
        self.spans
            .lock()
            .expect("spans")
            .iter()
            .find(|(s, span)| s == service && span.trace_id == trace_id.to_bytes())
            .map(|(_, span)| span.clone())
    }
}

fn attribute<'a>(span: &'a SpanData, key: &str) -> Option<&'a opentelemetry::Value> {
    span.attributes
        .iter()
        .find(|KeyValue { key: k, .. }| k.as_str() == key)
        .map(|kv| &kv.value)
}

/// On the Compose edge config and on the chart's, one after the other: the telemetry under
/// test is process-wide, so one test holds both.
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
    for (config, trace_hex) in [
        (EdgeConfig::Compose, "4bf92f3577b34da6a3ce929d0e0e4736"),
        (EdgeConfig::Chart, "4bf92f3577b34da6a3ce929d0e0e4737"),
    ] {
        one_trace_through(&stack, config, &reader, trace_hex, &exporter, &logs).await;
    }
}

async fn one_trace_through(
    stack: &Stack,
    config: EdgeConfig,
    reader: &str,
    trace_hex: &str,
    exporter: &InMemorySpanExporter,
    logs: &CapturedLogs,
) {
    let receiver = OtlpReceiver::default();
    let otlp = receiver.start().await;
    let edge = stack.start_traced_edge(config, Some(otlp)).await;
    testing::eventually(
        Duration::from_secs(30),
        "the tweet in user 2's timeline",
        || async {
            let reply = edge
                .rest()
                .request(Method::GET, "/v1/timeline/home", Some(reader), None)
                .await;
            reply.json["items"]
                .as_array()
                .is_some_and(|i| !i.is_empty())
                .then_some(())
        },
    )
    .await;

    // The request under test, with a trace id of the client's own.
    let trace_id = TraceId::from_hex(trace_hex).expect("hex");
    let reply = edge
        .rest()
        .request_with_headers(
            Method::GET,
            "/v1/timeline/home?limit=5",
            Some(reader),
            None,
            &[(
                "traceparent",
                &format!("00-{trace_hex}-00f067aa0ba902b7-01"),
            )],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{config:?}: {}", reply.text);

    let (spans, edge_span) = spans_of_the_trace(exporter, &receiver, trace_id).await;
    the_spans_nest(config, &spans, &edge_span, trace_id);
    every_service_logged_the_trace(&edge, logs, trace_hex).await;
}

const TRACED_SERVICES: [&str; 3] = [
    "xir.timeline.v1.TimelineService",
    "xir.tweet.v1.TweetService",
    "xir.user.v1.UserService",
];

/// The services' spans of the trace (from the in-process exporter) and the edge's (exported
/// by Envoy over OTLP).
async fn spans_of_the_trace(
    exporter: &InMemorySpanExporter,
    receiver: &OtlpReceiver,
    trace_id: TraceId,
) -> (Vec<SpanData>, Span) {
    let in_trace = |spans: &[SpanData], rpc_service: &str| {
        spans.iter().any(|s| {
            s.span_context.trace_id() == trace_id
                && attribute(s, "rpc.service").is_some_and(|v| v.as_str() == rpc_service)
        })
    };
    let services = TRACED_SERVICES;
    let spans = testing::eventually(
        Duration::from_secs(10),
        "the services' spans of the trace",
        || async {
            let spans = exporter.get_finished_spans().expect("spans");
            services
                .iter()
                .all(|s| in_trace(&spans, s))
                .then_some(spans)
        },
    )
    .await;
    // Envoy exports in batches (every 5 s by default).
    let edge_span = testing::eventually(
        Duration::from_secs(30),
        "the edge's span, exported by Envoy",
        || async { receiver.span_of("edge", trace_id) },
    )
    .await;

    (spans, edge_span)
}

/// The client's span is the edge's parent; the edge's span is svc-timeline's; inside the
/// server spans, the steps they took.
fn the_spans_nest(config: EdgeConfig, spans: &[SpanData], edge_span: &Span, trace_id: TraceId) {
    assert_eq!(
        edge_span.parent_span_id,
        0x00f0_67aa_0ba9_02b7_u64.to_be_bytes(),
        "{config:?}: the edge continues the client's traceparent"
    );
    let timeline_span = spans
        .iter()
        .find(|s| {
            s.span_context.trace_id() == trace_id
                && s.name == "xir.timeline.v1.TimelineService/GetHomeTimeline"
        })
        .expect("timeline span");
    assert_eq!(
        timeline_span.parent_span_id.to_bytes().as_slice(),
        edge_span.span_id.as_slice(),
        "{config:?}: svc-timeline's server span is a child of the edge's span"
    );
    // Inside a server span, the steps it took: svc-timeline's hydration is a span of its own
    // under the call, and svc-user's query under its BatchGetProfiles call.
    let child_named = |name: &str, parent: &opentelemetry_sdk::trace::SpanData| {
        spans.iter().any(|s| {
            s.span_context.trace_id() == trace_id
                && s.name == name
                && s.parent_span_id == parent.span_context.span_id()
        })
    };
    assert!(
        child_named("cards", timeline_span),
        "{config:?}: no hydration span under svc-timeline's call"
    );
    let profiles_call = spans
        .iter()
        .find(|s| {
            s.span_context.trace_id() == trace_id
                && s.name == "xir.user.v1.UserService/BatchGetProfiles"
        })
        .expect("svc-user's BatchGetProfiles span");
    assert!(
        child_named("profiles_by_ids", profiles_call),
        "{config:?}: no query span under svc-user's BatchGetProfiles"
    );
}

/// Each service wrote a log line with the trace id, inside its own server span; so did Envoy.
async fn every_service_logged_the_trace(edge: &Edge, logs: &CapturedLogs, trace_hex: &str) {
    let lines = logs.lines();
    let logged_by = |rpc_service: &str| {
        lines
            .iter()
            .any(|line| line["trace_id"] == trace_hex && line["span"]["rpc.service"] == rpc_service)
    };
    for service in TRACED_SERVICES {
        assert!(
            logged_by(service),
            "no log line of {service} with trace id {trace_hex}"
        );
    }
    // Envoy writes its access log in batches (about once a second).
    testing::eventually(
        Duration::from_secs(10),
        "the edge's access-log line with the trace id",
        || async {
            edge.log()
                .lines()
                .any(|line| line.contains("/v1/timeline/home") && line.contains(trace_hex))
                .then_some(())
        },
    )
    .await;
}
