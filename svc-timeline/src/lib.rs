//! svc-timeline: home timelines by hybrid fan-out, and notifications, over MongoDB.

pub mod config;
pub mod error;
mod events;
pub mod fanout;
pub mod grpc;
mod home;
mod hydration;
pub mod markers;
pub mod startup;
pub mod store;
