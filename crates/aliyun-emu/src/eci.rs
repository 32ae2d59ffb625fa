//! ECI 2018-08-08: container groups, their containers' lifecycles, events and logs.

use crate::call::Call;
use crate::error::ApiResult;
use crate::reply::Reply;
use crate::world::World;
use serde::{Deserialize, Serialize};

/// The API version this module serves.
pub const VERSION: &str = "2018-08-08";

/// The emulated container groups.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerGroups {}

/// Handles an ECI action; `None` when ECI has no such action.
pub fn handle(_action: &str, _world: &mut World, _call: &Call<'_>) -> Option<ApiResult<Reply>> {
    None
}
