"""Import iCalendar feeds (RFC 5545): events with their recurrences expanded in a window.

Occurrences are computed per event (icalendar + recurring-ical-events) in the event's own time zone
(TZID), so a weekly market at 07:00 Europe/Paris stays 07:00 local across DST changes, then given
as UTC (start, end) pairs. Floating times and all-day events are read in `default_tz`. An event
with a broken RRULE or dates is reported and skipped; the other events are still read.

The work a file may ask for is bounded twice: per event (MAX_RULE_STEPS, MAX_OCCURRENCES: the event
is skipped) and per file (MAX_FILE_STEPS, MAX_FILE_OCCURRENCES, and an optional wall-clock
`deadline`: the whole file is refused), counting every source of occurrences (RRULE, RDATE dates
and periods, EXDATE, overriding RECURRENCE-ID components). Without the file budget, many small
events each within their own budget made a few hundred bytes cost minutes.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic
from typing import Any

import icalendar
import recurring_ical_events

from cirqliz.domain.errors import DomainError
from cirqliz.domain.windows import zone_info
from cirqliz.domain.zones import parse_zone_code
from cirqliz.imports.common import decode_text
from cirqliz.imports.records import DEFAULT_TZ, EventRecord, ImportBatch, ImportFileError, ItemReport, Problem

SOURCE = "ical"
UNIT = "événement"
_SKIPPED_SUFFIX = re.compile(r"\s*:\s*(?:événement\s+)?ignorée?\s*$")
ZONE_PROPERTY = "X-CIRQLIZ-ZONE"
MAX_OCCURRENCES = 5000
"""Occurrences of one event in the window read; past that the event is reported, not imported."""
MAX_RULE_STEPS = 50_000
"""Dates a recurrence may make the expansion walk through (see _expansion_steps)."""
MAX_FILE_STEPS = 100_000
"""Dates all the events of one file may make the expansion walk through, together."""
MAX_FILE_OCCURRENCES = 20_000
"""Occurrences all the events of one file may produce in the window read, together."""
_DEADLINE_EVERY = 64
"""Occurrences expanded between two looks at the clock."""
_PERIOD_SECONDS = {"SECONDLY": 1, "MINUTELY": 60, "HOURLY": 3600, "DAILY": 86400, "WEEKLY": 604800,
                   "MONTHLY": 28 * 86400, "YEARLY": 365 * 86400}


def _aware(value: date | datetime, tz: str) -> datetime:
    """UTC instant of an iCalendar DATE/DATE-TIME value (floating and dates in `tz`)."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(0, 0))
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone_info(tz))
    return value.astimezone(UTC)


def _rules(event: icalendar.Event) -> list[Any]:
    """The event's RRULE values (the property may be repeated, RFC 5545 §3.8.5.3 says SHOULD NOT)."""
    rules = event.get("RRULE")
    if rules is None:
        return []
    return list(rules) if isinstance(rules, list) else [rules]


def _rrule_text(rules: Any) -> str | None:
    texts = [r.to_ical().decode("utf-8", "replace") for r in (rules if isinstance(rules, list) else [rules])
             if r is not None]
    return "\n".join(texts) or None


def _first(rule: Any, name: str) -> Any:
    values = rule.get(name)
    if isinstance(values, list | tuple):
        return values[0] if values else None
    return values


def _listed_values(event: icalendar.Event, name: str) -> int:
    """How many dates or periods the event's `name` properties (RDATE, EXDATE) list, all lines together."""
    values = event.get(name)
    if values is None:
        return 0
    return sum(len(getattr(v, "dts", None) or [v]) for v in (values if isinstance(values, list) else [values]))


def _expansion_steps(event: icalendar.Event, end: datetime, default_tz: str) -> float:
    """An upper bound of the dates the expansion walks through: DTSTART, every RDATE date or period and
    EXDATE value, and for each RRULE the dates from DTSTART to the end of the window (or UNTIL) at the
    rule's frequency, times the sizes of its BY* lists. The expansion library walks every one of
    them, so a FREQ=SECONDLY rule starting in 1970 would run for hours."""
    listed = 1.0 + _listed_values(event, "RDATE") + _listed_values(event, "EXDATE")
    try:
        first = _aware(event.get("DTSTART").dt, default_tz)
    except (AttributeError, TypeError, ValueError, OverflowError, DomainError):
        return listed  # the expansion reports the broken date itself
    total = listed
    for rule in _rules(event):
        if not hasattr(rule, "get"):
            continue
        last = end
        until = _first(rule, "UNTIL")
        if isinstance(until, date):
            try:
                last = min(end, _aware(until, default_tz))
            except (TypeError, ValueError, OverflowError, DomainError):
                last = end
        span = max((last - first).total_seconds(), 0.0)
        freq = str(_first(rule, "FREQ") or "YEARLY").upper()
        try:
            value = _first(rule, "INTERVAL")
            interval = 1 if value is None else int(value)
        except (TypeError, ValueError):
            interval = 0
        if interval < 1:
            return math.inf  # INTERVAL=0 makes the expansion loop for ever
        multiplier = 1
        for key, values in rule.items():
            if str(key).upper().startswith("BY") and str(key).upper() != "BYSETPOS":
                multiplier *= max(len(values) if isinstance(values, list | tuple) else 1, 1)
        total += (span / (_PERIOD_SECONDS.get(freq, 1) * interval) + 1) * multiplier
    return total


def _zone_code(event: icalendar.Event, zone_property: str) -> str | None:
    for candidate in (event.get(zone_property), event.get("LOCATION")):
        if candidate is None:
            continue
        try:
            return parse_zone_code(str(candidate))
        except DomainError:
            continue
    return None


def too_complex(detail: str) -> ImportFileError:
    """The file-level refusal of a file that asks for too much work (same code for every budget)."""
    return ImportFileError(f"fichier trop complexe : {detail}. Rien n'a été importé ; découpez le calendrier "
                           "ou simplifiez ses récurrences.", code="import_too_complex")


class _Budget:
    """What is left of the file's budget of occurrences, and its wall-clock deadline."""

    def __init__(self, deadline: float | None) -> None:
        self.occurrences = MAX_FILE_OCCURRENCES
        self.deadline = deadline

    def check_clock(self) -> None:
        if self.deadline is not None and monotonic() > self.deadline:
            raise too_complex("sa lecture dépasse le temps permis")

    def spend(self) -> None:
        self.occurrences -= 1
        if self.occurrences < 0:
            raise too_complex(f"plus de {MAX_FILE_OCCURRENCES} occurrences dans la fenêtre lue, tous "
                              "événements confondus")
        if self.occurrences % _DEADLINE_EVERY == 0:
            self.check_clock()


def import_ical(data: bytes | str, *, start: datetime, end: datetime, default_tz: str = DEFAULT_TZ,
                zone_property: str = ZONE_PROPERTY, deadline: float | None = None) -> ImportBatch[EventRecord]:
    """Read a calendar: one EventRecord per UID with its occurrences overlapping [start, end).

    `start` and `end` must be aware. `deadline` is a time.monotonic() instant after which reading
    stops. ImportFileError when the text is not an iCalendar object, or when the file asks for more
    than its budget (code "import_too_complex").
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ImportFileError("fenêtre de lecture sans fuseau horaire : passer des heures UTC",
                              code="naive_time")
    budget = _Budget(deadline)
    text = decode_text(data, what="calendrier")
    try:
        calendars = icalendar.Calendar.from_ical(text, multiple=True)
    except (ValueError, IndexError, KeyError, TypeError, AttributeError, OSError, RecursionError) as exc:
        # the parser raises several types for broken content (OSError: a TZID naming a tz folder)
        raise ImportFileError("calendrier illisible : ce n'est pas un fichier iCalendar (BEGIN:VCALENDAR … "
                              "END:VCALENDAR, une propriété par ligne)", code="import_not_ical") from exc
    budget.check_clock()
    calendars = [c for c in calendars if c.name == "VCALENDAR"]
    if not calendars:
        raise ImportFileError("calendrier illisible : aucun objet VCALENDAR", code="import_not_ical")
    problems: list[Problem] = []
    groups: list[tuple[int, str, list[icalendar.Event], list[Any]]] = []
    indexes: dict[str, list[int]] = {}
    uids: list[str | None] = []  # of each VEVENT, in file order (None: no UID)
    names: list[str | None] = []
    for calendar in calendars:
        timezones = list(calendar.walk("VTIMEZONE"))
        by_uid: dict[str, list[icalendar.Event]] = defaultdict(list)
        order: list[str] = []
        for event in calendar.walk("VEVENT"):
            uids.append(None)
            names.append(str(event.get("SUMMARY") or "").strip()[:200] or None)
            index = len(uids)
            uid = str(event.get("UID") or "").strip()
            if not uid:
                problems.append(Problem(index, "UID", "événement sans UID : ignoré", code="required", unit=UNIT))
                continue
            key = f"{id(calendar)}\n{uid}"
            uids[-1] = uid
            if uid not in by_uid:
                order.append(uid)
            by_uid[uid].append(event)
            indexes.setdefault(key, []).append(index)
        for uid in order:
            groups.append((indexes[f"{id(calendar)}\n{uid}"][0], uid, by_uid[uid], timezones))
    # The whole file's cost is known before anything is expanded: refuse it at once when too high.
    steps: dict[int, float] = {}
    for number, _, events, _ in groups:
        steps[number] = _group_steps(events, end, default_tz)
    total = sum(cost for cost in steps.values() if cost <= MAX_RULE_STEPS)
    if total > MAX_FILE_STEPS:
        raise too_complex(f"ses récurrences (RRULE, RDATE, EXDATE) font parcourir environ {int(total)} dates, "
                          f"{MAX_FILE_STEPS} au plus par fichier")
    records: list[EventRecord] = []
    read: dict[int, EventRecord] = {}
    for number, uid, events, timezones in groups:
        budget.check_clock()
        record = _event_record(number, uid, events, timezones, start, end, default_tz, zone_property, problems,
                               steps[number], budget)
        if record is not None:
            records.append(record)
            read[number] = record
    members = {i: group[0] for group in indexes.values() for i in group}
    items = _items(uids, names, members, read, problems, _event_lines(text, len(uids)))
    return ImportBatch(tuple(records), tuple(problems), items)


def _event_lines(text: str, count: int) -> list[int | None]:
    """The line of each BEGIN:VEVENT of the text, in order (None for all when they cannot be matched)."""
    lines = [n for n, line in enumerate(text.splitlines(), start=1) if line.strip().upper() == "BEGIN:VEVENT"]
    return list(lines) if len(lines) == count else [None] * count


def _items(uids: list[str | None], names: list[str | None], members: dict[int, int], read: dict[int, EventRecord],
           problems: list[Problem], lines: list[int | None]) -> tuple[ItemReport, ...]:
    """One ItemReport per VEVENT in file order: the first component of a UID carries the record; the
    others (RECURRENCE-ID overrides, repeated UIDs) say which event they belong to."""
    reasons: dict[int, list[str]] = defaultdict(list)
    for problem in problems:
        if problem.severity == "error":
            message = _SKIPPED_SUFFIX.sub("", problem.message)
            reasons[problem.item].append(f"{problem.field} : {message}" if problem.field else message)
    items: list[ItemReport] = []
    for index, uid in enumerate(uids, start=1):
        first = members.get(index, index)
        record = read.get(first)
        name = names[index - 1] or (record.summary if record is not None and record.summary else None)
        line = lines[index - 1]
        if record is None:
            notes = tuple(reasons.get(index, ())) if first == index else (
                f"fait partie de l'événement {first} (même UID), ignoré avec lui",)
            items.append(ItemReport(index, "skipped", UNIT, line, uid, name, notes, records=0))
        elif first != index:
            items.append(ItemReport(index, "kept", UNIT, line, uid, name, (
                f"occurrence modifiée ou complément de l'événement {first} (même UID), lue avec lui",), records=0))
        else:
            items.append(ItemReport(index, "kept", UNIT, line, uid, name))
    return tuple(items)


def _group_steps(events: list[icalendar.Event], end: datetime, default_tz: str) -> float:
    """_expansion_steps of the components of one UID; 0 when one is broken (it is reported and skipped)."""
    if any(getattr(event, "errors", None) for event in events):
        return 0.0
    try:
        return sum(_expansion_steps(event, end, default_tz) for event in events)
    except Exception:  # a property icalendar could not read: _event_record reports it
        return 0.0


def _occurrences(calendar: icalendar.Calendar, start: datetime, end: datetime, default_tz: str,
                 budget: _Budget) -> list[tuple[datetime, datetime]]:
    """UTC (start, end) of the calendar's occurrences overlapping [start, end), at most MAX_OCCURRENCES + 1
    (one more says "too many"); each one is taken from the file's budget.

    Occurrences are read one at a time from the library's series (not `between`, which builds
    every occurrence as a full component before it returns)."""
    query = recurring_ical_events.of(calendar)
    span_start, span_end = query.to_datetime(start), query.to_datetime(end)
    pairs: list[tuple[datetime, datetime]] = []
    for series in query.series:
        for occurrence in series.between(span_start, span_end):
            budget.spend()
            first, last = occurrence.start, occurrence.end
            if last is None:
                last = first + (timedelta(days=1) if not isinstance(first, datetime) else timedelta(0))
            pairs.append((_aware(first, default_tz), _aware(last, default_tz)))
            if len(pairs) > MAX_OCCURRENCES:
                return pairs
    return pairs


def _event_record(number: int, uid: str, events: list[icalendar.Event], timezones: list[Any], start: datetime,
                  end: datetime, default_tz: str, zone_property: str, problems: list[Problem], steps: float,
                  budget: _Budget) -> EventRecord | None:
    master = next((e for e in events if e.get("RECURRENCE-ID") is None), events[0])
    for event in events:
        for name, _reason in getattr(event, "errors", []) or []:
            # the parser's reason is English: the property's name says where, in French
            problems.append(Problem(number, name, "propriété illisible : valeur non conforme à la RFC 5545",
                                    code="invalid_property", item_id=uid, unit=UNIT))
            return None
    if master.get("DTSTART") is None:
        problems.append(Problem(number, "DTSTART", "événement sans date de début : ignoré", code="required",
                                item_id=uid, unit=UNIT))
        return None
    if steps > MAX_RULE_STEPS:
        problems.append(Problem(number, "RRULE", "récurrence illisible ou trop coûteuse à développer (INTERVAL "
                                f"nul, ou plus de {MAX_RULE_STEPS} dates à parcourir) : événement ignoré",
                                code="recurrence_too_long", item_id=uid, unit=UNIT))
        return None
    calendar = icalendar.Calendar()
    calendar.add("VERSION", "2.0")
    calendar.add("PRODID", "-//CirQliz//import//FR")
    for zone in timezones:
        calendar.add_component(zone)
    for event in events:
        calendar.add_component(event)
    try:
        pairs = _occurrences(calendar, start, end, default_tz, budget)
    except ImportFileError:
        raise
    except Exception:  # the expansion library raises many types for broken rules
        problems.append(Problem(number, "RRULE", "récurrence illisible : règle ou dates non conformes à la RFC 5545",
                                code="invalid_recurrence", item_id=uid, unit=UNIT))
        return None
    if len(pairs) > MAX_OCCURRENCES:
        problems.append(Problem(number, "RRULE", f"plus de {MAX_OCCURRENCES} occurrences dans la fenêtre lue : "
                                "événement ignoré", code="too_many_occurrences", item_id=uid, unit=UNIT))
        return None
    if any(b <= a for a, b in pairs):  # an activation has a length: the schedule table refuses empty periods
        problems.append(Problem(number, "DTEND", "une occurrence finit avant ou au moment où elle commence (DTEND "
                                "ou DURATION manquant ?)", code="dates_order", item_id=uid, unit=UNIT))
        return None
    dtstart = master.get("DTSTART").dt
    tz = default_tz
    if isinstance(dtstart, datetime) and dtstart.tzinfo is not None:
        tz = getattr(dtstart.tzinfo, "key", None) or str(dtstart.tzinfo)
    geo = master.get("GEO")
    rrule = master.get("RRULE")
    return EventRecord(
        source=SOURCE,
        source_id=uid,
        summary=str(master.get("SUMMARY") or "").strip(),
        occurrences=tuple(sorted(set(pairs))),
        tz=tz,
        zone_code=_zone_code(master, zone_property),
        location=str(master.get("LOCATION")) if master.get("LOCATION") is not None else None,
        geo=(float(geo.latitude), float(geo.longitude)) if geo is not None else None,
        rrule=_rrule_text(rrule),
        extra={"description": str(master.get("DESCRIPTION"))} if master.get("DESCRIPTION") is not None else {},
    )
