"""Declarative use with the real kubectl, oldest and newest clients: client-side apply of a manifest
directory again and again, prune, diff, edit, the typed `create` generators (protobuf bodies on
1.32+), replace, the three patch types and unknown-field errors under the default --validate."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tests.integration.conftest import CLIENT_VERSIONS, Cluster

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, tier: front}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        env: [{name: A, value: "1"}, {name: B, value: "2"}]
        ports: [{containerPort: 80}, {containerPort: 443}]
      - name: side
        image: busybox:1.36
"""

CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, labels: {app: web}}
data: {mode: fast}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: extra, labels: {app: web}}
data: {k: v}
"""


@pytest.fixture(params=CLIENT_VERSIONS)
def version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def namespace(cluster: Cluster, version: str, name: str) -> str:
    ns = f"{name}-{version.replace('.', '')}"
    cluster.kubectl("create", "namespace", ns, version="1.27")
    return ns


def test_apply_a_directory_again_and_again(cluster: Cluster, version: str, tmp_path: Path) -> None:
    ns = namespace(cluster, version, "apply")
    (tmp_path / "deploy.yaml").write_text(DEPLOYMENT)
    (tmp_path / "config.yaml").write_text(CONFIGMAP)
    out = cluster.kubectl("apply", "-n", ns, "-f", str(tmp_path), version=version).stdout
    assert "deployment.apps/web created" in out and "configmap/settings created" in out
    before = cluster.kubectl_json("get", "deploy", "web", "-n", ns)
    changed = (DEPLOYMENT.replace("nginx:1.25", "nginx:1.26").replace(', {name: B, value: "2"}', "")
               .replace(", {containerPort: 443}", "").replace(", tier: front", "")
               .replace("      - name: side\n        image: busybox:1.36\n", ""))
    (tmp_path / "deploy.yaml").write_text(changed)
    out = cluster.kubectl("apply", "-n", ns, "-f", str(tmp_path), version=version).stdout
    assert "deployment.apps/web configured" in out and "configmap/settings unchanged" in out
    after = cluster.kubectl_json("get", "deploy", "web", "-n", ns)
    containers = after["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["web"]
    assert containers[0]["image"] == "nginx:1.26"
    assert containers[0]["env"] == [{"name": "A", "value": "1"}]
    assert [p["containerPort"] for p in containers[0]["ports"]] == [80]
    assert after["metadata"]["labels"] == {"app": "web"}
    # nothing else moved: replicas, selector, defaults the server filled in
    assert after["spec"]["replicas"] == before["spec"]["replicas"] == 2
    assert after["spec"]["selector"] == before["spec"]["selector"]
    assert after["spec"]["strategy"] == before["spec"]["strategy"]
    again = cluster.kubectl("apply", "-n", ns, "-f", str(tmp_path), version=version).stdout
    assert "deployment.apps/web unchanged" in again


def test_apply_prune_by_label(cluster: Cluster, version: str, tmp_path: Path) -> None:
    ns = namespace(cluster, version, "prune")
    (tmp_path / "config.yaml").write_text(CONFIGMAP)
    cluster.kubectl("apply", "-n", ns, "-f", str(tmp_path), version=version)
    (tmp_path / "config.yaml").write_text(CONFIGMAP.split("---")[0])
    out = cluster.kubectl("apply", "-n", ns, "-f", str(tmp_path), "--prune", "-l", "app=web",
                          "--prune-allowlist=core/v1/ConfigMap", version=version).stdout
    assert "configmap/extra pruned" in out
    names = cluster.kubectl("get", "configmaps", "-n", ns, "-l", "app=web", "-o", "name", version=version).stdout
    assert names.split() == ["configmap/settings"]


def test_diff_shows_a_change_with_exit_code_1(cluster: Cluster, version: str, tmp_path: Path) -> None:
    ns = namespace(cluster, version, "diff")
    manifest = tmp_path / "deploy.yaml"
    manifest.write_text(DEPLOYMENT)
    cluster.kubectl("apply", "-n", ns, "-f", str(manifest), version=version)
    same = cluster.kubectl("diff", "-n", ns, "-f", str(manifest), check=False, version=version)
    assert same.returncode == 0 and same.stdout == ""
    manifest.write_text(DEPLOYMENT.replace("replicas: 2", "replicas: 5"))
    changed = cluster.kubectl("diff", "-n", ns, "-f", str(manifest), check=False, version=version)
    assert changed.returncode == 1
    assert "-  replicas: 2" in changed.stdout and "+  replicas: 5" in changed.stdout
    assert cluster.kubectl_json("get", "deploy", "web", "-n", ns)["spec"]["replicas"] == 2  # nothing stored


def test_edit_with_a_non_interactive_editor(cluster: Cluster, version: str, tmp_path: Path) -> None:
    ns = namespace(cluster, version, "edit")
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=CONFIGMAP, version=version)
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/mode: fast/mode: careful/' \"$1\"\n")
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    out = cluster.kubectl("edit", "configmap", "settings", "-n", ns, version=version,
                          env={"KUBE_EDITOR": str(editor), "EDITOR": str(editor)}).stdout
    assert "configmap/settings edited" in out
    assert cluster.kubectl_json("get", "configmap", "settings", "-n", ns)["data"] == {"mode": "careful"}


def test_typed_create_generators(cluster: Cluster, version: str) -> None:
    ns = namespace(cluster, version, "gen")
    run = [
        ("create", "deployment", "web", "--image=nginx:1.25", "--replicas=3"),
        ("create", "configmap", "cm", "--from-literal=a=b"),
        ("create", "secret", "generic", "sec", "--from-literal=pass=word"),
        ("create", "service", "clusterip", "svc", "--tcp=80:8080"),
        ("create", "job", "once", "--image=busybox"),
        ("create", "cronjob", "tick", "--image=busybox", "--schedule=*/5 * * * *"),
    ]
    for args in run:
        cluster.kubectl(*args, "-n", ns, version=version)
    assert cluster.kubectl_json("get", "deploy", "web", "-n", ns)["spec"]["replicas"] == 3
    assert cluster.kubectl_json("get", "configmap", "cm", "-n", ns)["data"] == {"a": "b"}
    assert cluster.kubectl_json("get", "secret", "sec", "-n", ns)["data"] == {"pass": "d29yZA=="}
    ports = cluster.kubectl_json("get", "service", "svc", "-n", ns)["spec"]["ports"]
    assert (ports[0]["port"], ports[0]["targetPort"]) == (80, 8080)
    assert cluster.kubectl_json("get", "cronjob", "tick", "-n", ns)["spec"]["schedule"] == "*/5 * * * *"
    created = cluster.kubectl("create", "namespace", f"made-by-{version.replace('.', '')}", version=version)
    assert "created" in created.stdout


def test_unknown_fields_and_replace(cluster: Cluster, version: str, tmp_path: Path) -> None:
    ns = namespace(cluster, version, "strict")
    bad = DEPLOYMENT.replace("  replicas: 2\n", "  replicas: 2\n  replicaz: 3\n")
    result = cluster.kubectl("create", "-n", ns, "-f", "-", input=bad, check=False, version=version)
    assert result.returncode == 1
    assert 'strict decoding error: unknown field "spec.replicaz"' in result.stderr
    cluster.kubectl("create", "-n", ns, "-f", "-", input=DEPLOYMENT, version=version)
    current = cluster.kubectl_json("get", "deploy", "web", "-n", ns)
    current["spec"]["replicas"] = 4
    cluster.kubectl("replace", "-n", ns, "-f", "-", input=json.dumps(current), version=version)
    assert cluster.kubectl_json("get", "deploy", "web", "-n", ns)["spec"]["replicas"] == 4


def test_three_patch_types(cluster: Cluster, version: str) -> None:
    ns = namespace(cluster, version, "patch3")
    cluster.kubectl("create", "-n", ns, "-f", "-", input=DEPLOYMENT, version=version)
    cluster.kubectl("patch", "deploy", "web", "-n", ns, "-p",  # strategic: merge containers by name
                    '{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox:1.37"}]}}}}',
                    version=version)
    cluster.kubectl("patch", "deploy", "web", "-n", ns, "--type=merge", "-p", '{"spec":{"replicas":3}}',
                    version=version)
    cluster.kubectl("patch", "deploy", "web", "-n", ns, "--type=json", "-p",
                    '[{"op":"replace","path":"/metadata/labels/tier","value":"back"}]', version=version)
    d = cluster.kubectl_json("get", "deploy", "web", "-n", ns)
    images = {c["name"]: c["image"] for c in d["spec"]["template"]["spec"]["containers"]}
    assert images == {"web": "nginx:1.25", "side": "busybox:1.37"}
    assert d["spec"]["replicas"] == 3 and d["metadata"]["labels"]["tier"] == "back"
    bad = cluster.kubectl("patch", "deploy", "web", "-n", ns, "-p",
                          '{"spec":{"template":{"spec":{"containers":[{"$patch":"delete"}]}}}}',
                          check=False, version=version)
    assert bad.returncode == 1 and "Error from server" in bad.stderr
