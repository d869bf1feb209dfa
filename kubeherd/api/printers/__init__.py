"""Server-side printing: the ``meta.k8s.io/v1`` Table columns and cells ``kubectl get`` renders.

The columns, cell formats and ``<none>``/``<unknown>`` placeholders reproduce kube-apiserver 1.33
(upstream ``pkg/printers/internalversion/printers.go``), so kubectl output against kubeherd reads
as it does against any cluster. Each API group's module declares its kinds' columns and row
functions; importing it registers them in the table `_table` looks up by ``(group, kind)``.
Everything here is a pure function of the object and ``now``.
"""

from __future__ import annotations

from . import (  # noqa: F401  (imported to register their printers)
    admissionregistration,
    apiextensions,
    apiregistration,
    apiserverinternal,
    apps,
    autoscaling,
    batch,
    certificates,
    coordination,
    core,
    discovery,
    events,
    flowcontrol,
    networking,
    node,
    policy,
    rbac,
    resource,
    scheduling,
    storage,
    storagemigration,
)
from ._format import human_duration
from ._table import column_definitions, registered_kinds, row_cells, row_conditions

__all__ = ["column_definitions", "human_duration", "registered_kinds", "row_cells", "row_conditions"]
