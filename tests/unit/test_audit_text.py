"""The audit journal reads as sentences: labels for actions, fields, enum values, hours and dates."""

from __future__ import annotations

from cirqliz.web.audit_text import action_sentence, changes, value_text


def test_actions_read_as_sentences() -> None:
    assert action_sentence("Iris", "reject", "demande") == "Iris a refusé : demande"
    assert action_sentence("Alice", "status_suspended", "zone") == "Alice a passé au statut « suspendue » : zone"
    assert action_sentence("Alice", "import_zfe", "import de zones") == "Alice a importé : import de zones"
    assert "something_new" not in action_sentence("Alice", "something_new", "zone")


def test_changes_say_before_and_after_with_labels() -> None:
    lines = changes({"status": "submitted", "name": "A"}, {"status": "rejected", "name": "A", "reason": "Hors zone"})
    assert lines == ["statut : déposée → refusée", "motif : Hors zone"]
    assert changes({"kind": "low_emission"}, {"kind": "pedestrian"}) == [
        "type : zone à faibles émissions → aire piétonne"]


def test_hours_windows_dates_and_purposes_are_french() -> None:
    text = value_text("opening_hours", "Mo-Fr 07:00-11:00")
    assert "Mo" not in text and "lun" in text
    windows = value_text("windows", [{"weekdays": 31, "start": 420, "end": 660}])
    assert "lun" in windows and "Mo" not in windows
    assert value_text("starts_on", "2026-03-02") == "02/03/2026"
    assert value_text("permanent", True) == "oui"
    assert value_text("reason", None) == "—"
    assert value_text("geometry", {"type": "Polygon", "coordinates": []}) == "périmètre dessiné"
    nested = value_text("after", {"counts": {"created": 2}})
    assert "décompte" in nested and "créées : 2" in nested and "created" not in nested
