//! The one `main` of every service: load the layered settings, answer `healthcheck` (the
//! container probe), start logs and traces, build the application, serve until SIGTERM or
//! SIGINT, flush the last spans. A service supplies its settings and its application; its
//! `main.rs` is one call to [`main`].

use std::{future::Future, path::PathBuf, process::ExitCode};

use crate::{
    healthcheck,
    settings::{ServerSettings, SettingsError, TelemetrySettings, config_path_from_args},
    shutdown, telemetry,
};

/// A service's settings, as far as starting it needs them.
pub trait ServiceSettings: Sized {
    /// Compiled defaults, then the file (`--config` or `XIR_CONFIG`), then `XIR_*` variables.
    fn load(config_file: Option<PathBuf>) -> Result<Self, SettingsError>;
    fn server(&self) -> &ServerSettings;
    fn telemetry(&self) -> &TelemetrySettings;
}

/// Implements [`ServiceSettings`] for a service's `Settings` (with `server` and `telemetry`
/// fields) over its compiled `defaults` (TOML), and `Settings::with_overrides`: the defaults
/// with more TOML on top, ignoring files and the environment (tests, the fuzz targets).
#[macro_export]
macro_rules! service_settings {
    ($settings:ty, $defaults:expr) => {
        impl $crate::bootstrap::ServiceSettings for $settings {
            fn load(
                config_file: Option<std::path::PathBuf>,
            ) -> Result<Self, $crate::settings::SettingsError> {
                $crate::settings::load($defaults, config_file)
            }

            fn server(&self) -> &$crate::settings::ServerSettings {
                &self.server
            }

            fn telemetry(&self) -> &$crate::settings::TelemetrySettings {
                &self.telemetry
            }
        }

        impl $settings {
            /// The compiled defaults with `overrides` (TOML) on top, ignoring files and
            /// environment.
            pub fn with_overrides(
                overrides: &str,
            ) -> Result<Self, $crate::settings::SettingsError> {
                $crate::settings::load_with($defaults, overrides)
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
