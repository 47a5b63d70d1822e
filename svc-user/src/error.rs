//! svc-user's one error type and its mapping onto gRPC statuses.

use tonic::Status;
use xir_common::errors::{DbError, FieldViolations};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid argument: {0}")]
    InvalidArgument(FieldViolations),
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Exists soon: the caller's own profile between sign-up and its creation.
    #[error("{0}")]
    NotYet(&'static str),
    #[error("{0}")]
    FailedPrecondition(&'static str),
    /// Refused by the shared kit (a rate limit, a busy pool), already a status.
    #[error("{}", .0.message())]
    Refused(Status),
    #[error(transparent)]
    Database(#[from] DbError<sqlx::Error>),
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
            Error::NotFound(what) => Status::not_found(format!("{what} not found")),
            Error::NotYet(what) => xir_common::errors::not_yet(what, 1),
            Error::FailedPrecondition(why) => Status::failed_precondition(why),
            Error::Refused(status) => status,
            Error::Database(error) => xir_common::postgres::status(&error),
        }
    }
}
