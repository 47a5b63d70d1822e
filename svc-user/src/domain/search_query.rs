/// A search prefix: 1-50 characters, lowercased, with LIKE's wildcards escaped so that `_` in a
/// username matches only `_`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("must be 1 to 50 characters long")]
pub struct InvalidSearchQuery;

impl SearchQuery {
    pub fn parse(raw: &str) -> Result<Self, InvalidSearchQuery> {
        let trimmed = raw.trim().trim_start_matches('@');
        if !(1..=50).contains(&trimmed.chars().count()) {
            return Err(InvalidSearchQuery);
        }
        Ok(SearchQuery(trimmed.to_lowercase()))
    }

    /// The LIKE pattern `<escaped prefix>%` (escape character `\`).
    pub fn like_prefix(&self) -> String {
        let mut pattern = String::with_capacity(self.0.len() + 2);
        for c in self.0.chars() {
            if matches!(c, '%' | '_' | '\\') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push('%');
        pattern
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercases_and_escapes_wildcards() {
        assert_eq!(
            SearchQuery::parse("@Ada_L").expect("valid").like_prefix(),
            r"ada\_l%"
        );
        assert_eq!(
            SearchQuery::parse("100%").expect("valid").like_prefix(),
            r"100\%%"
        );
        assert_eq!(SearchQuery::parse("  "), Err(InvalidSearchQuery));
    }
}
