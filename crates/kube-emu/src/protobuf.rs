//! Protobuf request bodies, turned into the JSON the rest of the server works on.
//!
//! kubectl's typed clients send `application/vnd.kubernetes.protobuf` bodies — `drain` its
//! Evictions, `create configmap|secret|namespace` their objects — and client-go does not fall
//! back to JSON when a server refuses them. Responses stay JSON (clients accept that).
//!
//! ```text
//!  "k8s\0" ── runtime.Unknown { typeMeta{apiVersion, kind}, raw } ── raw decoded by the
//!                                                                   schema of `kind` ─▶ JSON
//! ```
//!
//! Only the kinds kubectl sends this way are described; any other kind is a clear 415.

use base64::Engine as _;
use serde_json::{Map, Value, json};

use crate::clock::rfc3339;
use crate::error::Error;

/// The content type of protobuf bodies.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";
const MAGIC: &[u8] = b"k8s\0";

/// How one field is encoded.
#[derive(Clone, Copy)]
enum Kind {
    String,
    /// Bytes, base64 in JSON.
    Bytes,
    Bool,
    Int,
    /// `meta.v1.Time`: seconds and nanos, RFC 3339 in JSON.
    Time,
    Message(&'static [Field]),
    MapStringString,
    /// Values base64 in JSON.
    MapStringBytes,
}

/// A field: protobuf tag, JSON name, encoding, repeated.
type Field = (u32, &'static str, Kind, bool);

const OWNER_REFERENCE: &[Field] = &[
    (5, "apiVersion", Kind::String, false),
    (1, "kind", Kind::String, false),
    (3, "name", Kind::String, false),
    (4, "uid", Kind::String, false),
    (6, "controller", Kind::Bool, false),
    (7, "blockOwnerDeletion", Kind::Bool, false),
];

const OBJECT_META: &[Field] = &[
    (1, "name", Kind::String, false),
    (2, "generateName", Kind::String, false),
    (3, "namespace", Kind::String, false),
    (5, "uid", Kind::String, false),
    (6, "resourceVersion", Kind::String, false),
    (7, "generation", Kind::Int, false),
    (8, "creationTimestamp", Kind::Time, false),
    (9, "deletionTimestamp", Kind::Time, false),
    (10, "deletionGracePeriodSeconds", Kind::Int, false),
    (11, "labels", Kind::MapStringString, false),
    (12, "annotations", Kind::MapStringString, false),
    (13, "ownerReferences", Kind::Message(OWNER_REFERENCE), true),
    (14, "finalizers", Kind::String, true),
];

const PRECONDITIONS: &[Field] = &[
    (1, "uid", Kind::String, false),
    (2, "resourceVersion", Kind::String, false),
];

const DELETE_OPTIONS: &[Field] = &[
    (1, "gracePeriodSeconds", Kind::Int, false),
    (2, "preconditions", Kind::Message(PRECONDITIONS), false),
    (3, "orphanDependents", Kind::Bool, false),
    (4, "propagationPolicy", Kind::String, false),
    (5, "dryRun", Kind::String, true),
];

const EVICTION: &[Field] = &[
    (1, "metadata", Kind::Message(OBJECT_META), false),
    (2, "deleteOptions", Kind::Message(DELETE_OPTIONS), false),
];

const CONFIG_MAP: &[Field] = &[
    (1, "metadata", Kind::Message(OBJECT_META), false),
    (2, "data", Kind::MapStringString, false),
    (3, "binaryData", Kind::MapStringBytes, false),
    (4, "immutable", Kind::Bool, false),
];

const SECRET: &[Field] = &[
    (1, "metadata", Kind::Message(OBJECT_META), false),
    (2, "data", Kind::MapStringBytes, false),
    (3, "type", Kind::String, false),
    (4, "stringData", Kind::MapStringString, false),
    (5, "immutable", Kind::Bool, false),
];

const NAMESPACE_SPEC: &[Field] = &[(1, "finalizers", Kind::String, true)];

const NAMESPACE: &[Field] = &[
    (1, "metadata", Kind::Message(OBJECT_META), false),
    (2, "spec", Kind::Message(NAMESPACE_SPEC), false),
];

/// `runtime.TypeMeta`, the envelope's field 1 (its field 2 is the object's own bytes).
const TYPE_META: &[Field] = &[
    (1, "apiVersion", Kind::String, false),
    (2, "kind", Kind::String, false),
];

fn schema(api_version: &str, kind: &str) -> Option<&'static [Field]> {
    Some(match (api_version, kind) {
        ("policy/v1" | "policy/v1beta1", "Eviction") => EVICTION,
        ("v1", "ConfigMap") => CONFIG_MAP,
        ("v1", "Secret") => SECRET,
        ("v1", "Namespace") => NAMESPACE,
        _ => return None,
    })
}

fn bad(what: impl std::fmt::Display) -> Error {
    Error::BadRequest(format!("invalid protobuf request body: {what}"))
}

/// Decodes a protobuf request body into its JSON object (with apiVersion and kind).
pub fn to_json(body: &[u8]) -> Result<Value, Error> {
    let envelope = body
        .strip_prefix(MAGIC)
        .ok_or_else(|| bad("it does not start with the k8s magic number"))?;
    let mut type_meta = None;
    let mut raw: &[u8] = &[];
    for field in Reader(envelope) {
        match field? {
            (1, Wire::Bytes(b)) => type_meta = Some(decode(b, TYPE_META)?),
            (2, Wire::Bytes(b)) => raw = b,
            _ => {}
        }
    }
    let type_meta = type_meta.unwrap_or_default();
    let api_version = type_meta["apiVersion"].as_str().unwrap_or_default();
    let kind = type_meta["kind"].as_str().unwrap_or_default();
    let fields = schema(api_version, kind).ok_or_else(|| {
        Error::UnsupportedMediaType(format!(
            "protobuf bodies of {kind} ({api_version}) are not supported; send application/json"
        ))
    })?;
    let mut object = decode(raw, fields)?;
    object["apiVersion"] = json!(api_version);
    object["kind"] = json!(kind);
    Ok(object)
}

fn decode(bytes: &[u8], fields: &'static [Field]) -> Result<Value, Error> {
    let mut out = Map::new();
    for field in Reader(bytes) {
        let (tag, wire) = field?;
        let Some(&(_, name, kind, repeated)) = fields.iter().find(|f| f.0 == tag) else {
            continue;
        };
        match kind {
            Kind::MapStringString | Kind::MapStringBytes => {
                let Wire::Bytes(entry) = wire else {
                    return Err(bad(format_args!("{name} is not a map entry")));
                };
                let (k, v) = map_entry(entry, matches!(kind, Kind::MapStringBytes))?;
                out.entry(name)
                    .or_insert_with(|| Value::Object(Map::new()))
                    .as_object_mut()
                    .map(|m| m.insert(k, v));
            }
            _ => {
                let value = scalar(wire, kind, name)?;
                if repeated {
                    if let Value::Array(items) = out.entry(name).or_insert_with(|| json!([])) {
                        items.push(value);
                    }
                } else {
                    out.insert(name.to_owned(), value);
                }
            }
        }
    }
    Ok(Value::Object(out))
}

fn scalar(wire: Wire<'_>, kind: Kind, name: &str) -> Result<Value, Error> {
    let text = |b: &[u8]| {
        std::str::from_utf8(b)
            .map(|s| json!(s))
            .map_err(|_| bad(format_args!("{name} is not UTF-8")))
    };
    Ok(match (kind, wire) {
        (Kind::String, Wire::Bytes(b)) => text(b)?,
        (Kind::Bytes, Wire::Bytes(b)) => json!(base64::engine::general_purpose::STANDARD.encode(b)),
        (Kind::Bool, Wire::Varint(v)) => json!(v != 0),
        // int64 travels as two's complement in a varint.
        (Kind::Int, Wire::Varint(v)) => json!(v as i64),
        (Kind::Time, Wire::Bytes(b)) => {
            let mut seconds = 0i64;
            for field in Reader(b) {
                if let (1, Wire::Varint(v)) = field? {
                    seconds = v as i64;
                }
            }
            json!(rfc3339(seconds.saturating_mul(1000)))
        }
        (Kind::Message(fields), Wire::Bytes(b)) => decode(b, fields)?,
        _ => return Err(bad(format_args!("{name} has the wrong wire type"))),
    })
}

fn map_entry(entry: &[u8], bytes_values: bool) -> Result<(String, Value), Error> {
    let (mut key, mut value) = (String::new(), json!(""));
    for field in Reader(entry) {
        match field? {
            (1, Wire::Bytes(b)) => {
                key = String::from_utf8(b.to_vec()).map_err(|_| bad("a map key is not UTF-8"))?;
            }
            (2, wire) => {
                let kind = if bytes_values {
                    Kind::Bytes
                } else {
                    Kind::String
                };
                value = scalar(wire, kind, "a map value")?;
            }
            _ => {}
        }
    }
    Ok((key, value))
}

/// A field's payload by wire type.
enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

/// Iterates over the fields of one message.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, Error> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self
                .0
                .split_first()
                .ok_or_else(|| bad("truncated varint"))?;
            self.0 = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(bad("varint too long"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if self.0.len() < n {
            return Err(bad("truncated field"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn field(&mut self) -> Result<(u32, Wire<'a>), Error> {
        let key = self.varint()?;
        let tag = u32::try_from(key >> 3).map_err(|_| bad("field number too large"))?;
        let wire = match key & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Wire::Fixed
            }
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| bad("length too large"))?;
                Wire::Bytes(self.take(len)?)
            }
            5 => {
                self.take(4)?;
                Wire::Fixed
            }
            other => return Err(bad(format_args!("unsupported wire type {other}"))),
        };
        Ok((tag, wire))
    }
}

impl<'a> Iterator for Reader<'a> {
    type Item = Result<(u32, Wire<'a>), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        let item = self.field();
        if item.is_err() {
            self.0 = &[];
        }
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }

    fn bytes_field(tag: u32, payload: &[u8], out: &mut Vec<u8>) {
        varint(u64::from(tag) << 3 | 2, out);
        varint(payload.len() as u64, out);
        out.extend_from_slice(payload);
    }

    fn varint_field(tag: u32, v: u64, out: &mut Vec<u8>) {
        varint(u64::from(tag) << 3, out);
        varint(v, out);
    }

    fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
        let mut type_meta = Vec::new();
        bytes_field(1, api_version.as_bytes(), &mut type_meta);
        bytes_field(2, kind.as_bytes(), &mut type_meta);
        let mut out = MAGIC.to_vec();
        bytes_field(1, &type_meta, &mut out);
        bytes_field(2, raw, &mut out);
        out
    }

    fn meta(name: &str, namespace: &str) -> Vec<u8> {
        let mut m = Vec::new();
        bytes_field(1, name.as_bytes(), &mut m);
        bytes_field(3, namespace.as_bytes(), &mut m);
        let mut label = Vec::new();
        bytes_field(1, b"app", &mut label);
        bytes_field(2, b"web", &mut label);
        bytes_field(11, &label, &mut m);
        m
    }

    #[test]
    fn an_eviction_as_kubectl_drain_sends_it_becomes_json() {
        let mut options = Vec::new();
        varint_field(1, 30, &mut options);
        let mut raw = Vec::new();
        bytes_field(1, &meta("web-1", "default"), &mut raw);
        bytes_field(2, &options, &mut raw);
        let json = to_json(&envelope("policy/v1", "Eviction", &raw)).unwrap();
        assert_eq!(
            json,
            json!({
                "apiVersion": "policy/v1", "kind": "Eviction",
                "metadata": {"name": "web-1", "namespace": "default", "labels": {"app": "web"}},
                "deleteOptions": {"gracePeriodSeconds": 30},
            })
        );
    }

    #[test]
    fn a_config_map_and_a_secret_keep_their_data() {
        let mut entry = Vec::new();
        bytes_field(1, b"k", &mut entry);
        bytes_field(2, b"v", &mut entry);
        let mut raw = Vec::new();
        bytes_field(1, &meta("cm", "default"), &mut raw);
        bytes_field(2, &entry, &mut raw);
        let cm = to_json(&envelope("v1", "ConfigMap", &raw)).unwrap();
        assert_eq!(cm["data"], json!({"k": "v"}));
        let mut raw = Vec::new();
        bytes_field(1, &meta("s", "default"), &mut raw);
        bytes_field(2, &entry, &mut raw);
        bytes_field(3, b"Opaque", &mut raw);
        let secret = to_json(&envelope("v1", "Secret", &raw)).unwrap();
        assert_eq!(secret["data"], json!({"k": "dg=="}));
        assert_eq!(secret["type"], "Opaque");
    }

    #[test]
    fn an_unsupported_kind_is_a_415_naming_it() {
        let err = to_json(&envelope("apps/v1", "Deployment", &[])).unwrap_err();
        assert!(matches!(err, Error::UnsupportedMediaType(ref m) if m.contains("Deployment")));
    }

    #[test]
    fn garbage_is_a_400_not_a_panic() {
        for body in [&b"not protobuf"[..], b"k8s\0\x0a\xff", b"k8s\0\x0a\x05ab"] {
            assert!(
                matches!(to_json(body), Err(Error::BadRequest(_))),
                "{body:?}"
            );
        }
    }
}
