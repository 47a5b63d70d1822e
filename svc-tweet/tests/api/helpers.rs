//! svc-tweet alone on a database of its own (see `xir_testkit::single`).

use svc_tweet::startup::Application;
pub use xir_testkit::single::MongoApp as TestApp;

/// A database of its own and the application serving on it, ready.
pub async fn spawn_app() -> TestApp {
    xir_testkit::single::spawn_ready::<Application>("svc_tweet", "").await
}

/// The application connecting through `url` (maybe a proxy), in a fresh database; not waited for.
pub async fn spawn_app_on(url: &str) -> TestApp {
    xir_testkit::single::spawn_on::<Application>(url, "svc_tweet", "").await
}
