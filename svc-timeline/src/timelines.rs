//! svc-timeline's state: its collections, the fan-out writer (over the home timelines in
//! Redis) and the clients of the services it reads from. The logic lives in `applying` (events), `home` and `notifications`.

use std::{collections::HashMap, sync::Arc};

use mongodb::{Collection, Database};
use tokio::sync::watch;
use xir_common::{ids::IdGenerator, peer::PeerChannel};
use xir_proto::{
    tweet::v1::tweet_service_client::TweetServiceClient,
    user::v1::user_service_client::UserServiceClient,
};

use crate::{
    fanout::Fanout,
    store::{self, AppliedDoc, MarkerDoc, NotificationDoc},
};

/// The outcome of one event application still running, by event id.
pub(crate) type InFlight =
    Arc<std::sync::Mutex<HashMap<String, watch::Receiver<Option<Result<(), String>>>>>>;

#[derive(Clone)]
pub struct Timelines {
    pub(crate) in_flight: InFlight,
    pub(crate) notifications: Collection<NotificationDoc>,
    pub(crate) markers: Collection<MarkerDoc>,
    pub(crate) applied: Collection<AppliedDoc>,
    pub(crate) ids: Arc<IdGenerator>,
    pub(crate) fanout: Arc<Fanout>,
    pub(crate) users: UserServiceClient<PeerChannel>,
    pub(crate) tweets: TweetServiceClient<PeerChannel>,
}

impl Timelines {
    pub fn new(
        database: &Database,
        ids: Arc<IdGenerator>,
        fanout: Arc<Fanout>,
        users: UserServiceClient<PeerChannel>,
        tweets: TweetServiceClient<PeerChannel>,
    ) -> Self {
        Self {
            in_flight: InFlight::default(),
            notifications: database.collection(store::NOTIFICATIONS),
            markers: database.collection(store::MARKERS),
            applied: database.collection(store::APPLIED_EVENTS),
            ids,
            fanout,
            users,
            tweets,
        }
    }
}
