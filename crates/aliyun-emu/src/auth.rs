//! Who is calling: verifies a request's signature in whichever of the three schemes it uses,
//! with the same signer the client signs with.
//!
//! ```text
//!   Authorization: ACS3-HMAC-SHA256 …   → V3      (current SDKs)
//!   Authorization: acs AK:sig           → ROA v1  (SDK v2 mode, CS)
//!   query …&Signature=…                 → RPC v1  (SDK v2 mode, Go SDK / cluster-autoscaler)
//! ```
//! Like Alibaba Cloud, it refuses stale timestamps and reused nonces, so a client that retries
//! with the same nonce is caught here rather than in production.

use crate::error::{ApiError, ApiResult};
use aliyun_signer::{SignableRequest, roa_v1, rpc_v1, sha256_hex, v3};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

/// An access key pair the emulator accepts.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKey {
    /// The AccessKey ID.
    pub id: String,
    /// The AccessKey secret.
    pub secret: String,
    /// Read-only keys may only call `Describe*` actions (others get `Forbidden.RAM`).
    pub read_only: bool,
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .field("read_only", &self.read_only)
            .finish()
    }
}

impl std::str::FromStr for AccessKey {
    type Err = String;

    /// `ID:SECRET` or `ID:SECRET:readonly`.
    fn from_str(s: &str) -> Result<Self, String> {
        let mut parts = s.splitn(3, ':');
        let (Some(id), Some(secret)) = (parts.next(), parts.next()) else {
            return Err(format!(
                "access key \"{s}\" must look like ID:SECRET or ID:SECRET:readonly"
            ));
        };
        if id.is_empty() || secret.is_empty() {
            return Err("access key ID and secret must both be non-empty".into());
        }
        let read_only = match parts.next() {
            None => false,
            Some("readonly") => true,
            Some(other) => {
                return Err(format!(
                    "unknown access key option \"{other}\"; the only option is readonly"
                ));
            }
        };
        Ok(Self {
            id: id.to_owned(),
            secret: secret.to_owned(),
            read_only,
        })
    }
}

/// The signature scheme a request used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// ACS3-HMAC-SHA256.
    V3,
    /// RPC HMAC-SHA1.
    RpcV1,
    /// ROA HMAC-SHA1.
    RoaV1,
}

/// A request as received, decoded.
pub struct Incoming<'a> {
    /// What V3 and ROA v1 signatures cover.
    pub request: SignableRequest<'a>,
    /// Query plus form-body parameters (what RPC v1 signs).
    pub params: &'a [(String, String)],
}

impl Incoming<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.request
            .headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Nonces seen within the timestamp window, oldest first, so the set stays bounded.
#[derive(Default)]
struct NonceWindow {
    seen: HashSet<String>,
    order: VecDeque<(i64, String)>,
}

/// The keys the emulator accepts, and the nonces it has seen.
pub struct Authenticator {
    keys: HashMap<String, AccessKey>,
    max_skew_ms: i64,
    nonces: Mutex<NonceWindow>,
}

/// Alibaba Cloud accepts timestamps within 15 minutes of its own clock.
pub const DEFAULT_MAX_SKEW_MS: i64 = 15 * 60 * 1000;
const MAX_REMEMBERED_NONCES: usize = 1_000_000;

fn mismatch(server_string_to_sign: &str) -> ApiError {
    ApiError::new(
        400,
        "SignatureDoesNotMatch",
        format!(
            "Specified signature does not match our calculation. server string to sign is:{server_string_to_sign}"
        ),
    )
}

fn incomplete(why: &str) -> ApiError {
    ApiError::new(
        400,
        "IncompleteSignature",
        format!("The request signature does not conform to Aliyun standards: {why}"),
    )
}

impl Authenticator {
    /// Accepts the given keys; `max_skew_ms` bounds how far a request's timestamp may be from now.
    pub fn new(keys: impl IntoIterator<Item = AccessKey>, max_skew_ms: i64) -> Self {
        Self {
            keys: keys.into_iter().map(|k| (k.id.clone(), k)).collect(),
            max_skew_ms,
            nonces: Mutex::default(),
        }
    }

    fn key(&self, id: &str) -> ApiResult<&AccessKey> {
        self.keys.get(id).ok_or_else(|| {
            ApiError::new(
                404,
                "InvalidAccessKeyId.NotFound",
                format!("Specified access key is not found: {id}"),
            )
        })
    }

    /// Verifies the request at wall-clock time `now_ms`; returns the caller's key and scheme.
    pub fn authenticate(&self, req: &Incoming<'_>, now_ms: i64) -> ApiResult<(&AccessKey, Scheme)> {
        let authorization = req.header("authorization");
        let (key, scheme, timestamp, nonce) = match authorization {
            Some(value) if value.starts_with("ACS3-") => {
                let auth = v3::parse_authorization(value).ok_or_else(|| {
                    incomplete("expected ACS3-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=…")
                })?;
                let key = self.key(auth.credential)?;
                if !auth.signed_headers.contains(&"host")
                    || !auth.signed_headers.iter().any(|h| h.starts_with("x-acs-"))
                {
                    return Err(incomplete(
                        "SignedHeaders must include host and the x-acs-* headers",
                    ));
                }
                if !v3::verify(&req.request, &auth, &key.secret) {
                    let canonical = v3::canonical_request(&req.request, &auth.signed_headers);
                    return Err(mismatch(&format!(
                        "{}\n{}",
                        v3::ALGORITHM,
                        sha256_hex(canonical.as_bytes())
                    )));
                }
                (
                    key,
                    Scheme::V3,
                    req.header("x-acs-date"),
                    req.header("x-acs-signature-nonce"),
                )
            }
            Some(value) if value.starts_with("acs ") => {
                let (id, signature) = roa_v1::parse_authorization(value)
                    .ok_or_else(|| incomplete("expected acs AccessKeyId:Signature"))?;
                let key = self.key(id)?;
                let expected = roa_v1::signature(&req.request, &key.secret);
                if !aliyun_signer::constant_time_eq(&expected, signature) {
                    return Err(mismatch(&roa_v1::string_to_sign(&req.request)));
                }
                (
                    key,
                    Scheme::RoaV1,
                    None,
                    req.header("x-acs-signature-nonce"),
                )
            }
            Some(_) => {
                return Err(incomplete(
                    "the Authorization header is neither ACS3-HMAC-SHA256 nor acs AccessKeyId:Signature",
                ));
            }
            None => {
                let signature = req.param("Signature").ok_or_else(|| {
                    incomplete("the request is not signed; send an Authorization header or the Signature, AccessKeyId, SignatureMethod, SignatureVersion, SignatureNonce and Timestamp parameters")
                })?;
                let id = req
                    .param("AccessKeyId")
                    .ok_or_else(|| ApiError::missing("AccessKeyId"))?;
                let key = self.key(id)?;
                match req.param("SignatureMethod") {
                    Some("HMAC-SHA1") => {}
                    other => {
                        return Err(ApiError::invalid(
                            "SignatureMethod",
                            format_args!(
                                "{} is not supported; use HMAC-SHA1",
                                other.unwrap_or("(none)")
                            ),
                        ));
                    }
                }
                let expected = rpc_v1::signature(req.request.method, req.params, &key.secret);
                if !aliyun_signer::constant_time_eq(&expected, signature) {
                    return Err(mismatch(&rpc_v1::string_to_sign(
                        req.request.method,
                        req.params,
                    )));
                }
                (
                    key,
                    Scheme::RpcV1,
                    req.param("Timestamp"),
                    req.param("SignatureNonce"),
                )
            }
        };
        if let Some(timestamp) = timestamp {
            self.check_timestamp(timestamp, now_ms)?;
        }
        let nonce = nonce.ok_or_else(|| {
            ApiError::missing(if scheme == Scheme::RpcV1 {
                "SignatureNonce"
            } else {
                "x-acs-signature-nonce"
            })
        })?;
        self.remember_nonce(&key.id, nonce, now_ms)?;
        Ok((key, scheme))
    }

    fn check_timestamp(&self, timestamp: &str, now_ms: i64) -> ApiResult<()> {
        let at = timestamp
            .parse::<jiff::Timestamp>()
            .map_err(|_| ApiError::new(400, "InvalidTimeStamp.Format", format!("Specified time stamp \"{timestamp}\" is not in the format yyyy-MM-ddTHH:mm:ssZ (UTC).")))?;
        if (at.as_millisecond() - now_ms).abs() > self.max_skew_ms {
            return Err(ApiError::new(
                400,
                "InvalidTimeStamp.Expired",
                format!(
                    "Specified time stamp or date value is expired: {timestamp} is more than 15 minutes from the server's time; check the client's clock."
                ),
            ));
        }
        Ok(())
    }

    fn remember_nonce(&self, key_id: &str, nonce: &str, now_ms: i64) -> ApiResult<()> {
        let entry = format!("{key_id}/{nonce}");
        let mut window = self.nonces.lock().unwrap_or_else(|e| e.into_inner());
        while let Some((at, _)) = window.order.front() {
            if now_ms - at <= self.max_skew_ms && window.order.len() < MAX_REMEMBERED_NONCES {
                break;
            }
            if let Some((_, old)) = window.order.pop_front() {
                window.seen.remove(&old);
            }
        }
        if !window.seen.insert(entry.clone()) {
            return Err(ApiError::new(
                400,
                "SignatureNonceUsed",
                format!("Specified signature nonce was used already: {nonce}"),
            ));
        }
        window.order.push_back((now_ms, entry));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn authenticator() -> Authenticator {
        Authenticator::new(["testid:testsecret".parse().unwrap()], DEFAULT_MAX_SKEW_MS)
    }

    const NOW: i64 = 1_704_110_400_000; // 2024-01-01T12:00:00Z

    type Pairs = Vec<(String, String)>;

    /// A signed DescribeRegions: its query and its headers (the Authorization header included).
    fn v3_request(nonce: &str, date: &str) -> (Pairs, Pairs) {
        let query = pairs(&[("RegionId", "cn-hangzhou")]);
        let mut headers = pairs(&[
            ("host", "127.0.0.1"),
            ("x-acs-action", "DescribeRegions"),
            ("x-acs-version", "2014-05-26"),
            ("x-acs-date", date),
            ("x-acs-signature-nonce", nonce),
            ("x-acs-content-sha256", &sha256_hex(b"")),
        ]);
        let req = SignableRequest {
            method: "POST",
            path: "/",
            query: &query,
            headers: &headers,
            body: b"",
        };
        let auth = v3::authorization(&req, "testid", "testsecret");
        headers.push(("authorization".into(), auth));
        (query, headers)
    }

    fn incoming<'a>(
        query: &'a [(String, String)],
        headers: &'a [(String, String)],
    ) -> Incoming<'a> {
        Incoming {
            request: SignableRequest {
                method: "POST",
                path: "/",
                query,
                headers,
                body: b"",
            },
            params: query,
        }
    }

    #[test]
    fn a_v3_request_is_accepted_once_and_its_nonce_never_again() {
        let a = authenticator();
        let (q, h) = v3_request("n1", "2024-01-01T12:00:00Z");
        let (key, scheme) = a.authenticate(&incoming(&q, &h), NOW).unwrap();
        assert_eq!((key.id.as_str(), scheme), ("testid", Scheme::V3));
        assert_eq!(
            a.authenticate(&incoming(&q, &h), NOW).unwrap_err().code,
            "SignatureNonceUsed"
        );
    }

    #[test]
    fn tampering_unknown_keys_and_stale_dates_are_refused() {
        let a = authenticator();
        let (mut q, h) = v3_request("n2", "2024-01-01T12:00:00Z");
        q[0].1 = "cn-beijing".into();
        let err = a.authenticate(&incoming(&q, &h), NOW).unwrap_err();
        assert_eq!(
            (err.code.as_str(), err.status),
            ("SignatureDoesNotMatch", 400)
        );
        assert!(err.message.contains("ACS3-HMAC-SHA256\n"));

        let (q, h) = v3_request("n3", "2024-01-01T11:40:00Z");
        assert_eq!(
            a.authenticate(&incoming(&q, &h), NOW).unwrap_err().code,
            "InvalidTimeStamp.Expired"
        );

        let other = Authenticator::new(["someone:else".parse().unwrap()], DEFAULT_MAX_SKEW_MS);
        let (q, h) = v3_request("n4", "2024-01-01T12:00:00Z");
        let err = other.authenticate(&incoming(&q, &h), NOW).unwrap_err();
        assert_eq!(
            (err.code.as_str(), err.status),
            ("InvalidAccessKeyId.NotFound", 404)
        );
    }

    #[test]
    fn rpc_v1_requests_verify_over_all_parameters() {
        let a = authenticator();
        let mut params = pairs(&[
            ("Action", "DescribeScalingGroups"),
            ("Version", "2014-08-28"),
            ("Format", "JSON"),
            ("AccessKeyId", "testid"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureVersion", "1.0"),
            ("SignatureNonce", "abc"),
            ("Timestamp", "2024-01-01T12:00:00Z"),
            ("ScalingGroupId.1", "asg-1"),
        ]);
        let signature = rpc_v1::signature("POST", &params, "testsecret");
        params.push(("Signature".into(), signature));
        let (key, scheme) = a.authenticate(&incoming(&params, &[]), NOW).unwrap();
        assert_eq!((key.id.as_str(), scheme), ("testid", Scheme::RpcV1));
        params[8].1 = "asg-2".into();
        params[6].1 = "abd".into();
        assert_eq!(
            a.authenticate(&incoming(&params, &[]), NOW)
                .unwrap_err()
                .code,
            "SignatureDoesNotMatch"
        );
    }

    #[test]
    fn unsigned_requests_say_how_to_sign() {
        let err = authenticator()
            .authenticate(&incoming(&[], &[]), NOW)
            .unwrap_err();
        assert_eq!(err.code, "IncompleteSignature");
        assert!(err.message.contains("Authorization"));
    }

    #[test]
    fn access_keys_parse_and_hide_their_secret() {
        let key: AccessKey = "id:hunter2".parse().unwrap();
        assert_eq!(
            (key.id.as_str(), key.secret.as_str(), key.read_only),
            ("id", "hunter2", false)
        );
        assert!(!format!("{key:?}").contains("hunter2"), "{key:?}");
        assert!(
            "id:s:cret".parse::<AccessKey>().is_err(),
            "a third part must be the readonly option"
        );
        assert!("id:s:readonly".parse::<AccessKey>().unwrap().read_only);
        assert!("nosecret".parse::<AccessKey>().is_err());
        assert!(":s".parse::<AccessKey>().is_err());
    }
}
