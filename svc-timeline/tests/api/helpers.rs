//! svc-timeline alone on a database of its own (see `xir_testkit::single`).

use svc_timeline::startup::Application;
pub use xir_testkit::single::MongoApp as TestApp;

/// A database of its own and the application serving on it, ready.
pub async fn spawn_app() -> TestApp {
    xir_testkit::single::spawn_ready::<Application>("svc_timeline").await
}
