//! Parsed request values: a handler never touches a bare i64 or String from the wire.

mod bio;

pub use bio::Bio;
pub use xir_common::domain::{DisplayName, UserId, Username};
