#!/usr/bin/env python3
"""Generate ``kubeherd/api/protobuf/tables.py`` from the upstream Kubernetes sources.

The Kubernetes protobuf wire format is defined by the ``generated.proto`` files that
go-to-protobuf writes next to the Go types of every API group. Those files give each
message's field numbers and wire types, but not the JSON form of the object: the JSON
names, which fields are dropped when empty, and which structs are flattened into their
parent all live in the Go struct tags (``json:"name,omitempty" protobuf:"bytes,1,opt,name=x"``)
of the same package. To turn a protobuf body into exactly the dict a JSON body would have
given, the decoder needs both, so this script reads both and joins them by field number:

* ``generated.proto``  -> messages, field numbers, scalar/message/map/repeated types;
* the Go structs        -> JSON name, ``omitempty`` on non-pointer scalars (a zero value on
  the wire is then dropped, as Go's encoding/json drops it), ``json:",inline"`` (the
  sub-message's fields are merged into the parent), ``metav1.TypeMeta`` (the struct is a
  top-level kind), and types with their own ``MarshalJSON`` (Time, Quantity, IntOrString,
  RawExtension, ... which the decoder converts with a hand-written codec);
* each package's ``register.go`` -> its API group name, so kinds map to ``apiVersion``.

The join is checked both ways (every proto field must find its Go field, with the same
proto name in the Go tag), so a mismatch fails loudly instead of producing a wrong table.

Sources are checkouts of kubernetes/api, kubernetes/apimachinery and
kubernetes/apiextensions-apiserver, given either as a directory with the files, or as
``GITDIR@REF`` to read a ref from a (bare) git repository::

    python hack/gen_proto_tables.py \\
        --api /src/kubernetes-api@v0.33.0 \\
        --apimachinery /src/apimachinery@v0.33.0 \\
        --apiextensions-apiserver /src/apiextensions-apiserver@v0.33.0 \\
        -o kubeherd/api/protobuf/tables.py

``--report`` prints the fields whose JSON name differs from the proto name.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

# (proto package, source, directory) for every package the tables cover.
PACKAGES: tuple[tuple[str, str, str], ...] = (
    ("k8s.io.apimachinery.pkg.apis.meta.v1", "apimachinery", "pkg/apis/meta/v1"),
    ("k8s.io.apimachinery.pkg.runtime", "apimachinery", "pkg/runtime"),
    ("k8s.io.apimachinery.pkg.runtime.schema", "apimachinery", "pkg/runtime/schema"),
    ("k8s.io.apimachinery.pkg.util.intstr", "apimachinery", "pkg/util/intstr"),
    ("k8s.io.apimachinery.pkg.api.resource", "apimachinery", "pkg/api/resource"),
    *(
        (f"k8s.io.api.{d.replace('/', '.')}", "api", d)
        for d in (
            "core/v1", "apps/v1", "batch/v1", "autoscaling/v1", "autoscaling/v2", "policy/v1",
            "networking/v1", "rbac/v1", "storage/v1", "coordination/v1", "discovery/v1", "events/v1",
            "scheduling/v1", "node/v1", "admissionregistration/v1", "certificates/v1",
            "authentication/v1", "authentication/v1beta1", "authorization/v1",
        )
    ),
    (
        "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1",
        "apiextensions-apiserver",
        "pkg/apis/apiextensions/v1",
    ),
)

METAV1 = "k8s.io.apimachinery.pkg.apis.meta.v1"

SCALARS = frozenset({
    "double", "float", "int32", "int64", "uint32", "uint64", "sint32", "sint64",
    "fixed32", "fixed64", "sfixed32", "sfixed64", "bool", "string", "bytes",
})

# Field flags written into the table (kept in sync with kubeherd/api/protobuf/__init__.py).
REPEATED = 1
OMIT_ZERO = 2  # non-pointer scalar with `omitempty`: a zero value is not part of the JSON form
INLINE = 4  # `json:",inline"`: the sub-message's fields belong to the parent object
ALWAYS = 8  # non-pointer scalar or struct: a Go client writes it even when zero (encoding only)
NULL = 16  # pointer, slice or map without `omitempty`: Go's JSON says `null` when it is unset


class Source:
    """A tree of upstream files: a plain directory, or ``GITDIR@REF`` read with git."""

    def __init__(self, spec: str) -> None:
        path, _, ref = spec.rpartition("@") if "@" in spec else (spec, "", "")
        self.path = Path(path)
        self.ref = ref or None
        self.spec = spec

    def list(self, directory: str) -> list[str]:
        if self.ref is None:
            return sorted(p.name for p in (self.path / directory).iterdir() if p.is_file())
        out = subprocess.run(
            ["git", "-C", str(self.path), "ls-tree", "--name-only", f"{self.ref}:{directory}"],
            check=True, capture_output=True, text=True,
        ).stdout
        return sorted(out.split())

    def read(self, path: str) -> str:
        if self.ref is None:
            return (self.path / path).read_text()
        return subprocess.run(
            ["git", "-C", str(self.path), "show", f"{self.ref}:{path}"],
            check=True, capture_output=True, text=True,
        ).stdout

    def describe(self) -> str:
        if self.ref is None:
            return str(self.path)
        commit = subprocess.run(
            ["git", "-C", str(self.path), "rev-parse", f"{self.ref}^{{commit}}"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
        return f"{self.ref} ({commit})"


# --- generated.proto -------------------------------------------------------------------------

@dataclass
class ProtoField:
    number: int
    name: str
    type: str  # scalar name, fully qualified message name, or "map<K,V>"
    repeated: bool


@dataclass
class ProtoMessage:
    name: str  # fully qualified, without the leading dot
    fields: list[ProtoField] = field(default_factory=list)


_FIELD = re.compile(r"^(optional|repeated|required)\s+(\S+)\s+(\w+)\s*=\s*(\d+)\s*(?:\[[^\]]*\])?\s*;$")
_MAP = re.compile(r"^map<\s*(\w+)\s*,\s*(\S+)\s*>\s+(\w+)\s*=\s*(\d+)\s*;$")


def _strip_proto_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def parse_proto(text: str) -> tuple[str, list[ProtoMessage]]:
    package = ""
    messages: list[ProtoMessage] = []
    current: ProtoMessage | None = None
    for raw in _strip_proto_comments(text).splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("package "):
            package = line[len("package "):].rstrip(";").strip()
        elif line.startswith("message "):
            if current is not None:
                raise SystemExit(f"nested message in {package}: {line}")
            current = ProtoMessage(f"{package}.{line.split()[1]}")
        elif line == "}":
            if current is None:
                raise SystemExit(f"unbalanced '}}' in {package}")
            messages.append(current)
            current = None
        elif current is not None:
            if m := _MAP.match(line):
                key, value, name, number = m.groups()
                current.fields.append(ProtoField(int(number), name, f"map<{key},{value}>", False))
            elif m := _FIELD.match(line):
                label, typ, name, number = m.groups()[:4]
                current.fields.append(ProtoField(int(number), name, typ, label == "repeated"))
            else:
                raise SystemExit(f"unparsed line in {current.name}: {line}")
        elif not line.startswith(("syntax ", "import ", "option ")):
            raise SystemExit(f"unparsed line in {package}: {line}")
    return package, messages


def _resolve(typ: str, package: str) -> str:
    if typ in SCALARS:
        return typ
    if typ.startswith("."):
        return typ[1:]
    return f"{package}.{typ}"


# --- Go structs ------------------------------------------------------------------------------

@dataclass
class GoField:
    name: str | None  # None for an embedded field
    type: str
    tags: dict[str, str]

    @property
    def proto_number(self) -> int | None:
        tag = self.tags.get("protobuf")
        if not tag or tag == "-":
            return None
        return int(tag.split(",")[1])

    @property
    def proto_name(self) -> str | None:
        for part in self.tags.get("protobuf", "").split(","):
            if part.startswith("name="):
                return part[len("name="):]
        return None


@dataclass
class GoPackage:
    group: str | None = None
    structs: dict[str, list[GoField]] = field(default_factory=dict)
    slices: set[str] = field(default_factory=set)  # named non-struct types (`type Verbs []string`)
    custom_json: set[str] = field(default_factory=set)  # types with their own MarshalJSON
    metav1_defs: dict[str, str] = field(default_factory=dict)  # `type List metav1.List`


_STRUCT = re.compile(r"^type\s+(\w+)\s+struct\s*\{\s*$")
_NAMED_SLICE = re.compile(r"^type\s+(\w+)\s+(?:\[\]|map\[)")
_METAV1_DEF = re.compile(r"^type\s+(\w+)\s+metav1\.(\w+)\s*$")
_GO_FIELD = re.compile(r"^\s*(?:(\w+)\s+)?([^\s`]+)\s+`([^`]*)`")
_TAG = re.compile(r'(\w+):"([^"]*)"')
_MARSHAL_JSON = re.compile(r"^func\s+\(\w+\s+\*?(\w+)\)\s+MarshalJSON\(\)")
_GROUP_NAME = re.compile(r'^const\s+GroupName\s*=\s*"([^"]*)"', re.M)


def parse_go_package(source: Source, directory: str) -> GoPackage:
    pkg = GoPackage()
    for name in source.list(directory):
        if (not name.endswith(".go") or name.endswith("_test.go") or name == "generated.pb.go"
                or name.startswith("zz_generated") or name.endswith("_swagger_doc_generated.go")):
            continue
        text = source.read(f"{directory}/{name}")
        if m := _GROUP_NAME.search(text):
            pkg.group = m.group(1)
        struct: list[GoField] | None = None
        for line in text.splitlines():
            if struct is None:
                if m := _STRUCT.match(line):
                    struct = pkg.structs.setdefault(m.group(1), [])
                elif m := _NAMED_SLICE.match(line):
                    pkg.slices.add(m.group(1))
                elif m := _MARSHAL_JSON.match(line):
                    pkg.custom_json.add(m.group(1))
                elif m := _METAV1_DEF.match(line):
                    pkg.metav1_defs[m.group(1)] = m.group(2)
                continue
            if line.startswith("}"):
                struct = None
                continue
            if line.lstrip().startswith("//"):
                continue
            if m := _GO_FIELD.match(line):
                struct.append(GoField(m.group(1), m.group(2), dict(_TAG.findall(m.group(3)))))
    return pkg


def _go_shape(go_type: str, pkg: GoPackage, go: dict[str, GoPackage]) -> str:
    """"pointer", "slice" (slices, maps and named ones like ResourceList) or "value"."""
    if go_type.startswith("*"):
        return "pointer"
    if go_type.startswith(("[]", "map[")):
        return "slice"
    qualifier, _, short = go_type.rpartition(".")
    packages = [pkg] if not qualifier else list(go.values())
    if any(short in p.slices for p in packages):
        return "slice"
    return "value"


# --- the join --------------------------------------------------------------------------------

@dataclass
class Row:
    number: int
    name: str
    type: str
    flags: int


def build(sources: dict[str, Source]) -> tuple[
    dict[str, list[Row]], dict[tuple[str, str], str], set[str], list[str]
]:
    """Messages -> rows, (apiVersion, kind) -> message, custom-JSON messages, name report."""
    protos: dict[str, ProtoMessage] = {}
    go: dict[str, GoPackage] = {}
    package_of: dict[str, str] = {}
    for package, src, directory in PACKAGES:
        parsed_package, messages = parse_proto(sources[src].read(f"{directory}/generated.proto"))
        if parsed_package != package:
            raise SystemExit(f"{directory}/generated.proto declares {parsed_package}, expected {package}")
        for message in messages:
            for f in message.fields:
                if f.type.startswith("map<"):
                    key, value = f.type[4:-1].split(",")
                    f.type = f"map<{_resolve(key, package)},{_resolve(value, package)}>"
                else:
                    f.type = _resolve(f.type, package)
            protos[message.name] = message
            package_of[message.name] = package
        go[package] = parse_go_package(sources[src], directory)

    tables: dict[str, list[Row]] = {}
    kinds: dict[tuple[str, str], str] = {}
    custom: set[str] = set()
    report: list[str] = []
    errors: list[str] = []
    for name, message in protos.items():
        package = package_of[name]
        short = name[len(package) + 1:]
        pkg = go[package]
        struct = pkg.structs.get(short)
        if struct is None and short in pkg.metav1_defs:
            struct = go[METAV1].structs.get(pkg.metav1_defs[short])
        by_number = {gf.proto_number: gf for gf in struct or () if gf.proto_number is not None}
        # Custom JSON: an own MarshalJSON, a named slice (`type Verbs []string`), or a struct whose
        # proto fields are not Go fields (Time, and QuantityValue, which embeds Quantity).
        is_custom = short in pkg.custom_json or short in pkg.slices or (bool(message.fields) and not by_number)
        if is_custom:
            custom.add(name)
        if struct is not None and pkg.group is not None and any(
            gf.name is None and gf.type in ("metav1.TypeMeta", "TypeMeta") and "protobuf" not in gf.tags
            for gf in struct
        ):
            version = package.rsplit(".", 1)[1]
            kinds[(f"{pkg.group}/{version}" if pkg.group else version, short)] = name
        rows: list[Row] = []
        for f in message.fields:
            typ = f.type
            for t in (typ[4:-1].split(",") if typ.startswith("map<") else [typ]):
                if t not in SCALARS and t not in protos:
                    errors.append(f"{name}.{f.name}: unknown type {t}")
            flags = REPEATED if f.repeated else 0
            gf = by_number.get(f.number)
            if is_custom:
                # Custom JSON: the codec works on the proto names; the Go tags don't apply.
                rows.append(Row(f.number, f.name, typ, flags))
                continue
            if gf is None:
                errors.append(f"{name}.{f.name} = {f.number}: no Go field with that protobuf number")
                continue
            if gf.proto_name not in (None, f.name):
                errors.append(f"{name}.{f.name}: Go tag says name={gf.proto_name}")
            json_name, _, options = gf.tags.get("json", "").partition(",")
            opts = set(options.split(",")) if options else set()
            if json_name == "" and "inline" in opts:
                flags |= INLINE
                json_name = f.name
                report.append(f"{name}.{f.name} = {f.number}: inlined into the parent (json:\",inline\")")
            elif json_name in ("", "-"):
                errors.append(f"{name}.{f.name}: Go field {gf.name} has no JSON name")
                continue
            elif json_name != f.name:
                report.append(f"{name}.{f.name} = {f.number}: JSON name {json_name!r}")
            shape = _go_shape(gf.type, pkg, go)
            if shape == "value" and typ in SCALARS and "omitempty" in opts:
                flags |= OMIT_ZERO
            if shape == "value" and not flags & INLINE:
                flags |= ALWAYS
            if shape != "value" and "omitempty" not in opts and not flags & INLINE:
                flags |= NULL
            rows.append(Row(f.number, json_name, typ, flags))
        tables[name] = rows
    if errors:
        raise SystemExit("\n".join(["cannot build the tables:", *errors]))
    return tables, kinds, custom, report


# --- output ----------------------------------------------------------------------------------

def render(sources: dict[str, Source], tables: dict[str, list[Row]], kinds: dict[tuple[str, str], str],
           custom: set[str]) -> str:
    # Message names repeat a lot; the module refers to packages through short aliases.
    packages = sorted({p for p, _, _ in PACKAGES}, key=len, reverse=True)
    alias = {p: f"_P{i}" for i, p in enumerate(sorted(packages))}

    def ref(name: str) -> str:
        if name in SCALARS:
            return repr(name)
        for p in packages:
            if name.startswith(p + ".") and "." not in name[len(p) + 1:]:
                return f"{alias[p]} + {name[len(p):]!r}"
        raise SystemExit(f"no package for {name}")

    def typ(t: str) -> str:
        if t.startswith("map<"):
            key, value = t[4:-1].split(",")
            return f"('map', {ref(key)}, {ref(value)})"
        return ref(t)

    out = [
        '"""Field tables of the Kubernetes protobuf messages. GENERATED, do not edit.',
        "",
        "Written by hack/gen_proto_tables.py from the upstream generated.proto files and Go types:",
        *(f"  {key}: {src.describe()}" for key, src in sorted(sources.items())),
        "",
        "MESSAGES maps a message to its fields: (number, JSON name, type, flags); a type is a scalar",
        "name, a message name or ('map', key, value); flags: 1 repeated, 2 omit the zero value,",
        "4 inline into the parent, 8 written even when zero (a non-pointer Go field), 16 null in JSON",
        "when unset (a pointer, slice or map without omitempty). KINDS maps",
        "(apiVersion, kind) to a message. CUSTOM_JSON lists the messages whose JSON form is not field",
        "by field (they need a codec in the decoder); their fields carry proto names and no flags.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import Any",
        "",
        *(f"{alias[p]} = {p!r}" for p in sorted(packages)),
        "",
        "MESSAGES: dict[str, tuple[tuple[int, str, Any, int], ...]] = {",
    ]
    for name in sorted(tables):
        rows = tables[name]
        out.append(f"    {ref(name)}: (")
        for r in rows:
            out.append(f"        ({r.number}, {r.name!r}, {typ(r.type)}, {r.flags}),")
        out.append("    ),")
    out.append("}")
    out.append("")
    out.append("KINDS: dict[tuple[str, str], str] = {")
    for (api_version, kind), name in sorted(kinds.items()):
        out.append(f"    ({api_version!r}, {kind!r}): {ref(name)},")
    out.append("}")
    out.append("")
    out.append("CUSTOM_JSON: frozenset[str] = frozenset({")
    for name in sorted(custom):
        out.append(f"    {ref(name)},")
    out.append("})")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", required=True, help="kubernetes/api: DIR or GITDIR@REF")
    parser.add_argument("--apimachinery", required=True, help="kubernetes/apimachinery: DIR or GITDIR@REF")
    parser.add_argument("--apiextensions-apiserver", required=True,
                        help="kubernetes/apiextensions-apiserver: DIR or GITDIR@REF")
    parser.add_argument("-o", "--output", default=os.path.join("kubeherd", "api", "protobuf", "tables.py"))
    parser.add_argument("--report", action="store_true", help="print JSON names that differ from proto names")
    args = parser.parse_args(argv)
    sources = {
        "api": Source(args.api),
        "apimachinery": Source(args.apimachinery),
        "apiextensions-apiserver": Source(args.apiextensions_apiserver),
    }
    tables, kinds, custom, report = build(sources)
    Path(args.output).write_text(render(sources, tables, kinds, custom))
    if args.report:
        print("\n".join(report))
    print(f"{len(tables)} messages, {len(kinds)} kinds, {len(custom)} with custom JSON -> {args.output}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
