//! The real Envoy edge in front of a [`Stack`](crate::Stack): the official Envoy binary (the
//! release `tools/python/requirements.txt` pins, the one the images run) on
//! `deploy/envoy/envoy.yaml` or on the chart's rendered edge config, rewritten by
//! `scripts/lib/localize.py` only where things are: each cluster's endpoint, the listener and
//! admin addresses, the descriptor path. Routes, filters, CORS, rate limits and transcoding
//! are the files' own.
//!
//! scripts/test installs the tools and names them in `XIR_TEST_ENVOY`, `XIR_TEST_PYTHON` and
//! `XIR_TEST_HELM`.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use http::StatusCode;
use tokio::process::{Child, Command};
use xir_common::testing;

pub use crate::rest::{PASSWORD, Reply, RestAccount, RestClient};

/// Which edge config to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeConfig {
    /// `deploy/envoy/envoy.yaml`, as Docker Compose runs it.
    Compose,
    /// The edge ConfigMap of `helm template helm/xir`, as Kubernetes runs it.
    Chart,
}

/// Where an edge started by [`Edge::start_in_cluster`] finds its upstreams.
pub struct InCluster<'a> {
    /// Each upstream cluster (`svc-auth`, ...) and the `host:port` of its headless Service.
    pub services: &'a [(&'a str, String)],
    /// The DNS server that resolves those hosts.
    pub dns: SocketAddr,
    /// More Envoy arguments.
    pub args: &'a [String],
}

/// A running Envoy; killed when dropped.
pub struct Edge {
    envoy: Child,
    addr: SocketAddr,
    admin: SocketAddr,
    dir: tempfile::TempDir,
    client: RestClient,
}

fn tool(env: &str) -> String {
    std::env::var(env).unwrap_or_else(|_| {
        panic!("{env} is not set: run the tests through scripts/test, which installs Envoy and its helpers")
    })
}

/// The workspace: the repository this crate sits in.
pub fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace holds testkit")
        .to_owned()
}

/// A loopback address on which nothing listens (where spans go when a test collects none).
fn closed_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], testing::free_port()))
}

async fn run(command: &mut Command, what: &str) -> Vec<u8> {
    let output = command
        .output()
        .await
        .unwrap_or_else(|error| panic!("cannot run {what}: {error}"));
    assert!(
        output.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// `helm template` of the chart as release `xir` in namespace `xir`, with `--set` `values`.
pub async fn render_chart_with(values: &[&str]) -> String {
    let mut command = Command::new(tool("XIR_TEST_HELM"));
    command.args([
        "template",
        "xir",
        &repository().join("helm/xir").to_string_lossy(),
        "--namespace",
        "xir",
        // scripts/check-deploy renders and validates for the same version.
        "--kube-version",
        "1.33.0",
    ]);
    for value in values {
        command.args(["--set", value]);
    }
    let rendered = run(&mut command, "helm template").await;
    String::from_utf8(rendered).expect("helm writes UTF-8")
}

/// The objects of a rendered chart.
pub fn chart_objects(rendered: &str) -> Vec<serde_yaml::Value> {
    use serde::Deserialize;
    serde_yaml::Deserializer::from_str(rendered)
        .map(|document| {
            serde_yaml::Value::deserialize(document).expect("the chart renders valid YAML")
        })
        .filter(|document| !document.is_null())
        .collect()
}

/// The object of `kind` named `name` among `objects`.
pub fn chart_object<'a>(
    objects: &'a [serde_yaml::Value],
    kind: &str,
    name: &str,
) -> &'a serde_yaml::Value {
    objects
        .iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("the chart renders no {kind} {name}"))
}

/// The chart rendered with its defaults (and an OTLP endpoint, so it has the tracing cluster).
async fn render_chart(dir: &Path) -> PathBuf {
    let rendered =
        render_chart_with(&["telemetry.otlpEndpoint=http://otel-collector.observability:4317"])
            .await;
    let path = dir.join("chart.yaml");
    std::fs::write(&path, rendered).expect("write the rendered chart");
    path
}

impl Edge {
    /// Starts Envoy on `config`, its clusters (`svc-auth`, ...) pointed at `clusters`, its
    /// spans at `otlp` (or at a closed port), and waits until its admin interface says LIVE
    /// (after the first health checks of every cluster).
    pub async fn start(
        config: EdgeConfig,
        clusters: &[(&str, SocketAddr)],
        otlp: Option<SocketAddr>,
    ) -> Edge {
        let clusters: Vec<(&str, String)> = clusters
            .iter()
            .map(|(name, at)| (*name, at.to_string()))
            .collect();
        Self::launch(config, &clusters, otlp, None, &[]).await
    }

    /// Starts Envoy as a pod of a cluster the test plays: each of its clusters resolves a
    /// headless Service name through the test's DNS server, and it runs with `args` too (the
    /// chart's drain options).
    pub async fn start_in_cluster(config: EdgeConfig, cluster: &InCluster<'_>) -> Edge {
        Self::launch(
            config,
            cluster.services,
            None,
            Some(cluster.dns),
            cluster.args,
        )
        .await
    }

    async fn launch(
        config: EdgeConfig,
        clusters: &[(&str, String)],
        otlp: Option<SocketAddr>,
        dns: Option<SocketAddr>,
        args: &[String],
    ) -> Edge {
        let dir = tempfile::tempdir().expect("temporary directory");
        let addr = SocketAddr::from(([127, 0, 0, 1], testing::free_port()));
        let admin = SocketAddr::from(([127, 0, 0, 1], testing::free_port()));
        let mut localize = Command::new(tool("XIR_TEST_PYTHON"));
        localize.arg(repository().join("scripts/lib/localize.py"));
        localize.arg("envoy");
        match config {
            EdgeConfig::Compose => {
                localize.arg(repository().join("deploy/envoy/envoy.yaml"));
            }
            EdgeConfig::Chart => {
                localize
                    .arg(render_chart(dir.path()).await)
                    .arg("--from-helm");
            }
        }
        let otlp = otlp.unwrap_or_else(closed_port).to_string();
        for (name, at) in clusters.iter().chain([&("otlp", otlp)]) {
            localize.arg("--cluster").arg(format!("{name}={at}"));
        }
        if let Some(dns) = dns {
            localize.arg("--dns-resolver").arg(dns.to_string());
        }
        localize
            .arg("--listener")
            .arg(format!("rest={addr}"))
            .arg("--admin")
            .arg(admin.to_string())
            .arg("--descriptor")
            .arg(repository().join("helm/xir/files/xir_descriptor.bin"));
        let localized = run(&mut localize, "scripts/lib/localize.py").await;
        let config_path = dir.path().join("envoy.yaml");
        std::fs::write(&config_path, localized).expect("write envoy.yaml");

        let log = std::fs::File::create(dir.path().join("envoy.log")).expect("envoy.log");
        let envoy = Command::new(tool("XIR_TEST_ENVOY"))
            .arg("--config-path")
            .arg(&config_path)
            // Several edges run at once in one test run: no shared memory between them.
            .args(["--disable-hot-restart", "--concurrency", "1"])
            .args(["--log-level", "warn"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("cannot start envoy");
        let mut edge = Edge {
            envoy,
            addr,
            admin,
            dir,
            client: RestClient::new(addr, None),
        };
        edge.wait_until_live().await;
        edge
    }

    async fn wait_until_live(&mut self) {
        let ready = format!("http://{}/ready", self.admin);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.envoy.try_wait() {
                panic!("envoy exited ({status}):\n{}", self.log());
            }
            if let Ok(response) = reqwest::get(&ready).await
                && response.status() == StatusCode::OK
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "envoy was not LIVE within 60 s:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `http://127.0.0.1:PORT`, the base of every REST path.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Envoy's admin interface (`/stats`, `/clusters`, ...).
    pub fn admin_url(&self) -> String {
        format!("http://{}", self.admin)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.admin
    }

    /// SIGTERM, as Kubernetes sends it after the preStop hook, and waits for Envoy to exit.
    pub async fn terminate(self, within: Duration) -> std::process::ExitStatus {
        crate::processes::terminate(self.envoy, within).await
    }

    /// What Envoy printed so far: its warnings and one JSON access-log line per request.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("envoy.log")).unwrap_or_default()
    }

    /// A client whose connections come from `source`, another loopback address (127.0.0.2,
    /// ...): to the edge, another client.
    pub fn client_from(&self, source: Ipv4Addr) -> RestClient {
        RestClient::new(self.addr, Some(IpAddr::V4(source)))
    }

    /// The REST client every test uses by default, from 127.0.0.1.
    pub fn rest(&self) -> &RestClient {
        &self.client
    }
}
