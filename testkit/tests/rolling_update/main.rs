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
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use http::{Method, StatusCode};
use xir_common::testing;
use xir_testkit::{
    edge::{Edge, EdgeConfig, InCluster, RestClient},
    kube::{ClusterDns, ServiceAddress},
};

mod clients;
mod environment;

use clients::*;
use environment::*;

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
