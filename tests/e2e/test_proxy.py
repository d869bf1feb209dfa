"""pods/proxy and services/proxy against real pods: upstream's conformance behaviours.

The backend is a busybox pod playing upstream's echo server: ``httpd`` on ports 80 and 1080 runs
a CGI script for every directory URL (and ``/cgi-bin/index.cgi/...``) that answers, as JSON,
the method, the request URI, the port it was served on, the body and the forwarding headers it
received; ``page.html`` holds an absolute link (upstream's ``/rewriteme`` check) and ``/d`` is a
directory whose slash-less URL ``httpd`` redirects. An ``nc`` script on port 90 accepts any
upgrade and upper-cases the bytes that follow. Requests go through the real kubectl (1.27 and
1.33), the Python client, raw HTTPS for every method, and ``kubectl proxy``.
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3

from tests.integration.conftest import KUBECTL_DIR, Cluster

from .conftest import agent_cluster, wait_for

BUSYBOX = "localhost/kubeherd/busybox:1.36"
VERSIONS = ("1.27", "1.33")
NS = "/api/v1/namespaces/default"
CGI = """#!/bin/sh
body=$(cat)
printf 'Content-Type: application/json\\r\\n\\r\\n'
printf '{"Method":"%s","URI":"%s","Port":"%s","Body":"%s","Authorization":"%s","ForwardedUri":"%s","Host":"%s"}' \\
  "$REQUEST_METHOD" "$REQUEST_URI" "$PORT" "$body" "$HTTP_AUTHORIZATION" "$HTTP_X_FORWARDED_URI" "$HTTP_HOST"
"""
UPGRADE = """#!/bin/sh
while read -r line; do [ -z "$(printf '%s' "$line" | tr -d '\\r')" ] && break; done
printf 'HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: shout\\r\\nConnection: Upgrade\\r\\n\\r\\n'
exec tr a-z A-Z
"""
SERVE = """for p in 80 1080; do
  mkdir -p /w$p/cgi-bin /w$p/d && printf '%s' "$CGI" > /w$p/cgi-bin/index.cgi && chmod +x /w$p/cgi-bin/index.cgi
  printf '<a href="/rewriteme">port %s</a>' $p > /w$p/page.html
  PORT=$p httpd -p $p -h /w$p
done
printf '%s' "$UPGRADE" > /up.sh && chmod +x /up.sh
nc -ll -p 90 -e /up.sh &
exec sleep 3600
"""
METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


@pytest.fixture(scope="module")
def cluster(built_images: dict[str, Path]) -> Iterator[Cluster]:
    with agent_cluster() as c:
        echo = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "echo", "labels": {"app": "echo"}},
                "spec": {"terminationGracePeriodSeconds": 1, "automountServiceAccountToken": False,
                         "containers": [{"name": "web", "image": BUSYBOX, "command": ["sh", "-c", SERVE],
                                         "env": [{"name": "CGI", "value": CGI}, {"name": "UPGRADE", "value": UPGRADE}],
                                         "ports": [{"name": "web", "containerPort": 80},
                                                   {"name": "alt", "containerPort": 1080}],
                                         "readinessProbe": {"httpGet": {"path": "/page.html", "port": 80},
                                                            "periodSeconds": 1}}]}}
        services = [
            _service("echo-svc", [{"name": "portname1", "port": 80, "targetPort": "web"},
                                  {"name": "portname2", "port": 81, "targetPort": 1080}]),
            _service("single", [{"port": 80, "targetPort": 80}]),
            _service("lonely", [{"port": 80}], selector={"app": "nobody"}),
        ]
        c.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                         "items": [echo, *services]}))
        wait_for(lambda: _endpoint_ips(c, "echo-svc") and _endpoint_ips(c, "single"), timeout=90,
                 message="the echo pod to be ready behind its services")
        yield c


def _service(name: str, ports: list[dict[str, Any]], selector: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": selector or {"app": "echo"}, "ports": ports}}


def _endpoint_ips(cluster: Cluster, name: str) -> list[str]:
    out = cluster.kubectl("get", "endpoints", name, "-o", "jsonpath={.subsets[*].addresses[*].ip}", check=False)
    return out.stdout.split()


def _raw(cluster: Cluster, path: str, version: str = "1.33", check: bool = True) -> subprocess.CompletedProcess[str]:
    return cluster.kubectl("get", "--raw", path, version=version, check=check)


@pytest.fixture(scope="module")
def https(cluster: Cluster) -> Iterator[tuple[urllib3.PoolManager, str]]:
    """A plain HTTPS client with the admin's credentials (any method, redirects not followed)."""
    from kubernetes import config

    api = config.new_client_from_config(str(cluster.kubeconfig))
    cfg = api.configuration
    pool = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=cfg.ssl_ca_cert, cert_file=cfg.cert_file,
                               key_file=cfg.key_file)
    yield pool, cluster.url
    pool.clear()
    api.close()


def _echo(response: urllib3.BaseHTTPResponse) -> dict[str, Any]:
    assert response.status == 200, (response.status, response.data[:300])
    return dict(json.loads(response.data))


@pytest.mark.parametrize("base", ["pods/echo", "services/single"])
def test_every_method_with_a_path(https: tuple[urllib3.PoolManager, str], base: str) -> None:
    pool, url = https
    for method in METHODS:
        body = f"sent-by-{method}".encode() if method in ("PATCH", "POST", "PUT") else None
        path = f"{NS}/{base}/proxy/cgi-bin/index.cgi/some/path/with/{method}"
        response = pool.request(method, url + path + "?a=1&b=x%20y", body=body, redirect=False,
                                headers={"Content-Type": "text/plain"} if body else None)
        if method == "HEAD":
            assert response.status == 200 and response.data == b""
            continue
        echoed = _echo(response)
        assert echoed["Method"] == method
        assert echoed["URI"] == f"/cgi-bin/index.cgi/some/path/with/{method}?a=1&b=x%20y"
        assert echoed["Body"] == (body or b"").decode()
        assert echoed["Authorization"] == ""  # the client's credentials stay with the apiserver
        assert echoed["ForwardedUri"] == path
        assert echoed["Host"] == url.removeprefix("https://")


@pytest.mark.parametrize("base", ["pods/echo", "services/single"])
def test_bare_proxy_forwards_to_the_root_and_redirects_get_and_head(https: tuple[urllib3.PoolManager, str],
                                                                     base: str) -> None:
    pool, url = https
    for method in ("DELETE", "OPTIONS", "PATCH", "POST", "PUT"):
        echoed = _echo(pool.request(method, f"{url}{NS}/{base}/proxy?method={method}", redirect=False))
        assert (echoed["Method"], echoed["URI"], echoed["Port"]) == (method, f"/?method={method}", "80")
    for method in ("GET", "HEAD"):
        response = pool.request(method, f"{url}{NS}/{base}/proxy?method={method}", redirect=False)
        assert response.status == 301
        assert response.headers["Location"] == f"{NS}/{base}/proxy/?method={method}"


@pytest.mark.parametrize("version", VERSIONS)
def test_ports_by_number_name_and_scheme(cluster: Cluster, version: str) -> None:
    expectations = {
        "pods/echo/proxy/": "80",  # the first declared container port
        "pods/echo:1080/proxy/": "1080",
        "pods/http:echo:1080/proxy/": "1080",
        "pods/echo:80/proxy/dir/": "80",
        "services/echo-svc:portname1/proxy/": "80",
        "services/http:echo-svc:portname1/proxy/": "80",
        "services/echo-svc:portname2/proxy/": "1080",
        "services/echo-svc:81/proxy/": "1080",
        "services/http:echo-svc:80/proxy/": "80",
        "services/single/proxy/": "80",
    }
    for path, port in expectations.items():
        echoed = json.loads(_raw(cluster, f"{NS}/{path}", version).stdout)
        assert (echoed["Method"], echoed["Port"]) == ("GET", port), path
        assert echoed["URI"] == ("/dir/" if path.endswith("dir/") else "/"), path


def test_links_and_redirects_of_the_backend_stay_under_the_proxy(cluster: Cluster,
                                                                  https: tuple[urllib3.PoolManager, str]) -> None:
    for base in ("pods/echo:1080", "pods/http:echo:1080", "services/echo-svc:portname2"):
        page = _raw(cluster, f"{NS}/{base}/proxy/page.html").stdout
        assert page == f'<a href="{NS}/{base}/proxy/rewriteme">port 1080</a>'
    pool, url = https
    redirected = pool.request("GET", f"{url}{NS}/pods/echo/proxy/d", redirect=False)
    assert redirected.status == 302 and redirected.headers["Location"] == f"{NS}/pods/echo/proxy/d/"


def test_python_client_connect_with_path(cluster: Cluster) -> None:
    from kubernetes import client, config

    api = config.new_client_from_config(str(cluster.kubeconfig))
    try:
        core = client.CoreV1Api(api)
        raw = {"_preload_content": False}  # the client would turn a JSON answer into str(dict)
        pod = json.loads(core.connect_get_namespaced_pod_proxy_with_path("echo:1080", "default", "some/dir/",
                                                                         **raw).data)
        assert (pod["Method"], pod["URI"], pod["Port"]) == ("GET", "/some/dir/", "1080")
        service = json.loads(core.connect_get_namespaced_service_proxy_with_path(
            "echo-svc:portname1", "default", "other/dir/", path2="x", **raw).data)
        assert (service["URI"], service["Port"]) == ("/other/dir/?path=x", "80")
        posted = json.loads(core.connect_post_namespaced_pod_proxy_with_path("echo", "default", "posted/",
                                                                             **raw).data)
        assert posted["Method"] == "POST"
    finally:
        api.close()


@pytest.mark.parametrize("version", VERSIONS)
def test_errors_are_upstreams(cluster: Cluster, version: str) -> None:
    cases = {
        "pods/absent/proxy/": 'pods "absent" not found',
        "pods/ftp:echo:21/proxy/": "invalid pod request \"ftp:echo:21\"",
        "pods/echo:dest1/proxy/": "error trying to reach service: dial tcp: lookup tcp/dest1: unknown port",
        "pods/echo:81/proxy/": "error trying to reach service: dial tcp ",
        "services/lonely/proxy/": 'no endpoints available for service "lonely"',
        "services/echo-svc:99/proxy/": 'no service port 99 found for service "echo-svc"',
        "services/echo-svc:nope/proxy/": 'no endpoints available for service "echo-svc:nope"',
        "services/absent:80/proxy/": 'services "absent" not found',
        "services/absent/proxy/": 'endpoints "absent" not found',
    }
    for path, message in cases.items():
        result = _raw(cluster, f"{NS}/{path}", version, check=False)
        assert result.returncode != 0 and message in result.stderr, (path, result.stderr)
    refused = _raw(cluster, f"{NS}/pods/echo:81/proxy/", version, check=False).stderr
    assert "connect: connection refused" in refused and "(ServiceUnavailable)" in refused


def test_error_codes(https: tuple[urllib3.PoolManager, str]) -> None:
    pool, url = https
    codes = {"pods/absent/proxy/": (404, "NotFound"), "pods/a:b:c:d/proxy/": (400, "BadRequest"),
             "pods/echo:81/proxy/": (503, "ServiceUnavailable"), "services/lonely/proxy/": (503, "ServiceUnavailable")}
    for path, (code, reason) in codes.items():
        response = pool.request("GET", f"{url}{NS}/{path}", redirect=False)
        status = json.loads(response.data)
        assert (response.status, status["code"], status["reason"], status["kind"]) == (code, code, reason, "Status")
    trace = pool.request("TRACE", f"{url}{NS}/pods/echo/proxy/", redirect=False)
    assert trace.status == 405


def test_an_upgrade_is_spliced_to_the_pod(cluster: Cluster, https: tuple[urllib3.PoolManager, str]) -> None:
    from kubernetes import config

    api = config.new_client_from_config(str(cluster.kubeconfig))
    cfg = api.configuration
    context = ssl.create_default_context(cafile=cfg.ssl_ca_cert)
    context.load_cert_chain(cfg.cert_file, cfg.key_file)
    port = int(cluster.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=20) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as s:
        s.sendall(f"GET {NS}/pods/echo:90/proxy/ HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                  "Upgrade: shout\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(4096)
        assert head.startswith(b"HTTP/1.1 101 "), head
        s.sendall(b"hello through the proxy\n")
        echoed = head.partition(b"\r\n\r\n")[2]
        while b"\n" not in echoed:
            echoed += s.recv(4096)
        assert echoed == b"HELLO THROUGH THE PROXY\n"
    api.close()


@pytest.mark.parametrize("version", VERSIONS)
def test_kubectl_proxy(cluster: Cluster, version: str) -> None:
    assert KUBECTL_DIR is not None
    proc = subprocess.Popen([str(KUBECTL_DIR / f"kubectl.{version}"), "--kubeconfig", str(cluster.kubeconfig),
                             "proxy", "--port=0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "Starting to serve on 127.0.0.1:PORT"
        address = line.strip().rsplit(" ", 1)[-1]
        base = f"http://{address}{NS}"
        with urllib.request.urlopen(f"{base}/services/echo-svc:80/proxy/", timeout=20) as response:
            echoed = json.loads(response.read())
        # kubectl proxy addresses the apiserver by its own name; the backend gets that Host
        assert (echoed["Method"], echoed["Port"], echoed["Host"]) == ("GET", "80", cluster.url.removeprefix("https://"))
        with urllib.request.urlopen(f"{base}/pods/echo:1080/proxy/page.html", timeout=20) as response:
            assert response.read().decode() == f'<a href="{NS}/pods/echo:1080/proxy/rewriteme">port 1080</a>'
    finally:
        proc.terminate()
        proc.wait(10)
