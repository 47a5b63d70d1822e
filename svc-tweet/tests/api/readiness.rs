use std::time::Duration;

use tonic_health::ServingStatus;
use xir_common::testing::{self, SwitchableProxy};

use crate::helpers::spawn_app_on;

/// Readiness reports NOT_SERVING while MongoDB is unreachable, SERVING once it answers (indexes
/// created), and NOT_SERVING again when it goes away — with no restart.
#[tokio::test]
async fn readiness_follows_mongodb_without_a_restart() {
    let real = testing::mongodb_url();
    let proxy = SwitchableProxy::start(testing::url_socket_addr(&real), false).await;
    // Quick heartbeats so the driver notices the server coming back within the test.
    let through_proxy = format!(
        "{}?directConnection=true&heartbeatFrequencyMS=500",
        testing::url_with_addr(&real, proxy.addr()).trim_end_matches('?')
    );
    let app = spawn_app_on(&through_proxy).await;

    testing::wait_for_health(
        app.grpc_addr,
        "",
        ServingStatus::Serving,
        Duration::from_secs(5),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        testing::health(app.grpc_addr, "readiness").await,
        ServingStatus::NotServing
    );

    proxy.set_up(true);
    testing::wait_for_health(
        app.grpc_addr,
        "readiness",
        ServingStatus::Serving,
        Duration::from_secs(20),
    )
    .await;

    proxy.set_up(false);
    testing::wait_for_health(
        app.grpc_addr,
        "readiness",
        ServingStatus::NotServing,
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(
        testing::health(app.grpc_addr, "").await,
        ServingStatus::Serving,
        "still alive"
    );
}
