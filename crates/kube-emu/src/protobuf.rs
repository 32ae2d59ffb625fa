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
//! Only the kinds kubectl's generators send this way are described (`drain`, `create
//! configmap|secret|namespace|deployment|service`, `run`, `expose`), with the fields those
//! commands set; any other kind is a clear 415.

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
    /// A non-pointer integer that JSON omits when zero (`hostPort`, `nodePort`, `generation`).
    IntOmitZero,
    /// `meta.v1.Time`: seconds and nanos, RFC 3339 in JSON.
    Time,
    Message(&'static [Field]),
    MapStringString,
    /// Values base64 in JSON.
    MapStringBytes,
    /// `map<string, resource.Quantity>`: the quantities' strings in JSON.
    MapStringQuantity,
    /// `intstr.IntOrString`: a number or a string in JSON.
    IntOrString,
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
    (7, "generation", Kind::IntOmitZero, false),
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

const LABEL_SELECTOR: &[Field] = &[(1, "matchLabels", Kind::MapStringString, false)];

const CONTAINER_PORT: &[Field] = &[
    (1, "name", Kind::String, false),
    (2, "hostPort", Kind::IntOmitZero, false),
    (3, "containerPort", Kind::Int, false),
    (4, "protocol", Kind::String, false),
];

const ENV_VAR: &[Field] = &[
    (1, "name", Kind::String, false),
    (2, "value", Kind::String, false),
];

const RESOURCES: &[Field] = &[
    (1, "limits", Kind::MapStringQuantity, false),
    (2, "requests", Kind::MapStringQuantity, false),
];

const CONTAINER: &[Field] = &[
    (1, "name", Kind::String, false),
    (2, "image", Kind::String, false),
    (3, "command", Kind::String, true),
    (4, "args", Kind::String, true),
    (5, "workingDir", Kind::String, false),
    (6, "ports", Kind::Message(CONTAINER_PORT), true),
    (7, "env", Kind::Message(ENV_VAR), true),
    (8, "resources", Kind::Message(RESOURCES), false),
    (13, "terminationMessagePath", Kind::String, false),
    (14, "imagePullPolicy", Kind::String, false),
    (16, "stdin", Kind::Bool, false),
    (17, "stdinOnce", Kind::Bool, false),
    (18, "tty", Kind::Bool, false),
    (20, "terminationMessagePolicy", Kind::String, false),
];

const TOLERATION: &[Field] = &[
    (1, "key", Kind::String, false),
    (2, "operator", Kind::String, false),
    (3, "value", Kind::String, false),
    (4, "effect", Kind::String, false),
    (5, "tolerationSeconds", Kind::Int, false),
];

const POD_SPEC: &[Field] = &[
    (2, "containers", Kind::Message(CONTAINER), true),
    (20, "initContainers", Kind::Message(CONTAINER), true),
    (3, "restartPolicy", Kind::String, false),
    (4, "terminationGracePeriodSeconds", Kind::Int, false),
    (5, "activeDeadlineSeconds", Kind::Int, false),
    (6, "dnsPolicy", Kind::String, false),
    (7, "nodeSelector", Kind::MapStringString, false),
    (8, "serviceAccountName", Kind::String, false),
    (10, "nodeName", Kind::String, false),
    (11, "hostNetwork", Kind::Bool, false),
    (16, "hostname", Kind::String, false),
    (19, "schedulerName", Kind::String, false),
    (22, "tolerations", Kind::Message(TOLERATION), true),
    (24, "priorityClassName", Kind::String, false),
];

const POD: &[Field] = &[
    (1, "metadata", Kind::Message(OBJECT_META), false),
    (2, "spec", Kind::Message(POD_SPEC), false),
];

const POD_TEMPLATE: &[Field] = &[
    (1, "metadata", Kind::Message(OBJECT_META), false),
    (2, "spec", Kind::Message(POD_SPEC), false),
];

const DEPLOYMENT_SPEC: &[Field] = &[
    (1, "replicas", Kind::Int, false),
    (2, "selector", Kind::Message(LABEL_SELECTOR), false),
    (3, "template", Kind::Message(POD_TEMPLATE), false),
    (5, "minReadySeconds", Kind::IntOmitZero, false),
    (6, "revisionHistoryLimit", Kind::Int, false),
    (7, "paused", Kind::Bool, false),
    (9, "progressDeadlineSeconds", Kind::Int, false),
];

const DEPLOYMENT: &[Field] = &[
    (1, "metadata", Kind::Message(OBJECT_META), false),
    (2, "spec", Kind::Message(DEPLOYMENT_SPEC), false),
];

const SERVICE_PORT: &[Field] = &[
    (1, "name", Kind::String, false),
    (2, "protocol", Kind::String, false),
    (3, "port", Kind::Int, false),
    (4, "targetPort", Kind::IntOrString, false),
    (5, "nodePort", Kind::IntOmitZero, false),
];

const SERVICE_SPEC: &[Field] = &[
    (1, "ports", Kind::Message(SERVICE_PORT), true),
    (2, "selector", Kind::MapStringString, false),
    (3, "clusterIP", Kind::String, false),
    (4, "type", Kind::String, false),
    (5, "externalIPs", Kind::String, true),
    (7, "sessionAffinity", Kind::String, false),
    (10, "externalName", Kind::String, false),
    (11, "externalTrafficPolicy", Kind::String, false),
];

const SERVICE: &[Field] = &[
    (1, "metadata", Kind::Message(OBJECT_META), false),
    (2, "spec", Kind::Message(SERVICE_SPEC), false),
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
        ("v1", "Pod") => POD,
        ("v1", "Service") => SERVICE,
        ("apps/v1", "Deployment") => DEPLOYMENT,
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
            Kind::MapStringString | Kind::MapStringBytes | Kind::MapStringQuantity => {
                let Wire::Bytes(entry) = wire else {
                    return Err(bad(format_args!("{name} is not a map entry")));
                };
                let (k, v) = map_entry(entry, kind)?;
                out.entry(name)
                    .or_insert_with(|| Value::Object(Map::new()))
                    .as_object_mut()
                    .map(|m| m.insert(k, v));
            }
            _ => {
                let value = scalar(wire, kind, name)?;
                // Go's marshaller writes every non-pointer field, set or not; JSON omits empty
                // strings, false and such zeros, and so must we (`nodeName: ""` is not a binding).
                let unset = match (&value, kind) {
                    (Value::String(s), _) => s.is_empty(),
                    (Value::Bool(b), _) => !b,
                    (Value::Number(n), Kind::IntOmitZero) => n.as_i64() == Some(0),
                    _ => false,
                };
                if unset && !repeated {
                    continue;
                }
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
        (Kind::Int | Kind::IntOmitZero, Wire::Varint(v)) => json!(v as i64),
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
        (Kind::MapStringQuantity, Wire::Bytes(b)) => {
            let mut quantity = json!("");
            for field in Reader(b) {
                if let (1, wire) = field? {
                    quantity = scalar(wire, Kind::String, name)?;
                }
            }
            quantity
        }
        (Kind::IntOrString, Wire::Bytes(b)) => {
            // type 0 is an int, 1 a string.
            let (mut is_string, mut number, mut text) = (false, json!(0), json!(""));
            for field in Reader(b) {
                match field? {
                    (1, Wire::Varint(t)) => is_string = t == 1,
                    (2, Wire::Varint(v)) => number = json!(v as i64),
                    (3, wire) => text = scalar(wire, Kind::String, name)?,
                    _ => {}
                }
            }
            if is_string { text } else { number }
        }
        _ => return Err(bad(format_args!("{name} has the wrong wire type"))),
    })
}

fn map_entry(entry: &[u8], kind: Kind) -> Result<(String, Value), Error> {
    let (mut key, mut value) = (String::new(), json!(""));
    for field in Reader(entry) {
        match field? {
            (1, Wire::Bytes(b)) => {
                key = String::from_utf8(b.to_vec()).map_err(|_| bad("a map key is not UTF-8"))?;
            }
            (2, wire) => {
                let value_kind = match kind {
                    Kind::MapStringBytes => Kind::Bytes,
                    Kind::MapStringQuantity => Kind::MapStringQuantity,
                    _ => Kind::String,
                };
                value = scalar(wire, value_kind, "a map value")?;
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
    fn a_deployment_as_kubectl_create_deployment_sends_it_becomes_json() {
        let mut quantity = Vec::new();
        bytes_field(1, b"100m", &mut quantity);
        let mut request = Vec::new();
        bytes_field(1, b"cpu", &mut request);
        bytes_field(2, &quantity, &mut request);
        let mut resources = Vec::new();
        bytes_field(2, &request, &mut resources);
        let mut container = Vec::new();
        bytes_field(1, b"nginx", &mut container);
        bytes_field(2, b"nginx:1.27", &mut container);
        bytes_field(8, &resources, &mut container);
        let mut pod_spec = Vec::new();
        bytes_field(2, &container, &mut pod_spec);
        let mut template = Vec::new();
        bytes_field(1, &meta("", ""), &mut template);
        bytes_field(2, &pod_spec, &mut template);
        let mut selector_entry = Vec::new();
        bytes_field(1, b"app", &mut selector_entry);
        bytes_field(2, b"web", &mut selector_entry);
        let mut selector = Vec::new();
        bytes_field(1, &selector_entry, &mut selector);
        let mut spec = Vec::new();
        varint_field(1, 3, &mut spec);
        bytes_field(2, &selector, &mut spec);
        bytes_field(3, &template, &mut spec);
        let mut raw = Vec::new();
        bytes_field(1, &meta("web", "default"), &mut raw);
        bytes_field(2, &spec, &mut raw);
        let d = to_json(&envelope("apps/v1", "Deployment", &raw)).unwrap();
        assert_eq!(d["spec"]["replicas"], 3);
        assert_eq!(
            d["spec"]["selector"],
            json!({"matchLabels": {"app": "web"}})
        );
        let c = &d["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["image"], "nginx:1.27");
        assert_eq!(c["resources"], json!({"requests": {"cpu": "100m"}}));
    }

    #[test]
    fn a_service_port_keeps_a_named_or_numbered_target_port() {
        for (int_or_string, want) in [
            (&b"\x08\x01\x1a\x04http"[..], json!("http")),
            (b"\x10\x50", json!(80)),
        ] {
            let mut port = Vec::new();
            varint_field(3, 80, &mut port);
            bytes_field(4, int_or_string, &mut port);
            let mut spec = Vec::new();
            bytes_field(1, &port, &mut spec);
            let mut raw = Vec::new();
            bytes_field(1, &meta("web", "default"), &mut raw);
            bytes_field(2, &spec, &mut raw);
            let svc = to_json(&envelope("v1", "Service", &raw)).unwrap();
            assert_eq!(svc["spec"]["ports"][0]["targetPort"], want);
        }
    }

    #[test]
    fn fields_go_writes_unset_are_left_out() {
        let mut container = Vec::new();
        bytes_field(1, b"c", &mut container);
        bytes_field(5, b"", &mut container);
        varint_field(16, 0, &mut container);
        let mut spec = Vec::new();
        bytes_field(2, &container, &mut spec);
        bytes_field(10, b"", &mut spec);
        varint_field(4, 0, &mut spec);
        let mut raw = Vec::new();
        bytes_field(1, &meta("p", "default"), &mut raw);
        bytes_field(2, &spec, &mut raw);
        let pod = to_json(&envelope("v1", "Pod", &raw)).unwrap();
        assert_eq!(
            pod["spec"],
            json!({"containers": [{"name": "c"}], "terminationGracePeriodSeconds": 0})
        );
    }

    #[test]
    fn an_unsupported_kind_is_a_415_naming_it() {
        let err = to_json(&envelope("batch/v1", "Job", &[])).unwrap_err();
        assert!(matches!(err, Error::UnsupportedMediaType(ref m) if m.contains("Job")));
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
