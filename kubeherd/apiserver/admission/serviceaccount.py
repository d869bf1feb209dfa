"""Upstream's ServiceAccount admission plugin, for pods being created.

* a pod without `serviceAccountName` gets `default`; a pod whose service account does not exist
  is refused (403), after waiting up to two seconds for a `default` the controller is about to
  create, as upstream retries;
* unless the pod or its service account sets `automountServiceAccountToken: false`, the pod gets
  the projected volume `kube-api-access-<5 chars>` (a bound token, the cluster CA from the
  `kube-root-ca.crt` ConfigMap, the namespace) mounted read-only at
  /var/run/secrets/kubernetes.io/serviceaccount in every init and app container that has no
  mount of its own there;
* a pod without imagePullSecrets gets its service account's.
Mirror pods are left alone (their spec belongs to a static manifest).
"""

from __future__ import annotations

import asyncio
import random

from kubeherd.api import errors
from kubeherd.api.resources import Resource
from kubeherd.apiserver.admission.base import MIRROR_POD_ANNOTATION, Lookup, Obj

DEFAULT_SERVICE_ACCOUNT = "default"
TOKEN_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
TOKEN_VOLUME_PREFIX = "kube-api-access-"
DEFAULT_ACCOUNT_WAIT = 2.0
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"


def token_volume_source() -> Obj:
    """The projected source of the kube-api-access volume (a fresh copy: admission mutates pods)."""
    return {
        "defaultMode": 0o644,
        "sources": [
            {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace",
                                        "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
        ],
    }


class ServiceAccountAdmission:
    """Upstream's ServiceAccount admission plugin, for pods being created."""

    def __init__(self, lookup: Lookup, default_wait: float = DEFAULT_ACCOUNT_WAIT) -> None:
        self.lookup = lookup
        self.default_wait = default_wait

    def _applies(self, resource: Resource, namespace: str, obj: Obj) -> bool:
        if resource.group or resource.kind != "Pod" or not isinstance(obj.get("spec"), dict):
            return False
        meta = obj.get("metadata")
        annotations = meta.get("annotations") if isinstance(meta, dict) else None
        if isinstance(annotations, dict) and MIRROR_POD_ANNOTATION in annotations:
            return False
        # a missing or terminating namespace is refused first, as upstream's NamespaceLifecycle does
        ns = self.lookup("namespaces", "", namespace)
        return ns is not None and not (ns.get("metadata") or {}).get("deletionTimestamp")

    @staticmethod
    def _account_name(spec: Obj) -> str:
        return str(spec.get("serviceAccountName") or spec.get("serviceAccount") or DEFAULT_SERVICE_ACCOUNT)

    async def wait(self, resource: Resource, namespace: str, obj: Obj) -> None:
        """Give the controller a moment to make the `default` service account of a new namespace."""
        if not self._applies(resource, namespace, obj) or self._account_name(obj["spec"]) != DEFAULT_SERVICE_ACCOUNT:
            return
        waited = 0.0
        while waited < self.default_wait and self.lookup("serviceaccounts", namespace, DEFAULT_SERVICE_ACCOUNT) is None:
            await asyncio.sleep(0.1)
            waited += 0.1

    def admit(self, resource: Resource, namespace: str, obj: Obj) -> None:
        if not self._applies(resource, namespace, obj):
            return
        spec = obj["spec"]
        name = self._account_name(spec)
        spec["serviceAccountName"] = name
        account = self.lookup("serviceaccounts", namespace, name)
        if account is None:
            pod = str((obj.get("metadata") or {}).get("name") or "")
            what = f'pods "{pod}"' if pod else "pods"
            raise errors.APIError(403, "Forbidden", f"{what} is forbidden: error looking up service account "
                                  f'{namespace}/{name}: serviceaccount "{name}" not found',
                                  {**({"name": pod} if pod else {}), "kind": "pods"})
        automount = spec.get("automountServiceAccountToken")
        if automount is None:
            automount = account.get("automountServiceAccountToken")
        if automount is not False:
            mount_token_volume(spec)
        if not spec.get("imagePullSecrets") and account.get("imagePullSecrets"):
            spec["imagePullSecrets"] = [{"name": ref.get("name", "")} for ref in account["imagePullSecrets"]
                                        if isinstance(ref, dict)]


def mount_token_volume(spec: Obj) -> None:
    """Add the kube-api-access volume and its mount to every container without one at the path."""
    if spec.get("volumes") is not None and not isinstance(spec["volumes"], list):
        return  # validation will say what is wrong with it
    volumes = spec.get("volumes") or []
    existing = next((v["name"] for v in volumes if isinstance(v, dict)
                     and str(v.get("name", "")).startswith(TOKEN_VOLUME_PREFIX)), None)
    volume_name = existing or TOKEN_VOLUME_PREFIX + "".join(random.choices(_NAME_CHARS, k=5))
    needed = False
    for key in ("initContainers", "containers"):
        for container in spec.get(key) or []:
            if not isinstance(container, dict):
                continue
            mounts = container.get("volumeMounts")
            if mounts is not None and not isinstance(mounts, list):
                continue
            if any(isinstance(m, dict) and m.get("mountPath") == TOKEN_MOUNT_PATH for m in mounts or []):
                continue
            container["volumeMounts"] = [*(mounts or []),
                                         {"name": volume_name, "readOnly": True, "mountPath": TOKEN_MOUNT_PATH}]
            needed = True
    if needed and existing is None:
        spec["volumes"] = [*volumes, {"name": volume_name, "projected": token_volume_source()}]
