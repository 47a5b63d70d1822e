//! Probes of a running service: channels, health, reflection, grpcurl, `/metrics`, and the
//! assertions every service's tests make with them.

use std::{net::SocketAddr, time::Duration};

use tokio_stream::StreamExt;
use tonic_health::{
    ServingStatus,
    pb::{HealthCheckRequest, health_client::HealthClient},
};
use tonic_reflection::pb::v1::{
    ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
    server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
};

use super::{GRPCURL_ENV, required_env};

pub async fn channel(addr: SocketAddr) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("a socket address makes a valid URI")
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("cannot connect to the service under test")
}

/// The health status of `service` ("" for liveness, "readiness").
pub async fn health(addr: SocketAddr, service: &str) -> ServingStatus {
    let response = HealthClient::new(channel(addr).await)
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .expect("health check failed");
    match response.into_inner().status {
        1 => ServingStatus::Serving,
        2 => ServingStatus::NotServing,
        _ => ServingStatus::Unknown,
    }
}

/// Waits up to `within` for `service` to report `wanted`; panics with the last status if not.
pub async fn wait_for_health(
    addr: SocketAddr,
    service: &str,
    wanted: ServingStatus,
    within: Duration,
) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let status = health(addr, service).await;
        if status == wanted {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("health of {service:?} stayed {status:?}, wanted {wanted:?} within {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The services that reflection (v1) lists.
pub async fn reflection_services(addr: SocketAddr) -> Vec<String> {
    let mut client = ServerReflectionClient::new(channel(addr).await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection call failed")
        .into_inner();
    let response = responses
        .next()
        .await
        .expect("reflection sent no response")
        .expect("reflection failed");
    match response.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("unexpected reflection response {other:?}"),
    }
}

/// Runs grpcurl (from `XIR_TEST_GRPCURL`) and returns its standard output; panics on failure.
pub async fn grpcurl(args: &[&str]) -> String {
    let output = tokio::process::Command::new(required_env(GRPCURL_ENV))
        .args(args)
        .output()
        .await
        .expect("cannot run grpcurl");
    assert!(
        output.status.success(),
        "grpcurl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("grpcurl prints UTF-8")
}

/// The text of `GET /metrics`.
pub async fn scrape_metrics(addr: SocketAddr) -> String {
    reqwest::get(format!("http://{addr}/metrics"))
        .await
        .expect("metrics endpoint unreachable")
        .error_for_status()
        .expect("metrics endpoint failed")
        .text()
        .await
        .expect("metrics body unreadable")
}

/// What every service must serve once ready: liveness, `readiness` and its own service name
/// SERVING; reflection listing its service and health, and no other X-in-Rust service.
pub async fn assert_probes(addr: SocketAddr, service_name: &str) {
    assert_eq!(health(addr, "").await, ServingStatus::Serving);
    assert_eq!(health(addr, "readiness").await, ServingStatus::Serving);
    assert_eq!(health(addr, service_name).await, ServingStatus::Serving);

    let services = reflection_services(addr).await;
    assert!(services.iter().any(|s| s == service_name), "{services:?}");
    assert!(
        services.iter().any(|s| s == "grpc.health.v1.Health"),
        "{services:?}"
    );
    // The same through grpcurl from tools/, as the README shows it, with no proto files.
    let target = addr.to_string();
    let listed = grpcurl(&["-plaintext", &target, "list"]).await;
    assert!(
        listed.lines().any(|l| l == service_name),
        "grpcurl list:\n{listed}"
    );
    assert!(
        listed.lines().any(|l| l == "grpc.health.v1.Health"),
        "grpcurl list:\n{listed}"
    );
    let described = grpcurl(&["-plaintext", &target, "describe", service_name]).await;
    assert!(
        described.contains(&format!("{service_name} is a service")),
        "grpcurl describe:\n{described}"
    );
    assert!(described.contains("rpc "), "grpcurl describe:\n{described}");

    let others: Vec<_> = services
        .iter()
        .filter(|s| s.starts_with("xir.") && *s != service_name)
        .collect();
    assert!(
        others.is_empty(),
        "reflection lists other services: {others:?}"
    );
}

/// `/metrics` shows the call count, the error count under `code` (unless `OK`) and the
/// latency histogram of `service_name`/`method`.
pub async fn assert_rpc_metrics(
    metrics_addr: SocketAddr,
    service_name: &str,
    method: &str,
    code: tonic::Code,
) {
    let metrics = scrape_metrics(metrics_addr).await;
    let service = format!(r#"grpc_service="{service_name}""#);
    let method = format!(r#"grpc_method="{method}""#);
    let has = |name: &str, extra: &str| {
        metrics.lines().any(|line| {
            line.starts_with(name)
                && line.contains(&service)
                && line.contains(&method)
                && line.contains(extra)
        })
    };
    assert!(
        has("grpc_server_requests_total{", ""),
        "no call count in:\n{metrics}"
    );
    assert!(
        has("grpc_server_handling_seconds_bucket{", "le="),
        "no latency histogram in:\n{metrics}"
    );
    if code != tonic::Code::Ok {
        let code = format!(r#"grpc_code="{code:?}""#);
        assert!(
            has("grpc_server_errors_total{", &code),
            "no error count for {code} in:\n{metrics}"
        );
    }
}
