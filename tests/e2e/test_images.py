"""Images without a registry: the built images, OCI-layout and `docker save` imports, the CLI."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest

from kubeherd.kubelet.images import (
    BUSYBOX_IMAGE,
    PAUSE_IMAGE,
    ImageImportError,
    import_archive,
    import_image_dir,
)

from .conftest import REPO, Node, processes_mentioning


def docker_save_archive(oci_archive: Path, out: Path, tag: str) -> Path:
    """The image of an OCI-layout tarball re-packed as `docker save` writes it (manifest.json,
    config JSON, one uncompressed layer.tar per layer), under a different tag."""
    with tarfile.open(oci_archive) as src:
        def blob(digest: str) -> bytes:
            f = src.extractfile(f"blobs/sha256/{digest.split(':', 1)[1]}")
            assert f is not None
            return f.read()

        index = json.loads(src.extractfile("index.json").read())  # type: ignore[union-attr]
        manifest = json.loads(blob(index["manifests"][0]["digest"]))
        config = blob(manifest["config"]["digest"])
        layers = [gzip.decompress(blob(layer["digest"])) for layer in manifest["layers"]]
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    layer_names = [f"{hashlib.sha256(layer).hexdigest()}/layer.tar" for layer in layers]
    files = {config_name: config, **dict(zip(layer_names, layers, strict=True)),
             "manifest.json": json.dumps([{"Config": config_name, "RepoTags": [tag], "Layers": layer_names}]).encode()}
    with tarfile.open(out, "w") as dst:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))
    return out


def kubeherd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kubeherd.cli.main", *args], capture_output=True, text=True,
                          timeout=120, cwd=REPO)


def test_built_images_are_in_the_runtime(node: Node) -> None:
    assert {i.name for i in node.imported} == {PAUSE_IMAGE, BUSYBOX_IMAGE}
    for name in (PAUSE_IMAGE, BUSYBOX_IMAGE):
        image = node.run(node.cri.image_status(name))
        assert image is not None, f"{name} missing"
        assert name in image.repo_tags and image.id.startswith("sha256:") and image.size > 0
    assert node.run(node.cri.image_status("localhost/kubeherd/absent:1")) is None
    tags = {t for i in node.run(node.cri.list_images()) for t in i.repo_tags}
    assert {PAUSE_IMAGE, BUSYBOX_IMAGE} <= tags
    fs = node.run(node.cri.image_fs_info())
    assert fs and fs[0].fs_id is not None and fs[0].fs_id.mountpoint.startswith(str(node.layout.root))


def test_build_is_reproducible(built_images: dict[str, Path], tmp_path: Path) -> None:
    result = subprocess.run([str(REPO / "scripts" / "build-images"), str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    for archive in built_images.values():
        assert (tmp_path / archive.name).read_bytes() == archive.read_bytes(), f"{archive.name} differs between builds"


def test_docker_save_archive_imports_and_runs(node: Node, built_images: dict[str, Path], tmp_path: Path,
                                              cleanup: list[str]) -> None:
    tag = "localhost/kubeherd/busybox:docker-save"
    archive = docker_save_archive(built_images[BUSYBOX_IMAGE], tmp_path / "saved.tar", tag)
    imported = node.run(import_archive(node.containerd.endpoint, archive))
    assert [i.name for i in imported] == [tag]
    try:
        config = node.sandbox_config()
        sandbox_id = node.run(node.cri.run_pod_sandbox(config))
        cleanup.append(sandbox_id)
        container = node.container_config("saved", ["sleep", "60"])
        assert container.image is not None
        container.image.image = tag
        cid = node.run(node.cri.create_container(sandbox_id, container, config))
        node.run(node.cri.start_container(cid))
        assert node.run(node.cri.exec_sync(cid, ["busybox", "true"], timeout=10)).exit_code == 0
        node.run(node.cri.stop_pod_sandbox(sandbox_id))
        node.run(node.cri.remove_pod_sandbox(sandbox_id))
    finally:
        node.run(node.cri.remove_image(tag))
    assert node.run(node.cri.image_status(tag)) is None


def test_import_errors_name_the_archive(node: Node, tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.tar"
    bogus.write_text("not a tarball")
    with pytest.raises(ImageImportError, match="bogus.tar"):
        node.run(import_archive(node.containerd.endpoint, bogus))
    # the start-up import skips a bad archive and imports the rest
    (tmp_path / "images").mkdir()
    bogus.rename(tmp_path / "images" / "0-bogus.tar")
    (tmp_path / "images" / "pause.tar").symlink_to(REPO / "build" / "images" / "pause.tar")
    imported = node.run(import_image_dir(node.containerd.endpoint, tmp_path / "images"))
    assert [i.name for i in imported] == [PAUSE_IMAGE]


def test_cli_imports_and_lists_images_of_a_data_dir(node: Node, built_images: dict[str, Path]) -> None:
    result = kubeherd("image", "import", "--data-dir", str(node.layout.data_dir), str(built_images[BUSYBOX_IMAGE]))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(BUSYBOX_IMAGE + "\tsha256:")
    listing = kubeherd("image", "list", "--data-dir", str(node.layout.data_dir))
    assert listing.returncode == 0, listing.stderr
    rows = [line.split() for line in listing.stdout.splitlines()]
    assert rows[0] == ["IMAGE", "TAG", "IMAGE", "ID", "SIZE"]
    assert ["localhost/kubeherd/busybox", "1.36"] in [r[:2] for r in rows]
    assert ["localhost/kubeherd/pause", "1"] in [r[:2] for r in rows]
    missing = kubeherd("image", "import", "--data-dir", str(node.layout.data_dir), "/nonexistent.tar")
    assert missing.returncode == 1 and missing.stderr.strip() == \
        "kubeherd image import: /nonexistent.tar: no such file"


def test_cli_starts_a_temporary_containerd_for_a_stopped_node(built_images: dict[str, Path]) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="khcli", dir="/tmp"))
    try:
        result = kubeherd("image", "import", "-d", str(data_dir), str(built_images[PAUSE_IMAGE]))
        assert result.returncode == 0, result.stderr
        listing = kubeherd("image", "list", "-d", str(data_dir))
        assert "localhost/kubeherd/pause" in listing.stdout
        # nothing keeps running after the command
        assert not processes_mentioning(str(data_dir / "containerd" / "config.toml"))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
