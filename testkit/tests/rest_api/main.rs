//! The REST contract: the API as a web client sees it through the real Envoy edge, on the
//! Compose config (deploy/envoy/envoy.yaml) and on the chart's rendered config alike, end to
//! end against the four real services.

use std::time::Duration;

use http::{Method, StatusCode};
use serde_json::Value;
use xir_common::testing;
use xir_testkit::edge::Edge;

/// Two tests running `$scenario`: one through the Compose edge config, one through the chart's.
macro_rules! on_both_edge_configs {
    ($compose:ident, $chart:ident, $scenario:ident) => {
        #[tokio::test]
        async fn $compose() {
            $scenario(EdgeConfig::Compose).await;
        }

        #[tokio::test]
        async fn $chart() {
            $scenario(EdgeConfig::Chart).await;
        }
    };
}

mod client_reads;
mod edge_policies;
mod errors;

/// JSON ids are strings (proto3 JSON prints int64 as strings).
fn id(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("an int64 id as a JSON string, got {value}"))
        .to_owned()
}

/// Retries `GET path` until `done` holds for the reply (events travel through outboxes).
async fn eventually_get(
    edge: &Edge,
    path: &str,
    token: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    testing::eventually(Duration::from_secs(30), path, || async {
        let reply = edge
            .rest()
            .request(Method::GET, path, Some(token), None)
            .await;
        (reply.status == StatusCode::OK && done(&reply.json)).then_some(reply.json)
    })
    .await
}
