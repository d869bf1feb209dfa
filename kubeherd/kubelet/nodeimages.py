"""``node.status.images`` from the runtime's images, as upstream's node status setter reports them.

Upstream lists the images largest first, at most 50 (``nodeStatusMaxImages``), each with its
digests then its tags, at most 5 names (``maxNamesPerImageInNodeStatus``); images with no name
at all are left out. The scheduler's ImageLocality plugin reads this list.
"""

from __future__ import annotations

from typing import Any

from .cri import CRIClient, CRIError, Image

MAX_IMAGES = 50
MAX_NAMES = 5


def node_images(images: list[Image], limit: int = MAX_IMAGES) -> list[dict[str, Any]]:
    out = []
    for image in sorted(images, key=lambda i: i.size, reverse=True):
        names = list(dict.fromkeys([*image.repo_digests, *image.repo_tags]))[:MAX_NAMES]
        if names:
            out.append({"names": names, "sizeBytes": image.size})
        if len(out) == limit:
            break
    return out


async def list_node_images(cri: CRIClient) -> list[dict[str, Any]] | None:
    """The images for the node status; None when the runtime does not answer (keep the old list)."""
    try:
        return node_images(await cri.list_images())
    except CRIError:
        return None
