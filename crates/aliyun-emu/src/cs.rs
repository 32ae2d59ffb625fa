//! CS (Container Service for Kubernetes, ACK) 2015-12-15: clusters, node pools, nodes and tasks.
//!
//! CS is a ROA API: the method and path name the action, bodies are JSON with snake_case keys.

use crate::error::ApiResult;
use crate::params::Params;
use crate::reply::Reply;
use crate::world::{Settings, World};
use serde::{Deserialize, Serialize};

/// The API version this module serves.
pub const VERSION: &str = "2015-12-15";

/// The emulated ACK clusters, node pools and tasks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Clusters {}

/// An action named by its method and path, with the ids the path carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The OpenAPI action name.
    pub action: &'static str,
    /// `{cluster_id}`, or `{task_id}` for DescribeTaskInfo.
    pub id: Option<String>,
    /// `{nodepool_id}`.
    pub nodepool_id: Option<String>,
}

/// The action at `method path`, if CS has one.
pub fn route(method: &str, path: &str) -> Option<Route> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let own = |s: &str| Some(s.to_owned());
    let (action, id, nodepool_id) = match (method, segments.as_slice()) {
        ("POST", ["clusters"]) => ("CreateCluster", None, None),
        ("GET", ["api", "v1", "clusters"]) => ("DescribeClustersV1", None, None),
        ("GET", ["api", "v1", "metadata", "versions"]) => {
            ("DescribeKubernetesVersionMetadata", None, None)
        }
        ("GET", ["clusters", c]) => ("DescribeClusterDetail", own(c), None),
        ("DELETE", ["clusters", c]) => ("DeleteCluster", own(c), None),
        ("GET", ["k8s", c, "user_config"]) => ("DescribeClusterUserKubeconfig", own(c), None),
        ("GET", ["clusters", c, "nodes"]) => ("DescribeClusterNodes", own(c), None),
        ("POST", ["clusters", c, "nodepools"]) => ("CreateClusterNodePool", own(c), None),
        ("GET", ["clusters", c, "nodepools"]) => ("DescribeClusterNodePools", own(c), None),
        ("GET", ["clusters", c, "nodepools", n]) => {
            ("DescribeClusterNodePoolDetail", own(c), own(n))
        }
        ("PUT", ["clusters", c, "nodepools", n]) => ("ModifyClusterNodePool", own(c), own(n)),
        ("POST", ["clusters", c, "nodepools", n]) => ("ScaleClusterNodePool", own(c), own(n)),
        ("DELETE", ["clusters", c, "nodepools", n]) => ("DeleteClusterNodepool", own(c), own(n)),
        ("DELETE", ["clusters", c, "nodepools", n, "nodes"]) => {
            ("RemoveNodePoolNodes", own(c), own(n))
        }
        ("GET", ["tasks", t]) => ("DescribeTaskInfo", own(t), None),
        _ => return None,
    };
    Some(Route {
        action,
        id,
        nodepool_id,
    })
}

/// The inputs of one CS call.
pub struct RoaCall<'a> {
    /// The routed action.
    pub route: &'a Route,
    /// Query parameters.
    pub query: &'a Params,
    /// The JSON body (`null` when there is none).
    pub body: &'a serde_json::Value,
    /// Settings.
    pub settings: &'a Settings,
    /// Emulated time.
    pub now_ms: i64,
}

/// Handles a routed CS action.
pub fn handle(_world: &mut World, call: &RoaCall<'_>) -> ApiResult<Reply> {
    Err(crate::error::ApiError::new(
        404,
        "InvalidAction.NotFound",
        format!("{} is not emulated yet", call.route.action),
    ))
}
