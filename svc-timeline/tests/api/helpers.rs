//! svc-timeline alone on a database of its own (see `xir_testkit::single`).

use svc_timeline::startup::Application;
pub use xir_testkit::single::MongoApp as TestApp;

/// A database and Redis keys of its own, and the application serving on them, ready.
pub async fn spawn_app() -> TestApp {
    let redis = xir_testkit::redis_toml(&xir_common::testing::unique_name("svc_timeline"));
    xir_testkit::single::spawn_ready::<Application>("svc_timeline", &redis).await
}
