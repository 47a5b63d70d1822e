//! Worker ids leased in PostgreSQL: two replicas on one database never share one, and a
//! replica whose lease was taken over mints nothing with the old id.

use std::sync::Arc;

use xir_common::{
    ids::{IdGenerator, IdSettings},
    postgres::ReadinessCheck,
    testing,
};

fn leased() -> Arc<IdGenerator> {
    Arc::new(IdGenerator::from_settings(&IdSettings::default()).expect("default id settings"))
}

#[tokio::test]
async fn replicas_lease_distinct_worker_ids_and_give_up_a_lost_one() {
    let database = testing::postgres_database("svc_auth_leases").await;
    let pool = sqlx::PgPool::connect(database.url())
        .await
        .expect("connect");
    let (first, second) = (leased(), leased());
    let first_check =
        ReadinessCheck::new(pool.clone(), &svc_auth::db::MIGRATOR).with_worker_lease(first.clone());
    let second_check = ReadinessCheck::new(pool.clone(), &svc_auth::db::MIGRATOR)
        .with_worker_lease(second.clone());
    assert!(first.next_id().is_err(), "no id before the lease");
    first_check.check().await.expect("first replica ready");
    second_check.check().await.expect("second replica ready");
    let (a, b) = (first.worker_id().unwrap(), second.worker_id().unwrap());
    assert_ne!(a, b, "two live replicas, two worker ids");
    first_check.check().await.expect("renewed");
    assert_eq!(first.worker_id(), Some(a), "a renewal keeps the id");

    // The first replica's lease expired and another process took the id: the next check
    // finds it gone, and the replica moves to a free id that is not the second's.
    sqlx::query(
        "UPDATE worker_leases SET holder = 'another process', expires_at = now() + interval '1 minute'
         WHERE worker_id = $1",
    )
    .bind(a as i16)
    .execute(&pool)
    .await
    .expect("take the lease over");
    first_check
        .check()
        .await
        .expect("ready again with a new id");
    let moved = first.worker_id().unwrap();
    assert!(moved != a && moved != b, "moved to {moved}");
    let id = first.next_id().expect("mints again");
    assert_eq!(((id >> 12) & 1023) as u16, moved);
}
