//! Generates a scenario, plans it and prints the summary with how long each phase took.
//! `cargo run --release -p planner --example scenario -- s2 1`

use std::time::Instant;

use planner::{Options, plan_observed, scenarios};
use rand::SeedableRng;
use rand::rngs::SmallRng;

fn main() {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "s2".into());
    let seed: u64 = args.next().map_or(1, |s| s.parse().expect("seed"));
    let json = scenarios::generate(&name, seed).expect("scenario s1..s4");
    let start = Instant::now();
    let snapshot = planner::Snapshot::from_json(&json).expect("valid");
    eprintln!("parse {:>9.2?} ({} MB)", start.elapsed(), json.len() >> 20);
    let now = scenarios::NOW.parse().unwrap();
    let mut last = Instant::now();
    let started = last;
    let plan = plan_observed(
        &snapshot,
        &Options::default(),
        now,
        &mut SmallRng::seed_from_u64(seed),
        &mut |phase| {
            eprintln!("{:>9.2?}  {}", last.elapsed(), phase.name());
            last = Instant::now();
        },
    );
    eprintln!("plan  {:>9.2?}", started.elapsed());
    println!("{}", serde_json::to_string_pretty(&plan.summary).unwrap());
    for up in plan.scale_up.iter().take(8) {
        println!(
            "+{} {} ({} pods)",
            up.delta, up.node_group, up.pods_helped.count
        );
    }
    println!(
        "{} scale-ups, {} removals, {} unremovable",
        plan.scale_up.len(),
        plan.scale_down.len(),
        plan.unremovable.len()
    );
}
