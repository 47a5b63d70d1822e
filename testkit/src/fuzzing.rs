//! The bodies of the fuzz targets in `fuzz/` (run by `scripts/fuzz`), shared with the
//! regression test that replays every input the fuzzer ever crashed on
//! (`testdata/fuzz/<target>/`). Each takes arbitrary bytes and must not panic; where a
//! parser promises more (a round trip), that is checked too.

use xir_common::bootstrap::ServiceSettings as _;
use xir_common::identity::{IdentitySettings, Peer, ServiceIdentity};

/// A target's body: arbitrary bytes in, a panic on a bug.
pub type Target = fn(&[u8]);

/// The targets by name, as `fuzz/fuzz_targets/<name>.rs` and `testdata/fuzz/<name>/`.
pub const TARGETS: &[(&str, Target)] = &[
    ("tweet_text", tweet_text),
    ("list_cursor", list_cursor),
    ("settings", settings),
    ("tokens", tokens),
];

/// Tweet text: the bounds check, then the full parse (NFC, X's weighting, entities).
pub fn tweet_text(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if svc_tweet::domain::TweetText::check_bounds(text).is_ok() {
        let _ = svc_tweet::domain::TweetText::parse(text);
        let _ = svc_tweet::domain::weighted_length(text);
    }
}

/// svc-user's list cursors (and page tokens): whatever parses encodes back to itself.
pub fn list_cursor(data: &[u8]) {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(Some(cursor)) = svc_user::domain::Cursor::parse(raw) {
        assert_eq!(
            svc_user::domain::Cursor::parse(&cursor.encode()),
            Ok(Some(cursor)),
            "a parsed cursor round-trips"
        );
    }
}

/// Settings: any TOML document over the compiled defaults loads or fails with an error.
pub fn settings(data: &[u8]) {
    let Ok(toml) = std::str::from_utf8(data) else {
        return;
    };
    let _ = svc_user::config::Settings::with_overrides(toml);
    let _ = svc_tweet::config::Settings::with_overrides(toml);
}

/// Bearer and service tokens: nothing forged from arbitrary bytes verifies, nothing panics.
pub fn tokens(data: &[u8]) {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let _ = jsonwebtoken::decode_header(token);
    let identity = ServiceIdentity::development(Peer::User, &IdentitySettings::default());
    // Forging an Ed25519 signature from random bytes does not happen: a token that verifies
    // means the checks let an unsigned or misaddressed one through.
    assert!(identity.verify(token).is_err(), "a forged token verified");
}
