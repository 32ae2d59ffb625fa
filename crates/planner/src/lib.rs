//! Pure autoscaling decisions with cluster-autoscaler semantics: `plan(snapshot, options, now, rng)`.
