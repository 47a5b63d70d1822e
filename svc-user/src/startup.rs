//! Builds the application from settings: binds its listeners first (so tests can use port 0
//! and read the real ports), then serves until the shutdown future completes.

use std::{future::Future, net::SocketAddr};

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;
use xir_common::{postgres, readiness, server::GrpcServer};
use xir_proto::user::v1::{SERVICE_NAME, user_service_server::UserServiceServer};

use crate::{config::Settings, db, grpc::UserApi};

pub const COMPONENT: &str = "svc-user";

pub struct Application {
    settings: Settings,
    server: GrpcServer,
    pool: PgPool,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let pool = postgres::lazy_pool(&settings.database, COMPONENT)?;
        let server = GrpcServer::bind(SERVICE_NAME, &settings.server).await?;
        Ok(Self {
            settings,
            server,
            pool,
        })
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.server.grpc_addr()
    }

    pub fn metrics_addr(&self) -> SocketAddr {
        self.server.metrics_addr()
    }

    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let stop_probe = CancellationToken::new();
        let check = postgres::ReadinessCheck::new(self.pool.clone(), &db::MIGRATOR);
        let probe = readiness::spawn_probe(
            self.server.readiness(),
            self.settings.readiness.clone(),
            stop_probe.clone(),
            move || {
                let check = check.clone();
                async move { check.check().await }
            },
        );
        let routes = Routes::new(UserServiceServer::new(UserApi::new(self.pool.clone())));
        let served = self.server.serve(routes, shutdown).await;
        stop_probe.cancel();
        let _ = probe.await;
        self.pool.close().await;
        Ok(served?)
    }
}
