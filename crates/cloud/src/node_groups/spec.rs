//! Which groups to manage, as cluster-autoscaler's flags name them: `--nodes=<min>:<max>:<id>`
//! for one group, `--node-group-auto-discovery=asg:tag=<key>[=<value>],…` for every scaling group
//! carrying those tags, and ours, `…=ack:cluster=<cluster-id>`, for the auto-scaling node pools
//! of an ACK cluster.

use crate::{Error, Result};

/// A group named with `--nodes`: its bounds come from the flag, not from ESS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSpec {
    pub min_size: u32,
    pub max_size: u32,
    pub id: String,
}

/// How groups are found besides `--nodes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discovery {
    /// Scaling groups whose tags (or whose active scaling configuration's tags) include all of
    /// these; a `None` value matches any value.
    Tags(Vec<(String, Option<String>)>),
    /// The node pools of an ACK cluster that have auto scaling enabled.
    AckCluster(String),
}

/// Parses one `--nodes` value, `<min>:<max>:<scaling-group-id>`.
pub fn parse_nodes(value: &str) -> Result<GroupSpec> {
    let bad = |why: &str| {
        Error::Invalid(format!(
            "--nodes={value}: {why}; expected <min>:<max>:<scaling-group-id>, e.g. 1:10:asg-bp1abc"
        ))
    };
    let mut parts = value.splitn(3, ':');
    let (Some(min), Some(max), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad("missing fields"));
    };
    let min_size: u32 = min.trim().parse().map_err(|_| bad("min is not a number"))?;
    let max_size: u32 = max.trim().parse().map_err(|_| bad("max is not a number"))?;
    if min_size > max_size {
        return Err(bad("min is above max"));
    }
    let id = id.trim();
    if id.is_empty() {
        return Err(bad("the scaling group id is empty"));
    }
    Ok(GroupSpec {
        min_size,
        max_size,
        id: id.to_owned(),
    })
}

/// Parses one `--node-group-auto-discovery` value.
pub fn parse_discovery(value: &str) -> Result<Discovery> {
    let bad = |why: &str| {
        Error::Invalid(format!(
            "--node-group-auto-discovery={value}: {why}; expected \
             asg:tag=<key>[=<value>][,<key>[=<value>]…] or ack:cluster=<cluster-id>"
        ))
    };
    let (kind, rest) = value.split_once(':').ok_or_else(|| bad("no kind"))?;
    match kind {
        "asg" => {
            let tags = rest
                .strip_prefix("tag=")
                .ok_or_else(|| bad("asg needs tag="))?;
            let tags: Vec<(String, Option<String>)> = tags
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(|t| match t.split_once('=') {
                    Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
                    None => (t.to_owned(), None),
                })
                .collect();
            if tags.is_empty() {
                return Err(bad("no tags"));
            }
            Ok(Discovery::Tags(tags))
        }
        "ack" => {
            let id = rest
                .strip_prefix("cluster=")
                .filter(|id| !id.is_empty())
                .ok_or_else(|| bad("ack needs cluster=<cluster-id>"))?;
            Ok(Discovery::AckCluster(id.to_owned()))
        }
        _ => Err(bad("unknown kind")),
    }
}

impl Discovery {
    /// Whether a set of tags satisfies a tag discovery (always false for other kinds).
    pub fn matches<'a>(&self, tags: impl Fn(&str) -> Option<&'a str>) -> bool {
        match self {
            Self::Tags(wanted) => wanted.iter().all(|(k, v)| match (tags(k), v) {
                (Some(_), None) => true,
                (Some(have), Some(want)) => have == want,
                (None, _) => false,
            }),
            Self::AckCluster(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nodes_flag_gives_bounds_and_the_group_id() {
        assert_eq!(
            parse_nodes("1:10:asg-bp1abc").unwrap(),
            GroupSpec {
                min_size: 1,
                max_size: 10,
                id: "asg-bp1abc".into()
            }
        );
    }

    #[test]
    fn a_bad_nodes_flag_names_what_is_wrong() {
        let e = parse_nodes("5:1:asg-1").unwrap_err().to_string();
        assert!(e.contains("min is above max"), "{e}");
        let e = parse_nodes("x:1:asg-1").unwrap_err().to_string();
        assert!(e.contains("min is not a number"), "{e}");
        assert!(parse_nodes("1:2").is_err());
        assert!(parse_nodes("1:2:").is_err());
    }

    #[test]
    fn tag_discovery_takes_keys_with_and_without_values() {
        let d = parse_discovery(
            "asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/c1=owned",
        )
        .unwrap();
        assert_eq!(
            d,
            Discovery::Tags(vec![
                ("k8s.io/cluster-autoscaler/enabled".into(), None),
                ("k8s.io/cluster-autoscaler/c1".into(), Some("owned".into())),
            ])
        );
        let tags = [
            ("k8s.io/cluster-autoscaler/enabled", "true"),
            ("k8s.io/cluster-autoscaler/c1", "owned"),
        ];
        let lookup = |k: &str| tags.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
        assert!(d.matches(lookup));
        let other = [("k8s.io/cluster-autoscaler/enabled", "true")];
        assert!(!d.matches(|k: &str| other.iter().find(|(key, _)| *key == k).map(|(_, v)| *v)));
    }

    #[test]
    fn ack_discovery_names_the_cluster_and_unknown_kinds_are_refused() {
        assert_eq!(
            parse_discovery("ack:cluster=c123").unwrap(),
            Discovery::AckCluster("c123".into())
        );
        assert!(parse_discovery("mig:namePrefix=x").is_err());
        assert!(parse_discovery("asg:tag=").is_err());
    }
}
