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

use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use xir_common::testing;
use xir_testkit::{
    edge::{Edge, EdgeConfig, InCluster, RestAccount, RestClient},
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
    let environment = Environment::start(dir.path(), &chart).await;
    let old_pods = environment.start_old_pods(&dns).await;
    let upstreams = environment.upstreams();
    let in_cluster = InCluster {
        services: &upstreams,
        dns: dns.addr(),
        args: &chart.edge_args,
    };
    let old_edge = Edge::start_in_cluster(EdgeConfig::Chart, &in_cluster).await;
    let edge_service = ServiceAddress::start(&[old_edge.addr()]).await;
    let accounts = accounts_following_each_other(&edge_service.url()).await;

    let load = Load::start(accounts, &edge_service.url());
    tokio::time::sleep(Duration::from_secs(3)).await;
    load.enter(1);
    progress(load.began, "every service rolls");
    let new_pods = environment.roll(old_pods, &dns, load.began).await;
    load.enter(2);
    progress(load.began, "the edge rolls");
    let new_edge = roll_edge(old_edge, &in_cluster, &edge_service, &chart, load.began).await;
    load.enter(3);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let tally = load.stop().await;
    assert_no_call_failed(&tally);
    drop((new_pods, new_edge));
}

/// Four accounts, each following the next, signed up through the edge.
async fn accounts_following_each_other(edge_url: &str) -> Vec<RestAccount> {
    let setup = RestClient::with_base(edge_url);
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
    accounts
}

/// The edge's Deployment rolls: a new pod joins the edge Service, the old one leaves it, its
/// preStop hook runs, then SIGTERM; it must exit cleanly.
async fn roll_edge(
    old_edge: Edge,
    in_cluster: &InCluster<'_>,
    edge_service: &ServiceAddress,
    chart: &ChartDrain,
    began: Instant,
) -> Edge {
    let new_edge = Edge::start_in_cluster(EdgeConfig::Chart, in_cluster).await;
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
    new_edge
}

fn assert_no_call_failed(tally: &Tally) {
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
}
