//! svc-auth's one error type and its mapping onto gRPC statuses.

use tonic::{Code, Status};
use xir_common::errors::{DbError, FieldViolations};

use crate::passwords::HashError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid argument: {0}")]
    InvalidArgument(FieldViolations),
    #[error("{field} is already taken")]
    AlreadyExists { field: &'static str },
    #[error("{0}")]
    Unauthenticated(&'static str),
    #[error("too many failed logins")]
    Throttled { retry_after_secs: u64 },
    #[error(transparent)]
    Database(#[from] DbError<sqlx::Error>),
    #[error("password hashing failed")]
    Hash(#[from] HashError),
    #[error(transparent)]
    Ids(#[from] xir_common::ids::IdsUnavailable),
    #[error("cannot sign a token")]
    Sign(#[from] jsonwebtoken::errors::Error),
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
            Error::AlreadyExists { field } => {
                // The field goes into a ResourceInfo detail so clients can point at it.
                let details = tonic_types::ErrorDetails::with_resource_info(
                    "account",
                    field,
                    "",
                    format!("{field} is already taken"),
                );
                <Status as tonic_types::StatusExt>::with_error_details(
                    Code::AlreadyExists,
                    format!("{field} is already taken"),
                    details,
                )
            }
            Error::Unauthenticated(message) => Status::unauthenticated(message),
            Error::Throttled { retry_after_secs } => xir_common::errors::resource_exhausted(
                format!("too many failed logins; try again in {retry_after_secs} s"),
                retry_after_secs,
            ),
            Error::Database(error) => xir_common::postgres::status(&error),
            Error::Ids(error) => error.into(),
            // Too many hashes running and queued: the client should try again shortly.
            Error::Hash(HashError::Busy(busy)) => busy.into(),
            error @ (Error::Hash(_) | Error::Sign(_)) => {
                xir_common::errors::opaque(Code::Internal, &error)
            }
        }
    }
}

/// The unique index a violation hit, if any.
pub fn unique_violation(error: &sqlx::Error) -> Option<&str> {
    match error {
        sqlx::Error::Database(db) if db.is_unique_violation() => db.constraint(),
        _ => None,
    }
}
