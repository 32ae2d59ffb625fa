//! The signed HTTP transport: one call = resolve endpoint → sign (V3) → send → retry → decode.
//!
//! ```text
//!   rpc(product, action, params) ─┐                       ┌─ fresh x-acs-date + nonce per attempt
//!   roa(product, action, method,  ├─▶ call ──▶ attempt ──▶┤  sign every header with signer::v3
//!       path, query, body)       ─┘    ▲  retry policy    └─ POST/GET… ──▶ status < 400 + JSON ⇒ T
//!                                      └── Throttled / Transient / transport, jittered backoff
//! ```
//!
//! RPC (ECS, ESS, ECI, SLB, VPC): `POST /`, every parameter in the query string, empty body; the
//! action and version travel only in the `x-acs-action`/`x-acs-version` headers. ROA (CS): the
//! method and path name the action, with an optional compact JSON body.
//!
//! Retrying a create is safe only because it carries a `ClientToken`: the typed APIs put one in
//! the parameters *before* the retry loop (see [`client_token`]), so every attempt of one
//! logical create sends the same token and the service creates the resource at most once.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
pub use reqwest::Method;
use reqwest::header::HeaderValue;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::credentials::{Chain, Credentials};
use crate::endpoint::{Endpoint, Endpoints, Product, validate_region};
use crate::error::{Error, Result, parse_retry_after};
use crate::params::Params;
use crate::retry::RetryPolicy;
use crate::signer::{self, SignableRequest};

const DEFAULT_USER_AGENT: &str = concat!("ackctl/", env!("CARGO_PKG_VERSION"));
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A client for the Alibaba Cloud OpenAPI, scoped to one region. Cheap to clone: clones share
/// one connection pool.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
    region: Arc<str>,
}

struct Shared {
    http: reqwest::Client,
    credentials: Credentials,
    endpoints: Endpoints,
    retry: RetryPolicy,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("region", &self.region)
            .field("endpoints", &self.shared.endpoints)
            .field("access_key_id", &self.shared.credentials.access_key_id)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Client`]. Unset credentials come from the [`Chain`]; an unset region from the
/// chain's region hint (`REGION_ID`…); unset endpoints from [`ENDPOINT_ENV`](crate::endpoint::ENDPOINT_ENV).
#[derive(Debug)]
pub struct ClientBuilder {
    credentials: Option<Credentials>,
    region: Option<String>,
    endpoint: Option<String>,
    endpoints: Option<Endpoints>,
    retry: RetryPolicy,
    user_agent: String,
    timeout: Duration,
    connect_timeout: Duration,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            credentials: None,
            region: None,
            endpoint: None,
            endpoints: None,
            retry: RetryPolicy::default(),
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }
}

impl ClientBuilder {
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Sends every product to this base URL (e.g. `http://127.0.0.1:9100`); validated by `build`.
    pub fn endpoint(mut self, base_url: impl Into<String>) -> Self {
        self.endpoint = Some(base_url.into());
        self
    }

    /// Uses these endpoints instead of reading the environment.
    pub fn endpoints(mut self, endpoints: Endpoints) -> Self {
        self.endpoints = Some(endpoints);
        self
    }

    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// The whole-request timeout of each attempt.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    pub fn build(self) -> Result<Client> {
        let (credentials, region_hint) = match self.credentials {
            Some(credentials) => (credentials, None),
            None => {
                let resolved = Chain::new().resolve()?;
                tracing::debug!(source = %resolved.source, "resolved Alibaba Cloud credentials");
                (resolved.credentials, resolved.region)
            }
        };
        let region = self.region.or(region_hint).ok_or_else(|| {
            Error::Config("no region: set one (e.g. cn-hangzhou) or export REGION_ID".to_owned())
        })?;
        validate_region(&region)?;
        let endpoints = match (self.endpoint, self.endpoints) {
            (Some(base), _) => Endpoints::with_override(&base)?,
            (None, Some(endpoints)) => endpoints,
            (None, None) => Endpoints::from_env()?,
        };
        let mut http = reqwest::Client::builder()
            .user_agent(self.user_agent)
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout);
        if endpoints.is_loopback_override() {
            http = http.no_proxy();
        }
        let http = http
            .build()
            .map_err(|e| Error::Config(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Client {
            shared: Arc::new(Shared {
                http,
                credentials,
                endpoints,
                retry: self.retry,
            }),
            region: region.into(),
        })
    }
}

/// The body of actions that answer with nothing but their request ID.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ack {
    pub request_id: String,
}

/// One logical call; attempts differ only in date and nonce.
struct Call<'a> {
    product: Product,
    action: &'a str,
    method: Method,
    path: &'a str,
    query: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Client {
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The region this client works in (sent as `RegionId` by the typed APIs).
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The same client, working in another region (sharing credentials and connections).
    pub fn with_region(&self, region: &str) -> Result<Self> {
        validate_region(region)?;
        Ok(Self {
            shared: Arc::clone(&self.shared),
            region: region.into(),
        })
    }

    /// Calls an RPC-style action: `POST /` with `params` in the query string.
    pub async fn rpc<T: DeserializeOwned>(
        &self,
        product: Product,
        action: &str,
        params: Params,
    ) -> Result<T> {
        self.call(Call {
            product,
            action,
            method: Method::POST,
            path: "/",
            query: params.into_pairs(),
            body: Vec::new(),
        })
        .await
    }

    /// Calls a ROA-style action (CS). `path` starts with `/` and is sent and signed as given,
    /// so the caller percent-encodes path parameters (`signer::percent_encode`).
    pub async fn roa<T: DeserializeOwned>(
        &self,
        product: Product,
        action: &str,
        method: Method,
        path: &str,
        query: Params,
        body: Option<serde_json::Value>,
    ) -> Result<T> {
        self.call(Call {
            product,
            action,
            method,
            path,
            query: query.into_pairs(),
            // `Value`'s Display is compact JSON, the form the SDKs sign.
            body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
        })
        .await
    }

    async fn call<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<T> {
        let endpoint = self.shared.endpoints.resolve(call.product, &self.region)?;
        let url = request_url(&endpoint, call.path, &call.query);
        let policy = self.shared.retry;
        let mut attempt = 1;
        loop {
            let error = match self.attempt(&call, &endpoint, &url, attempt).await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            if !policy.should_retry(attempt, &error) {
                return Err(error);
            }
            let delay = policy.delay(attempt, error.retry_after(), &mut rand::rng());
            tracing::debug!(
                action = call.action,
                attempt,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                error = %error,
                "retrying Alibaba Cloud call"
            );
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    async fn attempt<T: DeserializeOwned>(
        &self,
        call: &Call<'_>,
        endpoint: &Endpoint,
        url: &str,
        attempt: u32,
    ) -> Result<T> {
        let credentials = &self.shared.credentials;
        let headers = signed_headers(call, endpoint, credentials);
        let authorization = signer::v3::authorization(
            &SignableRequest {
                method: call.method.as_str(),
                path: call.path,
                query: &call.query,
                headers: &headers,
                body: &call.body,
            },
            &credentials.access_key_id,
            credentials.access_key_secret.expose_secret(),
        );
        let mut request = self.shared.http.request(call.method.clone(), url);
        for (name, value) in &headers {
            request = request.header(name, sensitive(name, value)?);
        }
        request = request.header("authorization", sensitive("authorization", &authorization)?);
        if !call.body.is_empty() {
            request = request.body(call.body.clone());
        }

        let transport = |source| Error::Transport {
            action: call.action.to_owned(),
            source,
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok());
        let request_id = header("x-acs-request-id").map(str::to_owned);
        let retry_after = header("x-acs-retry-after").and_then(parse_retry_after);
        let body = response.bytes().await.map_err(transport)?;
        tracing::debug!(
            product = %call.product,
            action = call.action,
            attempt,
            status,
            request_id = request_id.as_deref().unwrap_or("-"),
            "Alibaba Cloud call"
        );
        if status >= 400 {
            return Err(Error::from_response(
                call.action,
                status,
                &body,
                request_id.as_deref(),
                retry_after,
            ));
        }
        serde_json::from_slice(&body).map_err(|source| Error::Decode {
            action: call.action.to_owned(),
            source,
        })
    }
}

/// The headers V3 signs, every one of them sent. `user-agent` stays unsigned on purpose: proxies
/// rewrite it, and the signature need not depend on it.
fn signed_headers(
    call: &Call<'_>,
    endpoint: &Endpoint,
    credentials: &Credentials,
) -> Vec<(String, String)> {
    let mut headers = vec![
        ("accept", "application/json".to_owned()),
        ("host", endpoint.host.clone()),
        ("x-acs-action", call.action.to_owned()),
        ("x-acs-version", call.product.version().to_owned()),
        ("x-acs-date", now_iso8601()),
        ("x-acs-signature-nonce", nonce()),
        ("x-acs-content-sha256", signer::sha256_hex(&call.body)),
    ];
    if !call.body.is_empty() {
        headers.push(("content-type", "application/json; charset=utf-8".to_owned()));
    }
    if let Some(token) = &credentials.security_token {
        headers.push(("x-acs-accesskey-id", credentials.access_key_id.clone()));
        headers.push(("x-acs-security-token", token.expose_secret().to_owned()));
    }
    headers
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
}

/// A header value, marked sensitive when it carries a secret so that no HTTP-layer logging
/// shows it. Fails when user data (an access key ID, a token) holds bytes HTTP forbids.
fn sensitive(name: &str, value: &str) -> Result<HeaderValue> {
    let mut header = HeaderValue::from_str(value).map_err(|_| {
        Error::Credentials(format!(
            "the {name} header would contain characters HTTP does not allow; check the access key ID and token"
        ))
    })?;
    header.set_sensitive(matches!(name, "authorization" | "x-acs-security-token"));
    Ok(header)
}

/// `{base}{path}?{k=v&…}`, built by hand with the signer's RFC 3986 encoding so that what the
/// server decodes is byte for byte what we signed (no second encoder in between).
fn request_url(endpoint: &Endpoint, path: &str, query: &[(String, String)]) -> String {
    let mut url = format!("{}{path}", endpoint.base);
    for (n, (key, value)) in query.iter().enumerate() {
        url.push(if n == 0 { '?' } else { '&' });
        url.push_str(&signer::percent_encode(key));
        url.push('=');
        url.push_str(&signer::percent_encode(value));
    }
    url
}

fn now_iso8601() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// 32 random hex characters, fresh for every attempt (the server rejects a replayed nonce).
fn nonce() -> String {
    hex::encode(rand::rng().random::<[u8; 16]>())
}

/// A fresh idempotency token for a create, in UUID v4 form. Generate it once per logical
/// create (or persist it with the operation) and reuse it for every retry.
pub fn client_token() -> String {
    let mut bytes: [u8; 16] = rand::rng().random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The caller's token (persisted with its operation, to survive restarts) or a fresh one.
pub(crate) fn token_or_fresh(token: Option<&str>) -> String {
    token.map_or_else(client_token, str::to_owned)
}

/// Collects every page of a `PageNumber`/`PageSize` listing. `fetch(page_number)` returns the
/// page's items and the service's `TotalCount`; pages are numbered from 1.
pub async fn paginate_pages<T, F, Fut>(page_size: u32, mut fetch: F) -> Result<Vec<T>>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, u64)>>,
{
    let mut all = Vec::new();
    let mut page_number = 1;
    loop {
        let (items, total_count) = fetch(page_number).await?;
        let received = items.len();
        all.extend(items);
        let collected = u64::try_from(all.len()).unwrap_or(u64::MAX);
        let done = if total_count > 0 {
            collected >= total_count
        } else {
            // No total reported: a short page is the last one.
            received < usize::try_from(page_size).unwrap_or(usize::MAX)
        };
        // An empty page ends the listing even if the total promised more.
        if done || received == 0 {
            return Ok(all);
        }
        page_number += 1;
    }
}

/// A listing request paged by `PageNumber`/`PageSize`.
pub trait PagedRequest: Clone {
    /// The page size the caller asked for, if any.
    fn page_size(&self) -> Option<u32>;
    /// This request, for page `number` of `size` items.
    fn page(&self, number: u32, size: u32) -> Self;
}

/// Implements [`PagedRequest`] for request structs with `page_number` and `page_size` fields.
macro_rules! paged_request {
    ($($request:ty),+ $(,)?) => {$(
        impl $crate::client::PagedRequest for $request {
            fn page_size(&self) -> Option<u32> {
                self.page_size
            }
            fn page(&self, number: u32, size: u32) -> Self {
                Self {
                    page_number: Some(number),
                    page_size: Some(size),
                    ..self.clone()
                }
            }
        }
    )+};
}
pub(crate) use paged_request;

/// Collects every page of `request`, in pages of the size it asks for or else `max_page_size`.
/// `fetch(page)` returns the page's items and the service's total count.
pub async fn paginate_request<R, T, F, Fut>(
    request: &R,
    max_page_size: u32,
    mut fetch: F,
) -> Result<Vec<T>>
where
    R: PagedRequest,
    F: FnMut(R) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, u64)>>,
{
    let size = request.page_size().unwrap_or(max_page_size);
    paginate_pages(size, |number| fetch(request.page(number, size))).await
}

/// Collects every page of a `NextToken` listing. `fetch(token)` gets `None` for the first page
/// and returns the items with the next token (absent or empty on the last page).
pub async fn paginate_tokens<T, F, Fut>(mut fetch: F) -> Result<Vec<T>>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, Option<String>)>>,
{
    let mut all = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let (items, next) = fetch(token.clone()).await?;
        all.extend(items);
        match next.filter(|next| !next.is_empty()) {
            // A token that repeats would loop forever; treat it as the end.
            Some(next) if token.as_deref() != Some(next.as_str()) => token = Some(next),
            _ => return Ok(all),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::ready;

    use super::*;

    fn test_client() -> Client {
        Client::builder()
            .credentials(Credentials::new("testid", "testsecret"))
            .region("cn-hangzhou")
            .endpoint("http://127.0.0.1:9")
            .build()
            .expect("builds")
    }

    fn call<'a>(body: &'a str) -> Call<'a> {
        Call {
            product: Product::Ecs,
            action: "DescribeRegions",
            method: Method::POST,
            path: "/",
            query: Vec::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn names(headers: &[(String, String)]) -> Vec<&str> {
        headers.iter().map(|(k, _)| k.as_str()).collect()
    }

    #[test]
    fn the_wire_query_is_rfc3986_encoded_in_key_order() {
        let endpoint = Endpoints::with_override("http://127.0.0.1:9100")
            .expect("valid")
            .resolve(Product::Ecs, "cn-hangzhou")
            .expect("resolves");
        let query = Params::new()
            .put("Tag.1.Value", "a b*~/")
            .put("RegionId", "cn-hangzhou")
            .put_json("InstanceIds", &["i-1"])
            .into_pairs();
        assert_eq!(
            request_url(&endpoint, "/", &query),
            "http://127.0.0.1:9100/?InstanceIds=%5B%22i-1%22%5D&RegionId=cn-hangzhou&Tag.1.Value=a%20b%2A~%2F"
        );
        assert_eq!(request_url(&endpoint, "/", &[]), "http://127.0.0.1:9100/");
    }

    #[test]
    fn the_wire_query_decodes_to_exactly_the_signed_pairs() {
        let endpoint = Endpoints::public()
            .resolve(Product::Ecs, "cn-beijing")
            .expect("resolves");
        let query = Params::new()
            .put("Name", "ünïcode & = + %20")
            .put("Tags", r#"{"a":"b c"}"#)
            .into_pairs();
        let url = request_url(&endpoint, "/", &query);
        let (_, wire) = url.split_once('?').expect("has a query");
        assert_eq!(signer::form_decode(wire), query);
    }

    #[test]
    fn v3_signs_the_common_headers_and_nothing_secret_is_sent_in_clear_text() {
        let creds = Credentials::new("testid", "testsecret");
        let endpoint = Endpoints::public()
            .resolve(Product::Ecs, "cn-beijing")
            .expect("resolves");
        let headers = signed_headers(&call(""), &endpoint, &creds);
        assert_eq!(
            names(&headers),
            [
                "accept",
                "host",
                "x-acs-action",
                "x-acs-version",
                "x-acs-date",
                "x-acs-signature-nonce",
                "x-acs-content-sha256",
            ]
        );
        let get = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .expect(name)
        };
        assert_eq!(get("host"), "ecs.cn-beijing.aliyuncs.com");
        assert_eq!(get("x-acs-version"), "2014-05-26");
        assert_eq!(
            get("x-acs-content-sha256"),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(headers.iter().all(|(_, v)| !v.contains("testsecret")));
    }

    #[test]
    fn sts_credentials_and_json_bodies_add_their_headers() {
        let creds = Credentials::new("STS.id", "secret").with_security_token("tok");
        let endpoint = Endpoints::public()
            .resolve(Product::Cs, "cn-beijing")
            .expect("resolves");
        let headers = signed_headers(&call(r#"{"count":2}"#), &endpoint, &creds);
        let names = names(&headers);
        for name in ["content-type", "x-acs-accesskey-id", "x-acs-security-token"] {
            assert!(names.contains(&name), "{name} in {names:?}");
        }
        let sha = headers
            .iter()
            .find(|(k, _)| k == "x-acs-content-sha256")
            .map(|(_, v)| v.as_str());
        assert_eq!(
            sha,
            Some("57413ce83ee1d989e384dfd3a82c6e2d9052a23c4204706bd2d7df11aa4c2d7c")
        );
    }

    #[test]
    fn dates_are_utc_seconds_and_nonces_are_fresh_hex() {
        let date = now_iso8601();
        assert_eq!(date.len(), 20, "{date}");
        assert!(date.ends_with('Z') && date.as_bytes()[10] == b'T', "{date}");
        let (a, b) = (nonce(), nonce());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn client_tokens_are_fresh_uuid_v4_strings() {
        let token = client_token();
        let groups: Vec<usize> = token.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{token}");
        assert_eq!(token.as_bytes()[14], b'4', "version nibble: {token}");
        assert_ne!(token, client_token());
    }

    #[test]
    fn a_caller_token_is_kept_and_a_missing_one_is_made() {
        assert_eq!(token_or_fresh(Some("op-42")), "op-42");
        assert_eq!(token_or_fresh(None).len(), 36);
    }

    #[test]
    fn secrets_are_marked_sensitive_and_bad_header_bytes_are_reported() {
        assert!(
            sensitive("authorization", "x")
                .expect("valid")
                .is_sensitive()
        );
        assert!(
            !sensitive("x-acs-action", "x")
                .expect("valid")
                .is_sensitive()
        );
        let err = sensitive("x-acs-accesskey-id", "bad\nid").expect_err("newline");
        assert!(matches!(err, Error::Credentials(_)));
    }

    #[test]
    fn a_client_needs_a_region() {
        let err = Client::builder()
            .credentials(Credentials::new("a", "b"))
            .endpoints(Endpoints::public())
            .build()
            .expect_err("no region");
        assert!(err.to_string().contains("region"), "{err}");
        let err = Client::builder()
            .credentials(Credentials::new("a", "b"))
            .region("not a region")
            .endpoints(Endpoints::public())
            .build()
            .expect_err("bad region");
        assert!(matches!(err, Error::Config(_)));
    }

    #[test]
    fn a_bad_endpoint_override_fails_the_build() {
        let err = Client::builder()
            .credentials(Credentials::new("a", "b"))
            .region("cn-hangzhou")
            .endpoint("127.0.0.1:9100")
            .build()
            .expect_err("no scheme");
        assert!(matches!(err, Error::InvalidEndpoint { .. }));
    }

    #[test]
    fn clients_for_other_regions_share_everything_else() {
        let client = test_client();
        let other = client.with_region("eu-central-1").expect("valid");
        assert_eq!(client.region(), "cn-hangzhou");
        assert_eq!(other.region(), "eu-central-1");
        assert!(Arc::ptr_eq(&client.shared, &other.shared));
        assert!(client.with_region("EU").is_err());
        assert!(!format!("{client:?}").contains("testsecret"));
    }

    #[test]
    fn calls_and_listings_can_be_spawned_on_a_multi_threaded_runtime() {
        fn assert_send<T: Send>(_: T) {}
        let client = test_client();
        assert_send(client.rpc::<Ack>(Product::Ecs, "DescribeRegions", Params::new()));
        assert_send(client.ecs().describe_all_instances(&Default::default()));
        assert_send(
            client
                .ecs()
                .describe_all_instance_types(&Default::default()),
        );
        assert_send(
            client
                .ess()
                .describe_all_scaling_instances(&Default::default()),
        );
    }

    #[tokio::test]
    async fn an_unreachable_endpoint_is_a_retryable_transport_error() {
        let client = Client::builder()
            .credentials(Credentials::new("a", "b"))
            .region("cn-hangzhou")
            .endpoint("http://127.0.0.1:9")
            .retry(RetryPolicy::never())
            .build()
            .expect("builds");
        let err = client
            .rpc::<Ack>(Product::Ecs, "DescribeRegions", Params::new())
            .await
            .expect_err("nothing listens on port 9");
        assert!(matches!(err, Error::Transport { .. }), "{err:?}");
        assert!(err.is_retryable());
    }

    #[tokio::test]
    async fn page_listings_stop_at_the_total_count() {
        let mut requested = Vec::new();
        let all = paginate_pages(2, |page| {
            requested.push(page);
            let items: Vec<u32> = match page {
                1 => vec![1, 2],
                2 => vec![3, 4],
                3 => vec![5],
                _ => vec![99],
            };
            ready(Ok((items, 5)))
        })
        .await
        .expect("pages");
        assert_eq!(all, [1, 2, 3, 4, 5]);
        assert_eq!(requested, [1, 2, 3]);
    }

    #[tokio::test]
    async fn page_listings_without_a_total_stop_at_a_short_or_empty_page() {
        let all = paginate_pages(2, |page| {
            let items: Vec<u32> = if page == 1 { vec![1, 2] } else { vec![3] };
            ready(Ok((items, 0)))
        })
        .await
        .expect("pages");
        assert_eq!(all, [1, 2, 3]);

        let all = paginate_pages(2, |page| {
            let items: Vec<u32> = if page == 1 { vec![1, 2] } else { Vec::new() };
            ready(Ok((items, 10)))
        })
        .await
        .expect("pages");
        assert_eq!(all, [1, 2], "an empty page ends a listing whose total lied");
    }

    #[tokio::test]
    async fn page_listing_errors_propagate() {
        let result =
            paginate_pages::<u32, _, _>(2, |_| ready(Err(Error::Config("boom".into())))).await;
        assert!(result.is_err());
    }

    #[tokio::test]
    async fn token_listings_follow_next_tokens_until_there_is_none() {
        let mut seen = Vec::new();
        let all = paginate_tokens(|token| {
            seen.push(token.clone());
            let page = match token.as_deref() {
                None => (vec!["a"], Some("t1".to_owned())),
                Some("t1") => (vec!["b"], Some("t2".to_owned())),
                _ => (vec!["c"], Some(String::new())),
            };
            ready(Ok(page))
        })
        .await
        .expect("pages");
        assert_eq!(all, ["a", "b", "c"]);
        assert_eq!(seen, [None, Some("t1".into()), Some("t2".into())]);
    }

    #[tokio::test]
    async fn a_repeated_next_token_ends_the_listing() {
        let mut calls = 0;
        let all = paginate_tokens(|_| {
            calls += 1;
            ready(Ok((vec![calls], Some("same".to_owned()))))
        })
        .await
        .expect("pages");
        assert_eq!(all, [1, 2]);
    }
}
