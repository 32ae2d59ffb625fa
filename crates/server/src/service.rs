//! What the API does, apart from HTTP: authorisation by role, validation, the store writes,
//! and queueing operations. Handlers parse and call one function here.

use std::collections::BTreeMap;

use secrecy::ExposeSecret;
use store::{
    ClusterId, ClusterStatus, NewCluster, NewNodePool, NewOperation, NewSecret, OrgId, Role,
    SecretId, SecretType, SecretValues,
};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::operations::{self, OpState, SizeChange};
use crate::request::{
    AddUserRequest, CreateClusterRequest, CreateNodePoolRequest, CreateOrgRequest,
    CreateSecretRequest, CreateTokenRequest, StoredPool, UpdateNodePoolRequest, check_offering,
    validate_cluster, validate_pool,
};
use crate::state::AppState;
use crate::views::{
    Accepted, ClusterList, ClusterView, EventView, OperationView, OrgView, SecretView,
    TokenCreated, TokenView, UserAdded,
};

/// The region a secret's key is checked in when the secret does not name one.
const VERIFY_REGION: &str = "cn-hangzhou";

fn parse<T: std::str::FromStr<Err = store::Error>>(text: &str) -> ApiResult<T> {
    text.parse().map_err(ApiError::from)
}

/// A fresh client token, UUID-shaped as ACK expects.
fn client_token() -> String {
    let b: [u8; 16] = rand::random();
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

async fn enqueue(
    app: &AppState,
    cluster: ClusterId,
    kind: &str,
    state: OpState,
) -> ApiResult<store::Operation> {
    let state = serde_json::to_value(state).map_err(|e| ApiError::internal(e.to_string()))?;
    let op = app
        .store
        .create_operation(
            NewOperation {
                cluster_id: Some(cluster),
                kind: kind.to_owned(),
                step: operations::first_step(kind).to_owned(),
                state,
            },
            app.now(),
        )
        .await?;
    app.wake.notify_one();
    Ok(op)
}

async fn note(
    app: &AppState,
    cluster: ClusterId,
    op: Option<&store::Operation>,
    kind: &str,
    message: String,
) {
    let event = store::NewEvent {
        kind: kind.to_owned(),
        message,
        operation_id: op.map(|o| o.id),
        data: serde_json::Value::Null,
    };
    if let Err(e) = app.store.append_event(cluster, event, app.now()).await {
        tracing::warn!(error = %e, "could not append a cluster event");
    }
}

// ---- organisations, users, tokens ----

pub async fn list_orgs(app: &AppState, caller: &Caller) -> ApiResult<Vec<OrgView>> {
    let mut out = Vec::new();
    for m in app.store.memberships_of(caller.user.id).await? {
        let org = app.store.get_org(m.org_id).await?;
        out.push(OrgView {
            id: org.id.0,
            name: org.name,
            role: m.role.to_string(),
        });
    }
    Ok(out)
}

pub async fn get_org(app: &AppState, caller: &Caller, org: &str) -> ApiResult<OrgView> {
    let org: OrgId = parse(org)?;
    let role = caller.role_in(app, org).await?;
    let o = app.store.get_org(org).await?;
    Ok(OrgView {
        id: o.id.0,
        name: o.name,
        role: role.to_string(),
    })
}

/// Creates an organisation whose first admin is the caller.
pub async fn create_org(
    app: &AppState,
    caller: &Caller,
    req: CreateOrgRequest,
) -> ApiResult<OrgView> {
    let org = app.store.create_org(&req.name, app.now()).await?;
    app.store
        .add_member(org.id, caller.user.id, Role::Admin, app.now())
        .await?;
    Ok(OrgView {
        id: org.id.0,
        name: org.name,
        role: Role::Admin.to_string(),
    })
}

/// Adds a user to an organisation and hands back their first token (there is no browser
/// login: the admin passes it on).
pub async fn add_user(
    app: &AppState,
    caller: &Caller,
    org: &str,
    req: AddUserRequest,
) -> ApiResult<UserAdded> {
    let org: OrgId = parse(org)?;
    caller.admin_of(app, org, "add users").await?;
    let role: Role = parse(&req.role)?;
    let user = app.store.create_user(&req.login, app.now()).await?;
    app.store.add_member(org, user.id, role, app.now()).await?;
    let (token, value) = app
        .store
        .create_token(user.id, "initial", None, app.now())
        .await?;
    Ok(UserAdded {
        user_id: user.id.0,
        login: user.login,
        role: role.to_string(),
        token: value.expose_secret().to_owned(),
        token_id: token.id.0,
    })
}

pub async fn create_token(
    app: &AppState,
    caller: &Caller,
    req: CreateTokenRequest,
) -> ApiResult<TokenCreated> {
    let expires = match &req.expires_at {
        None => None,
        Some(text) => Some(text.parse::<jiff::Timestamp>().map_err(|e| {
            ApiError::invalid(
                "expiresAt",
                format!("{text:?} is not an RFC 3339 time: {e}"),
            )
        })?),
    };
    let (token, value) = app
        .store
        .create_token(caller.user.id, &req.name, expires, app.now())
        .await?;
    Ok(TokenCreated {
        id: token.id.0,
        name: token.name,
        token: value.expose_secret().to_owned(),
    })
}

pub async fn list_tokens(app: &AppState, caller: &Caller) -> ApiResult<Vec<TokenView>> {
    Ok(app
        .store
        .list_tokens(caller.user.id)
        .await?
        .into_iter()
        .map(TokenView::from)
        .collect())
}

pub async fn revoke_token(app: &AppState, caller: &Caller, id: &str) -> ApiResult<TokenView> {
    let id = parse(id)?;
    Ok(app
        .store
        .revoke_token(caller.user.id, id, app.now())
        .await?
        .into())
}

// ---- secrets ----

fn plain_values(values: &SecretValues) -> BTreeMap<String, String> {
    values
        .iter()
        .map(|(k, v)| (k.to_owned(), v.expose_secret().to_owned()))
        .collect()
}

/// Stores a secret; an `alibaba` one only after the cloud accepted its key (unless
/// `validate` is false).
pub async fn create_secret(
    app: &AppState,
    caller: &Caller,
    org: &str,
    req: CreateSecretRequest,
    validate: bool,
) -> ApiResult<SecretView> {
    let org: OrgId = parse(org)?;
    caller.admin_of(app, org, "create secrets").await?;
    let kind: SecretType = parse(&req.kind)?;
    let values = SecretValues::from_plain(req.values);
    store::secret_types::validate(kind, &values)?;
    if kind == SecretType::Alibaba && validate {
        let key = cloud::clusters::AccessKey {
            id: values
                .get("ALIBABA_ACCESS_KEY_ID")
                .map(|v| v.expose_secret().to_owned())
                .unwrap_or_default(),
            secret: values
                .get("ALIBABA_ACCESS_KEY_SECRET")
                .cloned()
                .unwrap_or_else(|| String::new().into()),
        };
        let region = values
            .get("ALIBABA_REGION_ID")
            .map(|v| v.expose_secret().to_owned())
            .unwrap_or_else(|| VERIFY_REGION.to_owned());
        let clusters = app.cloud.clusters(&key, &region).map_err(ApiError::cloud)?;
        match clusters.verify_credentials().await {
            Ok(()) => {}
            Err(cloud::Error::Denied(m)) => {
                return Err(ApiError {
                    field: Some("values.ALIBABA_ACCESS_KEY_ID".to_owned()),
                    ..ApiError::new(
                        axum::http::StatusCode::BAD_REQUEST,
                        "credentials_rejected",
                        format!(
                            "the cloud refused this access key (DescribeRegions): {m}; check the key id and secret, or store it with ?validate=false"
                        ),
                    )
                });
            }
            Err(e) => return Err(ApiError::cloud(e)),
        }
    }
    let meta = app
        .store
        .create_secret(
            org,
            NewSecret {
                name: req.name,
                kind,
                values,
                tags: req.tags,
            },
            &app.key,
            app.now(),
        )
        .await?;
    Ok(SecretView::new(meta, None))
}

pub async fn list_secrets(
    app: &AppState,
    caller: &Caller,
    org: &str,
    kind: Option<&str>,
    values: bool,
) -> ApiResult<Vec<SecretView>> {
    let org: OrgId = parse(org)?;
    caller.admin_of(app, org, "read secrets").await?;
    let kind = kind.map(parse::<SecretType>).transpose()?;
    let mut out = Vec::new();
    for meta in app.store.list_secrets(org, kind).await? {
        let shown = if values {
            let (_, v) = app.store.reveal_secret(org, &meta.id, &app.key).await?;
            Some(plain_values(&v))
        } else {
            None
        };
        out.push(SecretView::new(meta, shown));
    }
    Ok(out)
}

pub async fn get_secret(
    app: &AppState,
    caller: &Caller,
    org: &str,
    id: &str,
    values: bool,
) -> ApiResult<SecretView> {
    let org: OrgId = parse(org)?;
    caller.admin_of(app, org, "read secrets").await?;
    let id: SecretId = parse(id)?;
    if values {
        let (meta, v) = app.store.reveal_secret(org, &id, &app.key).await?;
        Ok(SecretView::new(meta, Some(plain_values(&v))))
    } else {
        Ok(SecretView::new(app.store.get_secret(org, &id).await?, None))
    }
}

pub async fn delete_secret(app: &AppState, caller: &Caller, org: &str, id: &str) -> ApiResult<()> {
    let org: OrgId = parse(org)?;
    caller.admin_of(app, org, "delete secrets").await?;
    let id: SecretId = parse(id)?;
    Ok(app.store.delete_secret(org, &id).await?)
}

// ---- clusters ----

/// The secret a create names, which must be an `alibaba` secret of the organisation.
async fn cluster_secret(
    app: &AppState,
    org: OrgId,
    req: &CreateClusterRequest,
) -> ApiResult<SecretId> {
    let meta = match (&req.secret_id, &req.secret_name) {
        (Some(id), _) => {
            let id: SecretId = id.parse().map_err(|_| {
                ApiError::invalid(
                    "secretId",
                    format!("{id:?} is not a secret id (32 hex characters)"),
                )
            })?;
            app.store.get_secret(org, &id).await.map_err(|e| match e {
                store::Error::NotFound { .. } => {
                    ApiError::invalid("secretId", format!("organization {org} has no secret {id}"))
                }
                other => other.into(),
            })?
        }
        (None, Some(name)) => {
            app.store
                .find_secret_by_name(org, name)
                .await
                .map_err(|e| match e {
                    store::Error::NotFound { .. } => ApiError::invalid(
                        "secretName",
                        format!("organization {org} has no secret named {name:?}"),
                    ),
                    other => other.into(),
                })?
        }
        (None, None) => return Err(ApiError::invalid("secretId", "is required")),
    };
    if meta.kind != SecretType::Alibaba {
        return Err(ApiError::invalid(
            "secretId",
            format!(
                "secret {} is a {} secret; clusters on alibaba need an alibaba secret",
                meta.id, meta.kind
            ),
        ));
    }
    Ok(meta.id)
}

pub async fn create_cluster(
    app: &AppState,
    caller: &Caller,
    org: &str,
    req: CreateClusterRequest,
) -> ApiResult<Accepted> {
    let org: OrgId = parse(org)?;
    caller.admin_of(app, org, "create clusters").await?;
    let valid = validate_cluster(&req)?;
    let secret = cluster_secret(app, org, &req).await?;
    // Checked against what the cloud sells before anything is written, so a typo in an
    // instance type is a 400 now rather than an ERROR cluster in a minute.
    let clusters = app
        .clusters_for(org, &secret, &valid.spec.region_id)
        .await?;
    let zones = clusters.zones().await.map_err(|e| match e {
        cloud::Error::NotFound(m) | cloud::Error::Invalid(m) => ApiError::invalid(
            format!("{}.regionId", valid.properties_field),
            format!(
                "the cloud does not know region {}: {m}",
                valid.spec.region_id
            ),
        ),
        other => ApiError::cloud(other),
    })?;
    check_offering(&valid, &zones)?;
    let token = client_token();
    let spec = serde_json::to_value(&valid.spec).map_err(|e| ApiError::internal(e.to_string()))?;
    let mut pools = Vec::new();
    for (name, pool) in &valid.pools {
        pools.push(NewNodePool {
            name: name.clone(),
            spec: serde_json::to_value(pool).map_err(|e| ApiError::internal(e.to_string()))?,
            status: ClusterStatus::Creating,
        });
    }
    let (mut cluster, _) = app
        .store
        .create_cluster(
            NewCluster {
                org_id: org,
                name: valid.name.clone(),
                cloud: "alibaba".to_owned(),
                location: valid.location.clone(),
                secret_id: Some(secret),
                spec,
                status: ClusterStatus::Creating,
                status_message: "queued: waiting for an operation worker".to_owned(),
                node_pools: pools,
            },
            app.now(),
        )
        .await?;
    // The token is on the cluster row too, so a delete can find what an interrupted create made.
    cluster
        .cloud_ids
        .insert("clientToken".to_owned(), token.clone());
    let cluster = app.store.update_cluster(&cluster, app.now()).await?;
    let op = enqueue(
        app,
        cluster.id,
        operations::CREATE_CLUSTER,
        OpState {
            client_token: Some(token),
            keep_on_failure: req.keep_on_failure,
            ..OpState::default()
        },
    )
    .await;
    let op = match op {
        Ok(op) => op,
        Err(e) => {
            // Nothing was asked of the cloud yet: say so on the cluster rather than leave it
            // CREATING forever.
            let _ = crate::operations::set_status(
                app,
                cluster.id,
                ClusterStatus::Error,
                format!("could not queue the create: {}", e.message),
            )
            .await;
            return Err(e);
        }
    };
    note(
        app,
        cluster.id,
        Some(&op),
        "create-requested",
        format!("{} asked for cluster {}", caller.user.login, cluster.name),
    )
    .await;
    Ok(Accepted {
        id: cluster.id.0,
        name: cluster.name,
        status: cluster.status.to_string(),
        operation_id: op.id.0,
    })
}

pub async fn list_clusters(
    app: &AppState,
    caller: &Caller,
    org: &str,
    after: Option<i64>,
    limit: Option<u32>,
) -> ApiResult<ClusterList> {
    let org: OrgId = parse(org)?;
    caller.role_in(app, org).await?;
    let page = app
        .store
        .list_clusters(org, after.map(ClusterId), limit.unwrap_or(100))
        .await?;
    // The page's node pools in one query rather than one per cluster.
    let mut pools: BTreeMap<ClusterId, Vec<store::NodePool>> = BTreeMap::new();
    if let Some(last) = page.clusters.last() {
        for pool in app
            .store
            .list_node_pools_in_range(org, after.map(ClusterId), last.id)
            .await?
        {
            pools.entry(pool.cluster_id).or_default().push(pool);
        }
    }
    let clusters = page
        .clusters
        .iter()
        .map(|c| ClusterView::new(c, pools.get(&c.id).map_or(&[][..], Vec::as_slice)))
        .collect();
    Ok(ClusterList {
        clusters,
        next: page.next.map(|c| c.0),
    })
}

async fn cluster_of(
    app: &AppState,
    caller: &Caller,
    org: &str,
    id: &str,
) -> ApiResult<(OrgId, Role, store::Cluster)> {
    let org: OrgId = parse(org)?;
    let role = caller.role_in(app, org).await?;
    let id: ClusterId = parse(id)?;
    let c = app.store.get_cluster(org, id).await?;
    Ok((org, role, c))
}

pub async fn get_cluster(
    app: &AppState,
    caller: &Caller,
    org: &str,
    id: &str,
) -> ApiResult<ClusterView> {
    let (_, _, c) = cluster_of(app, caller, org, id).await?;
    let pools = app.store.list_node_pools(c.id).await?;
    Ok(ClusterView::new(&c, &pools))
}

fn require_admin(role: Role, org: OrgId, what: &str) -> ApiResult<()> {
    match role {
        Role::Admin => Ok(()),
        Role::Member => Err(ApiError::forbidden(format!(
            "members of organization {org} cannot {what}; ask an admin"
        ))),
    }
}

pub async fn delete_cluster(
    app: &AppState,
    caller: &Caller,
    org: &str,
    id: &str,
    force: bool,
) -> ApiResult<Accepted> {
    let (org, role, _) = cluster_of(app, caller, org, id).await?;
    require_admin(role, org, "delete clusters")?;
    // Read, check and mark DELETING as one compare-and-swap; a worker writing the row in
    // between (recording the cloud id) only makes us read it again.
    let mut tries = 0;
    let c = loop {
        let mut c = app.store.get_cluster(org, parse(id)?).await?;
        match c.status {
            ClusterStatus::Deleted => return Err(ApiError::not_found(format!("cluster {}", c.id))),
            ClusterStatus::Deleting => {
                let ops = app.store.list_operations(c.id).await?;
                if let Some(op) = ops
                    .iter()
                    .rev()
                    .find(|o| o.kind == operations::DELETE_CLUSTER)
                {
                    return Ok(Accepted {
                        id: c.id.0,
                        name: c.name,
                        status: c.status.to_string(),
                        operation_id: op.id.0,
                    });
                }
            }
            ClusterStatus::Creating | ClusterStatus::Updating if !force => {
                return Err(ApiError::busy(format!(
                    "cluster {} is {}; delete it once it is RUNNING or ERROR, or now with ?force=true (the create stops and what it made is deleted)",
                    c.id, c.status
                )));
            }
            _ => {}
        }
        c.status = ClusterStatus::Deleting;
        c.status_message = "deleting: queued".to_owned();
        match app.store.update_cluster(&c, app.now()).await {
            Ok(c) => break c,
            Err(store::Error::Conflict { .. }) if tries < 8 => tries += 1,
            Err(e) => return Err(e.into()),
        }
    };
    let op = enqueue(app, c.id, operations::DELETE_CLUSTER, OpState::default()).await?;
    note(
        app,
        c.id,
        Some(&op),
        "delete-requested",
        format!(
            "{} asked to delete the cluster{}",
            caller.user.login,
            if force { " (force)" } else { "" }
        ),
    )
    .await;
    Ok(Accepted {
        id: c.id.0,
        name: c.name,
        status: c.status.to_string(),
        operation_id: op.id.0,
    })
}

pub async fn kubeconfig(app: &AppState, caller: &Caller, org: &str, id: &str) -> ApiResult<String> {
    let (org, role, c) = cluster_of(app, caller, org, id).await?;
    require_admin(role, org, "read kubeconfigs")?;
    let ready = matches!(
        c.status,
        ClusterStatus::Running | ClusterStatus::Updating | ClusterStatus::Warning
    );
    let (Some(cloud_id), true) = (&c.cloud_cluster_id, ready) else {
        return Err(ApiError::busy(format!(
            "cluster {} is {}; its kubeconfig is available once it is RUNNING",
            c.id, c.status
        )));
    };
    let secret = c
        .secret_id
        .clone()
        .ok_or_else(|| ApiError::internal("the cluster has no secret"))?;
    let spec: crate::request::StoredCluster =
        serde_json::from_value(c.spec.clone()).map_err(|e| ApiError::internal(e.to_string()))?;
    let clusters = app.clusters_for(org, &secret, &spec.region_id).await?;
    clusters.kubeconfig(cloud_id).await.map_err(ApiError::cloud)
}

fn pool_changes_allowed(c: &store::Cluster) -> ApiResult<()> {
    if matches!(c.status, ClusterStatus::Running | ClusterStatus::Warning) {
        Ok(())
    } else {
        Err(ApiError::busy(format!(
            "cluster {} is {}; node pools change only while it is RUNNING",
            c.id, c.status
        )))
    }
}

async fn mark_updating(app: &AppState, c: &store::Cluster, message: String) -> ApiResult<()> {
    let mut c = c.clone();
    c.status = ClusterStatus::Updating;
    c.status_message = message;
    app.store.update_cluster(&c, app.now()).await?;
    Ok(())
}

pub async fn add_node_pool(
    app: &AppState,
    caller: &Caller,
    org: &str,
    id: &str,
    req: CreateNodePoolRequest,
) -> ApiResult<Accepted> {
    let (org, role, c) = cluster_of(app, caller, org, id).await?;
    require_admin(role, org, "change node pools")?;
    pool_changes_allowed(&c)?;
    crate::request::check_resource_name("name", &req.name)?;
    let pool = validate_pool("", &req.pool)?;
    let spec = serde_json::to_value(&pool).map_err(|e| ApiError::internal(e.to_string()))?;
    app.store
        .add_node_pool(
            c.id,
            NewNodePool {
                name: req.name.clone(),
                spec,
                status: ClusterStatus::Creating,
            },
            app.now(),
        )
        .await?;
    mark_updating(app, &c, format!("adding node pool {}", req.name)).await?;
    let op = enqueue(
        app,
        c.id,
        operations::ADD_NODE_POOL,
        OpState {
            pool: Some(req.name.clone()),
            ..OpState::default()
        },
    )
    .await?;
    Ok(Accepted {
        id: c.id.0,
        name: req.name,
        status: ClusterStatus::Creating.to_string(),
        operation_id: op.id.0,
    })
}

pub async fn update_node_pool(
    app: &AppState,
    caller: &Caller,
    org: &str,
    id: &str,
    name: &str,
    req: UpdateNodePoolRequest,
) -> ApiResult<Accepted> {
    let (org, role, c) = cluster_of(app, caller, org, id).await?;
    require_admin(role, org, "change node pools")?;
    pool_changes_allowed(&c)?;
    let mut row = app.store.get_node_pool(c.id, name).await?;
    let mut spec: StoredPool =
        serde_json::from_value(row.spec.clone()).map_err(|e| ApiError::internal(e.to_string()))?;
    if let Some(n) = req.count {
        spec.count = n;
    }
    if req.min_count.is_some() {
        spec.min_count = req.min_count;
    }
    if req.max_count.is_some() {
        spec.max_count = req.max_count;
    }
    if let Some(min) = spec.min_count
        && spec.count < min
    {
        return Err(ApiError::invalid(
            "count",
            format!("{} is below minCount {min}", spec.count),
        ));
    }
    if let Some(max) = spec.max_count
        && spec.count > max
    {
        return Err(ApiError::invalid(
            "count",
            format!("{} is above maxCount {max}", spec.count),
        ));
    }
    if spec.count > 1000 {
        return Err(ApiError::invalid("count", "must be at most 1000"));
    }
    row.spec = serde_json::to_value(&spec).map_err(|e| ApiError::internal(e.to_string()))?;
    row.status = ClusterStatus::Updating;
    app.store.update_node_pool(&row, app.now()).await?;
    mark_updating(
        app,
        &c,
        format!("resizing node pool {name} to {}", spec.count),
    )
    .await?;
    let op = enqueue(
        app,
        c.id,
        operations::UPDATE_NODE_POOL,
        OpState {
            pool: Some(name.to_owned()),
            size: Some(SizeChange {
                count: Some(spec.count),
                min_count: spec.min_count,
                max_count: spec.max_count,
            }),
            ..OpState::default()
        },
    )
    .await?;
    Ok(Accepted {
        id: c.id.0,
        name: name.to_owned(),
        status: ClusterStatus::Updating.to_string(),
        operation_id: op.id.0,
    })
}

pub async fn delete_node_pool(
    app: &AppState,
    caller: &Caller,
    org: &str,
    id: &str,
    name: &str,
) -> ApiResult<Accepted> {
    let (org, role, c) = cluster_of(app, caller, org, id).await?;
    require_admin(role, org, "change node pools")?;
    pool_changes_allowed(&c)?;
    let mut row = app.store.get_node_pool(c.id, name).await?;
    row.status = ClusterStatus::Deleting;
    app.store.update_node_pool(&row, app.now()).await?;
    mark_updating(app, &c, format!("deleting node pool {name}")).await?;
    let op = enqueue(
        app,
        c.id,
        operations::DELETE_NODE_POOL,
        OpState {
            pool: Some(name.to_owned()),
            ..OpState::default()
        },
    )
    .await?;
    Ok(Accepted {
        id: c.id.0,
        name: name.to_owned(),
        status: ClusterStatus::Deleting.to_string(),
        operation_id: op.id.0,
    })
}

pub async fn events(
    app: &AppState,
    caller: &Caller,
    org: &str,
    id: &str,
    after: Option<i64>,
    limit: Option<u32>,
) -> ApiResult<Vec<EventView>> {
    let (_, _, c) = cluster_of(app, caller, org, id).await?;
    Ok(app
        .store
        .list_events(c.id, after.map(store::EventId), limit.unwrap_or(1000))
        .await?
        .into_iter()
        .map(EventView::from)
        .collect())
}

pub async fn operations(
    app: &AppState,
    caller: &Caller,
    org: &str,
    id: &str,
) -> ApiResult<Vec<OperationView>> {
    let (_, _, c) = cluster_of(app, caller, org, id).await?;
    Ok(app
        .store
        .list_operations(c.id)
        .await?
        .into_iter()
        .map(OperationView::from)
        .collect())
}
