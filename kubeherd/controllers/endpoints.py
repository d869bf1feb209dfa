"""Endpoints: for every Service with a selector, an Endpoints object listing its pods' addresses.

Each sync reads the Service and the namespace's pods from the informers and rebuilds the whole
`subsets` list as upstream's endpoints controller (`pkg/controller/endpoint`) does:

- A pod counts when it has an IP, is not terminal (Succeeded/Failed) and, unless the Service
  publishes not-ready addresses, is not being deleted. Ready pods go to `addresses`, the others
  to `notReadyAddresses` (`publishNotReadyAddresses` puts every pod in `addresses`).
- The address is the pod IP of the Service's IP family, with `targetRef`, `nodeName`, and
  `hostname` when the pod's hostname and subdomain name this Service.
- Ports come from each service port's `targetPort`: a number as is, a name looked up in the
  pod's container ports (and restartable init containers) with the same protocol; a pod that
  lacks a named port is left out of that port only. The per-(pod, port) entries are repacked
  into subsets of pods that share exactly the same ports, sorted, so equal input gives equal
  output and no-op syncs write nothing.
- Headless Services (clusterIP None) without ports still list their pods. The Endpoints carry
  the Service's labels, plus `service.kubernetes.io/headless` when the Service has no cluster IP
  (headless; the apiserver gives every other ClusterIP, NodePort and LoadBalancer Service one),
  and the `endpoints.kubernetes.io/last-change-trigger-time` annotation; more than 1000
  addresses are truncated and marked `endpoints.kubernetes.io/over-capacity: truncated`.

Services without a selector (and ExternalName services) are left alone, so their manually
managed Endpoints survive — among them `default/kubernetes`, which the apiserver keeps itself. When a Service goes, its Endpoints go; at start-up every existing
Endpoints is checked once, which removes those whose Service vanished while the controller was
down.

The pod/service helpers here are shared with the EndpointSlice controller, which applies the
same membership rules.
"""

from __future__ import annotations

import datetime
import math
from typing import Any

from kubeherd.client import APIStatusError, object_key, split_key
from kubeherd.controllers.base import ENDPOINTS, PODS, SERVICES, Context, Controller
from kubeherd.controllers.podutil import condition, is_ready, parse_time

Obj = dict[str, Any]

LAST_CHANGE_TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"
HEADLESS = "service.kubernetes.io/headless"
LEADER_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"
MAX_CAPACITY = 1000


# ---------------------------------------------------------------------------------- shared helpers
def service_selector(service: Obj) -> dict[str, str] | None:
    """The Service's selector, or None when it has none (an empty map is no selector either:
    upstream's storage turns it into nil)."""
    selector = (service.get("spec") or {}).get("selector")
    return dict(selector) if selector else None


def selects(selector: dict[str, str], labels: dict[str, str] | None) -> bool:
    labels = labels or {}
    return all(labels.get(k) == v for k, v in selector.items())


def is_service_ip_set(service: Obj) -> bool:
    cluster_ip = (service.get("spec") or {}).get("clusterIP") or ""
    return cluster_ip not in ("", "None")


def is_ipv6(ip: str) -> bool:
    return ":" in ip


def pod_ips(pod: Obj) -> list[str]:
    status = pod.get("status") or {}
    ips = [str(entry.get("ip")) for entry in status.get("podIPs") or [] if entry.get("ip")]
    if not ips and status.get("podIP"):
        ips = [str(status["podIP"])]
    return ips


def is_terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def should_pod_be_in_endpoints(pod: Obj, include_terminating: bool) -> bool:
    if is_terminal(pod) or not pod_ips(pod):
        return False
    return include_terminating or not pod["metadata"].get("deletionTimestamp")


def should_set_hostname(pod: Obj, service: Obj) -> bool:
    spec = pod.get("spec") or {}
    return bool(spec.get("hostname")) and spec.get("subdomain") == service["metadata"]["name"] \
        and pod["metadata"].get("namespace") == service["metadata"].get("namespace")


def find_port(pod: Obj, service_port: Obj) -> int | None:
    """The pod port a service port's targetPort names, or None when the pod has no such port."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int) and not isinstance(target, bool):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol") or "TCP"
    spec = pod.get("spec") or {}
    containers = list(spec.get("containers") or [])
    containers += [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    for container in containers:
        for port in container.get("ports") or []:
            if port.get("name") == target and (port.get("protocol") or "TCP") == protocol:
                return int(port["containerPort"])
    return None


def target_ref(pod: Obj) -> Obj:
    meta = pod["metadata"]
    return {"kind": "Pod", "namespace": meta.get("namespace", ""), "name": meta["name"], "uid": meta.get("uid", "")}


def pod_endpoints_changed(old: Obj, new: Obj) -> tuple[bool, bool]:
    """(the pod changed in a way its endpoints show, its labels/hostname changed)."""
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    labels_changed = (old["metadata"].get("labels") or {}) != (new["metadata"].get("labels") or {}) \
        or old_spec.get("hostname") != new_spec.get("hostname") \
        or old_spec.get("subdomain") != new_spec.get("subdomain")
    pod_changed = old["metadata"].get("deletionTimestamp") != new["metadata"].get("deletionTimestamp") \
        or is_ready(old) != is_ready(new) or pod_ips(old) != pod_ips(new) \
        or is_terminal(old) != is_terminal(new) or old_spec.get("nodeName") != new_spec.get("nodeName")
    return pod_changed, labels_changed


def services_selecting(services: list[Obj], labels: dict[str, str] | None) -> set[str]:
    keys = set()
    for service in services:
        selector = service_selector(service)
        if selector is not None and selects(selector, labels):
            keys.add(object_key(service))
    return keys


def services_to_update(services: list[Obj], old: Obj | None, new: Obj | None) -> set[str]:
    """The Services whose endpoints a pod event may change (upstream's pod projection rules)."""
    if old is None or new is None:
        pod = new if new is not None else old
        assert pod is not None
        return services_selecting(services, pod["metadata"].get("labels"))
    if old["metadata"].get("resourceVersion") == new["metadata"].get("resourceVersion"):
        return set()
    pod_changed, labels_changed = pod_endpoints_changed(old, new)
    if not labels_changed:
        return services_selecting(services, new["metadata"].get("labels")) if pod_changed else set()
    before = services_selecting(services, old["metadata"].get("labels"))
    after = services_selecting(services, new["metadata"].get("labels"))
    return before | after if pod_changed else before ^ after


def rfc3339_nano(when: datetime.datetime) -> str:
    """Go's RFC3339Nano in UTC: fractional seconds only when there are any, trailing zeros cut."""
    when = when.astimezone(datetime.UTC)
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    if when.microsecond:
        text += "." + f"{when.microsecond:06d}".rstrip("0")
    return text + "Z"


class TriggerTimeTracker:
    """When the change that the next endpoints write reflects happened, for the
    `last-change-trigger-time` annotation: the earliest trigger (a pod's Ready transition, the
    Service's creation) that is newer than what the previous sync of that Service saw."""

    def __init__(self) -> None:
        self.pods: dict[str, dict[str, datetime.datetime]] = {}
        self.services: dict[str, datetime.datetime] = {}

    def compute(self, service: Obj, pods: list[Obj]) -> datetime.datetime | None:
        key = object_key(service)
        seen_pods = self.pods.get(key, {})
        earliest: datetime.datetime | None = None
        now_pods: dict[str, datetime.datetime] = {}
        for pod in pods:
            ready = condition(pod, "Ready")
            when = parse_time((ready or {}).get("lastTransitionTime"))
            if when is None:
                continue
            now_pods[pod["metadata"]["name"]] = when
            previous = seen_pods.get(pod["metadata"]["name"])
            if previous is None or when > previous:
                earliest = when if earliest is None else min(earliest, when)
        created = parse_time(service["metadata"].get("creationTimestamp"))
        if created is not None:
            previous_service = self.services.get(key)
            if previous_service is None or created > previous_service:
                earliest = created if earliest is None else min(earliest, created)
            self.services[key] = created
        self.pods[key] = now_pods
        return earliest

    def forget(self, key: str) -> None:
        self.pods.pop(key, None)
        self.services.pop(key, None)


# ---------------------------------------------------------------------------------- subsets
def endpoint_ip(service: Obj, pod: Obj) -> str | None:
    """The pod IP of the Service's family (its first ipFamily; else its clusterIP's; else the pod's)."""
    spec = service.get("spec") or {}
    families = spec.get("ipFamilies") or []
    cluster_ip = spec.get("clusterIP") or ""
    if families:
        want_v6 = families[0] == "IPv6"
    elif cluster_ip and cluster_ip != "None":
        want_v6 = is_ipv6(cluster_ip)
    else:
        want_v6 = is_ipv6(str((pod.get("status") or {}).get("podIP") or ""))
    for ip in pod_ips(pod):
        if is_ipv6(ip) == want_v6:
            return ip
    return None


def endpoint_port(service_port: Obj, number: int) -> Obj:
    port: Obj = {}
    if service_port.get("name"):
        port["name"] = service_port["name"]
    port["port"] = number
    port["protocol"] = service_port.get("protocol") or "TCP"
    if service_port.get("appProtocol"):
        port["appProtocol"] = service_port["appProtocol"]
    return port


def _address_key(address: Obj) -> tuple[str, str]:
    return address["ip"], (address.get("targetRef") or {}).get("uid", "")


def _address_order(address: Obj) -> tuple[bytes, str]:
    return address["ip"].encode(), (address.get("targetRef") or {}).get("uid", "")


def _port_order(port: Obj) -> tuple[str, int, str, str]:
    return port.get("name", ""), int(port.get("port", 0)), port.get("protocol", ""), port.get("appProtocol", "")


def repack_subsets(entries: list[tuple[Obj, Obj | None, bool]]) -> list[Obj]:
    """Group (address, port or None, ready) entries into the canonical subsets: one subset per set
    of addresses that share exactly the same ports, everything sorted."""
    addresses: dict[tuple[str, str], Obj] = {}
    by_port: dict[tuple[Any, ...], tuple[Obj | None, dict[tuple[str, str], bool]]] = {}
    for address, port, ready in entries:
        akey = _address_key(address)
        addresses.setdefault(akey, address)
        pkey = tuple(sorted(port.items())) if port is not None else ()
        _, members = by_port.setdefault(pkey, (port, {}))
        if members.get(akey, True):  # once not ready for a port, it stays not ready there
            members[akey] = ready
    groups: dict[frozenset[tuple[tuple[str, str], bool]], list[Obj]] = {}
    for port, members in by_port.values():
        ports = groups.setdefault(frozenset(members.items()), [])
        if port is not None:
            ports.append(port)
    subsets = []
    for members_key, ports in groups.items():
        serving = sorted((addresses[a] for a, ok in members_key if ok), key=_address_order)
        not_ready = sorted((addresses[a] for a, ok in members_key if not ok), key=_address_order)
        subset: Obj = {}
        if serving:
            subset["addresses"] = serving
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        if ports:
            subset["ports"] = sorted(ports, key=_port_order)
        subsets.append(subset)
    return sorted(subsets, key=_subset_order)


def _subset_order(subset: Obj) -> tuple[Any, ...]:
    ports = [_port_order(p) for p in subset.get("ports") or []]
    first = (subset.get("addresses") or subset.get("notReadyAddresses") or [{"ip": ""}])[0]
    return ports, _address_order(first)


def desired_subsets(service: Obj, pods: list[Obj]) -> list[Obj]:
    spec = service.get("spec") or {}
    tolerate_unready = bool(spec.get("publishNotReadyAddresses"))
    service_ports = spec.get("ports") or []
    entries: list[tuple[Obj, Obj | None, bool]] = []
    for pod in pods:
        if not should_pod_be_in_endpoints(pod, tolerate_unready):
            continue
        ip = endpoint_ip(service, pod)
        if ip is None:
            continue  # no IP of the Service's family (a single-stack pod on a dual-stack cluster)
        address: Obj = {"ip": ip}
        if should_set_hostname(pod, service):
            address["hostname"] = pod["spec"]["hostname"]
        node = (pod.get("spec") or {}).get("nodeName")
        if node:
            address["nodeName"] = node
        address["targetRef"] = target_ref(pod)
        ready = tolerate_unready or is_ready(pod)
        if not service_ports:
            if spec.get("clusterIP") == "None":  # a headless Service may have no ports
                entries.append((address, None, ready))
            continue
        for service_port in service_ports:
            number = find_port(pod, service_port)
            if number is not None:
                entries.append((address, endpoint_port(service_port, number), ready))
    return repack_subsets(entries)


def truncate(subsets: list[Obj]) -> bool:
    """Keep at most MAX_CAPACITY addresses, ready ones first, each subset keeping its share."""
    total_ready = sum(len(s.get("addresses") or []) for s in subsets)
    total_not_ready = sum(len(s.get("notReadyAddresses") or []) for s in subsets)
    if total_ready + total_not_ready <= MAX_CAPACITY:
        return False
    truncate_ready = total_ready > MAX_CAPACITY
    budget = MAX_CAPACITY if truncate_ready else MAX_CAPACITY - total_ready
    total = total_ready if truncate_ready else total_not_ready
    left = budget
    for subset in subsets:
        field = "addresses" if truncate_ready else "notReadyAddresses"
        members = subset.get(field) or []
        share = min(math.ceil(len(members) / total * budget), left)
        subset[field] = members[:share]
        left -= len(subset[field])
        if truncate_ready:
            subset.pop("notReadyAddresses", None)
        for key in ("addresses", "notReadyAddresses"):
            if key in subset and not subset[key]:
                del subset[key]
    return True


def _without_ref_versions(subsets: list[Obj]) -> list[Obj]:
    """Subsets with targetRef.resourceVersion dropped: a pod's version alone is no change."""
    out = []
    for subset in subsets:
        copy = dict(subset)
        for field in ("addresses", "notReadyAddresses"):
            if field in copy:
                copy[field] = [{**a, "targetRef": {k: v for k, v in a["targetRef"].items() if k != "resourceVersion"}}
                               if a.get("targetRef") else a for a in copy[field]]
        out.append(copy)
    return out


def _capacity_annotation_correct(endpoints: Obj) -> bool:
    count = sum(len(s.get("addresses") or []) + len(s.get("notReadyAddresses") or [])
                for s in endpoints.get("subsets") or [])
    if count > MAX_CAPACITY:
        return False
    return OVER_CAPACITY not in (endpoints["metadata"].get("annotations") or {})


# ---------------------------------------------------------------------------------- controller
class EndpointsController(Controller):
    name = "endpoint"
    workers = 5

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.services = self.informer(SERVICES)
        self.pods = self.informer(PODS)
        self.endpoints = self.informer(ENDPOINTS)
        self.trigger_times = TriggerTimeTracker()
        self.watch(self.services)
        self.pods.add_handlers(on_add=lambda pod: self._pod_event(None, pod),
                               on_update=self._pod_event,
                               on_delete=lambda pod: self._pod_event(pod, None))
        # Only deletions: someone removed an Endpoints a Service should have. Endpoints created by
        # hand are never touched while their Service (selector-less) exists.
        self.endpoints.add_handlers(on_delete=lambda ep: self.queue.add(object_key(ep)))

    def _pod_event(self, old: Obj | None, new: Obj | None) -> None:
        pod = new if new is not None else old
        assert pod is not None
        services = self.services.indexer.objects(pod["metadata"].get("namespace", ""))
        for key in services_to_update(services, old, new):
            self.queue.add(key)

    async def run(self) -> None:
        # Endpoints left behind by Services deleted while no controller ran (upstream's
        # checkLeftoverEndpoints); leader-election records are not Services' endpoints.
        for endpoints in self.endpoints.indexer.objects():
            if LEADER_ANNOTATION not in (endpoints["metadata"].get("annotations") or {}):
                self.queue.add(object_key(endpoints))
        await super().run()

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        service = self.services.indexer.get(key)
        if service is None:
            self.trigger_times.forget(key)
            try:
                await self.client.delete(ENDPOINTS, name, namespace)
            except APIStatusError as exc:
                if exc.code != 404:
                    raise
            return
        spec = service.get("spec") or {}
        if spec.get("type") == "ExternalName":
            return  # ExternalName services get no endpoints
        selector = service_selector(service)
        if selector is None:
            return  # endpoints of selector-less services are managed by hand
        pods = [p for p in self.pods.indexer.objects(namespace) if selects(selector, p["metadata"].get("labels"))]
        trigger = self.trigger_times.compute(service, pods)
        subsets = desired_subsets(service, pods)
        current = self.endpoints.indexer.get(key)
        labels = dict(service["metadata"].get("labels") or {})
        if current is not None:
            current_labels = {k: v for k, v in (current["metadata"].get("labels") or {}).items() if k != HEADLESS}
            if _without_ref_versions(current.get("subsets") or []) == subsets and current_labels == labels \
                    and _capacity_annotation_correct(current):
                return
        await self._write(service, current, subsets, labels, trigger)

    async def _write(self, service: Obj, current: Obj | None, subsets: list[Obj], labels: dict[str, str],
                     trigger: datetime.datetime | None) -> None:
        meta = service["metadata"]
        if current is None:
            endpoints: Obj = {"apiVersion": "v1", "kind": "Endpoints",
                              "metadata": {"name": meta["name"], "namespace": meta["namespace"]}}
        else:
            endpoints = {**current, "metadata": dict(current["metadata"])}
        annotations = dict(endpoints["metadata"].get("annotations") or {})
        if trigger is not None:
            annotations[LAST_CHANGE_TRIGGER_TIME] = rfc3339_nano(trigger)
        else:
            annotations.pop(LAST_CHANGE_TRIGGER_TIME, None)
        if truncate(subsets):
            annotations[OVER_CAPACITY] = "truncated"
        else:
            annotations.pop(OVER_CAPACITY, None)
        if not is_service_ip_set(service):
            labels[HEADLESS] = ""
        endpoints["metadata"]["labels"] = labels or None
        endpoints["metadata"]["annotations"] = annotations or None
        for field in ("labels", "annotations"):
            if endpoints["metadata"][field] is None:
                del endpoints["metadata"][field]
        if subsets:
            endpoints["subsets"] = subsets
        else:
            endpoints.pop("subsets", None)
        try:
            if current is None:
                await self.client.create(ENDPOINTS, endpoints)
            else:
                await self.client.update(ENDPOINTS, endpoints)
        except APIStatusError as exc:
            causes = (exc.status.get("details") or {}).get("causes") or []
            if current is None and exc.code == 403 and any(c.get("reason") == "NamespaceTerminating" for c in causes):
                return  # the namespace is going away: creates will keep failing
            if current is None:
                self.recorder.record(endpoints, "Warning", "FailedToCreateEndpoint",
                                     f"Failed to create endpoint for service {meta['namespace']}/{meta['name']}: "
                                     f"{exc}")
            else:
                self.recorder.record(endpoints, "Warning", "FailedToUpdateEndpoint",
                                     f"Failed to update endpoint {meta['namespace']}/{meta['name']}: {exc}")
            raise
