/// A user id as svc-auth assigns it: a positive 64-bit integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(i64);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("must be a positive user id")]
pub struct InvalidUserId;

impl UserId {
    pub fn parse(raw: i64) -> Result<Self, InvalidUserId> {
        if raw > 0 {
            Ok(UserId(raw))
        } else {
            Err(InvalidUserId)
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positive_ids_parse_and_others_do_not() {
        assert_eq!(UserId::parse(7).map(UserId::get), Ok(7));
        assert_eq!(UserId::parse(0), Err(InvalidUserId));
        assert_eq!(UserId::parse(-3), Err(InvalidUserId));
    }
}
