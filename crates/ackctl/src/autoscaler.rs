//! `ackctl autoscaler …`: cluster-autoscaler's decisions, computed by the pure `planner` crate.
//!
//! `plan` reads a snapshot file (or generates a benchmark scenario), runs one planning pass
//! with CA's flags, and prints the plan as JSON; `--timings` reports where the time went.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{ArgAction, Args, Subcommand};
use planner::options::{parse_go_duration, parse_min_max};
use planner::{Expander, Options, Snapshot, scenarios};
use rand::SeedableRng;
use rand::rngs::SmallRng;

#[derive(Debug, Subcommand)]
pub enum AutoscalerCommand {
    /// Compute one autoscaler pass on a snapshot and print the plan as JSON.
    ///
    /// The snapshot is a JSON document {"nodes", "pods", "nodeGroups", "pdbs"?,
    /// "priorityConfig"?, "now"?, …} whose nodes, pods and PDBs are Kubernetes objects as
    /// `kubectl get -o json` prints them (see crates/planner/README.md). The plan lists the
    /// node groups to grow and by how much (with the pods each increase is for), the nodes to
    /// remove, the pods no group can host and why, and why every other node stays.
    ///
    /// Unlike cluster-autoscaler, one plan covers every pending pod some group can host
    /// (pass --one-group-per-loop for CA's single expansion per loop).
    Plan(Box<PlanArgs>),
    /// Run the cluster autoscaler against a cluster and its ESS scaling groups or ACK node
    /// pools, with cluster-autoscaler's flags (`--cloud-provider=alicloud --nodes=1:10:asg-…`).
    ///
    /// Each loop refreshes every node group in a few cloud calls, plans with the same planner as
    /// `plan`, scales groups up, drains and removes unneeded nodes, and writes the
    /// `cluster-autoscaler-status` ConfigMap; with --leader-elect only the Lease holder acts.
    Run(Box<crate::autoscaler_run::RunArgs>),
    /// Measure the autoscaler's loop at scale on the emulators: an in-process emulator serves
    /// an ACK cluster (default 1,000 nodes in 10 auto-scaling pools, 30,000 running pods and
    /// 1,000 that fit nowhere); prints how long the reflectors take to list, then each loop's
    /// refresh, snapshot, plan, execute and status times and its cloud calls.
    Bench(crate::autoscaler_bench::BenchArgs),
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Snapshot file to plan on; `-` reads standard input.
    #[arg(long, value_name = "FILE", required_unless_present = "generate")]
    snapshot: Option<PathBuf>,

    /// Instead of planning, print a generated benchmark snapshot: s1 (10,000 pending pods, one
    /// group), s2 (1,000 nodes, 10,000 pending, 100 groups), s3 (5,000 nodes, 100,000 pending,
    /// 200 groups) or s4 (1,000 underused nodes, scale-down).
    #[arg(long, value_name = "SCENARIO", conflicts_with = "snapshot")]
    generate: Option<String>,

    /// Seed of the expanders' random tie-breaks (and of --generate).
    #[arg(long, default_value_t = 1)]
    seed: u64,

    /// The time to plan at (RFC 3339); defaults to the snapshot's `now`, else the clock.
    #[arg(long, value_name = "TIME")]
    now: Option<jiff::Timestamp>,

    /// Print where the time went (read, parse, each planning phase, output) on stderr.
    #[arg(long)]
    timings: bool,

    /// Print the plan on one line instead of indented.
    #[arg(long)]
    compact: bool,

    #[command(flatten)]
    flags: DecisionFlags,
}

/// cluster-autoscaler's decision flags, shared by `plan` and `run`.
#[derive(Debug, Args)]
pub struct DecisionFlags {
    /// Expander chain, comma-separated: random, most-pods, least-waste, least-nodes, price,
    /// priority. Each keeps its best options for the next; a seeded random choice ends ties.
    #[arg(long, default_value = "least-waste")]
    expander: String,

    /// Maximum number of nodes in the cluster (0: no limit).
    #[arg(long, default_value_t = 0)]
    max_nodes_total: u32,

    /// Minimum and maximum cores in the cluster, `<min>:<max>`.
    #[arg(long, default_value = "0:320000")]
    cores_total: String,

    /// Minimum and maximum memory in the cluster in GiB, `<min>:<max>`.
    #[arg(long, default_value = "0:6400000")]
    memory_total: String,

    /// Maximum nodes one scale-up may add.
    #[arg(long, default_value_t = 1000)]
    max_nodes_per_scaleup: u32,

    /// Spread each scale-up over node groups with the same shape, evening out their sizes.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_value_t = false, default_missing_value = "true")]
    balance_similar_node_groups: bool,

    /// Expand one group per pass, as cluster-autoscaler does, instead of planning for every
    /// pending pod at once.
    #[arg(long)]
    one_group_per_loop: bool,

    /// Whether nodes are considered for removal at all.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_value_t = true, default_missing_value = "true")]
    scale_down_enabled: bool,

    /// A node whose cpu and memory requests (GPU for GPU nodes) are below this share of its
    /// allocatable may be removed.
    #[arg(long, default_value_t = 0.5)]
    scale_down_utilization_threshold: f64,

    /// The threshold for GPU nodes.
    #[arg(long, default_value_t = 0.5)]
    scale_down_gpu_utilization_threshold: f64,

    /// How long a node must be unneeded before it is removed (Go duration, e.g. 10m).
    #[arg(long, default_value = "10m", value_parser = go_duration)]
    scale_down_unneeded_time: jiff::SignedDuration,

    /// How long an unready node must be unneeded before it is removed.
    #[arg(long, default_value = "20m", value_parser = go_duration)]
    scale_down_unready_time: jiff::SignedDuration,

    /// No removal this long after a scale-up (snapshot `lastScaleUpTime`). Seed 004's
    /// `--scale-down-delay` is accepted as an alias.
    #[arg(long, alias = "scale-down-delay", default_value = "10m", value_parser = go_duration)]
    scale_down_delay_after_add: jiff::SignedDuration,

    /// No removal this long after a removal (snapshot `lastScaleDownDeleteTime`).
    #[arg(long, default_value = "0s", value_parser = go_duration)]
    scale_down_delay_after_delete: jiff::SignedDuration,

    /// No removal this long after a failed removal (snapshot `lastScaleDownFailTime`).
    #[arg(long, default_value = "3m", value_parser = go_duration)]
    scale_down_delay_after_failure: jiff::SignedDuration,

    /// Keep nodes running kube-system pods that no PodDisruptionBudget covers.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_value_t = true, default_missing_value = "true")]
    skip_nodes_with_system_pods: bool,

    /// Keep nodes running pods with hostPath or disk-backed emptyDir volumes.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_value_t = true, default_missing_value = "true")]
    skip_nodes_with_local_storage: bool,

    /// Maximum empty nodes removed at once.
    #[arg(long, default_value_t = 10)]
    max_empty_bulk_delete: u32,

    /// Maximum nodes removed at once, empty or not.
    #[arg(long, default_value_t = 10)]
    max_scale_down_parallelism: u32,

    /// Maximum non-empty nodes drained at once.
    #[arg(long, default_value_t = 1)]
    max_drain_parallelism: u32,

    /// How many pod names each scale-up lists besides the count of pods it helps.
    #[arg(long, default_value_t = 10)]
    pods_helped_sample: usize,
}

/// Wall-clock laps for `--timings` (the planner itself never reads a clock).
struct Stopwatch {
    last: Instant,
    laps: Vec<(&'static str, Duration)>,
}

impl Stopwatch {
    fn start() -> Self {
        Self {
            last: Instant::now(),
            laps: Vec::new(),
        }
    }

    fn lap(&mut self, what: &'static str) {
        let now = Instant::now();
        self.laps.push((what, now - self.last));
        self.last = now;
    }
}

fn go_duration(s: &str) -> Result<jiff::SignedDuration, String> {
    parse_go_duration(s)
}

impl DecisionFlags {
    pub fn options(&self) -> anyhow::Result<Options> {
        Ok(Options {
            expanders: Expander::parse_chain(&self.expander).context("--expander")?,
            max_nodes_total: self.max_nodes_total,
            cores_total: parse_min_max(&self.cores_total)
                .map_err(|e| anyhow::anyhow!("--cores-total: {e}"))?,
            memory_total_gib: parse_min_max(&self.memory_total)
                .map_err(|e| anyhow::anyhow!("--memory-total: {e}"))?,
            max_nodes_per_scaleup: self.max_nodes_per_scaleup,
            balance_similar_node_groups: self.balance_similar_node_groups,
            one_group_per_loop: self.one_group_per_loop,
            scale_down_enabled: self.scale_down_enabled,
            scale_down_utilization_threshold: self.scale_down_utilization_threshold,
            scale_down_gpu_utilization_threshold: self.scale_down_gpu_utilization_threshold,
            scale_down_unneeded_time: self.scale_down_unneeded_time,
            scale_down_unready_time: self.scale_down_unready_time,
            scale_down_delay_after_add: self.scale_down_delay_after_add,
            scale_down_delay_after_delete: self.scale_down_delay_after_delete,
            scale_down_delay_after_failure: self.scale_down_delay_after_failure,
            skip_nodes_with_system_pods: self.skip_nodes_with_system_pods,
            skip_nodes_with_local_storage: self.skip_nodes_with_local_storage,
            max_empty_bulk_delete: self.max_empty_bulk_delete,
            max_scale_down_parallelism: self.max_scale_down_parallelism,
            max_drain_parallelism: self.max_drain_parallelism,
            pods_helped_sample: self.pods_helped_sample,
        })
    }
}

pub async fn run(cmd: AutoscalerCommand) -> anyhow::Result<()> {
    match cmd {
        AutoscalerCommand::Plan(args) => plan(&args),
        AutoscalerCommand::Run(args) => crate::autoscaler_run::run(*args).await,
        AutoscalerCommand::Bench(args) => crate::autoscaler_bench::bench(&args).await,
    }
}

fn plan(args: &PlanArgs) -> anyhow::Result<()> {
    if let Some(name) = &args.generate {
        let json = scenarios::generate(name, args.seed).with_context(|| {
            format!(
                "unknown scenario {name:?}; expected one of {:?}",
                scenarios::NAMES
            )
        })?;
        let mut out = std::io::stdout().lock();
        out.write_all(json.as_bytes())?;
        out.write_all(b"\n")?;
        return Ok(());
    }
    let options = args.flags.options()?;
    let mut watch = Stopwatch::start();

    let path = args.snapshot.as_ref().expect("clap requires --snapshot");
    let json = if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading the snapshot from standard input")?;
        s
    } else {
        std::fs::read_to_string(path)
            .with_context(|| format!("reading the snapshot {}", path.display()))?
    };
    watch.lap("read file");
    let snapshot = Snapshot::from_json(&json)
        .with_context(|| format!("invalid snapshot {}", path.display()))?;
    watch.lap("parse + validate JSON");
    let now = args
        .now
        .or(snapshot.now)
        .unwrap_or_else(jiff::Timestamp::now);

    let mut rng = SmallRng::seed_from_u64(args.seed);
    watch.lap("options");
    let plan = planner::plan_observed(&snapshot, &options, now, &mut rng, &mut |phase| {
        watch.lap(phase.name())
    });

    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.compact {
        serde_json::to_writer(&mut out, &plan)?;
    } else {
        serde_json::to_writer_pretty(&mut out, &plan)?;
    }
    out.write_all(b"\n")?;
    out.flush()?;
    watch.lap("write plan JSON");
    let timings = watch.laps;

    if args.timings {
        let total: Duration = timings.iter().map(|(_, d)| *d).sum();
        let planning: Duration = timings
            .iter()
            .filter(|(what, _)| {
                !matches!(
                    *what,
                    "read file" | "parse + validate JSON" | "options" | "write plan JSON"
                )
            })
            .map(|(_, d)| *d)
            .sum();
        eprintln!(
            "snapshot: {} bytes, {} nodes, {} pods, {} node groups; {} pod classes, {} node shapes",
            json.len(),
            snapshot.nodes.len(),
            snapshot.pods.len(),
            snapshot.node_groups.len(),
            plan.summary.pod_classes,
            plan.summary.node_shapes,
        );
        for (what, d) in &timings {
            eprintln!(
                "{:>10.2} ms  {:>5.1} %  {what}",
                d.as_secs_f64() * 1e3,
                100.0 * d.as_secs_f64() / total.as_secs_f64().max(1e-9)
            );
        }
        eprintln!(
            "{:>10.2} ms           planning (no I/O)",
            planning.as_secs_f64() * 1e3
        );
        eprintln!("{:>10.2} ms           total", total.as_secs_f64() * 1e3);
    }
    Ok(())
}
