//! The template node of a scaling group: what a new instance will look like once it joins, built
//! from the active scaling configuration and its instance type (no instance needs to exist, so
//! groups can scale from zero).
//!
//! ```text
//!   InstanceType ──▶ capacity: cpu, memory, pods, ephemeral-storage, nvidia.com/gpu
//!                    labels:   arch, os, instance-type, aliyun.accelerator/nvidia_name
//!   region, zone ──▶ labels:   topology.kubernetes.io/{region,zone}
//!   configuration tags  k8s.io/cluster-autoscaler/node-template/label/<k> = v    ──▶ label k=v
//!                       k8s.io/cluster-autoscaler/node-template/taint/<k> = v:E  ──▶ taint k=v:E
//!                       k8s.io/cluster-autoscaler/node-template/resources/<r> = q ──▶ capacity r
//! ```

use aliyun::ecs::InstanceType;
use aliyun::ess::ScalingConfiguration;

use super::{NodeTemplate, Taint};

/// The label naming a node's GPU model (seed 004, upstream's `GPULabel`).
pub const GPU_LABEL: &str = "aliyun.accelerator/nvidia_name";
/// The extended resource of NVIDIA GPUs.
pub const GPU_RESOURCE: &str = "nvidia.com/gpu";

const LABEL_TAG: &str = "k8s.io/cluster-autoscaler/node-template/label/";
const TAINT_TAG: &str = "k8s.io/cluster-autoscaler/node-template/taint/";
const RESOURCE_TAG: &str = "k8s.io/cluster-autoscaler/node-template/resources/";

/// Pods per node, as upstream's template and the kubelet's default.
const MAX_PODS: u32 = 110;
/// System disk size when the configuration does not say (ESS's default).
const DEFAULT_SYSTEM_DISK_GIB: u32 = 40;

/// Builds the template of a group launching `itype` from `config` in `region`/`zone`.
pub fn build_template(
    region: &str,
    zone: Option<&str>,
    config: &ScalingConfiguration,
    itype: &InstanceType,
) -> NodeTemplate {
    let mut t = NodeTemplate {
        instance_type: itype.instance_type_id.clone(),
        ..NodeTemplate::default()
    };
    let cap = &mut t.capacity;
    cap.insert("cpu".into(), itype.cpu_core_count.to_string());
    cap.insert(
        "memory".into(),
        format!("{}Mi", (itype.memory_size * 1024.0).round() as u64),
    );
    cap.insert("pods".into(), MAX_PODS.to_string());
    let disk = if config.system_disk_size > 0 {
        config.system_disk_size
    } else {
        DEFAULT_SYSTEM_DISK_GIB
    };
    cap.insert("ephemeral-storage".into(), format!("{disk}Gi"));
    if itype.gpu_amount > 0 {
        cap.insert(GPU_RESOURCE.into(), itype.gpu_amount.to_string());
    }

    let labels = &mut t.labels;
    let arch = match itype.cpu_architecture.to_ascii_lowercase().as_str() {
        "arm" | "arm64" => "arm64",
        _ => "amd64",
    };
    labels.insert("kubernetes.io/arch".into(), arch.into());
    labels.insert("kubernetes.io/os".into(), "linux".into());
    labels.insert(
        "node.kubernetes.io/instance-type".into(),
        itype.instance_type_id.clone(),
    );
    labels.insert(
        "beta.kubernetes.io/instance-type".into(),
        itype.instance_type_id.clone(),
    );
    labels.insert("topology.kubernetes.io/region".into(), region.into());
    if let Some(zone) = zone.filter(|z| !z.is_empty()) {
        labels.insert("topology.kubernetes.io/zone".into(), zone.into());
    }
    if itype.gpu_amount > 0 {
        labels.insert(GPU_LABEL.into(), gpu_name(itype));
    }

    for tag in &config.tags {
        if let Some(key) = tag.key.strip_prefix(LABEL_TAG) {
            t.labels.insert(key.to_owned(), tag.value.clone());
        } else if let Some(key) = tag.key.strip_prefix(TAINT_TAG) {
            t.taints.push(parse_taint(key, &tag.value));
        } else if let Some(resource) = tag.key.strip_prefix(RESOURCE_TAG) {
            t.capacity.insert(resource.to_owned(), tag.value.clone());
        }
    }
    t.taints.sort_by(|a, b| a.key.cmp(&b.key));
    t
}

/// `value:Effect`, `:Effect` or just `Effect` (cluster-autoscaler's tag forms).
fn parse_taint(key: &str, value: &str) -> Taint {
    let (value, effect) = match value.rsplit_once(':') {
        Some((v, e)) => (v, e),
        None if is_effect(value) => ("", value),
        None => (value, "NoSchedule"),
    };
    Taint {
        key: key.to_owned(),
        value: value.to_owned(),
        effect: if is_effect(effect) {
            effect.to_owned()
        } else {
            "NoSchedule".to_owned()
        },
    }
}

fn is_effect(s: &str) -> bool {
    matches!(s, "NoSchedule" | "PreferNoSchedule" | "NoExecute")
}

/// The GPU model as ACK labels it: the spec with spaces turned into dashes (`NVIDIA T4` →
/// `NVIDIA-T4`), else the instance family.
fn gpu_name(itype: &InstanceType) -> String {
    let spec = itype.gpu_spec.trim();
    if spec.is_empty() {
        itype.instance_type_family.clone()
    } else {
        spec.split_whitespace().collect::<Vec<_>>().join("-")
    }
}

#[cfg(test)]
mod tests {
    use aliyun::ecs::Tag;

    use super::*;

    fn itype(id: &str, cpu: u32, mem: f64, gpus: u32) -> InstanceType {
        InstanceType {
            instance_type_id: id.into(),
            instance_type_family: "ecs.gn6i".into(),
            cpu_core_count: cpu,
            memory_size: mem,
            gpu_amount: gpus,
            gpu_spec: if gpus > 0 {
                "NVIDIA T4".into()
            } else {
                String::new()
            },
            cpu_architecture: "X86".into(),
            ..InstanceType::default()
        }
    }

    fn tag(k: &str, v: &str) -> Tag {
        Tag {
            key: k.into(),
            value: v.into(),
        }
    }

    #[test]
    fn a_cpu_type_gives_capacity_and_topology_labels() {
        let config = ScalingConfiguration {
            system_disk_size: 120,
            ..ScalingConfiguration::default()
        };
        let t = build_template(
            "cn-hangzhou",
            Some("cn-hangzhou-h"),
            &config,
            &itype("ecs.g7.xlarge", 4, 16.0, 0),
        );
        assert_eq!(t.capacity["cpu"], "4");
        assert_eq!(t.capacity["memory"], "16384Mi");
        assert_eq!(t.capacity["pods"], "110");
        assert_eq!(t.capacity["ephemeral-storage"], "120Gi");
        assert!(!t.capacity.contains_key(GPU_RESOURCE));
        assert_eq!(t.labels["topology.kubernetes.io/zone"], "cn-hangzhou-h");
        assert_eq!(t.labels["topology.kubernetes.io/region"], "cn-hangzhou");
        assert_eq!(
            t.labels["node.kubernetes.io/instance-type"],
            "ecs.g7.xlarge"
        );
        assert_eq!(t.labels["kubernetes.io/arch"], "amd64");
        assert!(!t.labels.contains_key(GPU_LABEL));
    }

    #[test]
    fn a_gpu_type_gives_the_gpu_resource_and_the_nvidia_name_label() {
        let t = build_template(
            "cn-beijing",
            None,
            &ScalingConfiguration::default(),
            &itype("ecs.gn6i-c4g1.xlarge", 4, 15.0, 1),
        );
        assert_eq!(t.capacity[GPU_RESOURCE], "1");
        assert_eq!(t.labels[GPU_LABEL], "NVIDIA-T4");
        assert_eq!(t.capacity["ephemeral-storage"], "40Gi");
        assert!(!t.labels.contains_key("topology.kubernetes.io/zone"));
    }

    #[test]
    fn node_template_tags_become_labels_taints_and_resources() {
        let config = ScalingConfiguration {
            tags: vec![
                tag(
                    "k8s.io/cluster-autoscaler/node-template/label/workload",
                    "batch",
                ),
                tag(
                    "k8s.io/cluster-autoscaler/node-template/taint/dedicated",
                    "batch:NoSchedule",
                ),
                tag(
                    "k8s.io/cluster-autoscaler/node-template/taint/spot",
                    "PreferNoSchedule",
                ),
                tag(
                    "k8s.io/cluster-autoscaler/node-template/resources/example.com/dongle",
                    "2",
                ),
                tag("k8s.io/cluster-autoscaler/enabled", "true"),
            ],
            ..ScalingConfiguration::default()
        };
        let t = build_template(
            "cn-hangzhou",
            None,
            &config,
            &itype("ecs.c7.large", 2, 4.0, 0),
        );
        assert_eq!(t.labels["workload"], "batch");
        assert!(!t.labels.contains_key("k8s.io/cluster-autoscaler/enabled"));
        assert_eq!(
            t.taints,
            vec![
                Taint {
                    key: "dedicated".into(),
                    value: "batch".into(),
                    effect: "NoSchedule".into()
                },
                Taint {
                    key: "spot".into(),
                    value: String::new(),
                    effect: "PreferNoSchedule".into()
                },
            ]
        );
        assert_eq!(t.capacity["example.com/dongle"], "2");
    }
}
