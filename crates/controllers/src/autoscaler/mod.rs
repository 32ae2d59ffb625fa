//! The cluster autoscaler: cluster-autoscaler's behaviour on kube-rs, deciding with the pure
//! planner and acting on the cloud through `cloud::node_groups::NodeGroups`.
//!
//! ```text
//!  controller   the loop: watches, refresh, plan, act, status          (I/O)
//!  snapshot     Kubernetes objects + node groups → planner snapshot     (pure)
//!  memory       what is remembered between loops                       (pure)
//!  status       the cluster-autoscaler-status ConfigMap text            (pure)
//!  actuate      scale-up, taint/evict/remove for scale-down             (I/O)
//!  deletion     drains running in the background, as NodeDeletionTracker (pure)
//!  provision    scale-ups whose nodes never register (--max-node-provision-time) (pure)
//!  metrics      cluster_autoscaler_* metrics, /metrics, /health-check
//! ```

pub mod actuate;
pub mod controller;
pub mod deletion;
pub mod memory;
pub mod metrics;
pub mod provision;
pub mod snapshot;
pub mod status;

pub use controller::{Autoscaler, Config, Error, LoopReport, PRIORITY_CONFIG_MAP};
pub use metrics::Metrics;
