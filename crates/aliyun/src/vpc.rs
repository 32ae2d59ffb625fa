//! VPC 2016-04-28: VPCs, vSwitches and routes; and the ECS security groups.

use crate::client::Client;

/// The Vpc API of a [`Client`].
#[derive(Clone, Copy, Debug)]
pub struct Vpc<'a> {
    #[allow(dead_code)]
    client: &'a Client,
}

impl Client {
    pub fn vpc(&self) -> Vpc<'_> {
        Vpc { client: self }
    }
}
