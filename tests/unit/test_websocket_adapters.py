"""Which WebSocket requests the apiserver serves itself (v5 translator, port-forward tunnel, logs),
and how it picks the subprotocol and checks the opening handshake."""

from __future__ import annotations

import pytest

from kubeherd.api.errors import APIError
from kubeherd.apiserver.http import Request
from kubeherd.apiserver.podlogs import websocket_handshake
from kubeherd.apiserver.remotecommand import Options, is_v5_request
from kubeherd.apiserver.tunnel import is_tunnel_request, tunneled_protocols
from kubeherd.apiserver.websocket import choose_subprotocol

KEY = {"host": "x", "connection": "Upgrade", "upgrade": "websocket", "sec-websocket-version": "13",
       "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ=="}


def _ws(protocols: str, query: dict[str, list[str]] | None = None, **headers: str) -> Request:
    fields = {**KEY, **headers}
    if protocols:
        fields["sec-websocket-protocol"] = protocols
    return Request("GET", "/api/v1/namespaces/d/pods/p/log", query or {}, fields, b"", upgrade="websocket",
                   raw_path="/api/v1/namespaces/d/pods/p/log")


def test_subprotocol_is_the_first_offered_that_is_served() -> None:
    served = {"", "binary.k8s.io", "base64.binary.k8s.io"}
    assert choose_subprotocol(["base64.binary.k8s.io", "binary.k8s.io"], served) == "base64.binary.k8s.io"
    assert choose_subprotocol([], served) == ""
    assert choose_subprotocol(["channel.k8s.io"], served) is None
    assert choose_subprotocol([], {"binary.k8s.io"}) is None


def test_v5_offers_go_to_the_translator_wherever_they_stand() -> None:
    assert is_v5_request(_ws("v5.channel.k8s.io"))
    assert is_v5_request(_ws("v5.channel.k8s.io, v4.channel.k8s.io"))  # the Python client
    assert not is_v5_request(_ws("v4.channel.k8s.io"))
    spdy = Request("POST", "/x", {}, {"sec-websocket-protocol": "v5.channel.k8s.io"}, b"", upgrade="spdy/3.1")
    assert not is_v5_request(spdy)


def test_tunnel_protocols_lose_their_prefix() -> None:
    request = _ws("SPDY/3.1+portforward.k8s.io, v4.channel.k8s.io, SPDY/3.1+other")
    assert tunneled_protocols(request) == ["portforward.k8s.io"]
    assert is_tunnel_request(request)
    assert not is_tunnel_request(_ws("v4.channel.k8s.io"))


def test_translator_options_drop_stderr_with_a_terminal() -> None:
    flags = {"stdin": ["true"], "stdout": ["1"], "stderr": ["true"], "tty": ["true"]}
    assert Options.of(_ws("v5.channel.k8s.io", flags)) == Options(stdin=True, stdout=True, stderr=False, tty=True)
    assert Options.of(_ws("v5.channel.k8s.io", {"stderr": ["true"]})) == Options(False, False, True, False)


def test_log_handshake_refusals_are_upstreams() -> None:
    assert websocket_handshake(_ws("binary.k8s.io")).subprotocol == "binary.k8s.io"
    assert websocket_handshake(_ws("")).subprotocol == ""
    with pytest.raises(APIError) as unserved:
        websocket_handshake(_ws("v4.channel.k8s.io"))
    assert unserved.value.code == 403
    assert unserved.value.message.startswith("requested protocol(s) are not supported: [v4.channel.k8s.io]")
    with pytest.raises(APIError) as old:
        websocket_handshake(_ws("binary.k8s.io", **{"sec-websocket-version": "8"}))
    assert old.value.code == 400
