//! The chart's Redis for home timelines and tweets by id: one bounded, non-persistent cache
//! that only svc-timeline and svc-tweet may reach, both pointed at it, or at a Redis of one's
//! own.

use serde_yaml::Value;
use xir_testkit::edge::{chart_object, chart_objects, render_chart_with};

/// The services that keep caches in Redis.
const CACHING: [&str; 2] = ["svc-timeline", "svc-tweet"];

/// The XIR_REDIS__URL variable of `service`.
fn redis_env(objects: &[Value], service: &str) -> Value {
    let deployment = chart_object(objects, "Deployment", &format!("xir-{service}"));
    deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_sequence()
        .and_then(|vars| vars.iter().find(|var| var["name"] == "XIR_REDIS__URL"))
        .cloned()
        .unwrap_or_else(|| panic!("{service} has XIR_REDIS__URL"))
}

#[tokio::test]
async fn the_caching_services_reach_a_bounded_cache_only_they_may_reach() {
    let objects = chart_objects(&render_chart_with(&[]).await);
    let service = chart_object(&objects, "Service", "xir-redis");
    assert_eq!(service["spec"]["ports"][0]["port"], 6379);
    for service in CACHING {
        assert_eq!(
            redis_env(&objects, service)["value"],
            "redis://xir-redis:6379/"
        );
    }

    let redis = chart_object(&objects, "Deployment", "xir-redis");
    let pod = &redis["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let container = &pod["containers"][0];
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    let args: Vec<&str> = container["args"]
        .as_sequence()
        .expect("args")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for pair in [
        ["--save", ""],
        ["--appendonly", "no"],
        ["--maxmemory", "256mb"],
        ["--maxmemory-policy", "allkeys-lru"],
    ] {
        assert!(
            args.windows(2).any(|w| w == pair),
            "{pair:?} missing from {args:?}"
        );
    }
    assert!(container["readinessProbe"]["exec"]["command"].is_sequence());
    assert!(container["livenessProbe"]["tcpSocket"].is_mapping());

    let policy = chart_object(&objects, "NetworkPolicy", "xir-redis");
    let from = policy["spec"]["ingress"][0]["from"]
        .as_sequence()
        .expect("ingress sources");
    let allowed: Vec<&Value> = from
        .iter()
        .map(|source| &source["podSelector"]["matchLabels"]["app.kubernetes.io/name"])
        .collect();
    assert_eq!(allowed, CACHING, "{from:?}");

    // A Redis of one's own: its URL (maybe with a password) comes from the Secret.
    let own = chart_objects(&render_chart_with(&["redis.enabled=false"]).await);
    assert!(
        !own.iter()
            .any(|o| o["metadata"]["name"] == "xir-redis" && o["kind"] == "Deployment")
    );
    for service in CACHING {
        assert_eq!(
            redis_env(&own, service)["valueFrom"]["secretKeyRef"]["key"],
            "redis-url"
        );
    }
}
