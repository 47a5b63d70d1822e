//! Settings layering: compiled defaults < TOML file < `XIR_` environment variables, and
//! errors that name the offending key.

// figment::Jail fixes the closure's error type to figment::Error, which is large.
#![allow(clippy::result_large_err)]

use figment::Jail;
use serde::Deserialize;
use xir_common::settings::{self, PostgresSettings, ServerSettings};

const DEFAULTS: &str = r#"
[server]
port = 50052
metrics_port = 9102
request_timeout_ms = 1000

[database]
max_connections = 10
"#;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    #[serde(default)]
    server: ServerSettings,
    database: PostgresSettings,
}

fn load() -> Result<Settings, String> {
    settings::load::<Settings>(DEFAULTS, None).map_err(|e| e.to_string())
}

#[test]
fn defaults_then_file_then_environment() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "service.toml",
            r#"
            [server]
            metrics_port = 9999
            request_timeout_ms = 2000

            [database]
            url = "postgres://from-file/db"
            max_connections = 3
            "#,
        )?;
        jail.set_env("XIR_CONFIG", "service.toml");
        jail.set_env("XIR_SERVER__REQUEST_TIMEOUT_MS", "3000");
        jail.set_env("XIR_DATABASE__URL", "postgres://from-env/db");
        // The test harness's variables are not settings and must not trip deny_unknown_fields.
        jail.set_env("XIR_TEST_POSTGRES_URL", "postgres://ignored/db");
        jail.set_env("XIR_DEV_POSTGRES_URL", "postgres://ignored/db");
        jail.set_env("XIR_TOOLS_CACHE", "/ignored");

        let settings = load().expect("valid settings");
        assert_eq!(settings.server.port, 50052, "compiled default kept");
        assert_eq!(settings.server.metrics_port, 9999, "file beats default");
        assert_eq!(
            settings.server.request_timeout_ms, 3000,
            "environment beats file"
        );
        assert_eq!(
            settings.database.url.expose(),
            "postgres://from-env/db",
            "environment beats file"
        );
        assert_eq!(
            settings.database.max_connections, 3,
            "file beats the field default"
        );
        assert_eq!(
            settings.database.acquire_timeout_ms, 3000,
            "field default when no layer sets it"
        );
        assert_eq!(
            settings.server.concurrency_limit, 512,
            "struct default when no layer sets it"
        );
        Ok(())
    });
}

#[test]
fn an_unknown_key_in_the_file_fails_naming_it() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "service.toml",
            "[server]\nprot = 1\n[database]\nurl = \"postgres://x/y\"\n",
        )?;
        jail.set_env("XIR_CONFIG", "service.toml");
        let error = load().expect_err("unknown key");
        assert!(error.contains("prot"), "{error}");
        assert!(error.contains("server"), "{error}");
        Ok(())
    });
}

#[test]
fn an_unknown_environment_key_fails_naming_it() {
    Jail::expect_with(|jail| {
        jail.set_env("XIR_DATABASE__URL", "postgres://x/y");
        jail.set_env("XIR_SERVER__MAX_CONECTIONS", "5");
        let error = load().expect_err("unknown key");
        assert!(error.contains("max_conections"), "{error}");
        assert!(
            error.contains("XIR_"),
            "says it came from the environment: {error}"
        );
        Ok(())
    });
}

#[test]
fn a_missing_required_value_fails_naming_it() {
    Jail::expect_with(|_| {
        let error = load().expect_err("database.url has no default");
        assert!(
            error.contains("key `database`: missing field `url`"),
            "{error}"
        );
        Ok(())
    });
}

#[test]
fn a_missing_config_file_fails_naming_it() {
    Jail::expect_with(|jail| {
        jail.set_env("XIR_CONFIG", "nowhere.toml");
        jail.set_env("XIR_DATABASE__URL", "postgres://x/y");
        let error = load().expect_err("the file does not exist");
        assert!(error.contains("nowhere.toml"), "{error}");
        Ok(())
    });
}

#[test]
fn secrets_do_not_leak_into_debug_output() {
    Jail::expect_with(|jail| {
        jail.set_env("XIR_DATABASE__URL", "postgres://user:hunter2@db/x");
        let settings = load().expect("valid");
        assert!(!format!("{settings:?}").contains("hunter2"));
        Ok(())
    });
}
