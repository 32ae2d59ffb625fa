//! kube-emu: an emulated Kubernetes API server, one per emulated ACK cluster, faithful enough
//! that kubectl, the Python kubernetes client and kube-rs work against it unchanged, and the
//! cluster machinery that acts on it.
//!
//! ```text
//!   kubectl / kube-rs / python ──HTTP──▶ http::router ──▶ store::ApiServer ◀── machinery::Cluster
//!                                         (auth, Table,     (objects, RV,        (scheduler, workload
//!                                          watch streams)    history, watch)      controllers, GC,
//!                                                                                  simulated kubelets)
//! ```
//!
//! `machinery::Cluster::reconcile` is driven by its caller (the emulator's ticker) with the
//! cluster's machines; see the `machinery` module for what is emulated and what is not.

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
