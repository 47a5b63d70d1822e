//! svc-timeline: home timelines by hybrid fan-out (Redis), and notifications (MongoDB).

mod applying;
mod batches;
pub mod config;
pub mod error;
mod events;
pub mod fanout;
pub mod grpc;
pub mod home;
pub mod homes;
mod hydration;
pub mod markers;
mod notifications;
pub mod startup;
pub mod store;
pub mod timelines;
