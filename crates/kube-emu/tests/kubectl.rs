//! Golden tests with the real kubectl (gcloud's dispatcher at /usr/bin/kubectl picks 1.32 from
//! our `/version`), each with a fresh `--cache-dir` and kubeconfig against a server on
//! 127.0.0.1:0. Skipped, loudly, where no kubectl is installed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use kube_emu::{
    ApiServer, Cluster as Machinery, Config, HttpState, Machine, SystemClock, Timing, lookup,
    router,
};
use serde_json::json;

struct Cluster {
    api: Arc<ApiServer>,
    dir: tempfile::TempDir,
}

/// The real kubectl these goldens hold the server to. `scripts/test` installs one when the
/// machine has none; a missing kubectl fails the tests rather than skipping them.
fn kubectl_path() -> PathBuf {
    let p = PathBuf::from(std::env::var("KUBECTL").unwrap_or_else(|_| "/usr/bin/kubectl".into()));
    assert!(
        p.exists(),
        "no kubectl at {} (set KUBECTL, or run scripts/test, which installs it)",
        p.display()
    );
    p
}

async fn start() -> Cluster {
    serve(Arc::new(ApiServer::new(
        Arc::new(SystemClock),
        Config::default(),
    )))
    .await
}

/// A worker machine of the simulated cluster.
fn worker(i: usize) -> Machine {
    let name = format!("cn-hangzhou.i-w{i}");
    Machine {
        provider_id: name.clone(),
        name,
        labels: [
            ("node.kubernetes.io/instance-type", "ecs.g7.xlarge"),
            ("topology.kubernetes.io/zone", "cn-hangzhou-k"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        capacity: [("cpu", "4"), ("memory", "16Gi"), ("pods", "64")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        taints: vec![],
        internal_ip: format!("192.168.0.{}", 10 + i),
        running_since_ms: 0,
        master: false,
    }
}

/// A server whose cluster machinery (scheduler, controllers, kubelets of `workers` machines)
/// runs in the background every 50 ms, as the emulator's ticker runs it.
async fn start_with_machinery(workers: usize) -> Cluster {
    let api = Arc::new(ApiServer::new(Arc::new(SystemClock), Config::default()));
    let machinery = Machinery::new(api.clone(), Timing::instant());
    let machines: Vec<Machine> = (0..workers).map(worker).collect();
    tokio::spawn(async move {
        loop {
            machinery.reconcile(&machines);
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    });
    serve(api).await
}

async fn serve(api: Arc<ApiServer>) -> Cluster {
    kubectl_path();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // kubectl sends no credentials to an http:// server, so authentication is off here.
    let app = router(HttpState {
        api: api.clone(),
        token: None,
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("kubeconfig"),
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: emu\n  cluster:\n    server: http://{addr}\n\
             users:\n- name: u\n  user:\n    token: unused\ncontexts:\n- name: emu\n  context:\n    cluster: emu\n    user: u\n\
             current-context: emu\n"
        ),
    )
    .unwrap();
    Cluster { api, dir }
}

fn command(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(kubectl_path());
    c.arg("--kubeconfig")
        .arg(dir.join("kubeconfig"))
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .args(args);
    c.env_remove("KUBECONFIG");
    c
}

impl Cluster {
    /// Runs kubectl to completion; returns (success, stdout, stderr).
    async fn run(&self, args: &[&str]) -> (bool, String, String) {
        let mut c = command(self.dir.path(), args);
        let out = tokio::task::spawn_blocking(move || c.output().unwrap())
            .await
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    async fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args).await;
        assert!(ok, "kubectl {args:?} failed:\n{out}\n{err}");
        out
    }

    fn file(&self, name: &str, body: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        p.to_string_lossy().into_owned()
    }

    fn node(&self, name: &str) {
        let nodes = lookup("", "nodes").unwrap();
        self.api
            .create(
                nodes,
                None,
                json!({"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "node-role.kubernetes.io/worker": ""}},
                       "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"}],
                                  "addresses": [{"type": "InternalIP", "address": "192.168.0.7"}, {"type": "Hostname", "address": name}],
                                  "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
                                  "allocatable": {"cpu": "4", "memory": "16Gi", "pods": "110"},
                                  "nodeInfo": {"kubeletVersion": "v1.32.1-aliyun.1", "osImage": "Alibaba Cloud Linux 3",
                                               "kernelVersion": "5.10.134", "containerRuntimeVersion": "containerd://1.6.28",
                                               "architecture": "amd64", "operatingSystem": "linux"}}}),
                false,
            )
            .unwrap();
    }

    fn pod(&self, ns: &str, name: &str, node: Option<&str>) {
        let pods = lookup("", "pods").unwrap();
        let mut spec = json!({"containers": [{"name": "c", "image": "nginx"}]});
        if let Some(n) = node {
            spec["nodeName"] = json!(n);
        }
        self.api
            .create(
                pods,
                Some(ns),
                json!({"metadata": {"name": name}, "spec": spec}),
                false,
            )
            .unwrap();
    }
}

fn header(out: &str) -> Vec<String> {
    out.lines()
        .next()
        .unwrap_or("")
        .split("  ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_nodes_prints_the_real_servers_columns_with_and_without_wide() {
    let c = start().await;
    c.node("cn-hangzhou.i-abc");
    let out = c.ok(&["get", "nodes"]).await;
    assert_eq!(
        header(&out),
        ["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
        "{out}"
    );
    let row = out.lines().nth(1).unwrap();
    assert!(
        row.starts_with("cn-hangzhou.i-abc")
            && row.contains("Ready")
            && row.contains("worker")
            && row.contains("v1.32.1-aliyun.1"),
        "{out}"
    );
    let out = c.ok(&["get", "nodes", "-o", "wide"]).await;
    assert_eq!(
        header(&out),
        [
            "NAME",
            "STATUS",
            "ROLES",
            "AGE",
            "VERSION",
            "INTERNAL-IP",
            "EXTERNAL-IP",
            "OS-IMAGE",
            "KERNEL-VERSION",
            "CONTAINER-RUNTIME"
        ],
        "{out}"
    );
    assert!(
        out.contains("192.168.0.7") && out.contains("containerd://1.6.28"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_pods_all_namespaces_wide_has_kubectls_headers() {
    let c = start().await;
    c.pod("kube-system", "coredns-1", Some("n1"));
    c.pod("default", "web", None);
    let out = c.ok(&["get", "pods", "-A", "-o", "wide"]).await;
    assert_eq!(
        header(&out),
        [
            "NAMESPACE",
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
            "IP",
            "NODE",
            "NOMINATED NODE",
            "READINESS GATES"
        ],
        "{out}"
    );
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[1].starts_with("default")
            && lines[1].contains("web")
            && lines[1].contains("0/1")
            && lines[1].contains("Pending"),
        "{out}"
    );
    assert!(
        lines[2].starts_with("kube-system") && lines[2].contains("n1"),
        "{out}"
    );
}

const DEPLOY: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: IMAGE
        ports:
        - containerPort: 80
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_creates_then_configures_then_leaves_unchanged_with_validation_on() {
    let c = start().await;
    let f = c.file("d1.yaml", &DEPLOY.replace("IMAGE", "nginx:1.25"));
    assert_eq!(
        c.ok(&["apply", "-f", &f]).await.trim(),
        "deployment.apps/web created"
    );
    let f2 = c.file("d2.yaml", &DEPLOY.replace("IMAGE", "nginx:1.26"));
    assert_eq!(
        c.ok(&["apply", "-f", &f2]).await.trim(),
        "deployment.apps/web configured"
    );
    assert_eq!(
        c.ok(&["apply", "-f", &f2]).await.trim(),
        "deployment.apps/web unchanged"
    );
    let deps = lookup("apps", "deployments").unwrap();
    let d = c.api.get(deps, Some("default"), "web").unwrap();
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.26"
    );
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"],
        80
    );
    assert_eq!(d["metadata"]["generation"], 2);
    let out = c.ok(&["get", "deploy"]).await;
    assert_eq!(
        header(&out),
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        "{out}"
    );
    assert_eq!(
        c.ok(&["scale", "deploy", "web", "--replicas=5"])
            .await
            .trim(),
        "deployment.apps/web scaled"
    );
    assert_eq!(
        c.api.get(deps, Some("default"), "web").unwrap()["spec"]["replicas"],
        5
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_without_validate_false_and_server_side_apply_work() {
    let c = start().await;
    let f = c.file(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: \"1\"\n",
    );
    assert_eq!(
        c.ok(&["create", "-f", &f]).await.trim(),
        "configmap/settings created"
    );
    let (ok, _, err) = c.run(&["create", "-f", &f]).await;
    assert!(
        !ok && err.contains("AlreadyExists") || err.contains("already exists"),
        "{err}"
    );
    let f = c.file(
        "cm2.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  b: \"2\"\n",
    );
    assert_eq!(
        c.ok(&["apply", "--server-side", "-f", &f]).await.trim(),
        "configmap/ssa serverside-applied"
    );
    let out = c.ok(&["get", "cm"]).await;
    assert_eq!(header(&out), ["NAME", "DATA", "AGE"], "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_pods_watch_sees_a_pod_created_after_it_started() {
    let c = start().await;
    c.pod("default", "first", None);
    let mut cmd = command(c.dir.path(), &["get", "pods", "-w"]);
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for l in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let wait_for = |needle: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let mut seen = Vec::new();
        while std::time::Instant::now() < deadline {
            if let Ok(l) = rx.recv_timeout(std::time::Duration::from_millis(200)) {
                if l.contains(needle) {
                    return l;
                }
                seen.push(l);
            }
        }
        panic!("kubectl get pods -w never printed {needle}; saw {seen:?}");
    };
    wait_for("first");
    c.pod("default", "second", None);
    let line = tokio::task::block_in_place(|| wait_for("second"));
    assert!(line.contains("Pending"), "{line}");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_cordon_and_describe_node_behave_like_against_a_real_cluster() {
    let c = start().await;
    c.node("n1");
    c.pod("default", "web", Some("n1"));
    assert_eq!(c.ok(&["cordon", "n1"]).await.trim(), "node/n1 cordoned");
    assert!(
        c.ok(&["get", "nodes"])
            .await
            .contains("Ready,SchedulingDisabled")
    );
    let out = c.ok(&["describe", "node", "n1"]).await;
    assert!(
        out.contains("Name:               n1") && out.contains("Unschedulable:      true"),
        "{out}"
    );
    assert!(
        out.contains("default") && out.contains("web"),
        "describe lists the pod on the node:\n{out}"
    );
    assert_eq!(c.ok(&["uncordon", "n1"]).await.trim(), "node/n1 uncordoned");
    assert_eq!(
        c.ok(&["delete", "pod", "web"]).await.trim(),
        "pod \"web\" deleted"
    );
    let (ok, _, err) = c.run(&["get", "pod", "web"]).await;
    assert!(!ok && err.contains("pods \"web\" not found"), "{err}");
    let (ok, _, err) = c.run(&["get", "widgets"]).await;
    assert!(
        !ok && err.contains("the server doesn't have a resource type \"widgets\""),
        "{err}"
    );
}

/// Collects a background kubectl's stdout lines.
fn lines_of(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for l in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    rx
}

/// Polls kubectl until `check` accepts its output (bounded).
async fn eventually(c: &Cluster, args: &[&str], check: impl Fn(&str) -> bool) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        let (_, out, _) = c.run(args).await;
        if check(&out) {
            return out;
        }
        last = out;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("kubectl {args:?} never satisfied the check; last output:\n{last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_rolls_out_scales_and_watchers_see_its_new_pods() {
    let c = start_with_machinery(2).await;
    let f = c.file("d1.yaml", &DEPLOY.replace("IMAGE", "nginx:1.25"));
    assert_eq!(
        c.ok(&["apply", "-f", &f]).await.trim(),
        "deployment.apps/web created"
    );
    let out = c
        .ok(&["rollout", "status", "deploy/web", "--timeout=60s"])
        .await;
    assert!(out.contains("successfully rolled out"), "{out}");
    let f2 = c.file("d2.yaml", &DEPLOY.replace("IMAGE", "nginx:1.26"));
    assert_eq!(
        c.ok(&["apply", "-f", &f2]).await.trim(),
        "deployment.apps/web configured"
    );
    let out = c
        .ok(&["rollout", "status", "deploy/web", "--timeout=60s"])
        .await;
    assert!(out.contains("successfully rolled out"), "{out}");
    let images = eventually(
        &c,
        &[
            "get",
            "pods",
            "-l",
            "app=web",
            "-o",
            "jsonpath={.items[*].spec.containers[0].image}",
        ],
        |o| o.split_whitespace().count() == 2 && o.split_whitespace().all(|i| i == "nginx:1.26"),
    )
    .await;
    assert_eq!(images.split_whitespace().count(), 2);
    let before = c.ok(&["get", "pods", "-l", "app=web", "-o", "name"]).await;

    let mut cmd = command(c.dir.path(), &["get", "pods", "-l", "app=web", "-w"]);
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = lines_of(&mut child);
    // The watch's opening list, then the scale.
    let first = rx
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("kubectl get -w printed its list");
    assert!(first.starts_with("NAME"), "{first}");
    assert_eq!(
        c.ok(&["scale", "deploy", "web", "--replicas=4"])
            .await
            .trim(),
        "deployment.apps/web scaled"
    );
    let new_pods = tokio::task::block_in_place(|| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let mut new = std::collections::BTreeSet::new();
        let mut running = std::collections::BTreeSet::new();
        while std::time::Instant::now() < deadline && running.len() < 2 {
            if let Ok(l) = rx.recv_timeout(std::time::Duration::from_millis(200)) {
                let name = l.split_whitespace().next().unwrap_or("").to_string();
                if !name.is_empty() && !before.contains(&format!("pod/{name}")) {
                    if l.contains("Running") {
                        running.insert(name.clone());
                    }
                    new.insert(name);
                }
            }
        }
        assert_eq!(
            running.len(),
            2,
            "the watch saw the two new pods start: {new:?}"
        );
        new
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        new_pods.iter().all(|n| n.starts_with("web-")),
        "{new_pods:?}"
    );
    let out = eventually(&c, &["get", "deploy", "web"], |o| o.contains("4/4")).await;
    assert_eq!(
        header(&out),
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_nodes_describe_cordon_drain_and_their_pods_log_and_delete() {
    let c = start_with_machinery(2).await;
    let out = eventually(&c, &["get", "nodes"], |o| {
        o.lines().filter(|l| l.contains(" Ready ")).count() == 2
    })
    .await;
    assert!(out.contains("cn-hangzhou.i-w0"), "{out}");
    // The system pods of a fresh ACK cluster, as `kubectl get pods -A` shows them.
    let out = eventually(&c, &["get", "pods", "-A"], |o| {
        o.contains("coredns-") && o.lines().skip(1).all(|l| l.contains("Running"))
    })
    .await;
    for want in [
        "kube-proxy-worker-",
        "kube-flannel-ds-",
        "nginx-ingress-controller-",
    ] {
        assert!(out.contains(want), "{want} missing:\n{out}");
    }
    let f = c.file("d1.yaml", &DEPLOY.replace("IMAGE", "nginx:1.25"));
    c.ok(&["apply", "-f", &f]).await;
    c.ok(&["rollout", "status", "deploy/web", "--timeout=60s"])
        .await;
    let job = c.file(
        "job.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: hello\nspec:\n  restartPolicy: Never\n  containers:\n  - name: hello\n    image: busybox\n    command: [\"sh\", \"-c\", \"echo hello from the emulator; sleep 1; echo done\"]\n",
    );
    assert_eq!(
        c.ok(&["apply", "-f", &job]).await.trim(),
        "pod/hello created"
    );
    eventually(&c, &["get", "pod", "hello"], |o| o.contains("Completed")).await;
    assert_eq!(
        c.ok(&["logs", "hello"]).await,
        "hello from the emulator\ndone\n"
    );
    assert_eq!(
        c.ok(&["delete", "pod", "hello"]).await.trim(),
        "pod \"hello\" deleted"
    );
    let (ok, _, err) = c.run(&["get", "pod", "hello"]).await;
    assert!(!ok && err.contains("not found"), "{err}");

    let out = c.ok(&["describe", "node", "cn-hangzhou.i-w0"]).await;
    // Compared with runs of spaces collapsed: kubectl aligns columns to the longest key.
    let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
    for want in [
        "Name: cn-hangzhou.i-w0",
        "ProviderID: cn-hangzhou.i-w0",
        "Ready True",
        "KubeletReady kubelet is posting ready status",
        "HolderIdentity: cn-hangzhou.i-w0",
        "Non-terminated Pods:",
        "kube-proxy-worker-",
        "Allocatable: cpu: 3900m",
        "Container Runtime Version: containerd://",
        "PodCIDR: 10.128.0.0/24",
    ] {
        assert!(flat.contains(want), "describe node lacks {want:?}:\n{out}");
    }

    assert_eq!(
        c.ok(&["cordon", "cn-hangzhou.i-w0"]).await.trim(),
        "node/cn-hangzhou.i-w0 cordoned"
    );
    let (ok, out, err) = c
        .run(&[
            "drain",
            "cn-hangzhou.i-w0",
            "--ignore-daemonsets",
            "--timeout=60s",
        ])
        .await;
    assert!(ok, "drain failed:\n{out}\n{err}");
    assert!(
        out.contains("node/cn-hangzhou.i-w0 drained"),
        "{out}\n{err}"
    );
    // The evicted replicas are replaced on the other node; daemon pods stay.
    let out = eventually(
        &c,
        &[
            "get",
            "pods",
            "-A",
            "-o",
            "wide",
            "--field-selector",
            "spec.nodeName=cn-hangzhou.i-w0",
        ],
        |o| {
            o.lines().skip(1).all(|l| {
                l.contains("kube-proxy-worker")
                    || l.contains("flexvolume")
                    || l.contains("kube-flannel-ds")
            })
        },
    )
    .await;
    assert!(out.contains("kube-proxy-worker"), "{out}");
    eventually(&c, &["get", "deploy", "web"], |o| o.contains("2/2")).await;
    let on_w1 = c.ok(&["get", "pods", "-l", "app=web", "-o", "wide"]).await;
    assert!(
        on_w1
            .lines()
            .skip(1)
            .all(|l| l.contains("cn-hangzhou.i-w1") && l.contains("Running")),
        "{on_w1}"
    );

    assert_eq!(
        c.ok(&["delete", "deploy", "web"]).await.trim(),
        "deployment.apps \"web\" deleted"
    );
    eventually(&c, &["get", "pods", "-l", "app=web"], |o| {
        o.trim().is_empty()
    })
    .await;
}
