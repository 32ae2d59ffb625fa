//! The inputs every RPC handler gets: the request's parameters, the emulator's settings and the
//! emulated time. Handlers of every product take this one shape, so they compose.

use crate::params::Params;
use crate::world::Settings;

/// The inputs of one call.
pub struct Call<'a> {
    /// Request parameters.
    pub params: &'a Params,
    /// Settings.
    pub settings: &'a Settings,
    /// Emulated time.
    pub now_ms: i64,
}
