//! Typed identifiers, so that a cluster id cannot be passed where an organisation id is meant,
//! and the conversions between `jiff::Timestamp` and the `*_ms BIGINT` columns.
//!
//! Numeric ids come from the database (`INTEGER PRIMARY KEY` on SQLite, an identity column on
//! PostgreSQL), so the organisation the server bootstraps is `1`, as in Pipeline's URLs.
//! Secret ids are random strings chosen by the store: they are part of the encryption's
//! associated data and must be known before the row is written.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

macro_rules! numeric_id {
    ($(#[$meta:meta])* $name:ident, $what:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                s.parse::<i64>()
                    .ok()
                    .filter(|id| *id > 0)
                    .map($name)
                    .ok_or_else(|| Error::invalid($what, format!("{s:?} is not a positive integer id")))
            }
        }
    };
}

numeric_id!(
    /// An organisation: the tenant every secret and cluster belongs to.
    OrgId,
    "orgId"
);
numeric_id!(
    /// A user, who belongs to organisations with a role in each.
    UserId,
    "userId"
);
numeric_id!(
    /// An API token (the row, not the bearer value).
    TokenId,
    "tokenId"
);
numeric_id!(
    /// A cluster.
    ClusterId,
    "clusterId"
);
numeric_id!(
    /// A node pool of a cluster.
    NodePoolId,
    "nodePoolId"
);
numeric_id!(
    /// A durable operation.
    OperationId,
    "operationId"
);
numeric_id!(
    /// An entry of a cluster's event log; ids grow with time, so they order the log.
    EventId,
    "eventId"
);

/// A secret's id: 32 lowercase hex characters, random.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretId(String);

impl SecretId {
    pub(crate) fn random() -> Result<Self> {
        let bytes: [u8; 16] = crate::crypto::random_bytes()?;
        Ok(SecretId(hex::encode(bytes)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SecretId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for SecretId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        // Checked so that a malformed id never reaches the associated data or a query.
        if s.len() == 32
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(SecretId(s.to_owned()))
        } else {
            Err(Error::invalid(
                "secretId",
                format!("{s:?} is not a secret id (32 lowercase hex characters)"),
            ))
        }
    }
}

pub(crate) fn to_ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

pub(crate) fn from_ms(what: &str, ms: i64) -> Result<Timestamp> {
    Timestamp::from_millisecond(ms).map_err(|e| Error::corrupt(what, e))
}

pub(crate) fn from_opt_ms(what: &str, ms: Option<i64>) -> Result<Option<Timestamp>> {
    ms.map(|ms| from_ms(what, ms)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_ids_parse_only_positive_integers() {
        assert_eq!("7".parse::<ClusterId>().ok(), Some(ClusterId(7)));
        let err = "0".parse::<ClusterId>().err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("invalid clusterId: \"0\" is not a positive integer id")
        );
        assert!("x1".parse::<OrgId>().is_err());
    }

    #[test]
    fn secret_ids_are_32_lowercase_hex_characters() {
        let id = SecretId::random().expect("randomness");
        assert_eq!(id.as_str().parse::<SecretId>().ok(), Some(id));
        assert!(
            "ABCDEF0123456789abcdef0123456789"
                .parse::<SecretId>()
                .is_err()
        );
        assert!("abc".parse::<SecretId>().is_err());
    }
}
