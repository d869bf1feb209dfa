"""Label and field selectors, with cases from upstream's labels/ and fields/ selector_test.go."""

from __future__ import annotations

import pytest

from kubeherd.api.selectors import (
    DOES_NOT_EXIST,
    EQUALS,
    EVERYTHING,
    EXISTS,
    IN,
    NOT_IN,
    NOTHING,
    FieldSelector,
    LabelSelector,
    Requirement,
    SelectorError,
    convert_field_selector,
    escape_field_value,
    field_label_conversion,
    label_selector_from_dict,
    label_selector_from_set,
    new_requirement,
    object_fields,
    parse_field_selector,
    parse_label_selector,
    supported_fields,
    unescape_field_value,
)

# --------------------------------------------------------------------------- label selectors


@pytest.mark.parametrize(
    "text",
    ["x=a,y=b,z=c", "", "x!=a,y=b", "x=", "x= ", "x=,z= ", "x= ,z= ", "!x", "x>1", "x>1,z<5"],
)
def test_good_selectors_round_trip(text: str) -> None:
    assert str(parse_label_selector(text)) == text.replace(" ", "")


@pytest.mark.parametrize(
    "text",
    [
        "x=a||y=b",
        "x==a==b",
        "!x=a",
        "x<a",
        "x,,y",
        ",x,y",
        "x nott in (y)",
        "a in (xyz),",
        "a in (xyz)b notin ()",
        "a in (xyz abc)",
        "a notin(",
        "a (",
        "(",
    ],
)
def test_bad_selectors_are_rejected(text: str) -> None:
    with pytest.raises(SelectorError):
        parse_label_selector(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x==a==b", "found '==', expected: ',' or 'end of string'"),
        ("x,,y", "found ',', expected: identifier after ','"),
        (",x,y", "found ',', expected: !, identifier, or 'end of string'"),
        ("a in (xyz),", "found '', expected: identifier after ','"),
        (
            "x nott in (y)",
            "unable to parse requirement: found 'nott', expected: in, notin, =, ==, !=, gt, lt",
        ),
        ("a in (xyz abc)", "unable to parse requirement: found 'abc', expected: ',' or ')'"),
        (
            "x<a",
            "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer",
        ),
        (
            "bad_key-",
            'unable to parse requirement: <nil>: Invalid value: "bad_key-": name part must consist of alphanumeric '
            "characters, '-', '_' or '.', and must start and end with an alphanumeric character "
            "(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
            "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
        ),
        (
            "app=a@b",
            'unable to parse requirement: values[0][app]: Invalid value: "a@b": a valid label must be an empty '
            "string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is "
            "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
        ),
    ],
)
def test_parse_errors_use_upstream_wording(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as e:
        parse_label_selector(text)
    assert str(e.value) == message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\rx", [Requirement("x", EXISTS)]),
        (
            "this-is-a-dns.domain.com/key-with-dash",
            [Requirement("this-is-a-dns.domain.com/key-with-dash", EXISTS)],
        ),
        ("foo  in\t (abc)", [Requirement("foo", IN, ("abc",))]),
        ("x notin\n (abc)", [Requirement("x", NOT_IN, ("abc",))]),
        ("x in (abc,)", [Requirement("x", IN, ("", "abc"))]),
        ("x in ()", [Requirement("x", IN, ("",))]),
        ("x notin ( )", [Requirement("x", NOT_IN, ("",))]),
        ("x notin (, a)", [Requirement("x", NOT_IN, ("", "a"))]),
        (
            "x notin (abc,,def),bar,z in (),w",
            [
                Requirement("bar", EXISTS),
                Requirement("w", EXISTS),
                Requirement("x", NOT_IN, ("", "abc", "def")),
                Requirement("z", IN, ("",)),
            ],
        ),
        ("a in (x,y,notin, z,in)", [Requirement("a", IN, ("in", "notin", "x", "y", "z"))]),
        ("a ", [Requirement("a", EXISTS)]),
    ],
)
def test_parsed_requirements(text: str, expected: list[Requirement]) -> None:
    assert list(parse_label_selector(text).requirements) == expected


def test_parse_is_deterministic() -> None:
    assert str(parse_label_selector("x=a,a=x")) == str(parse_label_selector("a=x,x=a")) == "a=x,x=a"


@pytest.mark.parametrize(
    ("selector", "labels", "match"),
    [
        ("", {"x": "y"}, True),
        ("x=y", {"x": "y"}, True),
        ("x=y,z=w", {"x": "y", "z": "w"}, True),
        ("x!=y,z!=w", {"x": "z", "z": "a"}, True),
        ("notin=in", {"notin": "in"}, True),
        ("x", {"x": "z"}, True),
        ("!x", {"y": "z"}, True),
        ("x>1", {"x": "2"}, True),
        ("x<1", {"x": "0"}, True),
        ("x=z", {}, False),
        ("x=y", {"x": "z"}, False),
        ("x!=y,z!=w", {"x": "z", "z": "w"}, False),
        ("x", {"y": "z"}, False),
        ("!x", {"x": "z"}, False),
        ("x>1", {"x": "0"}, False),
        ("x>1", {"x": "v2"}, False),
        ("x notin (a)", {}, True),
        ("x in (a,b)", {"x": "b"}, True),
        ("x in (a,b)", {}, False),
        ("foo=bar,foobar=bar,baz=blah", {"foo": "bar", "baz": "blah"}, False),
    ],
)
def test_matching(selector: str, labels: dict[str, str], match: bool) -> None:
    assert parse_label_selector(selector).matches(labels) is match


def test_to_string_sorts_values() -> None:
    sel = LabelSelector(
        [
            new_requirement("x", IN, ["def", "abc"]),
            new_requirement("y", NOT_IN, ["jkl"]),
            new_requirement("z", DOES_NOT_EXIST),
        ]
    )
    assert str(sel) == "x in (abc,def),y notin (jkl),!z"


@pytest.mark.parametrize(
    ("key", "op", "values", "message"),
    [
        (
            "x1",
            IN,
            [],
            "values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty",
        ),
        (
            "x5",
            EQUALS,
            ["bar", "foo"],
            'values: Invalid value: []string{"bar", "foo"}: exact-match compatibility requires one single value',
        ),
        (
            "x8",
            EXISTS,
            ["foo"],
            'values: Invalid value: []string{"foo"}: values set must be empty for exists and does not exist',
        ),
        (
            "x18",
            "unsupportedOp",
            [],
            'operator: Unsupported value: "unsupportedOp": supported values: "in", "notin", "=", "==", "!=", "gt", "lt", "exists", "!"',
        ),
        (
            "x16",
            EQUALS,
            ["a" * 254],
            f'values[0][x16]: Invalid value: "{"a" * 254}": must be no more than 63 characters',
        ),
    ],
)
def test_requirement_constructor_errors(key: str, op: str, values: list[str], message: str) -> None:
    with pytest.raises(SelectorError) as e:
        new_requirement(key, op, values)
    assert str(e.value).startswith(message)


def test_exact_match_introspection_for_indexes() -> None:
    sel = parse_label_selector("app=web,tier in (front),env in (a,b),x!=y")
    assert sel.exact_match("app") == "web"
    assert sel.exact_match("tier") == "front"
    assert sel.exact_match("env") is None
    assert sel.exact_match("x") is None
    assert sel.exact_matches() == {"app": "web", "tier": "front"}


def test_everything_and_nothing() -> None:
    assert EVERYTHING.empty and EVERYTHING.matches({"a": "b"})
    assert not NOTHING.empty and not NOTHING.matches({})
    assert parse_label_selector("").empty


def test_label_selector_from_dict() -> None:
    assert label_selector_from_dict(None) == NOTHING
    assert label_selector_from_dict({}).empty
    sel = label_selector_from_dict(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["a", "b"]},
                {"key": "legacy", "operator": "DoesNotExist"},
            ],
        }
    )
    assert str(sel) == "app=web,!legacy,tier in (a,b)"
    assert sel.matches({"app": "web", "tier": "b"})
    assert not sel.matches({"app": "web", "tier": "b", "legacy": "1"})


def test_label_selector_from_dict_errors() -> None:
    with pytest.raises(SelectorError, match='^"Foo" is not a valid label selector operator$'):
        label_selector_from_dict({"matchExpressions": [{"key": "a", "operator": "Foo"}]})
    with pytest.raises(SelectorError, match="values set can't be empty"):
        label_selector_from_dict({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]})


def test_label_selector_from_set() -> None:
    assert label_selector_from_set(None).empty
    assert str(label_selector_from_set({"app": "foo", "a": "b"})) == "a=b,app=foo"


# --------------------------------------------------------------------------- field selectors


@pytest.mark.parametrize("text", ["x=a,y=b,z=c", "", "x!=a,y=b", r"x=a||y\=b", r"x=a\=\=b"])
def test_field_selectors_round_trip(text: str) -> None:
    assert str(parse_field_selector(text)) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x=a||y=b", "invalid field selector: unescaped character in value: 61"),
        ("x==a==b", "invalid field selector: unescaped character in value: 61"),
        ("x=a,b", "invalid selector: 'x=a,b'; can't understand 'b'"),
        ("x in (a)", "invalid selector: 'x in (a)'; can't understand 'x in (a)'"),
        ("x", "invalid selector: 'x'; can't understand 'x'"),
        ("k=\\a", "invalid field selector: invalid escape sequence: \\a"),
    ],
)
def test_bad_field_selectors(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as e:
        parse_field_selector(text)
    assert str(e.value) == message


def test_field_selector_requirements_and_double_equals() -> None:
    sel = parse_field_selector("status.phase==Running,spec.nodeName!=n1")
    assert sel.requirements == [("spec.nodeName", "!=", "n1"), ("status.phase", "=", "Running")]
    assert str(sel) == "spec.nodeName!=n1,status.phase=Running"
    assert sel.exact_match("status.phase") == "Running"
    assert sel.exact_match("spec.nodeName") is None


@pytest.mark.parametrize(
    ("selector", "fields", "match"),
    [
        ("", {"x": "y"}, True),
        ("x=y", {"x": "y"}, True),
        ("x=y,z=w", {"x": "y", "z": "w"}, True),
        ("x!=y,z!=w", {"x": "z", "z": "a"}, True),
        ("notin=in", {"notin": "in"}, True),
        ("x=y", {"x": "z"}, False),
        ("x!=y,z!=w", {"x": "z", "z": "w"}, False),
        (r"foo=bar,complex=\=value\\\,\\", {"foo": "bar", "complex": "=value\\,\\"}, True),
        ("x=", {}, True),  # missing fields read as ""
        ("x!=a", {}, True),
    ],
)
def test_field_matching(selector: str, fields: dict[str, str], match: bool) -> None:
    assert parse_field_selector(selector).matches(fields) is match


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [("", ""), ("a", "a"), ("=", "\\="), (",", "\\,"), ("\\", "\\\\"), ("\\=\\,\\", "\\\\\\=\\\\\\,\\\\")],
)
def test_escape_round_trip(raw: str, escaped: str) -> None:
    assert escape_field_value(raw) == escaped
    assert unescape_field_value(escaped) == raw


def test_empty_field_selector() -> None:
    assert FieldSelector().empty
    assert parse_field_selector(",").empty


# --------------------------------------------------------------------------- per-kind fields


def test_unknown_field_labels_are_rejected_with_upstream_messages() -> None:
    with pytest.raises(SelectorError, match="^field label not supported: foo$"):
        field_label_conversion("", "Pod", "foo")
    with pytest.raises(
        SelectorError,
        match='^"spec.x" is not a known field selector: only "metadata.name", "metadata.namespace"$',
    ):
        field_label_conversion("", "ConfigMap", "spec.x")
    with pytest.raises(SelectorError, match='^field label "x" not supported for batchv1.Job$'):
        field_label_conversion("batch", "Job", "x")
    # apps/v1 registers no conversion, so status.replicas is not selectable there
    with pytest.raises(SelectorError):
        field_label_conversion("apps", "ReplicaSet", "status.replicas")
    # Node has no namespace label
    with pytest.raises(SelectorError, match="^field label not supported: metadata.namespace$"):
        field_label_conversion("", "Node", "metadata.namespace")


def test_supported_fields() -> None:
    assert {"spec.nodeName", "status.phase", "metadata.name", "metadata.namespace"} <= supported_fields(
        "", "Pod"
    )
    assert supported_fields("", "ConfigMap") == {"metadata.name", "metadata.namespace"}
    assert supported_fields("", "Node") == {"metadata.name", "spec.unschedulable"}
    assert "regarding.name" in supported_fields("events.k8s.io", "Event")
    assert supported_fields("certificates.k8s.io", "CertificateSigningRequest") == {
        "metadata.name",
        "spec.signerName",
    }


def test_pod_fields_and_selection() -> None:
    pod = {
        "metadata": {"name": "web-1", "namespace": "prod"},
        "spec": {"nodeName": "n1", "containers": []},
        "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.5"}]},
    }
    fields = object_fields("", "Pod", pod)
    assert fields["spec.nodeName"] == "n1"
    assert fields["spec.restartPolicy"] == "Always"
    assert fields["spec.hostNetwork"] == "false"
    assert fields["status.podIP"] == "10.0.0.5"
    assert fields["metadata.namespace"] == "prod"
    sel = convert_field_selector("", "Pod", parse_field_selector("spec.host=n1,status.phase!=Pending"))
    assert sel.requirements == [("spec.nodeName", "=", "n1"), ("status.phase", "!=", "Pending")]
    assert sel.matches(fields)


def test_event_fields_in_both_groups() -> None:
    core_event = {
        "metadata": {"name": "e", "namespace": "ns"},
        "involvedObject": {"kind": "Pod", "name": "p", "uid": "u1"},
        "reason": "Started",
        "reportingComponent": "kubelet",
        "type": "Normal",
    }
    fields = object_fields("", "Event", core_event)
    assert fields["involvedObject.kind"] == "Pod"
    assert fields["source"] == "kubelet"  # falls back to the reporting controller
    new_event = {
        "metadata": {"name": "e", "namespace": "ns"},
        "regarding": {"kind": "Pod", "name": "p"},
        "reportingController": "k",
    }
    sel = convert_field_selector(
        "events.k8s.io", "Event", parse_field_selector("regarding.name=p,reportingController=k")
    )
    assert sel.matches(object_fields("events.k8s.io", "Event", new_event))


def test_other_kind_fields() -> None:
    assert object_fields("", "Node", {"metadata": {"name": "n"}, "spec": {"unschedulable": True}}) == {
        "metadata.name": "n",
        "spec.unschedulable": "true",
    }
    assert object_fields("", "Secret", {"metadata": {"name": "s", "namespace": "d"}})["type"] == "Opaque"
    assert (
        object_fields("", "Namespace", {"metadata": {"name": "d"}, "status": {"phase": "Terminating"}})[
            "status.phase"
        ]
        == "Terminating"
    )
    assert (
        object_fields("batch", "Job", {"metadata": {"name": "j"}, "status": {"succeeded": 3}})[
            "status.successful"
        ]
        == "3"
    )
    assert (
        object_fields("", "ReplicationController", {"metadata": {}, "status": {"replicas": 2}})[
            "status.replicas"
        ]
        == "2"
    )
    assert (
        object_fields("", "Service", {"metadata": {"name": "s"}, "spec": {"clusterIP": "10.0.0.1"}})[
            "spec.type"
        ]
        == "ClusterIP"
    )
    csr = {"metadata": {"name": "c"}, "spec": {"signerName": "kubernetes.io/kubelet-serving"}}
    assert (
        object_fields("certificates.k8s.io", "CertificateSigningRequest", csr)["spec.signerName"]
        == "kubernetes.io/kubelet-serving"
    )
    assert object_fields("", "ConfigMap", {"metadata": {"name": "c", "namespace": "d"}}) == {
        "metadata.name": "c",
        "metadata.namespace": "d",
    }
