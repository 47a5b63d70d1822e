use svc_timeline::{
    config::Settings,
    startup::{Application, COMPONENT},
};
use xir_common::{settings::config_path_from_args, shutdown, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::load(config_path_from_args())?;
    let telemetry = telemetry::init(COMPONENT, &settings.telemetry)?;
    let application = Application::build(settings).await?;
    let result = application.run_until_stopped(shutdown::signal()).await;
    if let Err(error) = &result {
        tracing::error!(
            error = error.as_ref() as &dyn std::error::Error,
            "svc-timeline failed"
        );
    }
    telemetry.shutdown();
    result
}
