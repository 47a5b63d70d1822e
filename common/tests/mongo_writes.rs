//! The MongoDB-protocol server the tests run against keeps single-document writes atomic by
//! holding each collection's writes one at a time (`tools/cmd/xir-ferretdb`). What a driver
//! does all day must not wedge it: one connection writing to one collection and then, as soon
//! as the answer is in, to another.
#![cfg(all(feature = "testing", feature = "mongo"))]

use std::time::Duration;

use mongodb::{
    Client,
    bson::{Document, doc},
    options::ClientOptions,
};
use xir_common::testing;

const WRITERS: i64 = 4;
const ROUNDS: i64 = 100;

#[tokio::test]
async fn writes_to_two_collections_in_turn_on_one_connection_all_complete() {
    let mut options = ClientOptions::parse(testing::mongodb_url())
        .await
        .expect("the test server's URL");
    // One connection per client: each write goes out right after the previous answer.
    options.max_pool_size = Some(1);
    let database = Client::with_options(options)
        .expect("a client")
        .database(&format!("writes_in_turn_{}", std::process::id()));
    let writers = (0..WRITERS).map(|writer| {
        let database = database.clone();
        tokio::spawn(async move {
            for _ in 0..ROUNDS {
                for name in ["first", "second"] {
                    database
                        .collection::<Document>(name)
                        .update_one(doc! { "_id": writer }, doc! { "$inc": { "n": 1_i64 } })
                        .upsert(true)
                        .await
                        .expect("a write");
                }
            }
        })
    });
    let all = futures_util::future::join_all(writers);
    let finished = tokio::time::timeout(Duration::from_secs(60), all)
        .await
        .expect("every write answered: none waits forever for another collection's");
    assert!(finished.iter().all(Result::is_ok));
    for name in ["first", "second"] {
        let counted: i64 = (0..WRITERS)
            .map(|writer| {
                let collection = database.collection::<Document>(name);
                async move {
                    let found = collection.find_one(doc! { "_id": writer }).await;
                    found
                        .expect("read")
                        .expect("written")
                        .get_i64("n")
                        .unwrap_or(0)
                }
            })
            .collect::<futures_util::future::JoinAll<_>>()
            .await
            .into_iter()
            .sum();
        assert_eq!(counted, WRITERS * ROUNDS, "no increment of {name} lost");
    }
}
