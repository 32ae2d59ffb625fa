//! One request through the emulator, from bytes to bytes.
//!
//! ```text
//!  HTTP ─▶ decode (query, form body, headers) ─▶ authenticate ─▶ route (version → product)
//!       ─▶ permissions ─▶ fault? ─▶ ClientToken replay? ─▶ handler(world) ─▶ persist ─▶ JSON
//! ```

use crate::auth::{Authenticator, Incoming};
use crate::clock::Clock;
use crate::error::{ApiError, ApiResult};
use crate::faults::{Fault, Faults};
use crate::params::Params;
use crate::persist::StateFile;
use crate::reply::Reply;
use crate::world::{RememberedReply, Settings, World};
use crate::{ecs, ess};
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// The shared state behind every request.
pub struct Service {
    pub(crate) auth: Authenticator,
    pub(crate) faults: Faults,
    pub(crate) settings: Settings,
    pub(crate) clock: Box<dyn Clock>,
    pub(crate) world: Mutex<World>,
    pub(crate) state_file: Option<StateFile>,
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
        let outcome = self.process(method, uri, headers, body);
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

    fn process(&self, method: &Method, uri: &Uri, headers: &HeaderMap, body: &Bytes) -> Outcome {
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
        let product = match version.as_deref() {
            Some(ecs::VERSION) => "Ecs",
            Some(v) if ess::Shape::of_version(v).is_some() => "Ess",
            _ => "Unknown",
        };
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
        let result = self.authenticated(
            &incoming,
            action,
            version,
            Params::new(params.iter().cloned()),
        );
        Outcome { result, product }
    }

    fn authenticated(
        &self,
        incoming: &Incoming<'_>,
        action: Option<String>,
        version: Option<String>,
        params: Params,
    ) -> ApiResult<Reply> {
        let (key, _scheme) = self.auth.authenticate(incoming, wall_clock_ms())?;
        let action = action.ok_or_else(|| ApiError::missing("Action"))?;
        let version = version.ok_or_else(|| ApiError::missing("Version"))?;
        if key.read_only && !is_read_only(&action) {
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
                let _ = self.execute(&key_id, &action, &version, &params)?;
                return Err(ApiError::internal());
            }
            Fault::None => {}
        }
        self.execute(&key_id, &action, &version, &params)
    }

    /// Runs an action against the world, replaying the remembered reply for a reused ClientToken.
    fn execute(
        &self,
        key_id: &str,
        action: &str,
        version: &str,
        params: &Params,
    ) -> ApiResult<Reply> {
        let mut world = self.world.lock().unwrap_or_else(|e| e.into_inner());
        let now_ms = self.clock.now_ms();
        let token_key = params
            .get("ClientToken")
            .filter(|_| !is_read_only(action))
            .map(|token| format!("{key_id}/{action}/{token}"));
        if let Some(key) = &token_key
            && let Some(remembered) = world.replies.get(key)
        {
            return if remembered.fingerprint == params.fingerprint() {
                Ok(remembered.reply.clone())
            } else {
                Err(ApiError::new(
                    400,
                    "IdempotentParameterMismatch",
                    "The specified ClientToken was used before with different parameters.",
                ))
            };
        }
        let result = self.dispatch(&mut world, action, version, params, now_ms)?;
        if let Some(key) = token_key {
            world.replies.insert(
                key,
                RememberedReply {
                    fingerprint: params.fingerprint(),
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

    fn dispatch(
        &self,
        world: &mut World,
        action: &str,
        version: &str,
        params: &Params,
        now_ms: i64,
    ) -> ApiResult<Reply> {
        let handled = if version == ecs::VERSION {
            ecs::handle(
                action,
                world,
                &ecs::Call {
                    params,
                    settings: &self.settings,
                    now_ms,
                },
            )
        } else if let Some(shape) = ess::Shape::of_version(version) {
            ess::handle(
                action,
                world,
                &ess::Call {
                    params,
                    settings: &self.settings,
                    now_ms,
                    shape,
                },
            )
        } else {
            return Err(ApiError::new(
                400,
                "InvalidVersion",
                format!(
                    "Specified parameter Version is not valid: {version}. The emulator serves ECS 2014-05-26 and ESS 2014-08-28 / 2022-02-22."
                ),
            ));
        };
        handled.unwrap_or_else(|| {
            Err(ApiError::new(404, "InvalidAction.NotFound", format!("Specified api is not found, please check your url and method: {action} (version {version}).")))
        })
    }
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
    let body = serde_json::json!({
        "HostId": host,
        "Code": error.code,
        "Message": error.message,
        "Recommend": format!("https://api.aliyun.com/troubleshoot?q={}&product={product}&requestId={request_id}", error.code),
    });
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
