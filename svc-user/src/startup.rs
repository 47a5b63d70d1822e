//! Builds the application from settings: binds its listeners first (so tests can use port 0
//! and read the real ports), then serves until the shutdown future completes.

use std::future::Future;

use prost::Message;
use sqlx::PgPool;
use tonic::service::Routes;
use xir_common::{
    auth::AccessPolicy,
    bootstrap::{Background, Keys, Served, Service, Skeleton},
    delivery::{self, DeliveryError, Sendable},
    identity::{InternalRpc, Peer},
    outbox,
    peer::PeerChannel,
    postgres,
    rate::PerUserLimit,
    server::MAX_SMALL_REQUEST_BYTES,
};
use xir_proto::timeline::v1::{
    ApplyFollowEventsRequest, FollowEvent, FollowEventSequence,
    timeline_service_client::TimelineServiceClient,
};
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

pub struct Application {
    settings: Settings,
    skeleton: Skeleton,
    pool: PgPool,
}

impl Service for Application {
    const COMPONENT: &'static str = COMPONENT;
    type Settings = Settings;

    async fn build(settings: Settings) -> anyhow::Result<Self> {
        let pool = postgres::lazy_pool(&settings.database, COMPONENT)?;
        let skeleton = Skeleton::bind(Peer::User, SERVICE_NAME, &settings).await?;
        Ok(Self {
            settings,
            skeleton,
            pool,
        })
    }

    fn skeleton(&self) -> &Skeleton {
        &self.skeleton
    }

    async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let timelines = TimelineServiceClient::new(
            self.skeleton
                .connect(&self.settings.timeline_service, Peer::Timeline)?,
        );
        let mut background = Background::default();
        background.add(outbox::spawn_batch_relay(
            self.pool.clone(),
            self.settings.outbox.clone(),
            background.stop_token(),
            move |sequences| deliver(timelines.clone(), sequences),
        ));
        let users = Users::new(
            self.pool.clone(),
            PerUserLimit::new(self.settings.notifying_writes.clone()),
        );
        let check = postgres::ReadinessCheck::new(self.pool.clone(), &db::MIGRATOR);
        let served = Served {
            routes: Routes::new(
                UserServiceServer::new(UserApi::new(users))
                    .max_decoding_message_size(MAX_SMALL_REQUEST_BYTES),
            ),
            policy: AccessPolicy::new(SERVICE_NAME, PUBLIC_RPCS, INTERNAL_RPCS),
            keys: Keys::Remote,
            check: move || check.clone().check_owned(),
            background,
        };
        let result = self.skeleton.serve(served, shutdown).await;
        self.pool.close().await;
        result
    }
}

/// A relay pass's follow events, each follower's in order, in ApplyFollowEvents calls.
async fn deliver(
    timelines: TimelineServiceClient<PeerChannel>,
    sequences: Vec<Vec<outbox::Event>>,
) -> Vec<outbox::Outcomes> {
    let sendable = sequences
        .iter()
        .map(|events| Sendable::up_to_refusal(events, follow_event))
        .collect();
    delivery::deliver_in_calls(
        sendable,
        |sequences| {
            let mut timelines = timelines.clone();
            let sequences = sequences
                .into_iter()
                .map(|events| FollowEventSequence { events })
                .collect();
            async move {
                let reply = timelines
                    .apply_follow_events(ApplyFollowEventsRequest { sequences })
                    .await?;
                Ok(delivery::batch_outcomes(reply.into_inner()))
            }
        },
        |event| {
            let mut timelines = timelines.clone();
            async move { timelines.apply_follow_event(event).await.map(|_| ()) }
        },
    )
    .await
}

/// An outbox row as the follow event svc-timeline takes; refused for an unknown topic or a
/// payload that does not decode.
fn follow_event(event: &outbox::Event) -> Result<FollowEvent, DeliveryError> {
    if event.topic != FOLLOW_TOPIC {
        let reason = format!("unknown outbox topic {}", event.topic);
        return Err(DeliveryError::Rejected(reason));
    }
    let mut follow =
        FollowEvent::decode(event.payload.as_slice()).map_err(DeliveryError::undecodable)?;
    follow.event_id = event.event_id(COMPONENT);
    Ok(follow)
}
