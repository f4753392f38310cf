"""The hours form of the back office, between the HTML form and cirqliz.domain.hours_form.

Field names are the same in every form that has hours (a page may hold several forms; the ids
of the fields get a prefix in the template): `hours_mode` (always / windows / osm), per line i
`w{i}_days` (0 = Monday, repeated), `w{i}_start`, `w{i}_end`, `w{i}_allday`, then `holidays`
("sauf jours fériés") and `opening_hours` (the advanced field). The template is
templates/autorite/_hours_fields.html.
"""

from __future__ import annotations

from typing import Any

from cirqliz.domain.hours_form import (
    WEEKDAYS_FR,
    WEEKDAYS_SHORT_FR,
    HoursChoice,
    HoursMode,
    HoursRow,
    choice_of,
    opening_hours_of,
)

MAX_ROWS = 8
MIN_ROWS = 3
WEEKDAYS = list(zip(range(7), WEEKDAYS_SHORT_FR, WEEKDAYS_FR, strict=True))


def read_hours(form: Any) -> HoursChoice:
    """What the form says (an unknown mode is the advanced field, so nothing is lost)."""
    mode_text = str(form.get("hours_mode") or HoursMode.ALWAYS.value)
    try:
        mode = HoursMode(mode_text)
    except ValueError:
        mode = HoursMode.RAW
    rows = tuple(
        HoursRow(
            tuple(int(d) for d in form.getall(f"w{i}_days", []) if str(d).isdecimal() and 0 <= int(d) < 7),
            str(form.get(f"w{i}_start") or ""), str(form.get(f"w{i}_end") or ""),
            form.get(f"w{i}_allday") == "1",
        )
        for i in range(MAX_ROWS)
    )
    return HoursChoice(mode, rows, form.get("holidays") == "1", str(form.get("opening_hours") or ""))


def hours_from_form(form: Any) -> str | None:
    """The opening_hours value the form asks for (None: at all times); French errors."""
    return opening_hours_of(read_hours(form))


def hours_values(choice: HoursChoice) -> dict[str, Any]:
    """What the template shows: the mode, MIN_ROWS lines or one more than the last filled, the
    holidays box and the advanced text."""
    filled = list(choice.rows)
    while filled and filled[-1].blank:  # lines keep their numbers (errors name them)
        filled.pop()
    count = min(MAX_ROWS, max(MIN_ROWS, len(filled) + 1))
    rows = [*filled, *([HoursRow()] * (count - len(filled)))][:MAX_ROWS]
    return {
        "mode": choice.mode.value,
        "rows": [{"days": [str(d) for d in r.days], "start": r.start, "end": r.end, "all_day": r.all_day}
                 for r in rows],
        "holidays": choice.skip_public_holidays,
        "raw": choice.raw,
    }


def stored_hours_values(opening_hours: str | None) -> dict[str, Any]:
    """The form filled from a stored opening_hours value."""
    return hours_values(choice_of(opening_hours))


def posted_hours_values(form: Any) -> dict[str, Any]:
    """The form as it was sent (shown again with the refusal)."""
    return hours_values(read_hours(form))
