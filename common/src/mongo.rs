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

/// The indexes a service needs: (collection, index). Created at start, before readiness.
pub type IndexPlan = Vec<(&'static str, mongodb::IndexModel)>;

/// The readiness check of a MongoDB service: creates the indexes of `plan` once (creating an
/// existing index is a no-op, so replicas may race), then pings on every call.
#[derive(Clone)]
pub struct ReadinessCheck {
    database: Database,
    plan: std::sync::Arc<IndexPlan>,
    indexed: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl ReadinessCheck {
    pub fn new(database: Database, plan: IndexPlan) -> Self {
        Self {
            database,
            plan: std::sync::Arc::new(plan),
            indexed: Default::default(),
        }
    }

    pub async fn check_owned(self) -> mongodb::error::Result<()> {
        use std::sync::atomic::Ordering;
        if !self.indexed.load(Ordering::Acquire) {
            for (collection, index) in self.plan.iter() {
                self.database
                    .collection::<mongodb::bson::Document>(collection)
                    .create_index(index.clone())
                    .await?;
            }
            self.indexed.store(true, Ordering::Release);
            tracing::info!(indexes = self.plan.len(), "indexes ensured");
        }
        ping(&self.database).await
    }
}

/// A named index on `keys`; `unique` makes the keys a constraint.
pub fn index(keys: mongodb::bson::Document, name: &str, unique: bool) -> mongodb::IndexModel {
    mongodb::IndexModel::builder()
        .keys(keys)
        .options(
            mongodb::options::IndexOptions::builder()
                .name(name.to_owned())
                .unique(unique)
                .build(),
        )
        .build()
}

/// True when `error` is a duplicate-key error (an idempotent insert that found its twin).
pub fn is_duplicate(error: &mongodb::error::Error) -> bool {
    match error.kind.as_ref() {
        ErrorKind::Write(mongodb::error::WriteFailure::WriteError(e)) => e.code == 11000,
        ErrorKind::InsertMany(e) => e
            .write_errors
            .as_ref()
            .is_some_and(|errors| errors.iter().all(|e| e.code == 11000)),
        _ => false,
    }
}

/// The `{ $lt: max_id, $gt: since_id }` condition of a time-ordered-id cursor (0 leaves a
/// side open); empty when neither is set. Negative cursors are bad input, named.
pub fn id_range(
    max_id: i64,
    since_id: i64,
) -> Result<mongodb::bson::Document, crate::errors::FieldViolations> {
    let mut violations = crate::errors::FieldViolations::new();
    if max_id < 0 {
        violations.add("max_id", "must not be negative");
    }
    if since_id < 0 {
        violations.add("since_id", "must not be negative");
    }
    violations.into_result()?;
    let mut range = mongodb::bson::Document::new();
    if max_id > 0 {
        range.insert("$lt", max_id);
    }
    if since_id > 0 {
        range.insert("$gt", since_id);
    }
    Ok(range)
}
