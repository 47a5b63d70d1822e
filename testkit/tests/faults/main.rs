//! Fault injection: a mixed write load (sign-ups, follows, tweets, likes, reposts) runs against
//! the four services as real processes while each service in turn is killed with SIGKILL and
//! started again, FerretDB (tweets, timelines) is killed and started again on its data, and
//! every PostgreSQL connection is cut for a while. Afterwards, read only through the public
//! RPCs: every acknowledged write is there exactly once, every home timeline holds exactly the
//! tweets of its owner and the people they follow, every counter equals what is stored, and no
//! notification was made twice.

use std::{
    collections::BTreeSet,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use xir_common::testing;
use xir_proto::{
    auth::v1::auth_service_client::AuthServiceClient,
    timeline::v1::timeline_service_client::TimelineServiceClient,
    tweet::v1::tweet_service_client::TweetServiceClient,
    user::v1::user_service_client::UserServiceClient,
};
use xir_testkit::processes::{FerretProcess, ServiceProcess};

mod audit;
mod workload;

use audit::*;
use workload::*;

const CONVERGENCE_BOUND: Duration = Duration::from_secs(600);

/// The four services as processes, FerretDB as a process, and PostgreSQL behind a proxy that
/// can cut its connections.
struct Platform {
    dir: tempfile::TempDir,
    ferret: FerretProcess,
    postgres_proxy: testing::SwitchableProxy,
    services: [ServiceProcess; 4],
    clients: Clients,
    /// svc-auth's and svc-user's, dropped with the platform.
    _databases: [testing::TestDatabase; 2],
}

#[tokio::test]
async fn acknowledged_writes_survive_killed_services_and_databases() {
    let mut platform = start_platform().await;
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    for n in 0..6 {
        sign_up(&platform.clients, &ledger, n).await;
    }
    assert_eq!(
        ledger.lock().unwrap().users.len(),
        6,
        "sign-ups before any fault"
    );

    // The load: three writers until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let writers = spawn_writers(&platform.clients, &ledger, &stop);
    let faults = inject_faults(&mut platform).await;
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        writer.await.expect("a writer finished");
    }
    for service in &platform.services {
        service.wait_ready().await;
    }

    let ledger = Arc::try_unwrap(ledger)
        .ok()
        .expect("the writers are done")
        .into_inner()
        .unwrap();
    println!("faults injected, in order: {}", faults.join(", "));
    for (kind, (acknowledged, failed)) in &ledger.attempts {
        println!("{kind}: {acknowledged} acknowledged, {failed} failed during faults");
    }
    let (found, converged) = converge(platform, &ledger).await;
    assert_nothing_lost_or_doubled(&ledger, &found, converged);
}

async fn start_platform() -> Platform {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut ferret = FerretProcess::new(dir.path());
    ferret.start().await;
    let databases = [
        testing::postgres_database("faults_auth").await,
        testing::postgres_database("faults_user").await,
    ];
    let postgres = testing::url_socket_addr(databases[0].url());
    let postgres_proxy = testing::SwitchableProxy::start(postgres, true).await;
    let behind_proxy = |database: &testing::TestDatabase| {
        testing::url_with_addr(database.url(), postgres_proxy.addr())
    };
    let auth_db = behind_proxy(&databases[0]);
    let user_db = behind_proxy(&databases[1]);
    let addr = || SocketAddr::from(([127, 0, 0, 1], testing::free_port()));
    let (auth_addr, user_addr, tweet_addr, timeline_addr) = (addr(), addr(), addr(), addr());
    let addrs = [auth_addr, user_addr, tweet_addr, timeline_addr];
    let mut services = service_processes(dir.path(), &ferret.url(), auth_db, user_db, addrs);
    for service in &mut services {
        service.start().await;
    }
    let clients = Clients {
        auth: AuthServiceClient::new(lazy(auth_addr)),
        users: UserServiceClient::new(lazy(user_addr)),
        tweets: TweetServiceClient::new(lazy(tweet_addr)),
        timelines: TimelineServiceClient::new(lazy(timeline_addr)),
    };
    Platform {
        dir,
        ferret,
        postgres_proxy,
        services,
        clients,
        _databases: databases,
    }
}

/// The four services as processes on `addrs` (auth, user, tweet, timeline), with their
/// databases and quick outbox retries.
fn service_processes(
    dir: &std::path::Path,
    ferret_url: &str,
    auth_db: String,
    user_db: String,
    addrs: [SocketAddr; 4],
) -> [ServiceProcess; 4] {
    let [auth_addr, user_addr, tweet_addr, timeline_addr] = addrs;
    let url = |addr: SocketAddr| format!("http://{addr}");
    let shared = [("XIR_AUTH__URL", url(auth_addr))];
    let generous = ("XIR_NOTIFYING_WRITES__BURST", "10000".to_owned());
    let with = |own: &[(&'static str, String)]| -> Vec<(&'static str, String)> {
        shared.iter().cloned().chain(own.iter().cloned()).collect()
    };
    // svc-auth, svc-user and svc-tweet have outboxes; svc-timeline only receives.
    let with_outbox = |own: &[(&'static str, String)]| {
        let mut vars = with(own);
        vars.push(("XIR_OUTBOX__POLL_INTERVAL_MS", "50".to_owned()));
        vars.push(("XIR_OUTBOX__RETRY_MAX_MS", "1000".to_owned()));
        vars
    };
    let signing_key = svc_auth::keys::generate_pem().expect("a signing key");
    [
        ServiceProcess::new(
            "svc-auth",
            auth_addr,
            dir,
            &with_outbox(&[
                ("XIR_DATABASE__URL", auth_db),
                ("XIR_USER_SERVICE__URL", url(user_addr)),
                ("XIR_TOKENS__SIGNING_KEY_PEM", signing_key),
                // Cheap hashing: this test is about faults, not password cost.
                ("XIR_PASSWORDS__MEMORY_KIB", "1024".to_owned()),
                ("XIR_PASSWORDS__ITERATIONS", "1".to_owned()),
            ]),
        ),
        ServiceProcess::new(
            "svc-user",
            user_addr,
            dir,
            &with_outbox(&[
                ("XIR_DATABASE__URL", user_db),
                ("XIR_TIMELINE_SERVICE__URL", url(timeline_addr)),
                generous.clone(),
            ]),
        ),
        ServiceProcess::new(
            "svc-tweet",
            tweet_addr,
            dir,
            &with_outbox(&[
                ("XIR_DATABASE__URL", ferret_url.to_owned()),
                ("XIR_DATABASE__NAME", testing::unique_name("faults_tweet")),
                ("XIR_USER_SERVICE__URL", url(user_addr)),
                ("XIR_TIMELINE_SERVICE__URL", url(timeline_addr)),
                generous.clone(),
            ]),
        ),
        ServiceProcess::new(
            "svc-timeline",
            timeline_addr,
            dir,
            &with(&[
                ("XIR_DATABASE__URL", ferret_url.to_owned()),
                (
                    "XIR_DATABASE__NAME",
                    testing::unique_name("faults_timeline"),
                ),
                ("XIR_REDIS__URL", testing::redis_url()),
                (
                    "XIR_REDIS__KEY_PREFIX",
                    format!("{}:", testing::unique_name("faults_timeline")),
                ),
                ("XIR_USER_SERVICE__URL", url(user_addr)),
                ("XIR_TWEET_SERVICE__URL", url(tweet_addr)),
            ]),
        ),
    ]
}

fn spawn_writers(
    clients: &Clients,
    ledger: &Arc<Mutex<Ledger>>,
    stop: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..3)
        .map(|worker| {
            let (clients, ledger, stop) = (clients.clone(), ledger.clone(), stop.clone());
            tokio::spawn(async move {
                let mut dice = Dice(0x9E37_79B9_7F4A_7C15 ^ (worker as u64 + 1));
                let mut n = 1_000 * (worker + 1);
                while !stop.load(Ordering::SeqCst) {
                    one_write(&clients, &ledger, &mut dice, n).await;
                    n += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        })
        .collect()
}

/// Each service killed and started again, then FerretDB, then PostgreSQL cut off: the faults
/// in the order they happened.
async fn inject_faults(platform: &mut Platform) -> Vec<String> {
    let Platform {
        ferret,
        postgres_proxy,
        services,
        ..
    } = platform;
    let pause = || tokio::time::sleep(Duration::from_secs(2));
    let mut faults = Vec::new();
    for index in [1, 2, 3, 0] {
        pause().await;
        services[index].kill().await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        services[index].start().await;
        faults.push(format!("SIGKILL {}", services[index].name));
    }
    pause().await;
    ferret.kill().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    ferret.start().await;
    faults.push("SIGKILL FerretDB".to_owned());
    pause().await;
    postgres_proxy.set_up(false);
    tokio::time::sleep(Duration::from_secs(3)).await;
    postgres_proxy.set_up(true);
    faults.push("PostgreSQL connections cut for 3 s".to_owned());
    pause().await;
    faults
}

/// Reads everything until it is consistent, within a generous bound; how long that took.
async fn converge(platform: Platform, ledger: &Ledger) -> (Found, Duration) {
    let Platform { dir, clients, .. } = platform;
    let started = Instant::now();
    let found = loop {
        match read_everything(&clients, &ledger.users, &ledger.tried).await {
            Ok(found) => match divergence(&found) {
                None => break found,
                Some(why) => {
                    if started.elapsed() >= CONVERGENCE_BOUND {
                        // Keep the services' logs and FerretDB's data for a post-mortem.
                        let kept = dir.keep();
                        panic!(
                            "not converged after {CONVERGENCE_BOUND:?}: {why}\n\
                             logs and database files kept in {}",
                            kept.display()
                        );
                    }
                }
            },
            Err(status) => assert!(
                started.elapsed() < CONVERGENCE_BOUND,
                "reads still failing after {CONVERGENCE_BOUND:?}: {status:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let converged = started.elapsed();

    (found, converged)
}

/// Every acknowledged write is there, once.
fn assert_nothing_lost_or_doubled(ledger: &Ledger, found: &Found, converged: Duration) {
    let lost_tweets: Vec<_> = ledger
        .tweets
        .iter()
        .filter(|(id, (author, text))| {
            found.tweets.get(id).map(|(a, t, ..)| (a, t)) != Some((author, text))
        })
        .collect();
    let lost_follows: Vec<_> = ledger
        .follows
        .iter()
        .filter(|(a, b)| !found.following[a].contains(b))
        .collect();
    let lost_likes: Vec<_> = ledger.likes.difference(&found.liked).collect();
    let lost_reposts: Vec<_> = ledger.reposts.difference(&found.reposted).collect();
    println!(
        "acknowledged: {} users, {} follows, {} tweets, {} likes, {} reposts",
        ledger.users.len(),
        ledger.follows.len(),
        ledger.tweets.len(),
        ledger.likes.len(),
        ledger.reposts.len()
    );
    println!(
        "found: {} follows, {} tweets, {} likes, {} reposts (unacknowledged writes may have landed too)",
        found.following.values().map(BTreeSet::len).sum::<usize>(),
        found.tweets.len(),
        found.liked.len(),
        found.reposted.len()
    );
    println!(
        "lost: {} follows, {} tweets, {} likes, {} reposts; duplicated: {} items, {} tweet texts, {} notifications",
        lost_follows.len(),
        lost_tweets.len(),
        lost_likes.len(),
        lost_reposts.len(),
        found.repeated_items,
        found.duplicate_texts,
        found.repeated_notifications
    );
    println!("converged {converged:?} after the load stopped (bound {CONVERGENCE_BOUND:?})");
    assert!(lost_tweets.is_empty(), "lost tweets: {lost_tweets:?}");
    assert!(lost_follows.is_empty(), "lost follows: {lost_follows:?}");
    assert!(lost_likes.is_empty(), "lost likes: {lost_likes:?}");
    assert!(lost_reposts.is_empty(), "lost reposts: {lost_reposts:?}");
    assert_eq!(found.repeated_items, 0, "an item listed twice");
    assert_eq!(found.duplicate_texts, 0, "a tweet written twice");
    assert_eq!(found.repeated_notifications, 0, "a notification made twice");
    assert!(ledger.tweets.len() >= 10, "the load wrote tweets");
}
