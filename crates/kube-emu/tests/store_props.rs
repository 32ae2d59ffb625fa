//! Property tests of the store's consistency guarantees: the resourceVersion only grows, a
//! watch from N replays exactly the writes after N, and a list at M plus a watch from M
//! reconstructs the final state.

use std::collections::BTreeMap;
use std::sync::Arc;

use kube_emu::{ApiServer, Config, EventType, ListOptions, ManualClock, Target, lookup};
use proptest::prelude::*;
use serde_json::{Value, json};

#[derive(Debug, Clone)]
enum Op {
    Create(u8),
    Update(u8, u8),
    Delete(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..6).prop_map(Op::Create),
        (0u8..6, 0u8..4).prop_map(|(n, v)| Op::Update(n, v)),
        (0u8..6).prop_map(Op::Delete),
    ]
}

fn apply(api: &ApiServer, op: &Op) {
    let cms = lookup("", "configmaps").unwrap();
    // Failures (duplicate create, missing object, no-op update) are part of the workload.
    let _ = match op {
        Op::Create(n) => api
            .create(
                cms,
                Some("default"),
                json!({"metadata": {"name": format!("c{n}")}}),
                false,
            )
            .map(drop),
        Op::Update(n, v) => api
            .update(
                cms,
                Some("default"),
                &format!("c{n}"),
                json!({"metadata": {"name": format!("c{n}")}, "data": {"v": v.to_string()}}),
                Target::Main,
            )
            .map(drop),
        Op::Delete(n) => api
            .delete(cms, Some("default"), &format!("c{n}"), (None, None))
            .map(drop),
    };
}

fn state(api: &ApiServer) -> BTreeMap<String, Value> {
    let cms = lookup("", "configmaps").unwrap();
    api.list(cms, Some("default"), &ListOptions::default())
        .unwrap()
        .items
        .iter()
        .map(|o| {
            (
                o["metadata"]["name"].as_str().unwrap().to_string(),
                (**o).clone(),
            )
        })
        .collect()
}

fn server() -> ApiServer {
    ApiServer::new(Arc::new(ManualClock::new(0)), Config::default())
}

proptest! {
    #[test]
    fn resource_versions_strictly_increase_and_stamp_every_change(ops in prop::collection::vec(op(), 1..60)) {
        let api = server();
        let cms = lookup("", "configmaps").unwrap();
        let start = api.watch(cms, None, Some(api.resource_version())).unwrap();
        let mut live = start.live;
        for o in &ops { apply(&api, o); }
        let mut last = start.rv;
        while let Ok(c) = live.try_recv() {
            prop_assert!(c.rv > last);
            prop_assert_eq!(c.object["metadata"]["resourceVersion"].as_str().unwrap(), c.rv.to_string());
            last = c.rv;
        }
        prop_assert_eq!(last, api.resource_version());
    }

    #[test]
    fn a_watch_from_n_replays_exactly_the_writes_after_n(ops in prop::collection::vec(op(), 1..60), split in 0usize..60) {
        let api = server();
        let cms = lookup("", "configmaps").unwrap();
        let split = split.min(ops.len());
        for o in &ops[..split] { apply(&api, o); }
        let n = api.resource_version();
        let mut live = api.watch(cms, None, Some(n)).unwrap().live;
        for o in &ops[split..] { apply(&api, o); }
        let mut written = Vec::new();
        while let Ok(c) = live.try_recv() { written.push((c.rv, c.kind)); }
        let replay: Vec<_> = api.watch(cms, None, Some(n)).unwrap().initial.iter().map(|c| (c.rv, c.kind)).collect();
        prop_assert_eq!(replay, written);
    }

    #[test]
    fn a_list_at_m_plus_a_watch_from_m_is_the_final_state(ops in prop::collection::vec(op(), 1..60), split in 0usize..60) {
        let api = server();
        let cms = lookup("", "configmaps").unwrap();
        let split = split.min(ops.len());
        for o in &ops[..split] { apply(&api, o); }
        let mut seen = state(&api);
        let m = api.list(cms, Some("default"), &ListOptions::default()).unwrap().resource_version;
        for o in &ops[split..] { apply(&api, o); }
        for c in api.watch(cms, Some("default"), Some(m)).unwrap().initial {
            let name = c.object["metadata"]["name"].as_str().unwrap().to_string();
            match c.kind {
                EventType::Deleted => { seen.remove(&name); }
                _ => { seen.insert(name, (*c.object).clone()); }
            }
        }
        prop_assert_eq!(seen, state(&api));
    }
}
