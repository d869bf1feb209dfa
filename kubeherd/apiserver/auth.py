"""Authentication (x509 client certificates, bearer tokens) and authorization.

A client certificate signed by the cluster CA names the user in its CN and the groups in its
O attributes; the TLS layer has already verified it against the CA, so here we only read it.
Bearer tokens are compared in constant time against the tokens the server was given, then
offered to the token authenticators added at start (service-account JWTs).

Authorization until RBAC lands: members of `system:masters` may do everything. Everyone else
gets what upstream's default cluster roles give every authenticated user and nothing more:
discovery (`system:discovery`), reviews about themselves (`system:basic-user`: `kubectl auth
whoami`, `kubectl auth can-i`), and, for service accounts, the issuer discovery documents
(`system:service-account-issuer-discovery`). A few read-only endpoints (/version, health checks)
are public, as upstream's `system:public-info-viewer` role makes them.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from kubeherd.apiserver.admission import UserInfo

PUBLIC_PATHS = frozenset({"/version", "/healthz", "/livez", "/readyz"})
ANONYMOUS = UserInfo("system:anonymous", ("system:unauthenticated",))
# (group, plural) of the self reviews upstream's system:basic-user role lets everyone create
SELF_REVIEWS = frozenset({("authentication.k8s.io", "selfsubjectreviews"),
                          ("authorization.k8s.io", "selfsubjectaccessreviews"),
                          ("authorization.k8s.io", "selfsubjectrulesreviews")})
ISSUER_DISCOVERY_PATHS = frozenset({"/.well-known/openid-configuration", "/openid/v1/jwks"})
# A bearer token → the user it stands for, or None when the token is not one it knows.
TokenAuthenticator = Callable[[str], UserInfo | None]


class Authenticator:
    def __init__(self, tokens: dict[str, UserInfo] | None = None) -> None:
        self.tokens = dict(tokens or {})
        self.token_authenticators: list[TokenAuthenticator] = []

    def add_token(self, token: str, user: UserInfo) -> None:
        self.tokens[token] = user

    def add_token_authenticator(self, authenticator: TokenAuthenticator) -> None:
        self.token_authenticators.append(authenticator)

    def authenticate(self, headers: dict[str, str], peer_cert: dict[str, Any] | None) -> UserInfo | None:
        """The requesting user, or None when the request carries no valid credentials."""
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            presented = auth[7:].strip()
            for token, user in self.tokens.items():
                if hmac.compare_digest(token.encode(), presented.encode()):
                    return user
            for authenticator in self.token_authenticators:
                found = authenticator(presented)
                if found is not None:
                    return found
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


def _discovery_path(path: str) -> bool:
    """The non-resource paths of upstream's system:discovery role."""
    parts = [p for p in path.split("/") if p]
    if not parts:
        return False
    if parts[0] == "api":
        return len(parts) <= 2
    if parts[0] == "apis":
        return len(parts) <= 3
    return parts[0] in ("openapi", "version")


def allowed_without_role(user: UserInfo, method: str, path: str, resource: tuple[str, str] | None,
                         verb: str = "") -> bool:
    """What a user outside system:masters may still do: `resource` is (group, plural) of a resource
    request, None for a non-resource path."""
    if "system:authenticated" not in user.groups:
        return False
    if resource is not None:
        return verb == "create" and resource in SELF_REVIEWS
    if method not in ("GET", "HEAD"):
        return False
    if path in ISSUER_DISCOVERY_PATHS:
        return "system:serviceaccounts" in user.groups
    return _discovery_path(path)
