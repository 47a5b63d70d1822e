//! The chart's web client: an unprivileged nginx on a read-only root filesystem, probed on
//! `/healthz`, handing `/v1/` to this release's edge, and allowed to reach only the edge.

use serde_yaml::Value;
use xir_testkit::edge::{chart_object, chart_objects, render_chart_with};

fn env(container: &Value, name: &str) -> String {
    container["env"]
        .as_sequence()
        .and_then(|vars| vars.iter().find(|var| var["name"] == name))
        .and_then(|var| var["value"].as_str())
        .unwrap_or_else(|| panic!("no {name} in the web container"))
        .to_owned()
}

#[tokio::test]
async fn the_web_client_runs_unprivileged_read_only_and_reaches_only_the_edge() {
    let objects = chart_objects(&render_chart_with(&[]).await);
    let deployment = chart_object(&objects, "Deployment", "xir-web");
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let container = &pod["containers"][0];
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(
        container["securityContext"]["allowPrivilegeEscalation"],
        false
    );
    for probe in ["readinessProbe", "livenessProbe"] {
        assert_eq!(container[probe]["httpGet"]["path"], "/healthz", "{probe}");
    }
    // The edge's Service, on the port it serves.
    let edge = chart_object(&objects, "Service", "xir-edge");
    let port = edge["spec"]["ports"][0]["port"].as_u64().expect("a port");
    assert_eq!(
        env(container, "XIR_EDGE_URL"),
        format!("http://xir-edge:{port}")
    );

    let policy = chart_object(&objects, "NetworkPolicy", "xir-web");
    let egress = policy["spec"]["egress"]
        .as_sequence()
        .expect("egress rules");
    assert_eq!(
        egress.len(),
        2,
        "the edge and DNS, nothing else: {egress:?}"
    );
    assert_eq!(
        egress[0]["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"],
        "edge"
    );
    assert_eq!(egress[1]["ports"][0]["port"], 53);

    // Another edge is named, or the chart refuses to render a client with nowhere to go.
    let own = chart_objects(
        &render_chart_with(&["edge.enabled=false", "web.edgeUrl=http://edge.ingress:80"]).await,
    );
    let web = chart_object(&own, "Deployment", "xir-web");
    assert_eq!(
        env(
            &web["spec"]["template"]["spec"]["containers"][0],
            "XIR_EDGE_URL"
        ),
        "http://edge.ingress:80"
    );
}
