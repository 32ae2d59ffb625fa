//! The resource vector the scheduler compares: cpu, memory, ephemeral storage, GPUs and pod slots.
//!
//! Kept as a small `Copy` struct of integers so fit checks in the hot loops are a handful of
//! comparisons. Other extended resources are rare and handled beside it (see `Class::extended`).

use std::collections::BTreeMap;

use crate::model::{Container, Pod};
use crate::quantity::Quantity;

pub const CPU: &str = "cpu";
pub const MEMORY: &str = "memory";
pub const EPHEMERAL: &str = "ephemeral-storage";
pub const GPU: &str = "nvidia.com/gpu";
pub const PODS: &str = "pods";

/// Amounts in the scheduler's units: millicores, bytes, bytes, devices, pods.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Resources {
    pub cpu: i64,
    pub memory: i64,
    pub ephemeral: i64,
    pub gpu: i64,
    pub pods: i64,
}

impl Resources {
    /// The well-known resources of a resource list; the others are returned apart.
    pub fn from_list(list: &BTreeMap<String, Quantity>) -> (Self, Vec<(String, i64)>) {
        let mut r = Self::default();
        let mut extended = Vec::new();
        for (name, q) in list {
            match name.as_str() {
                CPU => r.cpu = q.millis(),
                MEMORY => r.memory = q.value(),
                EPHEMERAL => r.ephemeral = q.value(),
                GPU => r.gpu = q.value(),
                PODS => r.pods = q.value(),
                _ => extended.push((name.clone(), q.value())),
            }
        }
        (r, extended)
    }

    pub fn plus(self, o: Self) -> Self {
        Self {
            cpu: self.cpu + o.cpu,
            memory: self.memory + o.memory,
            ephemeral: self.ephemeral + o.ephemeral,
            gpu: self.gpu + o.gpu,
            pods: self.pods + o.pods,
        }
    }

    pub fn minus(self, o: Self) -> Self {
        Self {
            cpu: self.cpu - o.cpu,
            memory: self.memory - o.memory,
            ephemeral: self.ephemeral - o.ephemeral,
            gpu: self.gpu - o.gpu,
            pods: self.pods - o.pods,
        }
    }

    pub fn times(self, n: i64) -> Self {
        Self {
            cpu: self.cpu * n,
            memory: self.memory * n,
            ephemeral: self.ephemeral * n,
            gpu: self.gpu * n,
            pods: self.pods * n,
        }
    }

    /// Component-wise minimum.
    pub fn min(self, o: Self) -> Self {
        Self {
            cpu: self.cpu.min(o.cpu),
            memory: self.memory.min(o.memory),
            ephemeral: self.ephemeral.min(o.ephemeral),
            gpu: self.gpu.min(o.gpu),
            pods: self.pods.min(o.pods),
        }
    }

    /// Every component of `self` covers `need`.
    pub fn covers(self, need: Self) -> bool {
        self.cpu >= need.cpu
            && self.memory >= need.memory
            && self.ephemeral >= need.ephemeral
            && self.gpu >= need.gpu
            && self.pods >= need.pods
    }

    /// How many copies of `need` fit into `self` (free room). `need.pods` is at least 1 for a
    /// real pod, which bounds the answer.
    pub fn fit_count(self, need: Self) -> i64 {
        let mut n = if need.pods > 0 {
            self.pods / need.pods
        } else {
            i64::MAX
        };
        for (have, want) in [
            (self.cpu, need.cpu),
            (self.memory, need.memory),
            (self.ephemeral, need.ephemeral),
            (self.gpu, need.gpu),
        ] {
            if want > 0 {
                n = n.min(have / want);
            }
        }
        n.max(0)
    }

    /// The first resource of `need` that `self` does not cover, by its Kubernetes name.
    pub fn first_shortfall(self, need: Self) -> Option<&'static str> {
        [
            (self.cpu < need.cpu, CPU),
            (self.memory < need.memory, MEMORY),
            (self.gpu < need.gpu, GPU),
            (self.ephemeral < need.ephemeral, EPHEMERAL),
            (self.pods < need.pods, PODS),
        ]
        .into_iter()
        .find_map(|(short, name)| short.then_some(name))
    }
}

/// A pod's effective requests, as the scheduler computes them: the app containers (and sidecars)
/// add up, a plain init container only needs to fit on its own, and the pod overhead comes on
/// top. A resource with a limit but no request is requested at its limit (API defaulting). One
/// pod slot is always requested.
pub fn pod_requests(pod: &Pod) -> (Resources, Vec<(String, i64)>) {
    fn container(c: &Container) -> (Resources, Vec<(String, i64)>) {
        let r = &c.resources;
        if r.limits.keys().all(|k| r.requests.contains_key(k)) {
            return Resources::from_list(&r.requests);
        }
        let mut merged = r.limits.clone();
        merged.extend(r.requests.iter().map(|(k, v)| (k.clone(), *v)));
        Resources::from_list(&merged)
    }
    fn add_ext(into: &mut Vec<(String, i64)>, from: Vec<(String, i64)>, max: bool) {
        for (name, v) in from {
            match into.iter_mut().find(|(n, _)| *n == name) {
                Some((_, have)) if max => *have = (*have).max(v),
                Some((_, have)) => *have += v,
                None => into.push((name, v)),
            }
        }
    }

    let mut sum = Resources::default();
    let mut ext = Vec::new();
    for c in &pod.spec.containers {
        let (r, e) = container(c);
        sum = sum.plus(r);
        add_ext(&mut ext, e, false);
    }
    let mut init_max = Resources::default();
    let mut sidecars = Resources::default();
    for c in &pod.spec.init_containers {
        let (r, e) = container(c);
        if c.restart_policy.as_deref() == Some("Always") {
            sidecars = sidecars.plus(r);
            sum = sum.plus(r);
            add_ext(&mut ext, e, false);
        } else {
            let r = r.plus(sidecars);
            init_max = Resources {
                cpu: init_max.cpu.max(r.cpu),
                memory: init_max.memory.max(r.memory),
                ephemeral: init_max.ephemeral.max(r.ephemeral),
                gpu: init_max.gpu.max(r.gpu),
                pods: 0,
            };
            add_ext(&mut ext, e, true);
        }
    }
    let mut total = Resources {
        cpu: sum.cpu.max(init_max.cpu),
        memory: sum.memory.max(init_max.memory),
        ephemeral: sum.ephemeral.max(init_max.ephemeral),
        gpu: sum.gpu.max(init_max.gpu),
        pods: 1,
    };
    if !pod.spec.overhead.is_empty() {
        let (o, e) = Resources::from_list(&pod.spec.overhead);
        total = total.plus(Resources { pods: 0, ..o });
        add_ext(&mut ext, e, false);
    }
    ext.retain(|(_, v)| *v > 0);
    (total, ext)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(json: &str) -> Pod {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn containers_add_up_and_init_containers_only_need_to_fit_alone() {
        let p = pod(r#"{"spec": {
            "containers": [{"resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}},
                           {"resources": {"requests": {"cpu": "250m"}}}],
            "initContainers": [{"resources": {"requests": {"cpu": "2", "memory": "10Mi"}}}]}}"#);
        let (r, ext) = pod_requests(&p);
        assert_eq!(r.cpu, 2000);
        assert_eq!(r.memory, 1 << 30);
        assert_eq!(r.pods, 1);
        assert!(ext.is_empty());
    }

    #[test]
    fn limits_stand_in_for_missing_requests_and_overhead_is_added() {
        let p = pod(r#"{"spec": {
            "containers": [{"resources": {"limits": {"cpu": "1", "nvidia.com/gpu": 1, "example.com/fpga": 2}}}],
            "overhead": {"cpu": "100m"}}}"#);
        let (r, ext) = pod_requests(&p);
        assert_eq!((r.cpu, r.gpu), (1100, 1));
        assert_eq!(ext, vec![("example.com/fpga".to_string(), 2)]);
    }

    #[test]
    fn fit_count_is_bounded_by_the_scarcest_resource() {
        let free = Resources {
            cpu: 4000,
            memory: 8 << 30,
            ephemeral: 0,
            gpu: 0,
            pods: 110,
        };
        let need = Resources {
            cpu: 500,
            memory: 3 << 30,
            ephemeral: 0,
            gpu: 0,
            pods: 1,
        };
        assert_eq!(free.fit_count(need), 2);
        assert_eq!(free.fit_count(Resources { gpu: 1, ..need }), 0);
        assert_eq!(
            free.first_shortfall(Resources { gpu: 1, ..need }),
            Some(GPU)
        );
    }
}
