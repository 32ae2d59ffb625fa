//! CS (ACK) 2015-12-15: clusters, node pools, nodes and tasks (ROA).

use crate::client::Client;

/// The Cs API of a [`Client`].
#[derive(Clone, Copy, Debug)]
pub struct Cs<'a> {
    #[allow(dead_code)]
    client: &'a Client,
}

impl Client {
    pub fn cs(&self) -> Cs<'_> {
        Cs { client: self }
    }
}
