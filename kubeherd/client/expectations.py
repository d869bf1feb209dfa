"""Expectations: a controller remembers the creates and deletes it asked for, and does not act
again on a key until its informer has seen them (or five minutes have passed, in case a watch
event was lost). This is what stops a ReplicaSet from creating its pods twice while its cache
still shows none.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

EXPECTATIONS_TIMEOUT = 300.0


@dataclass(slots=True)
class _Expectation:
    adds: int
    deletes: int
    stamp: float


class Expectations:
    def __init__(self, timeout: float = EXPECTATIONS_TIMEOUT) -> None:
        self.timeout = timeout
        self._by_key: dict[str, _Expectation] = {}

    def satisfied(self, key: str) -> bool:
        exp = self._by_key.get(key)
        if exp is None:
            return True
        if exp.adds <= 0 and exp.deletes <= 0:
            return True
        return time.monotonic() - exp.stamp > self.timeout

    def expect(self, key: str, adds: int = 0, deletes: int = 0) -> None:
        self._by_key[key] = _Expectation(adds, deletes, time.monotonic())

    def creation_observed(self, key: str) -> None:
        exp = self._by_key.get(key)
        if exp is not None:
            exp.adds -= 1

    def deletion_observed(self, key: str) -> None:
        exp = self._by_key.get(key)
        if exp is not None:
            exp.deletes -= 1

    def lower(self, key: str, adds: int = 0, deletes: int = 0) -> None:
        """Forget expectations for calls that failed and so will never be observed."""
        exp = self._by_key.get(key)
        if exp is not None:
            exp.adds -= adds
            exp.deletes -= deletes

    def delete(self, key: str) -> None:
        self._by_key.pop(key, None)
