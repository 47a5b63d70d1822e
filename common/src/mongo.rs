//! MongoDB for svc-tweet and svc-timeline: a client sized by settings (it connects lazily, so
//! the service starts while the server is unreachable), the ping that readiness uses, and the
//! mapping of driver errors onto gRPC codes.

use std::time::Duration;

use mongodb::{Client, Database, bson::doc, error::ErrorKind, options::ClientOptions};
use tonic::{Code, Status};

use crate::errors::DbError;

use crate::{
    ids::{IdGenerator, MAX_WORKER_ID, WorkerLease},
    settings::MongoSettings,
};

pub async fn database(
    settings: &MongoSettings,
    application: &str,
) -> mongodb::error::Result<Database> {
    client_database(settings, application, settings.max_pool_size).await
}

/// Connections of the readiness check's own client.
const PROBE_POOL_SIZE: u32 = 2;

/// The database through a client of its own, for the readiness check and the worker-id lease.
/// Behind calls that fill the service's pool, a lease renewal would wait for a connection,
/// outlast the readiness timeout and, at worst, let the lease lapse, stopping every write that
/// mints an id; and readiness asks whether MongoDB answers, not whether the pool has room.
pub async fn probe_database(
    settings: &MongoSettings,
    application: &str,
) -> mongodb::error::Result<Database> {
    client_database(settings, &format!("{application}-probes"), PROBE_POOL_SIZE).await
}

async fn client_database(
    settings: &MongoSettings,
    application: &str,
    pool_size: u32,
) -> mongodb::error::Result<Database> {
    let mut options = ClientOptions::parse(settings.url.expose()).await?;
    options.app_name = Some(application.to_owned());
    options.max_pool_size = Some(pool_size);
    options.server_selection_timeout =
        Some(Duration::from_millis(settings.server_selection_timeout_ms));
    Ok(Client::with_options(options)?.database(&settings.name))
}

pub async fn ping(database: &Database) -> mongodb::error::Result<()> {
    database.run_command(doc! { "ping": 1 }).await?;
    Ok(())
}

/// `Unavailable` when no server can be reached, otherwise an opaque `Internal`.
pub fn status(error: &DbError<mongodb::error::Error>) -> Status {
    let code = match *error.source.kind {
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
    lease: Option<WorkerLease>,
}

/// The collection of worker-id leases: `{_id: worker id, holder, expires_at}`.
pub const WORKER_LEASES: &str = "worker_leases";

impl ReadinessCheck {
    pub fn new(database: Database, plan: IndexPlan) -> Self {
        Self {
            database,
            plan: std::sync::Arc::new(plan),
            indexed: Default::default(),
            lease: None,
        }
    }

    /// Also acquires and renews `ids`' worker id in the `worker_leases` collection: not ready
    /// while no lease is held.
    pub fn with_worker_lease(mut self, ids: std::sync::Arc<IdGenerator>) -> Self {
        self.lease = WorkerLease::of(ids);
        self
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
        match &self.lease {
            Some(lease) => {
                let (database, held) = (self.database.clone(), lease.clone());
                lease
                    .renew(async move { keep_lease(&database, &held).await })
                    .await
                    .unwrap_or_else(|| {
                        Err(lease_error(
                            "the last worker-id lease renewal is still running or was given up",
                        ))
                    })
            }
            None => ping(&self.database).await,
        }
    }
}

/// Renews the held worker id, or takes the lowest one whose lease expired (or never existed).
/// Expiry is written with this replica's clock: replicas' clocks must agree to well within a
/// third of the lease (NTP does).
async fn keep_lease(database: &Database, lease: &WorkerLease) -> mongodb::error::Result<()> {
    use mongodb::bson::DateTime;
    let (ids, holder) = (&lease.ids, &*lease.holder);
    let leases = database.collection::<mongodb::bson::Document>(WORKER_LEASES);
    let asked_at = std::time::Instant::now();
    let ttl_ms = i64::try_from(ids.lease_ttl().as_millis()).unwrap_or(i64::MAX);
    let now = DateTime::now();
    let expires_at = DateTime::from_millis(now.timestamp_millis().saturating_add(ttl_ms));
    if let Some(worker_id) = ids.worker_id() {
        let renewed = leases
            .update_one(
                doc! { "_id": i32::from(worker_id), "holder": holder },
                doc! { "$set": { "expires_at": expires_at } },
            )
            .await?;
        if renewed.matched_count == 1 {
            ids.grant(worker_id, asked_at);
            return Ok(());
        }
        ids.revoke();
    }
    // At most 1024 small documents: read the live ones, then claim the lowest other id. The
    // claim matches only a free or expired lease; when another replica won the race, the
    // upsert meets its document (duplicate key) and the next check tries again.
    let mut live = std::collections::HashSet::new();
    let mut cursor = leases
        .find(doc! { "expires_at": { "$gte": now } })
        .projection(doc! { "_id": 1 })
        .await?;
    while cursor.advance().await? {
        if let Ok(id) = cursor.current().get_i32("_id") {
            live.insert(id);
        }
    }
    let Some(candidate) = (0..=i32::from(MAX_WORKER_ID)).find(|id| !live.contains(id)) else {
        return Err(lease_error("every worker id is leased by a live replica"));
    };
    let claimed = leases
        .update_one(
            doc! { "_id": candidate, "$or": [ { "expires_at": { "$lt": now } }, { "expires_at": null } ] },
            doc! { "$set": { "holder": holder, "expires_at": expires_at } },
        )
        .upsert(true)
        .await;
    match claimed {
        Ok(_) => {
            ids.grant(u16::try_from(candidate).unwrap_or(MAX_WORKER_ID), asked_at);
            Ok(())
        }
        Err(error) if is_duplicate(&error) => {
            Err(lease_error("lost the race for a worker id; trying again"))
        }
        Err(error) => Err(error),
    }
}

/// A lease error whose message the readiness log shows (a `custom` error prints only its kind).
fn lease_error(message: &'static str) -> mongodb::error::Error {
    std::io::Error::other(message).into()
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
