use tonic::Code;
use tonic_health::ServingStatus;
use xir_common::testing;
use xir_proto::user::v1::{GetProfileRequest, get_profile_request::User};

use crate::helpers::spawn_app;

#[tokio::test]
async fn serves_health_reflection_and_rpc_metrics() {
    let app = spawn_app().await;

    assert_eq!(
        testing::health(app.grpc_addr, "").await,
        ServingStatus::Serving
    );
    assert_eq!(
        testing::health(app.grpc_addr, "readiness").await,
        ServingStatus::Serving
    );
    assert_eq!(
        testing::health(app.grpc_addr, "xir.user.v1.UserService").await,
        ServingStatus::Serving
    );

    let services = testing::reflection_services(app.grpc_addr).await;
    assert!(
        services.contains(&"xir.user.v1.UserService".to_owned()),
        "{services:?}"
    );
    assert!(
        services.contains(&"grpc.health.v1.Health".to_owned()),
        "{services:?}"
    );
    assert!(
        !services.iter().any(|s| s.starts_with("xir.tweet")),
        "reflection lists only this process's service: {services:?}"
    );

    let error = app
        .client()
        .await
        .get_profile(GetProfileRequest {
            user: Some(User::UserId(987_654_321)),
        })
        .await
        .expect_err("no such profile");
    assert_eq!(error.code(), Code::NotFound);

    let metrics = testing::scrape_metrics(app.metrics_addr).await;
    let get_profile = r#"grpc_method="GetProfile""#;
    let service = r#"grpc_service="xir.user.v1.UserService""#;
    let has = |name: &str, extra: &str| {
        metrics.lines().any(|line| {
            line.starts_with(name)
                && line.contains(get_profile)
                && line.contains(service)
                && line.contains(extra)
        })
    };
    assert!(has("grpc_server_requests_total{", ""), "{metrics}");
    assert!(
        has("grpc_server_errors_total{", r#"grpc_code="NotFound""#),
        "{metrics}"
    );
    assert!(
        has("grpc_server_handling_seconds_bucket{", "le="),
        "{metrics}"
    );
}
