/// A display name: 1-50 characters after trimming, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidDisplayName {
    #[error("must be 1 to 50 characters long")]
    Length,
    #[error("must not contain control characters")]
    Control,
}

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, InvalidDisplayName> {
        let trimmed = raw.trim();
        if !(1..=50).contains(&trimmed.chars().count()) {
            return Err(InvalidDisplayName::Length);
        }
        if trimmed.chars().any(char::is_control) {
            return Err(InvalidDisplayName::Control);
        }
        Ok(DisplayName(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_bounds() {
        assert_eq!(
            DisplayName::parse("  Ada  ").map(|d| d.as_str().to_owned()),
            Ok("Ada".into())
        );
        assert_eq!(DisplayName::parse("   "), Err(InvalidDisplayName::Length));
        assert_eq!(
            DisplayName::parse(&"é".repeat(51)),
            Err(InvalidDisplayName::Length)
        );
        assert_eq!(
            DisplayName::parse("a\u{7}b"),
            Err(InvalidDisplayName::Control)
        );
    }
}
