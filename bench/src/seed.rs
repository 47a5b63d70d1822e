//! Seeding socfb-Reed98 as DeathStarBench does: an account per node, each edge followed both
//! ways, ten tweets per user, all through the public gRPC API (sign-up, follow, post); then
//! waiting until every home timeline in Redis holds what it should. As DeathStarBench loads
//! its graph before any post, the posts start once svc-user's outbox has delivered every
//! follow event (that wait is counted in the seeding's time).

use std::{
    collections::HashMap,
    future::Future,
    io::IsTerminal,
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use anyhow::Context;
use futures_util::{StreamExt, TryStreamExt, stream};
use indicatif::{ProgressBar, ProgressStyle};
use svc_timeline::homes;
use tonic::{Code, Status, transport::Channel};
use xir_proto::{
    auth::v1::{SignUpRequest, auth_service_client::AuthServiceClient},
    timeline::v1::{GetHomeTimelineRequest, timeline_service_client::TimelineServiceClient},
    tweet::v1::{CreateTweetRequest, tweet_service_client::TweetServiceClient},
    user::v1::{FollowRequest, user_service_client::UserServiceClient},
};
use xir_testkit::bearer;

use crate::Clients;

/// Tweets each seeded user posts.
pub const TWEETS_PER_USER: usize = 10;

/// An undirected graph: `nodes` nodes numbered from 0, each edge once.
pub struct Graph {
    pub name: String,
    pub nodes: usize,
    pub edges: Vec<(usize, usize)>,
}

impl Graph {
    /// socfb-Reed98 (962 nodes, 18,812 edges) from the repository's copy; with `limit`, only
    /// the nodes below it and the edges between them (the smoke run).
    pub fn reed98(limit: Option<usize>) -> anyhow::Result<Graph> {
        let path = xir_testkit::edge::repository().join("datasets/socfb-Reed98/socfb-Reed98.edges");
        let text =
            std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
        let mut edges = Vec::new();
        let mut nodes = 0;
        for line in text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('%'))
        {
            let mut ends = line.split_whitespace().map(str::parse::<usize>);
            let (Some(Ok(a)), Some(Ok(b))) = (ends.next(), ends.next()) else {
                anyhow::bail!("{}: not an edge: {line:?}", path.display());
            };
            if limit.is_some_and(|limit| a >= limit || b >= limit) || a == b {
                continue;
            }
            nodes = nodes.max(a + 1).max(b + 1);
            edges.push((a, b));
        }
        Ok(Graph {
            name: if limit.is_some() {
                "socfb-Reed98 (slice)".into()
            } else {
                "socfb-Reed98".into()
            },
            nodes,
            edges,
        })
    }

    /// How many users each node follows (every edge both ways).
    pub fn degrees(&self) -> Vec<usize> {
        let mut degrees = vec![0; self.nodes];
        for &(a, b) in &self.edges {
            degrees[a] += 1;
            degrees[b] += 1;
        }
        degrees
    }
}

/// A seeded user.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: i64,
    pub token: String,
}

pub fn progress(what: &str, total: usize) -> ProgressBar {
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg:>24} [{bar:40}] {pos}/{len} {per_sec} eta {eta}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    if !std::io::stderr().is_terminal() {
        log_progress(bar.clone());
    }
    bar
}

/// Without a terminal indicatif draws nothing: a line every ten seconds instead, so a log of a long seeding shows where the time went.
fn log_progress(bar: ProgressBar) {
    tokio::spawn(async move {
        let every = Duration::from_secs(10);
        while !bar.is_finished() {
            tokio::time::sleep(every).await;
            let (what, done, of) = (bar.message(), bar.position(), bar.length().unwrap_or(0));
            if bar.is_finished() {
                eprintln!("xir-bench: {what}: {done}/{of}, finished");
            } else {
                let seconds = bar.elapsed().as_secs_f64();
                eprintln!("xir-bench: {what}: {done}/{of} after {seconds:.0} s");
            }
        }
    });
}

/// What seeding took.
pub struct Seeded {
    pub accounts: Vec<Account>,
    pub seconds_accounts: f64,
    pub seconds_follows: f64,
    /// From the last follow to svc-user's outbox empty (`None`: not within the convergence
    /// time; the posts went ahead).
    pub seconds_follow_events: Option<f64>,
    pub seconds_tweets: f64,
    /// From the last tweet posted to every home timeline complete.
    pub seconds_converged: Option<f64>,
    /// Follows and posts tried again after a transient refusal (see [`Retries`]).
    pub retried_calls: usize,
}

/// Follows and posts that a busy stack refused for now (a pool wait that timed out, a
/// deadline, an overloaded peer) are tried again, a few times with a growing pause, instead
/// of ending a seeding of many minutes: both are safe to repeat (a follow that holds is a
/// no-op, a post carries an idempotency key). How many were is part of the results.
#[derive(Default)]
struct Retries(AtomicUsize);

impl Retries {
    const ATTEMPTS: u32 = 5;

    async fn call<T, F, Fut>(&self, what: &str, mut call: F) -> anyhow::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        let mut pause = Duration::from_millis(250);
        let mut attempt = 1;
        loop {
            match call().await {
                Ok(value) => return Ok(value),
                Err(status) if attempt < Self::ATTEMPTS && transient(&status) => {
                    self.0.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                    attempt += 1;
                }
                Err(status) => {
                    return Err(anyhow::Error::new(status)
                        .context(format!("{what} (attempt {attempt} of {})", Self::ATTEMPTS)));
                }
            }
        }
    }
}

/// Refusals that say "not now" rather than "never": tried again. A server's own deadline
/// (tonic answers CANCELLED "Timeout expired") is one.
fn transient(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::Unavailable
            | Code::Cancelled
            | Code::DeadlineExceeded
            | Code::ResourceExhausted
            | Code::Aborted
            | Code::Internal
            | Code::Unknown
    )
}

pub async fn seed(
    clients: &Clients,
    user_database: &sqlx::PgPool,
    graph: &Graph,
    run: &str,
    converge_within: Duration,
) -> anyhow::Result<Seeded> {
    let started = Instant::now();
    let accounts = sign_up(&clients.auth, graph.nodes, run).await?;
    open_home(&clients.timeline, &accounts).await?;
    let seconds_accounts = started.elapsed().as_secs_f64();
    let retries = Retries::default();
    let started = Instant::now();
    follow(&clients.user, graph, &accounts, &retries).await?;
    let seconds_follows = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let follow_events = follow_events_delivered(user_database, converge_within).await?;
    let seconds_follow_events = follow_events.then(|| started.elapsed().as_secs_f64());
    let started = Instant::now();
    post(&clients.tweet, &accounts, &retries).await?;
    let seconds_tweets = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let converged = converge(clients, graph, &accounts, converge_within).await?;
    Ok(Seeded {
        accounts,
        seconds_accounts,
        seconds_follows,
        seconds_follow_events,
        seconds_tweets,
        seconds_converged: converged.then(|| started.elapsed().as_secs_f64()),
        retried_calls: retries.0.into_inner(),
    })
}

async fn sign_up(
    auth: &AuthServiceClient<Channel>,
    nodes: usize,
    run: &str,
) -> anyhow::Result<Vec<Account>> {
    let bar = progress("accounts (sign-up)", nodes);
    // Password hashing is the cost here (argon2id, one per core): two at a time.
    let accounts: Vec<Account> = stream::iter(0..nodes)
        .map(|node| {
            let mut auth = auth.clone();
            let bar = bar.clone();
            async move {
                let username = format!("b{run}_{node}");
                let reply = auth
                    .sign_up(SignUpRequest {
                        username: username.clone(),
                        email: format!("{username}@bench.example"),
                        password: "bench password".into(),
                        display_name: format!("Reed {node}"),
                    })
                    .await
                    .with_context(|| format!("sign up {username}"))?
                    .into_inner();
                bar.inc(1);
                anyhow::Ok(Account {
                    id: reply.user_id,
                    token: reply.tokens.context("tokens")?.access_token,
                })
            }
        })
        .buffered(4)
        .try_collect()
        .await?;
    bar.finish();
    Ok(accounts)
}

/// Runs `call` on every item, `at_once` at a time, with a progress bar; stops at the first
/// error.
async fn each<T, F, Fut>(what: &str, items: Vec<T>, at_once: usize, call: F) -> anyhow::Result<()>
where
    F: Fn(T) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let bar = progress(what, items.len());
    stream::iter(items)
        .map(|item| {
            let (bar, done) = (bar.clone(), call(item));
            async move {
                done.await?;
                bar.inc(1);
                anyhow::Ok(())
            }
        })
        .buffer_unordered(at_once)
        .try_collect::<Vec<()>>()
        .await?;
    bar.finish();
    Ok(())
}

/// Each new user opens their home page once, as they would after signing up: svc-timeline
/// builds their timeline in Redis, and fan-out writes to it from then on.
async fn open_home(
    timeline: &TimelineServiceClient<Channel>,
    accounts: &[Account],
) -> anyhow::Result<()> {
    each(
        "home timelines opened",
        accounts.iter().collect(),
        8,
        |account| {
            let mut timeline = timeline.clone();
            let request = bearer(
                &account.token,
                GetHomeTimelineRequest {
                    limit: 20,
                    ..Default::default()
                },
            );
            async move {
                timeline
                    .get_home_timeline(request)
                    .await
                    .context("open the home timeline")?;
                Ok(())
            }
        },
    )
    .await
}

async fn follow(
    user: &UserServiceClient<Channel>,
    graph: &Graph,
    accounts: &[Account],
    retries: &Retries,
) -> anyhow::Result<()> {
    let pairs: Vec<(usize, usize)> = graph
        .edges
        .iter()
        .flat_map(|&(a, b)| [(a, b), (b, a)])
        .collect();
    each("follows (both ways)", pairs, 16, |(follower, followee)| {
        let (token, user_id) = (&accounts[follower].token, accounts[followee].id);
        async move {
            retries
                .call("follow", || {
                    let mut user = user.clone();
                    let request = bearer(token, FollowRequest { user_id });
                    async move { user.follow(request).await }
                })
                .await?;
            Ok(())
        }
    })
    .await
}

async fn post(
    tweet: &TweetServiceClient<Channel>,
    accounts: &[Account],
    retries: &Retries,
) -> anyhow::Result<()> {
    let posts: Vec<(usize, usize)> = (0..TWEETS_PER_USER)
        .flat_map(|n| (0..accounts.len()).map(move |a| (a, n)))
        .collect();
    each("tweets", posts, 16, |(author, n)| {
        let token = &accounts[author].token;
        let request = CreateTweetRequest {
            text: format!("post {n} of user {author} #bench"),
            // A retry of a post that went through answers that post instead of a second.
            idempotency_key: format!("seed-{n}"),
            ..Default::default()
        };
        async move {
            retries
                .call("post", || {
                    let mut tweet = tweet.clone();
                    let request = bearer(token, request.clone());
                    async move { tweet.create_tweet(request).await }
                })
                .await?;
            Ok(())
        }
    })
    .await
}

/// Waits until svc-user's outbox holds no event still to deliver (set-aside ones excluded);
/// false when `within` ran out first.
async fn follow_events_delivered(
    user_database: &sqlx::PgPool,
    within: Duration,
) -> anyhow::Result<bool> {
    let waiting = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM outbox WHERE next_attempt_at < 'infinity'",
        )
        .fetch_one(user_database)
        .await
        .context("count svc-user's outbox")
    };
    let total = waiting().await?.max(0) as usize;
    poll_until_done("follow events delivered", total, within, || async {
        let left = waiting().await?.max(0) as usize;
        Ok(total.saturating_sub(left))
    })
    .await
}

/// Asks `done` four times a second how many of `total` are done, with a progress bar, until
/// all are (true) or `within` ran out (false).
async fn poll_until_done<F, Fut>(
    what: &str,
    total: usize,
    within: Duration,
    mut done: F,
) -> anyhow::Result<bool>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<usize>>,
{
    let bar = progress(what, total);
    let deadline = Instant::now() + within;
    loop {
        let done = done().await?;
        bar.set_position(done as u64);
        if done >= total {
            bar.finish();
            return Ok(true);
        }
        if Instant::now() >= deadline {
            bar.abandon();
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits until every user's home timeline holds their own tweets and all their followees'
/// (up to the timeline cap), counting members in Redis; false when `within` ran out first.
async fn converge(
    clients: &Clients,
    graph: &Graph,
    accounts: &[Account],
    within: Duration,
) -> anyhow::Result<bool> {
    // svc-timeline's `fanout.timeline_cap`, the default the stack runs with.
    let cap = svc_timeline::config::FanoutSettings::default().timeline_cap as usize;
    let expected: HashMap<i64, usize> = graph
        .degrees()
        .iter()
        .enumerate()
        .map(|(node, degree)| (accounts[node].id, ((degree + 1) * TWEETS_PER_USER).min(cap)))
        .collect();
    let complete = || async {
        let mut pipe = redis::pipe();
        // Every real entry: the sentinel (item 0) sorts below the bounds of a whole page.
        let (upper, lower) = homes::lex_bounds(0, 0);
        for account in accounts {
            pipe.cmd("ZLEXCOUNT")
                .arg(homes::timeline_key(crate::KEY_PREFIX, account.id))
                .arg(&lower)
                .arg(&upper);
        }
        let counts: Vec<usize> = pipe
            .query_async(&mut clients.redis.clone())
            .await
            .context("count timeline entries")?;
        Ok(accounts
            .iter()
            .zip(&counts)
            .filter(|(account, count)| **count >= expected[&account.id])
            .count())
    };
    poll_until_done("timelines complete", accounts.len(), within, complete).await
}
