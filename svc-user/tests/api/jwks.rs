//! Token checks while svc-auth is slow: the JWKS is fetched once at a time and no more often
//! than the minimum interval, and a call whose key is known never waits for a fetch.

use std::time::Duration;

use tonic::Code;
use xir_proto::user::v1::GetRelationshipsRequest;
use xir_testkit::{Options, Service, Stack, bearer};

async fn relationships(stack: &Stack, token: &str) -> Result<(), tonic::Status> {
    stack
        .users()
        .await
        .get_relationships(bearer(token, GetRelationshipsRequest { user_ids: vec![2] }))
        .await
        .map(|_| ())
}

/// Before, a token with an unknown `kid` made the verifier fetch the JWKS while holding the
/// key cache's write lock: with svc-auth hanging, every authenticated call of the service,
/// known keys included, waited for that fetch to time out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_key_never_waits_for_a_jwks_fetch_from_a_hanging_svc_auth() {
    let mut stack = Stack::start(Options::default()).await;
    stack.seed_profiles(1, 2, "reader").await;
    let known = stack.token(1);
    relationships(&stack, &known)
        .await
        .expect("the first call fetches the keys");

    // svc-auth is replaced by a listener that accepts connections and never answers.
    stack.stop_service(Service::Auth).await;
    let hanging = tokio::net::TcpListener::bind(stack.auth_addr)
        .await
        .expect("svc-auth's address");
    let held = tokio::spawn(async move {
        let mut connections = Vec::new();
        while let Ok((connection, _)) = hanging.accept().await {
            connections.push(connection);
        }
    });
    // Past the test stack's minimum refresh interval (100 ms), so a fetch is allowed.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let unknown = stack.token_with_unknown_key(1);
    let mut users = stack.users().await;
    let waiting = tokio::spawn(async move {
        users
            .get_relationships(bearer(
                &unknown,
                GetRelationshipsRequest { user_ids: vec![2] },
            ))
            .await
    });
    // Let the unknown key's fetch get under way (it hangs until the client's timeout).
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !waiting.is_finished(),
        "the fetch from the hanging svc-auth is under way"
    );

    relationships(&stack, &known)
        .await
        .expect("a known key is checked from the cache");
    assert!(
        !waiting.is_finished(),
        "the known key was answered while the fetch was still hanging"
    );

    let refused = waiting.await.expect("task").expect_err("an unknown key");
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    held.abort();
}
