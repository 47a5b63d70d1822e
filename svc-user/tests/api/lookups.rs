use std::time::Duration;

use tokio_stream::StreamExt;
use tonic::Code;
use xir_proto::user::v1::{
    BatchGetProfilesRequest, ListFollowerIdsRequest, ListFollowingIdsRequest,
    ResolveUsernamesRequest, SearchUsersRequest,
};

use xir_common::identity::Peer;

use crate::helpers::{seed_profile, seed_profiles, spawn_app};

#[tokio::test]
async fn batch_lookups_keep_order_and_leave_out_the_unknown() {
    let app = spawn_app().await;
    let pool = app.pool().await;
    seed_profiles(&pool, 1, 5, "usr").await;
    let mut client = app.client_as(Peer::Timeline).await;

    let profiles = client
        .batch_get_profiles(BatchGetProfilesRequest {
            user_ids: vec![4, 999, 2, 5],
        })
        .await
        .expect("batch")
        .into_inner()
        .profiles;
    assert_eq!(
        profiles.iter().map(|p| p.user_id).collect::<Vec<_>>(),
        [4, 2, 5]
    );

    let error = client
        .batch_get_profiles(BatchGetProfilesRequest {
            user_ids: (1..=101).collect(),
        })
        .await
        .expect_err("too many");
    assert_eq!(error.code(), Code::InvalidArgument);

    let resolved = app
        .client_as(Peer::Tweet)
        .await
        .resolve_usernames(ResolveUsernamesRequest {
            usernames: vec!["USR3".into(), "nobody".into(), "not a name!".into()],
        })
        .await
        .expect("resolve")
        .into_inner()
        .profiles;
    assert_eq!(resolved.iter().map(|p| p.user_id).collect::<Vec<_>>(), [3]);
}

#[tokio::test]
async fn search_matches_prefixes_without_case_most_followed_first() {
    let app = spawn_app().await;
    let pool = app.pool().await;
    seed_profile(&pool, 1, "ada_l").await;
    seed_profile(&pool, 2, "Adalbert").await;
    seed_profile(&pool, 3, "adam").await;
    seed_profile(&pool, 4, "bob").await;
    seed_profile(&pool, 5, "adaXl").await;
    sqlx::query("UPDATE profiles SET followers_count = user_id * 10, display_name = 'Bob Ada' WHERE user_id = 4")
        .execute(&pool)
        .await
        .expect("update");
    sqlx::query("UPDATE profiles SET followers_count = user_id * 10 WHERE user_id <> 4")
        .execute(&pool)
        .await
        .expect("update");
    let mut client = app.client().await;
    let search = |query: &str| SearchUsersRequest {
        query: query.into(),
        limit: 0,
    };

    let names = |profiles: Vec<xir_proto::user::v1::Profile>| {
        profiles.into_iter().map(|p| p.username).collect::<Vec<_>>()
    };
    let found = client
        .search_users(search("ADA"))
        .await
        .expect("search")
        .into_inner()
        .profiles;
    assert_eq!(
        names(found),
        ["adaXl", "adam", "Adalbert", "ada_l"],
        "most followed first"
    );
    let found = client
        .search_users(search("ada_"))
        .await
        .expect("search")
        .into_inner()
        .profiles;
    assert_eq!(names(found), ["ada_l"], "'_' is literal, not a wildcard");
    let found = client
        .search_users(search("bob a"))
        .await
        .expect("search")
        .into_inner()
        .profiles;
    assert_eq!(names(found), ["bob"], "display names match too");
    let error = client.search_users(search("")).await.expect_err("empty");
    assert_eq!(error.code(), Code::InvalidArgument);
}

/// The search is served by the prefix indexes, not a scan, on a large table.
#[tokio::test]
async fn search_uses_the_prefix_indexes() {
    let app = spawn_app().await;
    let pool = app.pool().await;
    seed_profiles(&pool, 1, 200_000, "user").await;
    sqlx::query("ANALYZE profiles")
        .execute(&pool)
        .await
        .expect("analyze");
    let plan: serde_json::Value = sqlx::query_scalar(
        "EXPLAIN (FORMAT JSON) SELECT user_id FROM profiles
         WHERE lower(username) LIKE $1 OR lower(display_name) LIKE $1
         ORDER BY followers_count DESC, user_id LIMIT 20",
    )
    .bind("user1234%")
    .fetch_one(&pool)
    .await
    .expect("explain");
    let plan = plan.to_string();
    // Under the C collation the plain unique index on lower(username) serves LIKE prefixes
    // too; under other collations only the text_pattern_ops one can.
    assert!(
        plan.contains("profiles_username_prefix") || plan.contains("profiles_username_lower_key"),
        "{plan}"
    );
    assert!(plan.contains("profiles_display_name_prefix"), "{plan}");
    assert!(!plan.contains("Seq Scan"), "{plan}");
}

fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?.to_owned();
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

/// 200,000 follower ids arrive in bounded batches, and the process's memory stays flat while
/// they stream (sampled every 5 ms).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_follower_ids_streams_two_hundred_thousand_ids_in_bounded_batches() {
    const FOLLOWERS: i64 = 200_000;
    let app = spawn_app().await;
    let pool = app.pool().await;
    seed_profiles(&pool, 1, 1, "celebrity").await;
    seed_profiles(&pool, 10, FOLLOWERS, "f").await;
    sqlx::query(
        "INSERT INTO follows (follower_id, followee_id) SELECT id, 1 FROM generate_series(10::bigint, 9 + $1) AS id",
    )
    .bind(FOLLOWERS)
    .execute(&pool)
    .await
    .expect("seed edges");
    sqlx::query("UPDATE profiles SET followers_count = $1 WHERE user_id = 1")
        .bind(FOLLOWERS)
        .execute(&pool)
        .await
        .expect("seed the count");

    let before = resident_kib();
    let sampling = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(before));
    let peak = sampling.clone();
    let sampler = tokio::spawn(async move {
        loop {
            peak.fetch_max(resident_kib(), std::sync::atomic::Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });

    let mut stream = app
        .client_as(Peer::Timeline)
        .await
        .list_follower_ids(ListFollowerIdsRequest {
            user_id: 1,
            batch_size: 5_000,
        })
        .await
        .expect("stream")
        .into_inner();
    let (mut count, mut sum, mut batches) = (0_i64, 0_i64, 0);
    while let Some(batch) = stream.next().await {
        let batch = batch.expect("batch");
        assert!(batch.follower_ids.len() <= 5_000);
        batches += 1;
        count += batch.follower_ids.len() as i64;
        sum += batch.follower_ids.iter().sum::<i64>();
    }
    sampler.abort();
    assert_eq!(count, FOLLOWERS);
    assert_eq!(sum, (10..10 + FOLLOWERS).sum::<i64>(), "every id once");
    assert_eq!(batches, 40);
    let grew_kib = sampling
        .load(std::sync::atomic::Ordering::Relaxed)
        .saturating_sub(before);
    println!(
        "ListFollowerIds: {FOLLOWERS} ids in {batches} batches; resident memory grew {grew_kib} KiB at peak"
    );
    assert!(
        grew_kib < 32 * 1024,
        "memory grew {grew_kib} KiB while streaming"
    );

    let following = app
        .client_as(Peer::Timeline)
        .await
        .list_following_ids(ListFollowingIdsRequest {
            user_id: 10,
            min_followers_count: 1,
        })
        .await
        .expect("following ids")
        .into_inner()
        .user_ids;
    assert_eq!(following, [1]);
}
