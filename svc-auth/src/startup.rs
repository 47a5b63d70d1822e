//! Builds the application from settings: binds its listeners first (so tests can use port 0
//! and read the real ports), then serves until the shutdown future completes.

use std::{future::Future, sync::Arc};

use sqlx::PgPool;
use tonic::service::Routes;
use xir_common::{
    auth::AccessPolicy,
    bootstrap::{Background, Keys, Served, Service, Skeleton},
    cpu::CpuPool,
    identity::Peer,
    ids::IdGenerator,
    outbox, postgres,
    server::MAX_SMALL_REQUEST_BYTES,
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

pub struct Application {
    settings: Arc<Settings>,
    skeleton: Skeleton,
    pool: PgPool,
    keys: Arc<SigningKeys>,
    hasher: Hasher,
    ids: Arc<IdGenerator>,
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
        let skeleton = Skeleton::bind(Peer::Auth, SERVICE_NAME, &settings).await?;
        Ok(Self {
            settings: Arc::new(settings),
            skeleton,
            pool,
            keys,
            hasher,
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
        let users = UserServiceClient::new(
            self.skeleton
                .connect(&self.settings.user_service, Peer::User)?,
        );
        let profiles = Profiles::new(users);
        let relayed = profiles.clone();
        let mut background = Background::default();
        background.add(outbox::spawn_relay(
            self.pool.clone(),
            self.settings.outbox.clone(),
            background.stop_token(),
            move |event| {
                let profiles = relayed.clone();
                async move { profiles.deliver(event).await }
            },
        ));
        let accounts = Accounts::new(
            self.pool.clone(),
            self.keys.clone(),
            self.hasher.clone(),
            self.ids.clone(),
            self.settings.clone(),
            profiles,
        );
        let check = postgres::ReadinessCheck::new(self.pool.clone(), &db::MIGRATOR)
            .with_worker_lease(self.ids.clone());
        let served = Served {
            routes: Routes::new(
                AuthServiceServer::new(AuthApi::new(accounts))
                    .max_decoding_message_size(MAX_SMALL_REQUEST_BYTES),
            ),
            policy: AccessPolicy::new(SERVICE_NAME, PUBLIC_RPCS, &[]),
            keys: Keys::Local(self.keys.jwks()),
            check: move || check.clone().check_owned(),
            background,
        };
        let result = self.skeleton.serve(served, shutdown).await;
        self.pool.close().await;
        result
    }
}
