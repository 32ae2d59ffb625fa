//! A client of the ackctl server's REST API (the Pipeline-style `/api/v1`), as `ackctl up` and
//! the cluster commands use it: a bearer token, JSON in and out, and the server's
//! `{code, message}` errors turned into messages that name the call.

use anyhow::Context as _;
use reqwest::Method;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The server at `base` (e.g. `http://127.0.0.1:8080`) with one token.
#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

/// A stored secret, without its values.
#[derive(Debug, Clone, Deserialize)]
pub struct Secret {
    pub id: String,
    pub name: String,
}

/// A cluster as the server reports it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cluster {
    pub id: i64,
    pub name: String,
    /// `CREATING`, `RUNNING`, `UPDATING`, `WARNING`, `ERROR`, `DELETING`, `DELETED`.
    pub status: String,
    #[serde(default)]
    pub status_message: String,
    #[serde(default)]
    pub cloud_cluster_id: Option<String>,
}

#[derive(Deserialize)]
struct ClusterList<T> {
    clusters: Vec<T>,
    next: Option<i64>,
}

/// The answer to a request that started an operation.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Accepted {
    pub id: i64,
    pub operation_id: i64,
}

impl ApiClient {
    /// A client of the server at `base` presenting `token`.
    pub fn new(base: &str, token: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
        }
    }

    pub(crate) async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<reqwest::Response> {
        let url = format!("{}{path}", self.base);
        let mut request = self
            .http
            .request(method.clone(), &url)
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach the ackctl server at {}", self.base))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let detail = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| {
                Some(format!(
                    "{}: {}",
                    v.get("code")?.as_str()?,
                    v.get("message")?.as_str()?
                ))
            })
            .unwrap_or(text);
        anyhow::bail!("{method} {path} failed with {status}: {detail}")
    }

    pub(crate) async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<T> {
        let response = self.request(method.clone(), path, body).await?;
        response
            .json()
            .await
            .with_context(|| format!("{method} {path}: unexpected answer"))
    }

    /// The organisation's secrets.
    pub async fn secrets(&self, org: i64) -> anyhow::Result<Vec<Secret>> {
        self.json(Method::GET, &format!("/api/v1/orgs/{org}/secrets"), None)
            .await
    }

    /// Stores a secret (`{"name", "type", "values"}`).
    pub async fn create_secret(&self, org: i64, body: &Value) -> anyhow::Result<Secret> {
        self.json(
            Method::POST,
            &format!("/api/v1/orgs/{org}/secrets"),
            Some(body),
        )
        .await
    }

    /// Every cluster of the organisation, all pages, as [`Cluster`]s or as the server's JSON.
    pub async fn clusters<T: DeserializeOwned>(&self, org: i64) -> anyhow::Result<Vec<T>> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let path = match after {
                Some(a) => format!("/api/v1/orgs/{org}/clusters?after={a}"),
                None => format!("/api/v1/orgs/{org}/clusters"),
            };
            let page: ClusterList<T> = self.json(Method::GET, &path, None).await?;
            all.extend(page.clusters);
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(all),
            }
        }
    }

    /// Starts creating a cluster (the Pipeline create-cluster body).
    pub async fn create_cluster(&self, org: i64, body: &Value) -> anyhow::Result<Accepted> {
        self.json(
            Method::POST,
            &format!("/api/v1/orgs/{org}/clusters"),
            Some(body),
        )
        .await
    }

    /// One cluster.
    pub async fn cluster(&self, org: i64, id: i64) -> anyhow::Result<Cluster> {
        self.json(
            Method::GET,
            &format!("/api/v1/orgs/{org}/clusters/{id}"),
            None,
        )
        .await
    }

    /// The cluster's kubeconfig, as a YAML document.
    pub async fn kubeconfig(&self, org: i64, id: i64) -> anyhow::Result<String> {
        let path = format!("/api/v1/orgs/{org}/clusters/{id}/config");
        Ok(self.request(Method::GET, &path, None).await?.text().await?)
    }
}
