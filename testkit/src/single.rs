//! One MongoDB service on a database of its own, without the rest of the platform: svc-auth
//! does not run, so only public RPCs and token-less rejections can be exercised.

use std::net::SocketAddr;

use xir_common::{
    bootstrap::{Service, ServiceSettings},
    testing,
};

pub struct MongoApp {
    pub grpc_addr: SocketAddr,
    pub metrics_addr: SocketAddr,
    /// The service's database, reached directly (not through any proxy the service uses).
    pub database: mongodb::Database,
}

impl MongoApp {
    pub async fn channel(&self) -> tonic::transport::Channel {
        testing::channel(self.grpc_addr).await
    }
}

/// The settings of a lone service on MongoDB at `url`, database `database`, and `extra`
/// (TOML of sections only that service has).
pub fn settings<S: ServiceSettings>(url: &str, database: &str, extra: &str) -> S {
    S::with_overrides(&format!(
        r#"{base}
{extra}
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

/// The service `S` in a fresh database (named after `prefix`), with `extra` settings,
/// serving and ready.
pub async fn spawn_ready<S: Service + Send + 'static>(prefix: &str, extra: &str) -> MongoApp {
    let app = spawn_on::<S>(&testing::mongodb_url(), prefix, extra).await;
    testing::wait_for_health(
        app.grpc_addr,
        "readiness",
        tonic_health::ServingStatus::Serving,
        std::time::Duration::from_secs(20),
    )
    .await;
    app
}

/// The service `S` connecting through `url` (maybe a proxy), in a fresh database, with
/// `extra` settings; not waited for.
pub async fn spawn_on<S: Service + Send + 'static>(
    url: &str,
    prefix: &str,
    extra: &str,
) -> MongoApp {
    let name = testing::unique_name(prefix);
    let application = S::build(settings(url, &name, extra))
        .await
        .expect("cannot build the application");
    let direct = mongodb::Client::with_uri_str(testing::mongodb_url())
        .await
        .expect("cannot reach the test MongoDB");
    let app = MongoApp {
        grpc_addr: application.grpc_addr(),
        metrics_addr: application.metrics_addr(),
        database: direct.database(&name),
    };
    tokio::spawn(application.run_until_stopped(std::future::pending()));
    app
}
