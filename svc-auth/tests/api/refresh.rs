use tonic::Code;
use xir_proto::auth::v1::{LogoutRequest, RefreshRequest};

use crate::helpers::spawn_stack;

#[tokio::test]
async fn reusing_a_rotated_refresh_token_revokes_the_whole_family() {
    let stack = spawn_stack().await;
    let first = stack
        .sign_up("replayed")
        .await
        .tokens
        .expect("tokens")
        .refresh_token;
    let mut auth = stack.auth().await;

    let second = auth
        .refresh(RefreshRequest {
            refresh_token: first.clone(),
        })
        .await
        .expect("first rotation")
        .into_inner()
        .tokens
        .expect("tokens")
        .refresh_token;
    assert_ne!(first, second);

    let error = auth
        .refresh(RefreshRequest {
            refresh_token: first,
        })
        .await
        .expect_err("replay of a rotated token");
    assert_eq!(error.code(), Code::Unauthenticated);
    let error = auth
        .refresh(RefreshRequest {
            refresh_token: second,
        })
        .await
        .expect_err("the newer token of the family is revoked too");
    assert_eq!(error.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn logout_revokes_the_family_and_bad_tokens_are_rejected_cleanly() {
    let stack = spawn_stack().await;
    let token = stack
        .sign_up("leaver")
        .await
        .tokens
        .expect("tokens")
        .refresh_token;
    let mut auth = stack.auth().await;

    auth.logout(LogoutRequest {
        refresh_token: token.clone(),
    })
    .await
    .expect("logout");
    auth.logout(LogoutRequest {
        refresh_token: token.clone(),
    })
    .await
    .expect("logout is idempotent");
    let error = auth
        .refresh(RefreshRequest {
            refresh_token: token,
        })
        .await
        .expect_err("logged out");
    assert_eq!(error.code(), Code::Unauthenticated);

    for garbage in ["short", &"A".repeat(43)] {
        let error = auth
            .refresh(RefreshRequest {
                refresh_token: garbage.to_owned(),
            })
            .await
            .expect_err("not a token");
        assert_eq!(error.code(), Code::Unauthenticated);
    }
    let error = auth
        .refresh(RefreshRequest {
            refresh_token: String::new(),
        })
        .await
        .expect_err("missing");
    assert_eq!(error.code(), Code::InvalidArgument);
}
