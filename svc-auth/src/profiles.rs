//! New accounts' profiles. svc-user creates each from a CreateProfile event that SignUp writes
//! in the account's own transaction (the outbox: no account without its event). SignUp then
//! delivers it at once, so the profile normally exists by the time SignUp answers; whatever
//! that cannot deliver (svc-user down or slow) the relay delivers later.

use prost::Message;
use xir_common::{delivery::DeliveryError, outbox::Event, peer::PeerChannel};
use xir_proto::user::v1::{CreateProfileRequest, user_service_client::UserServiceClient};

/// The outbox topic whose events become svc-user's CreateProfile calls.
pub const CREATE_PROFILE_TOPIC: &str = "user.create_profile";

/// Delivers outbox events to svc-user.
#[derive(Clone)]
pub struct Profiles {
    users: UserServiceClient<PeerChannel>,
}

impl Profiles {
    pub fn new(users: UserServiceClient<PeerChannel>) -> Self {
        Self { users }
    }

    /// One event to its receiver: CreateProfile is idempotent on the user id.
    pub async fn deliver(&self, event: Event) -> Result<(), DeliveryError> {
        match event.topic.as_str() {
            CREATE_PROFILE_TOPIC => {
                let request = CreateProfileRequest::decode(event.payload.as_slice())
                    .map_err(DeliveryError::undecodable)?;
                self.users.clone().create_profile(request).await?;
                Ok(())
            }
            other => Err(DeliveryError::Rejected(format!(
                "unknown outbox topic {other}"
            ))),
        }
    }
}
