//! PostgreSQL for svc-auth and svc-user: a lazily connecting pool sized by settings, the
//! readiness check that applies migrations once before reporting ready, and the mapping of
//! database errors onto gRPC codes.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use sqlx::{
    PgPool,
    migrate::{MigrateError, Migrator},
    postgres::{PgConnectOptions, PgPoolOptions},
};
use tonic::{Code, Status};

use crate::settings::PostgresSettings;

/// A pool that connects on first use, so the service starts (and reports NOT_SERVING) while
/// the database is still unreachable.
pub fn lazy_pool(settings: &PostgresSettings, application: &str) -> Result<PgPool, sqlx::Error> {
    let options: PgConnectOptions = settings.url.expose().parse()?;
    Ok(PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .min_connections(settings.min_connections)
        .acquire_timeout(Duration::from_millis(settings.acquire_timeout_ms))
        .connect_lazy_with(options.application_name(application)))
}

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("cannot apply migrations")]
    Migrate(#[from] MigrateError),
    #[error("database unreachable")]
    Query(#[from] sqlx::Error),
}

/// The readiness check of a PostgreSQL service: applies `migrator` once (sqlx holds an
/// advisory lock, so replicas starting together do not race), then pings on every call.
#[derive(Clone)]
pub struct ReadinessCheck {
    pool: PgPool,
    migrator: &'static Migrator,
    migrated: Arc<AtomicBool>,
}

impl ReadinessCheck {
    pub fn new(pool: PgPool, migrator: &'static Migrator) -> Self {
        Self {
            pool,
            migrator,
            migrated: Arc::new(AtomicBool::new(false)),
        }
    }

    /// [`ReadinessCheck::check`] on an owned handle, for probes that need a `'static` future.
    pub async fn check_owned(self) -> Result<(), CheckError> {
        self.check().await
    }

    pub async fn check(&self) -> Result<(), CheckError> {
        if !self.migrated.load(Ordering::Acquire) {
            self.migrator.run(&self.pool).await?;
            self.migrated.store(true, Ordering::Release);
            tracing::info!("migrations applied");
        }
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// `Unavailable` when the database cannot be reached (the client may retry), otherwise an
/// opaque `Internal`; both logged with their cause.
pub fn status(error: &sqlx::Error) -> Status {
    let code = match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => Code::Unavailable,
        _ => Code::Internal,
    };
    crate::errors::opaque(code, error)
}
