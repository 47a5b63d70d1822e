//! Two svc-tweet replicas, each with its own outbox relay, on one database. This test has a
//! binary of its own: it counts deliveries in the process-wide metrics registry, which other
//! tests running beside it would add to.

use std::time::Duration;

use futures_util::future::join_all;
use mongodb::bson::{Document, doc};
use xir_common::testing;
use xir_proto::tweet::v1::CreateTweetRequest;
use xir_testkit::{Options, Service, Stack, bearer};

fn delivered_to_timeline(metrics: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| {
            l.starts_with("outbox_delivered_total{") && l.contains("topic=\"timeline.tweet\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn count(database: &mongodb::Database, collection: &str, filter: Document) -> u64 {
    database
        .collection::<Document>(collection)
        .count_documents(filter)
        .await
        .expect("count")
}

/// Two relays on one database: each event is delivered once, not twice.
#[tokio::test]
async fn two_relays_deliver_each_event_once() {
    let mut stack = Stack::start(Options {
        stopped: vec![Service::Timeline],
        ..Options::default()
    })
    .await;
    stack.seed_profiles(1, 1, "poster").await;
    stack.start_tweet_replica().await;
    let before =
        delivered_to_timeline(&testing::scrape_metrics(stack.metrics_addr(Service::Tweet)).await);
    for chunk in (0..100).collect::<Vec<_>>().chunks(20) {
        let posted = join_all(chunk.iter().map(|i| {
            let token = stack.token(1);
            let stack = &stack;
            async move {
                stack
                    .tweets()
                    .await
                    .create_tweet(bearer(
                        &token,
                        CreateTweetRequest {
                            text: format!("tweet {i}"),
                            ..Default::default()
                        },
                    ))
                    .await
            }
        }))
        .await;
        assert!(posted.iter().all(Result::is_ok));
    }

    stack.start_service(Service::Timeline).await;
    testing::eventually(
        Duration::from_secs(90),
        "all 100 events applied",
        || async {
            (count(&stack.timeline_database, "applied_events", doc! {}).await >= 100
                && count(
                    &stack.tweet_database,
                    "tweets",
                    doc! { "outbox_count": { "$gt": 0 } },
                )
                .await
                    == 0)
                .then_some(())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        count(&stack.timeline_database, "applied_events", doc! {}).await,
        100
    );
    // Both relays run in this process and record into one registry: the sum is both.
    let delivered =
        delivered_to_timeline(&testing::scrape_metrics(stack.metrics_addr(Service::Tweet)).await)
            - before;
    assert!(
        (100.0..=101.0).contains(&delivered),
        "two relays delivered {delivered} timeline events for 100 tweets"
    );
}
