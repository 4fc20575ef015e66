"""Clocks for the guard: a monotonic clock in production, a manual one for tests and replays.

Wall-time and calls-per-minute limits read the clock the guard was given, so tests can move time
explicitly and a replayed trace sees exactly the times that were recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]
"""Seconds as a float; only differences matter."""

default_clock: Clock = time.monotonic


class ManualClock:
    """A clock that moves only when told to."""

    __slots__ = ("now",)

    def __init__(self, start: float = 0.0) -> None:
        self.now = float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        self.now += seconds

    def set(self, now: float) -> None:
        self.now = float(now)
