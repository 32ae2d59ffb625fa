//! The cloud as the control plane and the controllers see it: traits in domain nouns, so that
//! neither imports the Alibaba Cloud client directly (ARCHITECTURE principle 2).
//!
//! ```text
//!  server ─────▶ clusters::Clusters ──────┐
//!  autoscaler ─▶ node_groups::NodeGroups ─┼─▶ aliyun (signed OpenAPI client) ─▶ cloud | emulator
//! ```

pub mod clusters;
pub mod error;
pub mod node_groups;

pub use error::{Error, Result};
