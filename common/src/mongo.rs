//! MongoDB for svc-tweet and svc-timeline: a client sized by settings (it connects lazily, so
//! the service starts while the server is unreachable), the ping that readiness uses, and the
//! mapping of driver errors onto gRPC codes.

use std::time::Duration;

use mongodb::{Client, Database, bson::doc, error::ErrorKind, options::ClientOptions};
use tonic::{Code, Status};

use crate::settings::MongoSettings;

pub async fn database(
    settings: &MongoSettings,
    application: &str,
) -> mongodb::error::Result<Database> {
    let mut options = ClientOptions::parse(settings.url.expose()).await?;
    options.app_name = Some(application.to_owned());
    options.max_pool_size = Some(settings.max_pool_size);
    options.server_selection_timeout =
        Some(Duration::from_millis(settings.server_selection_timeout_ms));
    Ok(Client::with_options(options)?.database(&settings.name))
}

pub async fn ping(database: &Database) -> mongodb::error::Result<()> {
    database.run_command(doc! { "ping": 1 }).await?;
    Ok(())
}

/// `Unavailable` when no server can be reached, otherwise an opaque `Internal`.
pub fn status(error: &mongodb::error::Error) -> Status {
    let code = match *error.kind {
        ErrorKind::ServerSelection { .. }
        | ErrorKind::Io(_)
        | ErrorKind::ConnectionPoolCleared { .. } => Code::Unavailable,
        _ => Code::Internal,
    };
    crate::errors::opaque(code, error)
}
