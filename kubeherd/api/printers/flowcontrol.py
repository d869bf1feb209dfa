"""Printers for ``flowcontrol.apiserver.k8s.io``: FlowSchema and PriorityLevelConfiguration."""

from __future__ import annotations

import datetime

from ._format import Cell, Obj, age, dig, integer, mapping, name, seq
from ._swagger import swagger
from ._table import AGE, NAME, Column, printer

GROUP = "flowcontrol.apiserver.k8s.io"

FLOW_SCHEMA_COLUMNS = (
    NAME,
    Column("PriorityLevel", "string", swagger("flowcontrol/v1 PriorityLevelConfigurationReference.name")),
    Column("MatchingPrecedence", "string", swagger("flowcontrol/v1 FlowSchemaSpec.matchingPrecedence")),
    Column("DistinguisherMethod", "string", swagger("flowcontrol/v1 FlowSchemaSpec.distinguisherMethod")),
    AGE,
    Column("MissingPL", "string", "references a broken or non-existent PriorityLevelConfiguration"),
)


@printer(GROUP, "FlowSchema", FLOW_SCHEMA_COLUMNS)
def flow_schema_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    spec = mapping(obj.get("spec"))
    method = dig(spec, "distinguisherMethod")
    missing = "?"
    for condition in seq(dig(obj, "status", "conditions")):
        if dig(condition, "type") == "Dangling":
            missing = str(dig(condition, "status", default=""))
            break
    return [
        name(obj),
        str(dig(spec, "priorityLevelConfiguration", "name", default="")),
        integer(spec.get("matchingPrecedence")),
        "<none>" if method is None else str(dig(method, "type", default="")),
        age(obj, now),
        missing,
    ]


PRIORITY_LEVEL_COLUMNS = (
    NAME,
    Column("Type", "string", swagger("flowcontrol/v1 PriorityLevelConfigurationSpec.type")),
    Column(
        "NominalConcurrencyShares",
        "string",
        swagger("flowcontrol/v1 LimitedPriorityLevelConfiguration.nominalConcurrencyShares"),
    ),
    Column("Queues", "string", swagger("flowcontrol/v1 QueuingConfiguration.queues")),
    Column("HandSize", "string", swagger("flowcontrol/v1 QueuingConfiguration.handSize")),
    Column("QueueLengthLimit", "string", swagger("flowcontrol/v1 QueuingConfiguration.queueLengthLimit")),
    AGE,
)


@printer(GROUP, "PriorityLevelConfiguration", PRIORITY_LEVEL_COLUMNS)
def priority_level_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    spec = mapping(obj.get("spec"))
    shares: Cell = "<none>"
    queues: Cell = "<none>"
    hand_size: Cell = "<none>"
    queue_length: Cell = "<none>"
    limited = spec.get("limited")
    if limited is not None:
        shares = integer(dig(limited, "nominalConcurrencyShares"))
        queuing = dig(limited, "limitResponse", "queuing")
        if queuing is not None:
            queues = integer(dig(queuing, "queues"))
            hand_size = integer(dig(queuing, "handSize"))
            queue_length = integer(dig(queuing, "queueLengthLimit"))
    return [name(obj), str(spec.get("type") or ""), shares, queues, hand_size, queue_length, age(obj, now)]
