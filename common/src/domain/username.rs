/// A username: 3-15 characters of [A-Za-z0-9_], kept as typed and compared without case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidUsername {
    #[error("must be 3 to 15 characters long")]
    Length,
    #[error("may contain only letters A-Z, digits and '_'")]
    Characters,
}

impl Username {
    pub fn parse(raw: &str) -> Result<Self, InvalidUsername> {
        if !(3..=15).contains(&raw.chars().count()) {
            return Err(InvalidUsername::Length);
        }
        if !raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(InvalidUsername::Characters);
        }
        Ok(Username(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_allowed_alphabet_and_lengths() {
        assert!(Username::parse("abc").is_ok());
        assert!(Username::parse("Alice_2026_xyz0").is_ok());
    }

    #[test]
    fn rejects_bad_lengths_and_characters() {
        assert_eq!(Username::parse("ab"), Err(InvalidUsername::Length));
        assert_eq!(
            Username::parse("a234567890123456"),
            Err(InvalidUsername::Length)
        );
        assert_eq!(
            Username::parse("bad-name"),
            Err(InvalidUsername::Characters)
        );
        assert_eq!(Username::parse("émile"), Err(InvalidUsername::Characters));
    }
}
