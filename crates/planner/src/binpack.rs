//! The binpacking estimator: how many new nodes of a group's template the pending pods need.
//!
//! CA's estimator is First-Fit Decreasing over pods, adding template copies to a forked
//! snapshot one pod at a time. Here a run of identical new nodes is one `Bin` with a count, and
//! a class of `n` identical pods is placed arithmetically: `k` per node on a run fills
//! `min(count, n / k)` nodes at once and splits the run. The order and the result are CA's (pods
//! are taken class by class in decreasing size, each goes to the first new node with room, and a
//! new node is added when none has), but the cost is per class and per run, not per pod and node.
//! Constrained classes (ports, anti-affinity, spread) are placed pod by pod on single nodes.

use crate::cluster::World;
use crate::resources::Resources;
use crate::topology::{self, Counter, HOSTNAME};

/// What one group could do for the pending pods.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Estimate {
    pub nodes: u32,
    /// Pods helped, by class.
    pub helped: Vec<(u32, u32)>,
}

impl Estimate {
    pub fn pods(&self) -> u64 {
        self.helped.iter().map(|(_, n)| u64::from(*n)).sum()
    }
}

#[derive(Debug, Clone)]
struct Bin<'a> {
    /// Identical nodes in this run.
    count: u32,
    /// Free room of each node of the run.
    free: Resources,
    /// Synthetic hostnames of the run are `first_id .. first_id + count`.
    first_id: u32,
    ports: Vec<(i32, &'a str)>,
    /// Pods per node by class; kept only when some class has inter-pod constraints.
    counts: Vec<(u32, u32)>,
}

impl<'a> Bin<'a> {
    fn add(&mut self, class: u32, k: u32, requests: Resources, track: bool) {
        self.free = self.free.minus(requests.times(i64::from(k)));
        if track {
            match self.counts.iter_mut().find(|(c, _)| *c == class) {
                Some((_, n)) => *n += k,
                None => self.counts.push((class, k)),
            }
        }
    }

    /// Splits the run so that `self` keeps `keep` nodes; returns the rest.
    fn split(&mut self, keep: u32) -> Bin<'a> {
        let rest = Bin {
            count: self.count - keep,
            first_id: self.first_id + keep,
            ..self.clone()
        };
        self.count = keep;
        rest
    }
}

/// Estimates group `g` for `pending` (class, count), which must pass the group's static
/// predicates and be sorted by decreasing size. At most `limit` nodes are added.
pub fn estimate(world: &mut World<'_>, g: u32, pending: &[(u32, u32)], limit: u32) -> Estimate {
    let mut out = Estimate::default();
    if limit == 0 || pending.is_empty() {
        return out;
    }
    let empty = world.groups[g as usize].alloc;
    let track = pending
        .iter()
        .any(|&(c, _)| world.classes[c as usize].constrained);
    // suffix_min[i]: the least any class from i on asks for; a bin below it is finished.
    let mut suffix_min = vec![
        Resources {
            pods: 1,
            ..Resources::default()
        };
        pending.len() + 1
    ];
    suffix_min[pending.len()] = Resources {
        cpu: i64::MAX,
        memory: i64::MAX,
        ephemeral: i64::MAX,
        gpu: i64::MAX,
        pods: i64::MAX,
    };
    for i in (0..pending.len()).rev() {
        suffix_min[i] = suffix_min[i + 1].min(world.classes[pending[i].0 as usize].requests);
    }

    let mut bins: Vec<Bin<'_>> = Vec::new();
    let mut next_id = 0u32;
    // The most any bin has free, per resource: a class asking for more than that in some
    // resource skips the scan of the bins (the common case once the node limit is reached).
    let mut roomiest = Resources::default();
    for (i, &(c, n)) in pending.iter().enumerate() {
        let requests = world.classes[c as usize].requests;
        let bins_can = roomiest.covers(requests);
        if out.nodes >= limit && !bins_can {
            continue;
        }
        let placed = if world.classes[c as usize].constrained {
            place_constrained(
                world,
                g,
                c,
                n,
                &mut bins,
                &mut out.nodes,
                &mut next_id,
                limit,
            )
        } else {
            let at = (&mut out.nodes, &mut next_id);
            place_bulk(c, n, requests, empty, &mut bins, bins_can, at, limit, track)
        };
        if placed == 0 {
            continue;
        }
        out.helped.push((c, placed));
        let floor = suffix_min[i + 1];
        roomiest = Resources::default();
        bins.retain(|b| {
            let live = b.free.covers(floor);
            if live {
                roomiest = Resources {
                    cpu: roomiest.cpu.max(b.free.cpu),
                    memory: roomiest.memory.max(b.free.memory),
                    ephemeral: roomiest.ephemeral.max(b.free.ephemeral),
                    gpu: roomiest.gpu.max(b.free.gpu),
                    pods: roomiest.pods.max(b.free.pods),
                };
            }
            live
        });
        if out.nodes >= limit && bins.is_empty() {
            break;
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn place_bulk(
    c: u32,
    n: u32,
    requests: Resources,
    empty: Resources,
    bins: &mut Vec<Bin<'_>>,
    bins_can: bool,
    (nodes, next_id): (&mut u32, &mut u32),
    limit: u32,
    track: bool,
) -> u32 {
    let mut left = n;
    let mut i = if bins_can { 0 } else { bins.len() };
    while i < bins.len() && left > 0 {
        // Most runs are nearly full: comparisons reject them before any division.
        if !bins[i].free.covers(requests) {
            i += 1;
            continue;
        }
        let k = bins[i].free.fit_count(requests).min(i64::from(u32::MAX)) as u32;
        if let Some(per_node) = left.checked_div(k) {
            let full = bins[i].count.min(per_node);
            if full == 0 {
                if bins[i].count > 1 {
                    let rest = bins[i].split(1);
                    bins.insert(i + 1, rest);
                }
                bins[i].add(c, left, requests, track);
                left = 0;
            } else {
                if full < bins[i].count {
                    let rest = bins[i].split(full);
                    bins.insert(i + 1, rest);
                }
                bins[i].add(c, k, requests, track);
                left -= full * k;
            }
        }
        i += 1;
    }
    let k0 = empty.fit_count(requests).min(i64::from(u32::MAX)) as u32;
    if left > 0 && k0 > 0 && *nodes < limit {
        let full = (left / k0).min(limit - *nodes);
        if full > 0 {
            let mut bin = Bin {
                count: full,
                free: empty,
                first_id: *next_id,
                ports: Vec::new(),
                counts: Vec::new(),
            };
            bin.add(c, k0, requests, track);
            bins.push(bin);
            *nodes += full;
            *next_id += full;
            left -= full * k0;
        }
        if left > 0 && left < k0 && *nodes < limit {
            let mut bin = Bin {
                count: 1,
                free: empty,
                first_id: *next_id,
                ports: Vec::new(),
                counts: Vec::new(),
            };
            bin.add(c, left, requests, track);
            bins.push(bin);
            *nodes += 1;
            *next_id += 1;
            left = 0;
        }
    }
    n - left
}

#[allow(clippy::too_many_arguments)]
fn place_constrained<'a>(
    world: &mut World<'a>,
    g: u32,
    c: u32,
    n: u32,
    bins: &mut Vec<Bin<'a>>,
    nodes: &mut u32,
    next_id: &mut u32,
    limit: u32,
) -> u32 {
    let constraints = world.constraints(c).to_vec();
    let class = &world.classes[c as usize];
    let requests = class.requests;
    let ports = class.host_ports.clone();
    let group = &world.groups[g as usize];
    let template_labels = &group.spec.template.metadata.labels;
    let empty = group.alloc;
    let mut counter = Counter::new(&constraints);
    let keys: Vec<String> = counter.keys().map(str::to_owned).collect();
    let new_name = |id: u32| format!("{}#new-{id}", group.spec.id);
    let bin_domains = |name: &str| -> Vec<Option<String>> {
        keys.iter()
            .map(|k| {
                if k == HOSTNAME {
                    Some(name.to_owned())
                } else {
                    template_labels.get(k).cloned()
                }
            })
            .collect()
    };
    for node in &world.nodes {
        if node.removed {
            continue;
        }
        let domains: Vec<Option<&str>> = keys.iter().map(|k| node.domain(k)).collect();
        counter.observe(&domains, &node.counts, world.node_affinity_matches(c, node));
    }
    // The template is an eligible domain for spread even before it has nodes.
    let template_domains = bin_domains(&new_name(u32::MAX));
    let refs: Vec<Option<&str>> = template_domains
        .iter()
        .zip(&keys)
        .map(|(d, k)| if k == HOSTNAME { None } else { d.as_deref() })
        .collect();
    counter.observe(&refs, &[], true);
    for bin in bins.iter() {
        for j in 0..bin.count {
            let d = bin_domains(&new_name(bin.first_id + j));
            let refs: Vec<Option<&str>> = d.iter().map(|x| x.as_deref()).collect();
            counter.observe(&refs, &bin.counts, true);
        }
    }
    counter.seal();

    let mut placed = 0;
    'pods: for _ in 0..n {
        for i in 0..bins.len() {
            if bins[i].free.fit_count(requests) == 0
                || topology::ports_conflict(&bins[i].ports, &ports)
            {
                continue;
            }
            // Every node of a run is alike but for its hostname; try the first one.
            let d = bin_domains(&new_name(bins[i].first_id));
            let refs: Vec<Option<&str>> = d.iter().map(|x| x.as_deref()).collect();
            if counter.allows(&refs).is_err() {
                continue;
            }
            if bins[i].count > 1 {
                let rest = bins[i].split(1);
                bins.insert(i + 1, rest);
            }
            counter.record(&refs);
            bins[i].add(c, 1, requests, true);
            bins[i].ports.extend(ports.iter().copied());
            placed += 1;
            continue 'pods;
        }
        if *nodes >= limit || empty.fit_count(requests) == 0 {
            break;
        }
        let d = bin_domains(&new_name(*next_id));
        let refs: Vec<Option<&str>> = d.iter().map(|x| x.as_deref()).collect();
        if counter.allows(&refs).is_err() {
            break;
        }
        counter.record(&refs);
        let mut bin = Bin {
            count: 1,
            free: empty,
            first_id: *next_id,
            ports: ports.clone(),
            counts: Vec::new(),
        };
        bin.add(c, 1, requests, true);
        bins.push(bin);
        *nodes += 1;
        *next_id += 1;
        placed += 1;
    }
    placed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Snapshot;

    fn world_json(pods: &str, group_cpu: &str) -> Snapshot {
        serde_json::from_str(&format!(
            r#"{{"nodes": [], "pods": [{pods}],
                "nodeGroups": [{{"id": "g", "minSize": 0, "maxSize": 100, "targetSize": 0,
                  "template": {{"metadata": {{"name": "t", "labels": {{"topology.kubernetes.io/zone": "z1"}}}},
                                "status": {{"allocatable": {{"cpu": "{group_cpu}", "memory": "64Gi", "pods": 110}}}}}}}}]}}"#
        ))
        .unwrap()
    }

    fn pods(owner: &str, n: usize, cpu: &str, extra: &str) -> String {
        let containers =
            format!(r#""containers": [{{"resources": {{"requests": {{"cpu": "{cpu}"}}}}}}]"#);
        pods_with(owner, n, &containers, extra)
    }

    fn pods_with(owner: &str, n: usize, containers: &str, extra: &str) -> String {
        (0..n)
            .map(|i| {
                format!(
                    r#"{{"metadata": {{"name": "{owner}-{i}", "namespace": "d", "labels": {{"app": "{owner}"}},
                        "ownerReferences": [{{"kind": "ReplicaSet", "name": "{owner}", "uid": "{owner}", "controller": true}}]}},
                       "spec": {{{containers}{extra}}}}}"#
                )
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    fn run(snapshot: &Snapshot, limit: u32) -> Estimate {
        let mut world = World::compile(snapshot);
        let mut pending: Vec<(u32, u32)> = (0..world.classes.len() as u32)
            .map(|c| (c, world.classes[c as usize].pending.len() as u32))
            .collect();
        let alloc = world.groups[0].alloc;
        pending.sort_by(|a, b| {
            world.classes[b.0 as usize]
                .score(alloc)
                .total_cmp(&world.classes[a.0 as usize].score(alloc))
        });
        estimate(&mut world, 0, &pending, limit)
    }

    #[test]
    fn identical_pods_fill_whole_nodes_and_one_partial_node() {
        let s = world_json(&pods("a", 10, "1", ""), "4");
        let e = run(&s, 100);
        assert_eq!(e.nodes, 3);
        assert_eq!(e.pods(), 10);
    }

    #[test]
    fn smaller_pods_fill_the_gaps_left_by_bigger_ones_first() {
        // 3 × 3 cpu on 4-cpu nodes leave 1 cpu on each; 3 × 1 cpu pods fill the gaps.
        let s = world_json(
            &format!("{},{}", pods("big", 3, "3", ""), pods("small", 3, "1", "")),
            "4",
        );
        let e = run(&s, 100);
        assert_eq!(e.nodes, 3);
        assert_eq!(e.pods(), 6);
    }

    #[test]
    fn the_node_limit_caps_the_pods_helped() {
        let s = world_json(&pods("a", 10, "1", ""), "4");
        let e = run(&s, 2);
        assert_eq!((e.nodes, e.pods()), (2, 8));
    }

    #[test]
    fn hostname_anti_affinity_puts_one_pod_per_node() {
        let anti = r#","affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": "a"}}, "topologyKey": "kubernetes.io/hostname"}]}}"#;
        let s = world_json(&pods("a", 5, "100m", anti), "4");
        let e = run(&s, 100);
        assert_eq!((e.nodes, e.pods()), (5, 5));
    }

    #[test]
    fn zone_anti_affinity_allows_a_single_pod_in_the_templates_zone() {
        let anti = r#","affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": "a"}}, "topologyKey": "topology.kubernetes.io/zone"}]}}"#;
        let s = world_json(&pods("a", 5, "100m", anti), "4");
        let e = run(&s, 100);
        assert_eq!((e.nodes, e.pods()), (1, 1));
    }

    #[test]
    fn host_ports_keep_pods_of_a_class_apart() {
        let containers = r#""containers": [{"ports": [{"containerPort": 80, "hostPort": 80}], "resources": {"requests": {"cpu": "100m"}}}]"#;
        let s = world_json(&pods_with("a", 3, containers, ""), "4");
        let e = run(&s, 100);
        assert_eq!((e.nodes, e.pods()), (3, 3));
    }
}
