"""Issue 16: an authority maintains its zones from the back office — perimeter (redrawn or uploaded),
restriction schedule (the hours form) and access rules (edit, delete) — each change one transaction,
a new data version, an audit record (before → after), reaching agents with the next bundle, and
passes already issued still valid (ADR 0007)."""

from __future__ import annotations

import html
import json
import uuid

import pytest
from litestar.testing import TestClient
from sqlmodel import col, select

from cirqliz.db.models import AccessPass, AccessRule, AuditRecord, Zone
from cirqliz.demo.seed import AUTHORITY_CODE, AUTHORITY_ID, ZONE_IDS
from cirqliz.jobs.jobs import bundle_is_current
from cirqliz.passcode.bundle import open_bundle
from cirqliz.passcode.keys import VerifyKey
from cirqliz.verify.core import Reason, verify_pass

from .conftest import WEB_T0, login, post_form
from .conftest import text_of as raw_text_of
from .test_authority import BOWTIE, run, submitted_application
from .two_authorities import add_second_authority, sign_in

PARIS = ZONE_IDS["PARIS-CENTRE"]
MARAIS = ZONE_IDS["MARAIS-PIETON"]
# A smaller square inside Paris Centre's neighbourhood (WGS84).
NEW_SQUARE = {"type": "Polygon",
              "coordinates": [[[2.340, 48.855], [2.350, 48.855], [2.350, 48.862], [2.340, 48.862], [2.340, 48.855]]]}
WEEKDAYS_8_20 = {"hours_mode": "windows", "w0_days": ["0", "1", "2", "3", "4"], "w0_start": "08:00",
                 "w0_end": "20:00", "holidays": "1"}


def text_of(page: str) -> str:
    """Visible text of a page, entities decoded (apostrophes are escaped in the HTML)."""
    return html.unescape(raw_text_of(page))


def zone(world, zone_id=PARIS) -> Zone:
    async def work(session):
        return await session.get(Zone, zone_id)

    return run(world, work)


def rules(world, zone_id=PARIS) -> list[AccessRule]:
    async def work(session):
        return list((await session.exec(select(AccessRule).where(col(AccessRule.zone_id) == zone_id)
                                        .order_by(col(AccessRule.position)))).all())

    return run(world, work)


def audits(world, action: str) -> list[AuditRecord]:
    async def work(session):
        return list((await session.exec(select(AuditRecord).where(col(AuditRecord.action) == action)
                                        .order_by(col(AuditRecord.at)))).all())

    return run(world, work)


def audit_count(world) -> int:
    async def work(session):
        return len((await session.exec(select(AuditRecord.id))).all())

    return run(world, work)


def bundle_current(world) -> bool:
    keystore = world.app.state.signer.keystore(AUTHORITY_CODE)

    async def work(session):
        from cirqliz.db.models import Organisation

        return await bundle_is_current(session, await session.get(Organisation, AUTHORITY_ID), keystore,
                                       world.clock.now())

    return run(world, work)


@pytest.fixture
def admin(client: TestClient) -> TestClient:
    return login(client, "admin")


# ---- perimeter ----------------------------------------------------------------------------------


def test_redraw_the_perimeter_bumps_the_version_audits_and_the_next_bundle_carries_it(admin, web_world) -> None:
    before = zone(web_world)
    assert bundle_current(web_world)  # the demo world's bundle says what the database says
    root = VerifyKey.from_pem(admin.get(f"/bundle/{AUTHORITY_CODE}/root.pem").content)
    first = open_bundle(admin.get(f"/bundle/{AUTHORITY_CODE}.cose").content, [root])
    page = admin.get(f"/autorite/zones/{PARIS}/perimetre")
    assert page.status_code == 200 and 'data-current="' in page.text and 'data-mode="draw"' in page.text
    response = post_form(admin, f"/autorite/zones/{PARIS}/perimetre", {"geojson": json.dumps(NEW_SQUARE)},
                         follow_redirects=False)
    assert response.status_code == 303, response.text
    after = zone(web_world)
    assert after.geometry == NEW_SQUARE and after.data_version == before.data_version + 1
    assert after.updated_at.replace(tzinfo=None) == WEB_T0.replace(tzinfo=None)
    [record] = audits(web_world, "geometry")
    assert record.entity_id == str(PARIS)
    assert record.before["geometry"]["bbox"] != record.after["geometry"]["bbox"]
    assert record.after["geometry"]["bbox"] == [2.34, 48.855, 2.35, 48.862]
    assert "Périmètre enregistré" in admin.get(response.headers["location"]).text
    # The publish job sees that the published zones differ: it republishes.
    assert not bundle_current(web_world)
    published = post_form(admin, "/autorite/publier")
    assert published.status_code == 200
    bundle = open_bundle(admin.get(f"/bundle/{AUTHORITY_CODE}.cose").content, [root], current=first)
    [old_entry] = [z for z in first.content.zones if z.code == "PARIS-CENTRE"]
    [entry] = [z for z in bundle.content.zones if z.code == "PARIS-CENTRE"]
    assert bundle.seq == first.seq + 1 and entry.geometry != old_entry.geometry
    assert bundle.content.zone_data_version >= after.data_version
    assert bundle_current(web_world)


def test_upload_a_geojson_file_as_the_new_perimeter(admin, web_world) -> None:
    feature = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"nom": "Halles"}, "geometry": NEW_SQUARE}]}
    response = admin.post(f"/autorite/zones/{MARAIS}/perimetre", data={"_csrf_token": admin.cookies["cirqliz_csrf"]},
                          files={"geometry_file": ("halles.geojson", json.dumps(feature).encode(),
                                                   "application/geo+json")}, follow_redirects=False)
    assert response.status_code == 303, response.text
    assert zone(web_world, MARAIS).geometry == NEW_SQUARE


@pytest.mark.parametrize(("geojson", "message"), [
    (json.dumps(BOWTIE), "le contour se recoupe"),
    (json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": NEW_SQUARE}] * 2}),
     "le fichier contient 2 objets"),
    ("", "géométrie manquante"),
    ("{pas du json", "GeoJSON"),
])
def test_a_refused_perimeter_says_why_in_french_and_changes_nothing(admin, web_world, geojson, message) -> None:
    before, count = zone(web_world), audit_count(web_world)
    response = post_form(admin, f"/autorite/zones/{PARIS}/perimetre", {"geojson": geojson})
    assert response.status_code == 422
    text = text_of(response.text)
    assert "Refusé" in text and message in text, text[:2000]
    assert "Traceback" not in text
    after = zone(web_world)
    assert (after.geometry, after.data_version) == (before.geometry, before.data_version)
    assert audit_count(web_world) == count


# ---- restriction schedule ------------------------------------------------------------------------


def test_the_hours_form_sets_the_restriction_schedule_shown_in_french(admin, web_world) -> None:
    version = zone(web_world).data_version
    response = post_form(admin, f"/autorite/zones/{PARIS}/horaires", WEEKDAYS_8_20, follow_redirects=False)
    assert response.status_code == 303, response.text
    stored = zone(web_world)
    assert stored.restriction_hours == "Mo-Fr 08:00-20:00; PH off"
    assert stored.restriction_windows == [{"weekdays": 0b0011111, "start": 480, "end": 1200,
                                           "skip_public_holidays": True}]
    assert stored.data_version == version + 1
    [record] = audits(web_world, "restriction")
    assert record.before == {"restriction_hours": None, "restriction_windows": None}
    assert record.after["restriction_hours"] == "Mo-Fr 08:00-20:00; PH off"
    page = text_of(admin.get(f"/autorite/zones/{PARIS}").text)
    assert "Réglementée : lun.–ven. 8 h–20 h, sauf jours fériés" in page
    listing = text_of(admin.get("/autorite/zones").text)
    assert "lun.–ven. 8 h–20 h, sauf jours fériés" in listing
    assert "Mo-Fr 08:00-20:00" not in listing
    # The form shows the schedule back: Monday to Friday ticked, 08:00–20:00, holidays excluded.
    body = admin.get(f"/autorite/zones/{PARIS}").text
    schedule = body.split(f'action="/autorite/zones/{PARIS}/horaires"')[1].split("</form>")[0]
    assert schedule.count('name="w0_days" value="0" checked') == 1
    assert 'name="w0_days" value="5" checked' not in schedule
    assert 'value="08:00"' in schedule and 'value="20:00"' in schedule
    assert 'name="holidays" value="1" checked' in schedule
    # The next bundle carries it (Z_RESTRICTION): Saturday is outside, a pass is not needed then.
    assert not bundle_current(web_world)

    # "En permanence" clears it again.
    assert post_form(admin, f"/autorite/zones/{PARIS}/horaires", {"hours_mode": "always"},
                     follow_redirects=False).status_code == 303
    cleared = zone(web_world)
    assert (cleared.restriction_hours, cleared.restriction_windows) == (None, None)
    assert cleared.data_version == version + 2
    assert "Réglementée : en permanence" in text_of(admin.get(f"/autorite/zones/{PARIS}").text)


def test_saving_the_same_schedule_twice_makes_no_new_version(admin, web_world) -> None:
    post_form(admin, f"/autorite/zones/{PARIS}/horaires", WEEKDAYS_8_20)
    version, count = zone(web_world).data_version, audit_count(web_world)
    post_form(admin, f"/autorite/zones/{PARIS}/horaires", WEEKDAYS_8_20)
    assert zone(web_world).data_version == version and audit_count(web_world) == count


def test_advanced_hours_and_hours_the_windows_cannot_say(admin, web_world) -> None:
    response = post_form(admin, f"/autorite/zones/{PARIS}/horaires",
                         {"hours_mode": "osm", "opening_hours": "Mo-Sa 07:30-19:30"}, follow_redirects=False)
    assert response.status_code == 303
    assert zone(web_world).restriction_windows == [{"weekdays": 0b0111111, "start": 450, "end": 1170}]
    assert "lun.–sam. 7 h 30–19 h 30" in text_of(admin.get(f"/autorite/zones/{PARIS}").text)
    # Kept as given, no windows: the zone counts as restricted at all times, and the page says so.
    odd = "Mo-Sa 11:00-06:00; Su,PH 10:00-12:00"
    assert post_form(admin, f"/autorite/zones/{PARIS}/horaires", {"hours_mode": "osm", "opening_hours": odd},
                     follow_redirects=False).status_code == 303
    stored = zone(web_world)
    assert (stored.restriction_hours, stored.restriction_windows) == (odd, None)
    assert "traitée comme réglementée en permanence" in text_of(admin.get(f"/autorite/zones/{PARIS}").text)


@pytest.mark.parametrize(("form", "message"), [
    ({"hours_mode": "osm", "opening_hours": "lundi matin"}, "horaires illisibles"),
    ({"hours_mode": "windows"}, "indiquez au moins un créneau"),
    ({"hours_mode": "windows", "w0_start": "08:00", "w0_end": "12:00"}, "créneau 1 : choisissez au moins un jour"),
    ({"hours_mode": "windows", "w1_days": "2", "w1_start": "08:00"}, "créneau 2 : indiquez l'heure de début"),
    ({"hours_mode": "windows", "w0_days": "2", "w0_start": "25:00", "w0_end": "26:00"}, "heure hors limites"),
    ({"hours_mode": "windows", "w0_days": "2", "w0_start": "08:00", "w0_end": "08:00"}, "à la même heure"),
])
def test_a_refused_schedule_keeps_what_was_typed_and_changes_nothing(admin, web_world, form, message) -> None:
    before, count = zone(web_world), audit_count(web_world)
    response = post_form(admin, f"/autorite/zones/{PARIS}/horaires", form)
    assert response.status_code == 422
    assert message in text_of(response.text)
    if form.get("opening_hours"):
        assert f'value="{form["opening_hours"]}"' in response.text
    after = zone(web_world)
    assert (after.restriction_hours, after.data_version) == (before.restriction_hours, before.data_version)
    assert audit_count(web_world) == count


# ---- access rules -------------------------------------------------------------------------------


def test_edit_a_rule_with_the_hours_form(admin, web_world) -> None:
    [rule] = rules(web_world)[:1]
    version = zone(web_world).data_version
    page = admin.get(f"/autorite/zones/{PARIS}/regles/{rule.id}")
    assert page.status_code == 200
    assert f'value="{rule.name}"' in page.text  # the form is filled with the rule
    response = post_form(admin, f"/autorite/zones/{PARIS}/regles/{rule.id}", {
        "name": "Livraisons du matin", "hours_mode": "windows",
        "w0_days": ["0", "1", "2", "3", "4"], "w0_start": "07:00", "w0_end": "11:00",
        "w1_days": ["5"], "w1_allday": "1",
        "purposes": ["1"], "categories": ["N1", "N2"], "max_crit_air": "2", "max_weight_kg": "3500",
        "min_weight_kg": "", "max_height_cm": "350", "max_pass_days": "30", "review_mode": "automatic",
    }, follow_redirects=False)
    assert response.status_code == 303, response.text
    [edited] = [r for r in rules(web_world) if r.id == rule.id]
    assert edited.name == "Livraisons du matin"
    assert edited.opening_hours == "Mo-Fr 07:00-11:00; Sa 00:00-24:00"
    assert edited.windows == [{"weekdays": 0b0011111, "start": 420, "end": 660},
                              {"weekdays": 0b0100000, "start": 0, "end": 1440}]
    assert (edited.purposes, edited.categories, edited.max_crit_air) == ([1], ["N1", "N2"], 2)
    assert (edited.max_weight_kg, edited.max_height_cm, edited.max_pass_days) == (3500, 350, 30)
    assert edited.review_mode == "automatic"
    assert zone(web_world).data_version == version + 1
    [record] = audits(web_world, "update")[-1:]
    assert record.entity == "access_rule" and record.entity_id == str(rule.id)
    assert record.before["name"] == rule.name and record.after["name"] == "Livraisons du matin"
    page = text_of(admin.get(response.headers["location"]).text)
    assert "Règle d'accès modifiée" in page
    assert "lun.–ven. 7 h–11 h ; sam. toute la journée" in page
    assert "hauteur de 3,5 m au plus" in page and "poids total de 3 500 kg au plus" in page
    # The edit page shows the rule back in the form.
    form = admin.get(f"/autorite/zones/{PARIS}/regles/{rule.id}").text
    assert 'name="w1_allday" value="1" checked' in form and 'name="w1_days" value="5" checked' in form


def test_a_refused_rule_edit_changes_nothing(admin, web_world) -> None:
    [rule] = rules(web_world)[:1]
    before, version = rule.model_dump(), zone(web_world).data_version
    for form, message in (
        ({"hours_mode": "osm", "opening_hours": "tous les matins"}, "horaires illisibles"),
        ({"hours_mode": "always", "max_weight_kg": "beaucoup"}, "poids maximal : un nombre entier positif"),
        ({"hours_mode": "always", "min_weight_kg": "9000", "max_weight_kg": "3500"}, "poids minimal dépasse"),
    ):
        response = post_form(admin, f"/autorite/zones/{PARIS}/regles/{rule.id}", {"name": "Changée", **form})
        assert response.status_code == 422
        assert message in text_of(response.text)
        assert 'value="Changée"' in response.text  # what was typed is kept
    [after] = [r for r in rules(web_world) if r.id == rule.id]
    assert after.model_dump() == before and zone(web_world).data_version == version


def test_delete_a_rule_needs_confirmation_and_revokes_no_pass(admin, web_world) -> None:
    app_id = submitted_application(web_world)
    assert post_form(admin, f"/autorite/demandes/{app_id}/accepter", follow_redirects=False).status_code == 303
    all_rules = rules(web_world)
    version = zone(web_world).data_version
    response = post_form(admin, f"/autorite/zones/{PARIS}/regles/{all_rules[0].id}/supprimer", {})
    assert response.status_code == 422 and "cochez la case de confirmation" in text_of(response.text)
    assert len(rules(web_world)) == len(all_rules)
    for rule in all_rules:
        response = post_form(admin, f"/autorite/zones/{PARIS}/regles/{rule.id}/supprimer", {"confirm": "oui"},
                             follow_redirects=False)
        assert response.status_code == 303, response.text
    assert rules(web_world) == []
    assert zone(web_world).data_version == version + len(all_rules)
    deleted = audits(web_world, "delete")
    assert {r.entity_id for r in deleted} == {str(r.id) for r in all_rules}
    assert all(r.before["zone_id"] == str(PARIS) for r in deleted)
    assert "Aucune règle" in text_of(admin.get(f"/autorite/zones/{PARIS}").text)
    # The pass issued before is still active, and the next bundle still accepts it.

    async def passes(session):
        return list((await session.exec(select(AccessPass).where(col(AccessPass.application_id) == app_id))).all())

    [issued] = run(web_world, passes)
    assert issued.status == "active"
    assert post_form(admin, "/autorite/publier").status_code == 200
    root = VerifyKey.from_pem(admin.get(f"/bundle/{AUTHORITY_CODE}/root.pem").content)
    bundle = open_bundle(admin.get(f"/bundle/{AUTHORITY_CODE}.cose").content, [root])
    assert verify_pass(issued.signed_text, bundle, zone="PARIS-CENTRE", now=WEB_T0).reason is Reason.VALID


def test_a_rule_of_another_zone_reads_as_missing(admin, web_world) -> None:
    [marais_rule] = rules(web_world, MARAIS)[:1]
    assert admin.get(f"/autorite/zones/{PARIS}/regles/{marais_rule.id}").status_code == 404
    assert post_form(admin, f"/autorite/zones/{PARIS}/regles/{marais_rule.id}/supprimer",
                     {"confirm": "oui"}).status_code == 404
    assert admin.get(f"/autorite/zones/{PARIS}/regles/{uuid.uuid4()}").status_code == 404
    assert marais_rule.id in {r.id for r in rules(web_world, MARAIS)}


def test_another_authoritys_admin_reaches_none_of_it(web_world) -> None:
    two = add_second_authority(web_world)
    [rule] = rules(web_world)[:1]
    before = zone(web_world)
    with TestClient(web_world.app) as client:
        sign_in(client, two.b, "admin")
        for url, form in (
            (f"/autorite/zones/{PARIS}/perimetre", {"geojson": json.dumps(NEW_SQUARE)}),
            (f"/autorite/zones/{PARIS}/horaires", WEEKDAYS_8_20),
            (f"/autorite/zones/{PARIS}/regles/{rule.id}", {"hours_mode": "always", "name": "Intrus"}),
            (f"/autorite/zones/{PARIS}/regles/{rule.id}/supprimer", {"confirm": "oui"}),
        ):
            assert post_form(client, url, form).status_code == 404, url
        assert client.get(f"/autorite/zones/{PARIS}/perimetre").status_code == 404
    after = zone(web_world)
    assert (after.geometry, after.restriction_hours, after.data_version) == (
        before.geometry, before.restriction_hours, before.data_version)
    assert rule.id in {r.id for r in rules(web_world)}


def test_reviewers_cannot_edit_zones(client, web_world) -> None:
    login(client, "reviewer")
    [rule] = rules(web_world)[:1]
    assert post_form(client, f"/autorite/zones/{PARIS}/horaires", WEEKDAYS_8_20).status_code == 403
    assert post_form(client, f"/autorite/zones/{PARIS}/regles/{rule.id}/supprimer",
                     {"confirm": "oui"}).status_code == 403
    assert zone(web_world).restriction_hours is None


def test_a_post_without_the_csrf_token_is_refused(admin, web_world) -> None:
    response = admin.post(f"/autorite/zones/{PARIS}/horaires", data=WEEKDAYS_8_20)
    assert response.status_code == 403
    assert zone(web_world).restriction_hours is None


# ---- provenance ---------------------------------------------------------------------------------


def test_an_imported_zone_shows_its_provenance(admin, web_world) -> None:
    async def imported(session):
        row = await session.get(Zone, MARAIS)
        row.source, row.source_id = "zfe", "200046977-ZFE-001"
        row.url_order = "https://example.fr/arrete-zfe.pdf"
        row.url_site = "https://example.fr/zfe"
        session.add(row)
        rule = (await session.exec(select(AccessRule).where(col(AccessRule.zone_id) == MARAIS))).first()
        rule.source, rule.source_id, rule.vehicle_class, rule.critair_from = "zfe", "200046977-ZFE-001", "pl", "V3"
        session.add(rule)
        return rule.id

    rule_id = run(web_world, imported)
    page = text_of(admin.get(f"/autorite/zones/{MARAIS}").text)
    assert "Provenance" in page and "base nationale des zones à faibles émissions" in page
    assert "200046977-ZFE-001" in page
    body = admin.get(f"/autorite/zones/{MARAIS}").text
    assert 'href="https://example.fr/arrete-zfe.pdf"' in body and 'href="https://example.fr/zfe"' in body
    assert "importée" in page and "poids lourds" in page and "restreint à partir de Crit'Air V3" in page
    rule_page = text_of(admin.get(f"/autorite/zones/{MARAIS}/regles/{rule_id}").text)
    assert "une nouvelle importation du même fichier la remplacera" in rule_page
    assert "Provenance" not in text_of(admin.get(f"/autorite/zones/{PARIS}").text)


def test_an_event_zone_shows_its_dated_periods(admin, web_world) -> None:
    from datetime import timedelta

    from cirqliz.db.models import ZoneSchedule

    zone_id = ZONE_IDS["NUIT-BLANCHE"]

    async def period(session):
        session.add(ZoneSchedule(zone_id=zone_id, starts_at=WEB_T0 + timedelta(days=5),
                                 ends_at=WEB_T0 + timedelta(days=5, hours=12), source="event", source_ref="test",
                                 created_at=WEB_T0))

    run(web_world, period)
    page = text_of(admin.get(f"/autorite/zones/{zone_id}").text)
    assert "Et seulement pendant les périodes de l'événement" in page
    assert "le 28/11/2026 de 9 h à 21 h" in page
    assert "périodes de l'événement" not in text_of(admin.get(f"/autorite/zones/{PARIS}").text)


def test_an_open_ended_period_reads_from_its_start(admin, web_world) -> None:
    from datetime import timedelta

    from cirqliz.db.models import ZoneSchedule

    zone_id = ZONE_IDS["NUIT-BLANCHE"]

    async def period(session):
        session.add(ZoneSchedule(zone_id=zone_id, starts_at=WEB_T0 + timedelta(days=6), ends_at=None,
                                 source="event", source_ref="test-open", created_at=WEB_T0))

    run(web_world, period)
    page = text_of(admin.get(f"/autorite/zones/{zone_id}").text)
    assert "à partir du 29/11/2026 à 9 h" in page
    assert "sans fin" not in page and "→" not in page
