"""Printers for ``events.k8s.io``: the same Event, seen through its newer API.

Upstream stores one Event and prints both groups' views from the internal type, so an
events.k8s.io Event gets the core columns; only the field names differ.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping

from ._format import Cell, Obj, dig, integer, mapping, name
from ._table import printer
from .core import EVENT_COLUMNS, EventFields, event_row


@printer("events.k8s.io", "Event", EVENT_COLUMNS)
def events_event_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    series = obj.get("series")
    return event_row(
        EventFields(
            name=name(obj),
            first_timestamp=obj.get("deprecatedFirstTimestamp"),
            last_timestamp=obj.get("deprecatedLastTimestamp"),
            event_time=obj.get("eventTime"),
            count=integer(obj.get("deprecatedCount")),
            series=series if isinstance(series, Mapping) else None,
            involved_object=mapping(obj.get("regarding")),
            type=str(obj.get("type") or ""),
            reason=str(obj.get("reason") or ""),
            message=str(obj.get("note") or ""),
            source=mapping(obj.get("deprecatedSource")),
            reporting_controller=str(dig(obj, "reportingController", default="")),
            reporting_instance=str(dig(obj, "reportingInstance", default="")),
        ),
        now,
    )
