//! Builds the application from settings: binds its listeners first (so tests can use port 0
//! and read the real ports), then serves until the shutdown future completes.

use std::{future::Future, sync::Arc};

use mongodb::Database;
use tonic::service::Routes;
use xir_common::{
    auth::AccessPolicy,
    bootstrap::{Background, Keys, Served, Service, Skeleton},
    errors::During,
    identity::{InternalRpc, Peer},
    ids::IdGenerator,
    mongo,
    server::MAX_SMALL_REQUEST_BYTES,
};
use xir_proto::timeline::v1::{SERVICE_NAME, timeline_service_server::TimelineServiceServer};
use xir_proto::{
    tweet::v1::tweet_service_client::TweetServiceClient,
    user::v1::user_service_client::UserServiceClient,
};

use crate::{
    config::Settings, error::Error, fanout::Fanout, grpc::TimelineApi, homes::HomeTimelines, store,
    timelines::Timelines,
};

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
    InternalRpc {
        method: "ApplyTweetEvents",
        callers: &[Peer::Tweet],
    },
    InternalRpc {
        method: "ApplyFollowEvents",
        callers: &[Peer::User],
    },
];

pub struct Application {
    settings: Settings,
    skeleton: Skeleton,
    database: Database,
    /// The readiness check's own client (`mongo::probe_database`).
    probes: Database,
    homes: Arc<HomeTimelines>,
    ids: Arc<IdGenerator>,
}

impl Service for Application {
    const COMPONENT: &'static str = COMPONENT;
    type Settings = Settings;

    async fn build(settings: Settings) -> anyhow::Result<Self> {
        let database = mongo::database(&settings.database, COMPONENT).await?;
        let probes = mongo::probe_database(&settings.database, COMPONENT).await?;
        let homes = Arc::new(HomeTimelines::new(
            &settings.redis,
            settings.fanout.timeline_cap,
        )?);
        let ids = Arc::new(IdGenerator::from_settings(&settings.ids)?);
        let skeleton = Skeleton::bind(Peer::Timeline, SERVICE_NAME, &settings).await?;
        Ok(Self {
            settings,
            skeleton,
            database,
            probes,
            homes,
            ids,
        })
    }

    fn skeleton(&self) -> &Skeleton {
        &self.skeleton
    }

    async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let connect = |service, to| self.skeleton.connect(service, to);
        let users = UserServiceClient::new(connect(&self.settings.user_service, Peer::User)?);
        let tweets = TweetServiceClient::new(connect(&self.settings.tweet_service, Peer::Tweet)?);
        let fanout = Arc::new(Fanout {
            homes: self.homes.clone(),
            users: users.clone(),
            settings: self.settings.fanout.clone(),
        });
        let timelines = Timelines::new(&self.database, self.ids.clone(), fanout, users, tweets);
        let check = mongo::ReadinessCheck::new(self.probes.clone(), store::indexes())
            .with_worker_lease(self.ids.clone());
        let homes = self.homes.clone();
        let served = Served {
            routes: Routes::new(
                TimelineServiceServer::new(TimelineApi::new(timelines))
                    .max_decoding_message_size(MAX_SMALL_REQUEST_BYTES),
            ),
            policy: AccessPolicy::new(SERVICE_NAME, PUBLIC_RPCS, INTERNAL_RPCS),
            keys: Keys::Remote,
            // Ready when MongoDB and Redis both answer.
            check: move || {
                let (mongo, homes) = (check.clone(), homes.clone());
                async move {
                    mongo.check_owned().await.during("check MongoDB")?;
                    homes.ping().await?;
                    Ok::<(), Error>(())
                }
            },
            background: Background::default(),
        };
        self.skeleton.serve(served, shutdown).await
    }
}
