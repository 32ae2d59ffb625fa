//! ECI 2018-08-08: container groups (serverless pods), their logs.

use crate::client::Client;

/// The Eci API of a [`Client`].
#[derive(Clone, Copy, Debug)]
pub struct Eci<'a> {
    #[allow(dead_code)]
    client: &'a Client,
}

impl Client {
    pub fn eci(&self) -> Eci<'_> {
        Eci { client: self }
    }
}
