//! CS request bodies and their validation. Unknown fields are ignored, as the real service
//! does; a field of the wrong type, or a value out of range, is an error naming its path.

use super::*;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct TagBody {
    pub(super) key: String,
    pub(super) value: String,
}

pub(super) fn tag_pairs(tags: &[TagBody]) -> Vec<(String, String)> {
    tags.iter()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect()
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct CreateClusterBody {
    pub(super) name: Option<String>,
    pub(super) region_id: Option<String>,
    pub(super) cluster_type: Option<String>,
    pub(super) cluster_spec: Option<String>,
    pub(super) profile: Option<String>,
    pub(super) kubernetes_version: Option<String>,
    pub(super) vpcid: Option<String>,
    pub(super) vswitch_ids: Vec<String>,
    pub(super) zone_id: Option<String>,
    pub(super) zone_ids: Vec<String>,
    pub(super) service_cidr: Option<String>,
    pub(super) container_cidr: Option<String>,
    pub(super) security_group_id: Option<String>,
    pub(super) tags: Vec<TagBody>,
    pub(super) deletion_protection: bool,
    pub(super) nodepools: Vec<NodePoolBody>,
    pub(super) master_count: Option<u32>,
    pub(super) master_instance_types: Vec<String>,
    pub(super) master_vswitch_ids: Vec<String>,
    pub(super) master_system_disk_category: Option<String>,
    pub(super) image_id: Option<String>,
    // The older API's single worker group, turned into a default node pool.
    pub(super) worker_instance_types: Vec<String>,
    pub(super) worker_vswitch_ids: Vec<String>,
    pub(super) worker_system_disk_category: Option<String>,
    pub(super) num_of_nodes: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct NodePoolBody {
    pub(super) nodepool_info: NodePoolInfoBody,
    pub(super) scaling_group: ScalingGroupBody,
    pub(super) kubernetes_config: Option<KubernetesConfigBody>,
    pub(super) auto_scaling: Option<AutoScalingBody>,
    pub(super) count: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct NodePoolInfoBody {
    pub(super) name: Option<String>,
    #[serde(rename = "type")]
    pub(super) kind: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ScalingGroupBody {
    pub(super) vswitch_ids: Option<Vec<String>>,
    pub(super) instance_types: Option<Vec<String>>,
    pub(super) instance_charge_type: Option<String>,
    pub(super) system_disk_category: Option<String>,
    pub(super) system_disk_size: Option<u32>,
    pub(super) desired_size: Option<u32>,
    pub(super) spot_strategy: Option<String>,
    pub(super) security_group_id: Option<String>,
    pub(super) security_group_ids: Option<Vec<String>>,
    pub(super) image_id: Option<String>,
    pub(super) image_type: Option<String>,
    pub(super) multi_az_policy: Option<String>,
    pub(super) tags: Option<Vec<TagBody>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct KubernetesConfigBody {
    pub(super) labels: Option<Vec<TagBody>>,
    pub(super) taints: Option<Vec<Taint>>,
    pub(super) runtime: Option<String>,
    pub(super) runtime_version: Option<String>,
    pub(super) unschedulable: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct AutoScalingBody {
    pub(super) enable: Option<bool>,
    pub(super) min_instances: Option<u32>,
    pub(super) max_instances: Option<u32>,
    #[serde(rename = "type")]
    pub(super) kind: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ScaleBody {
    pub(super) count: Option<i64>,
}

/// The body as `T`, or an error naming the field that does not fit.
pub(super) fn parse_body<T: DeserializeOwned + Default>(body: &Value) -> ApiResult<T> {
    if body.is_null() {
        return Ok(T::default());
    }
    serde_path_to_error::deserialize(body).map_err(|e| {
        let path = e.path().to_string();
        ApiError::new(
            400,
            "InvalidParameter",
            format!("The request body field {path} is invalid: {}", e.inner()),
        )
    })
}

// ------------------------------------------------------------------------------------------
// Validation helpers.
// ------------------------------------------------------------------------------------------

pub(super) fn invalid(field: &str, why: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        400,
        "InvalidParameter",
        format!("The parameter {field} is invalid: {why}"),
    )
}

/// Cluster and node-pool names: 1–63 letters, digits, `-` and `_`, starting with a letter or
/// digit.
pub(super) fn check_name(field: &str, name: &str) -> ApiResult<()> {
    let ok = (1..=63).contains(&name.len())
        && name.chars().next().is_some_and(char::is_alphanumeric)
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            field,
            format_args!(
                "\"{name}\" must be 1 to 63 letters, digits, hyphens or underscores, starting with a letter or digit"
            ),
        ))
    }
}

/// An IPv4 CIDR block `a.b.c.d/n`.
pub(super) fn check_cidr(field: &str, cidr: &str) -> ApiResult<()> {
    let parsed = cidr.split_once('/').and_then(|(ip, mask)| {
        let octets: Vec<u8> = ip.split('.').filter_map(|o| o.parse().ok()).collect();
        let mask: u8 = mask.parse().ok()?;
        (octets.len() == 4 && mask <= 32).then_some(())
    });
    parsed.ok_or_else(|| invalid(field, format_args!("\"{cidr}\" is not an IPv4 CIDR block")))
}

pub(super) fn check_instance_types(
    field: &str,
    types: &[String],
    region: &Region,
    zones: &[String],
) -> ApiResult<()> {
    if types.is_empty() {
        return Err(invalid(field, "at least one instance type is required"));
    }
    for id in types {
        let Some(it) = catalog::instance_type(id) else {
            return Err(invalid(
                field,
                format_args!("{id} does not exist; DescribeInstanceTypes lists the types on sale"),
            ));
        };
        if !zones.iter().any(|z| catalog::offered_in(it, region, z)) {
            return Err(invalid(
                field,
                format_args!("{id} is not sold in {}", zones.join(", ")),
            ));
        }
    }
    Ok(())
}

/// The zones of `vswitch_ids`, each of which must exist in `region`.
pub(super) fn zones_of(
    world: &World,
    region: &Region,
    field: &str,
    vswitch_ids: &[String],
) -> ApiResult<(String, Vec<String>)> {
    let mut vpc = None;
    let mut zones = Vec::new();
    for v in vswitch_ids {
        let placement = world.network.placement(region, v).map_err(|_| {
            invalid(
                field,
                format_args!("the vSwitch {v} does not exist in {}", region.id),
            )
        })?;
        match &vpc {
            Some(existing) if existing != &placement.vpc_id => {
                return Err(invalid(field, "all vSwitches must belong to one VPC"));
            }
            _ => vpc = Some(placement.vpc_id),
        }
        zones.push(placement.zone_id);
    }
    Ok((vpc.unwrap_or_default(), zones))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_label_like() {
        assert!(check_name("name", "prod-1_a").is_ok());
        for bad in ["", "-x", "a b", &"x".repeat(64)] {
            let e = check_name("name", bad).unwrap_err();
            assert_eq!(e.code, "InvalidParameter");
            assert!(e.message.contains("name"), "{}", e.message);
        }
    }

    #[test]
    fn cidrs_are_checked() {
        assert!(check_cidr("service_cidr", "172.21.0.0/20").is_ok());
        for bad in ["172.21.0.0", "172.21.0/20", "300.1.1.1/8", "1.1.1.1/33"] {
            assert!(check_cidr("service_cidr", bad).is_err(), "{bad}");
        }
    }
}
