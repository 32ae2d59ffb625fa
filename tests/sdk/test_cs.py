"""ACK (CS 2015-12-15, ROA) through the official Python SDK (alibabacloud-cs20151215), in both signing
modes (V3, and ROA v1 HMAC-SHA1 with signature_algorithm='v2').

The flows are the ones a user of seed 000 runs: a managed cluster with a node pool of 2 nodes, scaled to 4,
its kubeconfig, its deletion leaving nothing behind; a dedicated cluster with 3 masters; and the errors.
"""

from __future__ import annotations

import json

import pytest
from alibabacloud_cs20151215 import models as cs_models
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ess20220222 import models as ess_models
from alibabacloud_tea_openapi.exceptions import ClientException

from conftest import start_emulator
from sdkhelpers import REGION, VSWITCH, describe_error, settle, unique

WORKER_TYPE = "ecs.g7.xlarge"


def node_pool(name: str, desired: int) -> cs_models.Nodepool:
    return cs_models.Nodepool(
        nodepool_info=cs_models.NodepoolNodepoolInfo(name=name),
        scaling_group=cs_models.NodepoolScalingGroup(
            vswitch_ids=[VSWITCH],
            instance_types=[WORKER_TYPE],
            instance_charge_type="PostPaid",
            system_disk_category="cloud_essd",
            desired_size=desired,
        ),
    )


def create_cluster(cs, *, cluster_type: str = "ManagedKubernetes", pools=None, **extra) -> tuple[str, str]:
    body = cs.create_cluster(cs_models.CreateClusterRequest(
        name=unique("k8s"),
        region_id=REGION,
        cluster_type=cluster_type,
        vswitch_ids=[VSWITCH],
        nodepools=pools if pools is not None else [node_pool("workers", 2)],
        **extra,
    )).body
    assert body.cluster_id and body.cluster_id.startswith("c"), body.to_map()
    assert body.task_id and body.task_id.startswith("T-"), body.to_map()
    return body.cluster_id, body.task_id


def cluster_state(cs, cluster_id: str) -> str:
    return cs.describe_cluster_detail(cluster_id).body.state


def wait_for_state(cs, cluster_id: str, state: str) -> None:
    got = settle(lambda: cluster_state(cs, cluster_id), lambda s: s == state, f"cluster {state}")
    assert got == state, f"cluster {cluster_id} is {got}, expected {state}"


def nodes(cs, cluster_id: str) -> list:
    body = cs.describe_cluster_nodes(cluster_id, cs_models.DescribeClusterNodesRequest(page_size="100")).body
    return list(body.nodes or [])


def workers(cs, cluster_id: str) -> list:
    return [n for n in nodes(cs, cluster_id) if n.instance_role == "Worker"]


def not_found(fn) -> ClientException:
    with pytest.raises(ClientException) as info:
        fn()
    return info.value


def delete_and_wait(cs, cluster_id: str) -> None:
    body = cs.delete_cluster(cluster_id, cs_models.DeleteClusterRequest()).body
    assert body.task_id, body.to_map()

    def gone():
        try:
            cs.describe_cluster_detail(cluster_id)
            return False
        except ClientException as e:
            assert e.code == "ErrorClusterNotFound", describe_error(e)
            return True

    assert settle(gone, bool, "cluster deleted"), f"cluster {cluster_id} was not deleted"


def test_a_managed_cluster_runs_scales_and_is_deleted_without_leftovers(make_client, cs):
    ecs, ess = make_client("ecs"), make_client("ess")
    cluster_id, task_id = create_cluster(cs)
    wait_for_state(cs, cluster_id, "running")
    task = cs.describe_task_info(task_id).body
    assert (task.task_type, task.state) == ("cluster_create", "success"), task.to_map()

    ws = workers(cs, cluster_id)
    assert len(ws) == 2, [w.to_map() for w in ws]
    for w in ws:
        assert w.instance_id.startswith("i-")
        assert w.node_name == f"{REGION}.{w.instance_id}"
        assert (w.state, w.node_status) == ("running", "Ready")

    pools = cs.describe_cluster_node_pools(cluster_id, cs_models.DescribeClusterNodePoolsRequest()).body.nodepools
    assert len(pools) == 1
    pool = pools[0]
    group_id = pool.scaling_group.scaling_group_id
    assert group_id and group_id.startswith("asg-"), pool.to_map()
    groups = ess.describe_scaling_groups(ess_models.DescribeScalingGroupsRequest(
        region_id=REGION, scaling_group_ids=[group_id])).body.scaling_groups
    assert [g.scaling_group_id for g in groups] == [group_id], "the node pool's group is a real ESS group"

    cs.scale_cluster_node_pool(cluster_id, pool.nodepool_info.nodepool_id,
                               cs_models.ScaleClusterNodePoolRequest(count=2))
    ws = settle(lambda: workers(cs, cluster_id), lambda xs: len(xs) == 4, "4 workers")
    assert len(ws) == 4
    detail = cs.describe_cluster_node_pool_detail(cluster_id, pool.nodepool_info.nodepool_id).body
    assert (detail.scaling_group.desired_size, detail.status.total_nodes) == (4, 4), detail.to_map()

    config = cs.describe_cluster_user_kubeconfig(
        cluster_id, cs_models.DescribeClusterUserKubeconfigRequest()).body
    master_url = json.loads(cs.describe_cluster_detail(cluster_id).body.master_url)
    assert f"server: {master_url['api_server_endpoint']}" in config.config, config.config
    assert "token: " in config.config and config.expiration

    instance_ids = [w.instance_id for w in ws]
    delete_and_wait(cs, cluster_id)
    left = ecs.describe_instances(ecs_models.DescribeInstancesRequest(
        region_id=REGION, instance_ids=json.dumps(instance_ids))).body.instances.instance
    assert not left, f"instances survived their cluster: {[i.instance_id for i in left]}"
    groups = ess.describe_scaling_groups(ess_models.DescribeScalingGroupsRequest(
        region_id=REGION, scaling_group_ids=[group_id])).body.scaling_groups
    assert not groups, "the node pool's scaling group survived its cluster"


def test_a_dedicated_cluster_has_three_masters(cs):
    cluster_id, _ = create_cluster(
        cs,
        cluster_type="Kubernetes",
        master_instance_types=["ecs.c7.xlarge"],
        master_system_disk_category="cloud_essd",
        pools=[node_pool("workers", 1)],
    )
    wait_for_state(cs, cluster_id, "running")
    masters = [n for n in nodes(cs, cluster_id) if n.instance_role == "Master"]
    assert len(masters) == 3
    assert {m.instance_type for m in masters} == {"ecs.c7.xlarge"}
    delete_and_wait(cs, cluster_id)


def test_clusters_are_listed_with_paging(cs):
    ids = {create_cluster(cs, pools=[])[0] for _ in range(3)}
    listed = cs.describe_clusters_v1(cs_models.DescribeClustersV1Request(page_size=2, page_number=1)).body
    assert len(listed.clusters) == 2
    assert listed.page_info.total_count >= 3
    for cluster_id in ids:
        delete_and_wait(cs, cluster_id)


def test_an_unknown_cluster_is_error_cluster_not_found(cs):
    e = not_found(lambda: cs.describe_cluster_detail("c0123456789abcdef0123456789abcdef"))
    assert (e.code, e.status_code) == ("ErrorClusterNotFound", 404), describe_error(e)


def test_an_invalid_instance_type_is_refused_naming_the_field(cs):
    pool = node_pool("workers", 1)
    pool.scaling_group.instance_types = ["ecs.nonexistent.large"]
    with pytest.raises(ClientException) as info:
        create_cluster(cs, pools=[pool])
    e = info.value
    assert (e.code, e.status_code) == ("InvalidParameter", 400), describe_error(e)
    assert "nodepools[0].scaling_group.instance_types" in e.message, e.message


def test_without_stock_the_cluster_fails_with_a_reason(make_client):
    emu = start_emulator(["--stock", f"cn-hangzhou-k:{WORKER_TYPE}=0"], name="no-stock")
    try:
        cs = make_client("cs", emu=emu)
        cluster_id, task_id = create_cluster(cs)
        wait_for_state(cs, cluster_id, "failed")
        task = cs.describe_task_info(task_id).body
        assert task.state == "fail", task.to_map()
        assert "No stock" in task.error.message, task.to_map()
        delete_and_wait(cs, cluster_id)
    finally:
        emu.stop()


def test_ackctl_get_lists_clusters_node_pools_and_nodes_the_sdk_created(emulator, cs):
    from test_cli import ackctl

    cluster_id, _ = create_cluster(cs)
    wait_for_state(cs, cluster_id, "running")
    common = ("--alibaba-endpoint", emulator.url, "--region", REGION)
    try:
        out = ackctl("get", "clusters", *common)
        assert out.returncode == 0, out.stderr
        row = next(line for line in out.stdout.splitlines() if cluster_id in line)
        assert "running" in row and "ManagedKubernetes" in row, row

        out = ackctl("get", "nodepools", cluster_id, *common)
        assert out.returncode == 0, out.stderr
        assert "workers" in out.stdout and "asg-" in out.stdout, out.stdout

        out = ackctl("get", "nodes", cluster_id, *common)
        assert out.returncode == 0, out.stderr
        for w in workers(cs, cluster_id):
            assert w.node_name in out.stdout, out.stdout

        out = ackctl("get", "nodes", "c0123456789abcdef0123456789abcdef", *common)
        assert out.returncode == 1 and "ErrorClusterNotFound" in out.stderr, out.stderr
    finally:
        delete_and_wait(cs, cluster_id)
