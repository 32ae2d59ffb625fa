//! The resource types this server knows: their group/version, kind, scope, subresources and
//! discovery metadata. One static table drives discovery, routing, OpenAPI and storage.

/// One subresource of a resource type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subresource {
    /// `status`, `scale`, `eviction`, `binding`, `log`, `finalize`.
    pub name: &'static str,
    /// (group, version, kind) of what the subresource accepts and returns.
    pub gvk: (&'static str, &'static str, &'static str),
    pub verbs: &'static [&'static str],
}

/// A resource type served by the API.
#[derive(Debug, PartialEq, Eq)]
pub struct ResourceType {
    /// API group; empty for the core (legacy) group.
    pub group: &'static str,
    pub version: &'static str,
    /// Plural lower-case name used in URLs: `pods`.
    pub plural: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    pub subresources: &'static [Subresource],
}

impl ResourceType {
    /// `v1` or `apps/v1`, as it appears in an object's `apiVersion`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `pods` or `leases.coordination.k8s.io`, as error messages name the resource.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// Whether writes to the main resource leave `.status` alone (it has a status subresource).
    pub fn has_status(&self) -> bool {
        self.subresource("status").is_some()
    }

    /// The named subresource, if this type has it.
    pub fn subresource(&self, name: &str) -> Option<&'static Subresource> {
        self.subresources.iter().find(|s| s.name == name)
    }
}

const ALL_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
const GET_PATCH_UPDATE: &[&str] = &["get", "patch", "update"];

const fn status(group: &'static str, kind: &'static str) -> Subresource {
    Subresource {
        name: "status",
        gvk: (group, "v1", kind),
        verbs: GET_PATCH_UPDATE,
    }
}

/// Every resource type the server serves, in discovery order.
pub static RESOURCES: &[ResourceType] = &[
    ResourceType {
        group: "",
        version: "v1",
        plural: "namespaces",
        singular: "namespace",
        kind: "Namespace",
        namespaced: false,
        short_names: &["ns"],
        categories: &[],
        subresources: &[
            status("", "Namespace"),
            Subresource {
                name: "finalize",
                gvk: ("", "v1", "Namespace"),
                verbs: &["update"],
            },
        ],
    },
    ResourceType {
        group: "",
        version: "v1",
        plural: "nodes",
        singular: "node",
        kind: "Node",
        namespaced: false,
        short_names: &["no"],
        categories: &[],
        subresources: &[status("", "Node")],
    },
    ResourceType {
        group: "",
        version: "v1",
        plural: "pods",
        singular: "pod",
        kind: "Pod",
        namespaced: true,
        short_names: &["po"],
        categories: &["all"],
        subresources: &[
            status("", "Pod"),
            Subresource {
                name: "binding",
                gvk: ("", "v1", "Binding"),
                verbs: &["create"],
            },
            Subresource {
                name: "eviction",
                gvk: ("policy", "v1", "Eviction"),
                verbs: &["create"],
            },
            Subresource {
                name: "log",
                gvk: ("", "v1", "Pod"),
                verbs: &["get"],
            },
        ],
    },
    ResourceType {
        group: "",
        version: "v1",
        plural: "services",
        singular: "service",
        kind: "Service",
        namespaced: true,
        short_names: &["svc"],
        categories: &["all"],
        subresources: &[status("", "Service")],
    },
    ResourceType {
        group: "",
        version: "v1",
        plural: "endpoints",
        singular: "endpoints",
        kind: "Endpoints",
        namespaced: true,
        short_names: &["ep"],
        categories: &[],
        subresources: &[],
    },
    ResourceType {
        group: "",
        version: "v1",
        plural: "events",
        singular: "event",
        kind: "Event",
        namespaced: true,
        short_names: &["ev"],
        categories: &[],
        subresources: &[],
    },
    ResourceType {
        group: "",
        version: "v1",
        plural: "configmaps",
        singular: "configmap",
        kind: "ConfigMap",
        namespaced: true,
        short_names: &["cm"],
        categories: &[],
        subresources: &[],
    },
    ResourceType {
        group: "",
        version: "v1",
        plural: "secrets",
        singular: "secret",
        kind: "Secret",
        namespaced: true,
        short_names: &[],
        categories: &[],
        subresources: &[],
    },
    ResourceType {
        group: "apps",
        version: "v1",
        plural: "deployments",
        singular: "deployment",
        kind: "Deployment",
        namespaced: true,
        short_names: &["deploy"],
        categories: &["all"],
        subresources: &[
            status("apps", "Deployment"),
            Subresource {
                name: "scale",
                gvk: ("autoscaling", "v1", "Scale"),
                verbs: GET_PATCH_UPDATE,
            },
        ],
    },
    ResourceType {
        group: "apps",
        version: "v1",
        plural: "replicasets",
        singular: "replicaset",
        kind: "ReplicaSet",
        namespaced: true,
        short_names: &["rs"],
        categories: &["all"],
        subresources: &[
            status("apps", "ReplicaSet"),
            Subresource {
                name: "scale",
                gvk: ("autoscaling", "v1", "Scale"),
                verbs: GET_PATCH_UPDATE,
            },
        ],
    },
    ResourceType {
        group: "apps",
        version: "v1",
        plural: "daemonsets",
        singular: "daemonset",
        kind: "DaemonSet",
        namespaced: true,
        short_names: &["ds"],
        categories: &["all"],
        subresources: &[status("apps", "DaemonSet")],
    },
    ResourceType {
        group: "coordination.k8s.io",
        version: "v1",
        plural: "leases",
        singular: "lease",
        kind: "Lease",
        namespaced: true,
        short_names: &[],
        categories: &[],
        subresources: &[],
    },
    ResourceType {
        group: "policy",
        version: "v1",
        plural: "poddisruptionbudgets",
        singular: "poddisruptionbudget",
        kind: "PodDisruptionBudget",
        namespaced: true,
        short_names: &["pdb"],
        categories: &[],
        subresources: &[status("policy", "PodDisruptionBudget")],
    },
];

/// The verbs every resource supports.
pub fn verbs() -> &'static [&'static str] {
    ALL_VERBS
}

/// Looks a resource type up by group and plural name.
pub fn lookup(group: &str, plural: &str) -> Option<&'static ResourceType> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.plural == plural)
}

/// Looks a resource type up by group, version and plural name (the URL form).
pub fn lookup_gvr(group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
    lookup(group, plural).filter(|r| r.version == version)
}

/// The API groups other than core, in discovery order, each with its single version.
pub fn groups() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for r in RESOURCES.iter().filter(|r| !r.group.is_empty()) {
        if !out.contains(&r.group) {
            out.push(r.group);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouped_resources_are_qualified_with_their_group_in_messages() {
        assert_eq!(
            lookup("coordination.k8s.io", "leases").unwrap().qualified(),
            "leases.coordination.k8s.io"
        );
        assert_eq!(lookup("", "pods").unwrap().qualified(), "pods");
    }

    #[test]
    fn every_non_core_group_is_listed_once() {
        assert_eq!(groups(), vec!["apps", "coordination.k8s.io", "policy"]);
    }
}
