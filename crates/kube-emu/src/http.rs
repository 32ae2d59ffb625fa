//! The HTTP face of one cluster's API: routing, authentication, content negotiation (JSON or
//! Table), chunked watch streams and pod logs. Handlers are thin: every decision about
//! objects is made by [`ApiServer`].
//!
//! The router serves the API at its root and works nested under a prefix (the emulator mounts
//! it at `/kube/<cluster-id>`); the prefix is recovered from the original URI where a client
//! needs it (the OpenAPI index).
//!
//! Scale (1,000 nodes, 30,000 pods): list bodies are written straight from the objects' shared
//! encodings and streamed in chunks (big lists are encoded ahead on the blocking pool, and a
//! paged list prepares its next pages while the current one is sent); a watch is a stream the
//! connection polls itself, each frame carrying every event already waiting.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{OriginalUri, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::TryRecvError;
use tokio::sync::{broadcast, mpsc};

use crate::discovery;
use crate::error::Error;
use crate::patch::PatchType;
use crate::protobuf;
use crate::resources::{ResourceType, lookup_gvr};
use crate::selector::{FieldSelector, LabelSelector};
use crate::store::{ApiServer, Change, Encoding, EventType, ListOptions, ListPage, Target};
use crate::table;

/// What the router needs: the cluster's API and the bearer token its kubeconfig carries.
///
/// `token: None` turns authentication off. That is needed for kubectl over plain `http://`:
/// client-go's clientcmd reads a kubeconfig's credentials only for TLS servers ("only try to
/// read the auth information if we are secure"), so kubectl never sends the token over http,
/// while kube-rs and the Python client do.
#[derive(Clone, Debug)]
pub struct HttpState {
    pub api: Arc<ApiServer>,
    pub token: Option<String>,
}

/// The HTTP API of one cluster, served at the router's root.
pub fn router(state: HttpState) -> Router {
    Router::new().fallback(handle).with_state(state)
}

const TABLE_CONTENT_TYPE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";

fn json_response(code: u16, body: &Value) -> Response {
    bytes_response(
        code,
        "application/json",
        serde_json::to_vec(body).unwrap_or_default(),
    )
}

fn bytes_response(code: u16, ct: &str, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = ct.parse() {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

fn error_response(e: &Error) -> Response {
    json_response(e.code(), &e.to_status())
}

/// Go's `strconv.ParseBool`, which the real server uses for query flags.
fn go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

struct Query(Vec<(String, String)>);

impl Query {
    fn parse(uri: &Uri) -> Result<Self, Error> {
        let q = uri.query().unwrap_or("");
        serde_urlencoded::from_str::<Vec<(String, String)>>(q)
            .map(Self)
            .map_err(|e| Error::BadRequest(format!("invalid query string: {e}")))
    }

    fn get(&self, k: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }

    fn flag(&self, k: &str) -> Result<bool, Error> {
        match self.get(k) {
            None | Some("") => Ok(false),
            Some(v) => {
                go_bool(v).ok_or_else(|| Error::BadRequest(format!("invalid value for {k}: {v:?}")))
            }
        }
    }
}

async fn handle(
    State(st): State<HttpState>,
    OriginalUri(original): OriginalUri,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let prefix = original
        .path()
        .strip_suffix(path.as_str())
        .unwrap_or("")
        .trim_end_matches('/')
        .to_string();
    let public = matches!(
        path.as_str(),
        "/healthz" | "/livez" | "/readyz" | "/version"
    );
    if !public
        && let Some(token) = &st.token
        && !authorized(&parts.headers, token)
    {
        return error_response(&Error::Unauthorized);
    }
    let body = match axum::body::to_bytes(body, 64 << 20).await {
        Ok(b) => b,
        Err(_) => {
            return error_response(&Error::BadRequest(
                "request body too large or unreadable".into(),
            ));
        }
    };
    // kubectl's typed clients send protobuf; everything past this point works on JSON.
    let body =
        if header_str(&parts.headers, header::CONTENT_TYPE).starts_with(protobuf::CONTENT_TYPE) {
            match protobuf::to_json(&body) {
                Ok(object) => Bytes::from(object.to_string()),
                Err(e) => return error_response(&e),
            }
        } else {
            body
        };
    match route(
        &st,
        &parts.method,
        &parts.uri,
        &parts.headers,
        &path,
        &prefix,
        body,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => error_response(&e),
    }
}

fn authorized(h: &HeaderMap, token: &str) -> bool {
    h.get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| t.trim() == token)
}

fn header_str(h: &HeaderMap, name: header::HeaderName) -> &str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

async fn route(
    st: &HttpState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    path: &str,
    prefix: &str,
    body: Bytes,
) -> Result<Response, Error> {
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let accept = header_str(headers, header::ACCEPT);
    let get_only = |r: Response| {
        if method == Method::GET {
            Ok(r)
        } else {
            Err(Error::MethodNotAllowed(
                "the server does not allow this method on the requested resource".to_string(),
            ))
        }
    };
    match segs.as_slice() {
        ["healthz" | "livez" | "readyz"] => get_only(bytes_response(
            200,
            "text/plain; charset=utf-8",
            b"ok".to_vec(),
        )),
        ["version"] => get_only(json_response(200, &discovery::version())),
        ["api"] => get_only(if discovery::wants_aggregated(accept) {
            bytes_response(
                200,
                discovery::AGGREGATED_CONTENT_TYPE,
                discovery::aggregated(true).to_string().into_bytes(),
            )
        } else {
            json_response(200, &discovery::api_versions())
        }),
        ["apis"] => get_only(if discovery::wants_aggregated(accept) {
            bytes_response(
                200,
                discovery::AGGREGATED_CONTENT_TYPE,
                discovery::aggregated(false).to_string().into_bytes(),
            )
        } else {
            json_response(200, &discovery::api_group_list())
        }),
        ["api", "v1"] => get_only(json_response(
            200,
            &discovery::api_resource_list("", "v1").unwrap_or_default(),
        )),
        ["apis", g] => get_only(json_response(
            200,
            &discovery::api_group_doc(g).ok_or(Error::UnknownResource)?,
        )),
        ["apis", g, v] => get_only(json_response(
            200,
            &discovery::api_resource_list(g, v).ok_or(Error::UnknownResource)?,
        )),
        ["openapi", "v3"] => get_only(json_response(200, &discovery::openapi_index(prefix))),
        ["openapi", "v3", "api", "v1"] => get_only(json_response(
            200,
            &discovery::openapi_doc("").ok_or(Error::UnknownResource)?,
        )),
        ["openapi", "v3", "apis", g, "v1"] => get_only(json_response(
            200,
            &discovery::openapi_doc(g).ok_or(Error::UnknownResource)?,
        )),
        ["api", "v1", rest @ ..] => resource(st, method, uri, headers, "", "v1", rest, body).await,
        ["apis", g, v, rest @ ..] => resource(st, method, uri, headers, g, v, rest, body).await,
        _ => Err(Error::UnknownResource),
    }
}

/// The resource a URL addresses.
struct Addr {
    rt: &'static ResourceType,
    ns: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

fn parse_addr(group: &str, version: &str, rest: &[&str]) -> Result<Addr, Error> {
    let find = |plural: &str| lookup_gvr(group, version, plural).ok_or(Error::UnknownResource);
    let addr = match rest {
        ["namespaces", ns, plural, tail @ ..]
            if lookup_gvr(group, version, plural).is_some_and(|r| r.namespaced) =>
        {
            let rt = find(plural)?;
            match tail {
                [] => Addr {
                    rt,
                    ns: Some(ns.to_string()),
                    name: None,
                    sub: None,
                },
                [name] => Addr {
                    rt,
                    ns: Some(ns.to_string()),
                    name: Some(name.to_string()),
                    sub: None,
                },
                [name, sub] => Addr {
                    rt,
                    ns: Some(ns.to_string()),
                    name: Some(name.to_string()),
                    sub: Some(sub.to_string()),
                },
                _ => return Err(Error::UnknownResource),
            }
        }
        [plural] => Addr {
            rt: find(plural)?,
            ns: None,
            name: None,
            sub: None,
        },
        [plural, name] => {
            let rt = find(plural)?;
            if rt.namespaced {
                return Err(Error::UnknownResource);
            }
            Addr {
                rt,
                ns: None,
                name: Some(name.to_string()),
                sub: None,
            }
        }
        [plural, name, sub] => {
            let rt = find(plural)?;
            if rt.namespaced {
                return Err(Error::UnknownResource);
            }
            Addr {
                rt,
                ns: None,
                name: Some(name.to_string()),
                sub: Some(sub.to_string()),
            }
        }
        _ => return Err(Error::UnknownResource),
    };
    if let Some(sub) = &addr.sub
        && addr.rt.subresource(sub).is_none()
    {
        return Err(Error::UnknownResource);
    }
    Ok(addr)
}

fn parse_body(body: &Bytes) -> Result<Value, Error> {
    if body.is_empty() {
        return Err(Error::BadRequest("the request body is empty".into()));
    }
    serde_json::from_slice(body)
        .map_err(|e| Error::BadRequest(format!("error decoding request body as JSON: {e}")))
}

fn list_options(rt: &ResourceType, q: &Query) -> Result<ListOptions, Error> {
    let limit = match q.get("limit").filter(|v| !v.is_empty()) {
        None => 0,
        Some(v) => v
            .parse::<i64>()
            .map_err(|_| Error::BadRequest(format!("invalid limit: {v:?}")))?
            .max(0) as usize,
    };
    Ok(ListOptions {
        label: LabelSelector::parse(q.get("labelSelector").unwrap_or(""))?,
        field: FieldSelector::parse(rt, q.get("fieldSelector").unwrap_or(""))?,
        limit,
        continue_token: q.get("continue").map(str::to_string),
    })
}

/// Bodies of lists are produced in chunks of about this size, so a 30,000-pod list is on the
/// wire while the rest is still being written, and never held whole in memory (small enough
/// for the allocator to reuse heap memory rather than map fresh pages for each).
const LIST_CHUNK: usize = 64 << 10;

/// Lists with at least this many items get a helper on the blocking pool that prepares
/// (encodes) items from the end while the response is written from the start, so a list of
/// objects nothing has encoded yet is built by two cores.
const ENCODE_AHEAD_MIN: usize = 2_000;

/// A list response: `head`, each item written by `write` (comma-separated), `tail`. One that
/// fits in a chunk is sent with a Content-Length; a bigger one is streamed chunk by chunk,
/// each written when the connection wants it, with the runtime's cooperative budget consumed
/// between chunks so a huge list does not starve the other connections. `prepare` makes what
/// `write` will need of an item (its shared encodings) and may run ahead on another thread.
fn list_body<F, P>(
    ct: &'static str,
    head: Vec<u8>,
    page: ListPage,
    write: F,
    prepare: P,
    tail: &'static [u8],
) -> Response
where
    F: FnMut(&mut Vec<u8>, &Value, &Encoding) + Send + 'static,
    P: Fn(&Value, &Encoding) + Send + 'static,
{
    let mut chunks = ListChunks {
        head: Some(head),
        items: page.items.into(),
        encodings: page.encodings.into(),
        next: 0,
        write,
        tail,
        done: false,
        cursor: Arc::new(AtomicUsize::new(0)),
        stop: Arc::new(AtomicBool::new(false)),
    };
    if chunks.items.len() >= ENCODE_AHEAD_MIN {
        let (items, encodings) = (chunks.items.clone(), chunks.encodings.clone());
        let (cursor, stop) = (chunks.cursor.clone(), chunks.stop.clone());
        tokio::task::spawn_blocking(move || {
            for i in (0..items.len()).rev() {
                // Until it meets the writer (or the response is dropped).
                if stop.load(Ordering::Relaxed) || i <= cursor.load(Ordering::Relaxed) {
                    break;
                }
                prepare(&items[i], &encodings[i]);
            }
        });
    }
    let first = chunks.next_chunk().unwrap_or_default();
    if chunks.done {
        return bytes_response(200, ct, first);
    }
    let stream =
        futures_util::stream::unfold((Some(first), chunks), |(first, mut chunks)| async move {
            if let Some(f) = first {
                return Some((Ok::<_, Infallible>(Bytes::from(f)), (None, chunks)));
            }
            tokio::task::consume_budget().await;
            let c = chunks.next_chunk()?;
            Some((Ok(Bytes::from(c)), (None, chunks)))
        });
    let mut r = Response::new(Body::from_stream(stream));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, header::HeaderValue::from_static(ct));
    r
}

/// Pages a paging client (kubectl, a reflector) will most likely ask for next are prepared
/// on the blocking pool while the current one is sent: two pages' worth, so a 60-page
/// `kubectl get pods -A` finds each page's rows made while it read the previous one.
fn prepare_next_pages<P>(
    api: Arc<ApiServer>,
    rt: &'static ResourceType,
    ns: Option<&str>,
    opts: ListOptions,
    next: String,
    prepare: P,
) where
    P: Fn(&Value, &Encoding) + Send + 'static,
{
    let ns = ns.map(str::to_string);
    tokio::task::spawn_blocking(move || {
        let ahead = ListOptions {
            limit: opts.limit.saturating_mul(2),
            continue_token: Some(next),
            ..opts
        };
        // A token gone stale meanwhile just means nothing to prepare.
        if let Ok(page) = api.list(rt, ns.as_deref(), &ahead) {
            for (o, enc) in page.items.iter().zip(&page.encodings) {
                prepare(o, enc);
            }
        }
    });
}

struct ListChunks<F> {
    head: Option<Vec<u8>>,
    items: Arc<[Arc<Value>]>,
    encodings: Arc<[Arc<Encoding>]>,
    next: usize,
    write: F,
    tail: &'static [u8],
    done: bool,
    /// Shared with an encode-ahead helper: how far the writer got, and whether it is gone.
    cursor: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl<F> Drop for ListChunks<F> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl<F: FnMut(&mut Vec<u8>, &Value, &Encoding)> ListChunks<F> {
    fn next_chunk(&mut self) -> Option<Vec<u8>> {
        if self.done {
            return None;
        }
        let mut out = self
            .head
            .take()
            .unwrap_or_else(|| Vec::with_capacity(LIST_CHUNK + (LIST_CHUNK >> 2)));
        while self.next < self.items.len() && out.len() < LIST_CHUNK {
            if self.next > 0 {
                out.push(b',');
            }
            (self.write)(&mut out, &self.items[self.next], &self.encodings[self.next]);
            self.next += 1;
            self.cursor.store(self.next, Ordering::Relaxed);
        }
        if self.next == self.items.len() {
            out.extend_from_slice(self.tail);
            self.done = true;
        }
        Some(out)
    }
}

fn wants_table(accept: &str) -> bool {
    accept
        .split(',')
        .next()
        .is_some_and(|first| first.contains("as=Table") && first.contains("g=meta.k8s.io"))
}

fn list_kind_api_version(rt: &ResourceType) -> (String, String) {
    (format!("{}List", rt.kind), rt.api_version())
}

#[allow(clippy::too_many_arguments)]
async fn resource(
    st: &HttpState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    group: &str,
    version: &str,
    rest: &[&str],
    body: Bytes,
) -> Result<Response, Error> {
    let a = parse_addr(group, version, rest)?;
    let q = Query::parse(uri)?;
    let api = &st.api;
    let ns = a.ns.as_deref();
    let rt = a.rt;
    let accept = header_str(headers, header::ACCEPT);
    let table = wants_table(accept);
    let full_object = q.get("includeObject") == Some("Object");
    let dry_run = q.get("dryRun") == Some("All");
    match (method.clone(), a.name.as_deref(), a.sub.as_deref()) {
        (Method::GET, None, None) => {
            let opts = list_options(rt, &q)?;
            if q.flag("watch")? {
                return watch(st, rt, ns, &q, opts, table, full_object);
            }
            if q.get("resourceVersionMatch") == Some("Exact")
                && let Some(rv) = q.get("resourceVersion").and_then(|v| v.parse::<u64>().ok())
                && rv != api.resource_version()
            {
                return Err(Error::Expired(format!(
                    "too old resource version: {rv} ({})",
                    api.resource_version()
                )));
            }
            let page = api.list(rt, ns, &opts)?;
            let mut meta = json!({"resourceVersion": page.resource_version.to_string()});
            if let Some(c) = &page.continue_token {
                meta["continue"] = json!(c);
            }
            if let Some(r) = page.remaining {
                meta["remainingItemCount"] = json!(r);
            }
            let prepare = move |o: &Value, enc: &Encoding| {
                if table {
                    enc.cells(rt, o);
                }
                if !table || full_object {
                    enc.json(o);
                } else {
                    enc.metadata(o);
                }
            };
            if let Some(next) = page.continue_token.clone() {
                prepare_next_pages(api.clone(), rt, ns, opts, next, prepare);
            }
            if table {
                let now = api.now_ms();
                let mut head = Vec::new();
                table::write_head(&mut head, rt, &meta, true);
                return Ok(list_body(
                    TABLE_CONTENT_TYPE,
                    head,
                    page,
                    move |out, o, enc| table::write_row(out, rt, o, enc, now, full_object),
                    prepare,
                    table::TAIL,
                ));
            }
            let (kind, av) = list_kind_api_version(rt);
            let mut head =
                format!("{{\"kind\":\"{kind}\",\"apiVersion\":\"{av}\",\"metadata\":").into_bytes();
            serde_json::to_writer(&mut head, &meta).map_err(|e| Error::Internal(e.to_string()))?;
            head.extend_from_slice(b",\"items\":[");
            Ok(list_body(
                "application/json",
                head,
                page,
                |out, o, enc| out.extend_from_slice(enc.json(o)),
                prepare,
                b"]}",
            ))
        }
        (Method::GET, Some(name), None | Some("status")) => {
            let o = api.get_arc(rt, ns, name)?;
            if table {
                let mut t = Vec::new();
                table::write_head(
                    &mut t,
                    rt,
                    &json!({"resourceVersion": o["metadata"]["resourceVersion"]}),
                    true,
                );
                table::write_row(
                    &mut t,
                    rt,
                    &o,
                    &Encoding::default(),
                    api.now_ms(),
                    full_object,
                );
                t.extend_from_slice(table::TAIL);
                return Ok(bytes_response(200, TABLE_CONTENT_TYPE, t));
            }
            Ok(json_response(200, &o))
        }
        (Method::GET, Some(name), Some("scale")) => Ok(json_response(
            200,
            &api.get_scale(rt, ns.unwrap_or(""), name)?,
        )),
        (Method::GET, Some(name), Some("log")) => logs(st, ns.unwrap_or(""), name, &q),
        (Method::POST, None, None) => {
            if rt.namespaced && ns.is_none() {
                return Err(Error::MethodNotAllowed(
                    "the server does not allow this method on the requested resource".into(),
                ));
            }
            let obj = parse_body(&body)?;
            let created = api.create(rt, ns, obj, dry_run)?;
            Ok(json_response(201, &created))
        }
        (Method::POST, Some(name), Some("binding")) => {
            let b = parse_body(&body)?;
            let node = b["target"]["name"]
                .as_str()
                .filter(|n| !n.is_empty())
                .ok_or_else(|| Error::Invalid {
                    group: String::new(),
                    kind: "Binding".into(),
                    name: name.into(),
                    summary: "target.name: Required value".into(),
                    causes: vec![(
                        "target.name".into(),
                        "FieldValueRequired".into(),
                        "Required value".into(),
                    )],
                })?;
            api.bind(ns.unwrap_or(""), name, node)?;
            Ok(json_response(
                201,
                &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
            ))
        }
        (Method::POST, Some(name), Some("eviction")) => {
            // kube-rs sends no kind/apiVersion and snake_case fields: only the name matters.
            let b = if body.is_empty() {
                json!({})
            } else {
                parse_body(&body)?
            };
            if let Some(n) = b["metadata"]["name"].as_str()
                && !n.is_empty()
                && n != name
            {
                return Err(Error::BadRequest(
                    "name in URL does not match name in Eviction object".to_string(),
                ));
            }
            api.evict(ns.unwrap_or(""), name)?;
            Ok(json_response(
                201,
                &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
            ))
        }
        (Method::PUT, Some(name), None | Some("status")) => {
            let target = if a.sub.is_some() {
                Target::Status
            } else {
                Target::Main
            };
            let obj = parse_body(&body)?;
            Ok(json_response(200, &api.update(rt, ns, name, obj, target)?))
        }
        (Method::PUT, Some(name), Some("scale")) => {
            let obj = parse_body(&body)?;
            Ok(json_response(
                200,
                &api.set_scale(rt, ns.unwrap_or(""), name, &obj)?,
            ))
        }
        (Method::PATCH, Some(name), sub @ (None | Some("status") | Some("scale"))) => {
            let ptype = PatchType::from_content_type(header_str(headers, header::CONTENT_TYPE))?;
            let patch = parse_body(&body)?;
            if sub == Some("scale") {
                let mut scale = api.get_scale(rt, ns.unwrap_or(""), name)?;
                match ptype {
                    PatchType::Merge => crate::patch::merge_patch(&mut scale, &patch),
                    PatchType::Json => crate::patch::json_patch(&mut scale, &patch)?,
                    _ => crate::patch::strategic_merge(&mut scale, &patch)?,
                }
                return Ok(json_response(
                    200,
                    &api.set_scale(rt, ns.unwrap_or(""), name, &scale)?,
                ));
            }
            let target = if sub.is_some() {
                Target::Status
            } else {
                Target::Main
            };
            let (obj, created) =
                api.patch(rt, ns, name, ptype, &patch, target, q.get("fieldManager"))?;
            Ok(json_response(if created { 201 } else { 200 }, &obj))
        }
        (Method::DELETE, Some(name), None) => {
            let opts = if body.is_empty() {
                json!({})
            } else {
                parse_body(&body)?
            };
            let pre = &opts["preconditions"];
            let d = api.delete(
                rt,
                ns,
                name,
                (pre["uid"].as_str(), pre["resourceVersion"].as_str()),
            )?;
            let returns_object = matches!(
                (rt.group, rt.plural),
                ("", "pods" | "services" | "namespaces")
                    | ("apps", "deployments" | "replicasets" | "daemonsets")
            );
            if d.gone && !returns_object {
                return Ok(json_response(
                    200,
                    &json!({
                    "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                    "details": {"name": name, "group": rt.group, "kind": rt.plural, "uid": d.object["metadata"]["uid"]}}),
                ));
            }
            Ok(json_response(200, &d.object))
        }
        (Method::DELETE, None, None) => {
            let opts = list_options(rt, &q)?;
            let deleted = api.delete_collection(rt, ns, &opts)?;
            let (kind, av) = list_kind_api_version(rt);
            Ok(json_response(
                200,
                &json!({"kind": kind, "apiVersion": av,
                "metadata": {"resourceVersion": api.resource_version().to_string()}, "items": deleted}),
            ))
        }
        _ => Err(Error::MethodNotAllowed(
            "the server does not allow this method on the requested resource".into(),
        )),
    }
}

/// Whether a change is visible to a watcher, and as which event (an object that stops
/// matching the selectors leaves as DELETED, one that starts matching enters as ADDED).
fn classify(
    rt: &ResourceType,
    ns: Option<&str>,
    opts: &ListOptions,
    c: &Change,
) -> Option<EventType> {
    let matches = |o: &Value| {
        ns.is_none_or(|n| o["metadata"]["namespace"].as_str() == Some(n))
            && opts.label.matches(o)
            && opts.field.matches(rt, o)
    };
    let now = matches(&c.object);
    match c.kind {
        EventType::Added | EventType::Deleted => now.then_some(c.kind),
        EventType::Modified => match (c.prev.as_deref().is_some_and(matches), now) {
            (true, true) => Some(EventType::Modified),
            (false, true) => Some(EventType::Added),
            (true, false) => Some(EventType::Deleted),
            (false, false) => None,
        },
    }
}

fn expired_event(msg: &str) -> Bytes {
    let status = Error::Expired(msg.to_string()).to_status();
    line(&json!({"type": "ERROR", "object": status}))
}

fn line(v: &Value) -> Bytes {
    let mut b = serde_json::to_vec(v).unwrap_or_default();
    b.push(b'\n');
    Bytes::from(b)
}

fn stream_response(ct: &str, rx: mpsc::Receiver<Bytes>) -> Response {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    });
    let mut r = Response::new(Body::from_stream(stream));
    if let Ok(v) = ct.parse() {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

fn watch(
    st: &HttpState,
    rt: &'static ResourceType,
    ns: Option<&str>,
    q: &Query,
    opts: ListOptions,
    table: bool,
    full_object: bool,
) -> Result<Response, Error> {
    let bookmarks = q.flag("allowWatchBookmarks")?;
    let send_initial = q.flag("sendInitialEvents")?;
    if send_initial && (q.get("resourceVersionMatch") != Some("NotOlderThan") || !bookmarks) {
        return Err(Error::Invalid {
            group: "meta.k8s.io".into(),
            kind: "ListOptions.meta.k8s.io".into(),
            name: String::new(),
            summary: "resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan and allowWatchBookmarks".into(),
            causes: vec![("resourceVersionMatch".into(), "FieldValueForbidden".into(), "sendInitialEvents requires resourceVersionMatch=NotOlderThan".into())],
        });
    }
    let rv = match q.get("resourceVersion").filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(
            v.parse::<u64>()
                .map_err(|_| Error::BadRequest(format!("invalid resource version: {v:?}")))?,
        ),
    };
    let timeout = match q.get("timeoutSeconds").filter(|v| !v.is_empty()) {
        Some(v) => Duration::from_secs(
            v.parse()
                .map_err(|_| Error::BadRequest(format!("invalid timeoutSeconds: {v:?}")))?,
        ),
        // Real servers pick 30–60 min; `kubectl get -w` exits when the stream ends.
        None => Duration::from_secs(1800),
    };
    let start = if send_initial {
        st.api.watch(rt, ns, None)
    } else {
        st.api.watch(rt, ns, rv)
    };
    let stream = WatchStream {
        w: Watcher {
            rt,
            ns: ns.map(str::to_string),
            opts,
            table,
            full_object,
            first: true,
            api: st.api.clone(),
        },
        start: Some(start),
        initial: Vec::new(),
        next_initial: 0,
        initial_end_bookmark: send_initial,
        live: None,
        last_rv: 0,
        bookmarks,
        sent_final: false,
        deadline: Box::pin(tokio::time::sleep(timeout)),
        final_bookmark: Box::pin(tokio::time::sleep(
            timeout
                .checked_sub(Duration::from_secs(1))
                .unwrap_or(timeout),
        )),
        tick: tokio::time::interval_at(
            tokio::time::Instant::now() + Duration::from_secs(60),
            Duration::from_secs(60),
        ),
        done: false,
    };
    // The connection polls the stream itself: one task per watcher, woken by the change feed.
    let body = futures_util::stream::unfold(stream, |mut s| async move {
        s.next_frame().await.map(|b| (Ok::<_, Infallible>(b), s))
    });
    let mut r = Response::new(Body::from_stream(body));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(if table {
            TABLE_CONTENT_TYPE
        } else {
            "application/json"
        }),
    );
    Ok(r)
}

/// One watch: initial events (synthetic ADDED or a replay), the initial-events-end bookmark
/// when asked, then live changes, periodic bookmarks, and the end at the timeout. Each frame
/// carries every event already waiting (up to `BATCH_BYTES`).
struct WatchStream {
    w: Watcher,
    start: Option<crate::error::Result<crate::store::WatchStart>>,
    initial: Vec<Arc<Change>>,
    next_initial: usize,
    initial_end_bookmark: bool,
    live: Option<broadcast::Receiver<Arc<Change>>>,
    last_rv: u64,
    bookmarks: bool,
    sent_final: bool,
    deadline: std::pin::Pin<Box<tokio::time::Sleep>>,
    final_bookmark: std::pin::Pin<Box<tokio::time::Sleep>>,
    tick: tokio::time::Interval,
    done: bool,
}

impl WatchStream {
    async fn next_frame(&mut self) -> Option<Bytes> {
        if self.done {
            return None;
        }
        if let Some(start) = self.start.take() {
            match start {
                Ok(s) => {
                    self.initial = s.initial;
                    self.last_rv = s.rv;
                    self.live = Some(s.live);
                }
                Err(e) => {
                    self.done = true;
                    return Some(expired_event(&e.to_string()));
                }
            }
        }
        let mut batch = Batch::default();
        while self.next_initial < self.initial.len() && !batch.full() {
            let c = self.initial[self.next_initial].clone();
            self.next_initial += 1;
            if let Some(line) = self.w.line(&c) {
                batch.push(line);
            }
        }
        if let Some(b) = batch.take() {
            return Some(b);
        }
        if std::mem::take(&mut self.initial_end_bookmark) {
            return Some(self.w.bookmark(self.last_rv, true));
        }
        let live = self.live.as_mut()?;
        loop {
            tokio::select! {
                msg = live.recv() => {
                    // The changes already waiting go out in the same frame as this one: under
                    // a burst, one socket write carries many events.
                    let mut msg = msg.map_err(|e| match e {
                        broadcast::error::RecvError::Lagged(n) => TryRecvError::Lagged(n),
                        broadcast::error::RecvError::Closed => TryRecvError::Closed,
                    });
                    loop {
                        match msg {
                            Ok(c) => {
                                if c.rv > self.last_rv {
                                    self.last_rv = c.rv;
                                    if let Some(line) = self.w.line(&c) {
                                        batch.push(line);
                                    }
                                }
                            }
                            Err(TryRecvError::Empty) => break,
                            Err(TryRecvError::Lagged(_)) => {
                                self.done = true;
                                batch.push(expired_event(&format!(
                                    "too old resource version: {} ({})",
                                    self.last_rv,
                                    self.w.api.resource_version()
                                )));
                                return batch.take();
                            }
                            Err(TryRecvError::Closed) => {
                                self.done = true;
                                return batch.take();
                            }
                        }
                        if batch.full() {
                            break;
                        }
                        msg = live.try_recv();
                    }
                    if let Some(b) = batch.take() {
                        return Some(b);
                    }
                }
                _ = self.tick.tick(), if self.bookmarks => {
                    return Some(self.w.bookmark(self.last_rv, false));
                }
                _ = &mut self.final_bookmark, if self.bookmarks && !self.sent_final => {
                    self.sent_final = true;
                    return Some(self.w.bookmark(self.last_rv, false));
                }
                _ = &mut self.deadline => {
                    self.done = true;
                    return None;
                }
            }
        }
    }
}

struct Watcher {
    rt: &'static ResourceType,
    ns: Option<String>,
    opts: ListOptions,
    table: bool,
    full_object: bool,
    first: bool,
    api: Arc<ApiServer>,
}

/// Event lines waiting to be written together.
#[derive(Default)]
enum Batch {
    #[default]
    Empty,
    /// One line, still the shared bytes every watcher of the change sends.
    One(Bytes),
    Many(Vec<u8>),
}

/// A batch this big is written before more is added.
const BATCH_BYTES: usize = 256 << 10;

impl Batch {
    fn push(&mut self, line: Bytes) {
        *self = match std::mem::take(self) {
            Batch::Empty => Batch::One(line),
            Batch::One(first) => {
                let mut v = Vec::with_capacity((first.len() + line.len()) * 4);
                v.extend_from_slice(&first);
                v.extend_from_slice(&line);
                Batch::Many(v)
            }
            Batch::Many(mut v) => {
                v.extend_from_slice(&line);
                Batch::Many(v)
            }
        };
    }

    fn full(&self) -> bool {
        matches!(self, Batch::Many(v) if v.len() >= BATCH_BYTES)
    }

    /// The batch's bytes, leaving it empty; None if it was.
    fn take(&mut self) -> Option<Bytes> {
        match std::mem::take(self) {
            Batch::Empty => None,
            Batch::One(b) => Some(b),
            Batch::Many(v) => Some(Bytes::from(v)),
        }
    }
}

impl Watcher {
    /// The event line for the change, if this watcher sees it.
    fn line(&mut self, c: &Change) -> Option<Bytes> {
        if !std::ptr::eq(c.rt, self.rt) {
            return None;
        }
        let kind = classify(self.rt, self.ns.as_deref(), &self.opts, c)?;
        if !self.table {
            return Some(c.line(kind));
        }
        // A one-row Table; the column definitions ride on the first event only.
        let mut b = b"{\"object\":".to_vec();
        table::write_head(
            &mut b,
            self.rt,
            &json!({"resourceVersion": c.object["metadata"]["resourceVersion"]}),
            self.first,
        );
        table::write_row(
            &mut b,
            self.rt,
            &c.object,
            &c.json,
            self.api.now_ms(),
            self.full_object,
        );
        b.extend_from_slice(table::TAIL);
        b.extend_from_slice(b",\"type\":\"");
        b.extend_from_slice(kind.as_str().as_bytes());
        b.extend_from_slice(b"\"}\n");
        self.first = false;
        Some(Bytes::from(b))
    }

    /// A BOOKMARK event line at `rv`.
    fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        let mut meta = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let obj =
            json!({"kind": self.rt.kind, "apiVersion": self.rt.api_version(), "metadata": meta});
        line(&json!({"type": "BOOKMARK", "object": obj}))
    }
}

fn tail(text: &str, lines: Option<usize>) -> String {
    match lines {
        None => text.to_string(),
        Some(n) => {
            let all: Vec<&str> = text.split_inclusive('\n').collect();
            all[all.len().saturating_sub(n)..].concat()
        }
    }
}

fn logs(st: &HttpState, ns: &str, name: &str, q: &Query) -> Result<Response, Error> {
    let pods = crate::resources::lookup("", "pods").expect("pods are served");
    let pod = st.api.get(pods, Some(ns), name)?;
    let names: Vec<String> = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect();
    let container = match q.get("container").filter(|c| !c.is_empty()) {
        Some(c) if names.iter().any(|n| n == c) => c.to_string(),
        Some(c) => {
            return Err(Error::BadRequest(format!(
                "container {c} is not valid for pod {name}"
            )));
        }
        None if names.len() == 1 => names[0].clone(),
        None => {
            return Err(Error::BadRequest(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                names.join(" ")
            )));
        }
    };
    let tail_lines = q.get("tailLines").and_then(|v| v.parse::<usize>().ok());
    let text = st.api.log(ns, name, &container);
    let first = tail(&text, tail_lines);
    if !q.flag("follow")? {
        return Ok(bytes_response(200, "text/plain", first.into_bytes()));
    }
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    let api = st.api.clone();
    let (ns, name) = (ns.to_string(), name.to_string());
    tokio::spawn(async move {
        let mut sent = text.len();
        if !first.is_empty() && tx.send(Bytes::from(first)).await.is_err() {
            return;
        }
        // The simulated kubelet appends to the side table; following polls it until the pod goes.
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                _ = tx.closed() => return,
            }
            if api.get_arc(pods, Some(&ns), &name).is_err() {
                return;
            }
            let now = api.log(&ns, &name, &container);
            if now.len() > sent {
                let chunk = now[sent..].to_string();
                sent = now.len();
                if tx.send(Bytes::from(chunk)).await.is_err() {
                    return;
                }
            }
        }
    });
    Ok(stream_response("text/plain", rx))
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        error_response(&self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::resources::lookup;
    use crate::store::Config;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    const NOW: i64 = 1_700_000_000_000;

    /// A server with `n` pods over 3 namespaces, half of them with a running status.
    fn server(n: usize) -> (Router, Arc<ApiServer>) {
        let api = Arc::new(ApiServer::new(
            Arc::new(ManualClock::new(NOW)),
            Config::default(),
        ));
        let (pods, nss) = (
            lookup("", "pods").unwrap(),
            lookup("", "namespaces").unwrap(),
        );
        for ns in ["a", "b", "c"] {
            api.create(nss, None, json!({"metadata": {"name": ns}}), false)
                .unwrap();
        }
        for i in 0..n {
            let ns = ["a", "b", "c"][i % 3];
            let name = format!("p-{i:05}");
            api.create(
                pods,
                Some(ns),
                json!({"metadata": {"name": name, "labels": {"app": "w\"e\\b"}},
                "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "nginx"}]}}),
                false,
            )
            .unwrap();
            if i % 2 == 0 {
                api.patch(
                    pods,
                    Some(ns),
                    &name,
                    PatchType::Merge,
                    &json!({"status": {"phase": "Running", "podIP": "10.0.0.1",
                                       "containerStatuses": [{"ready": true, "restartCount": 1}]}}),
                    Target::Status,
                    None,
                )
                .unwrap();
            }
        }
        let app = router(HttpState {
            api: api.clone(),
            token: None,
        });
        (app, api)
    }

    async fn get(app: &Router, uri: &str, accept: &str) -> (bool, Vec<u8>) {
        let req = Request::builder()
            .uri(uri)
            .header("accept", accept)
            .body(Body::empty())
            .unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let sized = resp.headers().contains_key(header::CONTENT_LENGTH);
        let body = resp
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        (sized, body)
    }

    #[tokio::test]
    async fn a_big_list_streams_exactly_what_serializing_it_whole_gives() {
        let (app, api) = server(3_000);
        let pods = lookup("", "pods").unwrap();
        let page = api.list(pods, None, &ListOptions::default()).unwrap();
        let rv = page.resource_version.to_string();
        let items: Vec<Value> = page.items.iter().map(|o| (**o).clone()).collect();
        let want = json!({"kind": "PodList", "apiVersion": "v1",
                          "metadata": {"resourceVersion": rv}, "items": items});
        // Twice: the first encodes (with the helper running ahead), the second reuses.
        for _ in 0..2 {
            let (sized, body) = get(&app, "/api/v1/pods", "application/json").await;
            assert!(!sized, "a 3,000-pod list is streamed");
            let got: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(got, want);
        }
        let rows: Vec<Value> = page
            .items
            .iter()
            .map(|o| table::row(pods, o, NOW, false))
            .collect();
        let table = json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1",
                           "metadata": {"resourceVersion": rv},
                           "columnDefinitions": table::column_definitions(pods), "rows": rows});
        let (_, body) = get(&app, "/api/v1/pods", TABLE_CONTENT_TYPE).await;
        assert_eq!(body, serde_json::to_vec(&table).unwrap(), "byte for byte");
    }

    #[tokio::test]
    async fn pages_of_a_list_cover_it_once_in_order_with_counts_of_the_rest() {
        let (app, api) = server(1_234);
        let mut names = Vec::new();
        let mut uri = "/api/v1/namespaces/b/pods?limit=100".to_string();
        loop {
            let (sized, body) = get(&app, &uri, "application/json").await;
            assert!(sized, "a page fits in a chunk");
            let page: Value = serde_json::from_slice(&body).unwrap();
            let items = page["items"].as_array().unwrap();
            names.extend(
                items
                    .iter()
                    .map(|p| p["metadata"]["name"].as_str().unwrap().to_string()),
            );
            match page["metadata"]["continue"].as_str() {
                Some(c) => {
                    let total = api
                        .list(
                            lookup("", "pods").unwrap(),
                            Some("b"),
                            &ListOptions::default(),
                        )
                        .unwrap()
                        .items
                        .len();
                    assert_eq!(
                        page["metadata"]["remainingItemCount"].as_u64().unwrap() as usize,
                        total - names.len()
                    );
                    uri = format!("/api/v1/namespaces/b/pods?limit=100&continue={c}");
                }
                None => break,
            }
        }
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(names, sorted);
        assert_eq!(names.len(), 1_234 / 3 + usize::from(1_234 % 3 > 1));
    }

    #[tokio::test]
    async fn a_burst_reaches_a_watcher_in_order_as_whole_lines() {
        let (app, api) = server(0);
        let pods = lookup("", "pods").unwrap();
        let rv = api.resource_version();
        let req = Request::builder()
            .uri(format!(
                "/api/v1/pods?watch=true&resourceVersion={rv}&timeoutSeconds=5"
            ))
            .body(Body::empty())
            .unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        // Written while the watcher is not reading: they queue and go out batched.
        for i in 0..2_000 {
            api.create(
                pods,
                Some("a"),
                json!({"metadata": {"name": format!("w-{i:04}")},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]}}),
                false,
            )
            .unwrap();
        }
        let mut body = resp.into_body();
        let mut text = String::new();
        let mut lines = 0;
        while lines < 2_000 {
            let frame = body.frame().await.unwrap().unwrap();
            let chunk = frame.into_data().unwrap();
            assert!(chunk.ends_with(b"\n"), "chunks carry whole lines");
            text.push_str(std::str::from_utf8(&chunk).unwrap());
            lines = text.lines().count();
        }
        for (i, line) in text.lines().enumerate() {
            let ev: Value = serde_json::from_str(line).unwrap();
            assert_eq!(ev["type"], "ADDED");
            assert_eq!(ev["object"]["metadata"]["name"], format!("w-{i:04}"));
        }
    }
}
