"""In-memory fakes of the foundation store ports, with the same behaviour as the Redis adapters."""

from __future__ import annotations

from tests.fakes.clock import FakeClock


class MemoryLeases:
    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock
        self.held: dict[str, tuple[str, float]] = {}

    def _live(self, name: str) -> tuple[str, float] | None:
        entry = self.held.get(name)
        if entry and entry[1] <= self._clock.now().timestamp():
            del self.held[name]
            return None
        return entry

    async def acquire(self, name: str, owner: str, ttl_seconds: float) -> bool:
        entry = self._live(name)
        if entry is not None and entry[0] != owner:
            return False
        self.held[name] = (owner, self._clock.now().timestamp() + max(ttl_seconds, 0.001))
        return True

    async def release(self, name: str, owner: str) -> bool:
        entry = self._live(name)
        if entry is None or entry[0] != owner:
            return False
        del self.held[name]
        return True
