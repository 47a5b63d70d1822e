use std::time::Duration;

use tonic::Code;
use xir_common::testing;
use xir_proto::{
    auth::v1::{ChangePasswordRequest, LoginRequest, RefreshRequest, SignUpRequest},
    user::v1::{
        GetProfileRequest, UpdateProfileRequest, get_profile_request,
        user_service_client::UserServiceClient,
    },
};

use crate::helpers::{PASSWORD, bearer, spawn_stack, spawn_stack_with};

fn violations(error: &tonic::Status) -> Vec<String> {
    tonic_types::StatusExt::get_error_details(error)
        .bad_request()
        .map(|bad| {
            bad.field_violations
                .iter()
                .map(|v| v.field.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// Sign up, log in, refresh, then use the access token on another service's protected RPC.
#[tokio::test]
async fn the_access_token_opens_another_services_protected_rpcs() {
    let stack = spawn_stack().await;
    let signed_up = stack.sign_up("Ada_1815").await;
    let profile = stack.wait_for_profile(signed_up.user_id).await;
    assert_eq!(profile.username, "Ada_1815");
    assert_eq!(profile.display_name, "Ada_1815", "defaults to the username");

    let mut auth = stack.auth().await;
    let logged_in = auth
        .login(LoginRequest {
            login: "ada_1815@EXAMPLE.org".into(),
            password: PASSWORD.into(),
        })
        .await
        .expect("login by email, any case")
        .into_inner();
    assert_eq!(logged_in.user_id, signed_up.user_id);
    let refreshed = auth
        .refresh(RefreshRequest {
            refresh_token: logged_in.tokens.expect("tokens").refresh_token,
        })
        .await
        .expect("refresh")
        .into_inner()
        .tokens
        .expect("tokens");

    let mut users = stack.users().await;
    let update = UpdateProfileRequest {
        display_name: Some("Ada Lovelace".into()),
        bio: Some("Analyst.".into()),
    };
    let updated = users
        .update_profile(bearer(&refreshed.access_token, update.clone()))
        .await
        .expect("accepted with the token")
        .into_inner()
        .profile
        .expect("profile");
    assert_eq!(updated.display_name, "Ada Lovelace");
    assert_eq!(
        updated.user_id, signed_up.user_id,
        "acts as the caller named by the token"
    );

    let error = users.update_profile(update).await.expect_err("no token");
    assert_eq!(error.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn duplicates_answer_already_exists_and_bad_fields_are_named() {
    let stack = spawn_stack().await;
    stack.sign_up("grace").await;
    let mut auth = stack.auth().await;

    for (username, email) in [
        ("GRACE", "other@example.org"),
        ("hopper", "Grace@Example.org"),
    ] {
        let error = auth
            .sign_up(SignUpRequest {
                username: username.into(),
                email: email.into(),
                password: PASSWORD.into(),
                display_name: String::new(),
            })
            .await
            .expect_err("taken");
        assert_eq!(
            error.code(),
            Code::AlreadyExists,
            "{username} {email}: {error:?}"
        );
    }

    for (field, request) in bad_sign_ups() {
        let error = auth.sign_up(request).await.expect_err("invalid");
        assert_eq!(error.code(), Code::InvalidArgument);
        assert_eq!(violations(&error), [field], "{error:?}");
    }
    let error = auth
        .sign_up(SignUpRequest {
            username: "x".into(),
            email: "y".into(),
            password: "z".into(),
            display_name: "w".repeat(51),
        })
        .await
        .expect_err("all invalid");
    assert_eq!(
        violations(&error),
        ["username", "email", "password", "display_name"],
        "every bad field at once"
    );
}

/// Sign-ups with one bad field each, and the field.
fn bad_sign_ups() -> [(&'static str, SignUpRequest); 5] {
    [
        (
            "username",
            SignUpRequest {
                username: "no".into(),
                ..valid()
            },
        ),
        (
            "username",
            SignUpRequest {
                username: "bad name!".into(),
                ..valid()
            },
        ),
        (
            "email",
            SignUpRequest {
                email: "not-an-email".into(),
                ..valid()
            },
        ),
        (
            "password",
            SignUpRequest {
                password: "short".into(),
                ..valid()
            },
        ),
        (
            "password",
            SignUpRequest {
                password: "linus_1991".into(),
                username: "Linus_1991".into(),
                ..valid()
            },
        ),
    ]
}

pub(crate) fn valid() -> SignUpRequest {
    SignUpRequest {
        username: "valid_user".into(),
        email: "valid@example.org".into(),
        password: PASSWORD.into(),
        display_name: "Valid".into(),
    }
}

/// SignUp delivers the profile event itself: with the relay idle for an hour, the profile
/// exists as soon as SignUp has answered, and the outbox is empty.
#[tokio::test]
async fn sign_up_creates_the_profile_before_it_answers() {
    let stack = spawn_stack_with(|settings| {
        settings.outbox.poll_interval_ms = 3_600_000;
        // Generous: this is about the path, not its speed.
        settings.outbox.deliver_now_ms = 60_000;
    })
    .await;
    let signed_up = stack.sign_up("prompt_profile").await;
    let profile = UserServiceClient::new(testing::channel(stack.user_addr).await)
        .get_profile(GetProfileRequest {
            user: Some(get_profile_request::User::UserId(signed_up.user_id)),
        })
        .await
        .expect("the profile exists when SignUp answers")
        .into_inner()
        .profile
        .expect("a profile");
    assert_eq!(profile.username, "prompt_profile");
    let pool = sqlx::PgPool::connect(stack.auth_database.url())
        .await
        .expect("connect");
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(&pool)
        .await
        .expect("query");
    assert_eq!(left, 0, "the delivered event left the outbox");
}

/// The account is created while svc-user is down; the profile follows once it is back.
#[tokio::test]
async fn sign_up_while_svc_user_is_stopped_creates_the_profile_when_it_returns() {
    let mut stack = spawn_stack().await;
    stack.stop_user().await;

    let signed_up = stack.sign_up("early_bird").await;
    let pool = sqlx::PgPool::connect(stack.auth_database.url())
        .await
        .expect("connect");
    let pending_while_down =
        testing::eventually(Duration::from_secs(5), "a failed delivery attempt", || {
            let pool = pool.clone();
            async move {
                let attempts: Option<i32> = sqlx::query_scalar(
                    "SELECT attempts FROM outbox WHERE topic = 'user.create_profile'",
                )
                .fetch_optional(&pool)
                .await
                .expect("query");
                attempts.filter(|a| *a >= 1)
            }
        })
        .await;
    assert!(pending_while_down >= 1);

    stack.start_user().await;
    let profile = stack.wait_for_profile(signed_up.user_id).await;
    assert_eq!(profile.username, "early_bird");
    let pending: i64 = testing::eventually(Duration::from_secs(5), "the outbox draining", || {
        let pool = pool.clone();
        async move {
            let left: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
                .fetch_one(&pool)
                .await
                .expect("query");
            (left == 0).then_some(left)
        }
    })
    .await;
    assert_eq!(pending, 0);
}

#[tokio::test]
async fn change_password_ends_every_other_session() {
    let stack = spawn_stack().await;
    let signed_up = stack.sign_up("rotator").await;
    let mut auth = stack.auth().await;
    let other_session = auth
        .login(LoginRequest {
            login: "rotator".into(),
            password: PASSWORD.into(),
        })
        .await
        .expect("login")
        .into_inner()
        .tokens
        .expect("tokens");
    let first = signed_up.tokens.expect("tokens");

    let error = auth
        .change_password(ChangePasswordRequest {
            current_password: PASSWORD.into(),
            new_password: "a much better one".into(),
        })
        .await
        .expect_err("needs a token");
    assert_eq!(error.code(), Code::Unauthenticated);

    let error = auth
        .change_password(bearer(
            &first.access_token,
            ChangePasswordRequest {
                current_password: "wrong".into(),
                new_password: "a much better one".into(),
            },
        ))
        .await
        .expect_err("wrong current password");
    assert_eq!(error.code(), Code::Unauthenticated);

    let fresh = auth
        .change_password(bearer(
            &first.access_token,
            ChangePasswordRequest {
                current_password: PASSWORD.into(),
                new_password: "a much better one".into(),
            },
        ))
        .await
        .expect("changed")
        .into_inner()
        .tokens
        .expect("tokens");

    for old in [first.refresh_token, other_session.refresh_token] {
        let error = auth
            .refresh(RefreshRequest { refresh_token: old })
            .await
            .expect_err("revoked");
        assert_eq!(error.code(), Code::Unauthenticated);
    }
    auth.refresh(RefreshRequest {
        refresh_token: fresh.refresh_token,
    })
    .await
    .expect("the pair returned by ChangePassword keeps working");
    auth.login(LoginRequest {
        login: "rotator".into(),
        password: "a much better one".into(),
    })
    .await
    .expect("the new password works");
}

/// An event svc-user refuses for good (here an invalid profile, as a squatted or corrupt one
/// would be) is set aside with its reason; the events queued behind it in the relay get
/// through, and sign-ups go on.
#[tokio::test]
async fn a_refused_outbox_event_blocks_no_other() {
    use prost::Message;

    let stack = spawn_stack().await;
    let pool = sqlx::PgPool::connect(stack.auth_database.url())
        .await
        .expect("connect");
    let queue = |request: xir_proto::user::v1::CreateProfileRequest| {
        let pool = pool.clone();
        async move {
            sqlx::query("INSERT INTO outbox (topic, payload) VALUES ('user.create_profile', $1)")
                .bind(request.encode_to_vec())
                .execute(&pool)
                .await
                .expect("queue an event");
        }
    };
    queue(xir_proto::user::v1::CreateProfileRequest {
        user_id: 0,
        username: "not a username!".into(),
        display_name: String::new(),
        created_at: None,
    })
    .await;
    // Queued behind it, for the relay alone (SignUp delivers its own event itself).
    queue(xir_proto::user::v1::CreateProfileRequest {
        user_id: 424_242,
        username: "queued_behind".into(),
        display_name: "Queued".into(),
        created_at: Some(prost_types::Timestamp {
            seconds: 1_800_000_000,
            nanos: 0,
        }),
    })
    .await;
    let profile = stack.wait_for_profile(424_242).await;
    assert_eq!(profile.username, "queued_behind");
    let signed_up = stack.sign_up("signed_up_after").await;
    let profile = stack.wait_for_profile(signed_up.user_id).await;
    assert_eq!(profile.username, "signed_up_after");

    let (next_attempt, last_error): (String, String) = sqlx::query_as(
        // The first event queued: the refused one (the sign-up's own may still be there).
        "SELECT next_attempt_at::text, last_error FROM outbox ORDER BY id LIMIT 1",
    )
    .fetch_one(&pool)
    .await
    .expect("the refused event is kept");
    assert_eq!(next_attempt, "infinity", "never retried");
    assert!(
        last_error.starts_with("InvalidArgument"),
        "the reason is kept: {last_error}"
    );
}
