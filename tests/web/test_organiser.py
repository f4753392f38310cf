"""Organisers' pages and the authority's event, incident, import and job pages."""

from __future__ import annotations

import html
import re
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from cirqliz.db.models import AccessPass, EventPass, JobRun, TemporaryZone, ZoneClosure
from cirqliz.demo.seed import ZONE_IDS
from cirqliz.jobs.jobs import EXPIRE, run_job

from .conftest import login, post_form
from .conftest import text_of as _raw_text
from .mailbox import in_db

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
SQUARE = ('{"type": "Polygon", "coordinates": [[[2.34, 48.85], [2.36, 48.85], [2.36, 48.87], [2.34, 48.87], '
          '[2.34, 48.85]]]}')


def text_of(page: str) -> str:
    """Visible text with HTML entities decoded."""
    return html.unescape(_raw_text(page))


GOOD_CSV = "entreprise;immatriculation;zones;creneaux\n{rows}"


def _create_event(client) -> str:
    page = client.get("/organisateur")
    assert page.status_code == 200 and "Nouvel événement" in page.text
    authority_id = re.search(r'<option value="([0-9a-f-]{36})"', page.text).group(1)
    response = post_form(client, "/organisateur/evenements", {
        "name": "Fête de la musique", "authority_id": authority_id,
        "starts_at": "2026-12-01T08:00", "ends_at": "2026-12-03T20:00"}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return response.headers["location"].split("?")[0].rsplit("/", 1)[-1]


def _add_zone(client, event_id: str, **overrides) -> object:
    data = {"name": "Scène du parc", "level": "red", "starts_at": "2026-12-01T10:00", "ends_at": "2026-12-03T18:00",
            "hours": "", "geojson": SQUARE, **overrides}
    return post_form(client, f"/organisateur/evenements/{event_id}/zones", data, follow_redirects=False)


def _upload_csv(client, event_id: str, text: str) -> object:
    return client.post(f"/organisateur/evenements/{event_id}/laissez-passer",
                       data={"_csrf_token": client.cookies.get("cirqliz_csrf")},
                       files={"csv_file": ("prestataires.csv", text.encode(), "text/csv")})


def _zone_code(web_world, event_id: str) -> str:
    async def work(session):
        from cirqliz.db.models import Zone
        rows = (await session.exec(select(Zone.code).join(TemporaryZone, col(TemporaryZone.zone_id) == Zone.id)
                                   .where(col(TemporaryZone.event_id) == uuid.UUID(event_id)))).all()
        return rows[0]
    return in_db(web_world, work)


def _count(web_world, model) -> int:
    async def work(session):
        return (await session.exec(select(func.count()).select_from(model))).one()
    return in_db(web_world, work)


def test_event_from_creation_to_supplier_passes(client, web_world) -> None:
    login(client, "organiser")
    event_id = _create_event(client)
    bad = _add_zone(client, event_id, starts_at="2026-11-30T10:00")
    assert bad.status_code == 422 and "pendant l'événement" in text_of(bad.text)
    assert _add_zone(client, event_id).status_code == 303
    code = _zone_code(web_world, event_id)
    page = text_of(client.get(f"/organisateur/evenements/{event_id}").text)
    assert code in page and "rouge" in page
    assert "du 01/12/2026 à 10 h au 03/12/2026 à 18 h" in page  # shown in Paris time, one wording of periods
    # Not approved yet: no passes.
    early = _upload_csv(client, event_id, GOOD_CSV.format(rows=f"Son SARL;AB-123-CD;{code};\n"))
    assert early.status_code == 422 and "approuvé" in early.text
    assert post_form(client, f"/organisateur/evenements/{event_id}/soumettre",
                     follow_redirects=False).status_code == 303

    admin = client  # same client, new session
    post_form(admin, "/deconnexion")
    login(admin, "admin")
    listing = text_of(admin.get("/autorite/evenements").text)
    assert "Fête de la musique" in listing and "soumis" in listing
    assert post_form(admin, f"/autorite/evenements/{event_id}/approuver", {"pass_quota": "2"},
                     follow_redirects=False).status_code == 303
    assert "approuvé" in text_of(admin.get(f"/autorite/evenements/{event_id}").text)

    post_form(client, "/deconnexion")
    login(client, "organiser")
    rows = (f"Son SARL;AB-123-CD;{code};Lu-Ve 07:00-11:00\n"
            f"Lumières SAS;pas une plaque!;{code};\n")
    refused = _upload_csv(client, event_id, GOOD_CSV.format(rows=rows))
    assert refused.status_code == 422
    assert "ligne 3, champ immatriculation" in text_of(refused.text)
    assert _count(web_world, EventPass) == 0 and _count(web_world, AccessPass) == 0
    too_many = _upload_csv(client, event_id, GOOD_CSV.format(rows="".join(
        f"Traiteur {i};AB-12{i}-CD;{code};\n" for i in range(3))))
    assert too_many.status_code == 422 and "quota dépassé" in text_of(too_many.text)
    rows = f"Son SARL;AB-123-CD;{code};Lu-Ve 07:00-11:00\nLumières SAS;EF-456-GH;{code};\n"
    issued = _upload_csv(client, event_id, GOOD_CSV.format(rows=rows))
    assert issued.status_code == 200, issued.text
    assert "2 laissez-passer émis" in text_of(issued.text)
    assert _count(web_world, EventPass) == 2
    assert "2 émis sur 2 délégués" in text_of(client.get(f"/organisateur/evenements/{event_id}").text)


def test_authority_refuses_with_a_reason(client, web_world) -> None:
    login(client, "organiser")
    event_id = _create_event(client)
    _add_zone(client, event_id, level="blue")
    post_form(client, f"/organisateur/evenements/{event_id}/soumettre")
    post_form(client, "/deconnexion")
    login(client, "admin")
    assert post_form(client, f"/autorite/evenements/{event_id}/refuser", {"reason": ""}).status_code == 422
    assert post_form(client, f"/autorite/evenements/{event_id}/refuser", {"reason": "Périmètre trop large"},
                     follow_redirects=False).status_code == 303
    post_form(client, "/deconnexion")
    login(client, "organiser")
    page = text_of(client.get(f"/organisateur/evenements/{event_id}").text)
    assert "refusé" in page and "Périmètre trop large" in page and "Soumettre l'événement" in page


@pytest.mark.parametrize("who", ["pro", "agent", "reviewer"])
def test_role_guards(client, who) -> None:
    login(client, who)
    assert client.get("/organisateur").status_code == 403
    assert client.get("/autorite/evenements").status_code == 403
    assert client.get("/autorite/taches").status_code == 403
    assert client.get("/autorite/incidents").status_code == 403


def test_organiser_cannot_reach_authority_pages_nor_others_events(client) -> None:
    login(client, "organiser")
    assert client.get("/autorite/evenements").status_code == 403
    assert client.get(f"/organisateur/evenements/{uuid.uuid4()}").status_code == 404


def test_incident_closure_page(client, web_world) -> None:
    login(client, "admin")
    page = client.get("/autorite/incidents")
    assert page.status_code == 200 and "PARIS-CENTRE" in page.text
    refused = post_form(client, "/autorite/incidents", {"zone_id": str(ZONE_IDS["PARIS-CENTRE"]),
                                                        "ends_at": "2026-11-23T12:00", "reason": ""})
    assert refused.status_code == 422
    done = post_form(client, "/autorite/incidents", {"zone_id": str(ZONE_IDS["PARIS-CENTRE"]),
                                                     "ends_at": "2026-11-23T12:00", "reason": "Fuite de gaz"},
                     follow_redirects=False)
    assert done.status_code == 303
    listing = text_of(client.get("/autorite/incidents").text)
    assert "Fuite de gaz" in listing and "23/11/2026 12:00" in listing
    assert _count(web_world, ZoneClosure) == 1


def test_jobs_page_shows_runs(client, web_world) -> None:
    async def work(session):
        return None
    import asyncio

    from cirqliz.db.engine import create_engine, create_session_factory

    async def run() -> None:
        engine = create_engine(web_world.settings)
        try:
            await run_job(create_session_factory(engine), EXPIRE, clock=web_world.clock, settings=web_world.settings)
        finally:
            await engine.dispose()

    asyncio.run(run())
    assert _count(web_world, JobRun) == 1
    login(client, "admin")
    page = text_of(client.get("/autorite/taches").text)
    assert "expire_passes" in page and "réussie" in page and "switch_zones" in page and "jamais exécutée" in page
    assert ">ok<" not in client.get("/autorite/taches").text  # the outcome through its label, never raw


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data is absent")
def test_import_preview_then_apply(client, web_world) -> None:
    login(client, "admin")
    assert client.get("/autorite/evenements/import").status_code == 200
    data = (SHARED / "jop" / "para_ouverture.geojson").read_bytes()
    preview = client.post("/autorite/evenements/import", data={"_csrf_token": client.cookies.get("cirqliz_csrf"),
                                                                "format": "perimeters", "action": "preview"},
                          files={"file": ("para.geojson", data, "application/geo+json")})
    assert preview.status_code == 200 and "Aperçu" in preview.text and "1 créée(s)" in text_of(preview.text)
    assert _count(web_world, TemporaryZone) == 0
    payload = re.search(r'name="payload" value="([^"]+)"', preview.text).group(1)
    applied = post_form(client, "/autorite/evenements/import", {"format": "perimeters", "action": "apply",
                                                                "payload": payload})
    assert applied.status_code == 200 and "Import appliqué" in applied.text
    assert _count(web_world, TemporaryZone) == 1
    again = post_form(client, "/autorite/evenements/import", {"format": "perimeters", "action": "apply",
                                                              "payload": payload})
    assert "1 inchangée(s)" in text_of(again.text) and _count(web_world, TemporaryZone) == 1
    broken = client.post("/autorite/evenements/import", data={"_csrf_token": client.cookies.get("cirqliz_csrf"),
                                                              "format": "perimeters", "action": "preview"},
                         files={"file": ("para.geojson", data[:200], "application/geo+json")})
    assert broken.status_code == 422 and "JSON" in broken.text


def test_pages_in_english(client) -> None:
    login(client, "organiser")
    assert "My events" in client.get("/organisateur?lang=en").text


def test_perimeter_hours_come_from_the_hours_form_and_are_its_restriction_schedule(client, web_world) -> None:
    from cirqliz.db.models import AccessRule, Zone

    login(client, "organiser")
    event_id = _create_event(client)
    page = client.get(f"/organisateur/evenements/{event_id}").text
    assert 'name="hours_mode"' in page and "Horaires du périmètre" in text_of(page)
    response = _add_zone(client, event_id, hours="", hours_mode="windows", w0_days="5", w0_start="19:00",
                         w0_end="23:00")
    assert response.status_code == 303, text_of(response.text)

    async def work(session):
        zone = (await session.exec(select(Zone).join(TemporaryZone, col(TemporaryZone.zone_id) == Zone.id)
                                   .where(col(TemporaryZone.event_id) == uuid.UUID(event_id)))).one()
        rules = (await session.exec(select(AccessRule).where(col(AccessRule.zone_id) == zone.id))).all()
        return zone.restriction_hours, zone.restriction_windows, [r.windows for r in rules]

    hours, windows, rule_windows = in_db(web_world, work)
    assert hours == "Sa 19:00-23:00"
    assert windows == [{"weekdays": 0b0100000, "start": 19 * 60, "end": 23 * 60}]
    assert len(rule_windows) == 1 and not rule_windows[0]  # holders enter whenever it is in force (ADR 0007)
