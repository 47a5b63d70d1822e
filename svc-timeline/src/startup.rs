//! Builds the application from settings: binds its listeners first (so tests can use port 0
//! and read the real ports), then serves until the shutdown future completes.

use std::{future::Future, net::SocketAddr, sync::Arc};

use mongodb::Database;
use tonic::service::Routes;
use xir_common::{
    auth::{AccessPolicy, AuthLayer, TokenVerifier},
    bootstrap::Service,
    identity::{InternalRpc, Peer, ServiceIdentity},
    mongo,
    peer::{self, PeerChannel},
    server::GrpcServer,
};
use xir_proto::timeline::v1::{SERVICE_NAME, timeline_service_server::TimelineServiceServer};
use xir_proto::{
    tweet::v1::tweet_service_client::TweetServiceClient,
    user::v1::user_service_client::UserServiceClient,
};

use crate::{config::Settings, fanout::Fanout, grpc::TimelineApi, store, timelines::Timelines};

pub const COMPONENT: &str = "svc-timeline";

/// RPCs anyone may call without a token.
const PUBLIC_RPCS: &[&str] = &[];
/// Service-to-service RPCs and the only services that may call each (the edge never routes
/// them). The chart's mesh policies are checked against this table.
pub const INTERNAL_RPCS: &[InternalRpc] = &[
    InternalRpc {
        method: "ApplyTweetEvent",
        callers: &[Peer::Tweet],
    },
    InternalRpc {
        method: "ApplyFollowEvent",
        callers: &[Peer::User],
    },
];

/// The largest request this service reads (tonic's default is 4 MiB). Its biggest requests,
/// a hundred ids or a few short strings, are a few KB; anything over this is refused before
/// it is decoded (OUT_OF_RANGE).
const MAX_REQUEST_BYTES: usize = 64 * 1024;

pub struct Application {
    settings: Settings,
    server: GrpcServer,
    database: Database,
    ids: Arc<xir_common::ids::IdGenerator>,
    identity: Arc<ServiceIdentity>,
    users: UserServiceClient<PeerChannel>,
    tweets: TweetServiceClient<PeerChannel>,
}

impl Service for Application {
    const COMPONENT: &'static str = COMPONENT;
    type Settings = Settings;

    async fn build(settings: Settings) -> anyhow::Result<Self> {
        let database = mongo::database(&settings.database, COMPONENT).await?;
        let ids = Arc::new(xir_common::ids::IdGenerator::from_settings(&settings.ids)?);
        let identity = Arc::new(ServiceIdentity::from_settings(
            Peer::Timeline,
            &settings.identity,
        )?);
        let users = UserServiceClient::new(peer::connect_lazy(
            &settings.user_service.url,
            &identity,
            Peer::User,
        )?);
        let tweets = TweetServiceClient::new(peer::connect_lazy(
            &settings.tweet_service.url,
            &identity,
            Peer::Tweet,
        )?);
        let server = GrpcServer::bind(SERVICE_NAME, &settings.server).await?;
        Ok(Self {
            settings,
            server,
            database,
            ids,
            identity,
            users,
            tweets,
        })
    }

    async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let check = mongo::ReadinessCheck::new(self.database.clone(), store::indexes())
            .with_worker_lease(self.ids.clone());
        let routes = Routes::new(
            TimelineServiceServer::new(TimelineApi::new(Timelines::new(
                &self.database,
                self.ids.clone(),
                Arc::new(Fanout {
                    entries: self.database.collection(store::ENTRIES),
                    users: self.users.clone(),
                    settings: self.settings.fanout.clone(),
                }),
                self.users.clone(),
                self.tweets.clone(),
            )))
            .max_decoding_message_size(MAX_REQUEST_BYTES),
        );
        let verifier = TokenVerifier::remote(&self.settings.auth)?;
        let auth = AuthLayer::new(
            Arc::new(verifier),
            self.identity.clone(),
            AccessPolicy::new(SERVICE_NAME, PUBLIC_RPCS, INTERNAL_RPCS),
        );
        self.server
            .with_auth(auth)
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

impl Application {
    pub fn grpc_addr(&self) -> SocketAddr {
        self.server.grpc_addr()
    }

    pub fn metrics_addr(&self) -> SocketAddr {
        self.server.metrics_addr()
    }
}
