//! The whole platform in one test process: svc-auth, svc-user, svc-tweet and svc-timeline,
//! each the real `Application` on its own database, wired to each other, on fixed free ports
//! so that a test can stop one and start it again at the same address.
//!
//! Tokens are minted with svc-auth's own signing code and key, so tests can act as users they
//! seeded in bulk without hashing a password per user.

mod caches;
pub mod dev;
pub mod edge;
pub mod fuzzing;
pub mod kube;
pub mod processes;
mod rest;
pub mod single;
mod users;

use std::{net::SocketAddr, time::Duration};

use tokio::sync::oneshot;
use tonic_health::ServingStatus;
use xir_common::bootstrap::{Service as _, ServiceSettings as _};
use xir_common::testing;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Auth,
    User,
    Tweet,
    Timeline,
}

/// Knobs a test may turn.
#[derive(Debug, Clone)]
pub struct Options {
    /// svc-timeline's `fanout.celebrity_followers`.
    pub celebrity_followers: i64,
    /// svc-timeline's `fanout.timeline_cap`.
    pub timeline_cap: i64,
    /// svc-auth's `throttle.max_failures_per_address`.
    pub max_login_failures_per_address: i64,
    /// svc-user's and svc-tweet's `notifying_writes` (per minute, burst).
    pub notifying_writes: (u32, u32),
    /// Services left stopped at the start.
    pub stopped: Vec<Service>,
    /// svc-tweet's `outbox.poll_interval_ms` (the other services poll as every test's do).
    pub tweet_relay_poll_ms: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            celebrity_followers: 10_000,
            timeline_cap: 800,
            max_login_failures_per_address: 50,
            notifying_writes: (60, 30),
            stopped: Vec::new(),
            tweet_relay_poll_ms: 50,
        }
    }
}

struct Running {
    stop: oneshot::Sender<()>,
}

pub struct Stack {
    pub auth_addr: SocketAddr,
    pub user_addr: SocketAddr,
    pub tweet_addr: SocketAddr,
    pub timeline_addr: SocketAddr,
    pub user_database: testing::TestDatabase,
    pub tweet_database: mongodb::Database,
    pub timeline_database: mongodb::Database,
    auth_database: testing::TestDatabase,
    tweet_database_name: String,
    timeline_database_name: String,
    signing_key_pem: String,
    keys: svc_auth::keys::SigningKeys,
    options: Options,
    running: Vec<(Service, Running)>,
    metrics: Vec<(Service, SocketAddr)>,
}

/// Builds the application `S` from `toml` (over its compiled defaults), serves it until
/// `shutdown`, and returns its metrics address.
async fn launch<S: xir_common::bootstrap::Service + Send + 'static>(
    toml: &str,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> SocketAddr {
    let settings = S::Settings::with_overrides(toml)
        .unwrap_or_else(|error| panic!("{} settings: {error}", S::COMPONENT));
    let app = S::build(settings)
        .await
        .unwrap_or_else(|error| panic!("build {}: {error:#}", S::COMPONENT));
    let metrics = app.metrics_addr();
    tokio::spawn(app.run_until_stopped(shutdown));
    metrics
}

/// svc-timeline's and svc-tweet's `[redis]` settings: the test Redis, every key under
/// `prefix:` (each service's database name, so no two share a key; see
/// [`Stack::tweet_cache`]).
pub fn redis_toml(prefix: &str) -> String {
    format!(
        "[redis]\nurl = \"{}\"\nkey_prefix = \"{prefix}:\"\n",
        testing::redis_url()
    )
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

impl Stack {
    pub async fn start(options: Options) -> Stack {
        testing::init_test_logs();
        let signing_key_pem = svc_auth::keys::generate_pem().expect("signing key");
        let keys = svc_auth::keys::SigningKeys::from_settings(&svc_auth::config::TokenSettings {
            signing_key_pem: Some(xir_common::settings::Secret::new(signing_key_pem.clone())),
            ..Default::default()
        })
        .expect("keys");
        let mongo = mongodb::Client::with_uri_str(testing::mongodb_url())
            .await
            .expect("mongo");
        let tweet_database_name = testing::unique_name("svc_tweet");
        let timeline_database_name = testing::unique_name("svc_timeline");
        let mut stack = Stack {
            auth_addr: loopback(testing::free_port()),
            user_addr: loopback(testing::free_port()),
            tweet_addr: loopback(testing::free_port()),
            timeline_addr: loopback(testing::free_port()),
            user_database: testing::postgres_database("svc_user").await,
            auth_database: testing::postgres_database("svc_auth").await,
            tweet_database: mongo.database(&tweet_database_name),
            timeline_database: mongo.database(&timeline_database_name),
            tweet_database_name,
            timeline_database_name,
            signing_key_pem,
            keys,
            options,
            running: Vec::new(),
            metrics: Vec::new(),
        };
        for service in [
            Service::Auth,
            Service::User,
            Service::Tweet,
            Service::Timeline,
        ] {
            if !stack.options.stopped.contains(&service) {
                stack.start_service(service).await;
            }
        }
        stack
    }

    fn addr(&self, service: Service) -> SocketAddr {
        match service {
            Service::Auth => self.auth_addr,
            Service::User => self.user_addr,
            Service::Tweet => self.tweet_addr,
            Service::Timeline => self.timeline_addr,
        }
    }

    pub fn url(&self, service: Service) -> String {
        format!("http://{}", self.addr(service))
    }

    fn toml(&self, service: Service, body: &str) -> String {
        format!(
            "{}{body}\n[auth]\nurl = \"{}\"\nmin_refresh_interval_ms = 100\n",
            testing::base_settings_toml(self.addr(service).port()),
            self.url(Service::Auth)
        )
    }

    fn notifying_writes_toml(&self) -> String {
        let (per_minute, burst) = self.options.notifying_writes;
        format!("[notifying_writes]\nper_minute = {per_minute}\nburst = {burst}\n")
    }

    /// Starts `service` (again) at its address and waits until it is ready.
    pub async fn start_service(&mut self, service: Service) {
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let toml = self.toml(service, &self.settings_toml(service));
        let metrics = match service {
            Service::Auth => launch::<svc_auth::startup::Application>(&toml, shutdown).await,
            Service::User => launch::<svc_user::startup::Application>(&toml, shutdown).await,
            Service::Tweet => launch::<svc_tweet::startup::Application>(&toml, shutdown).await,
            Service::Timeline => {
                launch::<svc_timeline::startup::Application>(&toml, shutdown).await
            }
        };
        self.running.push((service, Running { stop }));
        self.metrics.retain(|(s, _)| *s != service);
        self.metrics.push((service, metrics));
        testing::wait_for_health(
            self.addr(service),
            "readiness",
            ServingStatus::Serving,
            Duration::from_secs(30),
        )
        .await;
    }

    /// The settings of `service` in this stack, beyond those every test service shares.
    fn settings_toml(&self, service: Service) -> String {
        let mongo = testing::mongodb_url();
        match service {
            Service::Auth => format!(
                "{}\n[database]\nurl = \"{}\"\nmax_connections = 5\n[tokens]\nsigning_key_pem = '''{}'''\n[user_service]\nurl = \"{}\"\n[throttle]\nmax_failures_per_address = {}\n",
                testing::outbox_settings_toml(),
                self.auth_database.url(),
                self.signing_key_pem,
                self.url(Service::User),
                self.options.max_login_failures_per_address
            ),
            Service::User => format!(
                "{}\n[database]\nurl = \"{}\"\nmax_connections = 8\n[timeline_service]\nurl = \"{}\"\n{}",
                testing::outbox_settings_toml(),
                self.user_database.url(),
                self.url(Service::Timeline),
                self.notifying_writes_toml(),
            ),
            Service::Tweet => format!(
                "{}{}\n[database]\nurl = \"{mongo}\"\nname = \"{}\"\nserver_selection_timeout_ms = 2000\n[user_service]\nurl = \"{}\"\n[timeline_service]\nurl = \"{}\"\n{}",
                testing::outbox_toml_polling_every(self.options.tweet_relay_poll_ms),
                redis_toml(&self.tweet_database_name),
                self.tweet_database_name,
                self.url(Service::User),
                self.url(Service::Timeline),
                self.notifying_writes_toml(),
            ),
            Service::Timeline => format!(
                "{}\n[database]\nurl = \"{mongo}\"\nname = \"{}\"\nserver_selection_timeout_ms = 2000\n[user_service]\nurl = \"{}\"\n[tweet_service]\nurl = \"{}\"\n[fanout]\ncelebrity_followers = {}\ntimeline_cap = {}\n",
                redis_toml(&self.timeline_database_name),
                self.timeline_database_name,
                self.url(Service::User),
                self.url(Service::Tweet),
                self.options.celebrity_followers,
                self.options.timeline_cap,
            ),
        }
    }

    /// Another svc-tweet replica on the same database (its own port), with its own relay.
    pub async fn start_tweet_replica(&self) -> SocketAddr {
        self.start_tweet_replica_with(&format!("url = \"{}\"", self.url(Service::User)))
            .await
    }

    /// [`Self::start_tweet_replica`] with its own `[user_service]` table (`user_service`: its
    /// body).
    pub async fn start_tweet_replica_with(&self, user_service: &str) -> SocketAddr {
        let settings = svc_tweet::config::Settings::with_overrides(&format!(
            "{}{}{}
[database]
url = \"{}\"
name = \"{}\"
server_selection_timeout_ms = 2000
[user_service]
{user_service}
[timeline_service]
url = \"{}\"
[auth]
url = \"{}\"
",
            testing::base_settings_toml(0),
            testing::outbox_toml_polling_every(self.options.tweet_relay_poll_ms),
            redis_toml(&self.tweet_database_name),
            testing::mongodb_url(),
            self.tweet_database_name,
            self.url(Service::Timeline),
            self.url(Service::Auth),
        ))
        .expect("svc-tweet replica settings");
        let app = svc_tweet::startup::Application::build(settings)
            .await
            .expect("build the replica");
        let addr = app.grpc_addr();
        tokio::spawn(app.run_until_stopped(std::future::pending()));
        testing::wait_for_health(
            addr,
            "readiness",
            ServingStatus::Serving,
            Duration::from_secs(30),
        )
        .await;
        addr
    }

    /// Stops `service` and waits until its port refuses connections.
    pub async fn stop_service(&mut self, service: Service) {
        if let Some(index) = self.running.iter().position(|(s, _)| *s == service) {
            let (_, running) = self.running.remove(index);
            let _ = running.stop.send(());
        }
        let addr = self.addr(service);
        testing::eventually(
            Duration::from_secs(15),
            "the service stopping",
            || async move {
                tokio::net::TcpStream::connect(addr)
                    .await
                    .is_err()
                    .then_some(())
            },
        )
        .await;
    }

    pub fn metrics_addr(&self, service: Service) -> SocketAddr {
        self.metrics
            .iter()
            .find(|(s, _)| *s == service)
            .map(|(_, addr)| *addr)
            .expect("the service was started")
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
