//! A `traceparent` sent with a call becomes the parent of the service's server span, and a call
//! the service makes while handling it carries the trace on to the next service.
//!
//! Two real servers built by the shared bootstrap: "front" handles GetHomeTimeline by calling
//! "back"'s ListNotifications through a traced channel. Spans are read back from an in-memory
//! exporter installed as the process's telemetry.

use std::time::Duration;

use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use tonic::{Request, Response, Status, service::Routes, transport::Channel};
use xir_common::{propagation, server::GrpcServer, telemetry, testing};
use xir_proto::timeline::v1::{
    self as pb, SERVICE_NAME,
    timeline_service_client::TimelineServiceClient,
    timeline_service_server::{TimelineService, TimelineServiceServer},
};

const TRACE_ID: &str = "0af7651916cd43dd8448eb211c80319c";
const CALLER_SPAN_ID: &str = "b7ad6b7169203331";

/// Handles GetHomeTimeline by calling `downstream` (when set) with the current trace context.
struct Front {
    downstream: Option<Channel>,
}

#[tonic::async_trait]
impl TimelineService for Front {
    async fn get_home_timeline(
        &self,
        _: Request<pb::GetHomeTimelineRequest>,
    ) -> Result<Response<pb::GetHomeTimelineResponse>, Status> {
        if let Some(channel) = &self.downstream {
            // An API method of the back server (health checks are not traced): it answers
            // UNIMPLEMENTED, and its server span is what the test looks for.
            let _ = TimelineServiceClient::new(propagation::traced(channel.clone()))
                .list_notifications(pb::ListNotificationsRequest::default())
                .await;
        }
        Ok(Response::new(pb::GetHomeTimelineResponse::default()))
    }

    async fn list_notifications(
        &self,
        _: Request<pb::ListNotificationsRequest>,
    ) -> Result<Response<pb::ListNotificationsResponse>, Status> {
        Err(Status::unimplemented("test service"))
    }

    async fn get_notification_marker(
        &self,
        _: Request<pb::GetNotificationMarkerRequest>,
    ) -> Result<Response<pb::NotificationMarker>, Status> {
        Err(Status::unimplemented("test service"))
    }

    async fn set_notification_marker(
        &self,
        _: Request<pb::SetNotificationMarkerRequest>,
    ) -> Result<Response<pb::NotificationMarker>, Status> {
        Err(Status::unimplemented("test service"))
    }

    async fn apply_tweet_event(
        &self,
        _: Request<pb::TweetEvent>,
    ) -> Result<Response<pb::ApplyEventResponse>, Status> {
        Err(Status::unimplemented("test service"))
    }

    async fn apply_follow_event(
        &self,
        _: Request<pb::FollowEvent>,
    ) -> Result<Response<pb::ApplyEventResponse>, Status> {
        Err(Status::unimplemented("test service"))
    }

    async fn apply_tweet_events(
        &self,
        _: Request<pb::ApplyTweetEventsRequest>,
    ) -> Result<Response<pb::ApplyEventsResponse>, Status> {
        Err(Status::unimplemented("test service"))
    }

    async fn apply_follow_events(
        &self,
        _: Request<pb::ApplyFollowEventsRequest>,
    ) -> Result<Response<pb::ApplyEventsResponse>, Status> {
        Err(Status::unimplemented("test service"))
    }
}

async fn start(downstream: Option<Channel>) -> std::net::SocketAddr {
    let server = GrpcServer::bind(SERVICE_NAME, &testing::server_settings())
        .await
        .expect("bind");
    let addr = server.grpc_addr();
    let routes = Routes::new(TimelineServiceServer::new(Front { downstream }));
    tokio::spawn(server.serve(routes, std::future::pending()));
    addr
}

async fn wait_for_span(exporter: &InMemorySpanExporter, name: &str) -> SpanData {
    let trace_id = TraceId::from_hex(TRACE_ID).expect("hex");
    for _ in 0..100 {
        let spans = exporter.get_finished_spans().expect("exporter");
        if let Some(span) = spans
            .into_iter()
            .find(|s| s.name == name && s.span_context.trace_id() == trace_id)
        {
            return span;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "no span {name} in trace {TRACE_ID}: {:#?}",
        exporter.get_finished_spans()
    );
}

#[tokio::test]
async fn incoming_trace_context_parents_the_server_span_and_travels_on() {
    let exporter = InMemorySpanExporter::default();
    let _telemetry = telemetry::init_with_exporter(
        "trace-test",
        &testing::telemetry_settings(),
        exporter.clone(),
    )
    .expect("telemetry");

    let back = start(None).await;
    let front = start(Some(testing::channel(back).await)).await;

    let mut request = Request::new(pb::GetHomeTimelineRequest::default());
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{TRACE_ID}-{CALLER_SPAN_ID}-01")
            .parse()
            .expect("ascii"),
    );
    TimelineServiceClient::new(testing::channel(front).await)
        .get_home_timeline(request)
        .await
        .expect("front answers");

    let front_span =
        wait_for_span(&exporter, "xir.timeline.v1.TimelineService/GetHomeTimeline").await;
    assert_eq!(
        front_span.parent_span_id,
        SpanId::from_hex(CALLER_SPAN_ID).expect("hex"),
        "the caller's span is the parent of the server span"
    );

    let back_span = wait_for_span(
        &exporter,
        "xir.timeline.v1.TimelineService/ListNotifications",
    )
    .await;
    assert_eq!(
        back_span.parent_span_id,
        front_span.span_context.span_id(),
        "the outgoing call carried the front server span as parent"
    );
    assert_eq!(back_span.span_kind, opentelemetry::trace::SpanKind::Server);
}
