//! A rolling update fails no call. The real Envoy edge runs the chart's config with the chart's
//! drain options, the four services run as processes with the chart's drain delay, and a
//! steady stream of REST calls (reads and writes on every service) goes through the edge while
//! everything is replaced as Kubernetes replaces it: a new replica of every service starts and
//! becomes ready, then each old one leaves its Service's endpoints and gets SIGTERM, all four at
//! once as `helm upgrade` rolls them; then a new edge replica starts and the old one leaves the
//! edge Service's endpoints, runs the chart's preStop hook and gets SIGTERM. Every call must
//! succeed.
//!
//! Kubernetes itself cannot run here; `xir_testkit::kube` plays the two parts of it the
//! sequence depends on: the Services' virtual addresses the services call each other through
//! (kube-proxy), and the DNS by which the edge finds the pods of each headless Service. Pods
//! join both once ready and leave both the moment they start terminating.

use std::{
    collections::BTreeMap,
    net::{Ipv4Addr, SocketAddr},
    path::Path,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use http::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;
use serde_yaml::Value;
use xir_common::testing;
use xir_testkit::{
    edge::{self, Edge, EdgeConfig, InCluster, PASSWORD, RestAccount, RestClient},
    kube::{ClusterDns, ServiceAddress},
    processes::ServiceProcess,
};

const SERVICES: [&str; 4] = ["svc-auth", "svc-user", "svc-tweet", "svc-timeline"];
const PHASES: [&str; 4] = ["steady", "services rolling", "edge rolling", "after"];
/// Longer than any drain the chart configures: a process still running then is a failure.
const EXIT_WITHIN: Duration = Duration::from_secs(120);

/// What the rendered chart says about stopping.
struct ChartDrain {
    /// `server.drain_delay_ms` of every service's settings.
    service_drain_delay_ms: u64,
    /// The edge container's Envoy arguments other than the config path and log format.
    edge_args: Vec<String>,
    /// The edge's preStop command: `/bin/bash -c SCRIPT`.
    edge_pre_stop: String,
}

async fn chart_drain() -> ChartDrain {
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
struct Environment {
    fronts: BTreeMap<&'static str, ServiceAddress>,
    auth_db: String,
    user_db: String,
    tweet_db: String,
    timeline_db: String,
    signing_key: String,
    drain_delay_ms: u64,
}

impl Environment {
    fn url(&self, service: &str) -> String {
        self.fronts[service].url()
    }

    /// A pod of `name` listening on `addr`, its log in `dir`.
    fn replica(&self, name: &'static str, addr: SocketAddr, dir: &Path) -> ServiceProcess {
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
                ("XIR_DATABASE__URL", self.auth_db.clone()),
                ("XIR_USER_SERVICE__URL", self.url("svc-user")),
                ("XIR_TOKENS__SIGNING_KEY_PEM", self.signing_key.clone()),
                // Cheap hashing: this test is about stopping, not password cost.
                ("XIR_PASSWORDS__MEMORY_KIB", "1024".to_owned()),
                ("XIR_PASSWORDS__ITERATIONS", "1".to_owned()),
            ]),
            "svc-user" => env.extend([
                ("XIR_DATABASE__URL", self.user_db.clone()),
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
                ("XIR_USER_SERVICE__URL", self.url("svc-user")),
                ("XIR_TWEET_SERVICE__URL", self.url("svc-tweet")),
            ]),
            other => unreachable!("no service {other}"),
        }
        std::fs::create_dir_all(dir).expect("a log directory");
        ServiceProcess::new(name, addr, dir, &env)
    }
}

/// Calls that answered 200 per phase, and every other outcome.
#[derive(Default)]
struct Tally {
    ok: BTreeMap<&'static str, u32>,
    failures: Vec<String>,
}

/// One client of the edge, with its own connections, calling on every service in turn.
struct Client {
    rest: RestClient,
    account: RestAccount,
    other_username: String,
    worker: usize,
}

impl Client {
    async fn call(
        &self,
        n: usize,
        last_tweet: &mut Option<String>,
    ) -> (String, Result<(), String>) {
        let token = Some(self.account.token.as_str());
        let (what, method, path, body) = match (n % 6, last_tweet.as_deref()) {
            (0, _) => (
                "home timeline",
                Method::GET,
                "/v1/timeline/home?limit=10".to_owned(),
                None,
            ),
            (1, _) | (2, None) => (
                "post",
                Method::POST,
                "/v1/tweets".to_owned(),
                Some(json!({
                    "text": format!("rolling update {} {n}", self.worker),
                    "idempotencyKey": format!("rolling-{}-{n}", self.worker),
                })),
            ),
            (2, Some(tweet)) => (
                "like",
                Method::POST,
                format!("/v1/tweets/{tweet}/like"),
                None,
            ),
            (3, _) => (
                "profile",
                Method::GET,
                format!("/v1/usernames/{}", self.other_username),
                None,
            ),
            (4, _) => (
                "notifications",
                Method::GET,
                "/v1/notifications".to_owned(),
                None,
            ),
            _ => (
                "login",
                Method::POST,
                "/v1/auth/login".to_owned(),
                Some(json!({
                    "login": format!("roller{}@example.com", self.worker),
                    "password": PASSWORD,
                })),
            ),
        };
        let token = if what == "login" { None } else { token };
        let outcome = match self.rest.try_request(method, &path, token, body, &[]).await {
            Ok(reply) if reply.status == StatusCode::OK => {
                if what == "post" {
                    *last_tweet = reply.json["tweet"]["tweetId"].as_str().map(str::to_owned);
                }
                Ok(())
            }
            Ok(reply) => Err(format!("{} {}", reply.status, reply.text)),
            Err(error) => Err(format!("transport: {error:?}")),
        };
        (format!("{what} {path}"), outcome)
    }
}

/// The loopback addresses the old and the new pods get (every replica of a service listens on
/// the same port, as pods do).
const OLD_POD: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const NEW_POD: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

fn progress(began: Instant, what: &str) {
    println!("[{:5.1} s] {what}", began.elapsed().as_secs_f64());
}

/// A headless Service's DNS name.
fn headless(service: &str) -> String {
    format!("{service}.xir.test")
}

#[tokio::test]
async fn a_rolling_update_of_every_service_and_the_edge_fails_no_call() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let chart = chart_drain().await;
    println!(
        "chart: services drain {} ms; edge {:?}",
        chart.service_drain_delay_ms, chart.edge_args
    );

    let dns = ClusterDns::start().await;
    let mut fronts = BTreeMap::new();
    let mut ports = BTreeMap::new();
    for name in SERVICES {
        fronts.insert(name, ServiceAddress::start(&[]).await);
        ports.insert(name, testing::free_port());
    }
    let environment = Environment {
        fronts,
        auth_db: testing::postgres_database("rolling_auth").await,
        user_db: testing::postgres_database("rolling_user").await,
        tweet_db: testing::unique_name("rolling_tweet"),
        timeline_db: testing::unique_name("rolling_timeline"),
        signing_key: svc_auth::keys::generate_pem().expect("a signing key"),
        drain_delay_ms: chart.service_drain_delay_ms,
    };
    let pod = |name: &'static str, ip: Ipv4Addr, logs: &str| {
        let addr = SocketAddr::from((ip, ports[name]));
        environment.replica(name, addr, &dir.path().join(logs))
    };
    let mut old_replicas = Vec::new();
    for name in SERVICES {
        let mut replica = pod(name, OLD_POD, "old");
        replica.start().await;
        dns.add(&headless(name), OLD_POD);
        environment.fronts[name].add(replica.grpc);
        old_replicas.push(replica);
    }

    let upstreams: Vec<(&str, String)> = SERVICES
        .iter()
        .map(|name| (*name, format!("{}:{}", headless(name), ports[name])))
        .collect();
    let in_cluster = InCluster {
        services: &upstreams,
        dns: dns.addr(),
        args: &chart.edge_args,
    };
    let old_edge = Edge::start_in_cluster(EdgeConfig::Chart, &in_cluster).await;
    let edge_service = ServiceAddress::start(&[old_edge.addr()]).await;

    let setup = RestClient::with_base(&edge_service.url());
    let mut accounts = Vec::new();
    for worker in 0..4 {
        accounts.push(setup.sign_up(&format!("roller{worker}")).await);
    }
    for (worker, account) in accounts.iter().enumerate() {
        let followee = &accounts[(worker + 1) % accounts.len()];
        testing::eventually(
            Duration::from_secs(60),
            "a follow once profiles exist",
            || {
                let setup = setup.clone();
                let path = format!("/v1/users/{}/follow", followee.id);
                let token = account.token.clone();
                async move {
                    let reply = setup.request(Method::POST, &path, Some(&token), None).await;
                    (reply.status == StatusCode::OK).then_some(())
                }
            },
        )
        .await;
    }

    let began = Instant::now();
    let phase = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let workers: Vec<_> = accounts
        .into_iter()
        .enumerate()
        .map(|(worker, account)| {
            let client = Client {
                rest: RestClient::with_base(&edge_service.url()),
                account,
                other_username: format!("roller{}", (worker + 1) % 4),
                worker,
            };
            let (phase, stop, tally) = (phase.clone(), stop.clone(), tally.clone());

            tokio::spawn(async move {
                let mut last_tweet = None;
                let mut n = worker;
                while !stop.load(Ordering::SeqCst) {
                    let during = PHASES[phase.load(Ordering::SeqCst)];
                    let (what, outcome) = client.call(n, &mut last_tweet).await;
                    {
                        let mut tally = tally.lock().unwrap();
                        match outcome {
                            Ok(()) => *tally.ok.entry(during).or_default() += 1,
                            Err(error) => tally.failures.push(format!(
                                "[{during}, {:.1} s] {what}: {error}",
                                began.elapsed().as_secs_f64()
                            )),
                        }
                    }
                    n += 1;
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(3)).await;

    // Every Deployment rolls at once: its new pod starts and, once ready, joins the Service;
    // then the old pod is deleted (out of the Service, SIGTERM).
    phase.store(1, Ordering::SeqCst);
    progress(began, "every service rolls");
    let new_replicas = futures_util::future::join_all(old_replicas.into_iter().map(|mut old| {
        let (dns, front) = (&dns, &environment.fronts[old.name]);
        let mut new = pod(old.name, NEW_POD, "new");
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
    .await;

    // The edge's Deployment rolls: the old pod leaves the edge Service, its preStop hook
    // runs, then SIGTERM.
    phase.store(2, Ordering::SeqCst);
    progress(began, "the edge rolls");
    let new_edge = Edge::start_in_cluster(EdgeConfig::Chart, &in_cluster).await;
    edge_service.add(new_edge.addr());
    edge_service.remove(old_edge.addr());
    let pre_stop = chart.edge_pre_stop.replace(
        "/dev/tcp/127.0.0.1/9901",
        &format!("/dev/tcp/127.0.0.1/{}", old_edge.admin_addr().port()),
    );
    assert_ne!(
        pre_stop, chart.edge_pre_stop,
        "the preStop hook calls the admin port 9901"
    );
    progress(began, "the old edge's preStop hook");
    let hook = tokio::time::timeout(
        EXIT_WITHIN,
        tokio::process::Command::new("/bin/bash")
            .args(["-c", &pre_stop])
            .status(),
    )
    .await
    .expect("the preStop hook ends")
    .expect("run the preStop hook");
    assert!(hook.success(), "preStop: {hook}");
    progress(began, "SIGTERM to the old edge");
    let status = old_edge.terminate(EXIT_WITHIN).await;
    assert!(status.success(), "the old edge exited {status}");

    phase.store(3, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::SeqCst);
    for worker in workers {
        worker.await.expect("a load worker");
    }

    let tally = tally.lock().unwrap();
    println!("calls answered 200 per phase: {:?}", tally.ok);
    println!("failed calls: {}", tally.failures.len());
    for failure in tally.failures.iter().take(50) {
        println!("  {failure}");
    }
    assert!(
        tally.failures.is_empty(),
        "{} calls failed during the rolling update; the first: {:?}",
        tally.failures.len(),
        tally.failures.first()
    );
    for during in PHASES {
        assert!(
            tally.ok.get(during).copied().unwrap_or(0) > 0,
            "no call was made while {during}: {:?}",
            tally.ok
        );
    }
    drop((new_replicas, new_edge));
}
