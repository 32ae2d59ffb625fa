//! A successful reply: one JSON object, serialized once.
//!
//! Handlers build either a `serde_json::Value` (convenient) or a typed view (fast, for hot
//! paths such as DescribeInstances); both end up as the object's text, into which the
//! per-request `RequestId` is spliced. A reply remembered for a `ClientToken` is this text.

use crate::error::{ApiError, ApiResult};
use serde::{Deserialize, Serialize};

/// The text of a JSON object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply(String);

impl From<serde_json::Value> for Reply {
    fn from(value: serde_json::Value) -> Self {
        // CS's DescribeKubernetesVersionMetadata answers with a bare array.
        debug_assert!(
            value.is_object() || value.is_array(),
            "replies are JSON objects or arrays"
        );
        Self(value.to_string())
    }
}

impl Reply {
    /// Serializes a typed view, which must serialize as a JSON object.
    pub fn serialize<T: Serialize>(view: &T) -> ApiResult<Self> {
        // Sized for a page of instances, so the buffer rarely regrows while serializing.
        let mut buffer = Vec::with_capacity(8 * 1024);
        serde_json::to_writer(&mut buffer, view).map_err(|_| ApiError::internal())?;
        let text = String::from_utf8(buffer).map_err(|_| ApiError::internal())?;
        debug_assert!(text.starts_with('{'), "replies are JSON objects");
        Ok(Self(text))
    }

    /// The body sent for one request: the object with `RequestId` as its first member (an
    /// array reply has nowhere to carry it and goes out as it is).
    pub fn with_request_id(&self, request_id: &str) -> Vec<u8> {
        if !self.0.starts_with('{') {
            return self.0.clone().into_bytes();
        }
        let members = self.0.strip_prefix('{').unwrap_or("}");
        let mut body = Vec::with_capacity(self.0.len() + request_id.len() + 16);
        body.extend_from_slice(b"{\"RequestId\":\"");
        body.extend_from_slice(request_id.as_bytes());
        body.push(b'"');
        if !members.starts_with('}') {
            body.push(b',');
        }
        body.extend_from_slice(members.as_bytes());
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn the_request_id_is_spliced_into_empty_and_full_objects() {
        for value in [json!({}), json!({"A": 1, "B": {"C": [1, 2]}})] {
            let body = Reply::from(value.clone()).with_request_id("R-1");
            let mut parsed: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(
                parsed.as_object_mut().unwrap().remove("RequestId"),
                Some(json!("R-1"))
            );
            assert_eq!(parsed, value);
        }
    }
}
