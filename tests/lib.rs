//! Shared helpers for the integration tests live in `all/`; this library is intentionally empty.
