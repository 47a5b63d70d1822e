//! svc-auth's tables.

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
