//! What every gRPC adapter takes from a request before it calls the service's logic: who is
//! calling, and fields parsed into domain values with the field's name on any error.

use std::{collections::HashSet, fmt::Display, hash::Hash};

use tonic::{Request, Status};

use crate::{auth, domain::UserId, errors::FieldViolations};

/// Most ids one batch request carries.
pub const MAX_BATCH: usize = 100;

/// The signed-in caller, or `Unauthenticated`.
pub fn caller_id<T>(request: &Request<T>) -> Result<UserId, Status> {
    let caller = auth::caller(request)?;
    UserId::parse(caller.user_id).map_err(|_| Status::unauthenticated("invalid caller"))
}

/// The caller of a public read, when signed in: their viewer state goes with the answer.
pub fn viewer_id<T>(request: &Request<T>) -> Option<UserId> {
    auth::viewer(request).and_then(|caller| UserId::parse(caller.user_id).ok())
}

/// `result`'s error as the one bad field `name`.
pub fn field<T, E: Display>(name: &str, result: Result<T, E>) -> Result<T, FieldViolations> {
    result.map_err(|error| FieldViolations::single(name, error.to_string()))
}

/// A batch of ids under `name`: at most [`MAX_BATCH`], each parsed by `parse`, duplicates
/// dropped, order kept.
pub fn batch_ids<Id: Copy + Eq + Hash, E: Display>(
    name: &str,
    raw: &[i64],
    parse: impl Fn(i64) -> Result<Id, E>,
) -> Result<Vec<Id>, FieldViolations> {
    if raw.len() > MAX_BATCH {
        return Err(FieldViolations::single(
            name,
            format!("at most {MAX_BATCH} ids"),
        ));
    }
    let mut ids = Vec::with_capacity(raw.len());
    for &id in raw {
        ids.push(field(name, parse(id))?);
    }
    Ok(dedup(&ids))
}

/// `ids` without repeats, first occurrences in order.
pub fn dedup<Id: Copy + Eq + Hash>(ids: &[Id]) -> Vec<Id> {
    let mut seen = HashSet::new();
    ids.iter().copied().filter(|id| seen.insert(*id)).collect()
}

/// A protobuf timestamp of a chrono time.
pub fn timestamp(at: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_keeps_first_occurrences_in_order() {
        let ids = batch_ids("ids", &[3, 1, 3, 2, 1], UserId::parse).unwrap();
        let ids: Vec<i64> = ids.into_iter().map(UserId::get).collect();
        assert_eq!(ids, [3, 1, 2]);
    }

    #[test]
    fn a_batch_names_its_field_on_a_bad_id_or_too_many() {
        let bad = batch_ids("user_ids", &[1, 0], UserId::parse).unwrap_err();
        assert_eq!(bad.fields().collect::<Vec<_>>(), ["user_ids"]);
        let many: Vec<i64> = (1..=MAX_BATCH as i64 + 1).collect();
        let too_many = batch_ids("user_ids", &many, UserId::parse).unwrap_err();
        assert!(too_many.to_string().contains("at most 100"), "{too_many}");
    }
}
