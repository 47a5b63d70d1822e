//! Which store served svc-tweet's reads: its cache's lookups (Redis) against the misses and
//! errors (MongoDB, here FerretDB), from svc-tweet's own counters over the whole run.

use serde_json::{Value, json};

/// `tweet_cache_lookups_total` by kind from svc-tweet's metrics at `metrics_addr`.
pub async fn tweet_cache(metrics_addr: &str) -> Value {
    let text = match reqwest::get(format!("http://{metrics_addr}/metrics")).await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(error) => return json!({ "error": error.to_string() }),
    };
    let counter = |kind: &str, outcome: &str| {
        let series = format!("tweet_cache_lookups_total{{kind=\"{kind}\",outcome=\"{outcome}\"}} ");
        text.lines()
            .find_map(|line| line.strip_prefix(&series)?.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let mut kinds = serde_json::Map::new();
    for kind in ["tweet", "viewer", "items"] {
        let (hit, miss, error) = (
            counter(kind, "hit"),
            counter(kind, "miss"),
            counter(kind, "error"),
        );
        let total = hit + miss + error;
        let ratio = (total > 0.0).then(|| hit / total);
        kinds.insert(
            kind.into(),
            json!({ "hit": hit, "miss": miss, "error": error, "hit_ratio": ratio }),
        );
    }
    Value::Object(kinds)
}

/// "96.5 %" of a ratio in the results, "—" without one.
pub fn percent(ratio: &Value) -> String {
    ratio
        .as_f64()
        .map_or_else(|| "—".to_owned(), |r| format!("{:.1} %", 100.0 * r))
}
