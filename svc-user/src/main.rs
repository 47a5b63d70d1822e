use std::process::ExitCode;

use svc_user::{
    config::Settings,
    startup::{Application, COMPONENT},
};
use xir_common::{healthcheck, settings::config_path_from_args, shutdown, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(code) => code,
        Err(error) => {
            // One line with the whole cause chain, also when logging never started.
            eprintln!("{COMPONENT}: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<ExitCode> {
    let settings = Settings::load(config_path_from_args())?;
    if healthcheck::requested() {
        return Ok(healthcheck::run(settings.server.port).await);
    }
    let telemetry = telemetry::init(COMPONENT, &settings.telemetry)?;
    let application = Application::build(settings).await?;
    let result = application.run_until_stopped(shutdown::signal()).await;
    telemetry.shutdown();
    result.map(|()| ExitCode::SUCCESS)
}
