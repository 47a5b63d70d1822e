//! Values whose rules more than one service enforces: parse once, never pass bare strings.

mod display_name;
mod page_limit;
mod user_id;
mod username;

pub use display_name::{DisplayName, InvalidDisplayName};
pub use page_limit::{NegativeLimit, PageLimit};
pub use user_id::{InvalidUserId, UserId};
pub use username::{InvalidUsername, Username};
