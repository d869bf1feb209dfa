"""Per-namespace defaults: the `default` ServiceAccount and the `kube-root-ca.crt` ConfigMap.

Two small controllers keyed by namespace name, as upstream runs them (the service-account
controller and the root-CA certificate publisher):

- `ServiceAccountsController` makes sure every active namespace has a ServiceAccount named
  `default`; deleting it brings it back. Terminating namespaces are left alone.
- `RootCACertPublisher` keeps a ConfigMap `kube-root-ca.crt` in every namespace whose `ca.crt` is
  the cluster CA (handed in by the server as `Context.ca_pem`; controllers never read the PKI
  themselves), with upstream's `kubernetes.io/description` annotation. Edits are reverted and a
  deleted one is re-created. Pods read it through projected service-account volumes.

Both read the namespace and the object from informer caches and write only when it is missing
or different; a create refused because the namespace is gone or terminating is not an error.

- `TokensController` fills Secrets of type `kubernetes.io/service-account-token` (the ones users
  still create by hand for a long-lived token) with `token`, `ca.crt` and `namespace`, as
  upstream's tokens controller does, and deletes such a secret whose service account is gone or
  was re-created under another uid. The controller holds no signing key: it asks the API for
  the token (TokenRequest) bound to the secret, valid for the longest time the API allows, so
  the token works exactly as long as the secret exists.
"""

from __future__ import annotations

import base64
import logging
from typing import Any

from kubeherd.client import APIStatusError
from kubeherd.controllers.base import CONFIGMAPS, NAMESPACES, SECRETS, SERVICEACCOUNTS, Context, Controller

log = logging.getLogger(__name__)

Obj = dict[str, Any]

DEFAULT_SERVICE_ACCOUNTS = ("default",)
TOKEN_SECRET_TYPE = "kubernetes.io/service-account-token"
ACCOUNT_NAME_ANNOTATION = "kubernetes.io/service-account.name"
ACCOUNT_UID_ANNOTATION = "kubernetes.io/service-account.uid"
LEGACY_TOKEN_SECONDS = 1 << 32  # the longest expirationSeconds a TokenRequest may ask for
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
DESCRIPTION_ANNOTATION = "kubernetes.io/description"
DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints "
               "such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across "
               "distributions of Kubernetes clusters.")


def namespace_terminating(exc: APIStatusError) -> bool:
    """Whether a create was refused because its namespace is being terminated."""
    causes = (exc.status.get("details") or {}).get("causes") or []
    return exc.code == 403 and any(c.get("reason") == "NamespaceTerminating" for c in causes)


class ServiceAccountsController(Controller):
    name = "serviceaccount"
    workers = 2

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.namespaces = self.informer(NAMESPACES)
        self.accounts = self.informer(SERVICEACCOUNTS)
        self.watch(self.namespaces, lambda ns: [ns["metadata"]["name"]])
        self.accounts.add_handlers(on_delete=self._account_deleted)

    def _account_deleted(self, account: Obj) -> None:
        if account["metadata"]["name"] in DEFAULT_SERVICE_ACCOUNTS:
            self.queue.add(account["metadata"]["namespace"])

    async def sync(self, key: str) -> None:
        namespace = self.namespaces.indexer.get(key)
        if namespace is None or (namespace.get("status") or {}).get("phase") != "Active":
            return
        for name in DEFAULT_SERVICE_ACCOUNTS:
            if self.accounts.indexer.get_by_name(key, name) is not None:
                continue
            account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": key}}
            try:
                await self.client.create(SERVICEACCOUNTS, account, key)
            except APIStatusError as exc:
                if exc.code in (404, 409) or namespace_terminating(exc):
                    continue  # exists already, or the namespace is going away
                raise


class RootCACertPublisher(Controller):
    name = "root-ca-cert-publisher"
    workers = 2

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.ca = ctx.ca_pem.decode()
        self.namespaces = self.informer(NAMESPACES)
        self.configmaps = self.informer(CONFIGMAPS)
        self.namespaces.add_handlers(on_add=lambda ns: self.queue.add(ns["metadata"]["name"]),
                                     on_update=lambda _old, new: self._namespace_updated(new))
        self.configmaps.add_handlers(on_update=lambda _old, new: self._configmap_changed(new),
                                     on_delete=self._configmap_changed)

    def _namespace_updated(self, namespace: Obj) -> None:
        if (namespace.get("status") or {}).get("phase") == "Active":
            self.queue.add(namespace["metadata"]["name"])

    def _configmap_changed(self, configmap: Obj) -> None:
        if configmap["metadata"]["name"] == ROOT_CA_CONFIGMAP:
            self.queue.add(configmap["metadata"]["namespace"])

    async def sync(self, key: str) -> None:
        if not self.ca:
            return  # no CA was handed to the controller manager: nothing to publish
        data = {"ca.crt": self.ca}
        current = self.configmaps.indexer.get_by_name(key, ROOT_CA_CONFIGMAP)
        if current is None:
            configmap = {"apiVersion": "v1", "kind": "ConfigMap",
                         "metadata": {"name": ROOT_CA_CONFIGMAP, "namespace": key,
                                      "annotations": {DESCRIPTION_ANNOTATION: DESCRIPTION}},
                         "data": data}
            try:
                await self.client.create(CONFIGMAPS, configmap, key)
            except APIStatusError as exc:
                if exc.code == 404 or namespace_terminating(exc):
                    return
                raise
            return
        annotations = current["metadata"].get("annotations") or {}
        if current.get("data") == data and annotations.get(DESCRIPTION_ANNOTATION):
            return
        updated = {**current, "data": data,
                   "metadata": {**current["metadata"],
                                "annotations": {**annotations, DESCRIPTION_ANNOTATION: DESCRIPTION}}}
        await self.client.update(CONFIGMAPS, updated)


class TokensController(Controller):
    name = "serviceaccount-token"
    workers = 2

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.ca = ctx.ca_pem
        self.secrets = self.informer(SECRETS)
        self.accounts = self.informer(SERVICEACCOUNTS)
        self.watch(self.secrets, lambda secret: [f"{secret['metadata']['namespace']}/{secret['metadata']['name']}"]
                   if secret.get("type") == TOKEN_SECRET_TYPE else [])
        self.watch(self.accounts, self._token_secrets_of)

    def _token_secrets_of(self, account: Obj) -> list[str]:
        namespace, name = account["metadata"]["namespace"], account["metadata"]["name"]
        return [f"{namespace}/{s['metadata']['name']}" for s in self.secrets.indexer.objects(namespace)
                if s.get("type") == TOKEN_SECRET_TYPE
                and (s["metadata"].get("annotations") or {}).get(ACCOUNT_NAME_ANNOTATION) == name]

    async def _account(self, namespace: str, name: str) -> Obj | None:
        """The service account from the cache, or from the API when the cache has not seen it yet."""
        found = self.accounts.indexer.get_by_name(namespace, name)
        if found is not None:
            return found
        try:
            return await self.client.get(SERVICEACCOUNTS, name, namespace)
        except APIStatusError as exc:
            if exc.code == 404:
                return None
            raise

    async def sync(self, key: str) -> None:
        secret = self.secrets.indexer.get(key)
        if secret is None or secret.get("type") != TOKEN_SECRET_TYPE or secret["metadata"].get("deletionTimestamp"):
            return
        meta = secret["metadata"]
        annotations = meta.get("annotations") or {}
        account_name = annotations.get(ACCOUNT_NAME_ANNOTATION, "")
        if not account_name:
            return
        account = await self._account(meta["namespace"], account_name)
        want_uid = annotations.get(ACCOUNT_UID_ANNOTATION)
        if account is None or (want_uid and want_uid != account["metadata"].get("uid")):
            try:
                await self.client.delete(SECRETS, meta["name"], meta["namespace"], preconditions={"uid": meta["uid"]})
            except APIStatusError as exc:
                if exc.code not in (404, 409):
                    raise
            return
        data = dict(secret.get("data") or {})
        ca = base64.b64encode(self.ca).decode() if self.ca else None
        namespace = base64.b64encode(meta["namespace"].encode()).decode()
        if data.get("token") and (ca is None or data.get("ca.crt") == ca) and data.get("namespace") == namespace \
                and annotations.get(ACCOUNT_UID_ANNOTATION):
            return
        if not data.get("token"):
            request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                       "spec": {"expirationSeconds": LEGACY_TOKEN_SECONDS, "boundObjectRef": {
                           "apiVersion": "v1", "kind": "Secret", "name": meta["name"], "uid": meta["uid"]}}}
            answer = await self.client.create(SERVICEACCOUNTS, request, meta["namespace"], subresource="token",
                                              name=account_name)
            data["token"] = base64.b64encode(answer["status"]["token"].encode()).decode()
        if ca is not None:
            data["ca.crt"] = ca
        data["namespace"] = namespace
        updated = {**secret, "data": data, "metadata": {**meta, "annotations": {
            **annotations, ACCOUNT_UID_ANNOTATION: account["metadata"]["uid"]}}}
        await self.client.update(SECRETS, updated)  # a conflict retries the key with the newer secret
