//! Builds the application from settings: binds its listeners first (so tests can use port 0
//! and read the real ports), then serves until the shutdown future completes.

use std::{future::Future, sync::Arc, time::Duration};

use mongodb::Database;
use tonic::service::Routes;
use xir_common::{
    auth::AccessPolicy,
    bootstrap::{Background, Keys, Served, Service, Skeleton},
    cpu::CpuPool,
    identity::{InternalRpc, Peer},
    ids::IdGenerator,
    mongo,
    rate::PerUserLimit,
};
use xir_proto::{
    timeline::v1::timeline_service_client::TimelineServiceClient,
    tweet::v1::{SERVICE_NAME, tweet_service_server::TweetServiceServer},
    user::v1::user_service_client::UserServiceClient,
};

use crate::{
    cache::TweetCache,
    changes::Changes,
    config::Settings,
    grpc::TweetApi,
    relay::{self, Nudges, Receivers},
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
    skeleton: Skeleton,
    database: Database,
    /// The readiness check's own client (`mongo::probe_database`).
    probes: Database,
    ids: Arc<IdGenerator>,
}

impl Service for Application {
    const COMPONENT: &'static str = COMPONENT;
    type Settings = Settings;

    async fn build(settings: Settings) -> anyhow::Result<Self> {
        let database = mongo::database(&settings.database, COMPONENT).await?;
        let probes = mongo::probe_database(&settings.database, COMPONENT).await?;
        let ids = Arc::new(IdGenerator::from_settings(&settings.ids)?);
        let skeleton = Skeleton::bind(Peer::Tweet, SERVICE_NAME, &settings).await?;
        Ok(Self {
            settings,
            skeleton,
            database,
            probes,
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
        let timelines =
            TimelineServiceClient::new(connect(&self.settings.timeline_service, Peer::Timeline)?);
        let mut background = Background::default();
        let receivers = Receivers {
            timelines,
            users: users.clone(),
        };
        let nudges = Arc::new(Nudges::claiming_births(Duration::from_millis(
            self.settings.outbox.lease_ms,
        )));
        let cache = Arc::new(TweetCache::new(
            self.settings.redis.as_ref(),
            self.settings.tweet_cache.clone(),
        )?);
        background.add(relay::spawn(
            &self.database,
            self.settings.outbox.clone(),
            receivers,
            nudges.clone(),
            background.stop_token(),
        ));
        let tweets = Tweets::new(
            &self.database,
            self.ids.clone(),
            users,
            CpuPool::from_settings(&self.settings.server),
            PerUserLimit::new(self.settings.notifying_writes.clone()),
            Changes::new(nudges, cache),
        );
        // The same reactions as the API's: the sweeper drops the markers its requests queue.
        background.add(sweeper::spawn(
            tweets.reactions(),
            self.settings.server.request_timeout() * 3,
            background.stop_token(),
        ));
        let check = mongo::ReadinessCheck::new(self.probes.clone(), store::indexes())
            .with_worker_lease(self.ids.clone());
        let served = Served {
            routes: Routes::new(
                TweetServiceServer::new(TweetApi::new(tweets))
                    .max_decoding_message_size(MAX_REQUEST_BYTES),
            ),
            policy: AccessPolicy::new(SERVICE_NAME, PUBLIC_RPCS, INTERNAL_RPCS),
            keys: Keys::Remote,
            check: move || check.clone().check_owned(),
            background,
        };
        self.skeleton.serve(served, shutdown).await
    }
}
