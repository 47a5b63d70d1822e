//! Reading profiles from svc-user for the services that show them next to tweets (svc-tweet's
//! cards, svc-timeline's hydration): one batched call per 100 ids.

use std::collections::HashMap;

use tonic::Status;
use xir_proto::user::v1::{
    BatchGetProfilesRequest, Profile, user_service_client::UserServiceClient,
};

use crate::peer::PeerChannel;

/// Most ids svc-user's BatchGetProfiles takes at once.
const BATCH: usize = 100;

/// The profiles of `ids` (positive ones, each asked once), by user id; users without a profile
/// are left out.
#[tracing::instrument(name = "batch_get_profiles", skip_all, fields(profiles = ids.len()))]
pub async fn by_id(
    users: &UserServiceClient<PeerChannel>,
    ids: &[i64],
) -> Result<HashMap<i64, Profile>, Status> {
    let mut unique: Vec<i64> = ids.iter().copied().filter(|&id| id > 0).collect();
    unique.sort_unstable();
    unique.dedup();
    let mut found = HashMap::with_capacity(unique.len());
    for chunk in unique.chunks(BATCH) {
        let profiles = users
            .clone()
            .batch_get_profiles(BatchGetProfilesRequest {
                user_ids: chunk.to_vec(),
            })
            .await?
            .into_inner()
            .profiles;
        found.extend(profiles.into_iter().map(|p| (p.user_id, p)));
    }
    Ok(found)
}
