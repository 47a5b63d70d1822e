//! Guessing passwords: login throttles per account, per address and per account from an address, and the bound on hashing work.

use tonic::Code;
use xir_proto::auth::v1::{LoginRequest, SignUpRequest};

use crate::accounts::valid;
use crate::helpers::{PASSWORD, spawn_stack};

#[tokio::test]
async fn repeated_wrong_passwords_throttle_that_account_only() {
    let stack = spawn_stack().await;
    stack.sign_up("victim").await;
    stack.sign_up("bystander").await;
    let mut auth = stack.auth().await;
    let wrong = || LoginRequest {
        login: "victim".into(),
        password: "not the password".into(),
    };

    for attempt in 1..=5 {
        let error = auth.login(wrong()).await.expect_err("wrong password");
        assert_eq!(error.code(), Code::Unauthenticated, "attempt {attempt}");
    }
    let error = auth.login(wrong()).await.expect_err("throttled");
    assert_eq!(error.code(), Code::ResourceExhausted);
    let retry_after = retry_after_secs(&error);
    assert!((1..=15 * 60).contains(&retry_after), "{retry_after}");
    let error = auth
        .login(LoginRequest {
            login: "victim".into(),
            password: PASSWORD.into(),
        })
        .await
        .expect_err("even the right password waits");
    assert_eq!(error.code(), Code::ResourceExhausted);

    auth.login(LoginRequest {
        login: "bystander".into(),
        password: PASSWORD.into(),
    })
    .await
    .expect("another user from the same address still logs in");

    let unknown = auth
        .login(LoginRequest {
            login: "nobody_here".into(),
            password: PASSWORD.into(),
        })
        .await
        .expect_err("unknown account");
    assert_eq!(unknown.code(), Code::Unauthenticated);
    assert_eq!(
        unknown.message(),
        "wrong login or password",
        "same answer as a wrong password"
    );
}

/// Nothing bounded concurrent argon2 work (19 MiB each): a flood of sign-ups or logins ran
/// as many hashes at once as it sent. Now a handful run, a short queue waits, and the rest are
/// answered RESOURCE_EXHAUSTED at once with `retry-after`; the service then carries on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hashing_flood_is_refused_beyond_the_cpu_bound_and_the_service_carries_on() {
    let stack = spawn_stack().await;
    let auth = stack.auth().await;
    let mut flood = tokio::task::JoinSet::new();
    for n in 0..200 {
        let mut auth = auth.clone();
        flood.spawn(async move {
            auth.sign_up(SignUpRequest {
                username: format!("flood_{n}"),
                email: format!("flood_{n}@example.org"),
                ..valid()
            })
            .await
        });
    }
    let answers = flood.join_all().await;
    let mut busy = 0;
    for answer in &answers {
        match answer {
            Ok(_) => {}
            Err(status) if status.code() == Code::ResourceExhausted => {
                busy += 1;
                assert_eq!(
                    status
                        .metadata()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok()),
                    Some("1"),
                    "{status:?}"
                );
            }
            Err(status) => panic!("neither signed up nor refused as busy: {status:?}"),
        }
    }
    // 200 at once against (cores running + 32 queued): most are refused.
    assert!(busy >= 100, "only {busy} of 200 refused");
    let mut auth = stack.auth().await;
    auth.sign_up(SignUpRequest {
        username: "after_flood".into(),
        email: "after_flood@example.org".into(),
        ..valid()
    })
    .await
    .expect("a sign-up after the flood");
}

/// An auth client whose connections come from `source`, another loopback address: to
/// svc-auth, another client address.
async fn auth_from(
    stack: &crate::helpers::TestStack,
    source: [u8; 4],
) -> xir_proto::auth::v1::auth_service_client::AuthServiceClient<tonic::transport::Channel> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", stack.auth_addr))
        .expect("address")
        .local_address(Some(std::net::IpAddr::from(source)))
        .connect()
        .await
        .expect("connect");
    xir_proto::auth::v1::auth_service_client::AuthServiceClient::new(channel)
}

/// Five bad passwords from anywhere locked the account out everywhere: anyone could lock a
/// chosen user out of logging in.
#[tokio::test]
async fn guesses_from_one_address_lock_out_that_address_only() {
    let stack = spawn_stack().await;
    stack.sign_up("target").await;
    let mut attacker = auth_from(&stack, [127, 0, 0, 2]).await;
    let mut owner = auth_from(&stack, [127, 0, 0, 3]).await;
    let guess = || LoginRequest {
        login: "target".into(),
        password: "a wrong guess".into(),
    };
    for attempt in 1..=5 {
        let error = attacker.login(guess()).await.expect_err("wrong");
        assert_eq!(error.code(), Code::Unauthenticated, "attempt {attempt}");
    }
    let error = attacker.login(guess()).await.expect_err("locked out");
    assert_eq!(error.code(), Code::ResourceExhausted);
    owner
        .login(LoginRequest {
            login: "target".into(),
            password: PASSWORD.into(),
        })
        .await
        .expect("the owner logs in from another address");
}

/// Parallel guesses were all checked against the count taken before any of them failed, so
/// more than five got through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_guesses_get_no_more_than_the_limit() {
    let stack = spawn_stack().await;
    stack.sign_up("parallel_target").await;
    let auth = stack.auth().await;
    let mut guesses = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let mut auth = auth.clone();
        guesses.spawn(async move {
            auth.login(LoginRequest {
                login: "parallel_target".into(),
                password: "a wrong guess".into(),
            })
            .await
            .expect_err("wrong or throttled")
            .code()
        });
    }
    let codes = guesses.join_all().await;
    let checked = codes
        .iter()
        .filter(|c| **c == Code::Unauthenticated)
        .count();
    assert!(
        checked <= 5,
        "{checked} of 20 parallel guesses were checked: {codes:?}"
    );
    assert!(
        codes
            .iter()
            .all(|c| matches!(c, Code::Unauthenticated | Code::ResourceExhausted)),
        "{codes:?}"
    );
}

/// Guesses at one account from many addresses, each under its own limits, slow that account
/// down: every failure counts for the account from anywhere, and past the threshold an
/// attempt must leave a doubling gap after the previous failure (capped), the owner's too.
#[tokio::test]
async fn guesses_from_many_addresses_slow_the_account_down_without_locking_it() {
    let stack = spawn_stack().await;
    let signed_up = stack.sign_up("spread_thin").await;
    let mut auth = stack.auth().await;
    let from = |address: &str, password: &str| {
        let mut request = tonic::Request::new(LoginRequest {
            login: "spread_thin".into(),
            password: password.into(),
        });
        request
            .metadata_mut()
            .insert("x-real-ip", address.parse().expect("ascii"));
        request
    };
    for n in 1..=3 {
        let error = auth
            .login(from(&format!("198.51.100.{n}"), "not the password"))
            .await
            .expect_err("wrong password");
        assert_eq!(error.code(), Code::Unauthenticated);
    }
    let pool = sqlx::PgPool::connect(stack.auth_database.url())
        .await
        .expect("connect");
    let subject = format!("account:{}", signed_up.user_id);
    let counted: i64 = sqlx::query_scalar("SELECT count(*) FROM login_failures WHERE subject = $1")
        .bind(&subject)
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(counted, 3, "each address's failure counts for the account");

    // As if many more addresses had guessed just now: far past the threshold (10).
    sqlx::query("INSERT INTO login_failures (subject) SELECT $1 FROM generate_series(1, 20)")
        .bind(&subject)
        .execute(&pool)
        .await
        .expect("more failures");
    let error = auth
        .login(from("203.0.113.9", PASSWORD))
        .await
        .expect_err("slowed down");
    assert_eq!(error.code(), Code::ResourceExhausted);
    let retry_after = retry_after_secs(&error);
    assert!(
        (1..=60).contains(&retry_after),
        "a wait of seconds, never a lockout: {retry_after}"
    );
    let after_refusal: i64 =
        sqlx::query_scalar("SELECT count(*) FROM login_failures WHERE subject = $1")
            .bind(&subject)
            .fetch_one(&pool)
            .await
            .expect("count");
    assert_eq!(after_refusal, 23, "a refused attempt is not a guess");
}

fn retry_after_secs(error: &tonic::Status) -> u64 {
    error
        .metadata()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("retry-after metadata in seconds")
}
