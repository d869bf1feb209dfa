"""How exec/attach/port-forward/log requests are checked and re-addressed to the kubelet."""

from __future__ import annotations

from typing import Any

import pytest

from kubeherd.api.errors import APIError
from kubeherd.apiserver.http import Request
from kubeherd.apiserver.podlogs import kubelet_query, parse_request
from kubeherd.apiserver.proxy import forwarded_headers
from kubeherd.apiserver.streaming import check_upgrade, kubelet_path
from kubeherd.kubelet.httputil import parse_head
from kubeherd.kubelet.streaming import log_options, waiting_message


def _request(query: dict[str, list[str]], headers: dict[str, str] | None = None, upgrade: str = "") -> Request:
    return Request("POST", "/x", query, headers or {}, b"", upgrade=upgrade)


def _pod(*containers: str, init: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
            "spec": {"containers": [{"name": c} for c in containers],
                     "initContainers": [{"name": c} for c in init]}}


def test_exec_is_addressed_with_the_kubelets_parameter_names() -> None:
    request = _request({"command": ["sh", "-c", "echo a b"], "stdin": ["true"], "stdout": ["1"], "tty": ["false"]})
    assert kubelet_path(request, _pod("c"), "exec") == "/exec/ns/p/c?input=1&output=1&command=sh&command=-c" \
                                                       "&command=echo+a+b"
    attach = _request({"container": ["b"], "stdout": ["true"], "stderr": ["true"]})
    assert kubelet_path(attach, _pod("a", "b"), "attach") == "/attach/ns/p/b?output=1&error=1"


def test_container_choice_errors_are_upstreams() -> None:
    with pytest.raises(APIError) as unnamed:
        kubelet_path(_request({"command": ["ls"]}), _pod("a", "b", init=("i",)), "exec")
    assert unnamed.value.message == ("a container name must be specified for pod p, choose one of: [a b] "
                                     "or one of the init containers: [i]")
    with pytest.raises(APIError) as wrong:
        parse_request(_request({"container": ["z"]}), _pod("a"))
    assert wrong.value.code == 400 and wrong.value.message == "container z is not valid for pod p"


def test_port_forward_ports_are_checked_and_passed_on() -> None:
    assert kubelet_path(_request({"ports": ["80,8080"]}), _pod("c"), "portforward") == \
        "/portForward/ns/p?port=80&port=8080"
    with pytest.raises(APIError) as bad:
        kubelet_path(_request({"ports": ["70000"]}), _pod("c"), "portforward")
    assert bad.value.code == 400


@pytest.mark.parametrize(("upgrade", "protocols", "subresource", "served"), [
    ("", "", "exec", False),
    ("spdy/3.1", "", "exec", True),
    ("websocket", "v5.channel.k8s.io", "exec", False),  # kubectl >= 1.30: the v5 translator, not the runtime
    ("websocket", "v5.channel.k8s.io,v4.channel.k8s.io", "exec", True),  # the Python client
    ("websocket", "SPDY/3.1+portforward.k8s.io", "portforward", False),  # kubectl >= 1.31: the apiserver's tunnel
    ("websocket", "v4.channel.k8s.io", "portforward", True),
])
def test_what_is_spliced_and_what_is_refused(upgrade: str, protocols: str, subresource: str, served: bool) -> None:
    request = _request({}, {"sec-websocket-protocol": protocols} if protocols else {}, upgrade)
    if served:
        check_upgrade(request, subresource)
    else:
        with pytest.raises(APIError) as refused:
            check_upgrade(request, subresource)
        assert refused.value.code == 400


def test_stream_protocol_versions_are_forwarded_one_per_line() -> None:
    request = _request({}, {"x-stream-protocol-version": "v4.channel.k8s.io,v3.channel.k8s.io",
                            "authorization": "Bearer secret", "host": "a", "user-agent": "kubectl"})
    assert forwarded_headers(request) == [("X-Stream-Protocol-Version", "v4.channel.k8s.io"),
                                          ("X-Stream-Protocol-Version", "v3.channel.k8s.io"),
                                          ("user-agent", "kubectl")]


def test_log_options_round_trip_to_the_kubelet() -> None:
    pod = _pod("c")
    log = parse_request(_request({"follow": ["true"], "tailLines": ["5"], "sinceTime": ["2026-01-02T03:04:05Z"],
                                  "limitBytes": ["100"], "timestamps": ["1"]}), pod)
    query = kubelet_query(log)
    assert query == [("follow", "true"), ("timestamps", "true"), ("sinceTime", "2026-01-02T03:04:05Z"),
                     ("tailLines", "5"), ("limitBytes", "100")]
    target = "/containerLogs/ns/p/c?" + "&".join(f"{k}={v}" for k, v in query)
    options = log_options(parse_head(f"GET {target} HTTP/1.1\r\nHost: k".encode()))
    assert options.follow and options.timestamps and options.tail_lines == 5 and options.limit_bytes == 100
    assert options.since_time is not None and options.since_time.isoformat() == "2026-01-02T03:04:05+00:00"


def test_waiting_message_names_the_reason() -> None:
    pod = _pod("c")
    pod["status"] = {"containerStatuses": [{"name": "c", "state": {"waiting": {"reason": "ImagePullBackOff"}}}]}
    assert waiting_message(pod, "c") == 'container "c" in pod "p" is waiting to start: trying and failing to pull image'
