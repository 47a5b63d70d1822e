//! Worker ids leased in MongoDB: two replicas on one database never share one, and a replica
//! whose lease was taken over mints nothing with the old id.

use std::sync::Arc;

use mongodb::bson::{DateTime, doc};
use xir_common::{
    ids::{IdGenerator, IdSettings},
    mongo::{ReadinessCheck, WORKER_LEASES},
    testing,
};

fn leased() -> Arc<IdGenerator> {
    Arc::new(IdGenerator::from_settings(&IdSettings::default()).expect("default id settings"))
}

#[tokio::test]
async fn replicas_lease_distinct_worker_ids_and_give_up_a_lost_one() {
    let client = mongodb::Client::with_uri_str(testing::mongodb_url())
        .await
        .expect("client");
    let database = client.database(&testing::unique_name("svc_tweet_leases"));
    let (first, second) = (leased(), leased());
    let first_check = ReadinessCheck::new(database.clone(), svc_tweet::store::indexes())
        .with_worker_lease(first.clone());
    let second_check = ReadinessCheck::new(database.clone(), svc_tweet::store::indexes())
        .with_worker_lease(second.clone());
    assert!(first.next_id().is_err(), "no id before the lease");
    first_check
        .clone()
        .check_owned()
        .await
        .expect("first ready");
    second_check
        .clone()
        .check_owned()
        .await
        .expect("second ready");
    let (a, b) = (first.worker_id().unwrap(), second.worker_id().unwrap());
    assert_ne!(a, b, "two live replicas, two worker ids");
    first_check.clone().check_owned().await.expect("renewed");
    assert_eq!(first.worker_id(), Some(a), "a renewal keeps the id");

    let until = DateTime::from_millis(DateTime::now().timestamp_millis() + 60_000);
    database
        .collection::<mongodb::bson::Document>(WORKER_LEASES)
        .update_one(
            doc! { "_id": i32::from(a) },
            doc! { "$set": { "holder": "another process", "expires_at": until } },
        )
        .await
        .expect("take the lease over");
    // The first check after the loss finds the id gone; one more claims a free one.
    let _ = first_check.clone().check_owned().await;
    if first.worker_id().is_none() {
        first_check.clone().check_owned().await.expect("a new id");
    }
    let moved = first.worker_id().unwrap();
    assert!(moved != a && moved != b, "moved to {moved}");
    let id = first.next_id().expect("mints again");
    assert_eq!(((id >> 12) & 1023) as u16, moved);
    database.drop().await.expect("drop the test database");
}
