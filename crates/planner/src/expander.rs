//! Expanders: which scale-up option to take, as cluster-autoscaler's `--expander` chooses.
//!
//! `--expander=a,b,c` is a chain of filters: each keeps its best options (ties included) and hands
//! them to the next; the chain stops early when one option is left, and the remaining tie is
//! broken uniformly at random (CA's fallback), here with the caller's seeded RNG.

use std::collections::BTreeMap;
use std::str::FromStr;

use rand::Rng;
use regex::Regex;

use crate::model::PriorityConfig;
use crate::resources::Resources;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expander {
    Random,
    MostPods,
    LeastWaste,
    LeastNodes,
    Price,
    Priority,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpanderError {
    #[error(
        "unknown expander {0:?}: expected random, most-pods, least-waste, least-nodes, price or priority"
    )]
    Unknown(String),
    #[error("priority expander configuration, line {line}: {problem}")]
    PriorityConfig { line: usize, problem: String },
    #[error("priority expander configuration: invalid regular expression {pattern:?}: {problem}")]
    Regex { pattern: String, problem: String },
}

impl FromStr for Expander {
    type Err = ExpanderError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim() {
            "random" => Self::Random,
            "most-pods" => Self::MostPods,
            "least-waste" => Self::LeastWaste,
            "least-nodes" => Self::LeastNodes,
            "price" => Self::Price,
            "priority" => Self::Priority,
            other => return Err(ExpanderError::Unknown(other.to_owned())),
        })
    }
}

impl Expander {
    pub fn name(self) -> &'static str {
        match self {
            Self::Random => "random",
            Self::MostPods => "most-pods",
            Self::LeastWaste => "least-waste",
            Self::LeastNodes => "least-nodes",
            Self::Price => "price",
            Self::Priority => "priority",
        }
    }

    /// Parses CA's comma-separated `--expander` value.
    pub fn parse_chain(s: &str) -> Result<Vec<Self>, ExpanderError> {
        s.split(',').map(str::parse).collect()
    }
}

/// What an expander needs to know about one option.
#[derive(Debug, Clone)]
pub struct Candidate<'a> {
    pub group_id: &'a str,
    pub nodes: u32,
    pub pods: u64,
    /// Sum of the requests of the pods helped.
    pub requested: Resources,
    /// Capacity of one template node.
    pub capacity: Resources,
    pub price_per_hour: Option<f64>,
    pub gpu: bool,
}

/// Group priorities: the highest priority whose regular expressions match a group id wins.
#[derive(Debug, Clone, Default)]
pub struct Priorities {
    levels: Vec<(i64, Vec<Regex>)>,
}

impl Priorities {
    pub fn from_config(config: &PriorityConfig) -> Result<Self, ExpanderError> {
        let map = match config {
            PriorityConfig::Text(text) => parse_priorities(text)?,
            PriorityConfig::ConfigMap { data } => match data.get("priorities") {
                Some(text) => parse_priorities(text)?,
                None => {
                    return Err(ExpanderError::PriorityConfig {
                        line: 0,
                        problem: "the ConfigMap has no `priorities` key".into(),
                    });
                }
            },
            PriorityConfig::Map(map) => {
                let mut out = BTreeMap::new();
                for (k, v) in map {
                    let p = k
                        .trim()
                        .parse::<i64>()
                        .map_err(|_| ExpanderError::PriorityConfig {
                            line: 0,
                            problem: format!("priority {k:?} is not an integer"),
                        })?;
                    out.insert(p, v.clone());
                }
                out
            }
        };
        let mut levels = Vec::new();
        for (priority, patterns) in map {
            let regexes = patterns
                .iter()
                .map(|p| {
                    Regex::new(p).map_err(|e| ExpanderError::Regex {
                        pattern: p.clone(),
                        problem: e.to_string(),
                    })
                })
                .collect::<Result<_, _>>()?;
            levels.push((priority, regexes));
        }
        Ok(Self { levels })
    }

    /// The highest priority matching `id` (Go's unanchored `MatchString`), if any.
    pub fn of(&self, id: &str) -> Option<i64> {
        self.levels
            .iter()
            .filter(|(_, res)| res.iter().any(|r| r.is_match(id)))
            .map(|(p, _)| *p)
            .max()
    }
}

/// The `priorities` value of CA's ConfigMap: a YAML map of integer priority to a list of
/// regular expressions, in block (`- re`) or flow (`[re, re]`) style.
pub fn parse_priorities(text: &str) -> Result<BTreeMap<i64, Vec<String>>, ExpanderError> {
    let mut out: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    let mut current: Option<i64> = None;
    for (n, raw) in text.lines().enumerate() {
        let line = n + 1;
        let fail = |problem: String| ExpanderError::PriorityConfig { line, problem };
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if let Some(item) = trimmed.strip_prefix('-') {
            let Some(priority) = current else {
                return Err(fail("a list item before any priority".into()));
            };
            out.entry(priority)
                .or_default()
                .push(unquote(item.trim()).map_err(fail)?);
            continue;
        }
        let Some((key, rest)) = trimmed.split_once(':') else {
            return Err(fail(format!(
                "expected `<priority>:` or `- <regex>`, found {trimmed:?}"
            )));
        };
        let key = unquote(key.trim()).map_err(fail)?;
        let priority = key
            .parse::<i64>()
            .map_err(|_| fail(format!("priority {key:?} is not an integer")))?;
        current = Some(priority);
        let entry = out.entry(priority).or_default();
        let rest = rest.trim();
        if let Some(flow) = rest.strip_prefix('[') {
            let flow = flow
                .strip_suffix(']')
                .ok_or_else(|| fail("unterminated `[` list".into()))?;
            for item in flow.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                entry.push(unquote(item).map_err(fail)?);
            }
        } else if !rest.is_empty() {
            entry.push(unquote(rest).map_err(fail)?);
        }
    }
    Ok(out)
}

fn unquote(s: &str) -> Result<String, String> {
    if let Some(inner) = s.strip_prefix('\'') {
        let inner = inner
            .strip_suffix('\'')
            .ok_or("unterminated single quote")?;
        return Ok(inner.replace("''", "'"));
    }
    if let Some(inner) = s.strip_prefix('"') {
        let inner = inner.strip_suffix('"').ok_or("unterminated double quote")?;
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some(other) => out.push(other),
                    None => return Err("dangling backslash".into()),
                }
            } else {
                out.push(c);
            }
        }
        return Ok(out);
    }
    Ok(s.to_owned())
}

/// Context shared by all options.
pub struct Context<'p> {
    pub priorities: Option<&'p Priorities>,
    /// Nodes in the cluster, for the price expander's preferred node size.
    pub cluster_nodes: usize,
}

/// Runs the chain; returns the chosen option's index and the expanders that decided.
pub fn choose(
    chain: &[Expander],
    options: &[Candidate<'_>],
    ctx: &Context<'_>,
    rng: &mut impl Rng,
) -> Option<usize> {
    let mut kept: Vec<usize> = (0..options.len()).collect();
    for expander in chain {
        if kept.len() <= 1 {
            break;
        }
        kept = filter(*expander, &kept, options, ctx, rng);
    }
    match kept.len() {
        0 => None,
        1 => Some(kept[0]),
        n => Some(kept[rng.random_range(0..n)]),
    }
}

fn best_by(kept: &[usize], score: impl Fn(usize) -> f64, lower_is_better: bool) -> Vec<usize> {
    let scores: Vec<f64> = kept.iter().map(|&i| score(i)).collect();
    let best = scores
        .iter()
        .copied()
        .fold(None, |acc: Option<f64>, s| match acc {
            None => Some(s),
            Some(a) if (lower_is_better && s < a) || (!lower_is_better && s > a) => Some(s),
            keep => keep,
        });
    kept.iter()
        .zip(&scores)
        .filter(|(_, s)| Some(**s) == best)
        .map(|(&i, _)| i)
        .collect()
}

fn filter(
    expander: Expander,
    kept: &[usize],
    options: &[Candidate<'_>],
    ctx: &Context<'_>,
    rng: &mut impl Rng,
) -> Vec<usize> {
    match expander {
        Expander::Random => vec![kept[rng.random_range(0..kept.len())]],
        Expander::MostPods => best_by(kept, |i| options[i].pods as f64, false),
        Expander::LeastNodes => best_by(kept, |i| f64::from(options[i].nodes), true),
        Expander::LeastWaste => best_by(kept, |i| waste(&options[i]), true),
        Expander::Price => {
            // Options without a price cannot be compared; if none has one, the filter abstains.
            let priced: Vec<usize> = kept
                .iter()
                .copied()
                .filter(|&i| options[i].price_per_hour.is_some())
                .collect();
            if priced.is_empty() {
                return kept.to_vec();
            }
            best_by(
                &priced,
                |i| price_score(&options[i], ctx.cluster_nodes),
                true,
            )
        }
        Expander::Priority => {
            let Some(priorities) = ctx.priorities else {
                return kept.to_vec();
            };
            let levels: Vec<(usize, i64)> = kept
                .iter()
                .filter_map(|&i| priorities.of(options[i].group_id).map(|p| (i, p)))
                .collect();
            let Some(top) = levels.iter().map(|(_, p)| *p).max() else {
                // CA: no group has a priority, so fall back to all of them.
                return kept.to_vec();
            };
            levels
                .into_iter()
                .filter(|(_, p)| *p == top)
                .map(|(i, _)| i)
                .collect()
        }
    }
}

/// CA's least-waste score: idle CPU fraction plus idle memory fraction of the new nodes'
/// capacity once the pods are on them.
pub fn waste(o: &Candidate<'_>) -> f64 {
    let idle = |requested: i64, per_node: i64| {
        let available = per_node as f64 * f64::from(o.nodes);
        if available <= 0.0 {
            0.0
        } else {
            (available - requested as f64) / available
        }
    };
    idle(o.requested.cpu, o.capacity.cpu) + idle(o.requested.memory, o.capacity.memory)
}

// CA's price expander with the GCE pod-price model it ships (no AliCloud pricing exists upstream).
const CPU_PRICE_PER_HOUR: f64 = 0.033174;
const MEMORY_PRICE_PER_GIB_HOUR: f64 = 0.004446;
const GPU_UNFITNESS: f64 = 1000.0;

fn pod_price(cpu_millis: i64, memory: i64) -> f64 {
    cpu_millis as f64 / 1000.0 * CPU_PRICE_PER_HOUR
        + memory as f64 / f64::from(1u32 << 30) * MEMORY_PRICE_PER_GIB_HOUR
}

/// Lower is better: what the nodes cost per unit of pod value, times how far the node size is
/// from the size preferred for a cluster of this many nodes (damped as more nodes are added).
pub fn price_score(o: &Candidate<'_>, cluster_nodes: usize) -> f64 {
    let stabilization = pod_price(500, 500 << 20);
    let nodes_price = o.price_per_hour.unwrap_or(0.0) * f64::from(o.nodes);
    let pods_price = pod_price(o.requested.cpu, o.requested.memory);
    let ratio = (nodes_price + stabilization) / (pods_price + stabilization);
    let preferred_cpu = match cluster_nodes {
        0..=2 => 1000.0,
        3..=6 => 2000.0,
        7..=20 => 4000.0,
        21..=60 => 8000.0,
        61..=200 => 16000.0,
        _ => 32000.0,
    };
    let cpu = (o.capacity.cpu as f64).max(1.0);
    let unfitness = (preferred_cpu / cpu).max(cpu / preferred_cpu);
    let suppressed = if o.gpu {
        GPU_UNFITNESS
    } else {
        (unfitness - 1.0) * (1.0 - (f64::from(o.nodes.max(1) - 1) / 15.0).tanh()) + 1.0
    };
    suppressed * ratio
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    fn option(id: &str, nodes: u32, pods: u64, cpu_used: i64, node_cpu: i64) -> Candidate<'_> {
        Candidate {
            group_id: id,
            nodes,
            pods,
            requested: Resources {
                cpu: cpu_used,
                memory: 0,
                ..Resources::default()
            },
            capacity: Resources {
                cpu: node_cpu,
                memory: 0,
                ..Resources::default()
            },
            price_per_hour: None,
            gpu: false,
        }
    }

    fn pick(
        chain: &str,
        options: &[Candidate<'_>],
        priorities: Option<&Priorities>,
    ) -> Option<usize> {
        let ctx = Context {
            priorities,
            cluster_nodes: 10,
        };
        choose(
            &Expander::parse_chain(chain).unwrap(),
            options,
            &ctx,
            &mut SmallRng::seed_from_u64(7),
        )
    }

    #[test]
    fn most_pods_prefers_the_option_helping_more_pods() {
        let options = [option("a", 2, 10, 0, 4000), option("b", 5, 12, 0, 4000)];
        assert_eq!(pick("most-pods", &options, None), Some(1));
    }

    #[test]
    fn least_waste_prefers_the_tightest_fit_of_cpu_and_memory() {
        // a: 8 cpu used of 2×8 = 50% idle; b: 8 of 3×4 = 33% idle.
        let options = [option("a", 2, 8, 8000, 8000), option("b", 3, 8, 8000, 4000)];
        assert_eq!(pick("least-waste", &options, None), Some(1));
    }

    #[test]
    fn least_nodes_prefers_fewer_nodes() {
        let options = [option("a", 2, 8, 0, 8000), option("b", 3, 8, 0, 4000)];
        assert_eq!(pick("least-nodes", &options, None), Some(0));
    }

    #[test]
    fn chained_expanders_break_ties_of_the_first_with_the_second() {
        // most-pods ties a and b; least-waste then prefers b; c helps fewer pods.
        let options = [
            option("a", 4, 8, 8000, 4000),
            option("b", 2, 8, 8000, 4000),
            option("c", 1, 4, 4000, 4000),
        ];
        assert_eq!(pick("most-pods,least-waste", &options, None), Some(1));
    }

    #[test]
    fn remaining_ties_are_broken_by_the_seeded_rng_and_are_reproducible() {
        let options = [
            option("a", 1, 1, 0, 1),
            option("b", 1, 1, 0, 1),
            option("c", 1, 1, 0, 1),
        ];
        let first = pick("most-pods", &options, None);
        for _ in 0..5 {
            assert_eq!(pick("most-pods", &options, None), first);
        }
        let ctx = Context {
            priorities: None,
            cluster_nodes: 1,
        };
        let seen: std::collections::BTreeSet<_> = (0..64)
            .map(|seed| {
                choose(
                    &[Expander::Random],
                    &options,
                    &ctx,
                    &mut SmallRng::seed_from_u64(seed),
                )
            })
            .collect();
        assert_eq!(seen.len(), 3, "every tied option is reachable");
    }

    #[test]
    fn priority_picks_the_highest_matching_priority_and_drops_unlisted_groups() {
        let p = Priorities::from_config(&PriorityConfig::Text(
            "10:\n  - .*small.*\n50:\n  - '.*large.*'\n# comment\n5: [\"other\"]\n".into(),
        ))
        .unwrap();
        let options = [
            option("g-small", 1, 1, 0, 1),
            option("g-large", 9, 1, 0, 1),
            option("g-x", 1, 9, 0, 1),
        ];
        assert_eq!(pick("priority", &options, Some(&p)), Some(1));
        assert_eq!(
            p.of("other-1"),
            Some(5),
            "regexes match anywhere in the id, as Go's MatchString"
        );
        assert_eq!(p.of("nothing"), None);
    }

    #[test]
    fn priority_falls_back_to_all_options_when_no_group_is_listed() {
        let p = Priorities::from_config(&PriorityConfig::Text("10:\n  - ^zzz$\n".into())).unwrap();
        let options = [option("a", 3, 1, 0, 1), option("b", 1, 1, 0, 1)];
        assert_eq!(pick("priority,least-nodes", &options, Some(&p)), Some(1));
    }

    #[test]
    fn priority_config_errors_name_the_line() {
        let err = parse_priorities("10:\n  - a\nnot a key\n").unwrap_err();
        assert!(err.to_string().contains("line 3"), "{err}");
        let map = PriorityConfig::ConfigMap {
            data: [("priorities".to_string(), "1:\n - x\n".to_string())].into(),
        };
        assert_eq!(Priorities::from_config(&map).unwrap().of("x"), Some(1));
    }

    #[test]
    fn price_prefers_cheaper_capacity_and_shuns_gpu_groups() {
        let mut cheap = option("cheap", 2, 8, 8000, 4000);
        cheap.price_per_hour = Some(0.1);
        let mut dear = option("dear", 2, 8, 8000, 4000);
        dear.price_per_hour = Some(0.4);
        let mut gpu = option("gpu", 1, 8, 8000, 8000);
        gpu.price_per_hour = Some(0.01);
        gpu.gpu = true;
        assert_eq!(pick("price", &[dear.clone(), cheap.clone()], None), Some(1));
        assert_eq!(pick("price", &[gpu, cheap], None), Some(1));
    }
}
