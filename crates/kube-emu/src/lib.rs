//! kube-emu: an emulated Kubernetes API server, one per emulated ACK cluster, faithful enough
//! that kubectl, the Python kubernetes client and kube-rs work against it unchanged.
//!
//! ```text
//!   kubectl / kube-rs / python ──HTTP──▶ http::router ──▶ store::ApiServer ◀── (future) scheduler,
//!                                         (auth, Table,     (objects, RV,        controllers,
//!                                          watch streams)    history, watch)     simulated kubelets
//! ```
//!
//! What is emulated and what is not is written in the crate README.

pub mod clock;
pub mod discovery;
pub mod error;
pub mod http;
pub mod machinery;
pub mod patch;
pub mod protobuf;
pub mod resources;
pub mod selector;
pub mod store;
pub mod table;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{Error, Result};
pub use http::{HttpState, router};
pub use machinery::{Cluster, Machine, Timing};
pub use patch::PatchType;
pub use resources::{ResourceType, lookup};
pub use store::{
    ApiServer, Change, Config, Deleted, EventType, ListOptions, ListPage, Target, WatchStart,
};
