//! Pure autoscaling decisions with cluster-autoscaler semantics: `plan(snapshot, options, now, rng)`.
//!
//! ```text
//! model ─ quantity ─ resources          the snapshot as Kubernetes JSON, resource arithmetic
//! equivalence ─ cluster ─ predicates    pod classes, node shapes, the simulated cluster
//! topology                              anti-affinity, topology spread, host ports
//! binpack ─ expander ─ scale_up         how many nodes of which group
//! drain ─ scale_down                    which nodes can go
//! plan                                  the entry point and the plan's JSON
//! scenarios                             seeded generators for benchmarks and tests
//! ```
//! No I/O and no clock: the caller passes `now` and a seeded RNG, and gets data back.

pub mod binpack;
pub mod cluster;
pub mod drain;
pub mod equivalence;
pub mod expander;
pub mod model;
pub mod options;
pub mod plan;
pub mod predicates;
pub mod quantity;
pub mod resources;
pub mod scale_down;
pub mod scale_up;
pub mod scenarios;
#[cfg(test)]
mod testkit;
pub mod topology;
mod validate;

pub use expander::Expander;
pub use model::Snapshot;
pub use options::Options;
pub use plan::{Phase, Plan, plan, plan_observed};
pub use quantity::Quantity;

/// What can be wrong with a snapshot.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The document does not have the snapshot's shape.
    #[error("{path}: {message}")]
    Json { path: String, message: String },
    /// The document parses but contradicts itself.
    #[error("{path}: {problem}")]
    Invalid { path: String, problem: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
