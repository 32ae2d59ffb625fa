//! The planner's knobs, named and defaulted after cluster-autoscaler's flags.

use jiff::SignedDuration;

use crate::expander::Expander;

#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// `--expander`, a chain (default `least-waste`).
    pub expanders: Vec<Expander>,
    /// `--max-nodes-total`; 0 means no limit.
    pub max_nodes_total: u32,
    /// `--cores-total` min and max, in cores.
    pub cores_total: (u64, u64),
    /// `--memory-total` min and max, in GiB.
    pub memory_total_gib: (u64, u64),
    /// `--max-nodes-per-scaleup`.
    pub max_nodes_per_scaleup: u32,
    /// `--balance-similar-node-groups`.
    pub balance_similar_node_groups: bool,
    /// Restores CA's single expansion per loop (by default the plan covers every pending pod).
    pub one_group_per_loop: bool,
    /// `--scale-down-enabled`.
    pub scale_down_enabled: bool,
    /// `--scale-down-utilization-threshold`.
    pub scale_down_utilization_threshold: f64,
    /// `--scale-down-gpu-utilization-threshold`.
    pub scale_down_gpu_utilization_threshold: f64,
    /// `--scale-down-unneeded-time`.
    pub scale_down_unneeded_time: SignedDuration,
    /// `--scale-down-unready-time`.
    pub scale_down_unready_time: SignedDuration,
    /// `--scale-down-delay-after-add`.
    pub scale_down_delay_after_add: SignedDuration,
    /// `--scale-down-delay-after-delete`.
    pub scale_down_delay_after_delete: SignedDuration,
    /// `--scale-down-delay-after-failure`.
    pub scale_down_delay_after_failure: SignedDuration,
    /// `--skip-nodes-with-system-pods`.
    pub skip_nodes_with_system_pods: bool,
    /// `--skip-nodes-with-local-storage`.
    pub skip_nodes_with_local_storage: bool,
    /// `--max-empty-bulk-delete`.
    pub max_empty_bulk_delete: u32,
    /// `--max-scale-down-parallelism`.
    pub max_scale_down_parallelism: u32,
    /// `--max-drain-parallelism`.
    pub max_drain_parallelism: u32,
    /// How many pod names a scale-up lists besides the count.
    pub pods_helped_sample: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            expanders: vec![Expander::LeastWaste],
            max_nodes_total: 0,
            cores_total: (0, 320_000),
            memory_total_gib: (0, 6_400_000),
            max_nodes_per_scaleup: 1000,
            balance_similar_node_groups: false,
            one_group_per_loop: false,
            scale_down_enabled: true,
            scale_down_utilization_threshold: 0.5,
            scale_down_gpu_utilization_threshold: 0.5,
            scale_down_unneeded_time: SignedDuration::from_mins(10),
            scale_down_unready_time: SignedDuration::from_mins(20),
            scale_down_delay_after_add: SignedDuration::from_mins(10),
            scale_down_delay_after_delete: SignedDuration::ZERO,
            scale_down_delay_after_failure: SignedDuration::from_mins(3),
            skip_nodes_with_system_pods: true,
            skip_nodes_with_local_storage: true,
            max_empty_bulk_delete: 10,
            max_scale_down_parallelism: 10,
            max_drain_parallelism: 1,
            pods_helped_sample: 10,
        }
    }
}

/// Parses a Go duration as CA's flags take it: `10m`, `1h30m`, `45s`, `1.5h`, `0`.
pub fn parse_go_duration(s: &str) -> Result<SignedDuration, String> {
    let s = s.trim();
    if s == "0" {
        return Ok(SignedDuration::ZERO);
    }
    if s.is_empty() {
        return Err("empty duration".into());
    }
    let mut rest = s;
    let mut total_nanos: f64 = 0.0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("duration {s:?} lacks a unit (ns, us, ms, s, m, h)"))?;
        let (number, after) = rest.split_at(number_len);
        let value: f64 = number
            .parse()
            .map_err(|_| format!("invalid duration {s:?}"))?;
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(format!("unknown unit {unit:?} in duration {s:?}")),
        };
        total_nanos += value * scale;
        rest = after;
    }
    Ok(SignedDuration::from_nanos(total_nanos.round() as i64))
}

/// Parses CA's `<min>:<max>` resource totals.
pub fn parse_min_max(s: &str) -> Result<(u64, u64), String> {
    let (min, max) = s
        .split_once(':')
        .ok_or_else(|| format!("expected <min>:<max>, found {s:?}"))?;
    let parse = |v: &str| {
        v.trim()
            .parse::<u64>()
            .map_err(|_| format!("{v:?} is not a whole number in {s:?}"))
    };
    let (min, max) = (parse(min)?, parse(max)?);
    if min > max {
        return Err(format!("min {min} is above max {max} in {s:?}"));
    }
    Ok((min, max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse_as_ca_flags_use_them() {
        assert_eq!(
            parse_go_duration("10m").unwrap(),
            SignedDuration::from_mins(10)
        );
        assert_eq!(
            parse_go_duration("1h30m").unwrap(),
            SignedDuration::from_mins(90)
        );
        assert_eq!(
            parse_go_duration("1.5s").unwrap(),
            SignedDuration::from_millis(1500)
        );
        assert_eq!(parse_go_duration("0").unwrap(), SignedDuration::ZERO);
        assert!(parse_go_duration("10").is_err());
        assert!(parse_go_duration("5d").is_err());
    }

    #[test]
    fn resource_totals_are_min_colon_max() {
        assert_eq!(parse_min_max("0:100").unwrap(), (0, 100));
        assert!(parse_min_max("5:1").is_err());
        assert!(parse_min_max("5").is_err());
    }
}
