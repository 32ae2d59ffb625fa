//! Criterion benches of `plan` on the committed scenario generators (issue 7's S1–S4).
//! Parsing is excluded here (the snapshot is built once); `ackctl autoscaler plan --timings`
//! measures it on the generated files.

use criterion::{Criterion, criterion_group, criterion_main};
use jiff::Timestamp;
use planner::{Options, scenarios};
use rand::SeedableRng;
use rand::rngs::SmallRng;

fn bench(c: &mut Criterion) {
    let now: Timestamp = scenarios::NOW.parse().unwrap();
    let options = Options::default();
    let mut group = c.benchmark_group("plan");
    group.sample_size(10);
    for (name, snapshot) in [
        ("s1", scenarios::s1(1)),
        ("s2", scenarios::s2(1)),
        ("s4", scenarios::s4(1)),
        ("s3", scenarios::s3(1)),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| planner::plan(&snapshot, &options, now, &mut SmallRng::seed_from_u64(1)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
