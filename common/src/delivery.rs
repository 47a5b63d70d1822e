//! How an outbox delivery failed: worth retrying, or refused for good.
//!
//! A receiver that is down, slow or overloaded will take the event later, so the relay retries
//! it, and the events behind it wait (one receiver sees them in the order they happened). A
//! receiver that looked at the event and refused it (invalid, conflicting) will refuse the same
//! bytes again: retrying would block every event behind it forever, so the relay sets it aside
//! (kept, logged, counted) and goes on.

use std::{future::Future, time::Duration};

use tonic::{Code, Status};
use xir_proto::timeline::v1::ApplyEventsResponse;

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

/// The most events a relay puts in one batch call, and about the most bytes: well under what
/// a receiver takes (svc-timeline: 1,000 events, 64 KiB a request).
pub const EVENTS_PER_CALL: usize = 500;
pub const BYTES_PER_CALL: usize = 32 * 1024;

/// Cuts a pass's sequences into batch calls under [`EVENTS_PER_CALL`] and [`BYTES_PER_CALL`],
/// keeping their order and each sequence whole where it fits. A sequence too long for one
/// call keeps its head; the events cut off get no outcome, so the relay sends them again in
/// a later pass, in order.
pub fn into_calls<T: prost::Message>(sequences: Vec<Vec<T>>) -> Vec<Vec<Vec<T>>> {
    let mut calls: Vec<Vec<Vec<T>>> = Vec::new();
    let (mut events, mut bytes) = (0, 0);
    for sequence in sequences {
        let head = head_within_limits(sequence);
        let size: usize = head.iter().map(|event| event.encoded_len() + 8).sum();
        let fits = events + head.len() <= EVENTS_PER_CALL && bytes + size <= BYTES_PER_CALL;
        if calls.is_empty() || !fits {
            calls.push(Vec::new());
            (events, bytes) = (0, 0);
        }
        events += head.len();
        bytes += size;
        if let Some(call) = calls.last_mut() {
            call.push(head);
        }
    }
    calls
}

/// The longest head of `sequence` that one call can carry alone (at least its first event).
fn head_within_limits<T: prost::Message>(mut sequence: Vec<T>) -> Vec<T> {
    let mut bytes = 0;
    let mut keep = 0;
    for event in &sequence {
        bytes += event.encoded_len() + 8;
        if keep > 0 && (keep == EVENTS_PER_CALL || bytes > BYTES_PER_CALL) {
            break;
        }
        keep += 1;
    }
    sequence.truncate(keep);
    sequence
}

/// What became of each event of each sequence a batch call carried (see
/// `xir.timeline.v1.ApplyEventsResponse`): per sequence, one outcome per event tried.
pub fn batch_outcomes(response: ApplyEventsResponse) -> Vec<Outcomes> {
    use xir_proto::timeline::v1::event_outcome::Outcome;
    let outcome = |outcome: Option<Outcome>| match outcome {
        Some(Outcome::Applied(_)) => Ok(()),
        Some(Outcome::Rejected(reason)) => Err(DeliveryError::Rejected(reason)),
        Some(Outcome::Retry(reason)) => Err(DeliveryError::Retry(reason)),
        None => Err(DeliveryError::Retry("the receiver gave no outcome".into())),
    };
    response
        .sequences
        .into_iter()
        .map(|sequence| {
            let events = sequence.events.into_iter();
            events.map(|event| outcome(event.outcome)).collect()
        })
        .collect()
}

/// What became of one sequence's events (one ordering key's, in order) in a delivery: an
/// outcome per event tried. A retry ends the sequence; the events after it were not tried.
pub type Outcomes = Vec<Result<(), DeliveryError>>;

/// A sequence's events as its receiver takes them, up to the first that cannot be sent (an
/// unknown topic, a payload that does not decode), and why that one cannot.
#[derive(Debug, Clone, PartialEq)]
pub struct Sendable<T> {
    pub events: Vec<T>,
    pub refused: Option<DeliveryError>,
}

impl<T> Sendable<T> {
    /// `events` turned into messages by `message`, up to the first it cannot turn.
    pub fn up_to_refusal<E>(
        events: impl IntoIterator<Item = E>,
        message: impl Fn(E) -> Result<T, DeliveryError>,
    ) -> Self {
        let mut sendable = Vec::new();
        for event in events {
            match message(event) {
                Ok(message) => sendable.push(message),
                Err(refused) => {
                    return Self {
                        events: sendable,
                        refused: Some(refused),
                    };
                }
            }
        }
        Self {
            events: sendable,
            refused: None,
        }
    }
}

impl<T> From<Vec<T>> for Sendable<T> {
    fn from(events: Vec<T>) -> Self {
        Self {
            events,
            refused: None,
        }
    }
}

/// Adds to a sequence's outcomes the refusal of the event its sender could not send, once the
/// `sent` events before it all went through; the events after it wait for a later pass, as
/// after a retry.
fn with_refusal(mut outcomes: Outcomes, sent: usize, refused: Option<DeliveryError>) -> Outcomes {
    if let Some(refused) = refused
        && outcomes.len() == sent
        && outcomes.iter().all(Result::is_ok)
    {
        outcomes.push(Err(refused));
    }
    outcomes
}

/// Delivers one sequence's `events` in order with `deliver`, up to the first to retry: the
/// events after it are not tried, so that they follow it later, in order.
pub async fn in_order<T, F, Fut>(events: impl IntoIterator<Item = T>, deliver: F) -> Outcomes
where
    F: Fn(T) -> Fut,
    Fut: Future<Output = Result<(), DeliveryError>>,
{
    let mut outcomes = Vec::new();
    for event in events {
        let outcome = deliver(event).await;
        let retry = matches!(outcome, Err(DeliveryError::Retry(_)));
        outcomes.push(outcome);
        if retry {
            break;
        }
    }
    outcomes
}

/// Delivers sequences of events through a batch RPC (`batch`), in calls under the limits
/// ([`into_calls`]), and answers each sequence's outcomes in order, ending with the refusal of
/// the event that could not be sent, if the events before it went through. A call that fails
/// as a whole leaves its sequences to retry: a refused call is not a refused event. A receiver
/// without the batch RPC (an older version, during a rollout) gets each event in a call of its
/// own (`single`), each sequence's in order up to the first to retry.
pub async fn deliver_in_calls<T, B, BatchFut, S, SingleFut>(
    sequences: Vec<Sendable<T>>,
    batch: B,
    single: S,
) -> Vec<Outcomes>
where
    T: prost::Message + Clone,
    B: Fn(Vec<Vec<T>>) -> BatchFut,
    BatchFut: Future<Output = Result<Vec<Outcomes>, Status>>,
    S: Fn(T) -> SingleFut,
    SingleFut: Future<Output = Result<(), Status>>,
{
    // Each sequence's refusal waits, with how many events were sent before it.
    let mut refusals = Vec::with_capacity(sequences.len());
    let sendable: Vec<Vec<T>> = sequences
        .into_iter()
        .map(|sequence| {
            refusals.push((sequence.events.len(), sequence.refused));
            sequence.events
        })
        .collect();
    let mut outcomes = Vec::with_capacity(sendable.len());
    for call in into_calls(sendable) {
        let count = call.len();
        if call.iter().all(Vec::is_empty) {
            // Nothing for this receiver in the pass (e.g. only another receiver's events).
            outcomes.extend((0..count).map(|_| Vec::new()));
            continue;
        }
        match batch(call.clone()).await {
            Ok(answered) => {
                let mut answered = answered.into_iter();
                outcomes.extend((0..count).map(|_| answered.next().unwrap_or_default()));
            }
            Err(status) if status.code() == Code::Unimplemented => {
                for events in call {
                    let alone = |event| async { single(event).await.map_err(DeliveryError::from) };
                    outcomes.push(in_order(events, alone).await);
                }
            }
            Err(status) => {
                let reason = format!("{:?}: {}", status.code(), status.message());
                let retry = || vec![Err(DeliveryError::Retry(reason.clone()))];
                outcomes.extend((0..count).map(|_| retry()));
            }
        }
    }
    outcomes
        .into_iter()
        .zip(refusals)
        .map(|(outcomes, (sent, refused))| with_refusal(outcomes, sent, refused))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn without_the_batch_rpc_each_event_goes_alone_and_a_failed_call_is_retried() {
        let event = |id: &str| xir_proto::timeline::v1::FollowEvent {
            event_id: id.into(),
            ..Default::default()
        };
        let sequences: Vec<Sendable<_>> = vec![
            vec![event("a1"), event("a2")].into(),
            vec![event("b1")].into(),
        ];
        let sent_alone = std::sync::Mutex::new(Vec::new());
        let older_receiver = deliver_in_calls(
            sequences.clone(),
            |_| async { Err(Status::unimplemented("no batch RPC here")) },
            |event| {
                sent_alone
                    .lock()
                    .expect("sent")
                    .push(event.event_id.clone());
                async move {
                    match event.event_id.as_str() {
                        "a1" => Err(Status::unavailable("busy")),
                        _ => Ok(()),
                    }
                }
            },
        )
        .await;
        let busy = DeliveryError::Retry("Unavailable: busy".into());
        assert_eq!(older_receiver, [vec![Err(busy)], vec![Ok(())]]);
        assert_eq!(
            *sent_alone.lock().expect("sent"),
            ["a1", "b1"],
            "a2 waits for a1"
        );

        let failed_call = deliver_in_calls(
            sequences,
            |_| async { Err(Status::internal("boom")) },
            |_| async { Ok(()) },
        )
        .await;
        let boom = || vec![Err(DeliveryError::Retry("Internal: boom".into()))];
        assert_eq!(
            failed_call,
            [boom(), boom()],
            "a refused call refuses no event"
        );
    }

    #[tokio::test]
    async fn an_unsendable_event_is_refused_once_the_events_before_it_went_through() {
        let event = |id: &str| xir_proto::timeline::v1::FollowEvent {
            event_id: id.into(),
            ..Default::default()
        };
        // Each sequence's raw events: "?" stands for one that does not decode.
        let raw = [vec!["a1", "?", "a3"], vec!["?"], vec!["c1", "?"]];
        let sequences = raw
            .iter()
            .map(|events| {
                Sendable::up_to_refusal(events.iter(), |id| match *id {
                    "?" => Err(DeliveryError::undecodable("bad bytes")),
                    id => Ok(event(id)),
                })
            })
            .collect::<Vec<_>>();
        assert_eq!(sequences[0].events, [event("a1")], "a3 waits behind it");
        let outcomes = deliver_in_calls(
            sequences,
            |call| async move {
                // The receiver applies a1 and asks for c1 again.
                Ok(call
                    .iter()
                    .map(|events| match events.first().map(|e| e.event_id.as_str()) {
                        Some("c1") => vec![Err(DeliveryError::Retry("busy".into()))],
                        _ => events.iter().map(|_| Ok(())).collect(),
                    })
                    .collect())
            },
            |_| async { Ok(()) },
        )
        .await;
        let refused = || Err(DeliveryError::undecodable("bad bytes"));
        assert_eq!(
            outcomes,
            [
                vec![Ok(()), refused()],
                vec![refused()],
                vec![Err(DeliveryError::Retry("busy".into()))],
            ],
            "refused after what went through, never after a retry"
        );
    }

    #[test]
    fn calls_keep_the_order_and_stay_under_the_limits() {
        let event = |n: usize| xir_proto::timeline::v1::FollowEvent {
            event_id: format!("svc-user:{n}"),
            ..Default::default()
        };
        let sequences: Vec<Vec<_>> = (0..300)
            .map(|s| (0..3).map(|e| event(s * 3 + e)).collect())
            .chain([(0..EVENTS_PER_CALL + 10).map(event).collect()])
            .collect();
        let calls = into_calls(sequences);
        let flat: Vec<usize> = calls.iter().flatten().map(Vec::len).collect();
        assert_eq!(flat.len(), 301, "every sequence in one call, in order");
        assert!(flat[..300].iter().all(|&len| len == 3));
        assert_eq!(flat[300], EVENTS_PER_CALL, "a long one keeps its head");
        for call in &calls {
            let events: usize = call.iter().map(Vec::len).sum();
            assert!(events <= EVENTS_PER_CALL);
            let bytes: usize = call.iter().flatten().map(prost::Message::encoded_len).sum();
            assert!(bytes <= BYTES_PER_CALL);
        }
        assert_eq!(calls[0][0][0].event_id, "svc-user:0");
    }

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
