"""One record in storage per handed-out value: how cluster IPs and node ports stay unique.

Design. A value (an index into a ServiceCIDR or PortRange) is taken by creating its record key;
the Store's create refuses a key that exists, so that one call is the compare-and-swap that makes
two writers — two requests in this server, or two servers on one datastore — never get the same
value. Releasing a value deletes its key. This is upstream 1.33's design for cluster IPs (one
IPAddress object per address, networking.k8s.io/v1) applied to node ports too, instead of the
older single bitmap object that every allocation rewrites: per-key records need no retry loop
under concurrency, and the datastore commits concurrent creates in one group.

The in-memory `used` set is only a hint for choosing candidates without a storage read: a value
is marked before its record is created (so concurrent requests in this process never try the same
one), a record that turns out to exist already simply moves the search on, and `load` refreshes
the hint from storage. Records outlive a crash between the record write and the Service write;
the Service repair pass (allocation.py) finds such leaks and releases them.
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import Callable, Iterator

from kubeherd.apiserver.services.ranges import AlreadyAllocated, RangeFull
from kubeherd.storage.interface import KeyExists, KeyNotFound, Store

log = logging.getLogger(__name__)


class RecordAllocator:
    """Values 0..size-1, dynamic ones from [band, size) first, each held by a storage record."""

    def __init__(self, store: Store, prefix: str, size: int, band: int, name: Callable[[int], str]) -> None:
        self.store = store
        self.prefix = prefix
        self.size = size
        self.band = band
        self.name = name
        self.used: set[int] = set()

    def key(self, value: int) -> str:
        return self.prefix + self.name(value)

    def has(self, value: int) -> bool:
        return value in self.used

    async def allocate(self, value: int, record: bytes) -> None:
        """Take `value`; AlreadyAllocated when someone holds it."""
        self.used.add(value)
        try:
            await self.store.create(self.key(value), record)
        except KeyExists:
            raise AlreadyAllocated() from None
        except BaseException:
            self.used.discard(value)
            raise

    async def allocate_next(self, record: bytes) -> int:
        """Take a free value at random, the upper band first; RangeFull when none is left."""
        for value in self._candidates():
            self.used.add(value)
            try:
                await self.store.create(self.key(value), record)
            except KeyExists:
                continue  # taken by another writer since our view was refreshed: look further
            except BaseException:
                self.used.discard(value)
                raise
            return value
        raise RangeFull()

    def peek_next(self) -> int:
        """A value allocate_next could return now, taking nothing (for dry runs)."""
        for value in self._candidates():
            return value
        raise RangeFull()

    def _candidates(self) -> Iterator[int]:
        for low, high in ((self.band, self.size), (0, self.band)):
            if high <= low:
                continue
            start = random.randrange(low, high)
            for value in (*range(start, high), *range(low, start)):
                if value not in self.used:
                    yield value

    async def release(self, value: int) -> None:
        """Give `value` back; releasing a value nobody holds is a no-op."""
        with contextlib.suppress(KeyNotFound):
            await self.store.delete(self.key(value))
        self.used.discard(value)

    async def adopt(self, value: int, record: bytes) -> bool:
        """Write the record of a value a stored Service already holds (repair); False when the
        record exists (held by someone else, or written meanwhile)."""
        self.used.add(value)
        try:
            await self.store.create(self.key(value), record)
        except KeyExists:
            return False
        return True

    async def load(self, parse: Callable[[str], int | None]) -> dict[int, bytes]:
        """Every record in storage by value (`parse` maps a record name to its value, None for a
        record outside this range); the `used` hint becomes exactly those values."""
        result = await self.store.list(self.prefix)
        records: dict[int, bytes] = {}
        for kv in result.items:
            value = parse(kv.key[len(self.prefix):])
            if value is not None:
                records[value] = kv.value
        # A value being created right now may drop out of the hint: harmless, the store decides.
        self.used = set(records)
        return records
