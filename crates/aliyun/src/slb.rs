//! SLB 2014-05-15: classic load balancers, listeners and VServer groups.

use crate::client::Client;

/// The Slb API of a [`Client`].
#[derive(Clone, Copy, Debug)]
pub struct Slb<'a> {
    #[allow(dead_code)]
    client: &'a Client,
}

impl Client {
    pub fn slb(&self) -> Slb<'_> {
        Slb { client: self }
    }
}
