"""``apiextensions.k8s.io``: upstream gives CustomResourceDefinition no printer of its own.

Its storage uses the generic convertor, so ``kubectl get crd`` shows ``NAME`` and ``CREATED AT``.
The custom resources a CRD defines are the unregistered-kind fallback in `_table`.
"""

from __future__ import annotations

from ._table import generic

generic("apiextensions.k8s.io", "CustomResourceDefinition")
