//! Acting as users in a running stack: tokens minted with svc-auth's own key, users and follows
//! seeded in bulk, clients of each service, and the edge in front of them.

use std::net::SocketAddr;

use tonic::transport::Channel;
use xir_common::{auth::AuthSettings, domain::UserId, identity::Peer, peer::PeerChannel, testing};
use xir_proto::{
    auth::v1::auth_service_client::AuthServiceClient,
    timeline::v1::timeline_service_client::TimelineServiceClient,
    tweet::v1::tweet_service_client::TweetServiceClient,
    user::v1::{FollowRequest, user_service_client::UserServiceClient},
};

use crate::{Stack, bearer, edge};

impl Stack {
    /// An access token for `user_id`, signed with svc-auth's key.
    pub fn token(&self, user_id: i64) -> String {
        self.keys
            .mint(
                UserId::parse(user_id).expect("positive id"),
                &AuthSettings::default(),
                3600,
            )
            .expect("mint")
            .0
    }

    /// An access token for `user_id` that is well formed and signed, but by a key svc-auth
    /// never published: its `kid` is unknown to every service.
    pub fn token_with_unknown_key(&self, user_id: i64) -> String {
        let pem = svc_auth::keys::generate_pem().expect("signing key");
        svc_auth::keys::SigningKeys::from_settings(&svc_auth::config::TokenSettings {
            signing_key_pem: Some(xir_common::settings::Secret::new(pem)),
            ..Default::default()
        })
        .expect("keys")
        .mint(
            UserId::parse(user_id).expect("positive id"),
            &AuthSettings::default(),
            3600,
        )
        .expect("mint")
        .0
    }

    pub async fn user_pool(&self) -> sqlx::PgPool {
        sqlx::PgPool::connect(self.user_database.url())
            .await
            .expect("svc-user database")
    }

    /// Profiles `first..first+count` named `<prefix><id>`, inserted directly in one statement.
    pub async fn seed_profiles(&self, first: i64, count: i64, prefix: &str) -> Vec<i64> {
        sqlx::query(
            "INSERT INTO profiles (user_id, username, display_name, created_at)
             SELECT id, $3 || id, 'User ' || id, now() FROM generate_series($1::bigint, $1 + $2 - 1) AS id",
        )
        .bind(first)
        .bind(count)
        .bind(prefix)
        .execute(&self.user_pool().await)
        .await
        .expect("seed profiles");
        (first..first + count).collect()
    }

    /// `follower` follows `followee` through svc-user's Follow RPC (events and all); panics
    /// unless it succeeds.
    pub async fn follow(&self, follower: i64, followee: i64) {
        self.users()
            .await
            .follow(bearer(
                &self.token(follower),
                FollowRequest { user_id: followee },
            ))
            .await
            .expect("follow");
    }

    /// Makes each of `followers` follow `followee` directly in svc-user's tables (edges and
    /// counts), without events: a graph to start from, not a follow under test.
    pub async fn seed_followers(&self, followee: i64, followers: &[i64]) {
        let pool = self.user_pool().await;
        sqlx::query(
            "INSERT INTO follows (follower_id, followee_id) SELECT unnest($1::bigint[]), $2",
        )
        .bind(followers)
        .bind(followee)
        .execute(&pool)
        .await
        .expect("seed edges");
        sqlx::query(
            "UPDATE profiles SET
                 followers_count = followers_count + CASE WHEN user_id = $2 THEN cardinality($1::bigint[]) ELSE 0 END,
                 following_count = following_count + CASE WHEN user_id = $2 THEN 0 ELSE 1 END
             WHERE user_id = $2 OR user_id = ANY($1)",
        )
        .bind(followers)
        .bind(followee)
        .execute(&pool)
        .await
        .expect("seed counts");
    }

    pub async fn auth(&self) -> AuthServiceClient<Channel> {
        AuthServiceClient::new(testing::channel(self.auth_addr).await)
    }

    pub async fn users(&self) -> UserServiceClient<Channel> {
        UserServiceClient::new(testing::channel(self.user_addr).await)
    }

    pub async fn tweets(&self) -> TweetServiceClient<Channel> {
        TweetServiceClient::new(testing::channel(self.tweet_addr).await)
    }

    pub async fn timelines(&self) -> TimelineServiceClient<Channel> {
        TimelineServiceClient::new(testing::channel(self.timeline_addr).await)
    }

    /// svc-tweet as `caller` calls it (with its service token): for internal RPCs.
    pub async fn tweets_as(&self, caller: Peer) -> TweetServiceClient<PeerChannel> {
        TweetServiceClient::new(testing::channel_as(self.tweet_addr, caller, Peer::Tweet).await)
    }

    /// The real Envoy edge in front of this stack, on `config` with its clusters mapped to
    /// the services; its spans go nowhere.
    pub async fn start_edge(&self, config: edge::EdgeConfig) -> edge::Edge {
        self.start_traced_edge(config, None).await
    }

    /// The edge, sending its spans over OTLP/gRPC to `otlp` when given.
    pub async fn start_traced_edge(
        &self,
        config: edge::EdgeConfig,
        otlp: Option<SocketAddr>,
    ) -> edge::Edge {
        edge::Edge::start(
            config,
            &[
                ("svc-auth", self.auth_addr),
                ("svc-user", self.user_addr),
                ("svc-tweet", self.tweet_addr),
                ("svc-timeline", self.timeline_addr),
            ],
            otlp,
        )
        .await
    }
}
