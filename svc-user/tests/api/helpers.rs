use std::{net::SocketAddr, time::Duration};

use svc_user::{config::Settings, startup::Application};
use tokio::sync::oneshot;
use tonic_health::ServingStatus;
use xir_common::{auth::AuthSettings, domain::UserId, testing};
use xir_proto::user::v1::user_service_client::UserServiceClient;

/// Where nothing listens: services whose peers a test does not need.
pub const NOWHERE: &str = "http://127.0.0.1:9";

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
    let database_url = testing::postgres_database("svc_user").await;
    let app = spawn_app_on(&database_url, &database_url, NOWHERE, NOWHERE).await;
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

/// svc-user with a real svc-auth (whose key the test holds, to mint tokens for seeded users)
/// and a real svc-timeline receiving follow events, which the test can stop and start.
pub struct Stack {
    pub user: TestApp,
    pub timeline_addr: SocketAddr,
    pub timeline_database: mongodb::Database,
    auth_url: String,
    keys: svc_auth::keys::SigningKeys,
    timeline_database_name: String,
    timeline_stop: Option<oneshot::Sender<()>>,
}

pub async fn spawn_stack() -> Stack {
    let pem = svc_auth::keys::generate_pem().expect("signing key");
    let auth_settings = svc_auth::config::Settings::with_overrides(&format!(
        r#"{base}
[database]
url = "{database}"
max_connections = 3

[tokens]
signing_key_pem = '''{pem}'''

[user_service]
url = "{NOWHERE}"
"#,
        base = testing::base_settings_toml(0),
        database = testing::postgres_database("svc_auth").await,
    ))
    .expect("valid svc-auth settings");
    let keys = svc_auth::keys::SigningKeys::from_settings(&auth_settings.tokens).expect("keys");
    let auth = svc_auth::startup::Application::build(auth_settings)
        .await
        .expect("build svc-auth");
    let auth_url = format!("http://{}", auth.grpc_addr());
    tokio::spawn(auth.run_until_stopped(std::future::pending()));

    let timeline_addr = SocketAddr::from(([127, 0, 0, 1], testing::free_port()));
    let timeline_database_name = testing::unique_name("svc_timeline");
    let timeline_database = mongodb::Client::with_uri_str(testing::mongodb_url())
        .await
        .expect("mongo")
        .database(&timeline_database_name);

    let database_url = testing::postgres_database("svc_user").await;
    let user = spawn_app_on(
        &database_url,
        &database_url,
        &auth_url,
        &format!("http://{timeline_addr}"),
    )
    .await;
    let mut stack = Stack {
        user,
        timeline_addr,
        timeline_database,
        auth_url,
        keys,
        timeline_database_name,
        timeline_stop: None,
    };
    stack.start_timeline().await;
    stack.user.wait_until_ready().await;
    stack
}

impl Stack {
    /// An access token for `user_id`, signed with svc-auth's key.
    pub fn token(&self, user_id: i64) -> String {
        let user = UserId::parse(user_id).expect("positive id");
        self.keys
            .mint(user, &AuthSettings::default(), 600)
            .expect("mint")
            .0
    }

    pub async fn start_timeline(&mut self) {
        let settings = svc_timeline::config::Settings::with_overrides(&format!(
            r#"{base}
[database]
url = "{url}"
name = "{name}"
server_selection_timeout_ms = 1000

[auth]
url = "{auth}"
"#,
            base = testing::base_settings_toml(self.timeline_addr.port()),
            url = testing::mongodb_url(),
            name = self.timeline_database_name,
            auth = self.auth_url,
        ))
        .expect("valid svc-timeline settings");
        let application = svc_timeline::startup::Application::build(settings)
            .await
            .expect("build svc-timeline");
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(application.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        self.timeline_stop = Some(stop);
        testing::wait_for_health(
            self.timeline_addr,
            "readiness",
            ServingStatus::Serving,
            Duration::from_secs(20),
        )
        .await;
    }

    pub async fn stop_timeline(&mut self) {
        if let Some(stop) = self.timeline_stop.take() {
            let _ = stop.send(());
        }
        let addr = self.timeline_addr;
        testing::eventually(
            Duration::from_secs(10),
            "svc-timeline stopping",
            || async move {
                tokio::net::TcpStream::connect(addr)
                    .await
                    .is_err()
                    .then_some(())
            },
        )
        .await;
    }
}

/// `message` with `token` as its bearer token.
pub fn bearer<T>(token: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii token"),
    );
    request
}
