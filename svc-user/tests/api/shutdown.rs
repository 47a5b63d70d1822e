use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    process::{Child, Command, Stdio},
    time::Duration,
};

use tonic_health::ServingStatus;
use xir_common::testing;
use xir_proto::user::v1::{
    GetProfileRequest, get_profile_request::User, user_service_client::UserServiceClient,
};

use crate::helpers::seed_profile;

/// Starts the real binary on free ports and returns it with its gRPC address, read from its
/// "listening" log line.
fn start_binary(
    database_url: &str,
    extra_env: &[(&str, &str)],
) -> (Child, SocketAddr, std::thread::JoinHandle<Vec<String>>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_svc-user"))
        .env_remove("XIR_CONFIG")
        .env_remove("RUST_LOG")
        .env("XIR_DATABASE__URL", database_url)
        .env("XIR_IDENTITY__DEVELOPMENT_KEYS", "true")
        .env("XIR_SERVER__HOST", "127.0.0.1")
        .env("XIR_SERVER__PORT", "0")
        .env("XIR_SERVER__METRICS_PORT", "0")
        .env("XIR_SERVER__SHUTDOWN_GRACE_MS", "10000")
        .env("XIR_READINESS__CHECK_INTERVAL_MS", "200")
        .envs(extra_env.iter().copied())
        .stdout(Stdio::piped())
        .spawn()
        .expect("cannot start svc-user");
    let stdout = child.stdout.take().expect("piped stdout");
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    let logs = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(json) = serde_json::from_str::<serde_json::Value>(&line)
                && json["message"] == "listening"
            {
                let _ = port_tx.send(json["port"].as_u64());
            }
            lines.push(line);
        }
        lines
    });
    let port = port_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("svc-user did not log its port")
        .expect("the listening line has a port");
    (child, SocketAddr::from(([127, 0, 0, 1], port as u16)), logs)
}

/// On SIGTERM the process stops taking calls but lets the one in flight finish, then exits 0.
#[tokio::test]
async fn sigterm_lets_the_in_flight_call_finish_then_exits_zero() {
    let database = testing::postgres_database("svc_user").await;
    let database_url = database.url();
    let (mut child, addr, logs) = start_binary(database_url, &[]);
    testing::wait_for_health(
        addr,
        "readiness",
        ServingStatus::Serving,
        Duration::from_secs(20),
    )
    .await;

    let pool = sqlx::PgPool::connect(database_url).await.expect("connect");
    seed_profile(&pool, 7, "inflight").await;

    // Hold the table so the next GetProfile blocks inside the service.
    let mut lock = pool.begin().await.expect("begin");
    sqlx::query("LOCK TABLE profiles IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .expect("lock");
    let mut client = UserServiceClient::new(testing::channel(addr).await);
    let call = tokio::spawn(async move {
        client
            .get_profile(GetProfileRequest {
                user: Some(User::UserId(7)),
            })
            .await
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!call.is_finished(), "the call is blocked on the lock");

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(killed.success());
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "still draining the in-flight call"
    );

    lock.rollback().await.expect("release the lock");
    let response = call
        .await
        .expect("join")
        .expect("the in-flight call completes");
    assert_eq!(response.into_inner().profile.expect("profile").user_id, 7);

    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("wait");
    assert_eq!(status.code(), Some(0), "exit status {status:?}");
    let logs = logs.join().expect("log reader");
    assert!(
        logs.iter().any(|l| l.contains("SIGTERM received")),
        "{logs:#?}"
    );
}

/// With a drain delay, SIGTERM turns readiness NOT_SERVING at once and for good (the dependency
/// probe, which still finds the database, does not turn it back), while calls, on new
/// connections too, are still served: load balancers get time to move away.
#[tokio::test]
async fn sigterm_with_a_drain_delay_reports_not_serving_and_keeps_serving() {
    let database = testing::postgres_database("svc_user").await;
    let database_url = database.url();
    // Far longer than the test: the delay must not end while it looks.
    let (mut child, addr, _logs) =
        start_binary(database_url, &[("XIR_SERVER__DRAIN_DELAY_MS", "600000")]);
    testing::wait_for_health(
        addr,
        "readiness",
        ServingStatus::Serving,
        Duration::from_secs(20),
    )
    .await;
    let pool = sqlx::PgPool::connect(database_url).await.expect("connect");
    seed_profile(&pool, 8, "draining").await;

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(killed.success());
    testing::wait_for_health(
        addr,
        "readiness",
        ServingStatus::NotServing,
        Duration::from_secs(20),
    )
    .await;
    for _ in 0..5 {
        // Several probe intervals (200 ms): the probe keeps succeeding and must not win.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            testing::health(addr, "readiness").await,
            ServingStatus::NotServing
        );
        let mut client = UserServiceClient::new(testing::channel(addr).await);
        let profile = client
            .get_profile(GetProfileRequest {
                user: Some(User::UserId(8)),
            })
            .await
            .expect("served during the drain delay")
            .into_inner()
            .profile
            .expect("profile");
        assert_eq!(profile.user_id, 8);
    }
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "still running during the drain delay"
    );
    child.kill().expect("SIGKILL");
    child.wait().expect("wait");
}
