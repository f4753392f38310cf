"""The journal reads a record's values by the kind of record: a pass's status with the passes' labels,
its zones (reference numbers) by their codes; the same words elsewhere keep their own meaning."""

from __future__ import annotations

from cirqliz.issuance.authority_queries import AuditSubjects
from cirqliz.web.audit_text import changes, value_names, value_text, zone_ref_key


def test_a_status_reads_by_the_kind_of_record() -> None:
    assert changes(None, {"status": "active"}, entity="pass") == ["statut : valide"]
    assert changes({"status": "active"}, {"status": "suspended"}, entity="pass") == ["statut : valide → suspendu"]
    assert changes({"status": "draft"}, {"status": "active"}, entity="zone") == ["statut : brouillon → active"]
    assert changes({"status": "submitted"}, {"status": "approved"}, entity="application") == [
        "statut : déposée → acceptée"]
    assert changes(None, {"status": "active"}, "en", entity="pass") == ["status: valid"]


def test_a_pass_names_its_zones_by_code() -> None:
    found = AuditSubjects({("zone_ref", "1"): {"id": 1, "code": "PARIS-CENTRE"},
                           ("zone_ref", "2"): {"id": 2, "code": "MARAIS-PIETON"}}, {})
    names = value_names(found)
    assert names[zone_ref_key(1)] == "PARIS-CENTRE"
    assert changes(None, {"zones": [1, 2]}, names=names, entity="pass") == ["zones : PARIS-CENTRE, MARAIS-PIETON"]
    assert value_text("zones", [3], names=names, entity="pass") == "3"  # not (or no longer) the authority's
    # A publication counts its zones: a number, never read as a reference.
    assert changes(None, {"zones": 2}, names=names, entity="bundle") == ["zones : 2"]
