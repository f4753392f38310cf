"""OSM `opening_hours` strings <-> lists of TimeWindow.

French open data (ZFE schema `*_horaires`, Cerema `PERIODE_JH`) writes hours in the OSM
opening_hours syntax. The opening-hours-py library checks the syntax; the subset that TimeWindow
can express (weekdays, times, midnight crossing, one date range per rule, a final `PH off`) is
converted, and the result is checked against the library's own evaluation. Anything else is
kept as the raw string with `windows=None`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import opening_hours as osm

from cirqliz.domain.errors import OpeningHoursError, WindowError
from cirqliz.domain.windows import (
    ALL_DAYS,
    MINUTES_PER_DAY,
    WEEKDAY_NAMES,
    TimeWindow,
    any_window_contains,
    format_minute,
)

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DAY = r"(?:Mo|Tu|We|Th|Fr|Sa|Su)"
_DAYS = re.compile(rf"^{_DAY}(?:-{_DAY})?(?:,{_DAY}(?:-{_DAY})?)*$")
_TIMES = re.compile(r"^\d{1,2}:\d{2}-\d{1,2}:\d{2}(?:,\d{1,2}:\d{2}-\d{1,2}:\d{2})*$")
_MONTH = "(" + "|".join(_MONTHS) + ")"
_DATE_RANGE = re.compile(
    rf"^(\d{{4}}) ?{_MONTH} ?(\d{{1,2}}) ?- ?(?:(\d{{4}}) ?)?{_MONTH} ?(\d{{1,2}})(?:\s+|$)"
)
_PH_OFF = re.compile(r"^PH\s+(?:off|closed)$")
# ", " before a new selector starts an additional rule (adds, where ";" would override).
_ADDITIONAL = re.compile(r",\s+(?=\d{4}|Mo|Tu|We|Th|Fr|Sa|Su|24/7)")
# A Monday-to-Sunday fortnight on which the conversion is compared with the library.
_REFERENCE_MONDAY = date(2024, 1, 1)


@dataclass(frozen=True, slots=True)
class OpeningHoursSpec:
    """An opening_hours string and, when expressible, the equivalent windows."""

    raw: str
    windows: tuple[TimeWindow, ...] | None

    @property
    def expressible(self) -> bool:
        """True when `windows` says exactly what `raw` says."""
        return self.windows is not None


def check_opening_hours(text: str) -> str:
    """The stripped string if the OSM syntax is valid; OpeningHoursError with the reason if not."""
    raw = (text or "").strip()
    if not raw:
        raise OpeningHoursError("horaires vides", code="empty_opening_hours")
    try:
        osm.OpeningHours(raw)
    except (osm.ParserError, SyntaxError, ValueError) as exc:
        # The parser's own text is English: only the place it names is kept.
        place = re.search(r"-->\s*\d+:(\d+)", str(exc))
        where = f" — erreur au caractère {place[1]}" if place else ""
        raise OpeningHoursError(
            f"horaires illisibles (syntaxe OSM opening_hours) : {raw!r}{where}",
        ) from exc
    return raw


def parse_opening_hours(text: str) -> OpeningHoursSpec:
    """Read an opening_hours string; windows are None when TimeWindow cannot express it."""
    raw = check_opening_hours(text)
    windows = _convert(raw)
    if windows is not None and not _agrees_with_library(raw, windows):
        windows = None
    return OpeningHoursSpec(raw=raw, windows=windows)


def windows_to_opening_hours(windows: Sequence[TimeWindow]) -> str:
    """Write windows as an opening_hours string (`PH off` when they all skip public holidays)."""
    if not windows:
        raise OpeningHoursError("aucun créneau à écrire", code="empty_opening_hours")
    skips = {w.skip_public_holidays for w in windows}
    if len(skips) > 1:
        raise OpeningHoursError(
            "créneaux inexprimables en opening_hours : certains seulement excluent les jours fériés",
            code="mixed_public_holidays",
        )
    groups: dict[tuple[date | None, date | None], list[TimeWindow]] = {}
    for window in windows:
        groups.setdefault((window.first_day, window.last_day), []).append(window)
    rules: list[str] = []
    for (first, last), members in groups.items():
        prefix = _format_date_range(first, last)
        for mask, times in rules_by_days(members):
            if mask == ALL_DAYS and times == ((0, MINUTES_PER_DAY),) and not prefix:
                rules.append("24/7")
                continue
            hours = ",".join(f"{format_minute(s)}-{format_minute(e)}" for s, e in times)
            rules.append(" ".join(p for p in (prefix, _format_days(mask), hours) if p))
    # With ";" a later rule would override an earlier one on its days, including a previous
    # night's tail past midnight, and other date ranges on the same weekdays: ", " adds instead.
    crossing = any(w.crosses_midnight for w in windows)
    text = ", ".join(rules) if len(groups) > 1 or crossing else "; ".join(rules)
    if skips == {True}:
        text += "; PH off"
    return text


def rules_by_days(windows: Iterable[TimeWindow]) -> list[tuple[int, tuple[tuple[int, int], ...]]]:
    """Weekdays with the same set of times, as disjoint rules (a later rule would override)."""
    per_day: list[set[tuple[int, int]]] = [set() for _ in range(7)]
    for w in windows:
        for day in range(7):
            if w.weekdays >> day & 1:
                per_day[day].add((w.start, w.end))
    by_times: dict[tuple[tuple[int, int], ...], int] = {}
    for day, times in enumerate(per_day):
        if times:
            key = tuple(sorted(times))
            by_times[key] = by_times.get(key, 0) | 1 << day
    return sorted(((mask, times) for times, mask in by_times.items()), key=_first_day_of)


def _first_day_of(item: tuple[int, tuple[tuple[int, int], ...]]) -> int:
    mask = item[0]
    return (mask & -mask).bit_length()


def _format_days(mask: int) -> str:
    if mask == ALL_DAYS:
        return "Mo-Su"
    days = [i for i in range(7) if mask >> i & 1]
    runs: list[list[int]] = []
    for day in days:
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    parts = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{WEEKDAY_NAMES[run[0]]}-{WEEKDAY_NAMES[run[-1]]}")
        else:
            parts.extend(WEEKDAY_NAMES[d] for d in run)
    return ",".join(parts)


def _format_date_range(first: date | None, last: date | None) -> str:
    if first is None and last is None:
        return ""
    if first is None or last is None:
        raise OpeningHoursError(
            "créneaux inexprimables en opening_hours : plage de dates ouverte d'un côté",
            code="open_date_range",
        )
    return (
        f"{first.year} {_MONTHS[first.month - 1]} {first.day:02d}-"
        f"{last.year} {_MONTHS[last.month - 1]} {last.day:02d}"
    )


def _convert(raw: str) -> tuple[TimeWindow, ...] | None:
    rules = [p.strip() for p in raw.split(";")]
    rules = [p for p in rules if p]
    skip_holidays = False
    if rules and _PH_OFF.match(rules[-1]):
        skip_holidays = True
        rules = rules[:-1]
    # date range -> per-weekday times (None = not mentioned). A `;` rule overrides the days it
    # names; a `, ` (additional) rule adds to them.
    groups: dict[tuple[date | None, date | None], list[list[tuple[int, int]] | None]] = {}
    for rule_text in rules:
        for position, part in enumerate(_ADDITIONAL.split(rule_text)):
            rule = _parse_rule(part.strip())
            if rule is None:
                return None
            key, mask, times = rule
            days = groups.setdefault(key, [None] * 7)
            if position == 0:
                for other_key, other_days in groups.items():
                    if other_key != key and any(
                        other_days[d] for d in range(7) if mask >> d & 1
                    ):
                        return None  # overriding another date range: not expressible
            for day in range(7):
                if mask >> day & 1:
                    days[day] = list(times) if position == 0 else (days[day] or []) + times
    if not groups:
        return None
    windows: list[TimeWindow] = []
    for (first, last), days in groups.items():
        by_span: dict[tuple[int, int], int] = {}
        for day, times in enumerate(days):
            for span in times or ():
                by_span[span] = by_span.get(span, 0) | 1 << day
        for (start, end), mask in by_span.items():
            try:
                windows.append(TimeWindow(mask, start, end, first, last, skip_holidays))
            except WindowError:
                return None
    if not windows:
        return None
    return tuple(sorted(windows, key=_window_key))


def _window_key(w: TimeWindow) -> tuple:
    return (w.first_day or date.min, (w.weekdays & -w.weekdays).bit_length(), w.start, w.end,
            w.weekdays)


def _parse_rule(
    part: str,
) -> tuple[tuple[date | None, date | None], int, list[tuple[int, int]]] | None:
    """One `;` rule of the supported subset, or None when it is outside it."""
    if part == "24/7":
        return (None, None), ALL_DAYS, [(0, MINUTES_PER_DAY)]
    key: tuple[date | None, date | None] = (None, None)
    match = _DATE_RANGE.match(part)
    if match:
        year1, month1, day1, year2, month2, day2 = match.groups()
        try:
            first = date(int(year1), _MONTHS.index(month1) + 1, int(day1))
            last = date(int(year2 or year1), _MONTHS.index(month2) + 1, int(day2))
        except ValueError:
            return None
        if first > last:
            return None
        key = (first, last)
        part = part[match.end():].strip()
    tokens = part.split()
    mask = ALL_DAYS
    if tokens and _DAYS.match(tokens[0]):
        mask = _days_mask(tokens.pop(0))
    if not tokens:
        return key, mask, [(0, MINUTES_PER_DAY)]
    if len(tokens) == 1 and tokens[0] in ("off", "closed"):
        return key, mask, []
    if len(tokens) != 1 or not _TIMES.match(tokens[0]):
        return None
    times: list[tuple[int, int]] = []
    for span in tokens[0].split(","):
        start_text, end_text = span.split("-")
        start, end = _minute(start_text), _minute(end_text)
        if start >= MINUTES_PER_DAY or end > 2 * MINUTES_PER_DAY:
            return None
        if end > MINUTES_PER_DAY:
            end -= MINUTES_PER_DAY
            if end > start:
                return None  # open more than 24 h in a row
        if end == 0:
            end = MINUTES_PER_DAY if start == 0 else end
        if end == 0 or end == start:
            return None
        times.append((start, end))
    return key, mask, times


def _minute(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def _days_mask(text: str) -> int:
    mask = 0
    for item in text.split(","):
        first, _, last = item.partition("-")
        i, j = WEEKDAY_NAMES.index(first), WEEKDAY_NAMES.index(last or first)
        while True:
            mask |= 1 << i
            if i == j:
                break
            i = (i + 1) % 7
    return mask


def _agrees_with_library(raw: str, windows: Sequence[TimeWindow]) -> bool:
    """Compare with the library at every boundary minute of sample days (holidays aside)."""
    reference = osm.OpeningHours(raw)
    minutes = {0, 1, MINUTES_PER_DAY - 1}
    for w in windows:
        for m in (w.start, w.end):
            minutes.update({(m - 1) % MINUTES_PER_DAY, m % MINUTES_PER_DAY})
    days = {_REFERENCE_MONDAY + timedelta(days=i) for i in range(15)}
    for w in windows:
        for edge in (w.first_day, w.last_day):
            if edge is not None:
                days.update(edge + timedelta(days=i) for i in range(-8, 9))
    for day in sorted(days):
        for minute in sorted(minutes):
            # Wall time on purpose: both sides evaluate local hours with no time zone.
            local = datetime(day.year, day.month, day.day, minute // 60, minute % 60)  # noqa: DTZ001
            if reference.is_open(local) != any_window_contains(windows, local):
                return False
    return True
