//! Errors as a client sees them: HTTP statuses with `google.rpc.Status` bodies.

use http::{Method, StatusCode};
use serde_json::json;
use xir_testkit::{
    Options, Stack,
    edge::{Edge, EdgeConfig, PASSWORD, RestAccount},
};

on_both_edge_configs!(
    the_compose_edge_answers_errors_as_http_statuses_with_google_rpc_status_bodies,
    the_chart_edge_answers_errors_as_http_statuses_with_google_rpc_status_bodies,
    errors_are_http_statuses_with_google_rpc_status_bodies
);

async fn errors_are_http_statuses_with_google_rpc_status_bodies(config: EdgeConfig) {
    let stack = Stack::start(Options::default()).await;
    let edge = stack.start_edge(config).await;
    let alice = edge.rest().sign_up("alice_errors").await;
    the_edge_refuses_what_no_route_takes(&edge, &alice).await;
    service_errors_become_http_statuses(&edge, &alice).await;
}

/// Requests no route takes are the edge's own answers, never an upstream call.
async fn the_edge_refuses_what_no_route_takes(edge: &Edge, alice: &RestAccount) {
    // An unknown path or method is the edge's own 404, never an upstream call; so is an
    // internal RPC asked for by its gRPC path.
    let unknown = edge
        .rest()
        .request(Method::GET, "/v1/nothing/here", None, None)
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.text);
    let wrong_verb = edge
        .rest()
        .request(Method::PUT, "/v1/tweets", Some(&alice.token), None)
        .await;
    assert_eq!(
        wrong_verb.status,
        StatusCode::NOT_FOUND,
        "{}",
        wrong_verb.text
    );
    let internal = edge
        .rest()
        .request(
            Method::POST,
            "/xir.user.v1.UserService/CreateProfile",
            None,
            Some(json!({})),
        )
        .await;
    assert_eq!(internal.status, StatusCode::NOT_FOUND, "{}", internal.text);

    // Unknown query parameters and unknown body fields are rejected at the edge.
    let bad_query = edge
        .rest()
        .request(
            Method::GET,
            "/v1/timeline/home?limt=5",
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!(
        bad_query.status,
        StatusCode::BAD_REQUEST,
        "{}",
        bad_query.text
    );
    let bad_body = edge
        .rest()
        .request(
            Method::POST,
            "/v1/tweets",
            Some(&alice.token),
            Some(json!({"txt": "typo"})),
        )
        .await;
    assert_eq!(
        bad_body.status,
        StatusCode::BAD_REQUEST,
        "{}",
        bad_body.text
    );
    let bad_number = edge
        .rest()
        .request(
            Method::GET,
            "/v1/tweets/not-a-number",
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!(
        bad_number.status,
        StatusCode::BAD_REQUEST,
        "{}",
        bad_number.text
    );
}

/// The services' gRPC codes as HTTP statuses with `google.rpc.Status` bodies.
async fn service_errors_become_http_statuses(edge: &Edge, alice: &RestAccount) {
    // No token: Unauthenticated -> 401, as google.rpc.Status JSON.
    let anonymous = edge
        .rest()
        .request(Method::GET, "/v1/timeline/home", None, None)
        .await;
    assert_eq!(
        anonymous.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        anonymous.text
    );
    assert_eq!(anonymous.json["code"], 16);

    // InvalidArgument -> 400 with the BadRequest detail naming the field.
    let empty = edge
        .rest()
        .request(
            Method::POST,
            "/v1/tweets",
            Some(&alice.token),
            Some(json!({"text": ""})),
        )
        .await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST, "{}", empty.text);
    assert_eq!(empty.json["code"], 3);
    let detail = &empty.json["details"][0];
    assert_eq!(detail["@type"], "type.googleapis.com/google.rpc.BadRequest");
    assert_eq!(detail["fieldViolations"][0]["field"], "text");

    // NotFound -> 404 from the service, through the edge.
    let missing = edge
        .rest()
        .request(
            Method::GET,
            "/v1/tweets/123456789",
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.text);
    assert_eq!(missing.json["code"], 5);

    // AlreadyExists -> 409.
    let taken = edge
        .rest()
        .request(
            Method::POST,
            "/v1/auth/signup",
            None,
            Some(json!({
                "username": "ALICE_errors",
                "email": "other@example.com",
                "password": PASSWORD,
                "displayName": "Other",
            })),
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "{}", taken.text);
}
