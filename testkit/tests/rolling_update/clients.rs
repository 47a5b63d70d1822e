//! The clients that keep calling through the edge during the update, and their tally.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use http::{Method, StatusCode};
use serde_json::json;
use xir_testkit::edge::{PASSWORD, RestAccount, RestClient};

pub(crate) const PHASES: [&str; 4] = ["steady", "services rolling", "edge rolling", "after"];

/// Calls that answered 200 per phase, and every other outcome.
#[derive(Default)]
pub(crate) struct Tally {
    pub(crate) ok: BTreeMap<&'static str, u32>,
    pub(crate) failures: Vec<String>,
}

/// One client of the edge, with its own connections, calling on every service in turn.
pub(crate) struct Client {
    pub(crate) rest: RestClient,
    pub(crate) account: RestAccount,
    pub(crate) other_username: String,
    pub(crate) worker: usize,
}

impl Client {
    pub(crate) async fn call(
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

pub(crate) fn progress(began: Instant, what: &str) {
    println!("[{:5.1} s] {what}", began.elapsed().as_secs_f64());
}

/// The four clients calling through the edge until stopped, each call counted under the
/// phase it was made in.
pub(crate) struct Load {
    pub(crate) began: Instant,
    phase: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    tally: Arc<Mutex<Tally>>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    pub(crate) fn start(accounts: Vec<RestAccount>, edge_url: &str) -> Load {
        let began = Instant::now();
        let phase = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let tally = Arc::new(Mutex::new(Tally::default()));
        let workers = accounts
            .into_iter()
            .enumerate()
            .map(|(worker, account)| {
                let client = Client {
                    rest: RestClient::with_base(edge_url),
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
        Load {
            began,
            phase,
            stop,
            tally,
            workers,
        }
    }

    /// From now on, calls count under `PHASES[phase]`.
    pub(crate) fn enter(&self, phase: usize) {
        self.phase.store(phase, Ordering::SeqCst);
    }

    /// Stops the clients and returns what they saw.
    pub(crate) async fn stop(self) -> Tally {
        self.stop.store(true, Ordering::SeqCst);
        for worker in self.workers {
            worker.await.expect("a load worker");
        }
        std::mem::take(&mut *self.tally.lock().unwrap())
    }
}
