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
"""

from __future__ import annotations

import logging
from typing import Any

from kubeherd.client import APIStatusError
from kubeherd.controllers.base import CONFIGMAPS, NAMESPACES, SERVICEACCOUNTS, Context, Controller

log = logging.getLogger(__name__)

Obj = dict[str, Any]

DEFAULT_SERVICE_ACCOUNTS = ("default",)
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
