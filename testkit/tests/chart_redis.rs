//! The chart's Redis for home timelines: one bounded, non-persistent cache that only
//! svc-timeline may reach, and svc-timeline pointed at it, or at a Redis of one's own.

use serde_yaml::Value;
use xir_testkit::edge::{chart_object, chart_objects, render_chart_with};

/// svc-timeline's XIR_REDIS__URL variable.
fn redis_env(objects: &[Value]) -> Value {
    let deployment = chart_object(objects, "Deployment", "xir-svc-timeline");
    deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_sequence()
        .and_then(|vars| vars.iter().find(|var| var["name"] == "XIR_REDIS__URL"))
        .cloned()
        .expect("svc-timeline has XIR_REDIS__URL")
}

#[tokio::test]
async fn svc_timeline_reaches_a_bounded_cache_only_it_may_reach() {
    let objects = chart_objects(&render_chart_with(&[]).await);
    let service = chart_object(&objects, "Service", "xir-redis");
    assert_eq!(service["spec"]["ports"][0]["port"], 6379);
    assert_eq!(redis_env(&objects)["value"], "redis://xir-redis:6379/");

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
    assert_eq!(from.len(), 1, "svc-timeline only: {from:?}");
    assert_eq!(
        from[0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"],
        "svc-timeline"
    );

    // A Redis of one's own: its URL (maybe with a password) comes from the Secret.
    let own = chart_objects(&render_chart_with(&["redis.enabled=false"]).await);
    assert!(
        !own.iter()
            .any(|o| o["metadata"]["name"] == "xir-redis" && o["kind"] == "Deployment")
    );
    assert_eq!(
        redis_env(&own)["valueFrom"]["secretKeyRef"]["key"],
        "timeline-redis-url"
    );
}
