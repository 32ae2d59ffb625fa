//! Drainability: whether a pod lets its node go, following cluster-autoscaler's rule list
//! (simulator/drainability/rules) in its order — the first rule with an opinion decides.
//!
//! ```text
//! mirror ─ terminating ─ DaemonSet        → stays (not moved, does not block)
//! safe-to-evict: "true"                   → moves
//! no controller                           → blocks (NotReplicated)
//! kube-system without a PDB               → blocks (UnmovableKubeSystemPod)   [--skip-nodes-with-system-pods]
//! safe-to-evict: "false"                  → blocks (NotSafeToEvictAnnotation)
//! hostPath / non-memory emptyDir          → blocks (LocalStorageRequested)    [--skip-nodes-with-local-storage]
//! a PDB with no disruption left           → blocks (NotEnoughPdb)
//! otherwise                               → moves
//! ```

use serde::Serialize;

use crate::model::{Pod, PodDisruptionBudget};
use crate::options::Options;

pub const SAFE_TO_EVICT: &str = "cluster-autoscaler.kubernetes.io/safe-to-evict";
pub const SAFE_TO_EVICT_LOCAL_VOLUMES: &str =
    "cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes";

/// CA's BlockingPodReason names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum BlockReason {
    NotReplicated,
    UnmovableKubeSystemPod,
    NotSafeToEvictAnnotation,
    LocalStorageRequested,
    NotEnoughPdb,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drain {
    /// Not moved and not in the way (DaemonSet, mirror, terminating pods).
    Stays,
    Moves,
    Blocks(BlockReason),
}

/// Decides for one pod; `pdbs` are the indices of the PDBs that select it.
pub fn drainability(pod: &Pod, pdbs: &[u32], remaining: &[i32], options: &Options) -> Drain {
    if pod.is_mirror() || pod.metadata.deletion_timestamp.is_some() || pod.is_daemonset() {
        return Drain::Stays;
    }
    let annotation = pod
        .metadata
        .annotations
        .get(SAFE_TO_EVICT)
        .map(String::as_str);
    if annotation == Some("true") {
        return Drain::Moves;
    }
    if pod.controller().is_none() {
        return Drain::Blocks(BlockReason::NotReplicated);
    }
    if options.skip_nodes_with_system_pods
        && pod.metadata.namespace == "kube-system"
        && pdbs.is_empty()
    {
        return Drain::Blocks(BlockReason::UnmovableKubeSystemPod);
    }
    if annotation == Some("false") {
        return Drain::Blocks(BlockReason::NotSafeToEvictAnnotation);
    }
    if options.skip_nodes_with_local_storage && has_local_storage(pod) {
        return Drain::Blocks(BlockReason::LocalStorageRequested);
    }
    if pdbs.iter().any(|&p| remaining[p as usize] < 1) {
        return Drain::Blocks(BlockReason::NotEnoughPdb);
    }
    Drain::Moves
}

/// hostPath and disk-backed emptyDir volumes, unless the pod names them safe to lose.
fn has_local_storage(pod: &Pod) -> bool {
    let safe: Vec<&str> = pod
        .metadata
        .annotations
        .get(SAFE_TO_EVICT_LOCAL_VOLUMES)
        .map(|v| v.split(',').map(str::trim).collect())
        .unwrap_or_default();
    pod.spec.volumes.iter().any(|v| {
        let local = v.host_path.is_some()
            || v.empty_dir
                .as_ref()
                .is_some_and(|e| e.medium.as_deref() != Some("Memory"));
        local && !safe.contains(&v.name.as_str())
    })
}

/// Indices of the PDBs selecting `pod` (same namespace; a PDB without a selector selects none).
pub fn matching_pdbs(pod: &Pod, pdbs: &[PodDisruptionBudget]) -> Vec<u32> {
    pdbs.iter()
        .enumerate()
        .filter(|(_, pdb)| {
            pdb.metadata.namespace == pod.metadata.namespace
                && pdb
                    .spec
                    .selector
                    .as_ref()
                    .is_some_and(|s| s.matches(&pod.metadata.labels))
        })
        .map(|(i, _)| i as u32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(json: &str) -> Pod {
        serde_json::from_str(json).unwrap()
    }

    const OWNED: &str = r#""ownerReferences": [{"kind": "ReplicaSet", "name": "r", "uid": "u", "controller": true}]"#;

    #[test]
    fn pods_without_a_controller_block_unless_marked_safe_to_evict() {
        let o = Options::default();
        let bare = pod(r#"{"metadata": {"name": "p", "namespace": "d"}}"#);
        assert_eq!(
            drainability(&bare, &[], &[], &o),
            Drain::Blocks(BlockReason::NotReplicated)
        );
        let safe = pod(r#"{"metadata": {"name": "p", "namespace": "d",
            "annotations": {"cluster-autoscaler.kubernetes.io/safe-to-evict": "true"}}}"#);
        assert_eq!(drainability(&safe, &[], &[], &o), Drain::Moves);
    }

    #[test]
    fn daemonset_and_mirror_pods_stay_without_blocking() {
        let o = Options::default();
        let ds = pod(r#"{"metadata": {"name": "p", "namespace": "kube-system",
            "ownerReferences": [{"kind": "DaemonSet", "name": "x", "uid": "u", "controller": true}]}}"#);
        assert_eq!(drainability(&ds, &[], &[], &o), Drain::Stays);
        let mirror = pod(
            r#"{"metadata": {"name": "p", "annotations": {"kubernetes.io/config.mirror": "x"}}}"#,
        );
        assert_eq!(drainability(&mirror, &[], &[], &o), Drain::Stays);
    }

    #[test]
    fn kube_system_pods_block_only_without_a_pdb_and_only_when_asked() {
        let p = pod(&format!(
            r#"{{"metadata": {{"name": "p", "namespace": "kube-system", {OWNED}}}}}"#
        ));
        let o = Options::default();
        assert_eq!(
            drainability(&p, &[], &[], &o),
            Drain::Blocks(BlockReason::UnmovableKubeSystemPod)
        );
        assert_eq!(drainability(&p, &[0], &[1], &o), Drain::Moves);
        let lax = Options {
            skip_nodes_with_system_pods: false,
            ..Options::default()
        };
        assert_eq!(drainability(&p, &[], &[], &lax), Drain::Moves);
    }

    #[test]
    fn local_storage_blocks_unless_the_volume_is_memory_or_declared_safe() {
        let o = Options::default();
        let disk = pod(&format!(
            r#"{{"metadata": {{"name": "p", "namespace": "d", {OWNED}}},
            "spec": {{"volumes": [{{"name": "scratch", "emptyDir": {{}}}}]}}}}"#
        ));
        assert_eq!(
            drainability(&disk, &[], &[], &o),
            Drain::Blocks(BlockReason::LocalStorageRequested)
        );
        let memory = pod(&format!(
            r#"{{"metadata": {{"name": "p", "namespace": "d", {OWNED}}},
            "spec": {{"volumes": [{{"name": "scratch", "emptyDir": {{"medium": "Memory"}}}}]}}}}"#
        ));
        assert_eq!(drainability(&memory, &[], &[], &o), Drain::Moves);
        let declared = pod(&format!(
            r#"{{"metadata": {{"name": "p", "namespace": "d", {OWNED},
            "annotations": {{"cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes": "scratch"}}}},
            "spec": {{"volumes": [{{"name": "scratch", "hostPath": {{"path": "/x"}}}}]}}}}"#
        ));
        assert_eq!(drainability(&declared, &[], &[], &o), Drain::Moves);
    }

    #[test]
    fn an_exhausted_pdb_or_a_false_annotation_blocks() {
        let o = Options::default();
        let p = pod(&format!(
            r#"{{"metadata": {{"name": "p", "namespace": "d", {OWNED}}}}}"#
        ));
        assert_eq!(
            drainability(&p, &[0], &[0], &o),
            Drain::Blocks(BlockReason::NotEnoughPdb)
        );
        let no = pod(&format!(
            r#"{{"metadata": {{"name": "p", "namespace": "d", {OWNED},
            "annotations": {{"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"}}}}}}"#
        ));
        assert_eq!(
            drainability(&no, &[], &[], &o),
            Drain::Blocks(BlockReason::NotSafeToEvictAnnotation)
        );
    }
}
