//! Tweet text as X counts it, through the `twitter-text` crate with the v3 configuration (most
//! code points weigh 1; CJK, emoji and other wide ranges 2; each URL 23), stored NFC-normalised.

use std::sync::LazyLock;

use twitter_text::extractor::Extractor;
use twitter_text_config::Configuration;
use unicode_normalization::UnicodeNormalization;

static CONFIG: LazyLock<Configuration> = LazyLock::new(|| twitter_text_config::config_v3().clone());

/// The most bytes of text parsed at all. 280 weighted characters of the longest emoji
/// sequences come to about 5 KB, and a URL weighs 23 whatever its length, so without a byte
/// bound a valid tweet could be tens of KB and an invalid one megabytes, each costing
/// twitter-text's parser seconds of CPU. Checked before anything else looks at the text.
pub const MAX_TEXT_BYTES: usize = 8 * 1024;

/// Parsed tweet text: valid, normalised, with its mentions and hashtags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TweetText {
    text: String,
    /// `@names` as written (without '@'), in order, without repeats (case-insensitive).
    mentions: Vec<String>,
    /// Lowercased, without '#', in order, without repeats.
    hashtags: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidText {
    #[error("must not be empty")]
    Empty,
    #[error("is {0} characters as X counts them; at most 280")]
    TooLong(i32),
    #[error("is {0} bytes long; at most 8192")]
    TooLarge(usize),
    #[error("must not contain control characters other than line breaks")]
    Control,
    #[error("contains characters that are not allowed")]
    Characters,
}

/// The weighted length of `text` (after NFC normalisation); `i32::MAX` for a text the counting
/// library cannot parse (see [`guarded`]).
pub fn weighted_length(text: &str) -> i32 {
    let normalised: String = text.nfc().collect();
    guarded(|| twitter_text::parse(&normalised, &CONFIG, true).weighted_length).unwrap_or(i32::MAX)
}

/// Runs the twitter-text library, which panics on some inputs: 0.3.1 slices a string off a
/// character boundary (found by fuzzing; the input is kept in
/// `testdata/fuzz/tweet_text/crash-76d910e8...` and replayed by the regression test). Such a
/// text is refused as invalid instead of failing the request.
fn guarded<T>(work: impl FnOnce() -> T) -> Option<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).ok()
}

impl TweetText {
    /// The cheap checks `parse` starts with: size, then characters. Callers make them first
    /// on the async worker, so refusing an oversized text never waits for a turn to parse.
    pub fn check_bounds(raw: &str) -> Result<(), InvalidText> {
        if raw.len() > MAX_TEXT_BYTES {
            return Err(InvalidText::TooLarge(raw.len()));
        }
        if raw.chars().any(|c| c.is_ascii_control() && c != '\n') {
            return Err(InvalidText::Control);
        }
        Ok(())
    }

    /// Parses `raw`: its bounds first, then the weighted length. CPU-heavy for long texts:
    /// callers run it off the async workers.
    pub fn parse(raw: &str) -> Result<Self, InvalidText> {
        Self::check_bounds(raw)?;
        let text: String = raw.nfc().collect();
        if text.trim().is_empty() {
            return Err(InvalidText::Empty);
        }
        let results =
            guarded(|| twitter_text::parse(&text, &CONFIG, true)).ok_or(InvalidText::Characters)?;
        if !results.is_valid {
            return Err(
                if results.weighted_length > CONFIG.max_weighted_tweet_length {
                    InvalidText::TooLong(results.weighted_length)
                } else {
                    InvalidText::Characters
                },
            );
        }
        let (raw_mentions, raw_hashtags) =
            guarded(|| extract(&text)).ok_or(InvalidText::Characters)?;
        let mut mentions: Vec<String> = Vec::new();
        for name in raw_mentions {
            if !mentions.iter().any(|m| m.eq_ignore_ascii_case(&name)) {
                mentions.push(name);
            }
        }
        let mut hashtags: Vec<String> = Vec::new();
        for tag in raw_hashtags {
            let tag = tag.to_lowercase();
            if !hashtags.contains(&tag) {
                hashtags.push(tag);
            }
        }
        Ok(Self {
            text,
            mentions,
            hashtags,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn mentions(&self) -> &[String] {
        &self.mentions
    }

    pub fn hashtags(&self) -> &[String] {
        &self.hashtags
    }
}

/// The `@names` and `#tags` of `text` as twitter-text extracts them (as written, with repeats).
pub fn extract(text: &str) -> (Vec<String>, Vec<String>) {
    let extractor = Extractor::new();
    (
        extractor.extract_mentioned_screennames(text),
        extractor.extract_hashtags(text),
    )
}

/// A hashtag as a query names it: '#' optional, any case.
pub fn normalise_hashtag(raw: &str) -> Option<String> {
    let tag = raw.trim().trim_start_matches('#').to_lowercase();
    (!tag.is_empty() && tag.chars().count() <= 140 && !tag.chars().any(char::is_whitespace))
        .then_some(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_280_boundary_with_emoji_cjk_and_urls() {
        assert!(TweetText::parse(&"a".repeat(280)).is_ok());
        assert_eq!(
            TweetText::parse(&"a".repeat(281)),
            Err(InvalidText::TooLong(281))
        );
        // CJK weighs 2: 140 fit, 141 do not.
        assert!(TweetText::parse(&"漢".repeat(140)).is_ok());
        assert_eq!(
            TweetText::parse(&"漢".repeat(141)),
            Err(InvalidText::TooLong(282))
        );
        // An emoji (even a multi-code-point sequence) weighs 2.
        let family = "👨‍👩‍👧";
        assert_eq!(weighted_length(family), 2);
        assert!(TweetText::parse(&format!("{}{}", "a".repeat(278), family)).is_ok());
        assert!(TweetText::parse(&format!("{}{}", "a".repeat(279), family)).is_err());
        // A URL weighs 23 whatever its length.
        let url = format!("https://example.com/{}", "x".repeat(100));
        let text = format!("{} {url}", "a".repeat(256));
        assert_eq!(weighted_length(&text), 280);
        assert!(TweetText::parse(&text).is_ok());
        assert!(TweetText::parse(&format!("a{text}")).is_err());
    }

    #[test]
    fn size_is_bounded_before_anything_is_parsed() {
        // A megabyte of anything is refused on its size alone.
        assert_eq!(
            TweetText::parse(&"a".repeat(1 << 20)),
            Err(InvalidText::TooLarge(1 << 20))
        );
        assert_eq!(
            TweetText::parse(&"a".repeat(MAX_TEXT_BYTES + 1)),
            Err(InvalidText::TooLarge(MAX_TEXT_BYTES + 1))
        );
        // Long URLs still fit, up to the bound: 10 URLs of 500 bytes weigh 230 in 5 KB.
        let urls: Vec<String> = (0..10)
            .map(|n| format!("https://example.com/{n}/{}", "x".repeat(480)))
            .collect();
        assert!(TweetText::parse(&urls.join(" ")).is_ok());
        // 140 of the longest emoji sequences (kiss, two skin tones: 35 bytes each) fit too.
        let kiss =
            "\u{1F469}\u{1F3FD}\u{200D}\u{2764}\u{FE0F}\u{200D}\u{1F48B}\u{200D}\u{1F468}\u{1F3FF}";
        assert!(TweetText::parse(&kiss.repeat(140)).is_ok());
    }

    #[test]
    fn control_characters_other_than_line_breaks_are_refused() {
        for text in [
            "nul\0byte",
            "bell\u{7}",
            "tab\there",
            "return\r\n",
            "escape\u{1b}[2J",
            "del\u{7f}",
        ] {
            assert_eq!(
                TweetText::parse(text),
                Err(InvalidText::Control),
                "{text:?}"
            );
        }
        assert!(TweetText::parse("line one\nline two").is_ok());
    }

    #[test]
    fn empty_and_blank_are_refused_and_text_is_nfc() {
        assert_eq!(TweetText::parse(""), Err(InvalidText::Empty));
        assert_eq!(TweetText::parse(" \n "), Err(InvalidText::Empty));
        let decomposed = "e\u{301}";
        assert_eq!(
            TweetText::parse(decomposed).expect("valid").as_str(),
            "\u{e9}"
        );
    }

    #[test]
    fn mentions_and_hashtags_are_extracted_once_each() {
        let text = TweetText::parse("@Ada hi @ada and @bob #Rust #rust #TDD").expect("valid");
        assert_eq!(text.mentions(), ["Ada", "bob"]);
        assert_eq!(text.hashtags(), ["rust", "tdd"]);
        assert_eq!(normalise_hashtag("#Rust"), Some("rust".into()));
        assert_eq!(normalise_hashtag("  "), None);
    }
}

#[cfg(test)]
mod fuzz_found {
    use super::*;

    #[test]
    fn a_text_the_library_panics_on_is_refused_not_a_crash() {
        let text = "hellorust hhe\u{ff20}llo @al\u{1f600}i@asustg/axa";
        assert_eq!(TweetText::parse(text).err(), Some(InvalidText::Characters));
    }
}
