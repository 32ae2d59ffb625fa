//! One request through the emulator, from bytes to bytes.
//!
//! ```text
//!  HTTP ─▶ decode (query, form body, headers) ─▶ authenticate ─▶ route (version → product)
//!       ─▶ permissions ─▶ fault? ─▶ ClientToken replay? ─▶ handler(world) ─▶ persist ─▶ JSON
//! ```

use crate::auth::{Authenticator, Incoming};
use crate::call::Call;
use crate::clock::Clock;
use crate::error::{ApiError, ApiResult};
use crate::faults::{Fault, Faults};
use crate::kube::{ClusterApi, KubeApis};
use crate::params::Params;
use crate::persist::StateFile;
use crate::reply::Reply;
use crate::tls::Identity;
use crate::world::{RememberedReply, Settings, World};
use crate::{cs, eci, ecs, ess, slb, vpc};
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use kube_emu::Machine;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// The shared state behind every request.
pub struct Service {
    pub(crate) auth: Authenticator,
    pub(crate) faults: Faults,
    pub(crate) settings: Settings,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) world: Mutex<World>,
    pub(crate) state_file: Option<StateFile>,
    /// The emulator's CA and certificates, for HTTPS.
    pub(crate) tls: Arc<Identity>,
    /// The clusters' Kubernetes sides.
    pub(crate) kube: KubeApis,
    /// Starts the background reconcile passes once.
    pub(crate) ticker: std::sync::Once,
}

/// A request's outcome before it becomes HTTP.
struct Outcome {
    result: ApiResult<Reply>,
    product: &'static str,
}

fn request_id() -> String {
    let n: u128 = rand::random();
    let h = format!("{n:032X}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn wall_clock_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn is_read_only(action: &str) -> bool {
    action.starts_with("Describe") || action.starts_with("List")
}

impl Service {
    /// Gives every cluster that exists a Kubernetes side, drops those of deleted ones, and
    /// returns each with its machines.
    pub fn sync_kube(&self) -> Vec<(Arc<ClusterApi>, Vec<Machine>)> {
        let world = self.world.lock().unwrap_or_else(|e| e.into_inner());
        self.kube.sync(&world, &self.settings, self.clock.now_ms())
    }

    /// One pass of every cluster's kubelets, scheduler and controllers. The world is only
    /// locked while the machines are read, so cloud calls are not held up by the pass.
    pub fn reconcile_kube(&self) {
        for (cluster, machines) in self.sync_kube() {
            cluster.reconcile(&machines);
        }
    }

    /// Serves one HTTP request.
    pub fn respond(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &Bytes,
    ) -> Response {
        let request_id = request_id();
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1")
            .to_owned();
        let started = std::time::Instant::now();
        let outcome = self.process(method, uri, headers, body, &host);
        let response = match outcome.result {
            Ok(reply) => json_response(
                StatusCode::OK,
                reply.with_request_id(&request_id),
                &request_id,
            ),
            Err(error) => {
                tracing::debug!(code = %error.code, status = error.status, message = %error.message, "request refused");
                error_response(&error, &request_id, &host, outcome.product)
            }
        };
        tracing::debug!(%request_id, status = response.status().as_u16(), elapsed_us = started.elapsed().as_micros() as u64, "request served");
        response
    }

    fn process(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &Bytes,
        host: &str,
    ) -> Outcome {
        let header_pairs: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let query = aliyun_signer::form_decode(uri.query().unwrap_or(""));
        let mut params = query.clone();
        let is_form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if is_form {
            params.extend(aliyun_signer::form_decode(&String::from_utf8_lossy(body)));
        }
        let find = |header: &str, param: &str| {
            header_pairs
                .iter()
                .find(|(k, _)| k == header)
                .or_else(|| params.iter().find(|(k, _)| k == param))
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
        };
        let (action, version) = (
            find("x-acs-action", "Action"),
            find("x-acs-version", "Version"),
        );
        let product = product_of(version.as_deref());
        // ROA (CS) names its action by method and path; RPC by the Action parameter or header.
        let route = (version.as_deref() == Some(cs::VERSION))
            .then(|| cs::route(method.as_str(), uri.path()))
            .flatten();
        let action = route.as_ref().map(|r| r.action.to_owned()).or(action);
        let incoming = Incoming {
            request: aliyun_signer::SignableRequest {
                method: method.as_str(),
                path: uri.path(),
                query: &query,
                headers: &header_pairs,
                body,
            },
            params: &params,
        };
        let result = self.authenticated(&incoming, action, version, route, host);
        Outcome { result, product }
    }

    fn authenticated(
        &self,
        incoming: &Incoming<'_>,
        action: Option<String>,
        version: Option<String>,
        route: Option<cs::Route>,
        host: &str,
    ) -> ApiResult<Reply> {
        let (key, _scheme) = self.auth.authenticate(incoming, wall_clock_ms())?;
        let action = action.ok_or_else(|| ApiError::missing("Action"))?;
        let version = version.ok_or_else(|| ApiError::missing("Version"))?;
        let request = Request {
            host: host.to_owned(),
            body: if route.is_some() {
                json_body(incoming.request.body)?
            } else {
                serde_json::Value::Null
            },
            action,
            version,
            route,
            params: Params::new(incoming.params.iter().cloned()),
        };
        if key.read_only && !is_read_only(&request.action) {
            return Err(ApiError::forbidden(
                "Forbidden.RAM",
                format!(
                    "User not authorized to operate on the specified resource, or this API doesn't support RAM: {} may only call Describe actions.",
                    key.id
                ),
            ));
        }
        let key_id = key.id.clone();
        match self.faults.draw() {
            Fault::Throttle => {
                return Err(ApiError::throttled(self.faults.config().retry_after_ms));
            }
            Fault::FailBefore => return Err(ApiError::internal()),
            Fault::FailAfter => {
                let _ = self.execute(&key_id, &request)?;
                return Err(ApiError::internal());
            }
            Fault::None => {}
        }
        self.execute(&key_id, &request)
    }

    /// Runs an action against the world, replaying the remembered reply for a reused ClientToken.
    fn execute(&self, key_id: &str, request: &Request) -> ApiResult<Reply> {
        let mut world = self.world.lock().unwrap_or_else(|e| e.into_inner());
        let now_ms = self.clock.now_ms();
        let action = request.action.as_str();
        let token_key = request
            .client_token()
            .filter(|_| !is_read_only(action))
            .map(|token| format!("{key_id}/{action}/{token}"));
        if let Some(key) = &token_key
            && let Some(remembered) = world.replies.get(key)
        {
            return if remembered.fingerprint == request.fingerprint() {
                Ok(remembered.reply.clone())
            } else {
                Err(ApiError::new(
                    400,
                    "IdempotentParameterMismatch",
                    "The specified ClientToken was used before with different parameters.",
                ))
            };
        }
        let result = self.dispatch(&mut world, request, now_ms)?;
        if let Some(key) = token_key {
            world.replies.insert(
                key,
                RememberedReply {
                    fingerprint: request.fingerprint(),
                    reply: result.clone(),
                },
            );
        }
        if !is_read_only(action)
            && let Some(file) = &self.state_file
        {
            file.save(&world).map_err(|e| {
                tracing::error!(error = %e, "could not persist emulator state");
                ApiError::internal()
            })?;
        }
        Ok(result)
    }

    fn dispatch(&self, world: &mut World, request: &Request, now_ms: i64) -> ApiResult<Reply> {
        let (action, version) = (request.action.as_str(), request.version.as_str());
        if let Some(route) = &request.route {
            return cs::handle(
                world,
                &cs::RoaCall {
                    route,
                    query: &request.params,
                    body: &request.body,
                    host: &request.host,
                    settings: &self.settings,
                    now_ms,
                    ca_pem: self.tls.ca_pem(),
                },
            );
        }
        let call = Call {
            params: &request.params,
            settings: &self.settings,
            now_ms,
        };
        let handled = match version {
            ecs::VERSION => {
                ecs::handle(action, world, &call).or_else(|| vpc::handle_ecs(action, world, &call))
            }
            vpc::VERSION => vpc::handle(action, world, &call),
            slb::VERSION => slb::handle(action, world, &call),
            eci::VERSION => eci::handle(action, world, &call),
            cs::VERSION => None,
            _ => match ess::Shape::of_version(version) {
                Some(shape) => ess::handle(
                    action,
                    world,
                    &ess::Call {
                        params: &request.params,
                        settings: &self.settings,
                        now_ms,
                        shape,
                    },
                ),
                None => {
                    return Err(ApiError::new(
                        400,
                        "InvalidVersion",
                        format!(
                            "Specified parameter Version is not valid: {version}. The emulator serves ECS {}, ESS 2014-08-28 / 2022-02-22, VPC {}, SLB {}, ECI {} and CS {}.",
                            ecs::VERSION,
                            vpc::VERSION,
                            slb::VERSION,
                            eci::VERSION,
                            cs::VERSION
                        ),
                    ));
                }
            },
        };
        handled.unwrap_or_else(|| {
            Err(ApiError::new(404, "InvalidAction.NotFound", format!("Specified api is not found, please check your url and method: {action} (version {version}).")))
        })
    }
}

/// One authenticated request, decoded.
struct Request {
    /// The `host[:port]` the caller used.
    host: String,
    action: String,
    version: String,
    /// The CS route, for ROA requests.
    route: Option<cs::Route>,
    /// Query plus form parameters.
    params: Params,
    /// The JSON body of a ROA request; `null` otherwise.
    body: serde_json::Value,
}

impl Request {
    /// The idempotency token: `ClientToken` for RPC, `client_token` in a ROA body.
    fn client_token(&self) -> Option<&str> {
        self.params
            .get("ClientToken")
            .or_else(|| self.body.get("client_token").and_then(|v| v.as_str()))
            .filter(|t| !t.is_empty())
    }

    /// What was asked, without volatile parameters.
    fn fingerprint(&self) -> String {
        if self.body.is_null() {
            self.params.fingerprint()
        } else {
            format!("{}|{}", self.params.fingerprint(), self.body)
        }
    }
}

fn product_of(version: Option<&str>) -> &'static str {
    match version {
        Some(ecs::VERSION) => "Ecs",
        Some(vpc::VERSION) => "Vpc",
        Some(slb::VERSION) => "Slb",
        Some(eci::VERSION) => "Eci",
        Some(cs::VERSION) => "CS",
        Some(v) if ess::Shape::of_version(v).is_some() => "Ess",
        _ => "Unknown",
    }
}

/// A ROA body: empty means none; anything else must be JSON.
fn json_body(body: &[u8]) -> ApiResult<serde_json::Value> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Value::Null);
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            400,
            "InvalidParameter",
            format!("The request body is not valid JSON: {e}"),
        )
    })
}

fn json_response(status: StatusCode, body: Vec<u8>, request_id: &str) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=utf-8"),
    );
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert("x-acs-request-id", id);
    }
    response
}

fn error_response(error: &ApiError, request_id: &str, host: &str, product: &str) -> Response {
    // CS answers in its own lower-case style; the SDKs read either case.
    let body = if product == "CS" {
        serde_json::json!({"code": error.code, "message": error.message, "requestId": request_id})
    } else {
        serde_json::json!({
        "HostId": host,
        "Code": error.code,
        "Message": error.message,
        "Recommend": format!("https://api.aliyun.com/troubleshoot?q={}&product={product}&requestId={request_id}", error.code),
        })
    };
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = json_response(
        status,
        Reply::from(body).with_request_id(request_id),
        request_id,
    );
    if let Some(ms) = error.retry_after_ms {
        response
            .headers_mut()
            .insert("x-acs-retry-after", HeaderValue::from(ms));
    }
    response
}
