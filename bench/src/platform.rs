//! The platform the bench runs: its release build, the settings it starts with, the clients
//! that reach it, and its readiness after the load.

use std::time::Duration;

use anyhow::Context;
use xir_proto::{
    auth::v1::auth_service_client::AuthServiceClient,
    timeline::v1::timeline_service_client::TimelineServiceClient,
    tweet::v1::tweet_service_client::TweetServiceClient,
    user::v1::user_service_client::UserServiceClient,
};
use xir_testkit::dev::{DevStack, Profile};

use crate::{CELEBRITY_FOLLOWERS, Clients, mix};

/// The platform through scripts/dev with `profile`'s binaries (release ones built first).
pub async fn start(profile: Profile) -> anyhow::Result<DevStack> {
    if profile == Profile::Release {
        build_release()?;
    }
    eprintln!("xir-bench: starting the platform (scripts/dev, {profile:?} binaries)");
    let settings = stack_settings();
    let settings: Vec<(&str, &str)> = settings.iter().map(|(s, t)| (*s, t.as_str())).collect();
    Ok(DevStack::start_profile(profile, &settings).await)
}

/// Settings the stack runs with: tokens that outlive the run, write limits that do not
/// throttle the seeding, svc-tweet's relay taking up to 1,000 tweets a pass (a seeding posts
/// thousands at once, and a pass costs the same few queries whatever its size), and the
/// celebrity threshold above.
fn stack_settings() -> Vec<(&'static str, String)> {
    let generous = "[notifying_writes]\nper_minute = 100000000\nburst = 100000000\n".to_owned();
    vec![
        ("svc-auth", "[tokens]\naccess_ttl_secs = 86400\n".to_owned()),
        ("svc-user", generous.clone()),
        (
            "svc-tweet",
            format!("{generous}[outbox]\nbatch_size = 1000\n"),
        ),
        (
            "svc-timeline",
            format!("[fanout]\ncelebrity_followers = {CELEBRITY_FOLLOWERS}\n"),
        ),
    ]
}

pub async fn connect(stack: &DevStack) -> anyhow::Result<Clients> {
    Ok(Clients {
        auth: AuthServiceClient::new(mix::channel(stack.get("XIR_DEV_AUTH_GRPC")).await?),
        user: UserServiceClient::new(mix::channel(stack.get("XIR_DEV_USER_GRPC")).await?),
        tweet: TweetServiceClient::new(mix::channel(stack.get("XIR_DEV_TWEET_GRPC")).await?),
        timeline: TimelineServiceClient::new(
            mix::channel(stack.get("XIR_DEV_TIMELINE_GRPC")).await?,
        ),
        redis: redis::Client::open(stack.get("XIR_DEV_REDIS_URL"))?
            .get_multiplexed_async_connection()
            .await
            .context("connect to the stack's Redis")?,
    })
}

/// Seconds until svc-tweet and svc-timeline both report their readiness SERVING again (at
/// most `within`; `None` if they did not).
pub async fn settle(stack: &DevStack, within: Duration) -> Option<f64> {
    eprintln!("xir-bench: waiting for svc-tweet and svc-timeline to be ready again");
    let started = std::time::Instant::now();
    let mut ready = Vec::new();
    for name in ["XIR_DEV_TWEET_GRPC", "XIR_DEV_TIMELINE_GRPC"] {
        ready.push(mix::channel(stack.get(name)).await.ok()?);
    }
    while started.elapsed() < within {
        let mut all = true;
        for channel in &ready {
            all &= mix::is_ready(channel.clone()).await;
        }
        if all {
            return Some(started.elapsed().as_secs_f64());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    None
}

/// scripts/dev's PostgreSQL URL with svc-user's database in it.
pub fn user_database_url(postgres_url: &str) -> String {
    let (base, query) = postgres_url
        .split_once('?')
        .map_or((postgres_url, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(server, _)| server);
    match query {
        Some(query) => format!("{base}/xir_user?{query}"),
        None => format!("{base}/xir_user"),
    }
}

/// The release binaries and what scripts/dev serves, built before the stack starts.
fn build_release() -> anyhow::Result<()> {
    let root = xir_testkit::edge::repository();
    eprintln!(
        "xir-bench: cargo build --release of the four services (about 20 minutes on 2 cores the first time)"
    );
    let mut cargo = std::process::Command::new("cargo");
    // What `cargo run` set for this binary: inherited, it reads as a changed environment to
    // the build scripts of the services' dependencies, and both builds rebuilt them in turn.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_PKG_")
            || [
                "CARGO_BIN_NAME",
                "CARGO_CRATE_NAME",
                "CARGO_MANIFEST_DIR",
                "CARGO_MANIFEST_PATH",
                "CARGO_PRIMARY_PACKAGE",
                "LD_LIBRARY_PATH",
            ]
            .contains(&name.as_ref())
        {
            cargo.env_remove(name.as_ref());
        }
    }
    let status = cargo
        .current_dir(&root)
        .args([
            "build",
            "--release",
            "-p",
            "svc-auth",
            "-p",
            "svc-user",
            "-p",
            "svc-tweet",
            "-p",
            "svc-timeline",
            "--bins",
        ])
        .status()?;
    anyhow::ensure!(status.success(), "cargo build --release failed");
    Ok(())
}
