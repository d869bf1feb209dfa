"""`kubeherd image import|list`: the node's images without a registry.

They act on the containerd of the kubeherd that uses ``--data-dir``. When that containerd is
not running (the server or agent is stopped), one is started for the command and stopped
after it, so images can be loaded before a node's first start; pods are never touched.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from kubeherd.kubelet.cri import CRIClient, CRIError
from kubeherd.kubelet.images import ImageImportError, import_archive
from kubeherd.kubelet.runtime import Containerd, ContainerdLayout


def _default_data_dir() -> str:
    return "/var/lib/kubeherd" if os.geteuid() == 0 else str(Path.home() / ".kubeherd")


def add_parser(sub: argparse._SubParsersAction) -> None:
    image = sub.add_parser("image", help="import and list the node's container images")
    image_sub = image.add_subparsers(dest="image_command", required=True)
    for name, help_text in (("import", "import OCI-layout or `docker save` archives into the node's runtime"),
                            ("list", "list the images the node's runtime has")):
        p = image_sub.add_parser(name, help=help_text)
        p.add_argument("--data-dir", "-d", default=_default_data_dir(),
                       help="data dir of the kubeherd whose runtime to use (default: /var/lib/kubeherd as root)")
        p.add_argument("--container-runtime-endpoint", default="",
                       help="use this CRI socket instead of the data dir's containerd")
        p.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
        if name == "import":
            p.add_argument("archives", nargs="+", metavar="FILE.tar", type=Path)


@asynccontextmanager
async def _runtime(args: argparse.Namespace) -> AsyncIterator[str]:
    """The CRI endpoint to use, with a temporary containerd when the data dir's is not running."""
    if args.container_runtime_endpoint:
        yield args.container_runtime_endpoint
        return
    layout = ContainerdLayout(Path(args.data_dir).resolve())
    async with CRIClient(str(layout.socket), timeout=5) as cri:
        try:
            await cri.version()
            running = True
        except CRIError:
            running = False
    if running:
        yield str(layout.socket)
        return
    containerd = Containerd(layout)
    await containerd.start()
    try:
        yield containerd.endpoint
    finally:
        if not containerd.adopted:
            await containerd.stop()


async def _import(args: argparse.Namespace) -> int:
    async with _runtime(args) as endpoint:
        for archive in args.archives:
            for image in await import_archive(endpoint, archive):
                print(f"{image.name}\t{image.digest}")
    return 0


def _size(n: int) -> str:
    """A size as crictl prints it: 1.03MB, 304kB."""
    value = float(n)
    for unit in ("B", "kB", "MB"):
        if value < 1000:
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.3g}{unit}"
        value /= 1000
    return f"{value:.3g}GB"


async def _list(args: argparse.Namespace) -> int:
    async with _runtime(args) as endpoint, CRIClient(endpoint) as cri:
        images = await cri.list_images()
    rows = [("IMAGE", "TAG", "IMAGE ID", "SIZE")]
    for image in sorted(images, key=lambda i: (i.repo_tags or i.repo_digests or [i.id])[0]):
        image_id = image.id.split(":", 1)[-1][:13]
        for ref in image.repo_tags or [d.split("@")[0] + ":<none>" for d in image.repo_digests] or ["<none>:<none>"]:
            repo, _, tag = ref.rpartition(":")
            rows.append((repo, tag, image_id, _size(image.size)))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_import(args) if args.image_command == "import" else _list(args))
    except (ImageImportError, CRIError, RuntimeError, OSError, ValueError) as exc:
        print(f"kubeherd image {args.image_command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
