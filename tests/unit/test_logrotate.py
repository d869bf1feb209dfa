"""Container log rotation: upstream's order of clean-up, excess removal, compression, rotation."""

from __future__ import annotations

import asyncio
import gzip
import re
from pathlib import Path

import grpc

from kubeherd.kubelet.cri import CRIError
from kubeherd.kubelet.logrotate import (
    ContainerLogManager,
    clean_unused,
    compress_rotated,
    remove_excess,
    rotated_logs,
)


class FakeCRI:
    """One running container whose runtime 'reopens' its log by creating the file again."""

    def __init__(self, log: Path, fail_reopen: bool = False) -> None:
        self.log = log
        self.fail_reopen = fail_reopen
        self.reopened = 0

    async def list_containers(self, filter: object = None) -> list[object]:
        from kubeherd.kubelet.cri import Container
        return [Container(id="c1")]

    async def container_status(self, container_id: str) -> object:
        from kubeherd.kubelet.cri import ContainerStatus
        return ContainerStatus(id=container_id, log_path=str(self.log))

    async def reopen_container_log(self, container_id: str) -> None:
        if self.fail_reopen:
            raise CRIError("ReopenContainerLog", grpc.StatusCode.UNKNOWN, "container is not running")
        self.reopened += 1
        self.log.write_bytes(b"")


def test_helpers(tmp_path: Path) -> None:
    live = tmp_path / "0.log"
    live.write_text("live")
    for name in ("0.log.20240101-000001.gz", "0.log.20240101-000002", "0.log.20240101-000002.gz",
                 "0.log.20240101-000003", "0.log.20240101-000004.gz.tmp", "1.log"):
        (tmp_path / name).write_text(name)
    clean_unused(live)  # the .tmp, and the uncompressed copy of a compressed file, go
    assert [p.name for p in rotated_logs(live)] == ["0.log.20240101-000001.gz", "0.log.20240101-000002.gz",
                                                    "0.log.20240101-000003"]
    remove_excess(live, 2)
    assert [p.name for p in rotated_logs(live)] == ["0.log.20240101-000002.gz", "0.log.20240101-000003"]
    compress_rotated(live)
    assert [p.name for p in rotated_logs(live)] == ["0.log.20240101-000002.gz", "0.log.20240101-000003.gz"]
    assert gzip.decompress((tmp_path / "0.log.20240101-000003.gz").read_bytes()) == b"0.log.20240101-000003"
    assert live.read_text() == "live" and (tmp_path / "1.log").exists()


def test_rotation_keeps_at_most_max_files(tmp_path: Path) -> None:
    live = tmp_path / "0.log"
    cri = FakeCRI(live)
    manager = ContainerLogManager(cri, max_size=100, max_files=3)  # type: ignore[arg-type]
    live.write_bytes(b"x" * 50)
    assert asyncio.run(manager.rotate_all()) == 0  # under the limit
    for i in range(4):
        live.write_bytes(b"line %d\n" % i * 20)
        # names have second resolution: give each rotation its own second
        asyncio.run(_rotate_at(manager, f"2024010{i + 1}-000000"))
        assert len(list(tmp_path.iterdir())) <= 3
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["0.log", "0.log.20240103-000000.gz", "0.log.20240104-000000"], names
    assert cri.reopened == 4 and live.read_bytes() == b""
    assert gzip.decompress((tmp_path / "0.log.20240103-000000.gz").read_bytes()).startswith(b"line 2\n")


async def _rotate_at(manager: ContainerLogManager, stamp: str) -> None:
    import kubeherd.kubelet.logrotate as module

    real = module.datetime

    class Fixed:
        class datetime:
            @staticmethod
            def now() -> object:
                return real.datetime.strptime(stamp, module.TIMESTAMP)

    module.datetime = Fixed  # type: ignore[assignment]
    try:
        assert await manager.rotate_all() == 1
    finally:
        module.datetime = real


def test_a_failed_reopen_puts_the_file_back(tmp_path: Path) -> None:
    live = tmp_path / "0.log"
    live.write_bytes(b"y" * 200)
    manager = ContainerLogManager(FakeCRI(live, fail_reopen=True), max_size=100, max_files=3)  # type: ignore[arg-type]
    assert asyncio.run(manager.rotate_all()) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["0.log"] and live.read_bytes() == b"y" * 200


def test_the_rotated_name(tmp_path: Path) -> None:
    live = tmp_path / "0.log"
    live.write_bytes(b"z" * 200)
    asyncio.run(ContainerLogManager(FakeCRI(live), max_size=100, max_files=2).rotate_all())  # type: ignore[arg-type]
    rotated = [p.name for p in rotated_logs(live)]
    assert len(rotated) == 1 and re.fullmatch(r"0\.log\.\d{8}-\d{6}", rotated[0]), rotated


def test_a_follower_moves_on_to_the_new_file(tmp_path: Path) -> None:
    from kubeherd.kubelet.logs import LogOptions, read_log

    live = tmp_path / "0.log"
    live.write_bytes(b"2024-01-01T00:00:00Z stdout F before\n")

    async def scenario() -> bytes:
        state = {"running": True}

        async def running() -> bool:
            return state["running"]

        out = b""
        reader = read_log(live, LogOptions(follow=True), running)
        out += await reader.__anext__()
        live.rename(tmp_path / "0.log.20240101-000000")
        live.write_bytes(b"2024-01-01T00:00:01Z stdout F after\n")
        out += await asyncio.wait_for(reader.__anext__(), 5)
        state["running"] = False
        async for chunk in reader:
            out += chunk
        return out

    assert asyncio.run(scenario()) == b"before\nafter\n"
