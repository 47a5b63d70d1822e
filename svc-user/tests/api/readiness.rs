use std::time::Duration;

use tonic_health::ServingStatus;
use xir_common::testing::{self, SwitchableProxy};

use crate::helpers::{NOWHERE, spawn_app_on};

/// Readiness reports NOT_SERVING while PostgreSQL is unreachable, SERVING once it answers
/// (migrations applied), and NOT_SERVING again when it goes away — with no restart.
#[tokio::test]
async fn readiness_follows_the_database_without_a_restart() {
    let database = testing::postgres_database("svc_user").await;
    let database_url = database.url();
    let proxy = SwitchableProxy::start(testing::url_socket_addr(database_url), false).await;
    let app = spawn_app_on(
        &testing::url_with_addr(database_url, proxy.addr()),
        database_url,
        NOWHERE,
        NOWHERE,
    )
    .await;

    // Alive, but not ready: the database cannot be reached.
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
        Duration::from_secs(15),
    )
    .await;
    let migrated: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&app.pool().await)
        .await
        .expect("migrations table exists");
    assert!(migrated >= 1);

    proxy.set_up(false);
    testing::wait_for_health(
        app.grpc_addr,
        "readiness",
        ServingStatus::NotServing,
        Duration::from_secs(15),
    )
    .await;
    assert_eq!(
        testing::health(app.grpc_addr, "").await,
        ServingStatus::Serving,
        "still alive"
    );
}
