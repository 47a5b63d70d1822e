/// A profile bio: up to 160 characters after trimming; line breaks allowed, other control
/// characters not. Empty clears it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bio(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidBio {
    #[error("must be at most 160 characters long")]
    Length,
    #[error("must not contain control characters other than line breaks")]
    Control,
}

impl Bio {
    pub fn parse(raw: &str) -> Result<Self, InvalidBio> {
        let trimmed = raw.trim();
        if trimmed.chars().count() > 160 {
            return Err(InvalidBio::Length);
        }
        if trimmed.chars().any(|c| c.is_control() && c != '\n') {
            return Err(InvalidBio::Control);
        }
        Ok(Bio(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_length_and_characters() {
        assert_eq!(
            Bio::parse("").map(|b| b.as_str().to_owned()),
            Ok(String::new())
        );
        assert!(Bio::parse("line one\nline two").is_ok());
        assert!(Bio::parse(&"ü".repeat(160)).is_ok());
        assert_eq!(Bio::parse(&"ü".repeat(161)), Err(InvalidBio::Length));
        assert_eq!(Bio::parse("tab\there"), Err(InvalidBio::Control));
    }
}
