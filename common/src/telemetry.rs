//! Logs and traces: one JSON object per line on stdout (with `trace_id` and `span_id` when the
//! event happens inside a span) and, when `telemetry.otlp_endpoint` is set, spans exported over
//! OTLP/gRPC. Traces get ids even without an exporter, so logs correlate and `traceparent` is
//! carried on either way.

use std::{fmt, io};

use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::{
    Resource,
    trace::{Sampler, SdkTracerProvider},
};
use serde_json::{Map, Value};
use tracing::{Event, Subscriber, field::Field};
use tracing_subscriber::{
    EnvFilter, Layer,
    filter::LevelFilter,
    fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, format::Writer},
    layer::SubscriberExt,
    registry::LookupSpan,
    util::SubscriberInitExt,
};

use crate::settings::TelemetrySettings;

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("invalid telemetry.log_level: {0}")]
    LogLevel(#[from] tracing_subscriber::filter::ParseError),
    #[error("cannot build the OTLP exporter for telemetry.otlp_endpoint: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
    #[error("a global tracing subscriber is already installed")]
    AlreadyInstalled(#[from] tracing_subscriber::util::TryInitError),
}

/// Keeps the tracer provider alive; [`TelemetryGuard::shutdown`] flushes the spans not yet
/// exported. Call it after the server has stopped.
#[must_use = "dropping the guard without shutdown() may lose the last spans"]
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl TelemetryGuard {
    pub fn shutdown(self) {
        if let Err(error) = self.provider.shutdown() {
            eprintln!("telemetry shutdown: {error}");
        }
    }

    /// The provider, for tests that read spans back from an in-memory exporter.
    #[cfg(any(test, feature = "testing"))]
    pub fn provider(&self) -> &SdkTracerProvider {
        &self.provider
    }
}

/// Installs the global subscriber for `service` (e.g. `svc-user`), exporting over OTLP when
/// an endpoint is configured. Must run inside a Tokio runtime (the tonic exporter needs one).
pub fn init(
    service: &'static str,
    settings: &TelemetrySettings,
) -> Result<TelemetryGuard, TelemetryError> {
    let mut provider = base_provider(service, settings);
    if let Some(endpoint) = &settings.otlp_endpoint {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build()?;
        provider = provider.with_batch_exporter(exporter);
    }
    install(service, settings, provider.build())
}

/// Like [`init`], with spans handed synchronously to `exporter` (tests: an in-memory exporter).
#[cfg(any(test, feature = "testing"))]
pub fn init_with_exporter(
    service: &'static str,
    settings: &TelemetrySettings,
    exporter: impl opentelemetry_sdk::trace::SpanExporter + 'static,
) -> Result<TelemetryGuard, TelemetryError> {
    let provider = base_provider(service, settings).with_simple_exporter(exporter);
    install(service, settings, provider.build())
}

/// Like [`init_with_exporter`], with the JSON log lines written to `writer` instead of stdout,
/// for tests that read the logs back.
#[cfg(any(test, feature = "testing"))]
pub fn init_with_exporter_and_writer<W>(
    service: &'static str,
    settings: &TelemetrySettings,
    exporter: impl opentelemetry_sdk::trace::SpanExporter + 'static,
    writer: W,
) -> Result<TelemetryGuard, TelemetryError>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let provider = base_provider(service, settings)
        .with_simple_exporter(exporter)
        .build();
    subscriber(service, filter(settings)?, &provider, writer).try_init()?;
    opentelemetry::global::set_tracer_provider(provider.clone());
    Ok(TelemetryGuard { provider })
}

fn base_provider(
    service: &'static str,
    settings: &TelemetrySettings,
) -> opentelemetry_sdk::trace::TracerProviderBuilder {
    SdkTracerProvider::builder()
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            settings.sample_ratio,
        ))))
        .with_resource(Resource::builder().with_service_name(service).build())
}

fn install(
    service: &'static str,
    settings: &TelemetrySettings,
    provider: SdkTracerProvider,
) -> Result<TelemetryGuard, TelemetryError> {
    subscriber(service, filter(settings)?, &provider, io::stdout).try_init()?;
    opentelemetry::global::set_tracer_provider(provider.clone());
    Ok(TelemetryGuard { provider })
}

/// Log lines kept in memory: a writer for [`init_with_exporter_and_writer`] that tests read
/// back.
#[cfg(any(test, feature = "testing"))]
#[derive(Clone, Default)]
pub struct CapturedLogs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

#[cfg(any(test, feature = "testing"))]
impl CapturedLogs {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("captured logs")).into_owned()
    }

    /// The lines written so far, each parsed as the JSON object it must be.
    pub fn lines(&self) -> Vec<Value> {
        self.text()
            .lines()
            .map(|line| serde_json::from_str(line).expect("each log line is JSON"))
            .collect()
    }
}

#[cfg(any(test, feature = "testing"))]
impl io::Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .expect("captured logs")
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(any(test, feature = "testing"))]
impl<'w> tracing_subscriber::fmt::MakeWriter<'w> for CapturedLogs {
    type Writer = CapturedLogs;

    fn make_writer(&'w self) -> Self::Writer {
        self.clone()
    }
}

/// `RUST_LOG` when set, else `telemetry.log_level`.
fn filter(settings: &TelemetrySettings) -> Result<EnvFilter, TelemetryError> {
    Ok(match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.is_empty() => EnvFilter::try_new(directives)?,
        _ => EnvFilter::try_new(&settings.log_level)?,
    })
}

/// The registry with the OpenTelemetry layer and the JSON log lines written to `writer`.
fn subscriber<W>(
    service: &'static str,
    filter: EnvFilter,
    provider: &SdkTracerProvider,
    writer: W,
) -> impl Subscriber + Send + Sync + for<'a> LookupSpan<'a>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let logs = tracing_subscriber::fmt::layer()
        .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
        .event_format(JsonLines { service })
        .with_writer(writer);
    // Traces hold the spans the services mark at INFO (a server span per API call, the
    // `#[instrument]`ed queries and fan-out steps), whatever the log level. Without a filter
    // of their own these layers would take every span and event of every level, h2's and
    // hyper's per-frame TRACE ones included, and each call would pay for building them.
    tracing_subscriber::registry()
        .with(
            tracing_opentelemetry::layer()
                .with_tracer(provider.tracer(service))
                .with_filter(LevelFilter::INFO),
        )
        .with(TraceIdsLayer::default().with_filter(LevelFilter::INFO))
        .with(logs.with_filter(filter))
}

/// The OpenTelemetry ids of a span, stored in its extensions when it is entered, where the log
/// formatter can read them.
struct TraceIds {
    trace_id: String,
    span_id: String,
}

/// Records [`TraceIds`] on every span as it is entered. The formatter cannot look them up
/// itself: while an event is being dispatched, `tracing` hides the current dispatcher (to stop
/// recursion), and the OpenTelemetry context is reachable only through it; so this layer keeps
/// a handle to the dispatcher it was registered with.
#[derive(Default)]
struct TraceIdsLayer {
    dispatch: std::sync::OnceLock<tracing::dispatcher::WeakDispatch>,
}

impl<S> Layer<S> for TraceIdsLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, dispatch: &tracing::Dispatch) {
        let _ = self.dispatch.set(dispatch.downgrade());
    }

    fn on_enter(&self, id: &tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        if span.extensions().get::<TraceIds>().is_some() {
            return;
        }
        let Some(dispatch) = self.dispatch.get().and_then(|weak| weak.upgrade()) else {
            return;
        };
        // No extensions lock may be held while the OpenTelemetry layer is asked.
        let Some(cx) = tracing_opentelemetry::get_otel_context(id, &dispatch) else {
            return;
        };
        let span_context = cx.span().span_context().clone();
        if span_context.is_valid() {
            span.extensions_mut().insert(TraceIds {
                trace_id: span_context.trace_id().to_string(),
                span_id: span_context.span_id().to_string(),
            });
        }
    }
}

/// One JSON object per event: timestamp, level, service, target, message and the event's
/// fields at the top level, the current span's name and fields under `span`, and the
/// OpenTelemetry `trace_id` / `span_id` of that span.
struct JsonLines {
    service: &'static str,
}

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let metadata = event.metadata();
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            chrono::Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                .into(),
        );
        line.insert("level".into(), metadata.level().as_str().into());
        line.insert("service".into(), self.service.into());
        line.insert("target".into(), metadata.target().into());
        event.record(&mut FieldVisitor(&mut line));

        if let Some(span) = ctx.lookup_current() {
            let mut span_json = Map::new();
            span_json.insert("name".into(), span.name().into());
            if let Some(fields) = span.extensions().get::<FormattedFields<N>>()
                && let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(fields)
            {
                span_json.extend(fields);
            }
            line.insert("span".into(), Value::Object(span_json));
            if let Some(ids) = span.extensions().get::<TraceIds>() {
                line.insert("trace_id".into(), ids.trace_id.clone().into());
                line.insert("span_id".into(), ids.span_id.clone().into());
            }
        }
        let json = serde_json::to_string(&line).map_err(|_| fmt::Error)?;
        writeln!(writer, "{json}")
    }
}

struct FieldVisitor<'a>(&'a mut Map<String, Value>);

impl tracing::field::Visit for FieldVisitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        // The whole cause chain: "outer: inner: root".
        let mut chain = value.to_string();
        let mut source = value.source();
        while let Some(cause) = source {
            chain.push_str(": ");
            chain.push_str(&cause.to_string());
            source = cause.source();
        }
        self.0.insert(field.name().into(), chain.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_are_json_with_the_trace_and_span_ids_of_their_span() {
        let provider = SdkTracerProvider::builder().build();
        let buffer = CapturedLogs::default();
        let filter = EnvFilter::new("info");
        tracing::subscriber::with_default(
            subscriber("svc-test", filter, &provider, buffer.clone()),
            || {
                tracing::info!("outside any span");
                let span = tracing::info_span!("handle", user_id = 42);
                let _entered = span.enter();
                let error = io::Error::other("disk on fire");
                tracing::warn!(
                    error = &error as &dyn std::error::Error,
                    attempt = 3,
                    "inside"
                );
            },
        );
        let lines = buffer.lines();
        assert_eq!(lines.len(), 2, "{}", buffer.text());

        assert_eq!(lines[0]["message"], "outside any span");
        assert_eq!(lines[0]["service"], "svc-test");
        assert!(lines[0].get("trace_id").is_none());

        let inside = &lines[1];
        assert_eq!(inside["level"], "WARN");
        assert_eq!(inside["attempt"], 3);
        assert_eq!(inside["error"], "disk on fire");
        assert_eq!(inside["span"]["name"], "handle");
        assert_eq!(inside["span"]["user_id"], 42);
        assert_eq!(
            inside["trace_id"].as_str().map(str::len),
            Some(32),
            "{inside}"
        );
        assert_eq!(
            inside["span_id"].as_str().map(str::len),
            Some(16),
            "{inside}"
        );
    }
}
