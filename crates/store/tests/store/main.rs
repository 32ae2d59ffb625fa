//! The store against real databases: every behaviour runs on SQLite (a temporary file) and on
//! PostgreSQL (a fresh database on the server named by `ACKCTL_TEST_DATABASE_URL`).
//!
//! Run them all with `scripts/with-postgres cargo nextest run -p store`; the PostgreSQL half
//! fails, on purpose, when that variable is not set.

mod harness;

mod clusters;
mod operations;
mod orgs;
mod secrets;
