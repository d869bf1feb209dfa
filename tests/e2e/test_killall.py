"""`kubeherd killall`: after a server is SIGKILLed (its pods and containerd keep running, by
design), killall stops them all and removes the mounts, netns files and leases they leave.

Its own server: the test kills everything that server made.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from kubeherd.kubelet.runtime import ContainerdLayout
from tests.integration.conftest import start_server

from .conftest import mounts_under, processes_mentioning, run, wait_for

BUSYBOX = "localhost/kubeherd/busybox:1.36"


def _killall(data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kubeherd.cli.main", "killall", "--data-dir", str(data_dir)],
                          capture_output=True, text=True, timeout=120)


def _fetch(ip: str, port: int) -> bytes | None:
    try:
        with socket.create_connection((ip, port), timeout=2) as s:
            s.settimeout(2)
            s.sendall(f"GET / HTTP/1.0\r\nHost: {ip}\r\n\r\n".encode())
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)
    except OSError:
        return None


def test_killall_after_sigkill_leaves_nothing(built_images: dict[str, Path]) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="kh", dir="/tmp"))
    c = start_server(tmp, agent=True)
    layout = ContainerdLayout(c.data_dir.resolve())
    token = f"alive-{uuid.uuid4().hex}"  # another kubeherd on this machine may reuse the pod IP later
    try:
        wait_for(lambda: "Ready" in c.kubectl("get", "nodes", check=False).stdout, timeout=60,
                 message="the node to be Ready")
        c.kubectl("apply", "-f", "-", input=json.dumps({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "victim"},
            "spec": {"terminationGracePeriodSeconds": 30, "containers": [{
                "name": "c", "image": BUSYBOX, "command": ["sh", "-c", f"mkdir -p /www && echo {token} > "
                                                                         "/www/index.html && httpd -f -p 8080 -h /www"],
                "volumeMounts": [{"name": "mem", "mountPath": "/mem"}]}],
                "volumes": [{"name": "mem", "emptyDir": {"medium": "Memory"}}]}}))
        ip = wait_for(lambda: c.kubectl_json("get", "pod", "victim").get("status", {}).get("podIP"), timeout=60,
                      message="the pod's IP")
        wait_for(lambda: token.encode() in (_fetch(ip, 8080) or b""), timeout=30, message=f"httpd on {ip}")

        os.kill(c.process.pid, signal.SIGKILL)
        c.process.wait()
        assert token.encode() in (_fetch(ip, 8080) or b""), "the pod should survive its server"
        assert processes_mentioning(str(layout.socket)), "our shims should survive the server"
        assert mounts_under(layout.data_dir)

        first = _killall(c.data_dir)
        assert first.returncode == 0, first
        assert "stopped and removed 1 pod sandboxes" in first.stdout, first.stdout
        assert "stopped containerd" in first.stdout, first.stdout
        assert processes_mentioning(str(layout.data_dir)) == []
        assert mounts_under(layout.data_dir) == []
        assert not layout.netns_dir.exists() or list(layout.netns_dir.iterdir()) == []
        leases = [p.name for p in layout.cni_ipam_dir.glob("*/*") if p.name[0].isdigit()]
        assert leases == []
        assert token.encode() not in (_fetch(ip, 8080) or b""), f"{ip} still serves the killed pod"

        second = _killall(c.data_dir)
        assert second.returncode == 0, second
        assert second.stdout.startswith("nothing to remove"), second.stdout
        assert second.stderr == "", second.stderr
    finally:
        if c.process.poll() is None:
            c.process.kill()
            c.process.wait()
        _killall(c.data_dir)
        if not mounts_under(tmp):
            run("rm", "-rf", str(tmp), check=False)
