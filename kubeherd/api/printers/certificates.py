"""Printers for ``certificates.k8s.io``: CertificateSigningRequest and ClusterTrustBundle."""

from __future__ import annotations

import datetime

from ._format import Cell, Obj, age, dig, human_duration, integer, name, seq
from ._swagger import swagger
from ._table import AGE, NAME, Column, printer

GROUP = "certificates.k8s.io"

CSR_COLUMNS = (
    NAME,
    AGE,
    Column("SignerName", "string", swagger("certificates/v1beta1 CertificateSigningRequestSpec.signerName")),
    Column("Requestor", "string", swagger("certificates/v1beta1 CertificateSigningRequestSpec.request")),
    Column(
        "RequestedDuration",
        "string",
        swagger("certificates/v1beta1 CertificateSigningRequestSpec.expirationSeconds"),
    ),
    Column("Condition", "string", swagger("certificates/v1beta1 CertificateSigningRequestStatus.conditions")),
)


def csr_condition(csr: Obj) -> str:
    """``Denied`` over ``Approved`` over ``Pending``, then ``,Failed`` and ``,Issued`` as they apply."""
    types = {dig(c, "type") for c in seq(dig(csr, "status", "conditions"))}
    if "Denied" in types:
        condition = "Denied"
    elif "Approved" in types:
        condition = "Approved"
    else:
        condition = "Pending"
    if "Failed" in types:
        condition += ",Failed"
    if dig(csr, "status", "certificate"):
        condition += ",Issued"
    return condition


@printer(GROUP, "CertificateSigningRequest", CSR_COLUMNS)
def csr_row(csr: Obj, now: datetime.datetime) -> list[Cell]:
    seconds = dig(csr, "spec", "expirationSeconds")
    return [
        name(csr),
        age(csr, now),
        str(dig(csr, "spec", "signerName", default="")) or "<none>",
        str(dig(csr, "spec", "username", default="")),
        "<none>" if seconds is None else human_duration(integer(seconds)),
        csr_condition(csr),
    ]


CLUSTER_TRUST_BUNDLE_COLUMNS = (
    NAME,
    Column("SignerName", "string", swagger("certificates/v1beta1 ClusterTrustBundleSpec.signerName")),
)


@printer(GROUP, "ClusterTrustBundle", CLUSTER_TRUST_BUNDLE_COLUMNS)
def cluster_trust_bundle_row(obj: Obj, now: datetime.datetime) -> list[Cell]:
    return [name(obj), str(dig(obj, "spec", "signerName", default="")) or "<none>"]
