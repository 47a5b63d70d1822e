//! Builds the application from settings: binds its listeners first (so tests can use port 0
//! and read the real ports), then serves until the shutdown future completes.

use std::{future::Future, net::SocketAddr, sync::Arc};

use mongodb::Database;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;
use xir_common::{
    auth::{AccessPolicy, AuthLayer, TokenVerifier},
    bootstrap::Service,
    cpu::CpuPool,
    identity::{InternalRpc, Peer, ServiceIdentity},
    ids::IdGenerator,
    mongo,
    peer::{self, PeerChannel},
    rate::PerUserLimit,
    server::GrpcServer,
};
use xir_proto::{
    timeline::v1::timeline_service_client::TimelineServiceClient,
    tweet::v1::{SERVICE_NAME, tweet_service_server::TweetServiceServer},
    user::v1::user_service_client::UserServiceClient,
};

use crate::{
    config::Settings,
    grpc::TweetApi,
    relay::{self, Receivers},
    store, sweeper,
    tweets::Tweets,
};

pub const COMPONENT: &str = "svc-tweet";

/// RPCs anyone may call without a token (a token, when sent, personalises them).
const PUBLIC_RPCS: &[&str] = &[
    "GetTweet",
    "ListUserTweets",
    "GetThread",
    "ListHashtagTweets",
];
/// Service-to-service RPCs and the only services that may call each (the edge never routes
/// them). The chart's mesh policies are checked against this table.
pub const INTERNAL_RPCS: &[InternalRpc] = &[
    InternalRpc {
        method: "BatchGetTweets",
        callers: &[Peer::Timeline],
    },
    InternalRpc {
        method: "ListRecentByAuthors",
        callers: &[Peer::Timeline],
    },
];

/// The largest request svc-tweet reads (tonic's default is 4 MiB). A valid request is a few KB
/// (tweet text is at most 8 KiB); the bound is set well above that so an oversized text up to
/// 2 MiB is refused by its field (INVALID_ARGUMENT naming `text`) rather than by the
/// transport, and anything larger is refused before it is decoded (OUT_OF_RANGE).
const MAX_REQUEST_BYTES: usize = 2 * 1024 * 1024;

pub struct Application {
    settings: Settings,
    server: GrpcServer,
    database: Database,
    ids: Arc<IdGenerator>,
    identity: Arc<ServiceIdentity>,
    users: UserServiceClient<PeerChannel>,
    timelines: TimelineServiceClient<PeerChannel>,
}

impl Service for Application {
    const COMPONENT: &'static str = COMPONENT;
    type Settings = Settings;

    async fn build(settings: Settings) -> anyhow::Result<Self> {
        let database = mongo::database(&settings.database, COMPONENT).await?;
        let ids = Arc::new(IdGenerator::from_settings(&settings.ids)?);
        let identity = Arc::new(ServiceIdentity::from_settings(
            Peer::Tweet,
            &settings.identity,
        )?);
        let users = UserServiceClient::new(peer::connect_lazy(
            &settings.user_service.url,
            &identity,
            Peer::User,
        )?);
        let timelines = TimelineServiceClient::new(peer::connect_lazy(
            &settings.timeline_service.url,
            &identity,
            Peer::Timeline,
        )?);
        let server = GrpcServer::bind(SERVICE_NAME, &settings.server).await?;
        Ok(Self {
            settings,
            server,
            database,
            ids,
            identity,
            users,
            timelines,
        })
    }

    async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let stop_relay = CancellationToken::new();
        let receivers = Receivers {
            timelines: self.timelines.clone(),
            users: self.users.clone(),
        };
        let relay = relay::spawn(
            &self.database,
            self.settings.outbox.clone(),
            receivers,
            stop_relay.clone(),
        );
        let check = mongo::ReadinessCheck::new(self.database.clone(), store::indexes())
            .with_worker_lease(self.ids.clone());
        let tweets = Tweets::new(
            &self.database,
            self.ids.clone(),
            self.users.clone(),
            CpuPool::from_settings(&self.settings.server),
            PerUserLimit::new(self.settings.notifying_writes.clone()),
        );
        // The same reactions as the API's: the sweeper drops the markers its requests queue.
        let sweeper = sweeper::spawn(
            tweets.reactions(),
            self.settings.server.request_timeout() * 3,
            stop_relay.clone(),
        );
        let api = TweetApi::new(tweets);
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
                Routes::new(
                    TweetServiceServer::new(api).max_decoding_message_size(MAX_REQUEST_BYTES),
                ),
                self.settings.readiness,
                move || check.clone().check_owned(),
                shutdown,
            )
            .await;
        stop_relay.cancel();
        let _ = relay.await;
        let _ = sweeper.await;
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
