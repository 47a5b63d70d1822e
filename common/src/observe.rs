//! The tower layer in front of every service: one server span per call (parented by the
//! caller's `traceparent`) and the per-RPC metrics — calls, errors by gRPC code, latency.
//!
//! Metric labels come from the API's own methods (the descriptor set), never from the raw
//! path: a caller inventing method names gets them all counted as `unknown`, so it cannot
//! grow the registry. Health checks and reflection are infrastructure, not API traffic: they
//! are neither counted nor traced nor logged above debug.
//!
//! A call is finished when its response body ends: the gRPC status arrives in the trailers
//! (or, for an immediate error, in the headers), so the body is wrapped to read it there.

use std::{
    collections::HashSet,
    future::Future,
    pin::Pin,
    sync::LazyLock,
    task::{Context, Poll, ready},
    time::Instant,
};

use http_body::{Body, Frame, SizeHint};
use prost::Message as _;
use tonic::Code;
use tower::{Layer, Service};
use tracing::{Instrument, Span, field::Empty};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::propagation;

pub const REQUESTS_TOTAL: &str = "grpc_server_requests_total";
pub const ERRORS_TOTAL: &str = "grpc_server_errors_total";
pub const HANDLING_SECONDS: &str = "grpc_server_handling_seconds";
pub const IN_FLIGHT: &str = "grpc_server_in_flight";

#[derive(Clone, Copy, Default)]
pub struct ObserveLayer;

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Observe { inner }
    }
}

#[derive(Clone)]
pub struct Observe<S> {
    inner: S,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for Observe<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<ObservedBody<ResBody>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let call = Call::start(request.uri().path(), request.headers());
        let future = call.span.in_scope(|| self.inner.call(request));
        let span = call.span.clone();
        Box::pin(
            async move {
                let mut response = future.await?;
                undecodable_request_is_invalid_argument(response.headers_mut());
                let header_code = grpc_status(response.headers());
                Ok(response.map(|body| ObservedBody {
                    inner: body,
                    call: Some(call),
                    header_code,
                }))
            }
            .instrument(span),
        )
    }
}

/// Every `package.Service/Method` of the API (the descriptor set this build serves).
static API_METHODS: LazyLock<HashSet<String>> = LazyLock::new(|| {
    let files = prost_types::FileDescriptorSet::decode(xir_proto::FILE_DESCRIPTOR_SET)
        .expect("the build's own descriptor set decodes");
    files
        .file
        .iter()
        .flat_map(|file| {
            file.service.iter().flat_map(move |service| {
                service.method.iter().map(move |method| {
                    format!("{}.{}/{}", file.package(), service.name(), method.name())
                })
            })
        })
        .collect()
});

/// What a call's path says about how to observe it.
#[derive(Debug, PartialEq, Eq)]
enum Route<'a> {
    /// A method of the API: counted, traced and logged under its own name.
    Api { service: &'a str, method: &'a str },
    /// Health checks and reflection: traced and logged at debug only, never counted.
    Probe { service: &'a str, method: &'a str },
    /// Anything else: counted and logged as `unknown`.
    Unknown,
}

/// Health checks and reflection: infrastructure, not API traffic.
pub(crate) fn is_probe(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.Health/") || path.starts_with("/grpc.reflection.")
}

fn route(path: &str) -> Route<'_> {
    // gRPC paths are /package.Service/Method.
    let full = path.trim_start_matches('/');
    let Some((service, method)) = full.split_once('/') else {
        return Route::Unknown;
    };
    if is_probe(path) {
        Route::Probe { service, method }
    } else if API_METHODS.contains(full) {
        Route::Api { service, method }
    } else {
        Route::Unknown
    }
}

/// What is known about one call until it finishes.
struct Call {
    service: String,
    method: String,
    /// False for probes: no metrics, no access log above debug.
    counted: bool,
    started: Instant,
    span: Span,
}

macro_rules! server_span {
    ($level:expr, $service:expr, $method:expr) => {
        tracing::span!(
            $level,
            "grpc.server",
            otel.name = %format!("{}/{}", $service, $method),
            otel.kind = "server",
            otel.status_code = Empty,
            rpc.system = "grpc",
            rpc.service = %$service,
            rpc.method = %$method,
            rpc.grpc.status_code = Empty,
        )
    };
}

impl Call {
    fn start(path: &str, headers: &http::HeaderMap) -> Self {
        let (service, method, counted) = match route(path) {
            Route::Api { service, method } => (service, method, true),
            Route::Probe { service, method } => (service, method, false),
            Route::Unknown => ("unknown", "unknown", true),
        };
        let span = if counted {
            server_span!(tracing::Level::INFO, service, method)
        } else {
            server_span!(tracing::Level::DEBUG, service, method)
        };
        // An invalid or absent traceparent leaves the span a root: nothing to report.
        let _ = span.set_parent(propagation::extract(headers));
        if counted {
            metrics::gauge!(IN_FLIGHT, "grpc_service" => service.to_owned()).increment(1.0);
        }
        Call {
            service: service.to_owned(),
            method: method.to_owned(),
            counted,
            started: Instant::now(),
            span,
        }
    }

    fn finish(self, code: Code) {
        if !self.counted {
            self.span.record("rpc.grpc.status_code", code as i32);
            self.span.in_scope(|| {
                tracing::debug!(target: "xir::rpc", grpc_code = ?code, "probe finished");
            });
            return;
        }
        let labels = [
            ("grpc_service", self.service.clone()),
            ("grpc_method", self.method),
        ];
        metrics::gauge!(IN_FLIGHT, "grpc_service" => self.service).decrement(1.0);
        metrics::counter!(REQUESTS_TOTAL, &labels).increment(1);
        let elapsed = self.started.elapsed();
        metrics::histogram!(HANDLING_SECONDS, &labels).record(elapsed.as_secs_f64());
        self.span.record("rpc.grpc.status_code", code as i32);
        // One access-log line per call, inside the call's span so it carries the trace id:
        // a trace found in Jaeger leads to the log lines of every service it crossed.
        // Quieten with `RUST_LOG=xir::rpc=warn` (server faults only).
        let duration_ms = elapsed.as_secs_f64() * 1000.0;
        self.span.in_scope(|| {
            if is_server_fault(code) {
                tracing::warn!(target: "xir::rpc", grpc_code = ?code, duration_ms, "call failed");
            } else {
                tracing::info!(target: "xir::rpc", grpc_code = ?code, duration_ms, "call finished");
            }
        });
        if code != Code::Ok {
            let mut labels = labels.to_vec();
            labels.push(("grpc_code", format!("{code:?}")));
            metrics::counter!(ERRORS_TOTAL, &labels).increment(1);
            if is_server_fault(code) {
                self.span.record("otel.status_code", "ERROR");
            }
        }
    }
}

/// The codes that mean the server failed, as opposed to the caller asking for something wrong.
fn is_server_fault(code: Code) -> bool {
    matches!(
        code,
        Code::Unknown
            | Code::DeadlineExceeded
            | Code::Unimplemented
            | Code::Internal
            | Code::Unavailable
            | Code::DataLoss
    )
}

/// tonic answers a request it cannot decode (a string field that is not UTF-8, a malformed
/// message) with INTERNAL, as gRPC's guidance has it for a peer's garbage; from a client that is
/// bad input, and through the edge it would be a 500. Such a refusal comes before any handler
/// runs, in a trailers-only response: its status is in the headers.
fn undecodable_request_is_invalid_argument(headers: &mut http::HeaderMap) {
    let internal = headers
        .get("grpc-status")
        .is_some_and(|code| code.as_bytes() == b"13");
    let undecodable = headers.get("grpc-message").is_some_and(|message| {
        message
            .as_bytes()
            .starts_with(b"failed%20to%20decode%20Protobuf%20message")
    });
    if internal && undecodable {
        headers.insert("grpc-status", http::HeaderValue::from_static("3"));
    }
}

fn grpc_status(headers: &http::HeaderMap) -> Option<Code> {
    let value = headers
        .get("grpc-status")?
        .to_str()
        .ok()?
        .parse::<i32>()
        .ok()?;
    Some(Code::from_i32(value))
}

pin_project_lite::pin_project! {
    /// The response body, watched for the trailers that carry the gRPC status.
    pub struct ObservedBody<B> {
        #[pin]
        inner: B,
        call: Option<Call>,
        header_code: Option<Code>,
    }

    impl<B> PinnedDrop for ObservedBody<B> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(call) = this.call.take() {
                // Dropped before the end: the client went away or the server was stopped.
                call.finish(this.header_code.unwrap_or(Code::Cancelled));
            }
        }
    }
}

impl<B: Body> Body for ObservedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        match &frame {
            Some(Ok(frame)) => {
                if let Some(code) = frame.trailers_ref().and_then(grpc_status)
                    && let Some(call) = this.call.take()
                {
                    call.finish(code);
                }
            }
            Some(Err(_)) => {
                if let Some(call) = this.call.take() {
                    call.finish(Code::Internal);
                }
            }
            None => {
                if let Some(call) = this.call.take() {
                    call.finish(this.header_code.unwrap_or(Code::Unknown));
                }
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_undecodable_request_is_the_callers_error() {
        let mut headers = http::HeaderMap::new();
        headers.insert("grpc-status", http::HeaderValue::from_static("13"));
        headers.insert(
            "grpc-message",
            http::HeaderValue::from_static(
                "failed%20to%20decode%20Protobuf%20message:%20invalid%20string%20value",
            ),
        );
        undecodable_request_is_invalid_argument(&mut headers);
        assert_eq!(grpc_status(&headers), Some(Code::InvalidArgument));

        let mut other = http::HeaderMap::new();
        other.insert("grpc-status", http::HeaderValue::from_static("13"));
        other.insert(
            "grpc-message",
            http::HeaderValue::from_static("internal%20error"),
        );
        undecodable_request_is_invalid_argument(&mut other);
        assert_eq!(
            grpc_status(&other),
            Some(Code::Internal),
            "other internal errors stay"
        );
    }

    #[test]
    fn labels_come_from_the_api_never_from_the_raw_path() {
        assert_eq!(
            route("/xir.user.v1.UserService/GetProfile"),
            Route::Api {
                service: "xir.user.v1.UserService",
                method: "GetProfile"
            }
        );
        for invented in [
            "/xir.user.v1.UserService/NoSuchMethod",
            "/made.up.Service/Anything",
            "/no-slash",
            "/",
        ] {
            assert_eq!(route(invented), Route::Unknown, "{invented}");
        }
        assert_eq!(
            route("/grpc.health.v1.Health/Check"),
            Route::Probe {
                service: "grpc.health.v1.Health",
                method: "Check"
            }
        );
        assert!(matches!(
            route("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"),
            Route::Probe { .. }
        ));
    }
}
