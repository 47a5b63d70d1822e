//! Parsed request values: a handler never touches a bare i64 or String from the wire.

mod bio;
mod cursor;
mod search_query;

pub use bio::Bio;
pub use cursor::Cursor;
pub use search_query::SearchQuery;
pub use xir_common::domain::{DisplayName, PageLimit, UserId, Username};
