"""Container log rotation, as upstream's container log manager (``pkg/kubelet/logs``).

Design: containerd only appends to ``<pod log dir>/<container>/<restartCount>.log``; keeping the
disk bounded is the kubelet's job. Every ``container-log-monitor-interval`` (10 s) each *running*
container whose live log is over ``container-log-max-size`` is rotated in upstream's order:

1. leftovers of an interrupted rotation go (``*.tmp``, and rotated files already compressed);
2. the oldest rotated files are deleted so that ``container-log-max-files − 2`` remain (with the
   live file and the one about to be rotated, at most ``max-files`` files exist);
3. every rotated file left is gzipped (``.tmp`` first, then renamed to ``.gz``), so only the
   file rotated now stays uncompressed;
4. the live file is renamed to ``<log>.<YYYYMMDD-HHMMSS>`` and CRI ``ReopenContainerLog`` makes
   containerd open a fresh one; if that fails, the file is renamed back.

``kubectl logs`` reads the live file only (as upstream does), so lines already rotated away
are no longer served; a follower notices the reopen and carries on with the new file
(:func:`kubeherd.kubelet.logs.read_log`).
"""

from __future__ import annotations

import asyncio
import datetime
import gzip
import logging
import os
import shutil
from pathlib import Path

from .cri import ContainerFilter, ContainerState, ContainerStateValue, CRIClient, CRIError

log = logging.getLogger(__name__)
TIMESTAMP = "%Y%m%d-%H%M%S"
COMPRESSED = ".gz"
TMP = ".tmp"


def rotated_logs(log_path: Path) -> list[Path]:
    """The rotated files of a live log, oldest first (their names sort by rotation time)."""
    prefix = log_path.name + "."
    try:
        names = [n for n in os.listdir(log_path.parent) if n.startswith(prefix)]
    except OSError:
        return []
    return [log_path.parent / n for n in sorted(names)]


def clean_unused(log_path: Path) -> None:
    """Remove what an interrupted rotation left: temporary files, and uncompressed copies of
    files whose compressed version exists."""
    logs = rotated_logs(log_path)
    names = {p.name for p in logs}
    for path in logs:
        if path.name.endswith(TMP) or path.name + COMPRESSED in names:
            path.unlink(missing_ok=True)


def remove_excess(log_path: Path, keep: int) -> None:
    """Delete the oldest rotated files until at most ``keep`` remain."""
    logs = [p for p in rotated_logs(log_path) if not p.name.endswith(TMP)]
    for path in logs[:max(0, len(logs) - keep)]:
        path.unlink(missing_ok=True)


def compress_rotated(log_path: Path) -> None:
    """Gzip every rotated file not compressed yet."""
    logs = [p for p in rotated_logs(log_path) if not p.name.endswith(TMP)]
    for path in logs:
        if path.name.endswith(COMPRESSED):
            continue
        tmp = path.with_name(path.name + COMPRESSED + TMP)
        with open(path, "rb") as src, gzip.open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst)
        os.replace(tmp, path.with_name(path.name + COMPRESSED))
        path.unlink(missing_ok=True)


class ContainerLogManager:
    """Rotates the logs of the running containers of one runtime."""

    def __init__(self, cri: CRIClient, max_size: int, max_files: int, interval: float = 10.0) -> None:
        self.cri = cri
        self.max_size = max_size
        self.max_files = max_files
        self.interval = interval

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.rotate_all()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("container log rotation failed: %s", exc)

    async def rotate_all(self) -> int:
        """One pass over the running containers; returns how many logs were rotated."""
        running = await self.cri.list_containers(ContainerFilter(
            state=ContainerStateValue(state=ContainerState.CONTAINER_RUNNING)))
        rotated = 0
        for container in running:
            try:
                status = await self.cri.container_status(container.id)
            except CRIError:
                continue
            if not status.log_path:
                continue
            path = Path(status.log_path)
            try:
                size = (await asyncio.to_thread(os.stat, path)).st_size
            except OSError:
                continue
            if size < self.max_size:
                continue
            try:
                await self.rotate(container.id, path)
                rotated += 1
            except (OSError, CRIError) as exc:
                log.warning("rotating the log of container %s: %s", container.id[:12], exc)
        return rotated

    async def rotate(self, container_id: str, path: Path) -> None:
        await asyncio.to_thread(clean_unused, path)
        await asyncio.to_thread(remove_excess, path, self.max_files - 2)
        await asyncio.to_thread(compress_rotated, path)
        stamp = datetime.datetime.now().strftime(TIMESTAMP)
        target = path.with_name(f"{path.name}.{stamp}")
        if target.exists() or target.with_name(target.name + COMPRESSED).exists():
            return  # rotated within this second already
        await asyncio.to_thread(os.rename, path, target)
        try:
            await self.cri.reopen_container_log(container_id)
        except CRIError:
            try:  # put it back: the runtime still writes to it
                await asyncio.to_thread(os.rename, target, path)
            except OSError as exc:
                log.warning("renaming %s back to %s: %s", target, path, exc)
            raise
