"""Images without a registry: import OCI-layout and ``docker save`` archives into the runtime.

Design: the archives are handed to ``ctr images import`` (shipped with Debian's containerd)
against *our* containerd's socket, in the ``k8s.io`` namespace the CRI plugin serves. ctr
already reads both formats (OCI index with ``io.containerd.image.name`` /
``org.opencontainers.image.ref.name`` annotations; Docker's ``manifest.json`` with
``RepoTags``), writes the blobs to the content store and unpacks them into the overlayfs
snapshotter, which CRI's CreateContainer requires (it does not unpack on demand). Writing the
content API ourselves would repeat all of that for no gain; the cost is one process per
archive (~0.1 s).

The sandbox and busybox images come from ``scripts/build-images`` (Debian packages only). A
node imports ``<data-dir>/agent/images/*.tar`` at every start (:func:`import_image_dir`),
as k3s does for air-gapped installs; ``kubeherd image import`` imports one archive by hand.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

PAUSE_IMAGE = "localhost/kubeherd/pause:1"
BUSYBOX_IMAGE = "localhost/kubeherd/busybox:1.36"
K8S_NAMESPACE = "k8s.io"  # the containerd namespace the CRI plugin uses
ARCHIVE_SUFFIXES = (".tar",)

# ctr prints "unpacking <name> (sha256:<digest>)...done" for every image it imports
_UNPACKED = re.compile(r"unpacking (\S+) \((sha256:[0-9a-f]{64})\)")


class ImageImportError(RuntimeError):
    """An archive the runtime refused (unreadable, not an image archive, runtime not running)."""


@dataclass(frozen=True)
class ImportedImage:
    name: str  # e.g. localhost/kubeherd/pause:1, docker.io/library/nginx:1.25
    digest: str  # the manifest (or index) digest


def ctr_binary() -> str:
    path = shutil.which("ctr") or ("/usr/bin/ctr" if Path("/usr/bin/ctr").exists() else None)
    if path is None:
        raise ImageImportError("ctr not found; install the Debian package containerd (scripts/install does)")
    return path


async def import_archive(address: str | Path, archive: Path, *, namespace: str = K8S_NAMESPACE,
                         timeout: float = 300.0) -> list[ImportedImage]:
    """Import one OCI-layout or ``docker save`` tarball into the containerd at ``address``.

    Returns the images it named. Raises :class:`ImageImportError` with ctr's message on failure.
    """
    archive = Path(archive)
    if not archive.is_file():
        raise ImageImportError(f"{archive}: no such file")
    cmd = [ctr_binary(), "--address", str(address), "--namespace", namespace, "images", "import", str(archive)]
    proc = await asyncio.create_subprocess_exec(*cmd, stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise ImageImportError(f"{archive}: import did not finish in {timeout:g}s") from None
    text = out.decode(errors="replace")
    if proc.returncode != 0:
        message = (err.decode(errors="replace").strip() or text.strip()).splitlines()
        raise ImageImportError(f"{archive}: {message[-1] if message else f'ctr exited {proc.returncode}'}")
    images = [ImportedImage(name, digest) for name, digest in _UNPACKED.findall(text)]
    log.info("imported %s: %s", archive, ", ".join(i.name for i in images) or "no named images")
    return images


async def import_image_dir(address: str | Path, directory: Path, *,
                           namespace: str = K8S_NAMESPACE) -> list[ImportedImage]:
    """Import every ``*.tar`` in ``directory`` (the node's ``agent/images``), in name order.

    Called by the kubelet at start. An archive that fails is logged and skipped, so one bad
    file does not keep the node from starting; a missing directory imports nothing.
    """
    if not Path(directory).is_dir():
        return []
    imported: list[ImportedImage] = []
    for archive in sorted(p for p in Path(directory).iterdir() if p.suffix in ARCHIVE_SUFFIXES and p.is_file()):
        try:
            imported += await import_archive(address, archive, namespace=namespace)
        except ImageImportError as e:
            log.error("image import failed: %s", e)
    return imported
