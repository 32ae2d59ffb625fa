//! The emulator's sense of time, injected so tests can move it by hand.
//!
//! Resource state (an instance going Pending → Starting → Running) is a function of the time
//! elapsed since it was created, read from this clock; nothing runs in the background. The
//! clock is kube-emu's, so the emulator can give the same clock to the Kubernetes API of every
//! cluster it creates.

pub use kube_emu::{Clock, ManualClock, SystemClock};
