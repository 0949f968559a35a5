"""A fake heartbeat detector for the hybrid rule's tests (test_core_hybrid, test_core_suspicion)."""

from __future__ import annotations


class FakeHeartbeat:
    """The heartbeat readings HybridRule uses: member -> time of its last counter increase."""

    t_fail = 10.0

    def __init__(self) -> None:
        self.last: dict[str, float] = {}

    def staleness(self, member_id: str, now: float) -> float | None:
        t = self.last.get(member_id)
        return None if t is None else now - t

    def stale_members(self, older_than: float, now: float) -> list[str]:
        return [m for m, t in self.last.items() if t <= now - older_than]
