//! A test-only stand-in for the Envoy edge: REST/JSON in, gRPC to the services out, following
//! Envoy's transcoding rules over the same descriptor set Envoy loads and the routing table of
//! deploy/envoy/envoy.yaml itself. What it does not do, Envoy's other filters do (CORS, the
//! local rate limit on /v1/auth/*, access logs); `tools/deploy`'s envoycheck validates those
//! against Envoy's API.
//!
//! Like Envoy with the OpenTelemetry tracer, it opens a server span per request (continuing
//! a `traceparent` the client sent) and passes the trace context on to the service it calls.

mod bindings;
mod client;
mod config;
mod transcode;

use std::{collections::HashMap, net::SocketAddr, str::FromStr, sync::Arc, time::Duration};

use axum::{
    body::{Body, to_bytes},
    extract::{Request, State},
    response::Response,
};
use bytes::{Buf as _, BufMut as _};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage};
use tonic::{
    Code, Status,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
    metadata::MetadataMap,
    transport::Channel,
};
use tracing::{Instrument as _, field::Empty};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use xir_common::propagation;

pub use client::Reply;
pub use config::envoy_yaml_path;
use config::{Action, EdgeConfig};
use transcode::Rejection;

/// Envoy's default max_request_bytes for buffered bodies is far larger; the API needs little.
const MAX_BODY_BYTES: usize = 1 << 20;

/// A running stand-in edge; stops when dropped.
pub struct Edge {
    addr: SocketAddr,
    server: tokio::task::JoinHandle<()>,
    client: reqwest::Client,
}

struct EdgeState {
    pool: DescriptorPool,
    bindings: Vec<bindings::Binding>,
    config: EdgeConfig,
    clusters: HashMap<String, Channel>,
}

impl Edge {
    /// Serves REST on 127.0.0.1 (a free port), forwarding to `clusters`: Envoy cluster names
    /// of envoy.yaml (`svc-auth`, ...) and where those services listen.
    pub async fn start(clusters: &[(&str, SocketAddr)]) -> Edge {
        let config = EdgeConfig::load(&envoy_yaml_path()).expect("deploy/envoy/envoy.yaml");
        let pool = DescriptorPool::decode(xir_proto::FILE_DESCRIPTOR_SET).expect("descriptor set");
        let bindings = bindings::load(&pool, &config.services).expect("google.api.http bindings");
        let clusters = clusters
            .iter()
            .map(|(name, addr)| {
                let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
                    .expect("address")
                    .connect_lazy();
                ((*name).to_owned(), channel)
            })
            .collect();
        let state = Arc::new(EdgeState {
            pool,
            bindings,
            config,
            clusters,
        });
        let app = axum::Router::new().fallback(handle).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("edge server");
        });
        Edge {
            addr,
            server,
            client: reqwest::Client::new(),
        }
    }

    /// `http://127.0.0.1:PORT`, the base of every REST path.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn handle(State(edge): State<Arc<EdgeState>>, request: Request) -> Response {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let span = tracing::info_span!(
        "edge",
        otel.name = %format!("{method} {path}"),
        otel.kind = "server",
        http.request.method = %method,
        url.path = %path,
        http.response.status_code = Empty,
        rpc.method = Empty,
    );
    let _ = span.set_parent(propagation::extract(request.headers()));
    async move {
        let response = transcode_call(&edge, request).await;
        let status = response.status().as_u16();
        tracing::Span::current().record("http.response.status_code", status);
        tracing::info!(target: "xir::edge", status, "request finished");
        response
    }
    .instrument(span)
    .await
}

async fn transcode_call(edge: &EdgeState, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Some(matched) = bindings::find(&edge.bindings, parts.method.as_str(), parts.uri.path())
    else {
        if edge.config.options.reject_unknown_method {
            // Envoy answers unmapped REST requests itself.
            return text(
                StatusCode::NOT_FOUND,
                format!("Could not resolve {} to a method.", parts.uri.path()),
            );
        }
        // Passed on untranscoded: routed by its own path, where only a catch-all can match.
        return local_reply(edge.config.route(parts.uri.path()));
    };
    let method = matched.binding.method.clone();
    tracing::Span::current().record("rpc.method", method.full_name());
    let Ok(body) = to_bytes(body, MAX_BODY_BYTES).await else {
        return text(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large".into(),
        );
    };
    let message =
        match transcode::request_message(&matched, parts.uri.query(), &body, edge.config.options) {
            Ok(message) => message,
            Err(Rejection { status, message }) => {
                return text(StatusCode::from_u16(status).expect("status"), message);
            }
        };
    // Routing happens on the transcoded gRPC path, as in Envoy.
    let grpc_path = format!("/{}/{}", method.parent_service().full_name(), method.name());
    let action = edge.config.route(&grpc_path);
    let Some(Action::Forward {
        cluster,
        timeout,
        retries_on_unavailable: retries,
    }) = action
    else {
        return local_reply(action);
    };
    let Some(channel) = edge.clusters.get(cluster) else {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("no healthy upstream ({cluster})"),
        );
    };

    // Envoy's retry_policy: `retry_on: unavailable` retries only that code, num_retries times.
    let body = message.encode_to_vec();
    let mut retries_left = *retries;
    let outcome = loop {
        let outcome = call(channel, &grpc_path, &parts.headers, body.clone(), *timeout).await;
        match &outcome {
            Err(status) if status.code() == Code::Unavailable && retries_left > 0 => {
                retries_left -= 1;
            }
            _ => break outcome,
        }
    };
    match outcome {
        Ok(response) => {
            let headers = response.metadata().clone().into_headers();
            let printed = DynamicMessage::decode(method.output(), response.get_ref().as_slice())
                .map_err(|e| e.to_string())
                .and_then(|reply| transcode::to_json(&reply, edge.config.options));
            match printed {
                Ok(body) => json(StatusCode::OK, headers, body),
                Err(error) => text(StatusCode::INTERNAL_SERVER_ERROR, error),
            }
        }
        Err(status) => {
            let http_status =
                StatusCode::from_u16(transcode::http_status(status.code())).expect("status");
            if !edge.config.options.convert_grpc_status {
                return text(http_status, status.message().to_owned());
            }
            // The error's metadata (retry-after, ...) becomes response headers, as in Envoy.
            let headers = status.metadata().clone().into_headers();
            match transcode::status_json(&edge.pool, &status, edge.config.options) {
                Ok(body) => json(http_status, headers, body),
                Err(error) => text(StatusCode::INTERNAL_SERVER_ERROR, error),
            }
        }
    }
}

/// One unary gRPC call with the request's headers as metadata (authorization, traceparent
/// replaced by the edge span's, ...).
async fn call(
    channel: &Channel,
    grpc_path: &str,
    incoming: &HeaderMap,
    body: Vec<u8>,
    timeout: Option<Duration>,
) -> Result<tonic::Response<Vec<u8>>, Status> {
    let mut headers = incoming.clone();
    for hop in [
        header::HOST,
        header::CONNECTION,
        header::CONTENT_LENGTH,
        header::CONTENT_TYPE,
        header::ACCEPT,
    ] {
        headers.remove(hop);
    }
    propagation::inject_current(&mut headers);
    let mut request = tonic::Request::new(body);
    *request.metadata_mut() = MetadataMap::from_headers(headers);
    if let Some(timeout) = timeout {
        request.set_timeout(timeout);
    }
    let path = http::uri::PathAndQuery::from_str(grpc_path)
        .map_err(|e| Status::internal(e.to_string()))?;
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(format!("upstream connect error: {e}")))?;
    let call = grpc.unary(request, path, RawCodec);
    match timeout {
        Some(timeout) => tokio::time::timeout(timeout, call)
            .await
            .unwrap_or_else(|_| Err(Status::deadline_exceeded("upstream request timeout"))),
        None => call.await,
    }
}

/// Envoy's own answer where a route does not forward: its direct response, else 404.
fn local_reply(action: Option<&Action>) -> Response {
    match action {
        Some(Action::Respond { status, body }) => json(
            StatusCode::from_u16(*status).unwrap_or(StatusCode::NOT_FOUND),
            HeaderMap::new(),
            body.clone().into_bytes(),
        ),
        _ => text(StatusCode::NOT_FOUND, "no route".into()),
    }
}

fn json(status: StatusCode, mut headers: HeaderMap, body: Vec<u8>) -> Response {
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

fn text(status: StatusCode, body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}

/// Passes encoded messages through untouched: the edge encodes and decodes with the
/// descriptor pool itself.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let mut item = vec![0; src.remaining()];
        src.copy_to_slice(&mut item);
        Ok(Some(item))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `xir.tweet.v1.TweetService` is served by the `svc-tweet` cluster.
    fn cluster_of(service: &str) -> String {
        format!(
            "svc-{}",
            service.split('.').nth(1).expect("xir.<name>.v1.Service")
        )
    }

    /// envoy.yaml's routes and the proto's HTTP rules agree: every method with a REST binding
    /// reaches its own service, and every method without one (the internal RPCs) is refused
    /// at the edge even when called as native gRPC.
    #[test]
    fn envoy_routes_expose_exactly_the_methods_with_rest_bindings() {
        let config = EdgeConfig::load(&envoy_yaml_path()).expect("envoy.yaml");
        let pool = DescriptorPool::decode(xir_proto::FILE_DESCRIPTOR_SET).expect("descriptors");
        let http = pool
            .get_extension_by_name("google.api.http")
            .expect("google.api.http");
        let mut public = 0;
        for name in &config.services {
            let service = pool
                .get_service_by_name(name)
                .expect("transcoded service exists");
            for method in service.methods() {
                let path = format!("/{}/{}", service.full_name(), method.name());
                let route = config.route(&path).cloned();
                if method.options().has_extension(&http) {
                    public += 1;
                    match route {
                        Some(Action::Forward {
                            cluster, timeout, ..
                        }) => {
                            assert_eq!(cluster, cluster_of(name), "{path}");
                            assert!(timeout.is_some(), "{path} has no explicit timeout");
                        }
                        other => panic!("{path} has a REST binding but is not routed: {other:?}"),
                    }
                } else {
                    assert!(
                        matches!(route, Some(Action::Respond { status: 404, .. })),
                        "internal {path} must not be reachable through the edge: {route:?}"
                    );
                }
            }
        }
        assert!(public >= 25, "only {public} public methods found");
    }

    /// Reads are retried on UNAVAILABLE; writes never are.
    #[test]
    fn only_reads_are_retried() {
        let config = EdgeConfig::load(&envoy_yaml_path()).expect("envoy.yaml");
        for (path, retried) in [
            ("/xir.tweet.v1.TweetService/GetTweet", true),
            ("/xir.timeline.v1.TimelineService/GetHomeTimeline", true),
            ("/xir.user.v1.UserService/SearchUsers", true),
            ("/xir.tweet.v1.TweetService/CreateTweet", false),
            ("/xir.user.v1.UserService/Follow", false),
            ("/xir.auth.v1.AuthService/Login", false),
        ] {
            let Some(Action::Forward {
                retries_on_unavailable,
                ..
            }) = config.route(path)
            else {
                panic!("{path} is not routed");
            };
            assert_eq!(*retries_on_unavailable > 0, retried, "{path}");
        }
    }

    #[test]
    fn bindings_match_paths_and_bind_variables() {
        let pool = DescriptorPool::decode(xir_proto::FILE_DESCRIPTOR_SET).expect("descriptors");
        let config = EdgeConfig::load(&envoy_yaml_path()).expect("envoy.yaml");
        let all = bindings::load(&pool, &config.services).expect("bindings");
        let like = bindings::find(&all, "POST", "/v1/tweets/42/like").expect("like binding");
        assert_eq!(like.binding.method.name(), "LikeTweet");
        assert_eq!(like.variables, [("tweet_id".to_owned(), "42".to_owned())]);
        let by_name =
            bindings::find(&all, "GET", "/v1/usernames/al%5Fice").expect("additional binding");
        assert_eq!(by_name.binding.method.name(), "GetProfile");
        assert_eq!(
            by_name.variables,
            [("username".to_owned(), "al_ice".to_owned())]
        );
        assert!(bindings::find(&all, "GET", "/v1/tweets/42/like").is_none());
        assert!(bindings::find(&all, "POST", "/v1/tweets/42/like/extra").is_none());
    }
}
