//! svc-tweet's integration tests: the real application on port 0 against a real
//! MongoDB-protocol server (MongoDB, or FerretDB where Docker is not available).

mod cache;
mod helpers;
mod likes;
mod outbox;
mod probes;
mod reactions;
mod readiness;
mod threads;
mod tweets;
mod worker_leases;
