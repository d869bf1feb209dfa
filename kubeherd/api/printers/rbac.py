"""Printers for ``rbac.authorization.k8s.io``.

Bindings have printers; Role and ClusterRole are served through the generic Name/Created At table.
"""

from __future__ import annotations

import datetime

from ._format import Cell, Obj, age, dig, name, seq
from ._swagger import swagger
from ._table import AGE, NAME, Column, generic, printer


def _binding_columns(kind: str, doc_type: str) -> tuple[Column, ...]:
    return (
        NAME,
        Column("Role", "string", swagger(f"rbac/v1beta1 {doc_type}.roleRef")),
        AGE,
        Column("Users", "string", f"Users in the {kind}", priority=1),
        Column("Groups", "string", f"Groups in the {kind}", priority=1),
        Column("ServiceAccounts", "string", f"ServiceAccounts in the {kind}", priority=1),
    )


def binding_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    users: list[str] = []
    groups: list[str] = []
    service_accounts: list[str] = []
    for subject in seq(obj.get("subjects")):
        kind = dig(subject, "kind")
        subject_name = str(dig(subject, "name", default=""))
        if kind == "ServiceAccount":
            service_accounts.append(f"{dig(subject, 'namespace', default='')}/{subject_name}")
        elif kind == "User":
            users.append(subject_name)
        elif kind == "Group":
            groups.append(subject_name)
    role = f"{dig(obj, 'roleRef', 'kind', default='')}/{dig(obj, 'roleRef', 'name', default='')}"
    return [name(obj), role, age(obj, now), ", ".join(users), ", ".join(groups), ", ".join(service_accounts)]


GROUP = "rbac.authorization.k8s.io"
printer(GROUP, "RoleBinding", _binding_columns("roleBinding", "RoleBinding"))(binding_row)
printer(GROUP, "ClusterRoleBinding", _binding_columns("clusterRoleBinding", "ClusterRoleBinding"))(
    binding_row
)
generic(GROUP, "Role")
generic(GROUP, "ClusterRole")
