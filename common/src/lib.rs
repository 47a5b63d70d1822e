//! What every X-in-Rust service shares: layered settings, telemetry, the gRPC server
//! bootstrap (health, reflection, metrics, limits, graceful shutdown), dependency readiness,
//! and W3C trace propagation.

pub mod auth;
pub mod balance;
pub mod bootstrap;
#[cfg(feature = "redis")]
pub mod cache;
pub mod cpu;
pub mod delivery;
pub mod domain;
pub mod errors;
pub mod healthcheck;
pub mod identity;
pub mod ids;
pub mod limit;
pub mod metrics;
#[cfg(feature = "mongo")]
pub mod mongo;
pub mod observe;
#[cfg(feature = "postgres")]
pub mod outbox;
pub mod peer;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod profiles;
pub mod propagation;
pub mod rate;
pub mod readiness;
pub mod relay;
pub mod request;
pub mod server;
pub mod settings;
pub mod shutdown;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
