"""French public holidays (jours fériés), from the `holidays` package.

Source: Code du travail, art. L3133-1 (the eleven public holidays); Alsace-Moselle adds
Good Friday and St Stephen's Day (art. L3134-13), selected with `subdivision` "57", "67" or "68".
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from functools import lru_cache

import holidays as holidays_lib


@lru_cache(maxsize=32)
def french_public_holidays(years: tuple[int, ...], subdivision: str | None = None) -> frozenset[date]:
    """The public holidays of metropolitan France (or one subdivision) in the given years."""
    calendar = holidays_lib.country_holidays("FR", subdiv=subdivision, years=list(years))
    return frozenset(calendar.keys())


def holidays_between(first_year: int, last_year: int, subdivision: str | None = None) -> frozenset[date]:
    """Public holidays from 1 January of `first_year` to 31 December of `last_year`."""
    return french_public_holidays(tuple(range(first_year, last_year + 1)), subdivision)


def is_public_holiday(day: date, extra: Iterable[date] = ()) -> bool:
    """Whether `day` is a French public holiday (or in `extra`)."""
    return day in french_public_holidays((day.year,)) or day in set(extra)
