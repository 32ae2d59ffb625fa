//! What the emulated cloud sells: regions, zones, instance types and their hourly prices.
//!
//! The families are real ones (g7 general purpose, c7 compute, r7 memory, g8y Arm, t6
//! burstable, gn6i/gn7i/gn6v GPU, ebmg7 bare metal) with their real shapes, so that what a
//! planner learns here about a type holds on Alibaba Cloud. Prices are list prices in CNY per
//! hour, rounded; spot prices are a fixed fraction of them.

use crate::error::{ApiError, ApiResult};

/// A region and its zones.
#[derive(Debug, Clone, Copy)]
pub struct Region {
    /// e.g. `cn-hangzhou`.
    pub id: &'static str,
    /// English name.
    pub local_name: &'static str,
    /// Zone suffixes: `cn-hangzhou` + `k` = `cn-hangzhou-k`.
    pub zone_suffixes: &'static [&'static str],
    /// The two letters real resource ids carry for this region (`i-bp1…` in Hangzhou).
    pub id_prefix: &'static str,
}

impl Region {
    /// The zone ids of this region.
    pub fn zones(&self) -> impl Iterator<Item = String> + '_ {
        self.zone_suffixes
            .iter()
            // Regions named with a trailing digit take the letter directly (eu-central-1a), the
            // others after a hyphen (cn-hangzhou-k), as on Alibaba Cloud.
            .map(move |s| {
                if self.id.ends_with(|c: char| c.is_ascii_digit()) {
                    format!("{}{s}", self.id)
                } else {
                    format!("{}-{s}", self.id)
                }
            })
    }
}

/// The emulated regions.
pub const REGIONS: &[Region] = &[
    Region {
        id: "cn-hangzhou",
        local_name: "China (Hangzhou)",
        zone_suffixes: &["h", "i", "j", "k"],
        id_prefix: "bp",
    },
    Region {
        id: "cn-beijing",
        local_name: "China (Beijing)",
        zone_suffixes: &["h", "i", "j", "k", "l"],
        id_prefix: "2z",
    },
    Region {
        id: "cn-shanghai",
        local_name: "China (Shanghai)",
        zone_suffixes: &["b", "e", "f", "g", "l"],
        id_prefix: "uf",
    },
    Region {
        id: "cn-shenzhen",
        local_name: "China (Shenzhen)",
        zone_suffixes: &["a", "c", "d", "e", "f"],
        id_prefix: "wz",
    },
    Region {
        id: "cn-hongkong",
        local_name: "China (Hong Kong)",
        zone_suffixes: &["b", "c", "d"],
        id_prefix: "j6",
    },
    Region {
        id: "ap-southeast-1",
        local_name: "Singapore",
        zone_suffixes: &["a", "b", "c"],
        id_prefix: "t4",
    },
    Region {
        id: "eu-central-1",
        local_name: "Germany (Frankfurt)",
        zone_suffixes: &["a", "b"],
        id_prefix: "gw",
    },
    Region {
        id: "us-west-1",
        local_name: "US (Silicon Valley)",
        zone_suffixes: &["a", "b"],
        id_prefix: "rj",
    },
];

/// A region by id.
pub fn region(id: &str) -> Option<&'static Region> {
    REGIONS.iter().find(|r| r.id == id)
}

/// The region `id`, given in parameter `param`; `InvalidRegionId.NotFound` when there is none.
pub fn known_region(param: &str, id: &str) -> ApiResult<&'static Region> {
    region(id).ok_or_else(|| {
        ApiError::not_found("InvalidRegionId.NotFound", format_args!("{param} {id}"))
    })
}

/// Checks that `zone`, given in parameter `param`, is a zone of `region`
/// (`InvalidZoneId.NotFound` otherwise).
pub fn check_zone(region: &Region, param: &str, zone: &str) -> ApiResult<()> {
    if region.zones().any(|z| z == zone) {
        Ok(())
    } else {
        Err(ApiError::not_found(
            "InvalidZoneId.NotFound",
            format_args!("{param} {zone} in {}", region.id),
        ))
    }
}

/// The region a zone id belongs to (`cn-hangzhou-k` → `cn-hangzhou`).
pub fn region_of_zone(zone: &str) -> Option<&'static Region> {
    REGIONS.iter().find(|r| r.zones().any(|z| z == zone))
}

/// How widely a type is offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    /// In every zone.
    Everywhere,
    /// Only in the first `n` zones of each region (scarce GPU and bare-metal stock).
    FirstZones(usize),
}

/// An instance type.
#[derive(Debug, Clone, Copy)]
pub struct InstanceType {
    /// e.g. `ecs.g7.large`.
    pub id: &'static str,
    /// e.g. `ecs.g7`.
    pub family: &'static str,
    /// DescribeInstanceTypes `InstanceCategory`.
    pub category: &'static str,
    /// vCPUs.
    pub cpu: u32,
    /// Memory in GiB.
    pub memory_gib: f64,
    /// GPUs.
    pub gpu: u32,
    /// e.g. `NVIDIA T4`; empty without GPUs.
    pub gpu_spec: &'static str,
    /// GPU memory in GiB per card.
    pub gpu_memory_gib: f64,
    /// `X86` or `ARM`.
    pub arch: &'static str,
    /// Elastic network interfaces.
    pub eni: u32,
    /// Private IPs per ENI.
    pub eni_ips: u32,
    /// Pay-as-you-go price, CNY per hour.
    pub hourly_price: f64,
    /// Where it is sold.
    pub availability: Availability,
    /// Whether it can be bought as a spot instance.
    pub spot: bool,
}

const fn t(
    id: &'static str,
    family: &'static str,
    category: &'static str,
    cpu: u32,
    memory_gib: f64,
    eni: u32,
    hourly_price: f64,
) -> InstanceType {
    InstanceType {
        id,
        family,
        category,
        cpu,
        memory_gib,
        gpu: 0,
        gpu_spec: "",
        gpu_memory_gib: 0.0,
        arch: "X86",
        eni,
        eni_ips: if cpu <= 2 { 6 } else { 10 },
        hourly_price,
        availability: Availability::Everywhere,
        spot: true,
    }
}

const fn gpu(
    base: InstanceType,
    count: u32,
    spec: &'static str,
    memory: f64,
    zones: usize,
) -> InstanceType {
    InstanceType {
        gpu: count,
        gpu_spec: spec,
        gpu_memory_gib: memory,
        availability: Availability::FirstZones(zones),
        ..base
    }
}

const GP: &str = "General-purpose";
const CO: &str = "Compute-optimized";
const MO: &str = "Memory-optimized";
const GA: &str = "GPU-accelerated";

/// The catalogue.
pub const INSTANCE_TYPES: &[InstanceType] = &[
    t("ecs.g7.large", "ecs.g7", GP, 2, 8.0, 3, 0.69),
    t("ecs.g7.xlarge", "ecs.g7", GP, 4, 16.0, 4, 1.38),
    t("ecs.g7.2xlarge", "ecs.g7", GP, 8, 32.0, 4, 2.76),
    t("ecs.g7.4xlarge", "ecs.g7", GP, 16, 64.0, 8, 5.52),
    t("ecs.g7.8xlarge", "ecs.g7", GP, 32, 128.0, 8, 11.04),
    t("ecs.c7.large", "ecs.c7", CO, 2, 4.0, 3, 0.52),
    t("ecs.c7.xlarge", "ecs.c7", CO, 4, 8.0, 4, 1.04),
    t("ecs.c7.2xlarge", "ecs.c7", CO, 8, 16.0, 4, 2.08),
    t("ecs.c7.4xlarge", "ecs.c7", CO, 16, 32.0, 8, 4.16),
    t("ecs.r7.large", "ecs.r7", MO, 2, 16.0, 3, 0.90),
    t("ecs.r7.xlarge", "ecs.r7", MO, 4, 32.0, 4, 1.80),
    t("ecs.r7.2xlarge", "ecs.r7", MO, 8, 64.0, 4, 3.60),
    // The seed 000 walkthrough's master and worker type (a previous generation, still on sale).
    t("ecs.sn1ne.large", "ecs.sn1ne", CO, 2, 4.0, 2, 0.25),
    InstanceType {
        arch: "ARM",
        ..t("ecs.g8y.large", "ecs.g8y", GP, 2, 8.0, 3, 0.55)
    },
    InstanceType {
        arch: "ARM",
        ..t("ecs.g8y.xlarge", "ecs.g8y", GP, 4, 16.0, 4, 1.10)
    },
    InstanceType {
        spot: false,
        ..t("ecs.t6-c1m2.large", "ecs.t6", "Burstable", 2, 4.0, 2, 0.16)
    },
    gpu(
        t("ecs.gn6i-c4g1.xlarge", "ecs.gn6i", GA, 4, 15.0, 2, 8.76),
        1,
        "NVIDIA T4",
        16.0,
        3,
    ),
    gpu(
        t("ecs.gn6i-c8g1.2xlarge", "ecs.gn6i", GA, 8, 31.0, 4, 10.25),
        1,
        "NVIDIA T4",
        16.0,
        3,
    ),
    gpu(
        t("ecs.gn7i-c16g1.4xlarge", "ecs.gn7i", GA, 16, 60.0, 8, 14.12),
        1,
        "NVIDIA A10",
        24.0,
        2,
    ),
    gpu(
        t("ecs.gn6v-c8g1.2xlarge", "ecs.gn6v", GA, 8, 32.0, 4, 26.46),
        1,
        "NVIDIA V100",
        16.0,
        2,
    ),
    gpu(
        t(
            "ecs.gn6v-c8g1.8xlarge",
            "ecs.gn6v",
            GA,
            32,
            128.0,
            8,
            105.84,
        ),
        4,
        "NVIDIA V100",
        16.0,
        2,
    ),
    InstanceType {
        availability: Availability::FirstZones(1),
        spot: false,
        ..t(
            "ecs.ebmg7.32xlarge",
            "ecs.ebmg7",
            "ECS Bare Metal Instance",
            128,
            512.0,
            32,
            88.32,
        )
    },
];

/// Spot instances cost this fraction of the pay-as-you-go price.
pub const SPOT_DISCOUNT: f64 = 0.2;

/// An instance type by id.
pub fn instance_type(id: &str) -> Option<&'static InstanceType> {
    INSTANCE_TYPES.iter().find(|t| t.id == id)
}

/// Whether `zone` of `region` sells the type.
pub fn offered_in(instance_type: &InstanceType, region: &Region, zone: &str) -> bool {
    let Some(position) = region.zones().position(|z| z == zone) else {
        return false;
    };
    match instance_type.availability {
        Availability::Everywhere => true,
        Availability::FirstZones(n) => position < n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_resolve_to_their_region() {
        assert_eq!(
            region_of_zone("cn-hangzhou-k").map(|r| r.id),
            Some("cn-hangzhou")
        );
        assert!(region_of_zone("cn-hangzhou-z").is_none());
        assert!(region_of_zone("nowhere").is_none());
        assert_eq!(
            region_of_zone("eu-central-1a").map(|r| r.id),
            Some("eu-central-1")
        );
        assert!(region_of_zone("eu-central-1-a").is_none());
    }

    #[test]
    fn gpu_types_are_scarce_and_general_types_are_everywhere() {
        let hz = region("cn-hangzhou").unwrap();
        let t4 = instance_type("ecs.gn6i-c4g1.xlarge").unwrap();
        assert!(offered_in(t4, hz, "cn-hangzhou-h"));
        assert!(!offered_in(t4, hz, "cn-hangzhou-k"));
        assert!(offered_in(
            instance_type("ecs.g7.large").unwrap(),
            hz,
            "cn-hangzhou-k"
        ));
    }

    #[test]
    fn catalogue_ids_are_unique_and_match_their_family() {
        for (i, a) in INSTANCE_TYPES.iter().enumerate() {
            assert!(a.id.starts_with(a.family), "{}", a.id);
            assert!(
                INSTANCE_TYPES[i + 1..].iter().all(|b| b.id != a.id),
                "duplicate {}",
                a.id
            );
            assert_eq!(a.gpu > 0, !a.gpu_spec.is_empty(), "{}", a.id);
        }
    }
}
