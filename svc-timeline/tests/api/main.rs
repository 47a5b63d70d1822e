//! svc-timeline's integration tests: the real application on port 0 against a real
//! MongoDB-protocol server (MongoDB, or FerretDB where Docker is not available) and a real
//! Redis.

mod batches;
mod helpers;
mod homes;
mod notifications;
mod probes;
mod timeline;
