use std::net::SocketAddr;

use svc_user::{config::Settings, startup::Application};
use xir_common::{
    auth::AuthSettings,
    settings::{PostgresSettings, Secret},
    testing,
};
use xir_proto::user::v1::user_service_client::UserServiceClient;

pub struct TestApp {
    pub grpc_addr: SocketAddr,
    pub metrics_addr: SocketAddr,
    pub database_url: String,
}

impl TestApp {
    pub async fn client(&self) -> UserServiceClient<tonic::transport::Channel> {
        UserServiceClient::new(testing::channel(self.grpc_addr).await)
    }

    pub async fn pool(&self) -> sqlx::PgPool {
        sqlx::PgPool::connect(&self.database_url)
            .await
            .expect("cannot connect to the test database")
    }

    pub async fn wait_until_ready(&self) {
        testing::wait_for_health(
            self.grpc_addr,
            "readiness",
            tonic_health::ServingStatus::Serving,
            std::time::Duration::from_secs(20),
        )
        .await;
    }
}

pub fn settings(database_url: &str) -> Settings {
    Settings {
        server: testing::server_settings(),
        readiness: testing::readiness_settings(),
        telemetry: testing::telemetry_settings(),
        database: PostgresSettings {
            url: Secret::new(database_url),
            max_connections: 5,
            min_connections: 0,
            acquire_timeout_ms: 1_000,
        },
        // Tokens are checked against a svc-auth that is not running here: only the public RPCs
        // and the token-less rejections are exercised by these tests.
        auth: AuthSettings {
            url: "http://127.0.0.1:9".into(),
            ..AuthSettings::default()
        },
    }
}

/// A fresh database and the application serving on it, ready.
pub async fn spawn_app() -> TestApp {
    let database_url = testing::postgres_database("svc_user").await;
    let app = spawn_app_on(&database_url, &database_url).await;
    app.wait_until_ready().await;
    app
}

/// The application connecting through `connect_url` (maybe a proxy) to the database at
/// `database_url`; not waited for.
pub async fn spawn_app_on(connect_url: &str, database_url: &str) -> TestApp {
    let application = Application::build(settings(connect_url))
        .await
        .expect("cannot build the application");
    let app = TestApp {
        grpc_addr: application.grpc_addr(),
        metrics_addr: application.metrics_addr(),
        database_url: database_url.to_owned(),
    };
    tokio::spawn(application.run_until_stopped(std::future::pending()));
    app
}

/// Inserts a profile directly, as svc-auth's outbox would have.
pub async fn seed_profile(pool: &sqlx::PgPool, user_id: i64, username: &str) {
    sqlx::query("INSERT INTO profiles (user_id, username, display_name, created_at) VALUES ($1, $2, $2, now())")
        .bind(user_id)
        .bind(username)
        .execute(pool)
        .await
        .expect("cannot seed a profile");
}
