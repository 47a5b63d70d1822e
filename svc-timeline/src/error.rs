//! svc-timeline's one error type and its mapping onto gRPC statuses.

use tonic::Status;
use xir_common::errors::{DbError, FieldViolations};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid argument: {0}")]
    InvalidArgument(FieldViolations),
    /// A tweet event's application is still running (a big fan-out): the relay retries.
    #[error("still applying the event")]
    StillApplying,
    #[error("applying the event failed: {0}")]
    ApplyFailed(String),
    #[error("a dependency failed: {0}")]
    Dependency(Status),
    #[error(transparent)]
    Database(#[from] DbError<mongodb::error::Error>),
    /// Home timelines (Redis).
    #[error(transparent)]
    Cache(#[from] DbError<redis::RedisError>),
    #[error(transparent)]
    Ids(#[from] xir_common::ids::IdsUnavailable),
}

impl From<FieldViolations> for Error {
    fn from(violations: FieldViolations) -> Self {
        Error::InvalidArgument(violations)
    }
}

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        match error {
            Error::InvalidArgument(violations) => violations.into(),
            Error::StillApplying => Status::unavailable("still applying the event; retry"),
            Error::ApplyFailed(reason) => {
                Status::unavailable(format!("applying the event failed: {reason}"))
            }
            Error::Dependency(status) => {
                tracing::warn!(code = ?status.code(), message = status.message(), "a call to another service failed");
                Status::unavailable("a dependency is unavailable, try again")
            }
            Error::Database(error) => xir_common::mongo::status(&error),
            Error::Cache(error) => {
                let code = if error.source.is_io_error()
                    || error.source.is_connection_dropped()
                    || error.source.is_timeout()
                {
                    tonic::Code::Unavailable
                } else {
                    tonic::Code::Internal
                };
                xir_common::errors::opaque(code, &error)
            }
            Error::Ids(error) => error.into(),
        }
    }
}
