//! How an outbox delivery failed: worth retrying, or refused for good.
//!
//! A receiver that is down, slow or overloaded will take the event later, so the relay retries
//! it, and the events behind it wait (one receiver sees them in the order they happened). A
//! receiver that looked at the event and refused it (invalid, conflicting) will refuse the same
//! bytes again: retrying would block every event behind it forever, so the relay sets it aside
//! (kept, logged, counted) and goes on.

use std::time::Duration;

use tonic::{Code, Status};

/// The metrics of every relay, the PostgreSQL services' outbox table and svc-tweet's events in
/// tweet documents alike, labelled by the event's `topic`.
pub const DELIVERED_TOTAL: &str = "outbox_delivered_total";
pub const FAILURES_TOTAL: &str = "outbox_delivery_failures_total";
pub const LAG_SECONDS: &str = "outbox_delivery_lag_seconds";
pub const REJECTED_TOTAL: &str = "outbox_rejected_total";

/// An event reached its receiver `lag` after it was written.
pub fn record_delivered(topic: &str, lag: Duration) {
    metrics::counter!(DELIVERED_TOTAL, "topic" => topic.to_owned()).increment(1);
    metrics::histogram!(LAG_SECONDS).record(lag.as_secs_f64());
}

/// A delivery attempt of `event` (its outbox's name for it) failed; it will be retried.
pub fn record_retry(topic: &str, event: &str, attempts: i64, reason: &str) {
    tracing::warn!(
        event,
        topic,
        attempts,
        reason,
        "outbox delivery failed; will retry"
    );
    metrics::counter!(FAILURES_TOTAL, "topic" => topic.to_owned()).increment(1);
}

/// The receiver refused `event` for good; it was set aside.
pub fn record_rejected(topic: &str, event: &str, reason: &str) {
    tracing::error!(
        event,
        topic,
        reason,
        "outbox event refused by its receiver; set aside, the others go on"
    );
    metrics::counter!(REJECTED_TOTAL, "topic" => topic.to_owned()).increment(1);
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryError {
    /// Try again later, after the events before it.
    Retry(String),
    /// Never deliverable: set aside.
    Rejected(String),
}

impl DeliveryError {
    /// A payload that does not decode: no retry will change its bytes.
    pub fn undecodable(error: impl std::fmt::Display) -> Self {
        Self::Rejected(format!("undecodable payload: {error}"))
    }
}

impl From<Status> for DeliveryError {
    fn from(status: Status) -> Self {
        let reason = format!("{:?}: {}", status.code(), status.message());
        match status.code() {
            Code::InvalidArgument
            | Code::AlreadyExists
            | Code::FailedPrecondition
            | Code::OutOfRange
            | Code::Unimplemented => Self::Rejected(reason),
            // Unavailable, deadlines, overload, internal errors, and identity refusals (a
            // misconfigured key is fixed by an operator, after which the event goes through).
            _ => Self::Retry(reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_final_and_outages_are_retried() {
        assert!(matches!(
            DeliveryError::from(Status::invalid_argument("username")),
            DeliveryError::Rejected(_)
        ));
        assert!(matches!(
            DeliveryError::from(Status::already_exists("taken")),
            DeliveryError::Rejected(_)
        ));
        for retried in [
            Status::unavailable("down"),
            Status::deadline_exceeded("slow"),
            Status::resource_exhausted("busy"),
            Status::permission_denied("key"),
            Status::not_found("not yet"),
        ] {
            assert!(matches!(
                DeliveryError::from(retried),
                DeliveryError::Retry(_)
            ));
        }
    }
}
