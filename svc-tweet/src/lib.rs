//! svc-tweet: tweets, replies, quotes, reposts, likes and hashtags, over MongoDB.

pub mod config;
pub mod domain;
pub mod error;
pub mod grpc;
pub mod reactions;
pub mod relay;
pub mod startup;
pub mod store;
