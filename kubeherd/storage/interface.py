"""The Store protocol: a revisioned key-value store with watch, shaped like etcd v3.

Every backend (SQLite now, etcd later) implements this protocol and passes the one
conformance suite in tests/unit/storage_conformance.py unchanged.

Semantics every backend keeps:
- One global revision counter: 0 for a new, empty store; the first write gets revision 1 and
  every successful create, update or delete increments it by exactly one (a failed one never).
  Revisions survive restarts: a reopened store continues where it stopped.
- A key's ``mod_revision`` is the revision of its last write; ``create_revision`` is the
  revision at which it was created (a key deleted and created again gets a new one).
- Values are opaque bytes; the store never looks inside them.
- Watches deliver every event after their start revision, in revision order, with no gaps and
  no duplicates, until the caller stops iterating. Starting at a revision at or below the
  compacted revision raises ``Compacted``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal, Protocol

EventType = Literal["ADDED", "MODIFIED", "DELETED"]


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: str
    value: bytes
    mod_revision: int
    create_revision: int


@dataclass(frozen=True, slots=True)
class Event:
    """One write. For DELETED, ``kv.value`` is the value just before deletion and
    ``kv.mod_revision`` is the revision of the delete itself."""

    type: EventType
    kv: KeyValue
    prev_value: bytes | None = None


@dataclass(frozen=True, slots=True)
class ListResult:
    items: list[KeyValue]
    revision: int  # the revision the list was read at
    more: bool  # True when ``limit`` cut the list short


class StoreError(Exception):
    pass


class KeyExists(StoreError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key exists: {key}")
        self.key = key


class KeyNotFound(StoreError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key not found: {key}")
        self.key = key


class RevisionConflict(StoreError):
    """Compare-and-swap failed: the key's mod_revision is not the expected one."""

    def __init__(self, key: str, expected: int, actual: int) -> None:
        super().__init__(f"revision conflict on {key}: expected {expected}, found {actual}")
        self.key = key
        self.expected = expected
        self.actual = actual


class Compacted(StoreError):
    """The requested revision is older than what the store still keeps."""

    def __init__(self, requested: int, compacted: int) -> None:
        super().__init__(f"revision {requested} has been compacted (compacted revision {compacted})")
        self.requested = requested
        self.compacted = compacted


class FutureRevision(StoreError):
    """The requested revision is newer than the store's current revision."""

    def __init__(self, requested: int, current: int) -> None:
        super().__init__(f"revision {requested} is in the future (current revision {current})")
        self.requested = requested
        self.current = current


class Store(Protocol):
    async def start(self) -> None:
        """Open the backend; after this, every other method may be called."""

    async def close(self) -> None:
        """Flush pending writes, end all watches, release the backend."""

    def current_revision(self) -> int:
        """The revision of the last acknowledged write (0 for an empty, new store)."""

    def compacted_revision(self) -> int:
        """Revisions at or below this one can no longer be read or watched from (0: none)."""

    async def get(self, key: str, revision: int = 0) -> KeyValue | None:
        """The key's value at ``revision`` (0: latest), or None if absent then."""

    async def list(
        self, prefix: str, *, start_after: str = "", limit: int = 0, revision: int = 0
    ) -> ListResult:
        """Keys starting with ``prefix``, sorted by key, strictly after ``start_after``,
        at most ``limit`` of them (0: all), as of ``revision`` (0: latest)."""

    async def create(self, key: str, value: bytes) -> KeyValue:
        """Raises KeyExists if the key is present."""

    async def update(self, key: str, value: bytes, expected_revision: int = 0) -> KeyValue:
        """Compare-and-swap when ``expected_revision`` is non-zero (RevisionConflict on
        mismatch). Raises KeyNotFound if the key is absent."""

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        """Returns the deleted value with ``mod_revision`` set to the delete's revision.
        Raises KeyNotFound / RevisionConflict like ``update``."""

    def watch(self, prefix: str, start_revision: int) -> AsyncIterator[Event]:
        """Events for keys with ``prefix`` whose revision is >= ``start_revision``.
        Raises Compacted (on first iteration) if start_revision <= compacted_revision()."""

    async def compact(self, revision: int) -> None:
        """Forget history at or below ``revision``; current values are always kept."""
