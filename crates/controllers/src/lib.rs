//! Kubernetes controllers built on kube-rs. They see the cloud only through the `cloud` crate's
//! traits and decide with the pure `planner`; every write is gated on leadership.
//!
//! ```text
//!  autoscaler   cluster-autoscaler on ESS node groups
//!  leader       Lease-based leader election
//!  events       core/v1 Events with duplicate suppression
//! ```

pub mod autoscaler;
pub mod events;
pub mod leader;
