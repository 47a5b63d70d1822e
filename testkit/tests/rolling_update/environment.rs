//! The cluster the rolling update runs in (the chart's drain settings, the services as pods, the Service addresses and DNS).

use std::{
    collections::BTreeMap,
    net::{Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use serde::Deserialize;
use serde_yaml::Value;
use xir_common::testing;
use xir_testkit::kube::ClusterDns;

use crate::progress;
use xir_testkit::{
    edge::{self},
    kube::ServiceAddress,
    processes::ServiceProcess,
};

pub(crate) const SERVICES: [&str; 4] = ["svc-auth", "svc-user", "svc-tweet", "svc-timeline"];

/// Longer than any drain the chart configures: a process still running then is a failure.
pub(crate) const EXIT_WITHIN: Duration = Duration::from_secs(120);

/// What the rendered chart says about stopping.
pub(crate) struct ChartDrain {
    /// `server.drain_delay_ms` of every service's settings.
    pub(crate) service_drain_delay_ms: u64,
    /// The edge container's Envoy arguments other than the config path and log format.
    pub(crate) edge_args: Vec<String>,
    /// The edge's preStop command: `/bin/bash -c SCRIPT`.
    pub(crate) edge_pre_stop: String,
}

pub(crate) async fn chart_drain() -> ChartDrain {
    let rendered = edge::render_chart_with(&[]).await;
    let documents: Vec<Value> = serde_yaml::Deserializer::from_str(&rendered)
        .map(|document| Value::deserialize(document).expect("the chart renders YAML"))
        .collect();
    let of_kind = |kind: &'static str| {
        documents
            .iter()
            .filter(move |d| d["kind"].as_str() == Some(kind))
    };
    let delays: Vec<u64> = of_kind("ConfigMap")
        .filter_map(|map| map["data"]["settings.toml"].as_str())
        .map(|toml| {
            let line = toml
                .lines()
                .find(|line| line.trim_start().starts_with("drain_delay_ms"))
                .expect("every service's settings set drain_delay_ms");
            let value = line.split('=').nth(1).expect("drain_delay_ms = N");
            value.trim().parse().expect("drain_delay_ms is a number")
        })
        .collect();
    assert_eq!(
        delays.len(),
        SERVICES.len(),
        "one settings file per service"
    );
    assert!(delays.iter().all(|d| *d == delays[0]), "{delays:?}");

    let edge = of_kind("Deployment")
        .find(|d| {
            d["metadata"]["name"]
                .as_str()
                .is_some_and(|n| n.ends_with("-edge"))
        })
        .expect("the chart renders the edge Deployment");
    let container = &edge["spec"]["template"]["spec"]["containers"][0];
    let strings = |value: &Value| -> Vec<String> {
        value
            .as_sequence()
            .expect("a list")
            .iter()
            .map(|v| v.as_str().expect("a string").to_owned())
            .collect()
    };
    let mut edge_args = Vec::new();
    let mut args = strings(&container["args"]).into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            // The test's own config; Envoy's default log format.
            "--config-path" | "--log-format" => {
                args.next();
            }
            _ => edge_args.push(arg),
        }
    }
    let command = strings(&container["lifecycle"]["preStop"]["exec"]["command"]);
    assert_eq!(command[..2], ["/bin/bash", "-c"], "{command:?}");
    ChartDrain {
        service_drain_delay_ms: delays[0],
        edge_args,
        edge_pre_stop: command[2].clone(),
    }
}

/// Where each service's peers and databases are, shared by both replicas.
pub(crate) struct Environment {
    pub(crate) fronts: BTreeMap<&'static str, ServiceAddress>,
    /// Every replica of a service listens on the same port, on its own address, as pods do.
    pub(crate) ports: BTreeMap<&'static str, u16>,
    /// Where the pods' logs go.
    pub(crate) dir: PathBuf,
    pub(crate) auth_db: testing::TestDatabase,
    pub(crate) user_db: testing::TestDatabase,
    pub(crate) tweet_db: String,
    pub(crate) timeline_db: String,
    pub(crate) signing_key: String,
    pub(crate) drain_delay_ms: u64,
}

impl Environment {
    /// A Service address for each service (no pods yet), fresh databases, the chart's drain.
    pub(crate) async fn start(dir: &Path, chart: &ChartDrain) -> Environment {
        let mut fronts = BTreeMap::new();
        let mut ports = BTreeMap::new();
        for name in SERVICES {
            fronts.insert(name, ServiceAddress::start(&[]).await);
            ports.insert(name, testing::free_port());
        }
        Environment {
            fronts,
            ports,
            dir: dir.to_owned(),
            auth_db: testing::postgres_database("rolling_auth").await,
            user_db: testing::postgres_database("rolling_user").await,
            tweet_db: testing::unique_name("rolling_tweet"),
            timeline_db: testing::unique_name("rolling_timeline"),
            signing_key: svc_auth::keys::generate_pem().expect("a signing key"),
            drain_delay_ms: chart.service_drain_delay_ms,
        }
    }

    /// A pod of `name` on `ip`, its log under `logs`.
    pub(crate) fn pod(&self, name: &'static str, ip: Ipv4Addr, logs: &str) -> ServiceProcess {
        let addr = SocketAddr::from((ip, self.ports[name]));
        self.replica(name, addr, &self.dir.join(logs))
    }

    /// The old pod of every service, started, in DNS and behind its Service address.
    pub(crate) async fn start_old_pods(&self, dns: &ClusterDns) -> Vec<ServiceProcess> {
        let mut pods = Vec::new();
        for name in SERVICES {
            let mut pod = self.pod(name, OLD_POD, "old");
            pod.start().await;
            dns.add(&headless(name), OLD_POD);
            self.fronts[name].add(pod.grpc);
            pods.push(pod);
        }
        pods
    }

    /// Every Deployment rolls at once: its new pod starts and, once ready, joins the Service;
    /// then the old pod is deleted (out of the Service, SIGTERM) and must exit cleanly.
    pub(crate) async fn roll(
        &self,
        old_pods: Vec<ServiceProcess>,
        dns: &ClusterDns,
        began: Instant,
    ) -> Vec<ServiceProcess> {
        futures_util::future::join_all(old_pods.into_iter().map(|mut old| {
            let front = &self.fronts[old.name];
            let mut new = self.pod(old.name, NEW_POD, "new");
            async move {
                new.start().await;
                dns.add(&headless(new.name), NEW_POD);
                front.add(new.grpc);
                dns.remove(&headless(old.name), OLD_POD);
                front.remove(old.grpc);
                progress(
                    began,
                    &format!("{}: new pod ready, SIGTERM to the old", old.name),
                );
                let status = old.terminate(EXIT_WITHIN).await;
                progress(began, &format!("{}: the old pod exited", old.name));
                assert!(
                    status.success(),
                    "{} exited {status}:\n{}",
                    old.name,
                    old.log()
                );
                new
            }
        }))
        .await
    }

    /// The edge's view of the cluster: each service's headless name and port.
    pub(crate) fn upstreams(&self) -> Vec<(&'static str, String)> {
        SERVICES
            .iter()
            .map(|name| (*name, format!("{}:{}", headless(name), self.ports[name])))
            .collect()
    }

    pub(crate) fn url(&self, service: &str) -> String {
        self.fronts[service].url()
    }

    /// A pod of `name` listening on `addr`, its log in `dir`.
    pub(crate) fn replica(
        &self,
        name: &'static str,
        addr: SocketAddr,
        dir: &Path,
    ) -> ServiceProcess {
        let mut env: Vec<(&str, String)> = vec![
            ("XIR_AUTH__URL", self.url("svc-auth")),
            (
                "XIR_SERVER__DRAIN_DELAY_MS",
                self.drain_delay_ms.to_string(),
            ),
        ];
        let mongo = testing::mongodb_url();
        match name {
            "svc-auth" => env.extend([
                ("XIR_DATABASE__URL", self.auth_db.url().to_owned()),
                ("XIR_USER_SERVICE__URL", self.url("svc-user")),
                ("XIR_TOKENS__SIGNING_KEY_PEM", self.signing_key.clone()),
                // Cheap hashing: this test is about stopping, not password cost.
                ("XIR_PASSWORDS__MEMORY_KIB", "1024".to_owned()),
                ("XIR_PASSWORDS__ITERATIONS", "1".to_owned()),
            ]),
            "svc-user" => env.extend([
                ("XIR_DATABASE__URL", self.user_db.url().to_owned()),
                ("XIR_TIMELINE_SERVICE__URL", self.url("svc-timeline")),
            ]),
            "svc-tweet" => env.extend([
                ("XIR_DATABASE__URL", mongo),
                ("XIR_DATABASE__NAME", self.tweet_db.clone()),
                ("XIR_USER_SERVICE__URL", self.url("svc-user")),
                ("XIR_TIMELINE_SERVICE__URL", self.url("svc-timeline")),
                // Each client likes every tweet it posts.
                ("XIR_NOTIFYING_WRITES__BURST", "10000".to_owned()),
            ]),
            "svc-timeline" => env.extend([
                ("XIR_DATABASE__URL", mongo),
                ("XIR_DATABASE__NAME", self.timeline_db.clone()),
                ("XIR_REDIS__URL", testing::redis_url()),
                ("XIR_REDIS__KEY_PREFIX", format!("{}:", self.timeline_db)),
                ("XIR_USER_SERVICE__URL", self.url("svc-user")),
                ("XIR_TWEET_SERVICE__URL", self.url("svc-tweet")),
            ]),
            other => unreachable!("no service {other}"),
        }
        std::fs::create_dir_all(dir).expect("a log directory");
        ServiceProcess::new(name, addr, dir, &env)
    }
}

/// The loopback addresses the old and the new pods get (every replica of a service listens on
/// the same port, as pods do).
pub(crate) const OLD_POD: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

pub(crate) const NEW_POD: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

/// A headless Service's DNS name.
pub(crate) fn headless(service: &str) -> String {
    format!("{service}.xir.test")
}
