//! The rendered chart enforces the internal-RPC table the services enforce: with Istio on,
//! an AuthorizationPolicy admits each internal method only from its callers' principals and
//! keeps the edge away from it; each service mounts only its own identity key; and the keys
//! the chart generates work as service identities.

use std::collections::BTreeSet;

use base64::{Engine, engine::general_purpose::STANDARD};
use serde_yaml::Value;
use xir_common::identity::{IdentitySettings, InternalRpc, Peer, ServiceIdentity};
use xir_testkit::edge::{chart_object as find, chart_objects as documents, render_chart_with};

const NAMESPACE: &str = "xir";

fn strings(value: &Value) -> BTreeSet<String> {
    value
        .as_sequence()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn principal(component: &str) -> String {
    format!("cluster.local/ns/{NAMESPACE}/sa/xir-{component}")
}

fn tables() -> [(Peer, &'static str, &'static [InternalRpc]); 3] {
    [
        (
            Peer::User,
            xir_proto::user::v1::SERVICE_NAME,
            svc_user::startup::INTERNAL_RPCS,
        ),
        (
            Peer::Tweet,
            xir_proto::tweet::v1::SERVICE_NAME,
            svc_tweet::startup::INTERNAL_RPCS,
        ),
        (
            Peer::Timeline,
            xir_proto::timeline::v1::SERVICE_NAME,
            svc_timeline::startup::INTERNAL_RPCS,
        ),
    ]
}

#[tokio::test]
async fn istio_policies_admit_each_internal_method_only_from_its_callers() {
    let rendered = documents(&render_chart_with(&["mesh.sidecarInjection=istio"]).await);
    let mut checked = 0;
    for (service, grpc_service, table) in tables() {
        let policy = find(&rendered, "AuthorizationPolicy", &format!("xir-{service}"));
        assert_eq!(policy["spec"]["action"], "ALLOW", "{service}");
        let grpc_port = find(&rendered, "Service", &format!("xir-{service}"))["spec"]["ports"]
            .as_sequence()
            .expect("ports")
            .iter()
            .find(|port| port["name"] == "grpc")
            .and_then(|port| port["port"].as_u64())
            .expect("a grpc port")
            .to_string();
        let rules = policy["spec"]["rules"]
            .as_sequence()
            .expect("rules")
            .as_slice();
        for rpc in table {
            let path = format!("/{grpc_service}/{}", rpc.method);
            // Every rule that can admit this path, and from whom.
            let admitting: Vec<BTreeSet<String>> = rules
                .iter()
                .filter(|rule| {
                    let operation = &rule["to"][0]["operation"];
                    let paths = strings(&operation["paths"]);
                    let not_paths = strings(&operation["notPaths"]);
                    let on_grpc_port = strings(&operation["ports"]).contains(&grpc_port);
                    on_grpc_port
                        && (paths.contains(&path)
                            || (paths.is_empty() && !not_paths.contains(&path)))
                })
                .map(|rule| strings(&rule["from"][0]["source"]["principals"]))
                .collect();
            let callers: BTreeSet<String> = rpc
                .callers
                .iter()
                .map(|caller| principal(caller.name()))
                .collect();
            assert_eq!(admitting, vec![callers], "{path}: admitted from");
            checked += 1;
        }
        let mtls = find(&rendered, "PeerAuthentication", &format!("xir-{service}"));
        assert_eq!(mtls["spec"]["mtls"]["mode"], "STRICT", "{service}");
    }
    assert_eq!(checked, 12, "every internal RPC");

    // Each component runs as its own ServiceAccount: the principals above are distinct.
    for component in ["svc-auth", "svc-user", "svc-tweet", "svc-timeline", "edge"] {
        let name = format!("xir-{component}");
        find(&rendered, "ServiceAccount", &name);
        let deployment = find(&rendered, "Deployment", &name);
        assert_eq!(
            deployment["spec"]["template"]["spec"]["serviceAccountName"], name,
            "{component}"
        );
    }
}

#[tokio::test]
async fn each_service_mounts_its_own_key_and_the_generated_keys_verify() {
    let rendered = documents(&render_chart_with(&[]).await);
    for peer in Peer::ALL {
        let deployment = find(&rendered, "Deployment", &format!("xir-{peer}"));
        let volumes = deployment["spec"]["template"]["spec"]["volumes"]
            .as_sequence()
            .expect("volumes");
        let identity = volumes
            .iter()
            .find(|volume| volume["name"] == "identity")
            .expect("an identity volume");
        let keys: BTreeSet<String> = identity["secret"]["items"]
            .as_sequence()
            .expect("items")
            .iter()
            .filter_map(|item| item["key"].as_str().map(str::to_owned))
            .filter(|key| key.ends_with(".key"))
            .collect();
        assert_eq!(keys, BTreeSet::from([format!("{peer}.key")]), "{peer}");
    }

    // The generated keys and certificates, written out as the pods see them, make working
    // identities: a token svc-auth mints verifies at svc-user.
    let secret = find(&rendered, "Secret", "xir-service-identity");
    let dir = tempfile::tempdir().expect("a temporary directory");
    for peer in Peer::ALL {
        for suffix in ["key", "crt"] {
            let name = format!("{peer}.{suffix}");
            let encoded = secret["data"][name.as_str()]
                .as_str()
                .unwrap_or_else(|| panic!("the Secret holds {name}"));
            let pem = STANDARD.decode(encoded).expect("Secret data is base64");
            std::fs::write(dir.path().join(&name), pem).expect("write a key file");
        }
    }
    let settings = IdentitySettings {
        key_dir: Some(dir.path().to_owned()),
        ..IdentitySettings::default()
    };
    let auth = ServiceIdentity::from_settings(Peer::Auth, &settings).expect("svc-auth's keys");
    let user = ServiceIdentity::from_settings(Peer::User, &settings).expect("svc-user's keys");
    assert_eq!(
        user.verify(&auth.token_for(Peer::User)).expect("verifies"),
        Peer::Auth
    );
    let tweet = ServiceIdentity::from_settings(Peer::Tweet, &settings).expect("svc-tweet's keys");
    assert!(
        tweet.verify(&auth.token_for(Peer::User)).is_err(),
        "a token for svc-user is no good at svc-tweet"
    );
}
