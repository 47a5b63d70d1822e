//! Builds the application from settings: binds its listeners first (so tests can use port 0
//! and read the real ports), then serves until the shutdown future completes.

use std::{future::Future, net::SocketAddr};

use mongodb::Database;
use tonic::service::Routes;
use xir_common::{mongo, server::GrpcServer};
use xir_proto::timeline::v1::{SERVICE_NAME, timeline_service_server::TimelineServiceServer};

use crate::{config::Settings, grpc::TimelineApi, store};

pub const COMPONENT: &str = "svc-timeline";

pub struct Application {
    settings: Settings,
    server: GrpcServer,
    database: Database,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let database = mongo::database(&settings.database, COMPONENT).await?;
        let server = GrpcServer::bind(SERVICE_NAME, &settings.server).await?;
        Ok(Self {
            settings,
            server,
            database,
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
        let check = mongo::ReadinessCheck::new(self.database.clone(), store::indexes());
        let routes = Routes::new(TimelineServiceServer::new(TimelineApi::new(
            self.database.clone(),
        )));
        self.server
            .serve_with_probe(
                routes,
                self.settings.readiness,
                move || check.clone().check_owned(),
                shutdown,
            )
            .await?;
        Ok(())
    }
}
