"""Service-account tokens: TokenRequest, the bearer-token authenticator, OIDC issuer discovery.

* **TokenRequest** (`POST …/serviceaccounts/{name}/token`) mints a JWT for a service account,
  optionally bound to a Pod, Secret or Node whose uid is checked. Upstream's rules: audiences
  default to the API server's, `expirationSeconds` defaults to 3600 and must be at least 600;
  a configured maximum shortens longer requests with a warning; a pod-bound request for exactly
  3607 s with the API's audiences (what the kubelet asks for its projected volume) is valid for a
  year but carries `warnafter` — the safe-rollout extension of upstream's
  `--service-account-extend-token-expiration`.
* **Authentication** checks a bearer JWT of our issuer: signature, `exp`/`nbf` with upstream's one
  minute of leeway, an audience shared with the server's, the service account still there with
  the same uid, and any bound pod/secret/node still there with its uid (a bound object being
  deleted stops the token a minute after its deletionTimestamp). Lookups read the watch cache,
  so authentication never waits on storage.
* **OIDC discovery** serves `/.well-known/openid-configuration` and `/openid/v1/jwks`, built once.
"""

from __future__ import annotations

import datetime
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from kubeherd.api import errors
from kubeherd.api.resources import Catalog
from kubeherd.apiserver.admission import UserInfo
from kubeherd.apiserver.registry import Registry, object_key
from kubeherd.apiserver.strategies import rfc3339
from kubeherd.apiserver.tokens import (
    InvalidToken,
    PublicKey,
    SigningKey,
    looks_like_jwt,
    public_jwk,
    verify_signature,
)

Obj = dict[str, Any]
DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"
DEFAULT_EXPIRATION = 3600
MIN_EXPIRATION = 600
MAX_EXPIRATION = 1 << 32
WARN_ONLY_EXPIRATION = 60 * 60 + 7  # what the kubelet's projected volume asks for
EXTENDED_EXPIRATION = 365 * 24 * 60 * 60
LEEWAY = 60  # seconds of clock skew allowed on exp/nbf, and after a bound object's deletion
OPENID_CONFIG_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/openid/v1/jwks"
SA_PREFIX = "system:serviceaccount:"
EXTRA_POD_NAME = "authentication.kubernetes.io/pod-name"
EXTRA_POD_UID = "authentication.kubernetes.io/pod-uid"
EXTRA_NODE_NAME = "authentication.kubernetes.io/node-name"
EXTRA_NODE_UID = "authentication.kubernetes.io/node-uid"
EXTRA_CREDENTIAL_ID = "authentication.kubernetes.io/credential-id"
TOKEN_REQUEST = ("authentication.k8s.io", "TokenRequest")


@dataclass
class IssuerConfig:
    """The `--service-account-*` and `--api-audiences` settings of the API server."""

    issuer: str = DEFAULT_ISSUER
    api_audiences: list[str] = field(default_factory=list)  # empty: the issuer
    max_expiration: int = 0  # seconds; 0: no maximum, as upstream's default
    extend_expiration: bool = True
    jwks_uri: str = ""  # empty: https://<external address>/openid/v1/jwks

    @property
    def audiences(self) -> list[str]:
        return self.api_audiences or [self.issuer]


def service_account_username(namespace: str, name: str) -> str:
    return f"{SA_PREFIX}{namespace}:{name}"


def _ref(obj: Obj) -> Obj:
    meta = obj.get("metadata") or {}
    return {"name": meta.get("name", ""), "uid": meta.get("uid", "")}


def token_claims(issuer: str, account: Obj, audiences: list[str], expiration: int, *, warn_after: int = 0,
                 pod: Obj | None = None, secret: Obj | None = None, node: Obj | None = None,
                 now: int | None = None) -> Obj:
    """Upstream's claims for a service-account token (registered ones and `kubernetes.io`)."""
    issued = int(time.time()) if now is None else now
    meta = account["metadata"]
    private: Obj = {"namespace": meta["namespace"], "serviceaccount": _ref(account)}
    if pod is not None:
        private["pod"] = _ref(pod)
    elif secret is not None:
        private["secret"] = _ref(secret)
    if node is not None:
        private["node"] = {k: v for k, v in _ref(node).items() if v}
    if warn_after:
        private["warnafter"] = issued + warn_after
    return {"aud": list(audiences), "exp": issued + expiration, "iat": issued, "iss": issuer,
            "jti": str(uuid.uuid4()), "kubernetes.io": private, "nbf": issued,
            "sub": service_account_username(meta["namespace"], meta["name"])}


def _invalid(name: str, path: str, value: Any, message: str) -> errors.APIError:
    rendered = orjson.dumps(value).decode()
    return errors.invalid(TOKEN_REQUEST[0], TOKEN_REQUEST[1], name, [{
        "type": "FieldValueInvalid", "field": path, "message": f"Invalid value: {rendered}: {message}"}])


class ServiceAccountTokens:
    """Mints (TokenRequest) and checks (bearer authentication) this server's service-account tokens."""

    def __init__(self, registry: Registry, key: SigningKey, config: IssuerConfig | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.registry = registry
        self.key = key
        self.config = config or IssuerConfig()
        self.clock = clock
        self.keys: dict[str, PublicKey] = {key.kid: key.public_key}
        catalog: Catalog = registry.catalog
        self.resources = {plural: catalog.lookup("", "v1", plural)
                          for plural in ("serviceaccounts", "pods", "secrets", "nodes", "namespaces")}

    # ------------------------------------------------------------------ lookups (watch cache)
    def lookup(self, plural: str, namespace: str, name: str) -> Obj | None:
        resource = self.resources[plural]
        assert resource is not None
        found = self.registry.cache.resource(resource.storage_prefix).items.get(
            object_key(resource, namespace if resource.namespaced else "", name))
        return found.obj if found is not None else None

    async def _get(self, plural: str, namespace: str, name: str) -> Obj:
        resource = self.resources[plural]
        assert resource is not None
        return (await self.registry.get(resource, namespace if resource.namespaced else "", name)).obj

    # ------------------------------------------------------------------ TokenRequest
    async def token_request(self, namespace: str, name: str, body: Any) -> tuple[Obj, list[str]]:
        """The TokenRequest answered (status.token filled) and any warnings for the client."""
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a TokenRequest object")
        if body.get("kind") not in (None, "", "TokenRequest"):
            raise errors.bad_request(f"the kind in the data ({body.get('kind')}) does not match the expected kind "
                                     "(TokenRequest)")
        meta = dict(body.get("metadata") or {})
        if meta.get("name") and meta["name"] != name:
            raise _invalid(name, "metadata.name", meta["name"], "must match the service account name if specified")
        if meta.get("namespace") and meta["namespace"] != namespace:
            raise _invalid(name, "metadata.namespace", meta["namespace"],
                           "must match the service account namespace if specified")
        account = await self._get("serviceaccounts", namespace, name)
        spec = dict(body.get("spec") or {})
        audiences = [str(a) for a in spec.get("audiences") or []] or list(self.config.audiences)
        expiration = spec.get("expirationSeconds")
        if expiration is None:
            expiration = DEFAULT_EXPIRATION
        if not isinstance(expiration, int) or isinstance(expiration, bool):
            raise errors.bad_request("spec.expirationSeconds must be an integer")
        if expiration < MIN_EXPIRATION:
            raise _invalid("", "spec.expirationSeconds", expiration, "may not specify a duration less than 10 minutes")
        if expiration > MAX_EXPIRATION:
            raise _invalid("", "spec.expirationSeconds", expiration,
                           "may not specify a duration larger than 2^32 seconds")
        pod = secret = node = None
        ref = spec.get("boundObjectRef")
        if ref:
            pod, secret, node = await self._bound_objects(namespace, name, ref)
        warnings: list[str] = []
        maximum = self.config.max_expiration
        if maximum > 0 and expiration > maximum:
            warnings.append(f"requested expiration of {expiration} seconds shortened to {maximum} seconds")
            expiration = maximum
        spec.update({"audiences": audiences, "expirationSeconds": expiration})
        lifetime, warn_after = expiration, 0
        if self.config.extend_expiration and pod is not None and expiration == WARN_ONLY_EXPIRATION \
                and set(audiences) <= set(self.config.audiences):
            lifetime, warn_after = EXTENDED_EXPIRATION, expiration
        now = int(self.clock())
        claims = token_claims(self.config.issuer, account, audiences, lifetime, warn_after=warn_after, pod=pod,
                              secret=secret, node=node, now=now)
        issued = datetime.datetime.fromtimestamp(now, datetime.UTC)
        out_meta = {"name": name, "namespace": namespace, "creationTimestamp": rfc3339(issued)}
        return {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1", "metadata": out_meta,
                "spec": spec, "status": {
                    "token": self.key.sign(claims),
                    "expirationTimestamp": rfc3339(issued + datetime.timedelta(seconds=expiration))}}, warnings

    async def _bound_objects(self, namespace: str, account: str, ref: Any) -> tuple[Obj | None, ...]:
        if not isinstance(ref, dict):
            raise errors.bad_request("spec.boundObjectRef must be an object")
        kind = str(ref.get("kind") or "")
        api_version = str(ref.get("apiVersion") or "")
        group = api_version.rpartition("/")[0]
        ref_name = str(ref.get("name") or "")
        pod = secret = node = None
        if group == "" and kind == "Pod":
            pod = await self._get("pods", namespace, ref_name)
            if (pod.get("spec") or {}).get("serviceAccountName") != account:
                raise errors.bad_request(f'cannot bind token for serviceaccount "{account}" to pod running with '
                                         "different serviceaccount name.")
            bound = pod
            node_name = (pod.get("spec") or {}).get("nodeName")
            if node_name:
                node = self.lookup("nodes", "", node_name) or {"metadata": {"name": node_name}}
        elif group == "" and kind == "Secret":
            secret = bound = await self._get("secrets", namespace, ref_name)
        elif group == "" and kind == "Node":
            node = bound = await self._get("nodes", "", ref_name)
        else:
            version = api_version.rpartition("/")[2]
            raise errors.bad_request(f"cannot bind token to object of type {group}/{version}, Kind={kind}")
        uid = bound["metadata"].get("uid", "")
        if ref.get("uid") and ref["uid"] != uid:
            raise errors.conflict("", kind, ref_name, f"the UID in the bound object reference ({ref['uid']}) does not "
                                  "match the UID in record. The object might have been deleted and then recreated")
        return pod, secret, node

    # ------------------------------------------------------------------ authentication
    def authenticate(self, token: str) -> UserInfo | None:
        """The service account a bearer token of ours stands for; None if it is not ours or not valid."""
        if not looks_like_jwt(token):
            return None
        try:
            claims = verify_signature(token, self.keys)
        except InvalidToken:
            return None
        if claims.get("iss") != self.config.issuer:
            return None
        return self.validate(claims)

    def validate(self, claims: Obj) -> UserInfo | None:
        now = self.clock()
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if not isinstance(exp, int | float) or now > exp + LEEWAY:
            return None  # expired (or never had an expiry: not a token we issue)
        if isinstance(nbf, int | float) and now < nbf - LEEWAY:
            return None
        audiences = claims.get("aud")
        if isinstance(audiences, str):
            audiences = [audiences]
        if not isinstance(audiences, list) or not set(audiences) & set(self.config.audiences):
            return None
        private = claims.get("kubernetes.io")
        if not isinstance(private, dict):
            return None
        namespace = str(private.get("namespace") or "")
        account_ref = private.get("serviceaccount") or {}
        account = self.lookup("serviceaccounts", namespace, str(account_ref.get("name") or ""))
        if not self._alive(account, account_ref, now):
            return None
        extra: dict[str, list[str]] = {}
        for kind, plural in (("secret", "secrets"), ("pod", "pods")):
            ref = private.get(kind)
            if ref is None:
                continue
            if not self._alive(self.lookup(plural, namespace, str(ref.get("name") or "")), ref, now):
                return None
            if kind == "pod":
                extra[EXTRA_POD_NAME] = [str(ref["name"])]
                extra[EXTRA_POD_UID] = [str(ref["uid"])]
        node_ref = private.get("node")
        if isinstance(node_ref, dict) and node_ref.get("name"):
            if "pod" not in private and "secret" not in private and \
                    not self._alive(self.lookup("nodes", "", str(node_ref["name"])), node_ref, now):
                return None  # a token bound to the node itself lives as long as the node
            extra[EXTRA_NODE_NAME] = [str(node_ref["name"])]
            if node_ref.get("uid"):
                extra[EXTRA_NODE_UID] = [str(node_ref["uid"])]
        if claims.get("jti"):
            extra[EXTRA_CREDENTIAL_ID] = [f"JTI={claims['jti']}"]
        assert account is not None
        meta = account["metadata"]
        return UserInfo(service_account_username(namespace, meta["name"]),
                        ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"),
                        uid=str(meta.get("uid") or ""), extra=extra)

    @staticmethod
    def _alive(obj: Obj | None, ref: Any, now: float) -> bool:
        """The object a claim names exists with the claimed uid and was not deleted over a minute ago."""
        if obj is None or not isinstance(ref, dict):
            return False
        meta = obj["metadata"]
        if meta.get("uid") != ref.get("uid"):
            return False
        deleted = meta.get("deletionTimestamp")
        if deleted:
            when = datetime.datetime.fromisoformat(str(deleted).replace("Z", "+00:00")).timestamp()
            if when < now - LEEWAY:
                return False
        return True

    # ------------------------------------------------------------------ OIDC discovery
    def openid_documents(self, external_address: str) -> dict[str, tuple[bytes, str]]:
        """Path → (body, content type) for the issuer discovery endpoints."""
        jwks_uri = self.config.jwks_uri or f"https://{external_address}{JWKS_PATH}"
        keys = [public_jwk(k) for k in self.keys.values()]
        configuration = {"issuer": self.config.issuer, "jwks_uri": jwks_uri,
                         "response_types_supported": ["id_token"], "subject_types_supported": ["public"],
                         "id_token_signing_alg_values_supported": sorted({k["alg"] for k in keys})}
        return {OPENID_CONFIG_PATH: (orjson.dumps(configuration), "application/json"),
                JWKS_PATH: (orjson.dumps({"keys": keys}), "application/jwk-set+json")}
