//! Inter-pod constraints, counted per topology domain: required pod anti-affinity (the pod's own
//! terms and other pods' terms that point at it), hard topology spread, and host ports.
//!
//! A domain is the value of the constraint's topology key on a node (`kubernetes.io/hostname`
//! falls back to the node name, so new nodes of a template are distinct domains). Only classes
//! marked `constrained` go through here, pod by pod; everything else is placed arithmetically.

use rustc_hash::FxHashMap;

use crate::equivalence::Class;
use crate::predicates::Failure;

pub const HOSTNAME: &str = "kubernetes.io/hostname";

/// What one constraint of a class counts, precomputed once per plan.
#[derive(Debug, Clone)]
pub struct Constraint {
    pub key: String,
    pub kind: Kind,
    /// Classes whose pods are counted in a domain.
    pub counted: Vec<u32>,
    /// Placing a pod of the constrained class itself adds to the count.
    pub self_counted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// No pod may land in a domain whose count is above zero.
    AntiAffinity,
    /// count(domain) + 1 - min(count over eligible domains) must stay within `max_skew`.
    Spread { max_skew: i64 },
}

/// The constraints of class `c` against every class of the world.
pub fn constraints_of(c: u32, classes: &[Class<'_>]) -> Vec<Constraint> {
    let me = &classes[c as usize];
    let mut out = Vec::new();
    let in_namespaces = |term_ns: &[String], owner_ns: &str, other: &Class<'_>| {
        if term_ns.is_empty() {
            other.namespace == owner_ns
        } else {
            term_ns.iter().any(|n| n == other.namespace)
        }
    };
    for term in me.anti_affinity {
        let selects = |other: &Class<'_>| {
            in_namespaces(&term.namespaces, me.namespace, other)
                && term
                    .label_selector
                    .as_ref()
                    .is_some_and(|s| s.matches(other.labels))
        };
        out.push(Constraint {
            key: term.topology_key.clone(),
            kind: Kind::AntiAffinity,
            counted: (0..classes.len() as u32)
                .filter(|&o| selects(&classes[o as usize]))
                .collect(),
            self_counted: selects(me),
        });
    }
    // Symmetry: a running or pending pod's anti-affinity term that selects this class.
    for (o, other) in classes.iter().enumerate() {
        if o as u32 == c {
            continue;
        }
        for term in other.anti_affinity {
            if in_namespaces(&term.namespaces, other.namespace, me)
                && term
                    .label_selector
                    .as_ref()
                    .is_some_and(|s| s.matches(me.labels))
            {
                out.push(Constraint {
                    key: term.topology_key.clone(),
                    kind: Kind::AntiAffinity,
                    counted: vec![o as u32],
                    self_counted: false,
                });
            }
        }
    }
    for spread in &me.spread {
        let selects = |other: &Class<'_>| {
            other.namespace == me.namespace
                && spread
                    .label_selector
                    .as_ref()
                    .is_some_and(|s| s.matches(other.labels))
        };
        out.push(Constraint {
            key: spread.topology_key.clone(),
            kind: Kind::Spread {
                max_skew: i64::from(spread.max_skew.max(1)),
            },
            counted: (0..classes.len() as u32)
                .filter(|&o| selects(&classes[o as usize]))
                .collect(),
            self_counted: selects(me),
        });
    }
    out
}

/// Live counts for one class's constraints during a placement.
pub struct Counter<'c> {
    constraints: &'c [Constraint],
    counts: Vec<FxHashMap<String, i64>>,
    /// Spread only: the eligible domains (present in `counts` even at zero).
    min: Vec<i64>,
}

impl<'c> Counter<'c> {
    pub fn new(constraints: &'c [Constraint]) -> Self {
        Self {
            constraints,
            counts: vec![FxHashMap::default(); constraints.len()],
            min: vec![0; constraints.len()],
        }
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.constraints.iter().map(|c| c.key.as_str())
    }

    /// Adds the pods of a node (or template node): `domains[i]` is the node's value for
    /// constraint `i`'s key; `eligible` says whether the node can be a spread domain for the pod.
    pub fn observe(&mut self, domains: &[Option<&str>], counts: &[(u32, u32)], eligible: bool) {
        for (i, constraint) in self.constraints.iter().enumerate() {
            let Some(domain) = domains[i] else { continue };
            let n: i64 = counts
                .iter()
                .filter(|(class, _)| constraint.counted.binary_search(class).is_ok())
                .map(|(_, n)| i64::from(*n))
                .sum();
            let spread = matches!(constraint.kind, Kind::Spread { .. });
            if n > 0 || (spread && eligible) {
                *self.counts[i].entry(domain.to_owned()).or_default() += n;
            }
        }
    }

    /// Call once all nodes are observed.
    pub fn seal(&mut self) {
        for (i, counts) in self.counts.iter().enumerate() {
            self.min[i] = counts.values().copied().min().unwrap_or(0);
        }
    }

    /// Whether one more pod of the class may go to a node with these domains.
    pub fn allows(&self, domains: &[Option<&str>]) -> Result<(), Failure> {
        for (i, constraint) in self.constraints.iter().enumerate() {
            let Some(domain) = domains[i] else {
                if matches!(constraint.kind, Kind::Spread { .. }) {
                    // A node without the key is not part of any domain: the scheduler rejects it.
                    return Err(Failure::TopologySpread);
                }
                continue;
            };
            let here = self.counts[i].get(domain).copied();
            match constraint.kind {
                Kind::AntiAffinity if here.unwrap_or(0) > 0 => {
                    return Err(Failure::PodAntiAffinity);
                }
                Kind::AntiAffinity => {}
                Kind::Spread { max_skew } => {
                    let here_n = here.unwrap_or(0);
                    // A domain not yet seen (a new node) holds zero pods.
                    let min = if here.is_none() { 0 } else { self.min[i] };
                    let add = i64::from(constraint.self_counted);
                    if here_n + add - min > max_skew {
                        return Err(Failure::TopologySpread);
                    }
                }
            }
        }
        Ok(())
    }

    /// Records one pod of the class placed on a node with these domains.
    pub fn record(&mut self, domains: &[Option<&str>]) {
        for (i, constraint) in self.constraints.iter().enumerate() {
            if !constraint.self_counted {
                continue;
            }
            let Some(domain) = domains[i] else { continue };
            let entry = self.counts[i].entry(domain.to_owned()).or_default();
            let was = *entry;
            *entry += 1;
            if matches!(constraint.kind, Kind::Spread { .. }) && was == self.min[i] {
                self.min[i] = self.counts[i].values().copied().min().unwrap_or(0);
            }
        }
    }
}

/// Host ports in use on a node collide with a pod's ports (the host IP is not modelled, which
/// errs on the side of a conflict).
pub fn ports_conflict(used: &[(i32, &str)], wanted: &[(i32, &str)]) -> bool {
    wanted.iter().any(|w| used.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spread(max_skew: i64) -> Vec<Constraint> {
        vec![Constraint {
            key: "zone".into(),
            kind: Kind::Spread { max_skew },
            counted: vec![0],
            self_counted: true,
        }]
    }

    #[test]
    fn spread_allows_the_emptier_zone_and_refuses_the_fuller_one() {
        let constraints = spread(1);
        let mut counter = Counter::new(&constraints);
        counter.observe(&[Some("a")], &[(0, 2)], true);
        counter.observe(&[Some("b")], &[(0, 1)], true);
        counter.seal();
        assert!(counter.allows(&[Some("a")]).is_err());
        assert!(counter.allows(&[Some("b")]).is_ok());
        counter.record(&[Some("b")]);
        assert!(
            counter.allows(&[Some("a")]).is_ok(),
            "b caught up, so the minimum rose"
        );
    }

    #[test]
    fn anti_affinity_blocks_occupied_domains_only() {
        let constraints = vec![Constraint {
            key: HOSTNAME.into(),
            kind: Kind::AntiAffinity,
            counted: vec![3],
            self_counted: true,
        }];
        let mut counter = Counter::new(&constraints);
        counter.observe(&[Some("n1")], &[(3, 1)], true);
        counter.seal();
        assert_eq!(counter.allows(&[Some("n1")]), Err(Failure::PodAntiAffinity));
        assert!(counter.allows(&[Some("n2")]).is_ok());
        counter.record(&[Some("n2")]);
        assert!(counter.allows(&[Some("n2")]).is_err());
    }

    #[test]
    fn host_ports_conflict_on_port_and_protocol() {
        assert!(ports_conflict(&[(80, "TCP")], &[(80, "TCP")]));
        assert!(!ports_conflict(&[(80, "UDP")], &[(80, "TCP")]));
    }
}
