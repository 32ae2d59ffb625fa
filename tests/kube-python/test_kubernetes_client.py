"""The Python kubernetes client (PyPI's and Debian's) against an emulated ACK cluster: list, watch,
create, patch and delete, workloads that the cluster's scheduler and kubelets run, and auth."""

from __future__ import annotations

import threading
import uuid

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from conftest import wait_for


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_the_clusters_nodes_register_ready_with_ack_names_and_labels(core):
    nodes = wait_for(
        "two Ready nodes",
        lambda: [
            n for n in core.list_node().items
            if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])
        ] if len(core.list_node().items) == 2 else None,
    )
    assert len(nodes) == 2
    for node in nodes:
        assert node.metadata.name.startswith("cn-hangzhou.i-")
        assert node.spec.provider_id == node.metadata.name
        labels = node.metadata.labels
        assert labels["node.kubernetes.io/instance-type"] == "ecs.g7.xlarge"
        assert labels["topology.kubernetes.io/zone"] == "cn-hangzhou-k"
        assert labels["alibabacloud.com/nodepool-id"].startswith("np")
        assert node.status.capacity["cpu"] == "4"


def test_config_maps_are_created_listed_by_label_patched_and_deleted(core):
    name = unique("cm")
    body = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=name, labels={"suite": "python"}),
        data={"greeting": "hello"},
    )
    created = core.create_namespaced_config_map("default", body)
    assert created.metadata.uid and created.metadata.resource_version

    listed = core.list_namespaced_config_map("default", label_selector="suite=python")
    assert name in [c.metadata.name for c in listed.items]

    patched = core.patch_namespaced_config_map(name, "default", {"data": {"greeting": "hi"}})
    assert patched.data == {"greeting": "hi"}
    assert int(patched.metadata.resource_version) > int(created.metadata.resource_version)

    core.delete_namespaced_config_map(name, "default")
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_config_map(name, "default")
    assert missing.value.status == 404


def test_a_stale_update_is_a_conflict(core):
    name = unique("cm")
    created = core.create_namespaced_config_map(
        "default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name), data={"v": "1"})
    )
    core.patch_namespaced_config_map(name, "default", {"data": {"v": "2"}})
    created.data = {"v": "3"}
    with pytest.raises(ApiException) as conflict:
        core.replace_namespaced_config_map(name, "default", created)
    assert conflict.value.status == 409
    core.delete_namespaced_config_map(name, "default")


def test_a_watch_sees_added_modified_and_deleted_in_order(core):
    name = unique("watched")
    start = core.list_namespaced_config_map("default").metadata.resource_version
    seen = []
    w = watch.Watch()

    def changes():
        core.create_namespaced_config_map(
            "default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name), data={"a": "1"})
        )
        core.patch_namespaced_config_map(name, "default", {"data": {"a": "2"}})
        core.delete_namespaced_config_map(name, "default")

    writer = threading.Thread(target=changes)
    writer.start()
    for event in w.stream(
        core.list_namespaced_config_map, "default",
        resource_version=start, timeout_seconds=10,
    ):
        if event["object"].metadata.name == name:
            seen.append(event["type"])
        if event["type"] == "DELETED" and event["object"].metadata.name == name:
            w.stop()
    writer.join()
    assert seen == ["ADDED", "MODIFIED", "DELETED"]


def test_a_deployment_runs_its_pods_and_scales_down(apps, core):
    name = unique("web")
    labels = {"app": name}
    deployment = client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1DeploymentSpec(
            replicas=3,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(containers=[client.V1Container(
                    name="nginx", image="nginx:1.27",
                    resources=client.V1ResourceRequirements(requests={"cpu": "100m", "memory": "64Mi"}),
                )]),
            ),
        ),
    )
    apps.create_namespaced_deployment("default", deployment)
    selector = f"app={name}"

    def running(count):
        pods = core.list_namespaced_pod("default", label_selector=selector).items
        live = [p for p in pods if p.status.phase == "Running" and not p.metadata.deletion_timestamp]
        return pods if len(live) == count and len(pods) == count else None

    pods = wait_for("3 running pods", lambda: running(3))
    for pod in pods:
        assert pod.spec.node_name.startswith("cn-hangzhou.i-")
        assert pod.status.pod_ip
        assert pod.metadata.owner_references[0].kind == "ReplicaSet"

    apps.patch_namespaced_deployment_scale(name, "default", {"spec": {"replicas": 1}})
    wait_for("1 running pod", lambda: running(1))
    status = wait_for(
        "the deployment's status to catch up",
        lambda: (d := apps.read_namespaced_deployment(name, "default")).status.ready_replicas == 1 and d,
    )
    assert status.spec.replicas == 1
    apps.delete_namespaced_deployment(name, "default")


def test_a_wrong_token_is_refused_with_401(kubeconfig_path, tmp_path):
    text = open(kubeconfig_path).read()
    token = next(l.split(":", 1)[1].strip() for l in text.splitlines() if l.strip().startswith("token:"))
    wrong = tmp_path / "wrong.kubeconfig"
    wrong.write_text(text.replace(token, "not-the-token"))
    with pytest.raises(ApiException) as refused:
        client.CoreV1Api(config.new_client_from_config(config_file=str(wrong))).list_namespace()
    assert refused.value.status == 401
