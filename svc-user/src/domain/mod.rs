//! Parsed request values: a handler never touches a bare i64 or String from the wire.

mod user_id;
mod username;

pub use user_id::UserId;
pub use username::Username;
