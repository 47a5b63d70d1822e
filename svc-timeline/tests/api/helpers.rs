use std::net::SocketAddr;
use xir_common::bootstrap::ServiceSettings as _;

use svc_timeline::{config::Settings, startup::Application};
use xir_common::bootstrap::Service as _;
use xir_common::testing;
use xir_proto::timeline::v1::timeline_service_client::TimelineServiceClient;

pub struct TestApp {
    pub grpc_addr: SocketAddr,
    pub metrics_addr: SocketAddr,
    pub database: mongodb::Database,
}

impl TestApp {
    pub async fn client(&self) -> TimelineServiceClient<tonic::transport::Channel> {
        TimelineServiceClient::new(testing::channel(self.grpc_addr).await)
    }
}

pub fn settings(url: &str, database: &str) -> Settings {
    // svc-auth does not run here: only public RPCs and token-less rejections are exercised.
    Settings::with_overrides(&format!(
        r#"{base}
[database]
url = "{url}"
name = "{database}"
max_pool_size = 5
server_selection_timeout_ms = 1000

[auth]
url = "http://127.0.0.1:9"
"#,
        base = testing::base_settings_toml(0),
    ))
    .expect("valid test settings")
}

/// A database of its own and the application serving on it, ready.
pub async fn spawn_app() -> TestApp {
    let app = spawn_app_on(&testing::mongodb_url()).await;
    testing::wait_for_health(
        app.grpc_addr,
        "readiness",
        tonic_health::ServingStatus::Serving,
        std::time::Duration::from_secs(20),
    )
    .await;
    app
}

/// The application connecting through `url` (maybe a proxy), in a fresh database; not waited for.
pub async fn spawn_app_on(url: &str) -> TestApp {
    let name = testing::unique_name("svc_timeline");
    let application = Application::build(settings(url, &name))
        .await
        .expect("cannot build the application");
    let direct = mongodb::Client::with_uri_str(testing::mongodb_url())
        .await
        .expect("cannot reach the test MongoDB");
    let app = TestApp {
        grpc_addr: application.grpc_addr(),
        metrics_addr: application.metrics_addr(),
        database: direct.database(&name),
    };
    tokio::spawn(application.run_until_stopped(std::future::pending()));
    app
}
