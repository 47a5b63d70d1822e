/// A client-chosen key making CreateTweet safe to retry: 1-64 printable ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("must be 1 to 64 printable ASCII characters")]
pub struct InvalidIdempotencyKey;

impl IdempotencyKey {
    /// `None` when the client sent none.
    pub fn parse(raw: &str) -> Result<Option<Self>, InvalidIdempotencyKey> {
        if raw.is_empty() {
            return Ok(None);
        }
        if raw.len() > 64 || !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(InvalidIdempotencyKey);
        }
        Ok(Some(IdempotencyKey(raw.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
