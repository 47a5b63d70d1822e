//! The one way every service serves: a gRPC listener with health (`""` for liveness,
//! `readiness` for dependencies), reflection (v1 and v1alpha), the observe layer (spans and
//! metrics), a request timeout and a global concurrency limit (calls that got their turn run
//! to completion when their caller gives up); a `/metrics` listener; and a
//! graceful shutdown that turns readiness off, keeps serving for a drain delay while load
//! balancers notice, then closes the listener, drains in-flight calls within a grace period,
//! and returns.
//!
//! [`GrpcServer::bind`] binds both listeners up front so callers (tests) can ask for port 0
//! and learn the real ports before serving.

use std::{
    future::Future,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::{service::Routes, transport::server::TcpIncoming};
use tonic_health::{
    ServingStatus,
    pb::health_server::HealthServer,
    server::{HealthReporter, HealthService},
};

use crate::{
    auth::AuthLayer,
    limit::ApiConcurrencyLimitLayer,
    metrics,
    observe::ObserveLayer,
    readiness,
    settings::{ReadinessSettings, ServerSettings},
};

/// The health service name that reports whether dependencies are reachable.
pub const READINESS: &str = "readiness";

/// The largest request a service whose requests are all small reads (tonic's default is
/// 4 MiB). Their biggest requests, a hundred ids or a few short strings, are a few KB;
/// anything over this is refused before it is decoded (OUT_OF_RANGE).
pub const MAX_SMALL_REQUEST_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot bind {what} listener on {addr}")]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot build the reflection service")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("gRPC server failed")]
    Transport(#[from] tonic::transport::Error),
    #[error("metrics listener failed")]
    Metrics(#[source] std::io::Error),
}

/// Sets the `readiness` health status (and the service's own name, which follows it).
#[derive(Clone)]
pub struct Readiness {
    reporter: HealthReporter,
    service_name: &'static str,
    /// Set once shutdown begins: from then on readiness stays NOT_SERVING, whatever the
    /// dependency probe finds, so load balancers keep moving traffic away.
    stopping: Arc<AtomicBool>,
}

impl Readiness {
    pub async fn set(&self, ready: bool) {
        let ready = ready && !self.stopping.load(Ordering::SeqCst);
        self.report(ready).await;
        // A stop between the check above and the report would be overwritten: look again.
        if ready && self.stopping.load(Ordering::SeqCst) {
            self.report(false).await;
        }
    }

    async fn report(&self, ready: bool) {
        let status = if ready {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        self.reporter.set_service_status(READINESS, status).await;
        self.reporter
            .set_service_status(self.service_name, status)
            .await;
    }

    /// NOT_SERVING for good: the process is going away.
    async fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.set(false).await;
    }
}

pub struct GrpcServer {
    settings: ServerSettings,
    service_name: &'static str,
    grpc: TcpListener,
    metrics: TcpListener,
    readiness: Readiness,
    auth: Option<AuthLayer>,
}

impl GrpcServer {
    /// Binds the gRPC and metrics listeners. `service_name` is the fully qualified gRPC
    /// service this process serves (reflection lists it; health reports it with readiness).
    pub async fn bind(
        service_name: &'static str,
        settings: &ServerSettings,
    ) -> Result<Self, ServerError> {
        let grpc = bind("gRPC", SocketAddr::new(settings.host, settings.port)).await?;
        let metrics = bind(
            "metrics",
            SocketAddr::new(settings.host, settings.metrics_port),
        )
        .await?;
        let reporter = HealthReporter::new();
        let readiness = Readiness {
            reporter,
            service_name,
            stopping: Arc::default(),
        };
        // Not ready until the dependency probe says so; liveness ("") is SERVING already.
        readiness.set(false).await;
        Ok(Self {
            settings: settings.clone(),
            service_name,
            grpc,
            metrics,
            readiness,
            auth: None,
        })
    }

    /// Requires access tokens on every RPC the layer's policy does not open.
    pub fn with_auth(mut self, auth: AuthLayer) -> Self {
        self.auth = Some(auth);
        self
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn metrics_addr(&self) -> SocketAddr {
        self.metrics
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn readiness(&self) -> Readiness {
        self.readiness.clone()
    }

    /// [`GrpcServer::serve`], with readiness kept true to `check` (see [`readiness::spawn_probe`])
    /// from start until the server has stopped.
    pub async fn serve_with_probe<F, Fut, E>(
        self,
        routes: Routes,
        probe: ReadinessSettings,
        check: F,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError>
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send,
        E: std::error::Error + Send + Sync + 'static,
    {
        let stop_probe = CancellationToken::new();
        let probe = readiness::spawn_probe(self.readiness(), probe, stop_probe.clone(), check);
        let served = self.serve(routes, shutdown).await;
        stop_probe.cancel();
        let _ = probe.await;
        served
    }

    /// Serves `routes` (the service's own gRPC services) plus health and reflection until
    /// `shutdown` completes, then drains: readiness NOT_SERVING at once, calls still served for
    /// `server.drain_delay_ms` (the edge's health checks and the cluster's endpoints move
    /// traffic away meanwhile), then no new calls, and in-flight calls get up to
    /// `server.shutdown_grace_ms` to finish.
    pub async fn serve(
        self,
        routes: Routes,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let health = HealthServer::new(HealthService::from_health_reporter(
            self.readiness.reporter.clone(),
        ));
        let routes = routes
            .add_service(health)
            .add_service(reflection(self.service_name).build_v1()?)
            .add_service(reflection(self.service_name).build_v1alpha()?);

        // Cancelled once the drain delay after `shutdown` is over: the listeners close.
        let closing = CancellationToken::new();
        let drain_delay = self.settings.drain_delay();
        tokio::spawn({
            let (closing, readiness) = (closing.clone(), self.readiness.clone());
            async move {
                shutdown.await;
                readiness.stop().await;
                tracing::info!(
                    drain_delay_ms = drain_delay.as_millis() as u64,
                    "shutting down: readiness NOT_SERVING, still serving until the drain delay is over"
                );
                tokio::time::sleep(drain_delay).await;
                closing.cancel();
            }
        });

        let grpc_addr = self.grpc.local_addr().ok();
        let metrics_addr = self.metrics.local_addr().ok();
        tracing::info!(
            grpc_service = self.service_name,
            port = grpc_addr.map(|a| a.port()),
            metrics_port = metrics_addr.map(|a| a.port()),
            "listening"
        );

        let metrics = tokio::spawn(metrics::serve(self.metrics, closing.clone()));
        let drain_signal = {
            let closing = closing.clone();
            async move {
                closing.cancelled().await;
                tracing::info!("listener closed: draining in-flight calls");
            }
        };
        let server = tonic::transport::Server::builder()
            .timeout(self.settings.request_timeout())
            .layer(ObserveLayer)
            .layer(ApiConcurrencyLimitLayer::new(
                self.settings.concurrency_limit,
            ))
            .layer(tower::util::option_layer(self.auth))
            .add_routes(routes)
            .serve_with_incoming_shutdown(incoming(self.grpc), drain_signal);

        let grace = self.settings.shutdown_grace();
        let result = tokio::select! {
            result = server => result.map_err(ServerError::from),
            () = grace_elapsed(closing.clone(), grace) => {
                tracing::warn!(grace_ms = grace.as_millis() as u64, "grace period over: dropping calls still in flight");
                Ok(())
            }
        };
        closing.cancel();
        if let Ok(Err(error)) = metrics.await {
            return Err(ServerError::Metrics(error));
        }
        if result.is_ok() {
            tracing::info!("stopped");
        }
        result
    }
}

/// Reflection lists this process's own service and health (plus reflection itself), not the
/// other services that share the descriptor set.
fn reflection(service_name: &'static str) -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(xir_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .with_service_name(service_name)
        .with_service_name("grpc.health.v1.Health")
}

async fn grace_elapsed(closing: CancellationToken, grace: Duration) {
    closing.cancelled().await;
    tokio::time::sleep(grace).await;
}

/// Accepted connections with Nagle's algorithm off: a gRPC response is small frames written
/// one after another, and with Nagle on each waits for the peer's delayed ACK (about 40 ms on
/// Linux), which put a fixed delay on every call.
fn incoming(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener).with_nodelay(Some(true))
}

async fn bind(what: &'static str, addr: SocketAddr) -> Result<TcpListener, ServerError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { what, addr, source })
}
