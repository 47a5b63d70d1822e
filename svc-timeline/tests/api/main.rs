//! svc-timeline's integration tests: the real application on port 0 against a real
//! MongoDB-protocol server (MongoDB, or FerretDB where Docker is not available).

mod helpers;
mod notifications;
mod probes;
mod timeline;
