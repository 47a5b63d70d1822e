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

/// Calls `path`, a method nobody defined, with an empty message.
async fn call_invented(addr: std::net::SocketAddr, path: String) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(testing::channel(addr).await);
    grpc.ready().await.expect("ready");
    grpc.unary(
        tonic::Request::new(()),
        tonic::codegen::http::uri::PathAndQuery::try_from(path).expect("a path"),
        tonic_prost::ProstCodec::<(), ()>::default(),
    )
    .await
    .expect_err("no such method")
}

/// Metric labels came from the raw request path, so a direct caller could grow the registry
/// without bound with invented method names; health checks counted as API traffic.
#[tokio::test]
async fn invented_methods_and_health_checks_do_not_grow_the_rpc_metrics() {
    let app = spawn_app().await;
    for _ in 0..20 {
        testing::health(app.grpc_addr, "readiness").await;
    }
    for n in 0..20 {
        let status = call_invented(
            app.grpc_addr,
            format!("/xir.user.v1.UserService/Invented{n}"),
        )
        .await;
        // Refused (no token for a method no policy opens), never served.
        assert!(
            matches!(status.code(), Code::Unauthenticated | Code::Unimplemented),
            "{status:?}"
        );
        call_invented(app.grpc_addr, format!("/made.up.Service{n}/Anything")).await;
    }
    let metrics = testing::scrape_metrics(app.metrics_addr).await;
    assert!(!metrics.contains("Invented"), "{metrics}");
    assert!(!metrics.contains("made.up"), "{metrics}");
    assert!(!metrics.contains("grpc.health"), "{metrics}");
    assert!(
        metrics
            .lines()
            .any(|line| line.starts_with("grpc_server_requests_total{")
                && line.contains(r#"grpc_method="unknown""#)
                && line.ends_with(" 40")),
        "the 40 invented calls, counted under one label:\n{metrics}"
    );
}

/// Requests are bounded deliberately (64 KiB here, not tonic's 4 MiB): a larger one is refused
/// before it is decoded.
#[tokio::test]
async fn a_request_over_the_size_bound_is_refused_undecoded() {
    let app = spawn_app().await;
    let error = app
        .client()
        .await
        .get_profile(GetProfileRequest {
            user: Some(User::Username("x".repeat(100 * 1024))),
        })
        .await
        .expect_err("too large");
    assert_eq!(error.code(), Code::OutOfRange, "{error:?}");
    assert!(error.message().contains("too large"), "{}", error.message());
}
