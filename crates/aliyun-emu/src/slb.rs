//! SLB 2014-05-15: classic load balancers, listeners, VServer groups and their backends.

use crate::call::Call;
use crate::error::ApiResult;
use crate::reply::Reply;
use crate::world::World;
use serde::{Deserialize, Serialize};

/// The API version this module serves.
pub const VERSION: &str = "2014-05-15";

/// The emulated load balancers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadBalancers {}

/// Handles an SLB action; `None` when SLB has no such action.
pub fn handle(_action: &str, _world: &mut World, _call: &Call<'_>) -> Option<ApiResult<Reply>> {
    None
}
