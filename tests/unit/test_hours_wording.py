"""Issue 17: one wording of periods (describe_period) and the English pages' wording of hours."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cirqliz.domain.hours_form import describe_hours, describe_period, describe_windows, french_days
from cirqliz.domain.windows import parse_window

PARIS = "Europe/Paris"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(("start", "end", "french", "english"), [
    # whole local days (Paris midnight is 23:00 UTC in winter)
    (utc(2026, 11, 23, 23), utc(2026, 12, 10, 23), "du 24/11/2026 au 10/12/2026 inclus",
     "from 24/11/2026 to 10/12/2026 inclusive"),
    (utc(2026, 11, 23, 23), utc(2026, 11, 24, 23), "le 24/11/2026", "on 24/11/2026"),
    (utc(2026, 11, 24, 8), utc(2026, 11, 24, 17, 30), "le 24/11/2026 de 9 h à 18 h 30",
     "on 24/11/2026 from 09:00 to 18:30"),
    (utc(2026, 12, 1, 7), utc(2026, 12, 3, 19), "du 01/12/2026 à 8 h au 03/12/2026 à 20 h",
     "from 01/12/2026 08:00 to 03/12/2026 20:00"),
    # summer time: Paris midnight is 22:00 UTC
    (utc(2026, 6, 30, 22), utc(2026, 7, 14, 22), "du 01/07/2026 au 14/07/2026 inclus",
     "from 01/07/2026 to 14/07/2026 inclusive"),
    # no end (an open-ended zone period): not "date → sans fin"
    (utc(2026, 11, 23, 23), None, "à partir du 24/11/2026", "from 24/11/2026"),
    (utc(2026, 11, 24, 8), None, "à partir du 24/11/2026 à 9 h", "from 24/11/2026 09:00"),
])
def test_a_period_reads_one_way(start: datetime, end: datetime | None, french: str, english: str) -> None:
    assert describe_period(start, end, PARIS) == french
    assert describe_period(start, end, PARIS, lang="en") == english


def test_hours_in_english_for_the_english_pages() -> None:
    assert describe_hours("Mo-Fr 07:30-10:00; PH off", lang="en") == "Mon–Fri 07:30–10:00, except public holidays"
    assert describe_hours(None, lang="en") == "at all times"
    assert describe_windows([parse_window("Sa,Su 00:00-24:00")], lang="en") == "Sat, Sun all day"
    assert describe_windows([parse_window("Mo-Fr 22:00-06:00")], lang="en") == "Mon–Fri 22:00–06:00 the next day"
    assert french_days(0b1111111, lang="en") == "every day"
    # French stays the default, and an unknown language falls back to it.
    assert describe_hours("Mo-Fr 07:00-11:00") == describe_hours("Mo-Fr 07:00-11:00", lang="de") == \
        "lun.–ven. 7 h–11 h"
