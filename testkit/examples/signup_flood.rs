//! A sign-up flood against one svc-auth: how fast the calls beyond the CPU pool's bound are
//! refused, and how far the process's memory grows.
//!
//! ```sh
//! cargo run -p xir-testkit --example signup_flood -- <svc-auth gRPC address> <svc-auth pid> [calls]
//! ```
//!
//! Every call is a distinct sign-up (an argon2id hash each); all are sent at once on one
//! connection. It prints the answers by code with their latencies and the process's peak
//! resident memory (sampled from /proc every 5 ms, and the kernel's high-water mark).

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use xir_proto::auth::v1::{SignUpRequest, auth_service_client::AuthServiceClient};

fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|line| line.starts_with(field))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Sends `calls` sign-ups at once and returns the latencies of the answers by status code.
async fn flood(
    client: &AuthServiceClient<tonic::transport::Channel>,
    calls: usize,
) -> BTreeMap<String, Vec<Duration>> {
    // Usernames no earlier run used (3-15 characters of [A-Za-z0-9_]).
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() % 100_000);
    let tasks: Vec<_> = (0..calls)
        .map(|n| {
            let mut client = client.clone();
            let username = format!("f{run}_{n}");
            tokio::spawn(async move {
                let sent = Instant::now();
                let outcome = client
                    .sign_up(SignUpRequest {
                        email: format!("{username}@example.org"),
                        username,
                        password: "a flood of passwords".into(),
                        display_name: String::new(),
                    })
                    .await;
                let code = match outcome {
                    Ok(_) => "OK".to_owned(),
                    Err(status) => format!("{:?}", status.code()),
                };
                (code, sent.elapsed())
            })
        })
        .collect();
    let mut by_code: BTreeMap<String, Vec<Duration>> = BTreeMap::new();
    for task in tasks {
        let (code, took) = task.await.expect("a call task");
        by_code.entry(code).or_default().push(took);
    }
    by_code
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, addr, pid, rest @ ..] = args.as_slice() else {
        eprintln!("usage: signup_flood <svc-auth gRPC address> <svc-auth pid> [calls]");
        std::process::exit(2);
    };
    let pid: u32 = pid.parse().expect("a pid");
    let calls: usize = rest
        .first()
        .map_or(200, |n| n.parse().expect("a number of calls"));
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("an address")
        .connect()
        .await
        .expect("svc-auth answers");
    let client = AuthServiceClient::new(channel);

    let idle_kib = status_kib(pid, "VmRSS:");
    let peak = Arc::new(AtomicU64::new(idle_kib));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = std::thread::spawn({
        let (peak, sampling) = (peak.clone(), sampling.clone());
        move || {
            while sampling.load(Ordering::Relaxed) {
                peak.fetch_max(status_kib(pid, "VmRSS:"), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    });
    let started = Instant::now();
    let by_code = flood(&client, calls).await;
    let total = started.elapsed();
    sampling.store(false, Ordering::Relaxed);
    sampler.join().expect("the sampler");

    println!("{calls} sign-ups sent at once, all answered in {total:.2?}");
    for (code, mut latencies) in by_code {
        latencies.sort_unstable();
        println!(
            "  {code}: {} calls, latency p50 {:.1?}, p99 {:.1?}, max {:.1?}",
            latencies.len(),
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            latencies[latencies.len() - 1]
        );
    }
    println!(
        "  svc-auth resident memory: {} MiB idle, {} MiB peak sampled, {} MiB kernel high-water mark",
        idle_kib / 1024,
        peak.load(Ordering::Relaxed) / 1024,
        status_kib(pid, "VmHWM:") / 1024
    );
}
