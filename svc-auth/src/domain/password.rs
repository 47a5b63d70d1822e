/// A new password: 8-128 characters, not the username (in any case).
pub struct Password(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidPassword {
    #[error("must be 8 to 128 characters long")]
    Length,
    #[error("must not be the username")]
    SameAsUsername,
}

impl Password {
    pub fn parse(raw: &str, username: &str) -> Result<Self, InvalidPassword> {
        if !(8..=128).contains(&raw.chars().count()) {
            return Err(InvalidPassword::Length);
        }
        if raw.eq_ignore_ascii_case(username) {
            return Err(InvalidPassword::SameAsUsername);
        }
        Ok(Password(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

// Never print a password, even in a debug log.
impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enforces_length_and_difference_from_the_username() {
        assert!(Password::parse("correct horse", "alice").is_ok());
        assert_eq!(
            Password::parse("short", "alice").err(),
            Some(InvalidPassword::Length)
        );
        assert_eq!(
            Password::parse(&"x".repeat(129), "alice").err(),
            Some(InvalidPassword::Length)
        );
        assert_eq!(
            Password::parse("Alice_2026", "alice_2026").err(),
            Some(InvalidPassword::SameAsUsername)
        );
        assert!(
            format!(
                "{:?}",
                Password::parse("correct horse", "a").expect("valid")
            )
            .contains("redacted")
        );
    }
}
