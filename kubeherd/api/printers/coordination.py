"""Printers for ``coordination.k8s.io``: Lease and LeaseCandidate."""

from __future__ import annotations

import datetime

from ._format import Cell, Obj, age, dig, name
from ._swagger import swagger
from ._table import AGE, NAME, Column, printer

GROUP = "coordination.k8s.io"


@printer(
    GROUP,
    "Lease",
    (NAME, Column("Holder", "string", swagger("coordination/v1 LeaseSpec.holderIdentity")), AGE),
)
def lease_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    return [name(obj), str(dig(obj, "spec", "holderIdentity", default="")), age(obj, now)]


LEASE_CANDIDATE_COLUMNS = (
    NAME,
    Column("LeaseName", "string", swagger("coordination/v1alpha2 LeaseCandidateSpec.leaseName")),
    # Upstream looks these descriptions up on ObjectMeta, which has no such fields: they are empty.
    Column("BinaryVersion", "string", swagger("meta/v1 ObjectMeta.binaryVersion")),
    Column("EmulationVersion", "string", swagger("meta/v1 ObjectMeta.emulationVersion")),
    AGE,
)


@printer(GROUP, "LeaseCandidate", LEASE_CANDIDATE_COLUMNS)
def lease_candidate_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    return [
        name(obj),
        str(dig(obj, "spec", "leaseName", default="")),
        str(dig(obj, "spec", "binaryVersion", default="")),
        str(dig(obj, "spec", "emulationVersion", default="")),
        age(obj, now),
    ]
