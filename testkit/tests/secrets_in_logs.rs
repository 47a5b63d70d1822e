//! Passwords, access tokens and refresh tokens never reach a log line or a span: a full
//! account scenario through the real edge, with every service logging at debug, leaves none
//! of them in the captured JSON logs, in the exported spans, or in Envoy's own log.
//!
//! A binary of its own: it installs the process-wide telemetry.

use http::{Method, StatusCode};
use opentelemetry_sdk::trace::InMemorySpanExporter;
use serde_json::json;
use xir_common::{
    settings::TelemetrySettings,
    telemetry::{self, CapturedLogs},
};
use xir_testkit::{
    Options, Stack,
    edge::{EdgeConfig, RestClient},
};

#[tokio::test]
async fn no_password_or_token_is_logged_or_traced() {
    let exporter = InMemorySpanExporter::default();
    let logs = CapturedLogs::default();
    let _telemetry = telemetry::init_with_exporter_and_writer(
        "xir-stack",
        &TelemetrySettings {
            log_level: "debug".to_owned(),
            ..TelemetrySettings::default()
        },
        exporter.clone(),
        logs.clone(),
    )
    .expect("telemetry");
    let stack = Stack::start(Options::default()).await;
    let edge = stack.start_edge(EdgeConfig::Compose).await;
    let rest = edge.rest();

    let secrets = an_account_scenario(rest).await;
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    no_secret_in(&secrets, &logs, &exporter, &edge.log());
}

/// Sign-up, a wrong and a right login, a refresh, a post, a reused refresh token and a
/// password change: every secret the scenario used.
async fn an_account_scenario(rest: &RestClient) -> Vec<String> {
    let password = "Sesame-7c1d-very-secret";
    let new_password = "Sesame-9f2e-even-more-secret";
    let (access, refresh) = sign_up_and_log_in(rest, password).await;
    let refreshed = rest
        .request(
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(json!({"refreshToken": refresh})),
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text);
    let rotated_access = refreshed.json["tokens"]["accessToken"]
        .as_str()
        .expect("access")
        .to_owned();
    let rotated_refresh = refreshed.json["tokens"]["refreshToken"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let posted = rest
        .request(
            Method::POST,
            "/v1/tweets",
            Some(&rotated_access),
            Some(json!({"text": "nothing to hide"})),
        )
        .await;
    assert_eq!(posted.status, StatusCode::OK, "{}", posted.text);
    // A reused (rotated) refresh token is refused and revokes the family: logged as an event,
    // never with the token.
    let reused = rest
        .request(
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(json!({"refreshToken": refresh})),
        )
        .await;
    assert_eq!(reused.status, StatusCode::UNAUTHORIZED, "{}", reused.text);
    let changed = rest
        .request(
            Method::POST,
            "/v1/auth/password",
            Some(&rotated_access),
            Some(json!({"currentPassword": password, "newPassword": new_password})),
        )
        .await;
    // Whatever the answer (the family was just revoked), the passwords were in the request.
    assert!(changed.status.as_u16() < 500, "{changed:?}");

    vec![
        password.to_owned(),
        new_password.to_owned(),
        access,
        refresh,
        rotated_access,
        rotated_refresh,
    ]
}

/// Signs up, fails a login and logs in: the access and refresh tokens.
async fn sign_up_and_log_in(rest: &RestClient, password: &str) -> (String, String) {
    let signed_up = rest
        .request(
            Method::POST,
            "/v1/auth/signup",
            None,
            Some(
                json!({"username": "quiet_user", "email": "quiet@example.com",
                        "password": password, "displayName": "Quiet"}),
            ),
        )
        .await;
    assert_eq!(signed_up.status, StatusCode::OK, "{}", signed_up.text);
    let wrong = rest
        .request(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"login": "quiet_user", "password": format!("{password}-wrong")})),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.text);
    let logged_in = rest
        .request(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"login": "quiet@example.com", "password": password})),
        )
        .await;
    assert_eq!(logged_in.status, StatusCode::OK, "{}", logged_in.text);
    let tokens = &logged_in.json["tokens"];
    let access = tokens["accessToken"].as_str().expect("access").to_owned();
    let refresh = tokens["refreshToken"].as_str().expect("refresh").to_owned();
    (access, refresh)
}

/// None of `secrets` in a log line, a span or Envoy's log.
fn no_secret_in(
    secrets: &[&str],
    logs: &CapturedLogs,
    exporter: &InMemorySpanExporter,
    envoy: &str,
) {
    let lines = logs.lines();
    assert!(
        lines.len() > 20,
        "the services logged the scenario: {}",
        lines.len()
    );
    for line in &lines {
        let text = line.to_string();
        for secret in secrets.iter().copied() {
            assert!(!text.contains(secret), "a secret in a log line: {text}");
        }
    }
    for span in exporter.get_finished_spans().expect("spans") {
        let text = format!("{span:?}");
        for secret in secrets.iter().copied() {
            assert!(!text.contains(secret), "a secret in a span: {text}");
        }
    }
    for secret in secrets.iter().copied() {
        assert!(!envoy.contains(secret), "a secret in Envoy's log:\n{envoy}");
    }
}
