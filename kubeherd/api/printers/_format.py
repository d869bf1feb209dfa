"""Cell formatting shared by every kind: ages, label selectors, container lists.

Each helper reproduces one upstream formatting rule exactly (the apimachinery duration, labels
and selector packages, and the small helpers at the top of upstream's printers), because kubectl
shows the server's cell text as-is and users compare it with real clusters.

Objects are the JSON dicts the API serves. A field that is absent or ``null`` reads as the Go zero
value of the internal type upstream prints from, so a missing field prints what upstream would
print for it. Defaulting (``replicas: 1``, ``protocol: TCP``) is the storage layer's job; these
functions print what they are given.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from typing import Any

Obj = Mapping[str, Any]
Cell = str | int | bool | None

_NS_PER_SECOND = 1_000_000_000
_NS_PER_MINUTE = 60 * _NS_PER_SECOND
_NS_PER_HOUR = 60 * _NS_PER_MINUTE


def dig(obj: Any, *path: str, default: Any = None) -> Any:
    """``obj[path[0]][path[1]]…``, or ``default`` where a step is missing or ``null``."""
    for key in path:
        if not isinstance(obj, Mapping):
            return default
        obj = obj.get(key)
        if obj is None:
            return default
    return obj


def seq(value: Any) -> list[Any]:
    """A JSON list field as a list (``null``/absent read as empty, as a nil Go slice does)."""
    return list(value) if isinstance(value, list) else []


def mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


# --- durations -------------------------------------------------------------------------------


def human_duration(seconds: float) -> str:
    """Upstream ``duration.HumanDuration``: ~2-3 significant figures (``5s``, ``3m20s``, ``3d5h``, ``2y``).

    Up to two seconds in the future still reads ``0s`` (clock skew between machines); further
    ahead is ``<invalid>``.
    """
    return _human_ns(round(seconds * _NS_PER_SECOND))


def _human_ns(ns: int) -> str:
    whole_seconds = abs(ns) // _NS_PER_SECOND
    if ns < 0:
        whole_seconds = -whole_seconds  # Go truncates toward zero
    if whole_seconds < -1:
        return "<invalid>"
    if whole_seconds < 0:
        return "0s"
    if whole_seconds < 2 * 60:
        return f"{whole_seconds}s"
    minutes = ns // _NS_PER_MINUTE
    if minutes < 10:
        rest = whole_seconds % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 3 * 60:
        return f"{minutes}m"
    hours = ns // _NS_PER_HOUR
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        rest = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y" if rest == 0 else f"{years}y{rest}d"
    return f"{hours // 24 // 365}y"


def _delta_ns(delta: datetime.timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * _NS_PER_SECOND + delta.microseconds * 1_000


def parse_time(value: Any) -> datetime.datetime | None:
    """An RFC 3339 ``Time``/``MicroTime`` as an aware datetime; ``None`` when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed


def since(value: Any, now: datetime.datetime) -> str:
    """Upstream ``translateTimestampSince``: the human age of a timestamp, ``<unknown>`` if unset."""
    when = parse_time(value)
    if when is None:
        return "<unknown>"
    return _human_ns(_delta_ns(now - when))


def between(start: datetime.datetime, end: datetime.datetime) -> str:
    return _human_ns(_delta_ns(end - start))


def age(obj: Obj, now: datetime.datetime) -> str:
    return since(dig(obj, "metadata", "creationTimestamp"), now)


def name(obj: Obj) -> str:
    return str(dig(obj, "metadata", "name", default=""))


# --- labels and selectors --------------------------------------------------------------------


def format_labels(labels: Any) -> str:
    """Upstream ``labels.FormatLabels``: sorted ``k=v`` pairs, ``<none>`` when empty."""
    pairs = sorted(f"{k}={v}" for k, v in mapping(labels).items())
    return ",".join(pairs) or "<none>"


_OPERATORS = {"In": " in ", "NotIn": " notin ", "Exists": "", "DoesNotExist": ""}


def selector_string(selector: Any) -> str | None:
    """A ``LabelSelector`` in label-query syntax (``app=web,tier in (a,b),!canary``).

    ``None`` when the selector cannot be converted (an unknown operator or the wrong number of
    values), which upstream reports as an error. A missing selector selects nothing and an empty
    one everything; both print as ``""``.
    """
    if not isinstance(selector, Mapping):
        return ""
    requirements: list[tuple[str, str]] = []
    for key, value in mapping(selector.get("matchLabels")).items():
        requirements.append((key, f"{key}={value}"))
    for expr in seq(selector.get("matchExpressions")):
        key = str(dig(expr, "key", default=""))
        op = dig(expr, "operator", default="")
        values = [str(v) for v in seq(dig(expr, "values"))]
        if op not in _OPERATORS:
            return None
        if op in ("In", "NotIn"):
            if not values:
                return None
            requirements.append((key, f"{key}{_OPERATORS[op]}({','.join(sorted(values))})"))
        else:
            if values:
                return None
            requirements.append((key, key if op == "Exists" else f"!{key}"))
    requirements.sort(key=lambda r: r[0])
    return ",".join(text for _, text in requirements)


def format_label_selector(selector: Any) -> str:
    """Upstream ``metav1.FormatLabelSelector``: ``<none>`` when it selects by nothing, ``<error>`` if invalid."""
    text = selector_string(selector)
    if text is None:
        return "<error>"
    return text or "<none>"


def label_selector_struct_string(selector: Obj) -> str:
    """A ``LabelSelector`` as Go's generated ``String()`` prints it (``&LabelSelector{…}``)."""
    labels = mapping(selector.get("matchLabels"))
    label_text = "".join(f"{k}: {labels[k]}," for k in sorted(labels))
    exprs = "".join(
        "LabelSelectorRequirement{"
        f"Key:{dig(e, 'key', default='')},"
        f"Operator:{dig(e, 'operator', default='')},"
        f"Values:[{' '.join(str(v) for v in seq(dig(e, 'values')))}],"
        "},"
        for e in seq(selector.get("matchExpressions"))
    )
    return (
        "&LabelSelector{"
        f"MatchLabels:map[string]string{{{label_text}}},"
        f"MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},"
        "}"
    )


# --- small value formats ---------------------------------------------------------------------


def container_cells(containers: Any) -> tuple[str, str]:
    """Container names and images, each comma-joined in spec order."""
    items = seq(containers)
    names = ",".join(str(dig(c, "name", default="")) for c in items)
    images = ",".join(str(dig(c, "image", default="")) for c in items)
    return names, images


def bool_word(value: Any) -> str:
    """Upstream ``printBoolPtr``: ``True``/``False``, ``<unset>`` for a missing pointer."""
    if value is None:
        return "<unset>"
    return "True" if value else "False"


def int_or_string(value: Any) -> str:
    """An ``IntOrString`` (``1`` or ``"50%"``) as Go's ``String()`` prints it."""
    return str(value)


def quantity(value: Any) -> str:
    """A resource quantity read from a map; a missing entry is the zero quantity, ``0``.

    Quantities print as the API serves them: the real API server has already canonicalised them
    on write (``1024Mi`` is stored as ``1Gi``), which is this repository's storage layer's job.
    """
    if value is None or value == "":
        return "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def quantity_ptr(value: Any) -> str:
    """A ``*Quantity`` field: Go prints a nil pointer as ``<nil>``."""
    if value is None:
        return "<nil>"
    return quantity(value)


def list_with_more(items: Iterable[str], limit: int = 3) -> str:
    """Upstream ``listWithMoreString``: the first ``limit`` items, then `` + N more...``; ``<unset>`` if none."""
    all_items = list(items)
    shown = ",".join(all_items[:limit])
    if len(all_items) > limit:
        return f"{shown} + {len(all_items) - limit} more..."
    return shown or "<unset>"


def load_balancer_ingress(status: Any) -> str:
    """The distinct ingress IPs (else hostnames) of a load balancer status, sorted and comma-joined.

    The server renders the wide form, so nothing is truncated.
    """
    points = set()
    for ingress in seq(dig(status, "ingress")):
        point = dig(ingress, "ip") or dig(ingress, "hostname")
        if point:
            points.add(str(point))
    return ",".join(sorted(points))


def join_host_port(host: str, port: int) -> str:
    """Go's ``net.JoinHostPort``: IPv6 hosts are bracketed."""
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"


def condition_true(conditions: Any, condition_type: str) -> bool:
    """Whether the first condition of ``condition_type`` has status ``True``."""
    for condition in seq(conditions):
        if dig(condition, "type") == condition_type:
            return bool(dig(condition, "status") == "True")
    return False


def integer(value: Any) -> int:
    """An int32/int64 field; absent reads as 0."""
    if isinstance(value, bool) or value is None:
        return 0
    if isinstance(value, int):
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
