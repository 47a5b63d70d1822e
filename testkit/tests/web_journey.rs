//! The web client in a real browser against the platform as `scripts/dev` runs it: the
//! client's files and `/v1/` served by nginx with the image's config (and its
//! Content-Security-Policy), the real edge and services behind. The journeys themselves are
//! node tests driving Debian's Chromium through playwright-core (`web/e2e/`); this test starts
//! the stack, runs them, and fails with their output.

use std::process::Stdio;

use xir_testkit::dev::DevStack;

/// Short enough that the journeys live through several refreshes of every page's token (the
/// client refreshes 30 s before expiry), long enough that a slow step never outlives one.
const ACCESS_TOKEN_TTL: &str = "[tokens]\naccess_ttl_secs = 45\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_journeys_pass_against_the_real_stack() {
    let stack = DevStack::start(&[("svc-auth", ACCESS_TOKEN_TTL)]).await;
    let web = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web");
    let output = tokio::process::Command::new("node")
        .args(["--test", "--test-reporter=spec", "e2e/"])
        .current_dir(&web)
        .env("XIR_WEB_URL", stack.get("XIR_DEV_WEB_URL"))
        .stdin(Stdio::null())
        .output()
        .await
        .expect("node runs (scripts/test installs the web client first)");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{report}");
    assert!(
        output.status.success(),
        "the browser journeys failed:\n{report}\n{}",
        stack.problems()
    );
}
