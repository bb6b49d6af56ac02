"""A worker's copy of something kept in the store, replaced when the store's version of it moves.

The version is read as each request begins (``store/change_feed.py``); a request that sees a
newer version than the copy's waits for the new copy before it is admitted, so a change holds
for every request that starts after it committed. The read runs off the event loop, and the
requests that arrive while it runs share it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class VersionedCopy(Generic[T]):
    def __init__(self, load: Callable[[int], T], empty: T) -> None:
        """``load(version)`` reads the store (blocking); what it reads may be newer than
        ``version``, never older, so it is read again when a later version is seen."""
        self._load = load
        self.value = empty
        self.version: int | None = None
        self._loading: tuple[int, asyncio.Future[T]] | None = None

    async def sync(self, version: int) -> bool:
        """True if this call installed a new copy."""
        if version == self.version:
            return False
        if self._loading is None or self._loading[0] < version:
            future = asyncio.ensure_future(asyncio.to_thread(self._load, version))
            loading_now = (version, future)
            self._loading = loading_now

            def finished(_done: object) -> None:
                if self._loading is loading_now:
                    self._loading = None  # a failed read is tried again by the next request

            future.add_done_callback(finished)
        loading_version, loading = self._loading
        value = await asyncio.shield(loading)
        if self.version is not None and self.version >= loading_version:
            return False  # another request installed this copy, or a newer one
        self.value, self.version = value, loading_version
        return True
