use tonic::Code;
use xir_common::testing;
use xir_proto::user::v1::{GetProfileRequest, SERVICE_NAME, get_profile_request::User};

use crate::helpers::spawn_app;

#[tokio::test]
async fn serves_health_reflection_and_rpc_metrics() {
    let app = spawn_app().await;
    testing::assert_probes(app.grpc_addr, SERVICE_NAME).await;

    let error = app
        .client()
        .await
        .get_profile(GetProfileRequest {
            user: Some(User::UserId(987_654_321)),
        })
        .await
        .expect_err("no such profile");
    assert_eq!(error.code(), Code::NotFound);
    testing::assert_rpc_metrics(app.metrics_addr, SERVICE_NAME, "GetProfile", Code::NotFound).await;
}
