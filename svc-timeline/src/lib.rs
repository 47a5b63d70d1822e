//! svc-timeline: home timelines by hybrid fan-out, and notifications, over MongoDB.

mod applying;
pub mod config;
pub mod error;
mod events;
pub mod fanout;
pub mod grpc;
mod home;
mod hydration;
pub mod markers;
mod notifications;
pub mod startup;
pub mod store;
pub mod timelines;
