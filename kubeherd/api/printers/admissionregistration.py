"""Printers for ``admissionregistration.k8s.io``: webhook configurations and admission policies."""

from __future__ import annotations

import datetime
from collections.abc import Mapping

from ._format import Cell, Obj, age, dig, label_selector_struct_string, name, seq
from ._table import AGE, NAME, Column, printer

GROUP = "admissionregistration.k8s.io"

WEBHOOK_COLUMNS = (
    NAME,
    Column(
        "Webhooks", "integer", "Webhooks indicates the number of webhooks registered in this configuration"
    ),
    AGE,
)


def webhook_configuration_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    return [name(obj), len(seq(obj.get("webhooks"))), age(obj, now)]


printer(GROUP, "MutatingWebhookConfiguration", WEBHOOK_COLUMNS)(webhook_configuration_row)
printer(GROUP, "ValidatingWebhookConfiguration", WEBHOOK_COLUMNS)(webhook_configuration_row)

_PARAM_KIND = Column(
    "ParamKind", "string", "ParamKind specifies the kind of resources used to parameterize this policy"
)


def _param_kind(policy: Obj) -> str:
    kind = dig(policy, "spec", "paramKind")
    if not isinstance(kind, Mapping):
        return "<unset>"
    return f"{kind.get('apiVersion') or ''}/{kind.get('kind') or ''}"


VALIDATING_POLICY_COLUMNS = (
    NAME,
    Column(
        "Validations",
        "integer",
        "Validations indicates the number of validation rules defined in this configuration",
    ),
    _PARAM_KIND,
    AGE,
)


@printer(GROUP, "ValidatingAdmissionPolicy", VALIDATING_POLICY_COLUMNS)
def validating_admission_policy_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    return [name(obj), len(seq(dig(obj, "spec", "validations"))), _param_kind(obj), age(obj, now)]


MUTATING_POLICY_COLUMNS = (
    NAME,
    Column(
        "Mutations",
        "integer",
        "Mutation indicates the number of mutations rules defined in this configuration",
    ),
    _PARAM_KIND,
    AGE,
)


@printer(GROUP, "MutatingAdmissionPolicy", MUTATING_POLICY_COLUMNS)
def mutating_admission_policy_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    return [name(obj), len(seq(dig(obj, "spec", "mutations"))), _param_kind(obj), age(obj, now)]


POLICY_BINDING_COLUMNS = (
    NAME,
    Column(
        "PolicyName",
        "string",
        "PolicyName indicates the policy definition which the policy binding binded to",
    ),
    Column("ParamRef", "string", "ParamRef indicates the param resource which sets the configration param"),
    AGE,
)


def policy_binding_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    ref = dig(obj, "spec", "paramRef")
    param = "<unset>"
    if isinstance(ref, Mapping):
        if ref.get("name"):
            # Whether the param is cluster-scoped cannot be told here, so a missing namespace is "*".
            param = f"{ref.get('namespace') or '*'}/{ref['name']}"
        elif isinstance(ref.get("selector"), Mapping):
            param = label_selector_struct_string(ref["selector"])
    return [name(obj), str(dig(obj, "spec", "policyName", default="")), param, age(obj, now)]


printer(GROUP, "ValidatingAdmissionPolicyBinding", POLICY_BINDING_COLUMNS)(policy_binding_row)
printer(GROUP, "MutatingAdmissionPolicyBinding", POLICY_BINDING_COLUMNS)(policy_binding_row)
