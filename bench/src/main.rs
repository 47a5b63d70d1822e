//! xir-bench: runs the platform as `scripts/dev` does (release build), seeds it, loads it and
//! writes `BENCHMARKS.md` and `bench/results.json`. See `--help` and the README's
//! "Benchmark" section.

mod fanout;
mod load;
mod machine;
mod mix;
mod platform;
mod report;
mod seed;
mod stores;

use std::{path::PathBuf, process::ExitCode, time::Duration};

use anyhow::Context;
use serde_json::{Value, json};
use tonic::transport::Channel;
use xir_proto::{
    auth::v1::{SignUpRequest, auth_service_client::AuthServiceClient},
    timeline::v1::timeline_service_client::TimelineServiceClient,
    tweet::v1::tweet_service_client::TweetServiceClient,
    user::v1::user_service_client::UserServiceClient,
};
use xir_testkit::dev::{DevStack, Profile};

use crate::{
    platform::{connect, settle, user_database_url},
    seed::Account,
};

/// svc-timeline's `redis.key_prefix` (the default the stack runs with).
pub const KEY_PREFIX: &str = xir_common::cache::DEFAULT_KEY_PREFIX;
/// The celebrity threshold the bench runs svc-timeline with: above the largest fan-out it
/// measures (100k), so that one is fanned out, not merged at read time.
const CELEBRITY_FOLLOWERS: i64 = 150_000;

const USAGE: &str = "usage: xir-bench [--quick] [--debug] [--users N] [--out DIR] [--compare FILE]
       xir-bench --health-of HOST:PORT
  --health-of the health-check ratio alone, of a service already running at HOST:PORT against
              a bare tonic server in this process (for profiling the server layers)
  --quick     a smoke run: a slice of the graph, short loads, small fan-outs (CI runs this)
  --users N   seed only the first N users of socfb-Reed98 (and the edges between them)
  --debug     run the debug binaries scripts/test built instead of release ones
  --out DIR   where BENCHMARKS.md and results.json go (default: the repository root and bench/)
  --compare   a results.json of an earlier run, compared figure by figure in BENCHMARKS.md";

#[derive(Clone)]
pub struct Clients {
    pub auth: AuthServiceClient<Channel>,
    pub user: UserServiceClient<Channel>,
    pub tweet: TweetServiceClient<Channel>,
    pub timeline: TimelineServiceClient<Channel>,
    pub redis: redis::aio::MultiplexedConnection,
}

struct Options {
    quick: bool,
    debug: bool,
    users: Option<usize>,
    out: Option<PathBuf>,
    compare: Option<PathBuf>,
    health_of: Option<String>,
}

/// How big a run is.
struct Scale {
    graph_limit: Option<usize>,
    load: Duration,
    mix_rates: Vec<f64>,
    fan_outs: Vec<i64>,
    celebrity_posts: u64,
    converge_within: Duration,
    /// How long one fan-out may take before it is reported as not done.
    fan_out_within: Duration,
}

impl Scale {
    fn of(options: &Options) -> Self {
        let mut scale = Self::preset(options.quick);
        if options.users.is_some() {
            scale.graph_limit = options.users;
        }
        scale
    }

    fn preset(quick: bool) -> Self {
        if quick {
            Scale {
                graph_limit: Some(40),
                load: Duration::from_secs(2),
                mix_rates: vec![20.0],
                fan_outs: vec![100],
                celebrity_posts: 10,
                converge_within: Duration::from_secs(60),
                fan_out_within: Duration::from_secs(60),
            }
        } else {
            Scale {
                graph_limit: None,
                load: Duration::from_secs(20),
                mix_rates: vec![25.0, 50.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 1500.0],
                fan_outs: vec![1_000, 10_000, 100_000],
                celebrity_posts: 300,
                converge_within: Duration::from_secs(600),
                fan_out_within: Duration::from_secs(120),
            }
        }
    }
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options {
        quick: false,
        debug: false,
        users: None,
        out: None,
        compare: None,
        health_of: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--debug" => options.debug = true,
            "--users" => {
                let users = args.next().ok_or("--users needs a number")?;
                options.users = Some(
                    users
                        .parse()
                        .map_err(|_| format!("--users {users}: not a number"))?,
                );
            }
            "--health-of" => {
                options.health_of = Some(args.next().ok_or("--health-of needs HOST:PORT")?)
            }
            "--out" => options.out = Some(args.next().ok_or("--out needs a directory")?.into()),
            "--compare" => {
                options.compare = Some(args.next().ok_or("--compare needs a file")?.into())
            }
            _ => return Err(format!("unknown argument {arg}")),
        }
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(options) => options,
        Err(error) => {
            eprintln!("{error}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let outcome = match &options.health_of {
        Some(target) => health_of(target).await,
        None => run(options).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xir-bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The bare tonic health server's closed loop, then `target`'s, in the same run: the ratio
/// between them is the per-call cost of our server stack.
async fn health_runs(target: &str, duration: Duration) -> anyhow::Result<(load::Run, load::Run)> {
    eprintln!("xir-bench: health checks, bare tonic and the stack's");
    let bare = mix::health(
        mix::channel(&mix::bare_health_server().await?.to_string()).await?,
        10,
        duration,
    )
    .await;
    let ours = mix::health(mix::channel(target).await?, 10, duration).await;
    Ok((bare, ours))
}

/// The health-check ratio of a service already running at `target`: 20 s closed loops of 10
/// workers against a bare tonic server, then against it.
async fn health_of(target: &str) -> anyhow::Result<()> {
    let (bare, ours) = health_runs(target, Duration::from_secs(20)).await?;
    for (name, run) in [("bare tonic", &bare), (target, &ours)] {
        println!(
            "{name}: {:.0} calls/s, p50 {:.2} ms, p99 {:.2} ms, {} errors",
            run.rate(),
            run.quantile_ms(0.5),
            run.quantile_ms(0.99),
            run.json()["errors"]
        );
    }
    println!("ratio: {:.1} %", 100.0 * ours.rate() / bare.rate());
    Ok(())
}

/// One run of the mix: its rate, how long the stack took to settle before it, and the run.
struct MixRun {
    rate: f64,
    settled_after: Option<f64>,
    run: load::Run,
}

impl MixRun {
    fn json(&self) -> Value {
        json!({ "rate": self.rate, "seconds_settling_before": self.settled_after, "run": self.run.json() })
    }
}

/// How long a mix run waits at most for the stack to settle after the one before.
const SETTLE_WITHIN: Duration = Duration::from_secs(120);

/// The mix through the edge at each of the scale's rates, open loop, each on a settled stack.
async fn rest_mixes(
    stack: &DevStack,
    clients: &Clients,
    accounts: &[seed::Account],
    scale: &Scale,
) -> Vec<MixRun> {
    let mut runs = Vec::new();
    for &rate in &scale.mix_rates {
        let settled_after = mix::settled(clients, &accounts[0], SETTLE_WITHIN).await;
        eprintln!("xir-bench: the mix through the edge at {rate}/s");
        let run = mix::rest_mix(stack.get("XIR_DEV_REST_URL"), accounts, rate, scale.load).await;
        runs.push(MixRun {
            rate,
            settled_after,
            run,
        });
    }
    runs
}

/// The mix over gRPC, at the scale's highest rate up to 500/s (the target's rate).
async fn grpc_mix(clients: &Clients, accounts: &[Account], scale: &Scale) -> MixRun {
    let rate = scale
        .mix_rates
        .iter()
        .copied()
        .fold(0.0, f64::max)
        .min(500.0);
    let settled_after = mix::settled(clients, &accounts[0], SETTLE_WITHIN).await;
    eprintln!("xir-bench: the mix over gRPC at {rate}/s");
    MixRun {
        rate,
        settled_after,
        run: mix::grpc_mix(clients, accounts, rate, scale.load).await,
    }
}

async fn run(options: Options) -> anyhow::Result<()> {
    let scale = Scale::of(&options);
    let profile = if options.debug {
        Profile::Debug
    } else {
        Profile::Release
    };
    let stack = platform::start(profile).await?;
    let clients = connect(&stack).await?;
    let services = machine::services(&stack.pids());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle_rss: Value = services
        .iter()
        .map(|(name, &pid)| (name.clone(), json!(machine::rss_mib(pid))))
        .collect();

    let (bare, ours) = health_runs(stack.get("XIR_DEV_USER_GRPC"), scale.load).await?;

    let graph = seed::Graph::reed98(scale.graph_limit)?;
    eprintln!(
        "xir-bench: seeding {} ({} users, {} follows, {} tweets)",
        graph.name,
        graph.nodes,
        graph.edges.len() * 2,
        graph.nodes * seed::TWEETS_PER_USER
    );
    let run_id = format!("{:x}", std::process::id() % 0xfff);
    let user_database = user_database_url(stack.get("XIR_DEV_POSTGRES_URL"));
    let user_database = sqlx::PgPool::connect(&user_database).await?;
    let seeded = seed::seed(
        &clients,
        &user_database,
        &graph,
        &run_id,
        scale.converge_within,
    )
    .await?;

    let degrees = graph.degrees();
    let busiest = (0..graph.nodes)
        .max_by_key(|&n| degrees[n])
        .context("an empty graph")?;
    let home = mix::home_reads(&clients, &seeded.accounts[busiest], 10, scale.load).await;

    // Before the mix, on a stack that is not catching up: under the mix FerretDB falls
    // behind (or stops answering) and that would be timed as fan-out. A failure here is a
    // figure too: it goes into the report instead of losing the run.
    let fan_outs = measure_fan_outs(&clients, &user_database, &scale, &run_id)
        .await
        .unwrap_or_else(|error| json!({ "error": format!("{error:#}") }));

    eprintln!("xir-bench: warming up: each user reads their home timeline and own tweets once");
    let warm_up_started = std::time::Instant::now();
    let warm_up_failed = mix::warm_up(&clients, &seeded.accounts).await;
    let warm_up = json!({
        "reads": seeded.accounts.len() * 2,
        "failed": warm_up_failed,
        "seconds": warm_up_started.elapsed().as_secs_f64(),
    });

    let peak = machine::PeakRss::watch(services.clone());
    let rest_runs = rest_mixes(&stack, &clients, &seeded.accounts, &scale).await;
    let grpc_run = grpc_mix(&clients, &seeded.accounts, &scale).await;
    let loaded_rss = peak.finish();

    // After the mix: how long until svc-tweet and svc-timeline are ready again.
    let settled = settle(&stack, Duration::from_secs(180)).await;
    let tweet_cache = stores::tweet_cache(stack.get("XIR_DEV_TWEET_METRICS")).await;

    let results = json!({
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "quick": options.quick,
        "profile": format!("{profile:?}"),
        "machine": machine::describe(),
        "health": { "bare_tonic": bare.json(), "stack": ours.json(), "ratio": ours.rate() / bare.rate() },
        "home_read_grpc": { "run": home.json(), "ratio_to_bare": home.rate() / bare.rate(), "reader_follows": degrees[busiest] },
        "seeding": {
            "graph": graph.name, "users": graph.nodes, "follows": graph.edges.len() * 2,
            "tweets": graph.nodes * seed::TWEETS_PER_USER,
            "seconds_accounts": seeded.seconds_accounts, "seconds_follows": seeded.seconds_follows,
            "seconds_follow_events_delivered": seeded.seconds_follow_events,
            "seconds_tweets": seeded.seconds_tweets, "seconds_converged_after_last_tweet": seeded.seconds_converged,
            "retried_calls": seeded.retried_calls,
        },
        "mix_rest": rest_runs.iter().map(MixRun::json).collect::<Vec<_>>(),
        "mix_grpc": grpc_run.json(),
        "warm_up": warm_up,
        "seconds_ready_after_mix": settled,
        "fan_out": fan_outs,
        "rss_mib": { "idle": idle_rss, "peak_under_mix": loaded_rss },
        "tweet_cache": tweet_cache,
    });
    report::write(&results, options.out.as_deref(), options.compare.as_deref())?;
    drop(stack);
    Ok(())
}

/// Fan-out to growing follower counts (one author, followers added between posts), then the
/// post latency of an author above the celebrity threshold.
async fn measure_fan_outs(
    clients: &Clients,
    pool: &sqlx::PgPool,
    scale: &Scale,
    run_id: &str,
) -> anyhow::Result<Value> {
    let author = sign_up(clients, &format!("fan{run_id}")).await?;
    let mut results = Vec::new();
    let mut followers = 0;
    for &target in &scale.fan_outs {
        eprintln!("xir-bench: fan-out to {target} followers");
        fanout::bulk_followers(clients, pool, &author, followers, target - followers).await?;
        followers = target;
        let seconds =
            fanout::time_fan_out(clients, &author, 0, followers, scale.fan_out_within).await?;
        results.push(json!({ "followers": followers, "seconds_to_every_timeline": seconds }));
    }
    let celebrity = sign_up(clients, &format!("cel{run_id}")).await?;
    sqlx::query("UPDATE profiles SET followers_count = $2 WHERE user_id = $1")
        .bind(celebrity.id)
        .bind(CELEBRITY_FOLLOWERS + 1)
        .execute(pool)
        .await?;
    eprintln!("xir-bench: posts of an author above the celebrity threshold");
    let posts = fanout::celebrity_posts(clients, &celebrity, scale.celebrity_posts).await;
    Ok(json!({ "by_followers": results, "celebrity_post": posts.json() }))
}

async fn sign_up(clients: &Clients, username: &str) -> anyhow::Result<Account> {
    let reply = clients
        .auth
        .clone()
        .sign_up(SignUpRequest {
            username: username.to_owned(),
            email: format!("{username}@bench.example"),
            password: "bench password".into(),
            display_name: username.to_owned(),
        })
        .await?
        .into_inner();
    Ok(Account {
        id: reply.user_id,
        token: reply.tokens.context("tokens")?.access_token,
    })
}
