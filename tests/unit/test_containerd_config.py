"""What we write for containerd and CNI, checked without running them."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from kubeherd.kubelet.images import PAUSE_IMAGE
from kubeherd.kubelet.runtime import (
    CNI_CONFIG_NAME,
    ContainerdLayout,
    cni_config,
    render_config,
    write_cni_config,
)


def test_config_is_valid_toml_with_everything_under_the_data_dir(tmp_path: Path) -> None:
    layout = ContainerdLayout(tmp_path / 'we"ird dir')
    config = tomllib.loads(render_config(layout, cni_bin=Path("/usr/lib/cni")))
    assert config["version"] == 2
    assert config["root"] == str(layout.root) and config["state"] == str(layout.state)
    assert config["grpc"]["address"] == str(layout.socket)
    assert config["plugins"]["io.containerd.internal.v1.opt"]["path"] == str(layout.opt)
    cri = config["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["sandbox_image"] == PAUSE_IMAGE
    assert (cri["restrict_oom_score_adj"], cri["netns_mounts_under_state_dir"]) == (True, True)
    assert (cri["stream_server_address"], cri["stream_server_port"]) == ("127.0.0.1", "0")
    assert cri["cni"] == {"bin_dir": "/usr/lib/cni", "conf_dir": str(layout.cni_conf_dir)}
    assert cri["registry"] == {"config_path": str(layout.certs_d)}
    runc = cri["containerd"]["runtimes"]["runc"]
    assert runc["runtime_type"] == "io.containerd.runc.v2"
    assert runc["options"] == {"SystemdCgroup": False, "Root": str(layout.runc_root)}


def test_socket_paths_must_fit_a_unix_address(tmp_path: Path) -> None:
    ContainerdLayout(Path("/var/lib/kubeherd")).check_socket_length()
    with pytest.raises(ValueError, match="too long"):
        ContainerdLayout(Path("/tmp/" + "x" * 90)).check_socket_length()


def test_cni_conflist_for_a_pod_cidr(tmp_path: Path) -> None:
    conf = cni_config("10.42.3.0/24", ipam_dir=tmp_path / "ipam", mtu=1450)
    bridge, portmap = conf["plugins"]
    assert conf["cniVersion"] == "1.0.0" and conf["name"] == "kubeherd"
    assert (bridge["type"], bridge["bridge"], bridge["isGateway"], bridge["ipMasq"], bridge["mtu"]) == \
        ("bridge", "kubeherd0", True, False, 1450)
    assert bridge["ipam"]["ranges"] == [[{"subnet": "10.42.3.0/24", "gateway": "10.42.3.1"}]]
    assert bridge["ipam"]["dataDir"] == str(tmp_path / "ipam")
    assert portmap == {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True}
    assert "loopback" not in {p["type"] for p in conf["plugins"]}  # containerd adds it itself


def test_cni_config_is_written_atomically_and_only_when_changed(tmp_path: Path) -> None:
    layout = ContainerdLayout(tmp_path)
    path = write_cni_config(layout, "10.42.0.0/24")
    assert path == layout.cni_conf_dir / CNI_CONFIG_NAME
    assert json.loads(path.read_text())["plugins"][0]["ipam"]["ranges"][0][0]["subnet"] == "10.42.0.0/24"
    inode = path.stat().st_ino
    write_cni_config(layout, "10.42.0.0/24")
    assert path.stat().st_ino == inode
    write_cni_config(layout, "10.42.1.0/24")
    assert "10.42.1.0/24" in path.read_text()
    assert sorted(p.name for p in layout.cni_conf_dir.iterdir()) == [CNI_CONFIG_NAME]
