"""Label and field selectors, parsed and matched the way the API server does.

Label selectors follow ``k8s.io/apimachinery/pkg/labels``: a small lexer and parser
for ``a=b,c!=d,e in (f,g),h notin (i),j,!k,l>1,m<2`` whose requirements are kept
sorted by key, whose keys and values are validated as label keys and values, and
whose parse errors carry upstream's wording (kubectl prints them verbatim).

Field selectors follow ``k8s.io/apimachinery/pkg/fields``: only ``=``, ``==`` and
``!=`` joined by commas, with ``\\``, ``,`` and ``=`` backslash-escaped in values.
Which fields a kind can be selected on, and how each field label is spelled per API
group, is a per-kind fact upstream keeps in its conversion functions and registry
strategies; :func:`supported_fields`, :func:`convert_field_selector` and
:func:`object_fields` collect those facts so a cache can filter and index objects
without knowing any kind's schema.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kubeherd.api.validation.field import Cause, aggregate_message, go_quote, invalid, not_supported
from kubeherd.api.validation.names import is_qualified_name, is_valid_label_value

__all__ = [
    "DOES_NOT_EXIST",
    "DOUBLE_EQUALS",
    "EQUALS",
    "EVERYTHING",
    "EXISTS",
    "GREATER_THAN",
    "IN",
    "LESS_THAN",
    "NOTHING",
    "NOT_EQUALS",
    "NOT_IN",
    "FieldRequirement",
    "FieldSelector",
    "LabelSelector",
    "Requirement",
    "SelectorError",
    "convert_field_selector",
    "escape_field_value",
    "field_label_conversion",
    "label_selector_from_dict",
    "label_selector_from_set",
    "new_requirement",
    "object_fields",
    "parse_field_selector",
    "parse_label_selector",
    "supported_fields",
    "unescape_field_value",
]


class SelectorError(ValueError):
    """A selector that cannot be parsed or converted; the message is upstream's."""


# Operator spellings are upstream's ``selection.Operator`` values.
DOES_NOT_EXIST = "!"
EQUALS = "="
DOUBLE_EQUALS = "=="
IN = "in"
NOT_EQUALS = "!="
NOT_IN = "notin"
EXISTS = "exists"
GREATER_THAN = "gt"
LESS_THAN = "lt"

_BINARY_OPERATORS = [IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, GREATER_THAN, LESS_THAN]
_VALID_OPERATORS = [*_BINARY_OPERATORS, EXISTS, DOES_NOT_EXIST]


def _parse_int64(text: str) -> int | None:
    """Go's ``strconv.ParseInt(s, 10, 64)``: optional sign, ASCII digits, in range."""
    body = text[1:] if text[:1] in "+-" else text
    if not body or not body.isascii() or not body.isdigit():
        return None
    value = int(text)
    if not -(2**63) <= value < 2**63:
        return None
    return value


# --------------------------------------------------------------------------------------
# Label selectors
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Requirement:
    """One clause of a label selector: ``key op values``.

    ``values`` keeps the order given to :func:`new_requirement`; the parser hands
    values over sorted and de-duplicated, as upstream does.
    """

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op in (IN, EQUALS, DOUBLE_EQUALS):
            return self.key in labels and labels[self.key] in self.values
        if op in (NOT_IN, NOT_EQUALS):
            return self.key not in labels or labels[self.key] not in self.values
        if op == EXISTS:
            return self.key in labels
        if op == DOES_NOT_EXIST:
            return self.key not in labels
        if op in (GREATER_THAN, LESS_THAN):
            if self.key not in labels or len(self.values) != 1:
                return False
            have = _parse_int64(labels[self.key])
            want = _parse_int64(self.values[0])
            if have is None or want is None:
                return False
            return have > want if op == GREATER_THAN else have < want
        return False

    def __str__(self) -> str:
        op = self.operator
        prefix = "!" if op == DOES_NOT_EXIST else ""
        if op in (EXISTS, DOES_NOT_EXIST):
            return prefix + self.key
        symbol = {
            EQUALS: "=",
            DOUBLE_EQUALS: "==",
            NOT_EQUALS: "!=",
            IN: " in ",
            NOT_IN: " notin ",
            GREATER_THAN: ">",
            LESS_THAN: "<",
        }.get(op, "")
        values = self.values[0] if len(self.values) == 1 else ",".join(sorted(self.values))
        if op in (IN, NOT_IN):
            values = "(" + values + ")"
        return self.key + symbol + values


def _key_error(key: str, path: str | None) -> Cause | None:
    errs = is_qualified_name(key)
    if errs:
        return invalid(path, key, "; ".join(errs))
    return None


def new_requirement(key: str, operator: str, values: Iterable[str] = ()) -> Requirement:
    """Build a validated requirement (upstream ``labels.NewRequirement``).

    Raises :class:`SelectorError` whose message is upstream's aggregated field errors,
    e.g. ``values: Invalid value: []string{}: for 'in', 'notin' operators, values set
    can't be empty``.
    """
    vals = list(values)
    errors: list[Cause] = []
    key_err = _key_error(key, "key")
    if key_err is not None:
        errors.append(key_err)
    if operator in (IN, NOT_IN):
        if not vals:
            errors.append(invalid("values", vals, "for 'in', 'notin' operators, values set can't be empty"))
    elif operator in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS):
        if len(vals) != 1:
            errors.append(invalid("values", vals, "exact-match compatibility requires one single value"))
    elif operator in (EXISTS, DOES_NOT_EXIST):
        if vals:
            errors.append(invalid("values", vals, "values set must be empty for exists and does not exist"))
    elif operator in (GREATER_THAN, LESS_THAN):
        if len(vals) != 1:
            errors.append(invalid("values", vals, "for 'Gt', 'Lt' operators, exactly one value is required"))
        for i, v in enumerate(vals):
            if _parse_int64(v) is None:
                errors.append(
                    invalid(f"values[{i}]", v, "for 'Gt', 'Lt' operators, the value must be an integer")
                )
    else:
        errors.append(not_supported("operator", operator, _VALID_OPERATORS))
    for i, v in enumerate(vals):
        msgs = is_valid_label_value(v)
        if msgs:
            errors.append(invalid(f"values[{i}][{key}]", v, "; ".join(msgs)))
    if errors:
        raise SelectorError(aggregate_message(errors))
    return Requirement(key, operator, tuple(vals))


class LabelSelector:
    """An AND of requirements, or the special selector that matches nothing.

    ``LabelSelector()`` matches everything (and is ``empty``); :data:`NOTHING` matches
    no object and is what a ``None`` API selector means upstream.
    """

    __slots__ = ("_nothing", "requirements")

    def __init__(self, requirements: Iterable[Requirement] = (), *, nothing: bool = False) -> None:
        self.requirements: tuple[Requirement, ...] = tuple(sorted(requirements, key=lambda r: r.key))
        self._nothing = nothing

    @property
    def empty(self) -> bool:
        """True when the selector does not restrict anything (matches every object)."""
        return not self._nothing and not self.requirements

    @property
    def matches_nothing(self) -> bool:
        return self._nothing

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self._nothing:
            return False
        have = labels or {}
        return all(r.matches(have) for r in self.requirements)

    def exact_match(self, key: str) -> str | None:
        """The single value ``key`` must have, if the selector pins it (upstream
        ``RequiresExactMatch``): the first requirement on ``key`` decides."""
        for r in self.requirements:
            if r.key == key:
                if r.operator in (EQUALS, DOUBLE_EQUALS, IN) and len(r.values) == 1:
                    return r.values[0]
                return None
        return None

    def exact_matches(self) -> dict[str, str]:
        """Every ``key=value`` pair the selector requires, for index lookups."""
        pinned: dict[str, str] = {}
        for r in self.requirements:
            if r.key not in pinned:
                value = self.exact_match(r.key)
                if value is not None:
                    pinned[r.key] = value
        return pinned

    def add(self, *requirements: Requirement) -> LabelSelector:
        if self._nothing:
            return self
        return LabelSelector([*self.requirements, *requirements])

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)

    def __repr__(self) -> str:
        if self._nothing:
            return "LabelSelector(<nothing>)"
        return f"LabelSelector({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LabelSelector):
            return NotImplemented
        return self._nothing == other._nothing and self.requirements == other.requirements

    def __hash__(self) -> int:
        return hash((self._nothing, self.requirements))


EVERYTHING = LabelSelector()
NOTHING = LabelSelector(nothing=True)


# Lexer ------------------------------------------------------------------------------

_ERROR, _EOS, _CPAR, _COMMA, _NOT, _DEQ, _EQ, _GT, _ID, _IN, _LT, _NEQ, _NOTIN, _OPAR = range(14)
_TOKENS = {
    ")": _CPAR,
    ",": _COMMA,
    "!": _NOT,
    "==": _DEQ,
    "=": _EQ,
    ">": _GT,
    "in": _IN,
    "<": _LT,
    "!=": _NEQ,
    "notin": _NOTIN,
    "(": _OPAR,
}
_SPECIAL = frozenset("=!(),><")
_WHITESPACE = frozenset(" \t\r\n")


def _lex(text: str) -> list[tuple[int, str]]:
    items: list[tuple[int, str]] = []
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos] in _WHITESPACE:
            pos += 1
        if pos >= end:
            items.append((_EOS, ""))
            return items
        if text[pos] in _SPECIAL:
            # longest operator made of special characters
            buf = ""
            last: tuple[int, str] | None = None
            while pos < end and text[pos] in _SPECIAL:
                candidate = buf + text[pos]
                if candidate in _TOKENS:
                    buf = candidate
                    last = (_TOKENS[candidate], candidate)
                    pos += 1
                elif last is not None:
                    break
                else:
                    buf = candidate
                    pos += 1
            if last is None:
                items.append((_ERROR, f"error expected: keyword found '{buf}'"))
            else:
                items.append(last)
            continue
        start = pos
        while pos < end and text[pos] not in _SPECIAL and text[pos] not in _WHITESPACE:
            pos += 1
        word = text[start:pos]
        items.append((_TOKENS.get(word, _ID), word))


class _Parser:
    """Recursive-descent parser over the token list; errors mirror upstream's."""

    def __init__(self, text: str) -> None:
        self.items = _lex(text)
        self.pos = 0

    def _peek(self, values: bool) -> tuple[int, str]:
        tok, lit = self.items[self.pos]
        if values and tok in (_IN, _NOTIN):
            tok = _ID
        return tok, lit

    def _take(self, values: bool) -> tuple[int, str]:
        tok, lit = self._peek(values)
        self.pos += 1
        return tok, lit

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            tok, lit = self._peek(True)
            if tok in (_ID, _NOT):
                try:
                    reqs.append(self._requirement())
                except SelectorError as e:
                    raise SelectorError(f"unable to parse requirement: {e}") from None
                tok, lit = self._take(True)
                if tok == _EOS:
                    return reqs
                if tok == _COMMA:
                    tok2, lit2 = self._peek(True)
                    if tok2 not in (_ID, _NOT):
                        raise SelectorError(f"found '{lit2}', expected: identifier after ','")
                else:
                    raise SelectorError(f"found '{lit}', expected: ',' or 'end of string'")
            elif tok == _EOS:
                return reqs
            else:
                raise SelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")

    def _requirement(self) -> Requirement:
        key, operator = self._key_and_inferred_operator()
        if operator in (EXISTS, DOES_NOT_EXIST):
            return new_requirement(key, operator, [])
        operator = self._operator()
        values = self._set_values() if operator in (IN, NOT_IN) else self._exact_value()
        return new_requirement(key, operator, sorted(values))

    def _key_and_inferred_operator(self) -> tuple[str, str]:
        operator = ""
        tok, lit = self._take(True)
        if tok == _NOT:
            operator = DOES_NOT_EXIST
            tok, lit = self._take(True)
        if tok != _ID:
            raise SelectorError(f"found '{lit}', expected: identifier")
        # upstream validates the key with a nil field path, hence "<nil>"
        key_err = _key_error(lit, None)
        if key_err is not None:
            raise SelectorError(str(key_err))
        nxt, _ = self._peek(True)
        if nxt in (_EOS, _COMMA) and operator != DOES_NOT_EXIST:
            operator = EXISTS
        return lit, operator

    def _operator(self) -> str:
        tok, lit = self._take(False)
        ops = {
            _IN: IN,
            _EQ: EQUALS,
            _DEQ: DOUBLE_EQUALS,
            _GT: GREATER_THAN,
            _LT: LESS_THAN,
            _NOTIN: NOT_IN,
            _NEQ: NOT_EQUALS,
        }
        if tok not in ops:
            raise SelectorError(f"found '{lit}', expected: {', '.join(_BINARY_OPERATORS)}")
        return ops[tok]

    def _set_values(self) -> set[str]:
        tok, lit = self._take(True)
        if tok != _OPAR:
            raise SelectorError(f"found '{lit}' expected: '('")
        tok, lit = self._peek(True)
        if tok in (_ID, _COMMA):
            values = self._identifier_list()
            if self._take(True)[0] != _CPAR:
                raise SelectorError(f"found '{lit}', expected: ')'")
            return values
        if tok == _CPAR:
            self._take(True)
            return {""}
        raise SelectorError(f"found '{lit}', expected: ',', ')' or identifier")

    def _identifier_list(self) -> set[str]:
        values: set[str] = set()
        while True:
            tok, lit = self._take(True)
            if tok == _ID:
                values.add(lit)
                tok2, lit2 = self._peek(True)
                if tok2 == _COMMA:
                    continue
                if tok2 == _CPAR:
                    return values
                raise SelectorError(f"found '{lit2}', expected: ',' or ')'")
            if tok == _COMMA:
                if not values:
                    values.add("")
                tok2, _ = self._peek(True)
                if tok2 == _CPAR:
                    values.add("")
                    return values
                if tok2 == _COMMA:
                    self._take(True)
                    values.add("")
                continue
            raise SelectorError(f"found '{lit}', expected: ',', or identifier")

    def _exact_value(self) -> set[str]:
        tok, _ = self._peek(True)
        if tok in (_EOS, _COMMA):
            return {""}
        tok, lit = self._take(True)
        if tok == _ID:
            return {lit}
        raise SelectorError(f"found '{lit}', expected: identifier")


def parse_label_selector(text: str) -> LabelSelector:
    """Parse the ``labelSelector`` query parameter / ``kubectl -l`` syntax.

    The empty string selects everything.  Raises :class:`SelectorError` with
    upstream's message on malformed input or invalid label keys/values.
    """
    return LabelSelector(_Parser(text).parse())


def label_selector_from_set(labels: Mapping[str, str] | None) -> LabelSelector:
    """A selector requiring exactly these labels (no validation, like upstream's
    ``SelectorFromSet``); ``None`` and ``{}`` select everything."""
    return LabelSelector(Requirement(k, EQUALS, (v,)) for k, v in (labels or {}).items())


_API_OPERATORS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}


def label_selector_from_dict(selector: Mapping[str, Any] | None) -> LabelSelector:
    """Convert an API ``LabelSelector`` (``matchLabels`` / ``matchExpressions``).

    Semantics follow upstream's ``LabelSelectorAsSelector``: ``None`` matches nothing
    (:data:`NOTHING`) and ``{}`` matches everything.  Callers that want a missing
    selector to mean "everything" (e.g. a PodDisruptionBudget in policy/v1beta1) must
    pass ``{}`` themselves.  Raises :class:`SelectorError` on unknown operators or
    invalid keys/values.
    """
    if selector is None:
        return NOTHING
    match_labels = selector.get("matchLabels") or {}
    match_expressions = selector.get("matchExpressions") or []
    if not match_labels and not match_expressions:
        return EVERYTHING
    reqs = [new_requirement(str(k), EQUALS, [str(v)]) for k, v in match_labels.items()]
    for expr in match_expressions:
        op = expr.get("operator", "")
        if op not in _API_OPERATORS:
            raise SelectorError(f"{go_quote(str(op))} is not a valid label selector operator")
        values = [str(value) for value in expr.get("values") or []]
        reqs.append(new_requirement(str(expr.get("key") or ""), _API_OPERATORS[op], values))
    return LabelSelector(reqs)


# --------------------------------------------------------------------------------------
# Field selectors
# --------------------------------------------------------------------------------------


def escape_field_value(value: str) -> str:
    """Escape ``\\``, ``,`` and ``=`` so a value survives inside a field selector."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def unescape_field_value(text: str) -> str:
    """Undo :func:`escape_field_value`; raises on bad escapes or bare ``,``/``=``."""
    if not any(c in text for c in "\\,="):
        return text
    out: list[str] = []
    in_slash = False
    for c in text:
        if in_slash:
            if c in "\\,=":
                out.append(c)
                in_slash = False
                continue
            raise SelectorError(f"invalid field selector: invalid escape sequence: \\{c}")
        if c == "\\":
            in_slash = True
        elif c in ",=":
            # upstream prints the rune with %v, i.e. as its code point number
            raise SelectorError(f"invalid field selector: unescaped character in value: {ord(c)}")
        else:
            out.append(c)
    if in_slash:
        raise SelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


@dataclass(frozen=True)
class FieldRequirement:
    """``field = value`` or ``field != value`` (``==`` parses as ``=``)."""

    field: str
    operator: str
    value: str

    def matches(self, fields: Mapping[str, str]) -> bool:
        # a field the object does not expose reads as "" (upstream fields.Set.Get)
        have = fields.get(self.field, "")
        return have == self.value if self.operator == EQUALS else have != self.value

    def __str__(self) -> str:
        return f"{self.field}{self.operator}{escape_field_value(self.value)}"


class FieldSelector:
    """An AND of field requirements; the empty selector matches everything."""

    __slots__ = ("terms",)

    def __init__(self, terms: Iterable[FieldRequirement] = ()) -> None:
        self.terms: tuple[FieldRequirement, ...] = tuple(terms)

    @property
    def empty(self) -> bool:
        return not self.terms

    @property
    def requirements(self) -> list[tuple[str, str, str]]:
        """``(field, operator, value)`` triples; operator is ``"="`` or ``"!="``."""
        return [(t.field, t.operator, t.value) for t in self.terms]

    def matches(self, fields: Mapping[str, str]) -> bool:
        return all(t.matches(fields) for t in self.terms)

    def exact_match(self, field: str) -> str | None:
        """The value ``field`` must equal, if any term pins it (for index lookups)."""
        for t in self.terms:
            if t.field == field and t.operator == EQUALS:
                return t.value
        return None

    def __str__(self) -> str:
        return ",".join(str(t) for t in self.terms)

    def __repr__(self) -> str:
        return f"FieldSelector({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldSelector):
            return NotImplemented
        return self.terms == other.terms

    def __hash__(self) -> int:
        return hash(self.terms)


def _split_terms(text: str) -> list[str]:
    if not text:
        return []
    terms: list[str] = []
    start = 0
    in_slash = False
    for i, c in enumerate(text):
        if in_slash:
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    for i in range(len(term)):
        rest = term[i:]
        for op in ("!=", "==", "="):
            if rest.startswith(op):
                return term[:i], op, term[i + len(op) :]
    return None


def parse_field_selector(text: str) -> FieldSelector:
    """Parse the ``fieldSelector`` query parameter / ``kubectl --field-selector``.

    Terms are sorted as upstream sorts them; whitespace is significant.  Raises
    :class:`SelectorError` with upstream's message.
    """
    terms: list[FieldRequirement] = []
    for part in sorted(_split_terms(text)):
        if part == "":
            continue
        split = _split_term(part)
        if split is None:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
        lhs, op, rhs = split
        value = unescape_field_value(rhs)
        terms.append(FieldRequirement(lhs, NOT_EQUALS if op == "!=" else EQUALS, value))
    return FieldSelector(terms)


# Per-kind selectable fields ------------------------------------------------------------

_META = ("metadata.name", "metadata.namespace")
_NOT_SUPPORTED = "field label not supported: {label}"


@dataclass(frozen=True)
class _FieldLabels:
    """How one (group, kind) accepts field labels: external name -> internal name."""

    mapping: Mapping[str, str]
    message: str = _NOT_SUPPORTED


def _same(*labels: str) -> dict[str, str]:
    return {label: label for label in labels}


_EVENT_CORE = _same(
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
    *_META,
)

_EVENT_EVENTS = {
    "reason": "reason",
    "regarding.kind": "involvedObject.kind",
    "regarding.namespace": "involvedObject.namespace",
    "regarding.name": "involvedObject.name",
    "regarding.uid": "involvedObject.uid",
    "regarding.apiVersion": "involvedObject.apiVersion",
    "regarding.resourceVersion": "involvedObject.resourceVersion",
    "regarding.fieldPath": "involvedObject.fieldPath",
    "reportingController": "reportingComponent",
    "source": "source",
    "type": "type",
    "metadata.namespace": "metadata.namespace",
    "metadata.name": "metadata.name",
}

# Kinds that register a field-label conversion upstream; every other kind gets the
# default that accepts only metadata.name and metadata.namespace.
_FIELD_LABELS: dict[tuple[str, str], _FieldLabels] = {
    ("", "Pod"): _FieldLabels(
        {
            **_same(
                *_META,
                "spec.nodeName",
                "spec.restartPolicy",
                "spec.schedulerName",
                "spec.serviceAccountName",
                "spec.hostNetwork",
                "status.phase",
                "status.podIP",
                "status.podIPs",
                "status.nominatedNodeName",
            ),
            # old v1 clients send spec.host
            "spec.host": "spec.nodeName",
        }
    ),
    ("", "Node"): _FieldLabels(_same("metadata.name", "spec.unschedulable")),
    ("", "ReplicationController"): _FieldLabels(_same(*_META, "status.replicas")),
    ("", "Event"): _FieldLabels(_EVENT_CORE),
    ("events.k8s.io", "Event"): _FieldLabels(_EVENT_EVENTS),
    ("", "Namespace"): _FieldLabels(_same("status.phase", "metadata.name")),
    ("", "Secret"): _FieldLabels(_same("type", *_META)),
    ("", "Service"): _FieldLabels(_same(*_META, "spec.clusterIP", "spec.type")),
    ("batch", "Job"): _FieldLabels(
        _same(*_META, "status.successful"), 'field label "{label}" not supported for batchv1.Job'
    ),
    ("certificates.k8s.io", "CertificateSigningRequest"): _FieldLabels(
        _same("metadata.name", "spec.signerName")
    ),
}

_DEFAULT_LABELS = _FieldLabels(
    _same(*_META), '"{label}" is not a known field selector: only "metadata.name", "metadata.namespace"'
)


def _labels_for(group: str, kind: str) -> _FieldLabels:
    return _FIELD_LABELS.get((group, kind), _DEFAULT_LABELS)


def supported_fields(group: str, kind: str) -> set[str]:
    """The field labels clients may use for this kind in this API group."""
    return set(_labels_for(group, kind).mapping)


def field_label_conversion(group: str, kind: str, label: str) -> str:
    """Map a field label as a client spells it to the name :func:`object_fields` uses.

    Raises :class:`SelectorError` with upstream's message for unknown labels, e.g.
    ``field label not supported: foo``; the server answers that with a 400.
    """
    spec = _labels_for(group, kind)
    if label not in spec.mapping:
        raise SelectorError(spec.message.format(label=label))
    return spec.mapping[label]


def convert_field_selector(group: str, kind: str, selector: FieldSelector) -> FieldSelector:
    """Check every label of ``selector`` and rename it to its internal spelling."""
    return FieldSelector(
        FieldRequirement(field_label_conversion(group, kind, t.field), t.operator, t.value)
        for t in selector.terms
    )


def _get(obj: Mapping[str, Any] | None, *path: str) -> Any:
    cur: Any = obj
    for key in path:
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(key)
    return cur


def _s(value: Any, default: str = "") -> str:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_CLUSTER_SCOPED_WITH_FIELDS = {
    ("", "Node"),
    ("", "Namespace"),
    ("certificates.k8s.io", "CertificateSigningRequest"),
}


def object_fields(group: str, kind: str, obj: Mapping[str, Any]) -> dict[str, str]:
    """The selectable fields of ``obj`` keyed by internal label (upstream ``GetAttrs``).

    Values are strings as upstream renders them (booleans as ``true``/``false``,
    counts in decimal).  Missing fields that upstream defaults read as their
    default (a pod's ``spec.restartPolicy`` is ``Always``).  Select with a selector
    passed through :func:`convert_field_selector` first.
    """
    meta = obj.get("metadata") or {}
    fields: dict[str, str] = {"metadata.name": _s(meta.get("name"))}
    if (group, kind) not in _CLUSTER_SCOPED_WITH_FIELDS:
        fields["metadata.namespace"] = _s(meta.get("namespace"))
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    key = (group, kind)
    if key == ("", "Pod"):
        pod_ips = status.get("podIPs") or []
        first_ip = (
            pod_ips[0].get("ip") if pod_ips and isinstance(pod_ips[0], Mapping) else status.get("podIP")
        )
        fields.update(
            {
                "spec.nodeName": _s(spec.get("nodeName")),
                "spec.restartPolicy": _s(spec.get("restartPolicy"), "Always"),
                "spec.schedulerName": _s(spec.get("schedulerName"), "default-scheduler"),
                "spec.serviceAccountName": _s(spec.get("serviceAccountName")),
                "spec.hostNetwork": _s(bool(spec.get("hostNetwork"))),
                "status.phase": _s(status.get("phase")),
                "status.podIP": _s(first_ip),
                "status.nominatedNodeName": _s(status.get("nominatedNodeName")),
            }
        )
    elif key == ("", "Node"):
        fields["spec.unschedulable"] = _s(bool(spec.get("unschedulable")))
    elif key == ("", "Namespace"):
        fields["status.phase"] = _s(status.get("phase"), "Active")
    elif key == ("", "Secret"):
        fields["type"] = _s(obj.get("type"), "Opaque")
    elif key == ("", "Service"):
        fields["spec.clusterIP"] = _s(spec.get("clusterIP"))
        fields["spec.type"] = _s(spec.get("type"), "ClusterIP")
    elif key in (("", "ReplicationController"), ("apps", "ReplicaSet")):
        fields["status.replicas"] = str(int(status.get("replicas") or 0))
    elif key == ("batch", "Job"):
        fields["status.successful"] = str(int(status.get("succeeded") or 0))
    elif key == ("certificates.k8s.io", "CertificateSigningRequest"):
        fields["spec.signerName"] = _s(spec.get("signerName"))
    elif key in (("", "Event"), ("events.k8s.io", "Event")):
        fields.update(_event_fields(group, obj))
    return fields


def _event_fields(group: str, obj: Mapping[str, Any]) -> dict[str, str]:
    if group == "events.k8s.io":
        ref = obj.get("regarding") or {}
        reporting = _s(obj.get("reportingController"))
        source = _s(_get(obj, "deprecatedSource", "component"))
    else:
        ref = obj.get("involvedObject") or {}
        reporting = _s(obj.get("reportingComponent"))
        source = _s(_get(obj, "source", "component"))
    return {
        "involvedObject.kind": _s(ref.get("kind")),
        "involvedObject.namespace": _s(ref.get("namespace")),
        "involvedObject.name": _s(ref.get("name")),
        "involvedObject.uid": _s(ref.get("uid")),
        "involvedObject.apiVersion": _s(ref.get("apiVersion")),
        "involvedObject.resourceVersion": _s(ref.get("resourceVersion")),
        "involvedObject.fieldPath": _s(ref.get("fieldPath")),
        "reason": _s(obj.get("reason")),
        "reportingComponent": reporting,
        "source": source or reporting,
        "type": _s(obj.get("type")),
    }
