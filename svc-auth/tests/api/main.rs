//! svc-auth's integration tests: the real application on port 0 against real PostgreSQL, with
//! a real svc-user beside it.

mod accounts;
mod helpers;
mod probes;
mod refresh;
mod throttling;
mod tokens;
mod worker_leases;
