//! Helpers for the services' integration tests (feature `testing`): a database of its own for
//! each test, server settings on port 0, health/reflection/metrics probes, and a TCP proxy that
//! can make a real database unreachable and reachable again.
//!
//! The databases come from `XIR_TEST_POSTGRES_URL` and `XIR_TEST_MONGODB_URL`, which
//! `scripts/test` sets (starting throwaway servers when needed).

use std::{net::SocketAddr, time::Duration};

use sqlx::{Connection, Executor, PgConnection};

use crate::settings::{ReadinessSettings, ServerSettings, TelemetrySettings};

mod probes;
mod proxy;

pub use probes::*;
pub use proxy::SwitchableProxy;

pub const POSTGRES_URL_ENV: &str = "XIR_TEST_POSTGRES_URL";
pub const MONGODB_URL_ENV: &str = "XIR_TEST_MONGODB_URL";
pub const REDIS_URL_ENV: &str = "XIR_TEST_REDIS_URL";
/// The grpcurl binary built from tools/ (scripts/test sets it).
pub const GRPCURL_ENV: &str = "XIR_TEST_GRPCURL";

fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests through scripts/test, which starts the databases")
    })
}

/// A name no other test uses: `prefix_` and 16 hex digits.
pub fn unique_name(prefix: &str) -> String {
    format!(
        "{prefix}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..16]
    )
}

/// Creates an empty PostgreSQL database for one test; it is dropped with the returned value.
pub async fn postgres_database(prefix: &str) -> TestDatabase {
    let admin_url = required_env(POSTGRES_URL_ENV);
    let name = unique_name(prefix);
    let mut admin = PgConnection::connect(&admin_url)
        .await
        .expect("cannot connect to XIR_TEST_POSTGRES_URL");
    admin
        .execute(sqlx::AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#)))
        .await
        .expect("cannot create the test database");
    TestDatabase {
        url: with_database(&admin_url, &name),
        admin_url,
        name,
    }
}

/// One test's PostgreSQL database, dropped when the test lets go of it: a test run creates
/// hundreds (8 MB each, the catalogue alone), more than a small CI machine's disk holds.
#[must_use = "the database is dropped with this value"]
pub struct TestDatabase {
    url: String,
    admin_url: String,
    name: String,
}

impl TestDatabase {
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestDatabase {
    /// Drops the database, closing whatever the test's services still hold open (`WITH
    /// (FORCE)`, PostgreSQL 13+). Best effort: a database left behind is only disk. On a
    /// thread of its own: this runs inside a test's runtime, where no other can be started.
    fn drop(&mut self) {
        let admin_url = std::mem::take(&mut self.admin_url);
        let drop_database = format!(r#"DROP DATABASE IF EXISTS "{}" WITH (FORCE)"#, self.name);
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&admin_url).await.ok()?;
                admin.execute(sqlx::AssertSqlSafe(drop_database)).await.ok()
            })
        });
        let _ = dropped.join();
    }
}

/// `url` with its database (the path) replaced by `database`, query string kept.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_end = base
        .find("://")
        .map(|scheme| scheme + 3)
        .and_then(|start| base[start..].find('/').map(|slash| start + slash))
        .unwrap_or(base.len());
    let mut result = format!("{}/{database}", &base[..authority_end]);
    if let Some(query) = query {
        result.push('?');
        result.push_str(query);
    }
    result
}

/// The MongoDB-protocol server for tests; each test picks its own database name.
pub fn mongodb_url() -> String {
    required_env(MONGODB_URL_ENV)
}

/// The Redis server for tests; each test picks its own key prefix.
pub fn redis_url() -> String {
    required_env(REDIS_URL_ENV)
}

/// Both listeners on 127.0.0.1 with free ports, a short grace.
pub fn server_settings() -> ServerSettings {
    ServerSettings {
        host: [127, 0, 0, 1].into(),
        port: 0,
        metrics_port: 0,
        shutdown_grace_ms: 5_000,
        ..ServerSettings::default()
    }
}

/// Readiness that reacts within a fraction of a second.
pub fn readiness_settings() -> ReadinessSettings {
    ReadinessSettings {
        check_interval_ms: 200,
        check_timeout_ms: 2_000,
        retry_initial_ms: 50,
        retry_max_ms: 400,
    }
}

pub fn telemetry_settings() -> TelemetrySettings {
    TelemetrySettings::default()
}

/// The host:port of a `scheme://user:pass@host:port/...` URL.
pub fn url_socket_addr(url: &str) -> SocketAddr {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = after_scheme.split(['/', '?']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let host_port = host_port.replace("localhost", "127.0.0.1");
    host_port
        .parse()
        .unwrap_or_else(|_| panic!("{url} does not name host:port as an IP address and port"))
}

/// `url` pointing at `addr` instead of its own host:port.
pub fn url_with_addr(url: &str, addr: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, ""),
    };
    let credentials = authority.rsplit_once('@').map(|(c, _)| format!("{c}@"));
    format!("{scheme}://{}{addr}{tail}", credentials.unwrap_or_default())
}

/// A port that is free now and that this process hands out only once, for a service that must
/// come back on the same address after a restart. It is chosen below the kernel's ephemeral
/// range, where every `bind(...:0)` (metrics listeners, outgoing connections) gets its port, so
/// nothing else in the test run can take it between now and the service's bind. Where the
/// ephemeral range leaves no room below it, any port the kernel picks.
pub fn free_port() -> u16 {
    static HANDED_OUT: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let first_ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    const LOWEST: u16 = 10_000;
    if first_ephemeral > LOWEST + 2_000 {
        let span = first_ephemeral - LOWEST;
        let mut handed_out = HANDED_OUT.lock().expect("port list lock");
        let start = rand::random::<u16>() % span;
        for step in 0..span {
            let port = LOWEST + (start + step) % span;
            if !handed_out.contains(&port)
                && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
            {
                handed_out.push(port);
                return port;
            }
        }
    }
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("cannot find a free port")
        .port()
}

/// Polls `probe` every 50 ms until it returns `Some`, for at most `within`.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} did not happen within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// TOML for the settings every test service shares: loopback, gRPC on `port` (0: any free
/// one), metrics on a free port, quick readiness. Service tests append their own tables.
pub fn base_settings_toml(port: u16) -> String {
    format!(
        r#"
[server]
host = "127.0.0.1"
port = {port}
metrics_port = 0
shutdown_grace_ms = 5000
# FerretDB serialises and scans where MongoDB would not: tests of exact outcomes under
# concurrency must not fail on a busy machine's latency.
request_timeout_ms = 60000

[readiness]
check_interval_ms = 200
check_timeout_ms = 2000
retry_initial_ms = 50
retry_max_ms = 400

[identity]
development_keys = true
"#
    )
}

/// The `[identity]` of the test services: development keys, nothing to provision.
pub fn identity_settings() -> crate::identity::IdentitySettings {
    crate::identity::IdentitySettings {
        development_keys: true,
        ..crate::identity::IdentitySettings::default()
    }
}

/// A channel to `target` whose calls carry `caller`'s development service token, as the
/// services' own clients do (the test services run with `identity.development_keys`).
pub async fn channel_as(
    addr: SocketAddr,
    caller: crate::identity::Peer,
    target: crate::identity::Peer,
) -> crate::peer::PeerChannel {
    let identity = crate::identity::ServiceIdentity::development(
        caller,
        &crate::identity::IdentitySettings::default(),
    );
    tonic::service::interceptor::InterceptedService::new(
        channel(addr).await,
        crate::peer::PeerInterceptor::new(std::sync::Arc::new(identity), target),
    )
}

/// The `[outbox]` table for services that have one: poll and retry quickly.
pub fn outbox_settings_toml() -> String {
    outbox_toml_polling_every(50)
}

/// The tests' `[outbox]` table with the relay polling every `poll_interval_ms`.
pub fn outbox_toml_polling_every(poll_interval_ms: u64) -> String {
    format!(
        "\n[outbox]\npoll_interval_ms = {poll_interval_ms}\nretry_initial_ms = 100\nretry_max_ms = 500\n"
    )
}

/// With `TEST_LOG` set (e.g. `TEST_LOG=debug`), the services under test log JSON lines to
/// stdout, as zero2prod's tests do; otherwise tests stay quiet.
pub fn init_test_logs() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        if let Ok(level) = std::env::var("TEST_LOG") {
            let settings = TelemetrySettings {
                log_level: if level.is_empty() {
                    "info".into()
                } else {
                    level
                },
                ..TelemetrySettings::default()
            };
            if let Ok(guard) = crate::telemetry::init("test", &settings) {
                std::mem::forget(guard); // lives as long as the test process
            }
        }
    });
}
