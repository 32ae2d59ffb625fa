//! VPC 2016-04-28 (VPCs, vSwitches, route tables and entries) and the ECS security groups.
//!
//! Every region has a default VPC, `vpc-<region>-default`, with one vSwitch per zone named
//! `vsw-<zone-id>`, so that callers which never create a network still get a valid placement.

use crate::call::Call;
use crate::catalog::Region;
use crate::error::{ApiError, ApiResult};
use crate::reply::Reply;
use crate::world::World;
use serde::{Deserialize, Serialize};

/// The API version this module serves.
pub const VERSION: &str = "2016-04-28";

/// The emulated networks: VPCs, vSwitches, route tables and security groups.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Network {}

/// Where a vSwitch puts what is launched into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The vSwitch's VPC.
    pub vpc_id: String,
    /// The vSwitch's zone.
    pub zone_id: String,
}

impl Network {
    /// The VPC and zone of `vswitch_id` in `region`.
    pub fn placement(&self, region: &Region, vswitch_id: &str) -> ApiResult<Placement> {
        let zone_id = vswitch_id
            .strip_prefix("vsw-")
            .filter(|zone| region.zones().any(|z| z == *zone))
            .ok_or_else(|| {
                ApiError::not_found("InvalidVSwitchId.NotFound", format_args!("vSwitch {vswitch_id}"))
            })?;
        Ok(Placement {
            vpc_id: format!("vpc-{}-default", region.id),
            zone_id: zone_id.to_owned(),
        })
    }
}

/// Handles a VPC action; `None` when VPC has no such action.
pub fn handle(_action: &str, _world: &mut World, _call: &Call<'_>) -> Option<ApiResult<Reply>> {
    None
}

/// Handles the ECS security-group actions (ECS version); `None` for any other action.
pub fn handle_ecs(_action: &str, _world: &mut World, _call: &Call<'_>) -> Option<ApiResult<Reply>> {
    None
}
