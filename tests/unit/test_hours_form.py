"""The hours form without OpenStreetMap syntax (issue 17) and its French wording (cirqliz.domain.hours_form)."""

from __future__ import annotations

from datetime import date

import pytest

from cirqliz.domain.errors import DomainError
from cirqliz.domain.hours_form import (
    HoursChoice,
    HoursMode,
    HoursRow,
    choice_of,
    describe_hours,
    describe_windows,
    french_days,
    french_time,
    opening_hours_of,
)
from cirqliz.domain.osm_hours import parse_opening_hours
from cirqliz.domain.windows import TimeWindow

WEEKDAYS = (0, 1, 2, 3, 4)


def weekly(*rows: HoursRow, holidays: bool = False) -> HoursChoice:
    return HoursChoice(HoursMode.WEEKLY, rows, holidays)


@pytest.mark.parametrize(("text", "french"), [
    ("Mo-Fr 07:00-11:00", "lun.–ven. 7 h–11 h"),
    ("Mo-Fr 08:00-20:00; PH off", "lun.–ven. 8 h–20 h, sauf jours fériés"),
    ("Mo-Sa 07:30-19:30", "lun.–sam. 7 h 30–19 h 30"),
    ("Mo-Fr 07:00-11:00; Sa 07:00-10:00", "lun.–ven. 7 h–11 h ; sam. 7 h–10 h"),
    ("Sa,Su 10:00-12:00,14:00-18:00", "sam., dim. 10 h–12 h et 14 h–18 h"),
    ("Mo,We,Fr 07:00-09:00", "lun., mer., ven. 7 h–9 h"),
    ("Fr-Mo 10:00-11:00", "ven.–lun. 10 h–11 h"),
    ("Mo-Fr 22:00-06:00", "lun.–ven. 22 h–6 h le lendemain"),
    ("Mo-Su 06:00-24:00", "tous les jours 6 h–24 h"),
    ("Sa 00:00-24:00", "sam. toute la journée"),
    ("24/7", "en permanence"),
    ("2026 Dec 01-2026 Dec 05 08:00-20:00", "du 01/12/2026 au 05/12/2026 : tous les jours 8 h–20 h"),
])
def test_hours_are_shown_in_french(text: str, french: str) -> None:
    assert describe_hours(text) == french


def test_no_hours_read_as_always_or_the_given_word() -> None:
    assert describe_hours(None) == "en permanence"
    assert describe_hours("  ") == "en permanence"
    assert describe_hours(None, always="à toute heure") == "à toute heure"
    assert describe_windows([]) == "en permanence"


def test_hours_the_windows_cannot_say_are_quoted_never_translated_wrongly() -> None:
    odd = "Mo-Sa 11:00-06:00; Su,PH 10:00-12:00"
    assert describe_hours(odd) == f"horaires particuliers : « {odd} »"
    assert describe_hours("lundi matin") == "horaires illisibles : « lundi matin »"


def test_french_pieces() -> None:
    assert [french_time(m) for m in (0, 420, 450, 1185, 1440)] == ["0 h", "7 h", "7 h 30", "19 h 45", "24 h"]
    assert french_days(0b1111111) == "tous les jours"
    assert french_days(0b0011111) == "lun.–ven."
    assert french_days(0b1100000) == "sam., dim."
    assert french_days(0b1100001) == "sam.–lun."
    assert french_days(0b0000101) == "lun., mer."
    dated = TimeWindow(0b0011111, 480, 1200, date(2026, 12, 1), date(2026, 12, 1))
    assert describe_windows([dated]) == "le 01/12/2026 : lun.–ven. 8 h–20 h"


def test_the_form_writes_the_opening_hours_value() -> None:
    assert opening_hours_of(weekly(HoursRow(WEEKDAYS, "07:00", "11:00"))) == "Mo-Fr 07:00-11:00"
    assert opening_hours_of(weekly(HoursRow(WEEKDAYS, "08:00", "20:00"), holidays=True)) == \
        "Mo-Fr 08:00-20:00; PH off"
    two = weekly(HoursRow(WEEKDAYS, "07:00", "11:00"), HoursRow(), HoursRow((5,), "07:00", "10:00"))
    assert opening_hours_of(two) == "Mo-Fr 07:00-11:00; Sa 07:00-10:00"
    assert opening_hours_of(weekly(HoursRow((5, 6), all_day=True))) == "Sa,Su 00:00-24:00"
    assert opening_hours_of(weekly(HoursRow((4,), "22:00", "06:00"))) == "Fr 22:00-06:00"
    # "00:00" as an end is midnight, not an empty window.
    assert opening_hours_of(weekly(HoursRow((0,), "18:00", "00:00"))) == "Mo 18:00-24:00"


def test_always_in_any_form_is_none() -> None:
    assert opening_hours_of(HoursChoice()) is None
    assert opening_hours_of(weekly(HoursRow(tuple(range(7)), all_day=True))) is None
    assert opening_hours_of(HoursChoice(HoursMode.RAW, raw="24/7")) is None
    assert opening_hours_of(HoursChoice(HoursMode.RAW, raw=" Mo-Fr 07:00-11:00 ")) == "Mo-Fr 07:00-11:00"


@pytest.mark.parametrize(("choice", "message"), [
    (weekly(), "indiquez au moins un créneau"),
    (weekly(HoursRow((), "08:00", "10:00")), "créneau 1 : choisissez au moins un jour"),
    (weekly(HoursRow(), HoursRow((1,), "08:00", "")), "créneau 2 : indiquez l'heure de début et l'heure de fin"),
    (weekly(HoursRow((1,), "8h", "10:00")), "heure illisible"),
    (weekly(HoursRow((1,), "08:00", "25:00")), "heure hors limites"),
    (weekly(HoursRow((1,), "24:00", "02:00")), "ne commence pas à 24:00"),
    (weekly(HoursRow((1,), "08:00", "08:00")), "à la même heure"),
    (HoursChoice(HoursMode.RAW, raw=""), "horaires vides"),
    (HoursChoice(HoursMode.RAW, raw="lundi matin"), "horaires illisibles"),
])
def test_an_incomplete_form_is_refused_in_french(choice: HoursChoice, message: str) -> None:
    with pytest.raises(DomainError) as caught:
        opening_hours_of(choice)
    assert message in caught.value.message


@pytest.mark.parametrize("text", [
    "Mo-Fr 07:00-11:00", "Mo-Fr 08:00-20:00; PH off", "Mo-Sa 07:30-19:30", "Mo-Fr 07:00-11:00; Sa 07:00-10:00",
    "Sa,Su 10:00-12:00,14:00-18:00", "Mo-Fr 22:00-06:00", "Sa 00:00-24:00", "Mo,We 09:00-10:00; PH off",
])
def test_a_stored_value_fills_the_form_and_comes_back_the_same(text: str) -> None:
    choice = choice_of(text)
    assert choice.mode is HoursMode.WEEKLY and choice.raw == text
    written = opening_hours_of(choice)
    assert parse_opening_hours(written).windows == parse_opening_hours(text).windows


def test_values_the_rows_cannot_hold_go_to_the_advanced_field() -> None:
    for text in ("2026 Dec 01-2026 Dec 05 08:00-20:00", "Mo-Sa 11:00-06:00; Su,PH 10:00-12:00", "n'importe quoi"):
        choice = choice_of(text)
        assert (choice.mode, choice.raw) == (HoursMode.RAW, text)
    assert choice_of(None) == HoursChoice() and choice_of("24/7").mode is HoursMode.ALWAYS
    whole = choice_of("Sa 00:00-24:00")
    assert whole.rows == (HoursRow((5,), "", "", True),)
