use tonic::Code;
use xir_common::testing;
use xir_proto::timeline::v1::{
    GetHomeTimelineRequest, SERVICE_NAME, timeline_service_client::TimelineServiceClient,
};

use crate::helpers::spawn_app;

#[tokio::test]
async fn serves_health_reflection_and_rpc_metrics() {
    let app = spawn_app().await;
    testing::assert_probes(app.grpc_addr, SERVICE_NAME).await;

    let indexes = app
        .database
        .collection::<mongodb::bson::Document>(svc_timeline::store::NOTIFICATIONS)
        .list_index_names()
        .await
        .expect("list indexes");
    for wanted in [
        "recipient_newest",
        "event_recipient_unique",
        "recipient_actor_kind_target_unique",
    ] {
        assert!(
            indexes.iter().any(|i| i == wanted),
            "{wanted} missing from {indexes:?}"
        );
    }

    let error = TimelineServiceClient::new(app.channel().await)
        .get_home_timeline(GetHomeTimelineRequest::default())
        .await
        .expect_err("the home timeline needs an access token");
    assert_eq!(error.code(), Code::Unauthenticated);
    testing::assert_rpc_metrics(
        app.metrics_addr,
        SERVICE_NAME,
        "GetHomeTimeline",
        Code::Unauthenticated,
    )
    .await;
}
