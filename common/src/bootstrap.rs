//! The one `main` of every service: load the layered settings, answer `healthcheck` (the
//! container probe), start logs and traces, build the application, serve until SIGTERM or
//! SIGINT, flush the last spans. A service supplies its settings and its application; its
//! `main.rs` is one call to [`main`].

use std::{future::Future, net::SocketAddr, path::PathBuf, process::ExitCode, sync::Arc};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;
use xir_proto::auth::v1::Jwk;

use crate::{
    auth::{AccessPolicy, AuthLayer, AuthSettings, KeySource, TokenVerifier},
    healthcheck,
    identity::{IdentitySettings, Peer, ServiceIdentity},
    peer::{self, PeerChannel},
    server::GrpcServer,
    settings::{
        ReadinessSettings, ServerSettings, ServiceUrl, SettingsError, TelemetrySettings,
        config_path_from_args,
    },
    shutdown, telemetry,
};

/// A service's settings, as far as starting it needs them.
pub trait ServiceSettings: Sized {
    /// Compiled defaults, then the file (`--config` or `XIR_CONFIG`), then `XIR_*` variables.
    fn load(config_file: Option<PathBuf>) -> Result<Self, SettingsError>;
    /// The compiled defaults with `overrides` (TOML) on top, ignoring files and the
    /// environment (tests, the fuzz targets).
    fn with_overrides(overrides: &str) -> Result<Self, SettingsError>;
    fn server(&self) -> &ServerSettings;
    fn telemetry(&self) -> &TelemetrySettings;
    fn identity(&self) -> &IdentitySettings;
    fn readiness(&self) -> &ReadinessSettings;
    fn auth(&self) -> &AuthSettings;
}

/// Implements [`ServiceSettings`] for a service's `Settings` (with `server`, `telemetry`,
/// `identity`, `readiness` and `auth` fields) over its compiled `defaults` (TOML).
#[macro_export]
macro_rules! service_settings {
    ($settings:ty, $defaults:expr) => {
        impl $crate::bootstrap::ServiceSettings for $settings {
            fn load(
                config_file: Option<std::path::PathBuf>,
            ) -> Result<Self, $crate::settings::SettingsError> {
                $crate::settings::load($defaults, config_file)
            }

            fn with_overrides(overrides: &str) -> Result<Self, $crate::settings::SettingsError> {
                $crate::settings::load_with($defaults, overrides)
            }

            fn server(&self) -> &$crate::settings::ServerSettings {
                &self.server
            }

            fn telemetry(&self) -> &$crate::settings::TelemetrySettings {
                &self.telemetry
            }

            fn identity(&self) -> &$crate::identity::IdentitySettings {
                &self.identity
            }

            fn readiness(&self) -> &$crate::settings::ReadinessSettings {
                &self.readiness
            }

            fn auth(&self) -> &$crate::auth::AuthSettings {
                &self.auth
            }
        }
    };
}

/// A service's application: built from its settings (listeners bound, nothing served yet),
/// then served until `shutdown` completes.
pub trait Service: Sized {
    /// The process name in logs, traces and metrics (`svc-user`).
    const COMPONENT: &'static str;
    type Settings: ServiceSettings;

    fn build(settings: Self::Settings) -> impl Future<Output = anyhow::Result<Self>> + Send;

    fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> impl Future<Output = anyhow::Result<()>> + Send;

    /// The parts every service has.
    fn skeleton(&self) -> &Skeleton;

    /// The bound gRPC address (port 0 in the settings becomes a real one).
    fn grpc_addr(&self) -> SocketAddr {
        self.skeleton().grpc_addr()
    }

    /// The bound address of `/metrics`.
    fn metrics_addr(&self) -> SocketAddr {
        self.skeleton().metrics_addr()
    }
}

/// What every service is made of before its own parts: who it is to its peers, its bound
/// listeners, and how it checks tokens and readiness. A service's `build` binds one, and its
/// `run_until_stopped` hands it the routes, the access policy, the readiness check and its
/// background tasks ([`Skeleton::serve`]).
pub struct Skeleton {
    identity: Arc<ServiceIdentity>,
    server: GrpcServer,
    auth: AuthSettings,
    readiness: ReadinessSettings,
}

/// Where a service's token verifier gets svc-auth's public keys.
pub enum Keys {
    /// From svc-auth's GetJwks (every service but svc-auth).
    Remote,
    /// Held by this process (svc-auth itself).
    Local(Vec<Jwk>),
}

/// What a service serves, handed to [`Skeleton::serve`].
pub struct Served<F> {
    pub routes: Routes,
    pub policy: AccessPolicy,
    pub keys: Keys,
    /// The dependency check behind readiness, run every probe interval.
    pub check: F,
    pub background: Background,
}

/// Tasks that run beside the server (outbox relays, sweepers): told to stop once the server
/// has stopped, and waited for.
#[derive(Default)]
pub struct Background {
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Background {
    /// The token a task watches to know when to stop.
    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    pub fn add(&mut self, task: JoinHandle<()>) {
        self.tasks.push(task);
    }

    async fn stop(self) {
        self.stop.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

impl Skeleton {
    /// This service's identity (as `peer`) and its listeners, bound now.
    pub async fn bind(
        peer: Peer,
        service_name: &'static str,
        settings: &impl ServiceSettings,
    ) -> anyhow::Result<Self> {
        let identity = Arc::new(ServiceIdentity::from_settings(peer, settings.identity())?);
        let server = GrpcServer::bind(service_name, settings.server()).await?;
        Ok(Self {
            identity,
            server,
            auth: settings.auth().clone(),
            readiness: settings.readiness().clone(),
        })
    }

    /// A lazily connecting channel to the service `to`, balanced across its replicas and
    /// carrying this service's token.
    pub fn connect(
        &self,
        service: &ServiceUrl,
        to: Peer,
    ) -> Result<PeerChannel, crate::balance::BalanceError> {
        peer::connect(service, &self.identity, to)
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.server.grpc_addr()
    }

    pub fn metrics_addr(&self) -> SocketAddr {
        self.server.metrics_addr()
    }

    /// Serves behind the access policy and the readiness probe until `shutdown`, then stops
    /// the background tasks.
    pub async fn serve<F, Fut, E>(
        self,
        served: Served<F>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()>
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send,
        E: std::error::Error + Send + Sync + 'static,
    {
        let verifier = match served.keys {
            Keys::Remote => TokenVerifier::remote(&self.auth)?,
            Keys::Local(jwks) => TokenVerifier::new(&self.auth, KeySource::Local(jwks)),
        };
        let auth = AuthLayer::new(Arc::new(verifier), self.identity, served.policy);
        let result = self
            .server
            .with_auth(auth)
            .serve_with_probe(served.routes, self.readiness, served.check, shutdown)
            .await;
        served.background.stop().await;
        Ok(result?)
    }
}

/// Runs the service `S` as a process; every failure is one line on stderr with its whole
/// cause chain (also when logging never started) and exit status 1.
pub fn main<S: Service>() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("{}: cannot start the async runtime: {error}", S::COMPONENT);
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run::<S>()) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("{}: {error:#}", S::COMPONENT);
            ExitCode::FAILURE
        }
    }
}

async fn run<S: Service>() -> anyhow::Result<ExitCode> {
    let settings = S::Settings::load(config_path_from_args())?;
    if healthcheck::requested() {
        return Ok(healthcheck::run(settings.server().port).await);
    }
    let telemetry = telemetry::init(S::COMPONENT, settings.telemetry())?;
    let application = S::build(settings).await?;
    let result = application.run_until_stopped(shutdown::signal()).await;
    telemetry.shutdown();
    result.map(|()| ExitCode::SUCCESS)
}
