//! gRPC error shapes every service uses: `InvalidArgument` with one `BadRequest` field
//! violation per bad field, and opaque internal errors whose cause chain is logged, never sent.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The bad fields of one request, collected so a client learns about all of them at once.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FieldViolations(Vec<(String, String)>);

impl FieldViolations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn single(field: impl Into<String>, description: impl Into<String>) -> Self {
        let mut violations = Self::new();
        violations.add(field, description);
        violations
    }

    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push((field.into(), description.into()));
    }

    /// Records the error of `result` under `field` and returns its value, if any.
    pub fn check<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        result: Result<T, E>,
    ) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.add(field, error.to_string());
                None
            }
        }
    }

    /// Takes in the violations of `result` (a check of several fields) and returns its value.
    pub fn absorb<T>(&mut self, result: Result<T, FieldViolations>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(violations) => {
                self.0.extend(violations.0);
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when no field was bad.
    pub fn into_result(self) -> Result<(), Self> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }

    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(field, _)| field.as_str())
    }
}

impl std::fmt::Display for FieldViolations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(field, why)| format!("{field}: {why}"))
            .collect();
        f.write_str(&parts.join("; "))
    }
}

impl From<FieldViolations> for Status {
    fn from(violations: FieldViolations) -> Self {
        let mut details = ErrorDetails::new();
        for (field, description) in &violations.0 {
            details.add_bad_request_violation(field.clone(), description.clone());
        }
        Status::with_error_details(Code::InvalidArgument, violations.to_string(), details)
    }
}

/// RESOURCE_EXHAUSTED (a limit, a throttle, a busy server) with `retry-after` in seconds (at
/// least 1) in the metadata, which the edge passes on as the HTTP header.
pub fn resource_exhausted(message: impl Into<String>, retry_after_secs: u64) -> Status {
    with_retry_after(Status::resource_exhausted(message), retry_after_secs)
}

/// UNAVAILABLE for what exists soon but not yet (a profile still on its way from svc-auth's
/// outbox), with `retry-after` in seconds (at least 1).
pub fn not_yet(message: impl Into<String>, retry_after_secs: u64) -> Status {
    with_retry_after(Status::unavailable(message), retry_after_secs)
}

fn with_retry_after(mut status: Status, retry_after_secs: u64) -> Status {
    status.metadata_mut().insert(
        "retry-after",
        tonic::metadata::MetadataValue::from(retry_after_secs.max(1)),
    );
    status
}

/// Logs `error` with its whole cause chain and returns an opaque status with `code`
/// (`Internal`, or `Unavailable` when a dependency is down).
pub fn opaque(code: Code, error: &(dyn std::error::Error + 'static)) -> Status {
    tracing::error!(error, code = ?code, "request failed");
    let message = match code {
        Code::Unavailable => "a dependency is unavailable, try again",
        _ => "internal error",
    };
    Status::new(code, message)
}

/// A database call that failed, with what it was doing: the log of a failed request then says
/// "insert tweet failed: <cause>" rather than only "database error".
#[derive(Debug, thiserror::Error)]
#[error("{operation} failed")]
pub struct DbError<E: std::error::Error + 'static> {
    pub operation: &'static str,
    #[source]
    pub source: E,
}

/// Names the operation of a database result: `collection.find_one(filter).await.during("find tweet")?`.
pub trait During<T, E: std::error::Error + 'static> {
    fn during(self, operation: &'static str) -> Result<T, DbError<E>>;
}

impl<T, E: std::error::Error + 'static> During<T, E> for Result<T, E> {
    fn during(self, operation: &'static str) -> Result<T, DbError<E>> {
        self.map_err(|source| DbError { operation, source })
    }
}
