//! Builds the application from settings: binds its listeners first (so tests can use port 0
//! and read the real ports), then serves until the shutdown future completes.

use std::{future::Future, net::SocketAddr, sync::Arc};

use prost::Message;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;
use xir_common::{
    auth::{AccessPolicy, AuthLayer, TokenVerifier},
    bootstrap::Service,
    delivery::DeliveryError,
    identity::{InternalRpc, Peer, ServiceIdentity},
    outbox,
    peer::{self, PeerChannel},
    postgres,
    rate::PerUserLimit,
    server::GrpcServer,
};
use xir_proto::timeline::v1::{FollowEvent, timeline_service_client::TimelineServiceClient};
use xir_proto::user::v1::{SERVICE_NAME, user_service_server::UserServiceServer};

use crate::{config::Settings, db, graph::FOLLOW_TOPIC, grpc::UserApi, profiles::Users};

pub const COMPONENT: &str = "svc-user";

/// RPCs anyone may call without a token.
const PUBLIC_RPCS: &[&str] = &[
    "GetProfile",
    "ListFollowers",
    "ListFollowing",
    "SearchUsers",
];
/// Service-to-service RPCs and the only services that may call each (the edge never routes
/// them). The chart's mesh policies are checked against this table.
pub const INTERNAL_RPCS: &[InternalRpc] = &[
    InternalRpc {
        method: "CreateProfile",
        callers: &[Peer::Auth],
    },
    InternalRpc {
        method: "BatchGetProfiles",
        callers: &[Peer::Tweet, Peer::Timeline],
    },
    InternalRpc {
        method: "ResolveUsernames",
        callers: &[Peer::Tweet],
    },
    InternalRpc {
        method: "ListFollowerIds",
        callers: &[Peer::Timeline],
    },
    InternalRpc {
        method: "ListFollowingIds",
        callers: &[Peer::Timeline],
    },
    InternalRpc {
        method: "ApplyTweetCountEvent",
        callers: &[Peer::Tweet],
    },
];

/// The largest request this service reads (tonic's default is 4 MiB). Its biggest requests,
/// a hundred ids or a few short strings, are a few KB; anything over this is refused before
/// it is decoded (OUT_OF_RANGE).
const MAX_REQUEST_BYTES: usize = 64 * 1024;

pub struct Application {
    settings: Settings,
    server: GrpcServer,
    pool: PgPool,
    identity: Arc<ServiceIdentity>,
}

impl Service for Application {
    const COMPONENT: &'static str = COMPONENT;
    type Settings = Settings;

    async fn build(settings: Settings) -> anyhow::Result<Self> {
        let pool = postgres::lazy_pool(&settings.database, COMPONENT)?;
        let identity = Arc::new(ServiceIdentity::from_settings(
            Peer::User,
            &settings.identity,
        )?);
        let server = GrpcServer::bind(SERVICE_NAME, &settings.server).await?;
        Ok(Self {
            settings,
            server,
            pool,
            identity,
        })
    }

    async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let timelines = TimelineServiceClient::new(peer::connect_lazy(
            &self.settings.timeline_service.url,
            &self.identity,
            Peer::Timeline,
        )?);
        let stop_relay = CancellationToken::new();
        let relay = outbox::spawn_relay(
            self.pool.clone(),
            self.settings.outbox.clone(),
            stop_relay.clone(),
            move |event| deliver(timelines.clone(), event),
        );
        let check = postgres::ReadinessCheck::new(self.pool.clone(), &db::MIGRATOR);
        let routes = Routes::new(
            UserServiceServer::new(UserApi::new(Users::new(
                self.pool.clone(),
                PerUserLimit::new(self.settings.notifying_writes.clone()),
            )))
            .max_decoding_message_size(MAX_REQUEST_BYTES),
        );
        let verifier = TokenVerifier::remote(&self.settings.auth)?;
        let auth = AuthLayer::new(
            Arc::new(verifier),
            self.identity.clone(),
            AccessPolicy::new(SERVICE_NAME, PUBLIC_RPCS, INTERNAL_RPCS),
        );
        let served = self
            .server
            .with_auth(auth)
            .serve_with_probe(
                routes,
                self.settings.readiness,
                move || check.clone().check_owned(),
                shutdown,
            )
            .await;
        stop_relay.cancel();
        let _ = relay.await;
        self.pool.close().await;
        Ok(served?)
    }
}

impl Application {
    pub fn grpc_addr(&self) -> SocketAddr {
        self.server.grpc_addr()
    }

    pub fn metrics_addr(&self) -> SocketAddr {
        self.server.metrics_addr()
    }
}

async fn deliver(
    mut timelines: TimelineServiceClient<PeerChannel>,
    event: outbox::Event,
) -> Result<(), DeliveryError> {
    match event.topic.as_str() {
        FOLLOW_TOPIC => {
            let mut follow = FollowEvent::decode(event.payload.as_slice())
                .map_err(DeliveryError::undecodable)?;
            follow.event_id = event.event_id(COMPONENT);
            timelines.apply_follow_event(follow).await?;
            Ok(())
        }
        other => Err(DeliveryError::Rejected(format!(
            "unknown outbox topic {other}"
        ))),
    }
}
