//! svc-auth: accounts, passwords, rotating refresh tokens and the JWKS, over PostgreSQL.

pub mod accounts;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod grpc;
pub mod keys;
pub mod passwords;
pub mod profiles;
pub mod refresh_tokens;
mod sessions;
pub mod startup;
pub mod throttle;
