"""Printers for ``networking.k8s.io``: Ingress, IngressClass, NetworkPolicy, ServiceCIDR, IPAddress."""

from __future__ import annotations

import datetime
from collections.abc import Mapping

from ._format import (
    Cell,
    Obj,
    age,
    dig,
    format_label_selector,
    load_balancer_ingress,
    mapping,
    name,
    seq,
)
from ._swagger import swagger
from ._table import AGE, NAME, Column, printer

INGRESS_COLUMNS = (
    NAME,
    Column(
        "Class",
        "string",
        "The name of the IngressClass resource that should be used for additional configuration",
    ),
    Column("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule"),
    Column("Address", "string", "Address is a list containing ingress points for the load-balancer"),
    Column("Ports", "string", "Ports of TLS configurations that open"),
    AGE,
)


def ingress_hosts(rules: list[object], limit: int = 3) -> str:
    """The first three rule hosts (``*`` when none name one), then `` + N more...`` counting every rule."""
    # Upstream stops collecting once it holds three hosts and reports the rest by rule count.
    shown: list[str] = []
    more = False
    for rule in rules:
        if len(shown) == limit:
            more = True
        if not more and dig(rule, "host"):
            shown.append(str(dig(rule, "host")))
    if not shown:
        return "*"
    if more:
        return f"{','.join(shown)} + {len(rules) - limit} more..."
    return ",".join(shown)


@printer("networking.k8s.io", "Ingress", INGRESS_COLUMNS)
def ingress_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    spec = mapping(obj.get("spec"))
    return [
        name(obj),
        str(spec.get("ingressClassName") if spec.get("ingressClassName") is not None else "<none>"),
        ingress_hosts(seq(spec.get("rules"))),
        load_balancer_ingress(dig(obj, "status", "loadBalancer")),
        "80, 443" if seq(spec.get("tls")) else "80",
        age(obj, now),
    ]


INGRESS_CLASS_COLUMNS = (
    NAME,
    Column("Controller", "string", "Controller that is responsible for handling this class"),
    Column("Parameters", "string", "A reference to a resource with additional parameters"),
    AGE,
)


@printer("networking.k8s.io", "IngressClass", INGRESS_CLASS_COLUMNS)
def ingress_class_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    parameters = dig(obj, "spec", "parameters")
    reference = "<none>"
    if isinstance(parameters, Mapping):
        reference = str(parameters.get("kind") or "")
        if parameters.get("apiGroup") is not None:
            reference += "." + str(parameters["apiGroup"])
        reference += "/" + str(parameters.get("name") or "")
    return [name(obj), str(dig(obj, "spec", "controller", default="")), reference, age(obj, now)]


NETWORK_POLICY_COLUMNS = (
    NAME,
    Column("Pod-Selector", "string", swagger("extensions/v1beta1 NetworkPolicySpec.podSelector")),
    AGE,
)


@printer("networking.k8s.io", "NetworkPolicy", NETWORK_POLICY_COLUMNS)
def network_policy_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    # podSelector is a struct, not a pointer: absent means the empty selector (all pods).
    pod_selector = dig(obj, "spec", "podSelector", default={})
    return [name(obj), format_label_selector(pod_selector), age(obj, now)]


SERVICE_CIDR_COLUMNS = (
    NAME,
    Column("CIDRs", "string", swagger("networking/v1beta1 ServiceCIDRSpec.cidrs")),
    AGE,
)


@printer("networking.k8s.io", "ServiceCIDR", SERVICE_CIDR_COLUMNS)
def service_cidr_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    return [name(obj), ",".join(str(c) for c in seq(dig(obj, "spec", "cidrs"))), age(obj, now)]


IP_ADDRESS_COLUMNS = (
    NAME,
    Column("ParentRef", "string", swagger("networking/v1beta1 IPAddressSpec.parentRef")),
)


@printer("networking.k8s.io", "IPAddress", IP_ADDRESS_COLUMNS)
def ip_address_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    # Upstream appends an age cell beyond its two columns; kubectl never shows it, so it is left off.
    ref = dig(obj, "spec", "parentRef")
    parent = "<none>"
    if isinstance(ref, Mapping):
        resource = str(ref.get("resource") or "")
        group = str(ref.get("group") or "")
        parent = (f"{resource}.{group}" if group else resource).lower()
        if ref.get("namespace"):
            parent += "/" + str(ref["namespace"])
        parent += "/" + str(ref.get("name") or "")
    return [name(obj), parent]
