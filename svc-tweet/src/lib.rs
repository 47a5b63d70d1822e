//! svc-tweet: tweets, replies, quotes, reposts, likes and hashtags, over MongoDB (tweets by
//! id cached in Redis).

pub mod cache;
pub mod changes;
mod compose;
pub mod config;
pub mod domain;
pub mod error;
pub mod grpc;
mod idempotency;
mod items;
mod pages;
pub mod reactions;
mod reads;
pub mod relay;
pub mod startup;
pub mod store;
mod sweeper;
pub mod tweets;
mod writes;
