"""Injectable clocks: code that needs "now" takes a clock, never calls datetime.now() itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Something that tells the current time as an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The machine's clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FixedClock:
    """A clock that stays where it is put: for tests, demos and replaying checks."""

    current: datetime

    def __post_init__(self) -> None:
        if self.current.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self.current = self.current.astimezone(UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward (or back, with a negative delta)."""
        self.current += delta

    def set(self, when: datetime) -> None:
        """Put the clock at `when` (aware)."""
        if when.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self.current = when.astimezone(UTC)


def to_epoch(when: datetime | int) -> int:
    """Integer UTC epoch seconds of an aware datetime (ints pass through)."""
    if isinstance(when, int):
        return when
    if when.tzinfo is None:
        raise ValueError("naive datetime: pass an aware (UTC) datetime")
    return int(when.timestamp())


def from_epoch(seconds: int) -> datetime:
    """Aware UTC datetime of integer epoch seconds."""
    return datetime.fromtimestamp(seconds, UTC)
