//! The API's OpenAPI 3.1 description, generated from the handlers' annotations and committed as
//! `crates/server/openapi.json`; a unit test fails when the committed file is stale (rewrite it
//! with `UPDATE_OPENAPI=1 cargo test -p server openapi`).

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api;
use crate::error::ErrorBody;
use crate::request::{
    AckProperties, AddUserRequest, ClusterProperties, CreateClusterRequest, CreateNodePoolRequest,
    CreateOrgRequest, CreateSecretRequest, CreateTokenRequest, NodePoolRequest, StoredMasters,
    TaintSpec, UpdateNodePoolRequest,
};
use crate::views::{
    Accepted, ClusterList, ClusterView, ConfigResponse, EventView, NodePoolView, OperationView,
    OrgView, SecretView, TokenCreated, TokenView, UserAdded,
};

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "ackctl server",
        description = "Pipeline-style control plane for Kubernetes on Alibaba Cloud (ACK). Errors are `{code, message, requestId, field?}` with stable codes.",
        license(name = "Apache-2.0")
    ),
    paths(
        api::list_orgs, api::create_org, api::get_org, api::add_user,
        api::list_tokens, api::create_token, api::revoke_token,
        api::create_secret, api::list_secrets, api::get_secret, api::delete_secret,
        api::create_cluster, api::list_clusters, api::get_cluster, api::delete_cluster,
        api::get_config, api::list_node_pools, api::add_node_pool, api::update_node_pool,
        api::delete_node_pool, api::list_events, api::list_operations,
        api::healthz, api::metrics, api::openapi_json,
    ),
    components(schemas(
        ErrorBody, CreateSecretRequest, CreateClusterRequest, ClusterProperties, AckProperties,
        NodePoolRequest, CreateNodePoolRequest, UpdateNodePoolRequest, CreateTokenRequest,
        CreateOrgRequest, AddUserRequest, TaintSpec, StoredMasters, OrgView, UserAdded,
        TokenView, TokenCreated, SecretView, NodePoolView, ClusterView, ClusterList, Accepted,
        EventView, OperationView, ConfigResponse,
    )),
    modifiers(&Bearer),
)]
pub struct ApiDoc;

/// The description as pretty JSON, as committed.
pub fn document() -> String {
    let mut text = ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_openapi_json_matches_the_code() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
        let generated = document();
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            std::fs::write(path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == generated,
            "crates/server/openapi.json is stale; regenerate it with `UPDATE_OPENAPI=1 cargo test -p server openapi`"
        );
    }

    #[test]
    fn the_seed_routes_are_described() {
        let doc = ApiDoc::openapi();
        for path in [
            "/api/v1/orgs/{orgId}/secrets",
            "/api/v1/orgs/{orgId}/clusters",
            "/api/v1/orgs/{orgId}/clusters/{clusterId}/config",
        ] {
            assert!(doc.paths.paths.contains_key(path), "{path} missing");
        }
    }
}
