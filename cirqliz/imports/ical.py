"""Import iCalendar feeds (RFC 5545): events with their recurrences expanded in a window.

Occurrences are computed per event (icalendar + recurring-ical-events) in the event's own time zone
(TZID), so a weekly market at 07:00 Europe/Paris stays 07:00 local across DST changes, then given
as UTC (start, end) pairs. Floating times and all-day events are read in `default_tz`. An event
with a broken RRULE or dates is reported and skipped; the other events are still read.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import icalendar
import recurring_ical_events

from cirqliz.domain.errors import DomainError
from cirqliz.domain.windows import zone_info
from cirqliz.domain.zones import parse_zone_code
from cirqliz.imports.common import decode_text
from cirqliz.imports.records import DEFAULT_TZ, EventRecord, ImportBatch, ImportFileError, Problem

SOURCE = "ical"
ZONE_PROPERTY = "X-CIRQLIZ-ZONE"
MAX_OCCURRENCES = 5000
"""Occurrences of one event in the window read; past that the event is reported, not imported."""
MAX_RULE_STEPS = 50_000
"""Dates a recurrence may make the expansion walk through (see _expansion_steps)."""
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


def _expansion_steps(event: icalendar.Event, end: datetime, default_tz: str) -> float:
    """An upper bound of the dates the expansion walks through: from DTSTART to the end of the window
    (or UNTIL) at the rule's frequency, times the sizes of its BY* lists. The expansion library walks
    every one of them, so a FREQ=SECONDLY rule starting in 1970 would run for hours."""
    try:
        first = _aware(event.get("DTSTART").dt, default_tz)
    except (AttributeError, TypeError, ValueError, OverflowError, DomainError):
        return 0.0  # the expansion reports the broken date itself
    total = 0.0
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


def import_ical(data: bytes | str, *, start: datetime, end: datetime, default_tz: str = DEFAULT_TZ,
                zone_property: str = ZONE_PROPERTY) -> ImportBatch[EventRecord]:
    """Read a calendar: one EventRecord per UID with its occurrences overlapping [start, end).

    `start` and `end` must be aware. ImportFileError when the text is not an iCalendar object.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ImportFileError("fenêtre de lecture sans fuseau horaire : passer des heures UTC",
                              code="naive_time")
    text = decode_text(data, what="calendrier")
    try:
        calendars = icalendar.Calendar.from_ical(text, multiple=True)
    except (ValueError, IndexError, KeyError, TypeError, AttributeError, OSError, RecursionError) as exc:
        # the parser raises several types for broken content (OSError: a TZID naming a tz folder)
        raise ImportFileError(f"calendrier illisible : ce n'est pas un fichier iCalendar ({str(exc)[:120]})",
                              code="import_not_ical") from exc
    calendars = [c for c in calendars if c.name == "VCALENDAR"]
    if not calendars:
        raise ImportFileError("calendrier illisible : aucun objet VCALENDAR", code="import_not_ical")
    records: list[EventRecord] = []
    problems: list[Problem] = []
    number = 0
    for calendar in calendars:
        timezones = list(calendar.walk("VTIMEZONE"))
        by_uid: dict[str, list[icalendar.Event]] = defaultdict(list)
        order: list[str] = []
        for event in calendar.walk("VEVENT"):
            uid = str(event.get("UID") or "").strip()
            if not uid:
                number += 1
                problems.append(Problem(number, "UID", "événement sans UID : ignoré", code="required"))
                continue
            if uid not in by_uid:
                order.append(uid)
            by_uid[uid].append(event)
        for uid in order:
            number += 1
            record = _event_record(number, uid, by_uid[uid], timezones, start, end, default_tz, zone_property,
                                   problems)
            if record is not None:
                records.append(record)
    return ImportBatch(tuple(records), tuple(problems))


def _event_record(number: int, uid: str, events: list[icalendar.Event], timezones: list[Any], start: datetime,
                  end: datetime, default_tz: str, zone_property: str,
                  problems: list[Problem]) -> EventRecord | None:
    master = next((e for e in events if e.get("RECURRENCE-ID") is None), events[0])
    for event in events:
        for name, reason in getattr(event, "errors", []) or []:
            problems.append(Problem(number, name, f"propriété illisible : {reason}", code="invalid_property",
                                    item_id=uid))
            return None
    if master.get("DTSTART") is None:
        problems.append(Problem(number, "DTSTART", "événement sans date de début : ignoré", code="required",
                                item_id=uid))
        return None
    steps = _expansion_steps(master, end, default_tz)
    if steps > MAX_RULE_STEPS:
        problems.append(Problem(number, "RRULE", "récurrence illisible ou trop coûteuse à développer (INTERVAL "
                                f"nul, ou plus de {MAX_RULE_STEPS} dates à parcourir) : événement ignoré",
                                code="recurrence_too_long", item_id=uid))
        return None
    calendar = icalendar.Calendar()
    calendar.add("VERSION", "2.0")
    calendar.add("PRODID", "-//CirQliz//import//FR")
    for zone in timezones:
        calendar.add_component(zone)
    for event in events:
        calendar.add_component(event)
    try:
        occurrences = recurring_ical_events.of(calendar).between(start, end)
        pairs = []
        for occurrence in occurrences:
            first = occurrence.get("DTSTART").dt
            last = occurrence.get("DTEND").dt if occurrence.get("DTEND") is not None else None
            if last is None:
                last = first + (timedelta(days=1) if not isinstance(first, datetime) else timedelta(0))
            pairs.append((_aware(first, default_tz), _aware(last, default_tz)))
    except Exception as exc:  # the expansion library raises many types for broken rules
        problems.append(Problem(number, "RRULE", f"récurrence illisible : {str(exc)[:160]}",
                                code="invalid_recurrence", item_id=uid))
        return None
    if len(pairs) > MAX_OCCURRENCES:
        problems.append(Problem(number, "RRULE", f"{len(pairs)} occurrences dans la fenêtre lue, "
                                f"{MAX_OCCURRENCES} au plus : événement ignoré", code="too_many_occurrences",
                                item_id=uid))
        return None
    if any(b < a for a, b in pairs):
        problems.append(Problem(number, "DTEND", "la fin d'une occurrence précède son début", code="dates_order",
                                item_id=uid))
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
