"""`kubectl explain` against a real server, with the oldest and newest shipped clients.

kubectl 1.33 and 1.27 render explain from `/openapi/v3` (their default output, each with its own
template: 1.33 leaves two blank lines after FIELD); 1.27 with `--output=plaintext-openapiv2` renders
it from the `/openapi/v2` protobuf document. The expected texts are what those clients print
against an upstream 1.33 cluster.
"""

from __future__ import annotations

import pytest

from tests.integration.conftest import KUBECTL, Cluster

pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")

IMAGE_DESCRIPTION = """\
    Container image name. More info:
    https://kubernetes.io/docs/concepts/containers/images This field is optional
    to allow higher level config management to default or override container
    images in workload controllers like Deployments and StatefulSets.
"""

STRATEGY_FIELDS = """\
FIELDS:
  rollingUpdate\t<RollingUpdateDeployment>
    Rolling update config params. Present only if DeploymentStrategyType =
    RollingUpdate.

  type\t<string>
    Type of deployment. Can be "Recreate" or "RollingUpdate". Default is
    RollingUpdate.


"""

# The v3 templates of the two clients differ only in the blank lines after FIELD.
V3_GAP = {"1.33": "\n\n", "1.27": "\n"}


@pytest.mark.parametrize("version", ["1.33", "1.27"])
def test_explain_field(cluster: Cluster, version: str) -> None:
    out = cluster.kubectl("explain", "pod.spec.containers.image", version=version).stdout
    assert out == ("KIND:       Pod\nVERSION:    v1\n\nFIELD: image <string>\n" + V3_GAP[version]
                   + "DESCRIPTION:\n" + IMAGE_DESCRIPTION + "    \n\n")


@pytest.mark.parametrize("version", ["1.33", "1.27"])
def test_explain_object_field(cluster: Cluster, version: str) -> None:
    out = cluster.kubectl("explain", "deployment.spec.strategy", version=version).stdout
    assert out == (
        "GROUP:      apps\nKIND:       Deployment\nVERSION:    v1\n\n"
        "FIELD: strategy <DeploymentStrategy>\n" + V3_GAP[version]
        + "DESCRIPTION:\n"
        "    The deployment strategy to use to replace existing pods with new ones.\n"
        "    DeploymentStrategy describes how to replace existing pods with new ones.\n"
        "    \n" + STRATEGY_FIELDS)


@pytest.mark.parametrize("version", ["1.33", "1.27"])
def test_explain_list_field(cluster: Cluster, version: str) -> None:
    out = cluster.kubectl("explain", "pod.spec.containers", version=version).stdout
    lines = out.splitlines()
    assert lines[:4] == ["KIND:       Pod", "VERSION:    v1", "", "FIELD: containers <[]Container>"]
    assert ("    updated.\n    A single application container that you want to run within a pod.\n    \nFIELDS:\n"
            "  args\t<[]string>\n") in out
    for field in ("  image\t<string>", "  name\t<string> -required-", "  ports\t<[]ContainerPort>",
                  "  resources\t<ResourceRequirements>", "  env\t<[]EnvVar>"):
        assert field in lines, field


@pytest.mark.parametrize("version", ["1.33", "1.27"])
def test_explain_special_types(cluster: Cluster, version: str) -> None:
    surge = cluster.kubectl("explain", "deployment.spec.strategy.rollingUpdate.maxSurge", version=version).stdout
    assert "FIELD: maxSurge <IntOrString>\n" in surge
    assert "    The maximum number of pods that can be scheduled above the desired number of\n" in surge
    limits = cluster.kubectl("explain", "pod.spec.containers.resources.limits", version=version).stdout
    assert "FIELD: limits <map[string]Quantity>\n" in limits
    labels = cluster.kubectl("explain", "pod.metadata.labels", version=version).stdout
    assert "FIELD: labels <map[string]string>\n" in labels


@pytest.mark.parametrize("version", ["1.33", "1.27"])
def test_explain_resource_and_recursive(cluster: Cluster, version: str) -> None:
    out = cluster.kubectl("explain", "pods", version=version).stdout
    assert out.startswith("KIND:       Pod\nVERSION:    v1\n\nDESCRIPTION:\n    Pod is a collection of containers "
                          "that can run on a host. This resource is\n    created by clients and scheduled onto "
                          "hosts.\n    \nFIELDS:\n  apiVersion\t<string>\n")
    recursive = cluster.kubectl("explain", "pods", "--recursive", version=version).stdout.splitlines()
    assert recursive[7:11] == ["FIELDS:", "  apiVersion\t<string>", "  kind\t<string>", "  metadata\t<ObjectMeta>"]
    assert "    containers\t<[]Container> -required-" in recursive
    assert "  status\t<PodStatus>" in recursive


@pytest.mark.parametrize("version", ["1.33", "1.27"])
def test_explain_other_groups(cluster: Cluster, version: str) -> None:
    hpa = cluster.kubectl("explain", "hpa.spec.metrics", version=version).stdout
    assert hpa.startswith("GROUP:      autoscaling\nKIND:       HorizontalPodAutoscaler\nVERSION:    v2\n\n"
                          "FIELD: metrics <[]MetricSpec>\n")
    cron = cluster.kubectl("explain", "cronjob.spec.jobTemplate.spec.template.spec.restartPolicy",
                           version=version).stdout
    assert "KIND:       CronJob\n" in cron and "FIELD: restartPolicy <string>\n" in cron
    assert "    Restart policy for all containers within the pod. One of Always, OnFailure,\n" in cron


@pytest.mark.parametrize("version", ["1.33", "1.27"])
def test_explain_unknown_field(cluster: Cluster, version: str) -> None:
    result = cluster.kubectl("explain", "pod.spec.foo", version=version, check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == 'error: field "foo" does not exist'


# --- kubectl 1.27 reading the Swagger 2.0 protobuf document ------------------------------------


def test_explain_openapi_v2(cluster: Cluster) -> None:
    image = cluster.kubectl("explain", "pod.spec.containers.image", "--output=plaintext-openapiv2",
                            version="1.27").stdout
    assert image == (
        "KIND:     Pod\nVERSION:  v1\n\nFIELD:    image <string>\n\nDESCRIPTION:\n"
        "     Container image name. More info:\n"
        "     https://kubernetes.io/docs/concepts/containers/images This field is\n"
        "     optional to allow higher level config management to default or override\n"
        "     container images in workload controllers like Deployments and StatefulSets.\n")
    strategy = cluster.kubectl("explain", "deployment.spec.strategy", "--output=plaintext-openapiv2",
                               version="1.27").stdout
    assert strategy == (
        "KIND:     Deployment\nVERSION:  apps/v1\n\nRESOURCE: strategy <Object>\n\nDESCRIPTION:\n"
        "     The deployment strategy to use to replace existing pods with new ones.\n\n"
        "     DeploymentStrategy describes how to replace existing pods with new ones.\n\n"
        "FIELDS:\n"
        "   rollingUpdate\t<Object>\n"
        "     Rolling update config params. Present only if DeploymentStrategyType =\n"
        "     RollingUpdate.\n\n"
        "   type\t<string>\n"
        "     Type of deployment. Can be \"Recreate\" or \"RollingUpdate\". Default is\n"
        "     RollingUpdate.\n\n")
    containers = cluster.kubectl("explain", "pod.spec.containers", "--output=plaintext-openapiv2",
                                 version="1.27").stdout
    assert containers.startswith("KIND:     Pod\nVERSION:  v1\n\nRESOURCE: containers <[]Object>\n\n")
    assert "   name\t<string> -required-\n" in containers
    recursive = cluster.kubectl("explain", "pods", "--recursive", "--output=plaintext-openapiv2",
                                version="1.27").stdout.splitlines()
    assert "   spec\t<Object>" in recursive and "      containers\t<[]Object>" in recursive
    missing = cluster.kubectl("explain", "pod.spec.foo", "--output=plaintext-openapiv2", version="1.27",
                              check=False)
    assert missing.returncode == 1 and missing.stderr.strip() == 'error: field "foo" does not exist'
