use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

/// An opaque list cursor: the `seq` of the last edge of the previous page. Clients pass it back
/// unchanged; its format may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor(i64);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("is not a cursor this service returned")]
pub struct InvalidCursor;

const PREFIX: &str = "f1:";

impl Cursor {
    pub fn after(seq: i64) -> Self {
        Cursor(seq)
    }

    /// `None` for the first page (an empty cursor).
    pub fn parse(raw: &str) -> Result<Option<Self>, InvalidCursor> {
        if raw.is_empty() {
            return Ok(None);
        }
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| InvalidCursor)?;
        let text = String::from_utf8(bytes).map_err(|_| InvalidCursor)?;
        let seq = text
            .strip_prefix(PREFIX)
            .and_then(|n| n.parse::<i64>().ok())
            .filter(|n| *n > 0)
            .ok_or(InvalidCursor)?;
        Ok(Some(Cursor(seq)))
    }

    pub fn seq(self) -> i64 {
        self.0
    }

    pub fn encode(self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{PREFIX}{}", self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let cursor = Cursor::after(12345);
        assert_eq!(Cursor::parse(&cursor.encode()), Ok(Some(cursor)));
        assert_eq!(Cursor::parse(""), Ok(None));
        for bad in ["!!", "Zm9v", &URL_SAFE_NO_PAD.encode("f1:-4")] {
            assert_eq!(Cursor::parse(bad), Err(InvalidCursor), "{bad}");
        }
    }
}
