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

use crate::errors::DbError;

use crate::{
    ids::{IdGenerator, MAX_WORKER_ID, WorkerLease},
    settings::PostgresSettings,
};

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
    #[error("every worker id is leased by a live replica")]
    NoWorkerIdFree,
    #[error("the last worker-id lease renewal is still running or was given up")]
    RenewalRunning,
}

/// The readiness check of a PostgreSQL service: applies `migrator` once (sqlx holds an
/// advisory lock, so replicas starting together do not race), then pings on every call.
#[derive(Clone)]
pub struct ReadinessCheck {
    pool: PgPool,
    migrator: &'static Migrator,
    migrated: Arc<AtomicBool>,
    lease: Option<WorkerLease>,
}

impl ReadinessCheck {
    pub fn new(pool: PgPool, migrator: &'static Migrator) -> Self {
        Self {
            pool,
            migrator,
            migrated: Arc::new(AtomicBool::new(false)),
            lease: None,
        }
    }

    /// Also acquires and renews `ids`' worker id in the `worker_leases` table (which the
    /// service's migrations create): not ready while no lease is held.
    pub fn with_worker_lease(mut self, ids: Arc<IdGenerator>) -> Self {
        self.lease = WorkerLease::of(ids);
        self
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
        match &self.lease {
            Some(lease) => {
                let (pool, held) = (self.pool.clone(), lease.clone());
                lease
                    .renew(async move { keep_lease(&pool, &held).await })
                    .await
                    .unwrap_or(Err(CheckError::RenewalRunning))
            }
            None => {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }
        }
    }
}

/// Renews the held worker id, or takes the lowest one whose lease expired (or never existed).
/// Expiry is the database's clock, so replicas' clocks need not agree.
async fn keep_lease(pool: &PgPool, lease: &WorkerLease) -> Result<(), CheckError> {
    let asked_at = std::time::Instant::now();
    let ttl_secs = lease.ids.lease_ttl().as_secs_f64();
    if let Some(worker_id) = lease.ids.worker_id() {
        let renewed = sqlx::query(
            "UPDATE worker_leases SET expires_at = now() + make_interval(secs => $3)
             WHERE worker_id = $1 AND holder = $2",
        )
        .bind(i16::try_from(worker_id).unwrap_or(i16::MAX))
        .bind(&*lease.holder)
        .bind(ttl_secs)
        .execute(pool)
        .await?;
        if renewed.rows_affected() == 1 {
            lease.ids.grant(worker_id, asked_at);
            return Ok(());
        }
        lease.ids.revoke();
    }
    // Two replicas may pick the same free id at once: the insert's conflict clause lets only
    // one have it, and the other finds no row and tries again on the next check.
    let acquired: Option<i16> = sqlx::query_scalar(
        "INSERT INTO worker_leases AS held (worker_id, holder, expires_at)
         SELECT candidate.id, $1, now() + make_interval(secs => $2)
         FROM generate_series(0, $3::int) AS candidate(id)
         LEFT JOIN worker_leases existing ON existing.worker_id = candidate.id
         WHERE existing.worker_id IS NULL OR existing.expires_at < now()
         ORDER BY candidate.id
         LIMIT 1
         ON CONFLICT (worker_id) DO UPDATE
             SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
             WHERE held.expires_at < now()
         RETURNING worker_id",
    )
    .bind(&*lease.holder)
    .bind(ttl_secs)
    .bind(i32::from(MAX_WORKER_ID))
    .fetch_optional(pool)
    .await?;
    let worker_id = acquired
        .and_then(|id| u16::try_from(id).ok())
        .ok_or(CheckError::NoWorkerIdFree)?;
    lease.ids.grant(worker_id, asked_at);
    Ok(())
}

/// `Unavailable` when the database cannot be reached (the client may retry), otherwise an
/// opaque `Internal`; both logged with their cause.
pub fn status(error: &DbError<sqlx::Error>) -> Status {
    let code = match &error.source {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        // A connection cut while it is being set up (the server restarting) can surface as
        // garbage in the handshake: as retryable as the I/O error it really is.
        | sqlx::Error::Protocol(_) => Code::Unavailable,
        _ => Code::Internal,
    };
    crate::errors::opaque(code, error)
}
