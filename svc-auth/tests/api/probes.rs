use tonic::Code;
use xir_common::testing;
use xir_proto::auth::v1::{LoginRequest, SERVICE_NAME};

use crate::helpers::spawn_stack;

#[tokio::test]
async fn serves_health_reflection_and_rpc_metrics() {
    let stack = spawn_stack().await;
    testing::assert_probes(stack.auth_addr, SERVICE_NAME).await;

    let migrated: Vec<String> = sqlx::query_scalar(
        "SELECT description FROM _sqlx_migrations WHERE success ORDER BY version",
    )
    .fetch_all(
        &sqlx::PgPool::connect(stack.auth_database.url())
            .await
            .expect("connect"),
    )
    .await
    .expect("migrations table");
    assert_eq!(
        migrated,
        [
            "accounts",
            "tokens outbox throttle",
            "login attempt ids",
            "worker leases",
            "outbox ordering key"
        ],
        "migrations ran before readiness"
    );

    let error = stack
        .auth()
        .await
        .login(LoginRequest {
            login: String::new(),
            password: "x".into(),
        })
        .await
        .expect_err("an empty login is invalid");
    assert_eq!(error.code(), Code::InvalidArgument);
    testing::assert_rpc_metrics(
        stack.auth_metrics_addr,
        SERVICE_NAME,
        "Login",
        Code::InvalidArgument,
    )
    .await;
}
