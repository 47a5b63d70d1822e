//! `<service> healthcheck`: asks the service on this machine whether it is ready, for
//! container healthchecks (the runtime image has no shell and no other probe binary).

use std::{process::ExitCode, time::Duration};

use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use crate::server::READINESS;

/// True when the first command-line argument is `healthcheck`.
pub fn requested() -> bool {
    std::env::args().nth(1).as_deref() == Some("healthcheck")
}

/// Checks `readiness` on 127.0.0.1:`port`: exit 0 when SERVING, 1 otherwise.
pub async fn run(port: u16) -> ExitCode {
    match readiness(port).await {
        Ok(ServingStatus::Serving) => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("readiness is {status:?}");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("health check failed: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn readiness(port: u16) -> Result<ServingStatus, Box<dyn std::error::Error>> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))?
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(2))
        .connect()
        .await?;
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: READINESS.to_owned(),
        })
        .await?;
    Ok(response.into_inner().status())
}
