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


def test_english_sentences_come_from_the_catalog() -> None:
    assert action_sentence("Iris", "reject", "application", "en") == "Iris rejected: application"
    assert action_sentence("Alice", "status_suspended", "zone", "en") == 'Alice set the status to “suspended” on: zone'
    assert action_sentence("Alice", "something_new", "zone", "en") == "Alice changed: zone"
    lines = changes({"status": "submitted", "permanent": True}, {"status": "rejected", "permanent": False,
                                                                "reason": "Hors zone"}, "en")
    assert lines == ["status: submitted → rejected", "permanent: yes → no", "reason: Hors zone"]
    assert changes({"kind": "low_emission"}, {"kind": "pedestrian"}, "en") == [
        "type: low-emission zone → pedestrian area"]
    assert value_text("opening_hours", "Mo-Fr 07:00-11:00", "en").startswith("Mon")
    assert value_text("geometry", {"type": "Polygon"}, "en") == "perimeter drawn"
    assert "created: 2" in value_text("after", {"counts": {"created": 2}}, "en")


def test_every_journal_word_has_an_english_translation() -> None:
    from cirqliz.domain.purposes import Purpose
    from cirqliz.web.audit_text import ACTION_FR, FIELD_FR, JOURNAL
    from cirqliz.web.i18n import translations
    from cirqliz.web.labels import VALUE_FR

    english = translations("en")._catalog  # every msgid, even those spelt the same in English
    untranslated = [text for text in [*ACTION_FR.values(), *FIELD_FR.values()] if f"{JOURNAL}\x04{text}" not in english]
    untranslated += [label for label in [*VALUE_FR.values(), *(p.label_fr for p in Purpose)] if label not in english]
    assert not untranslated


def test_the_journal_uses_the_one_label_table() -> None:
    from cirqliz.web import audit_text
    from cirqliz.web.controllers import accounts, authority
    from cirqliz.web.labels import PASS_STATUS_FR, ROLE_LABELS, VALUE_FR, ZONE_KIND_FR

    assert audit_text.VALUE_FR is VALUE_FR
    assert authority.ZONE_KIND_FR is ZONE_KIND_FR and authority.PASS_STATUS_FR is PASS_STATUS_FR
    assert accounts.ROLE_LABELS is ROLE_LABELS
    assert value_text("role", "reviewer") == "Instructeur"


def test_a_sentence_starts_with_a_capital() -> None:
    assert action_sentence("le système", "create", "zone") == "Le système a créé : zone"
    assert action_sentence("the system", "create", "zone", "en") == "The system created: zone"
