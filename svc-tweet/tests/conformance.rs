//! The official twitter-text conformance vectors (testdata/twitter-text, kept in the
//! repository with their licence): weighted lengths and validity (config v3), mention and
//! hashtag extraction.

use std::path::PathBuf;

use serde::Deserialize;
use svc_tweet::domain::{TweetText, extract, weighted_length};

fn vectors_dir() -> PathBuf {
    let dir = std::env::var_os("XIR_CONFORMANCE_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/twitter-text"),
        PathBuf::from,
    );
    assert!(
        dir.join("validate.yml").is_file(),
        "twitter-text conformance vectors not found in {} (set XIR_CONFORMANCE_DIR)",
        dir.display()
    );
    dir
}

#[derive(Deserialize)]
struct File<T> {
    tests: T,
}

#[derive(Deserialize)]
struct Case<E> {
    description: String,
    text: String,
    expected: E,
}

#[derive(Deserialize)]
struct Validate {
    #[serde(rename = "WeightedTweetsWithDiscountedEmojiCounterTest")]
    weighted: Vec<Case<Weighted>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Weighted {
    weighted_length: i32,
    valid: bool,
}

#[derive(Deserialize)]
struct Extract {
    mentions: Vec<Case<Vec<String>>>,
    hashtags: Vec<Case<Vec<String>>>,
    hashtags_from_astral: Vec<Case<Vec<String>>>,
}

fn load<T: for<'de> Deserialize<'de>>(name: &str) -> T {
    let path = vectors_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str::<File<T>>(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .tests
}

#[test]
fn weighted_length_and_validity_match_every_v3_vector() {
    let cases = load::<Validate>("validate.yml").weighted;
    for case in &cases {
        assert_eq!(
            weighted_length(&case.text),
            case.expected.weighted_length,
            "{}",
            case.description
        );
        assert_eq!(
            TweetText::parse(&case.text).is_ok(),
            case.expected.valid,
            "{}",
            case.description
        );
    }
    println!("{} weighted-length vectors pass", cases.len());
    assert_eq!(cases.len(), 22);
}

#[test]
fn mentions_and_hashtags_match_every_extraction_vector() {
    let vectors = load::<Extract>("extract.yml");
    for case in &vectors.mentions {
        assert_eq!(extract(&case.text).0, case.expected, "{}", case.description);
    }
    for case in vectors.hashtags.iter().chain(&vectors.hashtags_from_astral) {
        assert_eq!(extract(&case.text).1, case.expected, "{}", case.description);
    }
    let total =
        vectors.mentions.len() + vectors.hashtags.len() + vectors.hashtags_from_astral.len();
    println!("{total} mention and hashtag vectors pass");
    assert_eq!(total, 91, "mentions, hashtags and astral-plane hashtags");
}
