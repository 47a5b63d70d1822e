//! Builds the application from settings: binds its listeners first (so tests can use port 0
//! and read the real ports), then serves until the shutdown future completes.

use std::{future::Future, net::SocketAddr, sync::Arc};

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;
use xir_common::{
    auth::{AccessPolicy, AuthLayer, KeySource, TokenVerifier},
    bootstrap::Service,
    cpu::CpuPool,
    identity::{Peer, ServiceIdentity},
    ids::IdGenerator,
    outbox,
    peer::{self, PeerChannel},
    postgres,
    server::GrpcServer,
};
use xir_proto::{
    auth::v1::{SERVICE_NAME, auth_service_server::AuthServiceServer},
    user::v1::user_service_client::UserServiceClient,
};

use crate::{
    accounts::Accounts, config::Settings, db, grpc::AuthApi, keys::SigningKeys, passwords::Hasher,
    profiles::Profiles,
};

pub const COMPONENT: &str = "svc-auth";

/// RPCs that need no access token; ChangePassword needs one.
const PUBLIC_RPCS: &[&str] = &["SignUp", "Login", "Refresh", "Logout", "GetJwks"];

/// The largest request this service reads (tonic's default is 4 MiB). Its biggest requests,
/// a hundred ids or a few short strings, are a few KB; anything over this is refused before
/// it is decoded (OUT_OF_RANGE).
const MAX_REQUEST_BYTES: usize = 64 * 1024;

pub struct Application {
    settings: Arc<Settings>,
    server: GrpcServer,
    pool: PgPool,
    keys: Arc<SigningKeys>,
    hasher: Hasher,
    ids: Arc<IdGenerator>,
    identity: Arc<ServiceIdentity>,
    users: UserServiceClient<PeerChannel>,
}

impl Service for Application {
    const COMPONENT: &'static str = COMPONENT;
    type Settings = Settings;

    async fn build(settings: Settings) -> anyhow::Result<Self> {
        let pool = postgres::lazy_pool(&settings.database, COMPONENT)?;
        let keys = Arc::new(SigningKeys::from_settings(&settings.tokens)?);
        let hasher = Hasher::new(
            &settings.passwords,
            CpuPool::from_settings(&settings.server),
        )?;
        let ids = Arc::new(IdGenerator::from_settings(&settings.ids)?);
        let identity = Arc::new(ServiceIdentity::from_settings(
            Peer::Auth,
            &settings.identity,
        )?);
        let users = UserServiceClient::new(peer::connect_lazy(
            &settings.user_service.url,
            &identity,
            Peer::User,
        )?);
        let server = GrpcServer::bind(SERVICE_NAME, &settings.server).await?;
        Ok(Self {
            settings: Arc::new(settings),
            server,
            pool,
            keys,
            hasher,
            ids,
            identity,
            users,
        })
    }

    async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let stop_relay = CancellationToken::new();
        let profiles = Profiles::new(self.users.clone());
        let relayed = profiles.clone();
        let relay = outbox::spawn_relay(
            self.pool.clone(),
            self.settings.outbox.clone(),
            stop_relay.clone(),
            move |event| {
                let profiles = relayed.clone();
                async move { profiles.deliver(event).await }
            },
        );

        let verifier = TokenVerifier::new(&self.settings.auth, KeySource::Local(self.keys.jwks()));
        let auth = AuthLayer::new(
            Arc::new(verifier),
            self.identity.clone(),
            AccessPolicy::new(SERVICE_NAME, PUBLIC_RPCS, &[]),
        );
        let api = AuthApi::new(Accounts::new(
            self.pool.clone(),
            self.keys.clone(),
            self.hasher.clone(),
            self.ids.clone(),
            self.settings.clone(),
            profiles,
        ));
        let check = postgres::ReadinessCheck::new(self.pool.clone(), &db::MIGRATOR)
            .with_worker_lease(self.ids.clone());
        let served = self
            .server
            .with_auth(auth)
            .serve_with_probe(
                Routes::new(
                    AuthServiceServer::new(api).max_decoding_message_size(MAX_REQUEST_BYTES),
                ),
                self.settings.readiness.clone(),
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
