//! The clock side of CS: clusters and tasks settle as time passes, with nothing running in the
//! background — [`advance`] is called before every CS request.

use super::*;

/// Moves clusters and tasks along to `now`: creation completes once the control plane time is
/// over and every node is Running; a deleted cluster disappears once its teardown time is over.
pub fn advance(world: &mut World, settings: &Settings, now_ms: i64) {
    let ids: Vec<String> = world.clusters.clusters.keys().cloned().collect();
    for id in ids {
        let Some(cluster) = world.clusters.clusters.get(&id) else {
            continue;
        };
        let due = now_ms >= cluster.updated_ms + settings.control_plane_ms;
        match cluster.state {
            ClusterState::Initial if due && cluster_nodes_ready(world, &id, settings, now_ms) => {
                set_state(world, &id, ClusterState::Running, now_ms);
            }
            ClusterState::Deleting if due => {
                world.clusters.clusters.remove(&id);
            }
            _ => {}
        }
    }
    let running: Vec<Task> = world
        .clusters
        .tasks
        .values()
        .filter(|t| t.state == TaskState::Running)
        .cloned()
        .collect();
    for task in running {
        if let Some((state, error)) = task_outcome(world, &task, settings, now_ms)
            && let Some(t) = world.clusters.tasks.get_mut(&task.id)
        {
            t.state = state;
            t.error = error;
            t.updated_ms = now_ms;
        }
    }
}

pub(super) fn set_state(world: &mut World, cluster_id: &str, state: ClusterState, now_ms: i64) {
    if let Some(c) = world.clusters.clusters.get_mut(cluster_id) {
        c.state = state;
        c.updated_ms = now_ms;
    }
}

pub(super) fn cluster_nodes_ready(
    world: &World,
    cluster_id: &str,
    settings: &Settings,
    now_ms: i64,
) -> bool {
    let Some(cluster) = world.clusters.clusters.get(cluster_id) else {
        return false;
    };
    let masters_up = cluster.master_instance_ids.iter().all(|id| {
        world
            .instances
            .get(id)
            .is_some_and(|i| i.status(now_ms, settings.timing) == InstanceStatus::Running)
    });
    masters_up
        && world
            .clusters
            .node_pools
            .values()
            .filter(|np| np.cluster_id == cluster_id)
            .all(|np| pool_settled(world, np, settings, now_ms))
}

/// A pool is settled when its group holds exactly its desired capacity, all Running.
pub(super) fn pool_settled(
    world: &World,
    pool: &NodePool,
    settings: &Settings,
    now_ms: i64,
) -> bool {
    let Some(group) = world.groups.get(&pool.scaling_group_id) else {
        return true;
    };
    let members = world.members(&group.id);
    members.len() == group.desired as usize
        && members
            .iter()
            .all(|i| i.status(now_ms, settings.timing) == InstanceStatus::Running)
}

/// The last scaling activity of a group, if it failed to launch what was asked.
pub(super) fn launch_failure(world: &World, group_id: &str) -> Option<String> {
    world
        .activities
        .values()
        .filter(|a| a.group_id == group_id)
        .max_by_key(|a| (a.at_ms, a.id.clone()))
        .filter(|a| a.status != "Successful")
        .map(|a| a.message.clone())
}

pub(super) fn task_outcome(
    world: &World,
    task: &Task,
    settings: &Settings,
    now_ms: i64,
) -> Option<(TaskState, Option<(String, String)>)> {
    let cluster = world.clusters.clusters.get(&task.cluster_id);
    let pool = task
        .nodepool_id
        .as_ref()
        .and_then(|id| world.clusters.node_pools.get(id));
    let success = Some((TaskState::Success, None));
    match task.task_type.as_str() {
        "cluster_create" => match cluster.map(|c| (c.state, c.failure.clone())) {
            Some((ClusterState::Running, _)) => success,
            Some((ClusterState::Failed, failure)) => Some((
                TaskState::Fail,
                Some((
                    "ErrorCreateCluster".into(),
                    failure.unwrap_or_else(|| "cluster creation failed".into()),
                )),
            )),
            Some(_) => None,
            None => Some((
                TaskState::Fail,
                Some((
                    "ErrorClusterNotFound".into(),
                    "the cluster was deleted".into(),
                )),
            )),
        },
        "cluster_delete" => cluster.is_none().then_some((TaskState::Success, None)),
        "nodepool_delete" => pool.is_none().then_some((TaskState::Success, None)),
        _ => {
            let pool = pool?;
            if let Some(failure) = launch_failure(world, &pool.scaling_group_id) {
                return Some((
                    TaskState::Fail,
                    Some(("ErrorScaleOutNodePool".into(), failure)),
                ));
            }
            pool_settled(world, pool, settings, now_ms).then_some((TaskState::Success, None))
        }
    }
}
