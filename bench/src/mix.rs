//! What is measured with load: the health check of a bare tonic server beside our stack's, the
//! home-timeline read over gRPC, and DeathStarBench's mixed workload (60 % home timeline, 30 %
//! user timeline, 10 % compose) open-loop at fixed rates, through the real Envoy edge and over
//! gRPC.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use rand::Rng;
use tonic::transport::Channel;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
use xir_proto::{
    timeline::v1::{GetHomeTimelineRequest, timeline_service_client::TimelineServiceClient},
    tweet::v1::{
        CreateTweetRequest, ListUserTweetsRequest, tweet_service_client::TweetServiceClient,
    },
};
use xir_testkit::bearer;

use crate::{Clients, load, seed::Account};

type TimelineClient = TimelineServiceClient<Channel>;
type TweetClient = TweetServiceClient<Channel>;

/// A bare tonic server answering only the health check, in this process, on port 0.
pub async fn bare_health_server() -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (_reporter, service) = tonic_health::server::health_reporter();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(
                tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
            ),
    );
    Ok(addr)
}

pub async fn channel(addr: &str) -> anyhow::Result<Channel> {
    Ok(Channel::from_shared(format!("http://{addr}"))?
        .connect()
        .await?)
}

/// Whether `channel`'s server reports its readiness (dependencies reachable, for svc-tweet and
/// svc-timeline also a worker-id lease held) SERVING.
pub async fn is_ready(channel: Channel) -> bool {
    HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: "readiness".into(),
        })
        .await
        .is_ok_and(|reply| {
            reply.into_inner().status
                == tonic_health::pb::health_check_response::ServingStatus::Serving as i32
        })
}

/// The health check of `channel`'s server, closed loop.
pub async fn health(channel: Channel, workers: usize, duration: Duration) -> load::Run {
    load::closed_loop(workers, duration, move |_| {
        let mut client = HealthClient::new(channel.clone());
        async move {
            client
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .map(drop)
                .map_err(|status| status.to_string())
        }
    })
    .await
}

/// `GetHomeTimeline` (20 items) as the holder of `token`.
async fn read_home(mut timeline: TimelineClient, token: &str) -> Result<(), tonic::Status> {
    timeline
        .get_home_timeline(bearer(
            token,
            GetHomeTimelineRequest {
                limit: 20,
                ..Default::default()
            },
        ))
        .await
        .map(drop)
}

/// `ListUserTweets` (20 items) of `author` as the holder of `token`.
async fn read_user_tweets(
    mut tweet: TweetClient,
    token: &str,
    author: i64,
) -> Result<(), tonic::Status> {
    tweet
        .list_user_tweets(bearer(
            token,
            ListUserTweetsRequest {
                user_id: author,
                limit: 20,
                ..Default::default()
            },
        ))
        .await
        .map(drop)
}

/// `GetHomeTimeline` (20 items, hydrated, token checked) of `reader`, closed loop.
pub async fn home_reads(
    clients: &Clients,
    reader: &Account,
    workers: usize,
    duration: Duration,
) -> load::Run {
    let timeline = clients.timeline.clone();
    let token = reader.token.clone();
    load::closed_loop(workers, duration, move |_| {
        let (timeline, token) = (timeline.clone(), token.clone());
        async move {
            read_home(timeline, &token)
                .await
                .map_err(|status| status.to_string())
        }
    })
    .await
}

/// Waits (up to `limit`) until the stack has worked off what an earlier run left it (calls
/// that got their turn still running after their caller gave up, events queued by its
/// posts): until five home reads in a row and an author page each answer within 50 ms.
/// Each run of the mix then measures its own rate, as DeathStarBench's runs each start on a
/// stack at rest. Returns the seconds waited; None when the stack did not settle in time.
pub async fn settled(clients: &Clients, reader: &Account, limit: Duration) -> Option<f64> {
    let started = std::time::Instant::now();
    let quick = Duration::from_millis(50);
    let mut in_a_row = 0;
    while started.elapsed() < limit {
        let timed = std::time::Instant::now();
        let home = read_home(clients.timeline.clone(), &reader.token).await;
        let own = read_user_tweets(clients.tweet.clone(), &reader.token, reader.id).await;
        if home.is_ok() && own.is_ok() && timed.elapsed() < quick {
            in_a_row += 1;
            if in_a_row == 5 {
                return Some(started.elapsed().as_secs_f64());
            }
        } else {
            in_a_row = 0;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    None
}

/// Each user reads their home timeline and their own tweets once, 8 at a time, as a running
/// platform's users would have: the mix then meets the caches in the state it would meet them
/// in at any time but the first minutes after a restart, instead of timing one cold read per
/// author (a collection scan on FerretDB). Returns how many reads failed.
pub async fn warm_up(clients: &Clients, accounts: &[Account]) -> usize {
    use futures_util::StreamExt;
    futures_util::stream::iter(accounts.to_vec())
        .map(|account| {
            let (timeline, tweet) = (clients.timeline.clone(), clients.tweet.clone());
            async move {
                let home = read_home(timeline, &account.token).await;
                let own = read_user_tweets(tweet, &account.token, account.id).await;
                usize::from(home.is_err()) + usize::from(own.is_err())
            }
        })
        .buffer_unordered(8)
        .fold(0, |failed, more| async move { failed + more })
        .await
}

/// One request of the mix, chosen by `n`'s draw.
#[derive(Debug, Clone, Copy)]
enum Request {
    Home { reader: usize },
    UserTimeline { reader: usize, author: usize },
    Compose { author: usize },
}

fn draw(users: usize) -> Request {
    let mut rng = rand::rng();
    let roll: f64 = rng.random();
    let reader = rng.random_range(0..users);
    if roll < 0.6 {
        Request::Home { reader }
    } else if roll < 0.9 {
        Request::UserTimeline {
            reader,
            author: rng.random_range(0..users),
        }
    } else {
        Request::Compose { author: reader }
    }
}

/// The mix through the edge's REST API at `rate` per second.
pub async fn rest_mix(
    rest_url: &str,
    accounts: &[Account],
    rate: f64,
    duration: Duration,
) -> load::Run {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .expect("an HTTP client");
    let (base, accounts) = (Arc::new(rest_url.to_owned()), Arc::new(accounts.to_vec()));
    load::open_loop(rate, duration, 4096, move |n| {
        let (http, base, accounts) = (http.clone(), base.clone(), accounts.clone());
        async move {
            let request = match draw(accounts.len()) {
                Request::Home { reader } => http
                    .get(format!("{base}/v1/timeline/home?limit=20"))
                    .bearer_auth(&accounts[reader].token),
                Request::UserTimeline { reader, author } => http
                    .get(format!(
                        "{base}/v1/users/{}/tweets?limit=20",
                        accounts[author].id
                    ))
                    .bearer_auth(&accounts[reader].token),
                Request::Compose { author } => http
                    .post(format!("{base}/v1/tweets"))
                    .bearer_auth(&accounts[author].token)
                    .json(&serde_json::json!({ "text": format!("mixed post {n}") })),
            };
            let response = request.send().await.map_err(|e| e.to_string())?;
            let status = response.status();
            let _ = response.bytes().await;
            if status.is_success() {
                Ok(())
            } else {
                Err(format!("HTTP {status}"))
            }
        }
    })
    .await
}

/// The same mix over gRPC, straight to the services.
pub async fn grpc_mix(
    clients: &Clients,
    accounts: &[Account],
    rate: f64,
    duration: Duration,
) -> load::Run {
    let (clients, accounts) = (clients.clone(), Arc::new(accounts.to_vec()));
    load::open_loop(rate, duration, 4096, move |n| {
        let (clients, accounts) = (clients.clone(), accounts.clone());
        async move {
            let outcome = match draw(accounts.len()) {
                Request::Home { reader } => {
                    read_home(clients.timeline.clone(), &accounts[reader].token).await
                }
                Request::UserTimeline { reader, author } => {
                    let (token, author) = (&accounts[reader].token, accounts[author].id);
                    read_user_tweets(clients.tweet.clone(), token, author).await
                }
                Request::Compose { author } => clients
                    .tweet
                    .clone()
                    .create_tweet(bearer(
                        &accounts[author].token,
                        CreateTweetRequest {
                            text: format!("mixed post {n}"),
                            ..Default::default()
                        },
                    ))
                    .await
                    .map(drop),
            };
            outcome.map_err(|status| status.to_string())
        }
    })
    .await
}
