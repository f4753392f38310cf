"""Issue 17, drafts: a draft is changed through the application form (zones, dates, hours, purpose,
vehicles, comment), with every refusal listed and nothing changed; "Déposer la demande" shows only
on an eligible draft, and the page says why not otherwise."""

from __future__ import annotations

import re
import uuid

from sqlmodel import col, select

from cirqliz.db.models import Application, ApplicationVehicle, ApplicationZone, AuditRecord, Vehicle
from cirqliz.demo.seed import VEHICLES, ZONE_IDS

from .conftest import login, post_form
from .test_professional import VEHICLE_AB, VEHICLE_EF, new_application, run_db, submitted_application, visible

ZFE = "ZFE-GRAND-PARIS"
SUBMIT_BUTTON = re.compile(r"<button[^>]*>\s*Déposer la demande\s*</button>")


def _form(*, zones=("PARIS-CENTRE",), vehicles=(VEHICLE_AB,), first="2026-11-25", last="2026-12-05", purpose="1",
          extra=None) -> dict:
    return {"zone_ids": [str(ZONE_IDS[z]) for z in zones], "vehicle_ids": [str(v) for v in vehicles],
            "purpose": purpose, "first_day": first, "last_day": last, "comment": "Chantier rue de Rivoli",
            "action": "verifier", **(extra or {})}


def _stored(world, app_id: uuid.UUID) -> tuple:
    async def work(session):
        app = await session.get(Application, app_id)
        zones = set((await session.exec(select(ApplicationZone.zone_id)
                                        .where(col(ApplicationZone.application_id) == app_id))).all())
        vehicles = set((await session.exec(select(ApplicationVehicle.vehicle_id)
                                           .where(col(ApplicationVehicle.application_id) == app_id))).all())
        return app.status, app.purpose, app.not_before, app.expires_at, app.windows, app.comment, zones, vehicles

    return run_db(world, work)


def test_the_edit_form_is_filled_with_the_draft(client) -> None:
    login(client, "pro")
    app_id = new_application(client, extra={"w1_days": ["0", "2"], "w1_start": "07:30", "w1_end": "11:00"})
    page = client.get(f"/pro/demandes/{app_id}")
    assert f'href="/pro/demandes/{app_id}/modifier"' in page.text
    form = client.get(f"/pro/demandes/{app_id}/modifier")
    assert form.status_code == 200
    html = form.text
    assert f'action="/pro/demandes/{app_id}/modifier"' in html
    assert re.search(rf'value="{ZONE_IDS["PARIS-CENTRE"]}"\s+checked', html)
    assert re.search(rf'value="{VEHICLE_AB}"\s+checked', html)
    assert not re.search(rf'value="{VEHICLE_EF}"\s+checked', html)
    assert 'value="2026-11-24"' in html and 'value="2026-12-10"' in html  # the last day, inclusive
    for day in (0, 2):
        assert re.search(rf'id="w1-d{day}"[^>]*value="{day}"\s+checked', html), day
    assert 'value="07:30"' in html and 'value="11:00"' in html
    assert "Modifier le brouillon n°" in visible(html)


def test_a_draft_is_changed_and_its_eligibility_shown_again(client, web_world) -> None:
    login(client, "pro")
    app_id = new_application(client)
    response = post_form(client, f"/pro/demandes/{app_id}/modifier",
                         _form(zones=("PARIS-CENTRE", "MARAIS-PIETON"), vehicles=(VEHICLE_AB, VEHICLE_EF), purpose="2",
                               extra={"w1_days": ["0", "1", "2", "3", "4"], "w1_start": "08:00", "w1_end": "10:00"}),
                         follow_redirects=False)
    assert response.status_code == 303, visible(response.text)
    assert response.headers["location"] == f"/pro/demandes/{app_id}?ok=brouillon_modifie#eligibilite"
    status, purpose, not_before, expires_at, windows, comment, zones, vehicles = _stored(web_world, app_id)
    assert status == "draft" and purpose == 2 and comment == "Chantier rue de Rivoli"
    assert zones == {ZONE_IDS["PARIS-CENTRE"], ZONE_IDS["MARAIS-PIETON"]} and vehicles == {VEHICLE_AB, VEHICLE_EF}
    assert windows == [{"weekdays": 0b11111, "start": 480, "end": 600}]
    assert (not_before.isoformat(), expires_at.isoformat()) == ("2026-11-24T23:00:00+00:00",
                                                                "2026-12-05T23:00:00+00:00")
    page = visible(client.get(response.headers["location"]).text)
    assert "Brouillon modifié" in page and "du 25/11/2026 au 05/12/2026 inclus" in page
    assert "EF-456-GH" in page and "MARAIS-PIETON" in page

    async def audit(session):
        return (await session.exec(select(AuditRecord.action).where(col(AuditRecord.entity_id) == str(app_id)))).all()

    assert "update" in run_db(web_world, audit)


def test_every_problem_of_the_edit_is_listed_and_nothing_changes(client, web_world) -> None:
    login(client, "pro")
    app_id = new_application(client)
    before = _stored(web_world, app_id)
    response = post_form(client, f"/pro/demandes/{app_id}/modifier",
                         _form(zones=(), vehicles=(), first="2026-12-05", last="2026-11-30",
                               extra={"w1_days": ["0"], "w1_start": "", "w1_end": ""}))
    assert response.status_code == 422
    page = visible(response.text)
    for message in ("choisissez au moins une zone", "choisissez au moins un véhicule",
                    "la date de fin précède la date de début", "créneau 1 : cochez au moins un jour"):
        assert message in page, message
    assert "Chantier rue de Rivoli" in response.text  # what was typed stays
    assert f'action="/pro/demandes/{app_id}/modifier"' in response.text
    assert _stored(web_world, app_id) == before


def test_another_company_vehicle_or_zone_of_two_authorities_is_refused(client, web_world) -> None:
    login(client, "pro")
    app_id = new_application(client)
    before = _stored(web_world, app_id)
    stranger = VEHICLES[3][0]  # KL-012-MN, of the other company
    response = post_form(client, f"/pro/demandes/{app_id}/modifier", _form(vehicles=(VEHICLE_AB, stranger)))
    assert response.status_code == 422 and f"véhicule inconnu(e) : {stranger}" in visible(response.text)
    assert _stored(web_world, app_id) == before


def test_only_a_draft_can_be_changed(client, web_world) -> None:
    login(client, "pro")
    app_id = submitted_application(client)
    before = _stored(web_world, app_id)
    page = client.get(f"/pro/demandes/{app_id}")
    assert "/modifier" not in page.text
    for response in (client.get(f"/pro/demandes/{app_id}/modifier"),
                     post_form(client, f"/pro/demandes/{app_id}/modifier", _form())):
        assert response.status_code == 409
        assert "seul un brouillon peut être modifié : cette demande est déposée" in visible(response.text).lower()
    assert _stored(web_world, app_id) == before


def test_other_company_cannot_open_or_change_the_draft(client, web_world) -> None:
    login(client, "pro")
    app_id = new_application(client)
    before = _stored(web_world, app_id)
    client.cookies.clear()
    login(client, "other_pro")
    assert client.get(f"/pro/demandes/{app_id}/modifier").status_code == 404
    assert post_form(client, f"/pro/demandes/{app_id}/modifier", _form()).status_code == 404
    assert _stored(web_world, app_id) == before


def test_submit_shows_only_on_an_eligible_draft_and_says_why_not(client, web_world) -> None:
    login(client, "pro")
    assert post_form(client, "/pro/vehicules/nouveau", {"plate": "GL-444-DD", "category": "N1", "crit_air": "4",
                                                         "energy": "diesel"}, follow_redirects=False).status_code == 303

    async def van(session):
        return (await session.exec(select(Vehicle.id).where(col(Vehicle.plate) == "GL444DD"))).one()

    old_van = run_db(web_world, van)
    app_id = new_application(client, zones=(ZFE,), vehicles=(old_van,))
    html = client.get(f"/pro/demandes/{app_id}").text
    page = visible(html)
    assert not SUBMIT_BUTTON.search(html) and f"/pro/demandes/{app_id}/deposer" not in html
    assert "Non éligible en l'état : la demande ne peut pas encore être déposée." in page
    assert f"GL-444-DD ne remplit pas les conditions de la zone {ZFE}" in page
    assert "Le bouton « Déposer la demande » apparaîtra quand" in page
    assert "Crit'Air 4 : la zone exige Crit'Air 2 ou mieux" in page

    # Changed to a clean vehicle through the edit form: now it can be submitted.
    response = post_form(client, f"/pro/demandes/{app_id}/modifier", _form(zones=(ZFE,), vehicles=(VEHICLE_AB,)),
                         follow_redirects=False)
    assert response.status_code == 303, visible(response.text)
    html = client.get(f"/pro/demandes/{app_id}").text
    assert SUBMIT_BUTTON.search(html) and f"/pro/demandes/{app_id}/deposer" in html
    assert "Non éligible" not in visible(html)
    assert post_form(client, f"/pro/demandes/{app_id}/deposer", follow_redirects=False).status_code == 303
