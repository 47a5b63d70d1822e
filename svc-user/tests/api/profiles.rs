use tonic::Code;
use xir_proto::user::v1::{GetProfileRequest, get_profile_request::User};

use crate::helpers::{seed_profile, spawn_app};

#[tokio::test]
async fn get_profile_finds_by_id_and_by_username_in_any_case() {
    let app = spawn_app().await;
    seed_profile(&app.pool().await, 42, "Alice_1").await;
    let mut client = app.client().await;

    for user in [
        User::UserId(42),
        User::Username("alice_1".into()),
        User::Username("ALICE_1".into()),
    ] {
        let profile = client
            .get_profile(GetProfileRequest { user: Some(user) })
            .await
            .expect("profile exists")
            .into_inner()
            .profile
            .expect("profile present");
        assert_eq!(profile.user_id, 42);
        assert_eq!(profile.username, "Alice_1", "kept as registered");
        assert_eq!(profile.followers_count, 0);
        assert!(profile.created_at.is_some());
    }
}

#[tokio::test]
async fn get_profile_rejects_bad_input_naming_the_field() {
    let app = spawn_app().await;
    let mut client = app.client().await;
    let cases = [
        (Some(User::UserId(0)), "user_id"),
        (Some(User::UserId(-5)), "user_id"),
        (Some(User::Username("x".into())), "username"),
        (Some(User::Username("no spaces".into())), "username"),
        (None, "user"),
    ];
    for (user, field) in cases {
        let error = client
            .get_profile(GetProfileRequest { user: user.clone() })
            .await
            .expect_err("invalid input");
        assert_eq!(error.code(), Code::InvalidArgument, "{user:?}");
        let details = tonic_types::StatusExt::get_error_details(&error);
        let violations = details
            .bad_request()
            .expect("BadRequest details")
            .field_violations
            .clone();
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(violations[0].field, field);
    }
}
