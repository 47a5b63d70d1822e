use std::{net::SocketAddr, time::Duration};
use xir_common::bootstrap::ServiceSettings as _;

use svc_user::{config::Settings, startup::Application};
use tonic_health::ServingStatus;
use xir_common::bootstrap::Service as _;
use xir_common::{identity::Peer, peer::PeerChannel, testing};
use xir_proto::user::v1::user_service_client::UserServiceClient;

/// Where nothing listens: services whose peers a test does not need.
pub const NOWHERE: &str = "http://127.0.0.1:9";

pub struct TestApp {
    pub grpc_addr: SocketAddr,
    pub metrics_addr: SocketAddr,
    pub database_url: String,
    /// The database `spawn_app` made for this app alone, dropped with it.
    database: Option<testing::TestDatabase>,
}

impl TestApp {
    pub async fn client(&self) -> UserServiceClient<tonic::transport::Channel> {
        UserServiceClient::new(testing::channel(self.grpc_addr).await)
    }

    /// The client of another service (with its service token): for internal RPCs.
    pub async fn client_as(&self, caller: Peer) -> UserServiceClient<PeerChannel> {
        UserServiceClient::new(testing::channel_as(self.grpc_addr, caller, Peer::User).await)
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
            ServingStatus::Serving,
            Duration::from_secs(20),
        )
        .await;
    }
}

pub fn settings(database_url: &str, auth_url: &str, timeline_url: &str) -> Settings {
    Settings::with_overrides(&format!(
        r#"{base}{outbox}
[database]
url = "{database_url}"
max_connections = 5
acquire_timeout_ms = 1000

[auth]
url = "{auth_url}"
min_refresh_interval_ms = 100

[timeline_service]
url = "{timeline_url}"
"#,
        base = testing::base_settings_toml(0),
        outbox = testing::outbox_settings_toml(),
    ))
    .expect("valid test settings")
}

/// A fresh database and the application serving on it, ready; no svc-auth or svc-timeline.
pub async fn spawn_app() -> TestApp {
    let database = testing::postgres_database("svc_user").await;
    let mut app = spawn_app_on(database.url(), database.url(), NOWHERE, NOWHERE).await;
    app.database = Some(database);
    app.wait_until_ready().await;
    app
}

/// The application connecting through `connect_url` (maybe a proxy) to the database at
/// `database_url`; not waited for.
pub async fn spawn_app_on(
    connect_url: &str,
    database_url: &str,
    auth_url: &str,
    timeline_url: &str,
) -> TestApp {
    let application = Application::build(settings(connect_url, auth_url, timeline_url))
        .await
        .expect("cannot build the application");
    let app = TestApp {
        grpc_addr: application.grpc_addr(),
        metrics_addr: application.metrics_addr(),
        database_url: database_url.to_owned(),
        database: None,
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

/// Inserts `count` profiles with ids `first..first+count` named `<prefix><id>`, in one statement.
pub async fn seed_profiles(pool: &sqlx::PgPool, first: i64, count: i64, prefix: &str) -> Vec<i64> {
    sqlx::query(
        "INSERT INTO profiles (user_id, username, display_name, created_at)
         SELECT id, $3 || id, 'User ' || id, now() FROM generate_series($1::bigint, $1 + $2 - 1) AS id",
    )
    .bind(first)
    .bind(count)
    .bind(prefix)
    .execute(pool)
    .await
    .expect("cannot seed profiles");
    (first..first + count).collect()
}
