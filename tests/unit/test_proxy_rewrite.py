"""pods/proxy and services/proxy without a network: where a request goes, and the links in the
answer (tests/e2e/test_proxy.py runs the whole path against real pods)."""

from __future__ import annotations

import gzip
import zlib
from typing import Any

import pytest

from kubeherd.api import errors
from kubeherd.apiserver.podproxy import (
    Backend,
    backend_path,
    endpoint_candidates,
    pod_backend,
    service_port_name,
    split_scheme_name_port,
)
from kubeherd.apiserver.proxyrewrite import LinkRewriter

PREFIX = "/api/v1/namespaces/ns/pods/web:1080/proxy"
rewriter = LinkRewriter(PREFIX, "10.42.0.7:1080", "127.0.0.1:6443")


def test_absolute_links_of_the_backend_go_back_through_the_proxy() -> None:
    assert rewriter.url("/rewriteme") == PREFIX + "/rewriteme"
    assert rewriter.url("/dir/?a=1&b=2#top") == PREFIX + "/dir/?a=1&b=2#top"
    assert rewriter.url("http://10.42.0.7:1080/login") == PREFIX + "/login"  # the backend's own host
    assert rewriter.url("https://127.0.0.1:6443/x") == "https://127.0.0.1:6443" + PREFIX + "/x"  # the client's
    assert rewriter.url(PREFIX + "/already") == PREFIX + "/already"


def test_relative_and_foreign_links_are_left_alone() -> None:
    for link in ("relative/page", "../up", "https://example.com/x", "mailto:a@b", "#frag", ""):
        assert rewriter.url(link) == link


def test_html_attributes_are_rewritten_in_place_and_nothing_else() -> None:
    page = ('<!DOCTYPE html><html><head><link rel=stylesheet href=/s.css>'
            "<script src='/app.js'>var a = '<a href=\"/not-a-link\">';</script></head>"
            '<body><!-- <a href="/commented"> --><A HREF="/up">x</A> <img alt="/x" src="/i.png"/>'
            '<form action="/post"><p data-href="/no">text /plain</p></form></body></html>')
    out = rewriter.html(page.encode()).decode()
    assert out == page.replace("href=/s.css", f"href={PREFIX}/s.css").replace(
        "'/app.js'", f"'{PREFIX}/app.js'").replace('"/up"', f'"{PREFIX}/up"').replace(
        'src="/i.png"', f'src="{PREFIX}/i.png"').replace('"/post"', f'"{PREFIX}/post"')


def test_compressed_html_is_rewritten_in_its_encoding() -> None:
    page = b'<a href="/rewriteme">test</a>'
    want = f'<a href="{PREFIX}/rewriteme">test</a>'.encode()
    gzipped = rewriter.body(gzip.compress(page), "gzip")
    assert gzipped is not None and gzip.decompress(gzipped) == want
    deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
    deflated = rewriter.body(deflater.compress(page) + deflater.flush(), "deflate")
    assert deflated is not None and zlib.decompress(deflated, -15) == want
    assert rewriter.body(page, "br") is None  # not understood: passed through as it is


@pytest.mark.parametrize(("id_", "parts"), [
    ("web", ("", "web", "")), ("web:80", ("", "web", "80")), ("https:web:443", ("https", "web", "443")),
    ("http:web:", ("http", "web", "")), ("ftp:web:21", None), (":80", None), ("a:b:c:d", None)])
def test_scheme_name_port(id_: str, parts: tuple[str, str, str] | None) -> None:
    assert split_scheme_name_port(id_) == parts


def test_backend_path_is_cleaned_and_keeps_its_trailing_slash() -> None:
    assert backend_path("", False) == "/"
    assert backend_path("/", True) == "/"
    assert backend_path("/a//b/../c", False) == "/a/c"
    assert backend_path("/some/dir/", True) == "/some/dir/"
    assert backend_path("/../../etc", False) == "/etc"


def _pod(ip: str, ports: list[int] | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "c"}
    if ports:
        container["ports"] = [{"containerPort": p} for p in ports]
    return {"spec": {"containers": [{"name": "side"}, container]},
            "status": {"podIP": ip, "podIPs": [{"ip": ip}] if ip else []}}


def test_pod_backend_port_defaults_and_address_checks() -> None:
    assert pod_backend(_pod("10.42.0.7", [8080, 9090]), "", "") == Backend("http", "10.42.0.7", 8080)
    assert pod_backend(_pod("10.42.0.7"), "", "") == Backend("http", "10.42.0.7", 80)
    assert pod_backend(_pod("10.42.0.7"), "https", "") == Backend("https", "10.42.0.7", 443)
    assert pod_backend(_pod("fd00::7"), "", "81").authority == "[fd00::7]:81"
    assert pod_backend(_pod("10.42.0.7"), "", "http").port == 80  # a service name, as upstream's dialer
    with pytest.raises(errors.APIError) as unknown:
        pod_backend(_pod("10.42.0.7", [8080]), "", "dest1")
    assert unknown.value.code == 503
    assert unknown.value.message == "error trying to reach service: dial tcp: lookup tcp/dest1: unknown port"
    for ip in ("", "127.0.0.1", "169.254.1.1", "0.0.0.0", "224.0.0.1"):
        with pytest.raises(errors.APIError) as refused:
            pod_backend(_pod(ip), "", "80")
        assert (refused.value.code, refused.value.message) == (400, "address not allowed")


def test_service_ports_and_endpoints() -> None:
    service = {"spec": {"ports": [{"name": "web", "port": 80}, {"name": "tls", "port": 443}]}}
    assert service_port_name(service, "s", "443") == "tls"
    assert service_port_name(service, "s", "web") == "web"
    with pytest.raises(errors.APIError) as missing:
        service_port_name(service, "s", "81")
    assert (missing.value.code, missing.value.message) == (503, 'no service port 81 found for service "s"')
    with pytest.raises(errors.APIError) as empty:
        endpoint_candidates({"subsets": []}, "s", "web")
    assert (empty.value.code, empty.value.message) == (503, 'no endpoints available for service "s"')
    endpoints = {"subsets": [
        {"addresses": [{"ip": "10.42.0.1"}, {"ip": "10.42.0.2"}], "ports": [{"name": "web", "port": 8080}]},
        {"addresses": [{"ip": "10.42.0.3"}], "ports": [{"name": "tls", "port": 8443}]},
        {"notReadyAddresses": [{"ip": "10.42.0.4"}], "ports": [{"name": "web", "port": 8080}]}]}
    web = endpoint_candidates(endpoints, "s", "web")
    assert sorted((a["ip"], p) for a, p in web) == [("10.42.0.1", 8080), ("10.42.0.2", 8080)]
    assert [(a["ip"], p) for a, p in endpoint_candidates(endpoints, "s", "tls")] == [("10.42.0.3", 8443)]
    assert endpoint_candidates(endpoints, "s", "") == []
