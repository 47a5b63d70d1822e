use tonic::Code;
use xir_common::testing;
use xir_proto::auth::v1::{GetJwksRequest, SERVICE_NAME};

use crate::helpers::spawn_app;

#[tokio::test]
async fn serves_health_reflection_and_rpc_metrics() {
    let app = spawn_app().await;
    testing::assert_probes(app.grpc_addr, SERVICE_NAME).await;

    let migrated: Vec<String> =
        sqlx::query_scalar("SELECT description FROM _sqlx_migrations WHERE success")
            .fetch_all(&app.pool().await)
            .await
            .expect("migrations table");
    assert_eq!(migrated, ["accounts"], "migrations ran before readiness");

    let error = app
        .client()
        .await
        .get_jwks(GetJwksRequest {})
        .await
        .expect_err("not implemented until issue 3");
    assert_eq!(error.code(), Code::Unimplemented);
    testing::assert_rpc_metrics(
        app.metrics_addr,
        SERVICE_NAME,
        "GetJwks",
        Code::Unimplemented,
    )
    .await;
}
