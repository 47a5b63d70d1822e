//! Parsed request values: a handler never touches a bare String from the wire.

mod email;
mod password;

pub use email::Email;
pub use password::Password;
pub use xir_common::domain::{DisplayName, UserId, Username};
