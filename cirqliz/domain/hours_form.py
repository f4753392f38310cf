"""Hours without the OpenStreetMap syntax: the back office's hours form and the French wording.

The form has days of the week, time ranges ("toute la journée" for a whole day), "sauf jours
fériés", and three modes: *en permanence* (no hours: always), *par jours et heures* (the rows),
and the raw `opening_hours` text as an advanced field. `opening_hours_of` writes the OSM value
for the form; `choice_of` fills the form back from a stored value (the advanced field when the
rows cannot say it). `describe_hours` / `describe_windows` give the French wording shown on
every page, e.g. "lun.–ven. 7 h–11 h" instead of "Mo-Fr 07:00-11:00".

Pure: no web or database code.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from cirqliz.domain.errors import OpeningHoursError, WindowError
from cirqliz.domain.osm_hours import parse_opening_hours, rules_by_days, windows_to_opening_hours
from cirqliz.domain.windows import (
    ALL_DAYS,
    MINUTES_PER_DAY,
    TimeWindow,
    format_minute,
    parse_minute,
    to_local,
)

WEEKDAYS_FR = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
WEEKDAYS_SHORT_FR = ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim.")
ALWAYS_FR = "en permanence"


class HoursMode(StrEnum):
    """How the hours are given in the form (values kept from the first rule form)."""

    ALWAYS = "always"
    WEEKLY = "windows"
    RAW = "osm"


@dataclass(frozen=True, slots=True)
class HoursRow:
    """One line of the form: days (0 = Monday), start and end as typed (HH:MM), or the whole day."""

    days: tuple[int, ...] = ()
    start: str = ""
    end: str = ""
    all_day: bool = False

    @property
    def blank(self) -> bool:
        """Nothing typed on this line."""
        return not self.days and not self.start.strip() and not self.end.strip() and not self.all_day


@dataclass(frozen=True, slots=True)
class HoursChoice:
    """What the form says (or would show for a stored value)."""

    mode: HoursMode = HoursMode.ALWAYS
    rows: tuple[HoursRow, ...] = ()
    skip_public_holidays: bool = False
    raw: str = ""


def _always(windows: Sequence[TimeWindow]) -> bool:
    return len(windows) == 1 and windows[0] == TimeWindow(ALL_DAYS, 0, MINUTES_PER_DAY)


def row_windows(rows: Iterable[HoursRow], *, skip_public_holidays: bool = False) -> list[TimeWindow]:
    """The windows of the filled rows; a French error names the first incomplete one."""
    windows = []
    for number, row in enumerate(rows, start=1):
        if row.blank:
            continue
        days = sorted({d for d in row.days if 0 <= d < 7})
        if not days:
            raise WindowError(f"créneau {number} : choisissez au moins un jour", code="window_without_days")
        if row.all_day:
            start, end = 0, MINUTES_PER_DAY
        else:
            if not row.start.strip() or not row.end.strip():
                raise WindowError(f"créneau {number} : indiquez l'heure de début et l'heure de fin, ou cochez "
                                  "« toute la journée »", code="window_without_times")
            start, end = parse_minute(row.start), parse_minute(row.end)
            if start == MINUTES_PER_DAY:
                raise WindowError(f"créneau {number} : un créneau ne commence pas à 24:00", code="invalid_time")
            end = end or MINUTES_PER_DAY  # "00:00" as an end is midnight
            if start == end:
                raise WindowError(f"créneau {number} : le début et la fin sont à la même heure",
                                  code="empty_window")
        windows.append(TimeWindow(sum(1 << d for d in days), start, end,
                                  skip_public_holidays=skip_public_holidays))
    return windows


def opening_hours_of(choice: HoursChoice) -> str | None:
    """The opening_hours value the form asks for; None means at all times ("en permanence").

    Raises OpeningHoursError or WindowError (French) when the form is incomplete or the
    advanced text unreadable.
    """
    if choice.mode == HoursMode.ALWAYS:
        return None
    if choice.mode == HoursMode.RAW:
        spec = parse_opening_hours(choice.raw)
        return None if spec.windows is not None and _always(spec.windows) else spec.raw
    windows = row_windows(choice.rows, skip_public_holidays=choice.skip_public_holidays)
    if not windows:
        raise WindowError("indiquez au moins un créneau (jours, début et fin), ou choisissez « en permanence »",
                          code="no_window")
    if _always(windows):
        return None
    return windows_to_opening_hours(windows)


def choice_of(opening_hours: str | None) -> HoursChoice:
    """The form for a stored value: rows when they can say it, else the advanced field."""
    text = (opening_hours or "").strip()
    if not text:
        return HoursChoice()
    try:
        spec = parse_opening_hours(text)
    except OpeningHoursError:
        return HoursChoice(HoursMode.RAW, raw=text)
    windows = spec.windows
    if windows is None or any(w.first_day or w.last_day for w in windows) \
            or len({w.skip_public_holidays for w in windows}) > 1:
        return HoursChoice(HoursMode.RAW, raw=text)
    if _always(windows):
        return HoursChoice()
    rows = tuple(
        HoursRow(tuple(d for d in range(7) if w.weekdays >> d & 1),
                 "" if (w.start, w.end) == (0, MINUTES_PER_DAY) else format_minute(w.start),
                 "" if (w.start, w.end) == (0, MINUTES_PER_DAY) else format_minute(w.end % MINUTES_PER_DAY),
                 (w.start, w.end) == (0, MINUTES_PER_DAY))
        for w in windows
    )
    return HoursChoice(HoursMode.WEEKLY, rows, windows[0].skip_public_holidays, text)


# ---- French wording (and its English counterpart for the English pages) ----------------------


@dataclass(frozen=True, slots=True)
class _Wording:
    """The words of one language for hours and periods."""

    days: tuple[str, ...]
    every_day: str
    all_day: str
    next_day: str
    joiner: str
    except_holidays: str
    always: str
    on_day: str
    between_days: str
    from_day: str
    until_day: str
    whole_days: str
    same_day_times: str
    between_times: str
    at_time: str


_FR = _Wording(WEEKDAYS_SHORT_FR, "tous les jours", "toute la journée", "{} le lendemain", " et ",
               ", sauf jours fériés", ALWAYS_FR, "le {0}", "du {0} au {1}", "à partir du {0}", "jusqu'au {0}",
               "du {0} au {1} inclus", "le {0} de {1} à {2}", "du {0} à {1} au {2} à {3}", "{0} à {1}")
_EN = _Wording(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), "every day", "all day", "{} the next day",
               " and ", ", except public holidays", "at all times", "on {0}", "from {0} to {1}", "from {0}",
               "until {0}", "from {0} to {1} inclusive", "on {0} from {1} to {2}", "from {0} {1} to {2} {3}", "{0} {1}")
_WORDINGS = {"fr": _FR, "en": _EN}


def _wording(lang: str) -> _Wording:
    return _WORDINGS.get(lang, _FR)


def french_time(minute: int) -> str:
    """Minute of the day in French: 420 → '7 h', 450 → '7 h 30', 1440 → '24 h'."""
    hours, minutes = divmod(minute, 60)
    return f"{hours} h {minutes:02d}" if minutes else f"{hours} h"


def _time(minute: int, lang: str) -> str:
    return format_minute(minute) if lang == "en" else french_time(minute)


def french_days(mask: int, *, lang: str = "fr") -> str:
    """A weekday mask in French: 'lun.–ven.', 'sam., dim.', 'tous les jours'; a run of three days or
    more is a range, and a week-end run goes on over Monday ('sam.–lun.')."""
    words = _wording(lang)
    if mask & ALL_DAYS == ALL_DAYS:
        return words.every_day
    days = [d for d in range(7) if mask >> d & 1]
    runs: list[list[int]] = []
    for day in days:
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    if len(runs) > 1 and runs[0][0] == 0 and runs[-1][-1] == 6:
        runs[0] = runs.pop() + runs[0]
        runs = runs[1:] + runs[:1]
    parts = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{words.days[run[0]]}–{words.days[run[-1]]}")
        else:
            parts.extend(words.days[d] for d in run)
    return ", ".join(parts)


def _span(start: int, end: int, lang: str) -> str:
    words = _wording(lang)
    if (start, end) == (0, MINUTES_PER_DAY):
        return words.all_day
    text = f"{_time(start, lang)}–{_time(end, lang)}"
    return words.next_day.format(text) if end <= start else text


def _french_date(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def describe_windows(windows: Iterable[TimeWindow], *, always: str | None = None, lang: str = "fr") -> str:
    """Windows in French: 'lun.–ven. 7 h–11 h ; sam. 7 h–10 h, sauf jours fériés'; no window at
    all, or every day all day, is `always` ('en permanence' by default). `lang="en"` gives the
    English pages' wording ('Mon–Fri 07:00–11:00')."""
    words = _wording(lang)
    items = list(windows)
    if not items or _always(items):
        return words.always if always is None else always
    groups: dict[tuple[date | None, date | None, bool], list[TimeWindow]] = {}
    for w in items:
        groups.setdefault((w.first_day, w.last_day, w.skip_public_holidays), []).append(w)
    parts = []
    for (first, last, skip), members in groups.items():
        lines = [f"{french_days(mask, lang=lang)} {words.joiner.join(_span(s, e, lang) for s, e in spans)}"
                 for mask, spans in rules_by_days(members)]
        text = " ; ".join(lines)
        if first and last:
            dates = (words.on_day.format(_french_date(first)) if first == last
                     else words.between_days.format(_french_date(first), _french_date(last)))
            text = f"{dates} : {text}"
        elif first:
            text = f"{words.from_day.format(_french_date(first))} : {text}"
        elif last:
            text = f"{words.until_day.format(_french_date(last))} : {text}"
        if skip:
            text += words.except_holidays
        parts.append(text)
    return " ; ".join(parts)


def describe_hours(opening_hours: str | None, *, always: str | None = None, lang: str = "fr") -> str:
    """An opening_hours value in French ('lun.–ven. 7 h–11 h'); none is `always`. A value the
    windows cannot express is quoted as it is, announced as particular hours."""
    text = (opening_hours or "").strip()
    if not text:
        return _wording(lang).always if always is None else always
    try:
        spec = parse_opening_hours(text)
    except OpeningHoursError:
        return (f"unreadable hours: “{text}”" if lang == "en" else f"horaires illisibles : « {text} »")
    if spec.windows is None:
        return (f"particular hours: “{text}”" if lang == "en" else f"horaires particuliers : « {text} »")
    return describe_windows(spec.windows, always=always, lang=lang)


def describe_period(start: datetime, end: datetime | None, tz: str, *, lang: str = "fr") -> str:
    """A validity period [start, end) as every page and e-mail phrases it, in local time of `tz`:
    'du 24/11/2026 au 10/12/2026 inclus' (whole local days; 'le 24/11/2026' for one),
    'le 24/11/2026 de 9 h à 18 h', 'du 24/11/2026 à 9 h au 25/11/2026 à 18 h 30'; with no end,
    'à partir du 24/11/2026' or 'à partir du 24/11/2026 à 9 h'."""
    words = _wording(lang)
    first = to_local(start, tz)
    if end is None:
        if first.time() == time.min:
            return words.from_day.format(_french_date(first.date()))
        moment = words.at_time.format(_french_date(first.date()), _time(first.hour * 60 + first.minute, lang))
        return words.from_day.format(moment)
    after = to_local(end, tz)
    if first.time() == after.time() == time.min and after > first:
        last = (after - timedelta(days=1)).date()
        if last == first.date():
            return words.on_day.format(_french_date(last))
        return words.whole_days.format(_french_date(first.date()), _french_date(last))
    start_time = _time(first.hour * 60 + first.minute, lang)
    end_time = _time(after.hour * 60 + after.minute, lang)
    if first.date() == after.date():
        return words.same_day_times.format(_french_date(first.date()), start_time, end_time)
    return words.between_times.format(_french_date(first.date()), start_time, _french_date(after.date()), end_time)
