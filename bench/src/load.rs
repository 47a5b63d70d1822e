//! Load generators: a closed loop (N workers calling back to back: the most a target answers)
//! and an open loop (calls started on a fixed schedule whatever the answers do, each timed
//! from its scheduled start, so a stall shows in the latencies instead of lowering the rate:
//! the correction for coordinated omission).

use std::{
    future::Future,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;
use serde_json::{Value, json};

/// Latencies in microseconds, 1 µs to 60 s, three significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

/// What one load run measured.
#[derive(Debug, Clone)]
pub struct Run {
    pub calls: u64,
    pub errors: u64,
    pub seconds: f64,
    pub latencies: Histogram<u64>,
    /// The first error, for the report.
    pub first_error: Option<String>,
}

impl Run {
    pub fn rate(&self) -> f64 {
        self.calls as f64 / self.seconds
    }

    pub fn quantile_ms(&self, q: f64) -> f64 {
        ms(self.latencies.value_at_quantile(q))
    }

    pub fn json(&self) -> Value {
        json!({
            "calls": self.calls,
            "errors": self.errors,
            "seconds": self.seconds,
            "achieved_per_second": self.rate(),
            "p50_ms": self.quantile_ms(0.5),
            "p90_ms": self.quantile_ms(0.9),
            "p99_ms": self.quantile_ms(0.99),
            "p999_ms": self.quantile_ms(0.999),
            "max_ms": ms(self.latencies.max()),
            "first_error": self.first_error,
        })
    }
}

struct Tally {
    latencies: Mutex<Histogram<u64>>,
    calls: AtomicU64,
    errors: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl Tally {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            latencies: Mutex::new(histogram()),
            calls: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            first_error: Mutex::new(None),
        })
    }

    fn record(&self, since: Instant, outcome: Result<(), String>) {
        let micros = since.elapsed().as_micros().clamp(1, 60_000_000) as u64;
        self.latencies
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .saturating_record(micros);
        self.calls.fetch_add(1, Ordering::Relaxed);
        if let Err(error) = outcome {
            self.errors.fetch_add(1, Ordering::Relaxed);
            self.first_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_or_insert(error);
        }
    }

    fn run(&self, seconds: f64) -> Run {
        Run {
            calls: self.calls.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            seconds,
            latencies: self
                .latencies
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            first_error: self
                .first_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }
}

/// `workers` loops calling `call` back to back for `duration`.
pub async fn closed_loop<F, Fut>(workers: usize, duration: Duration, call: F) -> Run
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    closed_loop_until(workers, duration, u64::MAX, call).await
}

/// [`closed_loop`], stopping after `max_calls` calls if that comes first.
pub async fn closed_loop_until<F, Fut>(
    workers: usize,
    duration: Duration,
    max_calls: u64,
    call: F,
) -> Run
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let tally = Tally::new();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..workers {
        let (tally, call) = (tally.clone(), call.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = worker as u64;
            while started.elapsed() < duration && n < max_calls {
                let at = Instant::now();
                tally.record(at, call(n).await);
                n += workers as u64;
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    tally.run(started.elapsed().as_secs_f64())
}

/// Calls started at `rate` per second for `duration`, each in a task of its own, each timed
/// from when it was due. At most `max_in_flight` run at once; a call due beyond that counts
/// as an error (the target is not keeping up), never as a silent skip.
pub async fn open_loop<F, Fut>(rate: f64, duration: Duration, max_in_flight: u64, call: F) -> Run
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let tally = Tally::new();
    let in_flight = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let total = (rate * duration.as_secs_f64()).round() as u64;
    let mut tasks = Vec::with_capacity(total as usize);
    for n in 0..total {
        let due = started + Duration::from_secs_f64(n as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
        if in_flight.load(Ordering::Relaxed) >= max_in_flight {
            tally.record(due, Err(format!("over {max_in_flight} calls in flight")));
            continue;
        }
        in_flight.fetch_add(1, Ordering::Relaxed);
        let (tally, call, in_flight) = (tally.clone(), call.clone(), in_flight.clone());
        tasks.push(tokio::spawn(async move {
            let outcome = call(n).await;
            tally.record(due, outcome);
            in_flight.fetch_sub(1, Ordering::Relaxed);
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    tally.run(started.elapsed().as_secs_f64())
}
