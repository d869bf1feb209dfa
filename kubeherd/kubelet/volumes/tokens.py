"""The kubelet's token manager: service-account tokens for projected volumes, cached and refreshed.

As upstream's: a token is requested through TokenRequest for the pod's service account, bound
to the pod (name and uid), with the projection's audience and expirationSeconds. It is kept per
(namespace, account, audience, expiration, pod uid) and requested again once 80% of its lifetime
has passed or it is a day old, whichever comes first; the lifetime is the one the TokenRequest
answered with (`status.expirationTimestamp` minus its creation time), not the possibly extended
`exp` inside the token. The volume re-projection then writes the new token atomically.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .projection import VolumeError

Obj = dict[str, Any]
# (namespace, service account, TokenRequest body) → the answered TokenRequest
TokenRequester = Callable[[str, str, Obj], Awaitable[Obj]]
MAX_TOKEN_AGE = 24 * 60 * 60
REFRESH_AT = 0.8
DEFAULT_EXPIRATION = 3600


def _timestamp(text: str) -> float:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@dataclass(slots=True)
class _Cached:
    token: str
    refresh_at: float
    expires_at: float


class TokenManager:
    def __init__(self, request: TokenRequester, clock: Callable[[], float] = time.time) -> None:
        self.request = request
        self.clock = clock
        self.tokens: dict[tuple[str, str, str, int, str], _Cached] = {}

    async def token(self, pod: Obj, projection: Obj) -> str:
        meta = pod["metadata"]
        account = (pod.get("spec") or {}).get("serviceAccountName") or "default"
        audience = str(projection.get("audience") or "")
        expiration = int(projection.get("expirationSeconds") or DEFAULT_EXPIRATION)
        key = (meta["namespace"], account, audience, expiration, meta["uid"])
        now = self.clock()
        cached = self.tokens.get(key)
        if cached is not None and now < cached.refresh_at:
            return cached.token
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "spec": {"audiences": [audience] if audience else [], "expirationSeconds": expiration,
                         "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": meta["name"],
                                            "uid": meta["uid"]}}}
        try:
            answer = await self.request(meta["namespace"], account, body)
        except Exception as exc:
            if cached is not None and now < cached.expires_at:
                return cached.token  # keep serving the old one while it lasts, as upstream
            raise VolumeError(f"failed to fetch token: {exc}") from exc
        status = answer.get("status") or {}
        issued = _timestamp(str((answer.get("metadata") or {}).get("creationTimestamp") or "")) \
            if (answer.get("metadata") or {}).get("creationTimestamp") else now
        expires = _timestamp(str(status["expirationTimestamp"]))
        lifetime = max(0.0, expires - issued)
        refresh = min(issued + lifetime * REFRESH_AT, issued + MAX_TOKEN_AGE)
        self.tokens[key] = _Cached(str(status["token"]), refresh, expires)
        return str(status["token"])

    def forget(self, uid: str) -> None:
        """Drop the tokens of a pod that is gone."""
        for key in [k for k in list(self.tokens) if k[4] == uid]:
            del self.tokens[key]
