//! svc-auth's integration tests: the real application on port 0 against real PostgreSQL.

mod helpers;
mod probes;
