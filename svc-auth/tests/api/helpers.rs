//! The stack these tests run: svc-auth and svc-user (whose protected RPCs check svc-auth's
//! tokens and whose profiles svc-auth's outbox creates), each on a database of its own.

use std::{net::SocketAddr, time::Duration};
use xir_common::bootstrap::ServiceSettings as _;

use svc_auth::{config, keys};
use tokio::sync::oneshot;
use xir_common::bootstrap::Service as _;
use xir_common::{
    auth::AuthSettings,
    outbox::OutboxSettings,
    settings::{PostgresSettings, Secret},
    testing,
};
use xir_proto::{
    auth::v1::{SignUpRequest, SignUpResponse, auth_service_client::AuthServiceClient},
    user::v1::{
        GetProfileRequest, Profile, get_profile_request::User,
        user_service_client::UserServiceClient,
    },
};

pub const PASSWORD: &str = "correct horse battery";

fn database(url: &str) -> PostgresSettings {
    PostgresSettings {
        url: Secret::new(url),
        max_connections: 5,
        min_connections: 0,
        acquire_timeout_ms: 2_000,
    }
}

pub fn auth_settings(
    database_url: &str,
    user_url: &str,
    signing_key_pem: &str,
) -> config::Settings {
    config::Settings {
        identity: testing::identity_settings(),
        server: testing::server_settings(),
        readiness: testing::readiness_settings(),
        telemetry: testing::telemetry_settings(),
        database: database(database_url),
        auth: AuthSettings::default(),
        tokens: config::TokenSettings {
            signing_key_pem: Some(Secret::new(signing_key_pem)),
            ..config::TokenSettings::default()
        },
        passwords: config::PasswordSettings::default(),
        throttle: config::ThrottleSettings::default(),
        ids: Default::default(),
        outbox: OutboxSettings {
            poll_interval_ms: 50,
            retry_initial_ms: 100,
            retry_max_ms: 500,
            ..OutboxSettings::default()
        },
        user_service: xir_common::settings::ServiceUrl::new(user_url),
    }
}

pub struct TestStack {
    pub auth_addr: SocketAddr,
    pub auth_metrics_addr: SocketAddr,
    pub user_addr: SocketAddr,
    pub signing_key_pem: String,
    pub auth_database: testing::TestDatabase,
    user_database: testing::TestDatabase,
    user_stop: Option<oneshot::Sender<()>>,
}

/// Both services, ready.
pub async fn spawn_stack() -> TestStack {
    spawn_stack_with(|_| {}).await
}

/// Both services, ready, svc-auth's settings changed by `adjust` first.
pub async fn spawn_stack_with(adjust: impl FnOnce(&mut config::Settings)) -> TestStack {
    let auth_database = testing::postgres_database("svc_auth").await;
    let user_database = testing::postgres_database("svc_user").await;
    let user_addr = SocketAddr::from(([127, 0, 0, 1], testing::free_port()));
    let signing_key_pem = keys::generate_pem().expect("a signing key");
    let mut settings = auth_settings(
        auth_database.url(),
        &format!("http://{user_addr}"),
        &signing_key_pem,
    );
    adjust(&mut settings);
    let application = svc_auth::startup::Application::build(settings)
        .await
        .expect("build svc-auth");
    let auth_addr = application.grpc_addr();
    let auth_metrics_addr = application.metrics_addr();
    tokio::spawn(application.run_until_stopped(std::future::pending()));
    let mut stack = TestStack {
        auth_addr,
        auth_metrics_addr,
        user_addr,
        signing_key_pem,
        auth_database,
        user_database,
        user_stop: None,
    };
    stack.start_user().await;
    for addr in [stack.auth_addr, stack.user_addr] {
        testing::wait_for_health(
            addr,
            "readiness",
            tonic_health::ServingStatus::Serving,
            Duration::from_secs(20),
        )
        .await;
    }
    stack
}

impl TestStack {
    /// Starts svc-user on its fixed address (again, after [`TestStack::stop_user`]).
    pub async fn start_user(&mut self) {
        let settings = svc_user::config::Settings::with_overrides(&format!(
            r#"{base}
[database]
url = "{database}"
max_connections = 5

[auth]
url = "http://{auth}"
min_refresh_interval_ms = 100

[timeline_service]
url = "http://127.0.0.1:9"
"#,
            base = testing::base_settings_toml(self.user_addr.port()),
            database = self.user_database.url(),
            auth = self.auth_addr,
        ))
        .expect("valid svc-user settings");
        let application = svc_user::startup::Application::build(settings)
            .await
            .expect("build svc-user");
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(application.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        self.user_stop = Some(stop);
    }

    /// Stops svc-user and waits until its port refuses connections.
    pub async fn stop_user(&mut self) {
        if let Some(stop) = self.user_stop.take() {
            let _ = stop.send(());
        }
        let addr = self.user_addr;
        testing::eventually(
            Duration::from_secs(10),
            "svc-user stopping",
            || async move {
                tokio::net::TcpStream::connect(addr)
                    .await
                    .is_err()
                    .then_some(())
            },
        )
        .await;
    }

    pub async fn auth(&self) -> AuthServiceClient<tonic::transport::Channel> {
        AuthServiceClient::new(testing::channel(self.auth_addr).await)
    }

    pub async fn users(&self) -> UserServiceClient<tonic::transport::Channel> {
        UserServiceClient::new(testing::channel(self.user_addr).await)
    }

    pub async fn sign_up(&self, username: &str) -> SignUpResponse {
        self.auth()
            .await
            .sign_up(SignUpRequest {
                username: username.to_owned(),
                email: format!("{}@example.org", username.to_lowercase()),
                password: PASSWORD.to_owned(),
                display_name: String::new(),
            })
            .await
            .expect("sign-up succeeds")
            .into_inner()
    }

    /// The profile svc-auth's outbox created in svc-user, once it is there.
    pub async fn wait_for_profile(&self, user_id: i64) -> Profile {
        let users = self.users().await;
        testing::eventually(Duration::from_secs(20), "the profile appearing", || {
            let mut users = users.clone();
            async move {
                users
                    .get_profile(GetProfileRequest {
                        user: Some(User::UserId(user_id)),
                    })
                    .await
                    .ok()
                    .and_then(|response| response.into_inner().profile)
            }
        })
        .await
    }
}

/// `request` carrying `token` as a bearer token.
pub fn bearer<T>(token: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii token"),
    );
    request
}
