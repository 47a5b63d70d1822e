//! svc-auth's one error type and its mapping onto gRPC statuses.

use tonic::Status;
use xir_common::errors::FieldViolations;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid argument: {0}")]
    InvalidArgument(FieldViolations),
    #[error("database error")]
    Database(#[from] sqlx::Error),
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
            Error::Database(error) => xir_common::postgres::status(&error),
        }
    }
}
