//! svc-auth: accounts, passwords, rotating refresh tokens and the JWKS, over PostgreSQL.

pub mod config;
pub mod db;
pub mod error;
pub mod grpc;
pub mod startup;
