//! svc-tweet: tweets, replies, quotes, reposts, likes and hashtags, over MongoDB.

mod compose;
pub mod config;
pub mod domain;
pub mod error;
pub mod grpc;
mod idempotency;
mod pages;
pub mod reactions;
mod reads;
pub mod relay;
pub mod startup;
pub mod store;
mod sweeper;
pub mod tweets;
mod writes;
