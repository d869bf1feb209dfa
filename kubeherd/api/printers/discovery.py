"""Printers for ``discovery.k8s.io``: EndpointSlice."""

from __future__ import annotations

import datetime

from ._format import Cell, Obj, age, dig, list_with_more, name, seq
from ._swagger import swagger
from ._table import AGE, NAME, Column, printer

ENDPOINT_SLICE_COLUMNS = (
    NAME,
    Column("AddressType", "string", swagger("discovery/v1beta1 EndpointSlice.addressType")),
    Column("Ports", "string", swagger("discovery/v1beta1 EndpointSlice.ports")),
    Column("Endpoints", "string", swagger("discovery/v1beta1 EndpointSlice.endpoints")),
    AGE,
)


def _port_label(port: object) -> str:
    """The port number, else its name, else ``*`` (a slice for all ports)."""
    if dig(port, "port") is not None:
        return str(dig(port, "port"))
    if dig(port, "name") is not None:
        return str(dig(port, "name"))
    return "*"


@printer("discovery.k8s.io", "EndpointSlice", ENDPOINT_SLICE_COLUMNS)
def endpoint_slice_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    addresses = [str(a) for endpoint in seq(obj.get("endpoints")) for a in seq(dig(endpoint, "addresses"))]
    return [
        name(obj),
        str(obj.get("addressType") or ""),
        list_with_more(_port_label(p) for p in seq(obj.get("ports"))),
        list_with_more(addresses),
        age(obj, now),
    ]
