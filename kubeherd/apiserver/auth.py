"""Authentication (x509 client certificates, bearer tokens) and authorization.

A client certificate signed by the cluster CA names the user in its CN and the groups in its
O attributes; the TLS layer has already verified it against the CA, so here we only read it.
Bearer tokens are compared in constant time against the tokens the server was given.

Authorization until RBAC lands: members of `system:masters` may do everything, everyone else
nothing. A few read-only endpoints (/version, health checks) are public, as upstream's
`system:public-info-viewer` role makes them.
"""

from __future__ import annotations

import hmac
from typing import Any

from kubeherd.apiserver.admission import UserInfo

PUBLIC_PATHS = frozenset({"/version", "/healthz", "/livez", "/readyz"})
ANONYMOUS = UserInfo("system:anonymous", ("system:unauthenticated",))


class Authenticator:
    def __init__(self, tokens: dict[str, UserInfo] | None = None) -> None:
        self.tokens = dict(tokens or {})

    def add_token(self, token: str, user: UserInfo) -> None:
        self.tokens[token] = user

    def authenticate(self, headers: dict[str, str], peer_cert: dict[str, Any] | None) -> UserInfo | None:
        """The requesting user, or None when the request carries no valid credentials."""
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            presented = auth[7:].strip()
            for token, user in self.tokens.items():
                if hmac.compare_digest(token.encode(), presented.encode()):
                    return user
            return None  # a wrong token is a failure even if a certificate was also sent
        if peer_cert:
            return user_from_certificate(peer_cert)
        return None


def user_from_certificate(cert: dict[str, Any]) -> UserInfo | None:
    name = ""
    groups: list[str] = []
    for rdn in cert.get("subject", ()):
        for attr, value in rdn:
            if attr == "commonName":
                name = value
            elif attr == "organizationName":
                groups.append(value)
    if not name:
        return None
    return UserInfo(name, tuple(groups) + ("system:authenticated",))


def authorize(user: UserInfo) -> bool:
    return "system:masters" in user.groups
