//! The HTTP API driven in-process (tower `oneshot`): status codes, Status bodies, Tables,
//! watch streams and subresources, as real clients see them.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use kube_emu::{ApiServer, Config, HttpState, ManualClock, router};
use serde_json::{Value, json};
use tower::ServiceExt;

const TOKEN: &str = "t0ken";

fn app_with(config: Config) -> (Router, Arc<ApiServer>) {
    let api = Arc::new(ApiServer::new(
        Arc::new(ManualClock::new(1_700_000_000_000)),
        config,
    ));
    (
        router(HttpState {
            api: api.clone(),
            token: Some(TOKEN.into()),
        }),
        api,
    )
}

fn app() -> (Router, Arc<ApiServer>) {
    app_with(Config::default())
}

async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    ct: &str,
    body: Value,
) -> (StatusCode, Value, String) {
    let body = if body.is_null() {
        Body::empty()
    } else {
        Body::from(body.to_string())
    };
    call_raw(app, method, uri, ct, "", body).await
}

async fn call_raw(
    app: &Router,
    method: &str,
    uri: &str,
    ct: &str,
    accept: &str,
    body: Body,
) -> (StatusCode, Value, String) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {TOKEN}"));
    if !ct.is_empty() {
        req = req.header("content-type", ct);
    }
    if !accept.is_empty() {
        req = req.header("accept", accept);
    }
    let resp = app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
    let status = resp.status();
    let ctype = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ctype,
    )
}

fn pod(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "web"}},
           "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
}

const J: &str = "application/json";

#[tokio::test]
async fn a_request_without_the_bearer_token_gets_a_401_status() {
    let (app, _) = app();
    let req = Request::builder()
        .uri("/api/v1/pods")
        .body(Body::empty())
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 401);
    let b: Value =
        serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(b["reason"], "Unauthorized");
    let req = Request::builder()
        .uri("/version")
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.oneshot(req).await.unwrap().status(), 200);
}

#[tokio::test]
async fn create_get_and_list_round_trip_with_server_set_metadata() {
    let (app, _) = app();
    let (s, created, _) = call(
        &app,
        "POST",
        "/api/v1/namespaces/default/pods",
        J,
        pod("web"),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    assert_eq!(created["status"]["phase"], "Pending");
    assert_eq!(
        created["metadata"]["creationTimestamp"],
        "2023-11-14T22:13:20Z"
    );
    assert_eq!(created["metadata"]["uid"].as_str().unwrap().len(), 36);
    let (s, got, _) = call(
        &app,
        "GET",
        "/api/v1/namespaces/default/pods/web",
        "",
        Value::Null,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(got, created);
    let (_, list, _) = call(&app, "GET", "/api/v1/pods?&limit=500", "", Value::Null).await;
    assert_eq!(list["kind"], "PodList");
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        list["metadata"]["resourceVersion"],
        created["metadata"]["resourceVersion"]
    );
    let mut gen_pod = pod("");
    gen_pod["metadata"] = json!({"generateName": "web-"});
    let (s, g, _) = call(&app, "POST", "/api/v1/namespaces/default/pods", J, gen_pod).await;
    assert_eq!(s, 201);
    let name = g["metadata"]["name"].as_str().unwrap();
    assert!(name.starts_with("web-") && name.len() == 9, "{name}");
}

#[tokio::test]
async fn errors_come_back_as_the_status_the_real_server_sends() {
    let (app, _) = app();
    call(
        &app,
        "POST",
        "/api/v1/namespaces/default/pods",
        J,
        pod("web"),
    )
    .await;
    let cases: Vec<(&str, &str, &str, Body, u16, &str)> = vec![
        ("POST", "/api/v1/namespaces/default/pods", J, Body::from("{not json"), 400, "BadRequest"),
        ("GET", "/api/v1/namespaces/default/widgets", "", Body::empty(), 404, "NotFound"),
        ("GET", "/apis/nope.io/v1/things", "", Body::empty(), 404, "NotFound"),
        ("GET", "/api/v1/pods?labelSelector=a%20b%3Dc", "", Body::empty(), 400, "BadRequest"),
        ("GET", "/api/v1/pods?fieldSelector=spec.bogus%3Dx", "", Body::empty(), 400, "BadRequest"),
        ("POST", "/api/v1/namespaces/default/pods", J, Body::from(pod("web").to_string()), 409, "AlreadyExists"),
        ("POST", "/api/v1/namespaces/nowhere/pods", J, Body::from(pod("x").to_string()), 404, "NotFound"),
        ("POST", "/api/v1/namespaces/default/pods", J, Body::from(json!({"metadata": {"name": "x"}, "spec": {}}).to_string()), 422, "Invalid"),
        ("POST", "/api/v1/namespaces/default/pods", J, Body::from(json!({"kind": "Pod", "metadata": {}}).to_string()), 422, "Invalid"),
        ("POST", "/api/v1/namespaces/default/pods", J, Body::from(json!({"kind": "Service", "metadata": {"name": "x"}}).to_string()), 400, "BadRequest"),
        ("PATCH", "/api/v1/namespaces/default/pods/web", "text/plain", Body::from("{}"), 415, "UnsupportedMediaType"),
        ("PATCH", "/api/v1/namespaces/default/pods/web", "application/json-patch+json",
            Body::from(r#"[{"op":"remove","path":"/metadata/finalizers"}]"#), 422, "Invalid"),
        ("PATCH", "/api/v1/namespaces/default/pods/web", "application/merge-patch+json", Body::from("[1]"), 400, "BadRequest"),
        ("PATCH", "/api/v1/namespaces/default/pods/gone", "application/merge-patch+json", Body::from("{}"), 404, "NotFound"),
        ("PATCH", "/api/v1/namespaces/default/pods/web", "application/apply-patch+yaml", Body::from("{}"), 422, "Invalid"),
        ("PUT", "/api/v1/namespaces/default/pods/web", J,
            Body::from(json!({"metadata": {"name": "web", "resourceVersion": "1"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}).to_string()), 409, "Conflict"),
    ];
    for (m, uri, ct, body, code, reason) in cases {
        let (s, b, ctype) = call_raw(&app, m, uri, ct, "", body).await;
        assert_eq!(
            (s.as_u16(), b["reason"].as_str().unwrap_or("")),
            (code, reason),
            "{m} {uri}: {b}"
        );
        assert_eq!(b["kind"], "Status");
        assert_eq!(ctype, "application/json");
    }
}

#[tokio::test]
async fn kubectl_gets_tables_with_its_columns_and_plain_json_otherwise() {
    let (app, _) = app();
    call(
        &app,
        "POST",
        "/api/v1/namespaces/default/pods",
        J,
        pod("web"),
    )
    .await;
    let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
    let (s, t, ct) = call_raw(
        &app,
        "GET",
        "/api/v1/pods?limit=500",
        "",
        accept,
        Body::empty(),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(ct, "application/json;as=Table;v=v1;g=meta.k8s.io");
    let names: Vec<&str> = t["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "Name",
            "Ready",
            "Status",
            "Restarts",
            "Age",
            "IP",
            "Node",
            "Nominated Node",
            "Readiness Gates"
        ]
    );
    assert_eq!(t["rows"][0]["cells"][0], "web");
    assert_eq!(t["rows"][0]["object"]["metadata"]["namespace"], "default");
    let (_, t, _) = call_raw(&app, "GET", "/api/v1/namespaces", "", accept, Body::empty()).await;
    assert_eq!(t["rows"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn list_pages_with_limit_and_continue_cover_every_object_once() {
    let (app, _) = app();
    for i in 0..7 {
        call(
            &app,
            "POST",
            "/api/v1/namespaces/default/configmaps",
            J,
            json!({"metadata": {"name": format!("cm{i}")}}),
        )
        .await;
    }
    let (mut seen, mut cont) = (Vec::new(), String::new());
    loop {
        let uri = format!("/api/v1/configmaps?limit=3&continue={cont}");
        let (_, page, _) = call(&app, "GET", &uri, "", Value::Null).await;
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["metadata"]["name"].as_str().unwrap().to_string()),
        );
        match page["metadata"]["continue"].as_str() {
            Some(c) => cont = c.to_string(),
            None => break,
        }
    }
    assert_eq!(seen, (0..7).map(|i| format!("cm{i}")).collect::<Vec<_>>());
}

async fn read_lines(resp: axum::response::Response, n: usize) -> Vec<Value> {
    let mut body = resp.into_body();
    let mut buf = Vec::new();
    let mut out = Vec::new();
    while out.len() < n {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(5), body.frame())
            .await
            .expect("watch event in time");
        let Some(Ok(frame)) = frame else { break };
        if let Ok(d) = frame.into_data() {
            buf.extend_from_slice(&d);
        }
        while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=pos).collect();
            out.push(serde_json::from_slice(&line).unwrap());
        }
    }
    out
}

#[tokio::test]
async fn a_watch_replays_from_its_resource_version_then_streams_live_changes() {
    let (app, api) = app();
    let (_, a, _) = call(&app, "POST", "/api/v1/namespaces/default/pods", J, pod("a")).await;
    let rv = a["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    call(&app, "POST", "/api/v1/namespaces/default/pods", J, pod("b")).await;
    let req = Request::builder()
        .uri(format!("/api/v1/namespaces/default/pods?watch=True&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=30"))
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let pods = kube_emu::lookup("", "pods").unwrap();
    api.delete(pods, Some("default"), "a", (None, None))
        .unwrap();
    let events = read_lines(resp, 2).await;
    assert_eq!(events[0]["type"], "ADDED");
    assert_eq!(events[0]["object"]["metadata"]["name"], "b");
    assert_eq!(events[1]["type"], "DELETED");
    assert_eq!(events[1]["object"]["metadata"]["name"], "a");
}

#[tokio::test]
async fn a_watch_from_a_compacted_version_gets_an_in_stream_410() {
    let (app, _) = app_with(Config {
        history: 2,
        ..Config::default()
    });
    for i in 0..5 {
        call(
            &app,
            "POST",
            "/api/v1/namespaces/default/configmaps",
            J,
            json!({"metadata": {"name": format!("c{i}")}}),
        )
        .await;
    }
    let req = Request::builder()
        .uri("/api/v1/configmaps?watch=true&resourceVersion=1")
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let events = read_lines(resp, 1).await;
    assert_eq!(events[0]["type"], "ERROR");
    assert_eq!(events[0]["object"]["code"], 410);
    assert_eq!(events[0]["object"]["reason"], "Expired");
}

#[tokio::test]
async fn streaming_lists_end_their_initial_events_with_a_marked_bookmark() {
    let (app, _) = app();
    call(&app, "POST", "/api/v1/namespaces/default/pods", J, pod("a")).await;
    let req = Request::builder()
        .uri("/api/v1/pods?&watch=true&timeoutSeconds=290&allowWatchBookmarks=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&resourceVersion=0")
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    let events = read_lines(app.clone().oneshot(req).await.unwrap(), 2).await;
    assert_eq!(events[0]["type"], "ADDED");
    assert_eq!(events[1]["type"], "BOOKMARK");
    assert_eq!(events[1]["object"]["kind"], "Pod");
    assert_eq!(
        events[1]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
}

#[tokio::test]
async fn a_finalizer_holds_a_deleted_object_until_a_json_patch_removes_it() {
    let (app, _) = app();
    call(
        &app,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        J,
        json!({"metadata": {"name": "f", "finalizers": ["x/y"]}}),
    )
    .await;
    let (s, d, _) = call(
        &app,
        "DELETE",
        "/api/v1/namespaces/default/configmaps/f",
        J,
        json!({"propagationPolicy": "Background"}),
    )
    .await;
    assert_eq!(s, 200);
    assert!(d["metadata"]["deletionTimestamp"].is_string());
    let (s, _, _) = call(
        &app,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/f",
        "application/json-patch+json",
        json!([{"op": "remove", "path": "/metadata/finalizers"}]),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _, _) = call(
        &app,
        "GET",
        "/api/v1/namespaces/default/configmaps/f",
        "",
        Value::Null,
    )
    .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn eviction_respects_a_disruption_budget_and_binding_assigns_once() {
    let (app, api) = app();
    call(
        &app,
        "POST",
        "/api/v1/namespaces/default/pods",
        J,
        pod("web"),
    )
    .await;
    let pods = kube_emu::lookup("", "pods").unwrap();
    api.patch(pods, Some("default"), "web", kube_emu::PatchType::Merge,
        &json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}), kube_emu::Target::Status, None).unwrap();
    call(&app, "POST", "/apis/policy/v1/namespaces/default/poddisruptionbudgets", J,
        json!({"metadata": {"name": "pdb"}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}})).await;
    let (s, b, _) = call(
        &app,
        "POST",
        "/api/v1/namespaces/default/pods/web/eviction",
        J,
        json!({"delete_options": null, "metadata": {"name": "web"}}),
    )
    .await;
    assert_eq!(s, 429, "{b}");
    assert_eq!(b["details"]["causes"][0]["reason"], "DisruptionBudget");
    let (s, _, _) = call(&app, "POST", "/api/v1/namespaces/default/pods/web/binding", J,
        json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "web"}, "target": {"kind": "Node", "name": "n1"}})).await;
    assert_eq!(s, 201);
    let (s, b, _) = call(
        &app,
        "POST",
        "/api/v1/namespaces/default/pods/web/binding",
        J,
        json!({"metadata": {"name": "web"}, "target": {"kind": "Node", "name": "n2"}}),
    )
    .await;
    assert_eq!(
        (s.as_u16(), b["reason"].as_str().unwrap()),
        (409, "Conflict")
    );
    call(
        &app,
        "DELETE",
        "/apis/policy/v1/namespaces/default/poddisruptionbudgets/pdb",
        J,
        Value::Null,
    )
    .await;
    let (s, b, _) = call(
        &app,
        "POST",
        "/api/v1/namespaces/default/pods/web/eviction",
        J,
        json!({"metadata": {"name": "web"}}),
    )
    .await;
    assert_eq!(
        (s.as_u16(), b["status"].as_str().unwrap()),
        (201, "Success")
    );
}

#[tokio::test]
async fn status_writes_touch_only_status_and_spec_writes_bump_generation() {
    let (app, _) = app();
    let dep = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "d"}},
                 "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
    let (s, d, _) = call(
        &app,
        "POST",
        "/apis/apps/v1/namespaces/default/deployments",
        J,
        dep,
    )
    .await;
    assert_eq!(s, 201, "{d}");
    let (_, d, _) = call(
        &app,
        "PATCH",
        "/apis/apps/v1/namespaces/default/deployments/d",
        "application/merge-patch+json",
        json!({"spec": {"replicas": 3}, "status": {"replicas": 9}}),
    )
    .await;
    assert_eq!(d["metadata"]["generation"], 2);
    assert_eq!(d["status"], json!({}));
    let (_, d, _) = call(
        &app,
        "PATCH",
        "/apis/apps/v1/namespaces/default/deployments/d/status",
        "application/merge-patch+json",
        json!({"spec": {"replicas": 5}, "status": {"readyReplicas": 3}}),
    )
    .await;
    assert_eq!(d["spec"]["replicas"], 3);
    assert_eq!(d["status"]["readyReplicas"], 3);
    assert_eq!(d["metadata"]["generation"], 2);
    let (_, sc, _) = call(
        &app,
        "PATCH",
        "/apis/apps/v1/namespaces/default/deployments/d/scale",
        "application/merge-patch+json",
        json!({"spec": {"replicas": 4}}),
    )
    .await;
    assert_eq!(sc["kind"], "Scale");
    assert_eq!(sc["spec"]["replicas"], 4);
    assert_eq!(sc["status"]["selector"], "app=d");
}

#[tokio::test]
async fn mounted_under_a_prefix_the_openapi_index_points_back_under_it() {
    let api = Arc::new(ApiServer::new(
        Arc::new(ManualClock::new(0)),
        Config::default(),
    ));
    let app = Router::new().nest(
        "/kube/c1",
        router(HttpState {
            api,
            token: Some(TOKEN.into()),
        }),
    );
    let (s, idx, _) = call(&app, "GET", "/kube/c1/openapi/v3", "", Value::Null).await;
    assert_eq!(s, 200);
    let url = idx["paths"]["api/v1"]["serverRelativeURL"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(url.starts_with("/kube/c1/openapi/v3/api/v1?hash="), "{url}");
    let (s, doc, _) = call(&app, "GET", &url, "", Value::Null).await;
    assert_eq!(s, 200);
    assert!(doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"].is_object());
    let (s, _, ct) = call_raw(
        &app,
        "GET",
        "/kube/c1/apis",
        "",
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
        Body::empty(),
    )
    .await;
    assert_eq!(
        (s.as_u16(), ct.as_str()),
        (
            200,
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
        )
    );
}
