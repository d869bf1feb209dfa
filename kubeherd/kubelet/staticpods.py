"""Static pods from manifest files, their mirror pods, and the merge with the API's pods.

Design, after upstream's file config source and mirror client (``pkg/kubelet/config/file.go``,
``common.go``, ``pkg/kubelet/pod/mirror_client.go``):

* **The files are the truth.** Every regular, non-hidden file in ``pod-manifest-path`` holds one
  pod (YAML or JSON). :class:`StaticPodSource` re-reads the directory every
  ``file-check-frequency`` (upstream's 20 s) and within a second of a change to it (a cheap
  ``stat`` of the directory and its files stands in for inotify). The kubelet runs these pods
  itself, so they keep running when the API is away.
* **Identity as upstream**: the uid is a 128-bit FNV-1a hash of the defaulted pod, the node name
  and the file path, so an edit gives a new uid (a new pod: the old one is stopped, the new one
  started) and an unchanged file the same uid across kubelet restarts. The name gets
  ``-<node name>``, the namespace defaults to ``default``, ``spec.nodeName`` is this node, a
  toleration of every NoExecute taint is added, and the annotations
  ``kubernetes.io/config.source: file``, ``config.hash`` (the uid) and ``config.seen`` are set.
* **Mirror pods**: for every static pod the kubelet keeps a pod in the API with the
  ``kubernetes.io/config.mirror`` annotation (= the hash) and an owner reference to its Node;
  the pod's status is written there. A mirror that is being deleted or mirrors another version
  of the file is deleted (grace 0, uid precondition) and created again; the containers are
  untouched, since the static pod's uid did not change. A mirror with no static pod behind it
  is deleted. A static pod whose file is removed is stopped with its grace period, as a deleted
  pod; one whose file is edited is replaced (the old version is stopped as an orphan, at once).
* :class:`PodSource` is the one view the pod workers and housekeeping use: static pods, plus the
  API's pods bound here minus the mirrors (they stand for static pods; they are never run).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from kubeherd.client import APIClient, APIStatusError, Informer, ResourceRef
from kubeherd.client.informer import object_key

log = logging.getLogger(__name__)
Obj = dict[str, Any]
PODS = ResourceRef("v1", "pods", True, "Pod")
NODES = ResourceRef("v1", "nodes", False, "Node")

CONFIG_SOURCE = "kubernetes.io/config.source"
CONFIG_HASH = "kubernetes.io/config.hash"
CONFIG_SEEN = "kubernetes.io/config.seen"
CONFIG_MIRROR = "kubernetes.io/config.mirror"
MAX_MANIFEST = 10 * 1024 * 1024  # upstream's limit on one config file
CHANGE_POLL = 1.0  # seconds between cheap looks for a changed directory

_FNV128_OFFSET = 0x6C62272E07BB014262B821756295C58D
_FNV128_PRIME = 0x0000000001000000000000000000013B


def fnv1a_128(data: bytes) -> str:
    h = _FNV128_OFFSET
    for byte in data:
        h = ((h ^ byte) * _FNV128_PRIME) & ((1 << 128) - 1)
    return f"{h:032x}"


def is_mirror(pod: Obj | None) -> bool:
    return bool(pod) and CONFIG_MIRROR in ((pod or {}).get("metadata") or {}).get("annotations", {})


def is_static(pod: Obj | None) -> bool:
    return ((pod or {}).get("metadata") or {}).get("annotations", {}).get(CONFIG_SOURCE, "api") != "api"


def _defaults(pod: Obj) -> None:
    """The scheme defaults a pod spec gets when the kubelet decodes it (the apiserver adds the
    rest to the mirror)."""
    spec = pod.setdefault("spec", {})
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    for kind in ("initContainers", "containers"):
        for c in spec.get(kind) or []:
            if not isinstance(c, dict):
                continue
            c.setdefault("terminationMessagePath", "/dev/termination-log")
            c.setdefault("terminationMessagePolicy", "File")
            c.setdefault("resources", {})
            image = str(c.get("image", ""))
            tail = image.rsplit("/", 1)[-1]
            latest = "@" not in tail and (":" not in tail or tail.endswith(":latest"))
            c.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")


def static_pod(doc: Any, path: Path, node_name: str, seen: str = "") -> Obj:
    """The pod the kubelet runs for manifest ``doc`` read from ``path``; ValueError if unusable."""
    if not isinstance(doc, dict):
        raise ValueError("not an object")
    if doc.get("kind", "Pod") != "Pod" or doc.get("apiVersion", "v1") != "v1":
        raise ValueError(f"want a v1 Pod, got {doc.get('apiVersion')}/{doc.get('kind')}")
    meta = doc.get("metadata")
    if not isinstance(meta, dict) or not meta.get("name"):
        raise ValueError("metadata.name is required")
    spec = doc.get("spec")
    if not isinstance(spec, dict) or not spec.get("containers"):
        raise ValueError("spec.containers is required")
    pod = copy.deepcopy(doc)
    pod["apiVersion"], pod["kind"] = "v1", "Pod"
    pod.pop("status", None)
    _defaults(pod)
    meta = pod["metadata"]
    if not meta.get("uid"):
        canonical = json.dumps(pod, sort_keys=True, separators=(",", ":")).encode()
        meta["uid"] = fnv1a_128(canonical + f"host:{node_name}".encode() + f"file:{path}".encode())
    meta["name"] = f"{meta['name']}-{node_name.lower()}"
    meta["namespace"] = meta.get("namespace") or "default"
    pod["spec"]["nodeName"] = node_name
    annotations = meta.setdefault("annotations", {})
    annotations[CONFIG_HASH] = meta["uid"]
    annotations[CONFIG_SOURCE] = "file"
    annotations[CONFIG_SEEN] = seen or datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")
    tolerations = pod["spec"].setdefault("tolerations", [])
    everything = {"operator": "Exists", "effect": "NoExecute"}
    if everything not in tolerations:
        tolerations.append(everything)
    pod["status"] = {"phase": "Pending"}
    return pod


def mirror_pod(pod: Obj, node_name: str, node_uid: str) -> Obj:
    """The API object standing for static pod ``pod``."""
    mirror = copy.deepcopy(pod)
    mirror.pop("status", None)
    meta = mirror["metadata"]
    for key in ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields"):
        meta.pop(key, None)
    meta["annotations"][CONFIG_MIRROR] = meta["annotations"][CONFIG_HASH]
    meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": node_name, "uid": node_uid,
                                "controller": True}]
    return mirror


def _signature(directory: Path) -> tuple[tuple[str, int, int, int], ...]:
    """What changes when a manifest is added, removed or written."""
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return ()
    out = []
    for entry in entries:
        with contextlib.suppress(OSError):
            st = entry.stat()
            out.append((entry.name, st.st_mtime_ns, st.st_size, st.st_ino))
    return tuple(sorted(out))


class StaticPodSource:
    """The pods of the manifest directory, by key; ``on_change(pod)`` for each added, changed or
    removed one."""

    def __init__(self, directory: Path, node_name: str, on_change: Callable[[Obj], None],
                 full_period: float = 20.0) -> None:
        self.directory = directory
        self.node_name = node_name
        self.on_change = on_change
        self.full_period = full_period
        self.pods: dict[str, Obj] = {}
        self.gone: dict[str, Obj] = {}  # removed from the directory, still to be stopped gracefully
        self._seen: dict[str, str] = {}  # uid -> config.seen, kept while the uid lives
        self._errors: dict[str, str] = {}  # file -> last error logged (logged once)

    def read(self) -> dict[str, Obj]:
        """Read every manifest now (blocking; run in a thread)."""
        pods: dict[str, Obj] = {}
        try:
            entries = sorted(os.scandir(self.directory), key=lambda e: e.name)
        except OSError:
            return pods
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_file():
                continue
            path = Path(entry.path)
            try:
                if entry.stat().st_size > MAX_MANIFEST:
                    raise ValueError(f"larger than {MAX_MANIFEST} bytes")
                pod = static_pod(yaml.safe_load(path.read_text()), path, self.node_name)
                if object_key(pod) in pods:
                    raise ValueError(f"pod {object_key(pod)} is already defined by another file")
            except (OSError, ValueError, yaml.YAMLError) as exc:
                if self._errors.get(entry.name) != str(exc):  # once per file and problem
                    log.warning("static pod manifest %s ignored: %s", path, exc)
                    self._errors[entry.name] = str(exc)
                continue
            self._errors.pop(entry.name, None)
            pods[object_key(pod)] = pod
        return pods

    def apply(self, pods: dict[str, Obj]) -> None:
        """Take a fresh read: keep config.seen of known uids, report what changed."""
        for pod in pods.values():
            meta = pod["metadata"]
            meta["annotations"][CONFIG_SEEN] = self._seen.setdefault(meta["uid"], meta["annotations"][CONFIG_SEEN])
        old, self.pods = self.pods, pods
        self._seen = {uid: seen for uid, seen in self._seen.items()
                      if uid in {p["metadata"]["uid"] for p in pods.values()}}
        for key, pod in pods.items():
            if key not in old or old[key]["metadata"]["uid"] != pod["metadata"]["uid"]:
                log.info("static pod %s (uid %s) from %s", key, pod["metadata"]["uid"], self.directory)
                self.on_change(pod)
        for key in old.keys() - pods.keys():
            log.info("static pod %s removed from %s", key, self.directory)
            gone = copy.deepcopy(old[key])
            gone["metadata"]["deletionTimestamp"] = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            gone["metadata"]["deletionGracePeriodSeconds"] = gone["spec"].get("terminationGracePeriodSeconds", 30)
            self.gone[key] = gone
            self.on_change(gone)
        for key in pods.keys() & self.gone.keys():
            del self.gone[key]  # back before it was stopped: it simply runs again

    async def run(self) -> None:
        last_full = time.monotonic()
        signature = await asyncio.to_thread(_signature, self.directory)
        while True:
            await asyncio.sleep(CHANGE_POLL)
            try:
                now_signature = await asyncio.to_thread(_signature, self.directory)
                if now_signature != signature or time.monotonic() - last_full >= self.full_period:
                    signature, last_full = now_signature, time.monotonic()
                    self.apply(await asyncio.to_thread(self.read))
            except Exception as exc:
                log.warning("reading static pods from %s failed: %s", self.directory, exc)


class PodSource:
    """The pods this kubelet runs: static pods and the API's pods bound here, mirrors excluded."""

    def __init__(self, client: APIClient, informer: Informer, static: StaticPodSource, node_name: str) -> None:
        self.client = client
        self.informer = informer
        self.static = static
        self.node_name = node_name
        self._node_uid = ""
        self._mirrors: dict[str, Obj] = {}  # static uid -> its mirror as last seen or written

    def get(self, key: str) -> Obj | None:
        pod = self.static.pods.get(key)
        if pod is not None:
            return pod
        pod = self.informer.indexer.get(key)
        return None if is_mirror(pod) else pod

    def objects(self) -> list[Obj]:
        api = [p for p in self.informer.indexer.objects()
               if not is_mirror(p) and object_key(p) not in self.static.pods]
        return list(self.static.pods.values()) + list(self.static.gone.values()) + api

    def status_target(self, pod: Obj) -> Obj | None:
        """Where a pod's status is written: the pod, or a static pod's mirror (None: none yet)."""
        return self._mirrors.get(pod["metadata"]["uid"]) if is_static(pod) else pod

    async def pod_to_sync(self, key: str) -> Obj | None:
        """The pod to sync under ``key``; for a static pod, first make its mirror right (and give
        the copy returned the mirror's status). A mirror without a static pod is deleted."""
        api = self.informer.indexer.get(key)
        static = self.static.pods.get(key)
        if static is None:
            if is_mirror(api):
                assert api is not None
                await self._delete(api)
                api = None
            # a static pod whose file went: stopped like a deleted pod (it has a deletionTimestamp)
            return self.static.gone.pop(key, None) or api
        mirror = api if is_mirror(api) else None
        uid = static["metadata"]["uid"]
        try:
            mirror = await self._ensure_mirror(static, mirror)
        except Exception as exc:  # the API may be away: the static pod runs regardless
            log.info("mirror pod of %s not written: %s", key, exc)
            mirror = None
        if mirror is None:
            self._mirrors.pop(uid, None)
        else:
            self._mirrors[uid] = mirror
        pod = dict(static)
        pod["status"] = copy.deepcopy((mirror or {}).get("status") or static.get("status") or {})
        return pod

    async def delete_orphaned_mirrors(self) -> None:
        for pod in self.informer.indexer.objects():
            if is_mirror(pod) and object_key(pod) not in self.static.pods:
                await self._delete(pod)
        live = {p["metadata"]["uid"] for p in self.static.pods.values()}
        for uid in set(self._mirrors) - live:
            del self._mirrors[uid]

    async def _node(self) -> str:
        if not self._node_uid:
            node = await self.client.get(NODES, self.node_name)
            self._node_uid = node["metadata"]["uid"]
        return self._node_uid

    async def _delete(self, mirror: Obj) -> None:
        meta = mirror["metadata"]
        log.info("deleting mirror pod %s/%s", meta["namespace"], meta["name"])
        try:
            await self.client.delete(PODS, meta["name"], meta["namespace"], grace_period=0,
                                     preconditions={"uid": meta["uid"]})
        except APIStatusError as exc:
            if exc.code not in (404, 409):
                raise

    async def _ensure_mirror(self, static: Obj, mirror: Obj | None) -> Obj | None:
        want = static["metadata"]["annotations"][CONFIG_HASH]
        if mirror is not None and (mirror["metadata"].get("deletionTimestamp")
                                   or mirror["metadata"]["annotations"].get(CONFIG_MIRROR) != want):
            await self._delete(mirror)
            mirror = None
        if mirror is None:
            body = mirror_pod(static, self.node_name, await self._node())
            meta = body["metadata"]
            try:
                mirror = await self.client.create(PODS, body, meta["namespace"])
                log.info("created mirror pod %s/%s", meta["namespace"], meta["name"])
            except APIStatusError as exc:
                if exc.code != 409:
                    raise
                # ours already (the informer has not seen it yet), or one still going away
                current = await self.client.get(PODS, meta["name"], meta["namespace"])
                ok = is_mirror(current) and not current["metadata"].get("deletionTimestamp") and \
                    current["metadata"]["annotations"].get(CONFIG_MIRROR) == want
                mirror = current if ok else None
        return mirror
