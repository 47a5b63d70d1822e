//! svc-user: profiles, the follow graph and user search, over PostgreSQL.

pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod graph;
pub mod grpc;
pub mod profiles;
pub mod startup;
