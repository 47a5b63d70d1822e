//! svc-user's integration tests: the real application on port 0 against real PostgreSQL, with
//! real svc-auth and svc-timeline where a test needs them.

mod graph;
mod helpers;
mod jwks;
mod lookups;
mod probes;
mod profiles;
mod readiness;
mod shutdown;
