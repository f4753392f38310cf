"""The authority's back office: zones, rules, review, passes, keys, publication and the public
bundle files that scanners download."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from cirqliz.db.engine import create_engine, create_session_factory, transaction
from cirqliz.db.models import AccessPass, AccessRule, Application, Zone
from cirqliz.demo.seed import AUTHORITY_ID, COMPANY_ID, USER_IDS, VEHICLES, ZONE_IDS
from cirqliz.domain.organisations import OrganisationKind, Role
from cirqliz.domain.purposes import Purpose
from cirqliz.issuance.applications import attach_document, create_application, submit_application
from cirqliz.issuance.documents import FileDocumentStore
from cirqliz.issuance.organisations import add_membership, create_organisation, create_user
from cirqliz.issuance.passwords import hash_password
from cirqliz.passcode.bundle import open_bundle
from cirqliz.passcode.keys import VerifyKey
from cirqliz.verify.core import Reason, verify_pass
from cirqliz.web.i18n import translations

from .conftest import WEB_T0, login, post_form, text_of

VAN, TRUCK, EV = (v[0] for v in VEHICLES[:3])
OTHER_PASSWORD = "autre-autorite-2026"
SQUARE = {"type": "Polygon",
          "coordinates": [[[2.30, 48.84], [2.31, 48.84], [2.31, 48.85], [2.30, 48.85], [2.30, 48.84]]]}
BOWTIE = {"type": "Polygon",
          "coordinates": [[[2.30, 48.84], [2.31, 48.85], [2.31, 48.84], [2.30, 48.85], [2.30, 48.84]]]}


def run(world, work):
    """Run `work(session)` in its own transaction on the test database."""
    async def main():
        engine = create_engine(world.settings)
        try:
            async with transaction(create_session_factory(engine)) as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def submitted_application(world, vehicles=(VAN,), zones=("PARIS-CENTRE",)) -> uuid.UUID:
    """An application of Transports Exemple, created and submitted through the services."""
    async def work(session):
        app = await create_application(
            session, organisation_id=COMPANY_ID, applicant_id=USER_IDS["pro"],
            zone_ids=[ZONE_IDS[z] for z in zones], vehicle_ids=list(vehicles), purpose=int(Purpose.DELIVERY),
            not_before=WEB_T0, expires_at=WEB_T0 + timedelta(days=7), clock=world.clock,
        )
        await submit_application(session, application_id=app.id, actor_id=USER_IDS["pro"], clock=world.clock)
        return app.id

    return run(world, work)


def application(world, app_id) -> Application:
    async def work(session):
        return await session.get(Application, app_id)

    return run(world, work)


def passes_of(world, app_id) -> list[AccessPass]:
    async def work(session):
        return list((await session.exec(select(AccessPass).where(col(AccessPass.application_id) == app_id))).all())

    return run(world, work)


def zones_named(world, code) -> list[Zone]:
    async def work(session):
        return list((await session.exec(select(Zone).where(col(Zone.code) == code))).all())

    return run(world, work)


def zone_count(world) -> int:
    async def work(session):
        return len((await session.exec(select(Zone))).all())

    return run(world, work)


# ---- guards -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/autorite", "/autorite/demandes", "/autorite/zones", "/autorite/cles",
                                  "/autorite/laissez-passer", "/autorite/journal", "/autorite/controles"])
def test_anonymous_is_sent_to_sign_in(client, path) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/connexion?next=/autorite")


@pytest.mark.parametrize("who", ["pro", "agent", "organiser"])
def test_professionals_agents_and_organisers_are_refused(client, who) -> None:
    login(client, who)
    for path in ("/autorite", "/autorite/demandes", "/autorite/zones", "/autorite/laissez-passer"):
        assert client.get(path).status_code == 403, path
    assert post_form(client, "/autorite/publier").status_code == 403


def test_reviewers_review_but_do_not_manage_zones_keys_or_publishing(client) -> None:
    login(client, "reviewer")
    assert client.get("/autorite").status_code == 200
    assert client.get("/autorite/demandes").status_code == 200
    for path in ("/autorite/zones", "/autorite/cles", "/autorite/publier"):
        assert client.get(path).status_code == 403, path
    assert post_form(client, "/autorite/cles/rotation", {"alg": "ES256"}).status_code == 403


def test_dashboard_counts(client, web_world) -> None:
    submitted_application(web_world)
    login(client, "admin")
    page = text_of(client.get("/autorite").text)
    assert "Ville de Démo" in page
    assert re.search(r"déposée 1", page)
    assert re.search(r"active 4", page)  # the four demo zones
    assert "Dernière publication : n° 1" in page


# ---- zones --------------------------------------------------------------------------------


def test_create_a_zone_by_uploading_geojson_and_see_it_listed(client, web_world) -> None:
    login(client, "admin")
    assert client.get("/autorite/zones/nouvelle").status_code == 200
    feature = json.dumps({"type": "Feature", "properties": {"nom": "Îlot"}, "geometry": SQUARE}).encode()
    response = post_form(client, "/autorite/zones/nouvelle",
                         {"code": "ilot-nord", "name": "Îlot Nord", "kind": "pedestrian",
                          "time_zone": "Europe/Paris", "permanent": "1"},
                         files={"geometry_file": ("ilot.geojson", feature, "application/geo+json")},
                         follow_redirects=False)
    assert response.status_code == 303, response.text
    detail = client.get(response.headers["location"])
    assert "Zone créée" in detail.text and "ILOT-NORD" in detail.text
    listing = text_of(client.get("/autorite/zones").text)
    assert "ILOT-NORD" in listing and "Îlot Nord" in listing and "aire piétonne" in listing
    [zone] = zones_named(web_world, "ILOT-NORD")
    assert zone.authority_id == AUTHORITY_ID and zone.status == "draft" and zone.ref == 5


def test_a_drawn_or_pasted_polygon_in_the_textarea_works_without_javascript(client, web_world) -> None:
    login(client, "admin")
    response = post_form(client, "/autorite/zones/nouvelle",
                         {"code": "DESSIN", "name": "Dessinée", "kind": "limited_traffic",
                          "time_zone": "Europe/Paris", "starts_on": "2026-12-01", "ends_on": "2026-12-31",
                          "geojson": json.dumps(SQUARE)}, follow_redirects=False)
    assert response.status_code == 303, response.text
    [zone] = zones_named(web_world, "DESSIN")
    assert not zone.permanent and str(zone.ends_on) == "2026-12-31"


def test_a_self_intersecting_polygon_is_refused_with_the_french_reason_and_nothing_is_stored(
    client, web_world
) -> None:
    login(client, "admin")
    before = zone_count(web_world)
    response = post_form(client, "/autorite/zones/nouvelle",
                         {"code": "NOEUD", "name": "Nœud", "kind": "pedestrian", "time_zone": "Europe/Paris",
                          "permanent": "1"},
                         files={"geometry_file": ("noeud.geojson", json.dumps(BOWTIE).encode(), "application/json")})
    assert response.status_code == 422
    assert "géométrie invalide : le contour se recoupe" in text_of(response.text)
    assert 'value="NOEUD"' in response.text  # the form keeps what was typed
    assert zone_count(web_world) == before
    assert zones_named(web_world, "NOEUD") == []


def test_a_duplicate_zone_code_is_refused(client, web_world) -> None:
    login(client, "admin")
    response = post_form(client, "/autorite/zones/nouvelle",
                         {"code": "PARIS-CENTRE", "name": "Doublon", "kind": "pedestrian",
                          "time_zone": "Europe/Paris", "permanent": "1", "geojson": json.dumps(SQUARE)})
    assert response.status_code == 409
    assert "déjà utilisé" in response.text
    assert len(zones_named(web_world, "PARIS-CENTRE")) == 1


def test_add_a_rule_with_opening_hours_then_with_windows(client, web_world) -> None:
    login(client, "admin")
    zone_id = ZONE_IDS["MARAIS-PIETON"]
    response = post_form(client, f"/autorite/zones/{zone_id}/regles", {
        "name": "Livraisons du matin", "hours_mode": "osm", "opening_hours": "Mo-Fr 07:00-11:00",
        "purposes": ["1", "2"], "categories": ["N1", "N2"], "max_crit_air": "2", "max_weight_kg": "3500",
        "max_length_cm": "", "quota_days_per_year": "100", "max_pass_days": "30", "review_mode": "manual",
    }, follow_redirects=False)
    assert response.status_code == 303, response.text
    response = post_form(client, f"/autorite/zones/{zone_id}/regles", {
        "name": "Soirées", "hours_mode": "windows", "w0_days": ["4", "5"], "w0_start": "20:00", "w0_end": "02:00",
        "review_mode": "automatic",
    }, follow_redirects=False)
    assert response.status_code == 303, response.text

    async def work(session):
        return list((await session.exec(select(AccessRule).where(col(AccessRule.zone_id) == zone_id)
                                         .order_by(col(AccessRule.position)))).all())

    rules = run(web_world, work)
    morning, evening = rules[-2:]
    assert morning.opening_hours == "Mo-Fr 07:00-11:00"
    assert morning.windows == [{"weekdays": 0b0011111, "start": 420, "end": 660}]
    assert morning.purposes == [1, 2] and morning.categories == ["N1", "N2"] and morning.max_crit_air == 2
    assert morning.max_weight_kg == 3500 and morning.quota_days_per_year == 100 and morning.max_pass_days == 30
    assert evening.windows == [{"weekdays": 0b0110000, "start": 1200, "end": 120}]
    assert evening.review_mode == "automatic"
    page = text_of(client.get(f"/autorite/zones/{zone_id}").text)
    assert "lun.–ven. 7 h–11 h" in page and "Livraisons du matin" in page  # hours in French (issue 17)


def test_unreadable_opening_hours_are_refused_with_the_reason(client) -> None:
    login(client, "admin")
    response = post_form(client, f"/autorite/zones/{ZONE_IDS['MARAIS-PIETON']}/regles",
                         {"hours_mode": "osm", "opening_hours": "lundi matin"})
    assert response.status_code == 422
    assert "horaires illisibles" in response.text
    assert 'value="lundi matin"' in response.text


def test_zone_edit_and_status_transitions(client, web_world) -> None:
    login(client, "admin")
    zone_id = ZONE_IDS["NUIT-BLANCHE"]
    response = post_form(client, f"/autorite/zones/{zone_id}", {
        "name": "Nuit Blanche 2026", "kind": "event_perimeter", "time_zone": "Europe/Paris",
        "starts_on": "2026-10-03", "ends_on": "2026-10-04"}, follow_redirects=False)
    assert response.status_code == 303, response.text
    assert post_form(client, f"/autorite/zones/{zone_id}/statut", {"status": "suspended"},
                     follow_redirects=False).status_code == 303
    [zone] = zones_named(web_world, "NUIT-BLANCHE")
    assert (zone.name, zone.permanent, zone.status) == ("Nuit Blanche 2026", False, "suspended")
    response = post_form(client, f"/autorite/zones/{zone_id}/statut", {"status": "draft"})
    assert response.status_code == 422
    assert post_form(client, f"/autorite/zones/{zone_id}/statut", {"status": "archived"},
                     follow_redirects=False).status_code == 303
    assert "archivée" in client.get("/autorite/zones").text


# ---- review -------------------------------------------------------------------------------


def test_review_queue_filters_and_detail(client, web_world) -> None:
    first = submitted_application(web_world)
    second = submitted_application(web_world, vehicles=(TRUCK,), zones=("MARAIS-PIETON",))
    login(client, "reviewer")
    queue = client.get("/autorite/demandes")
    assert queue.status_code == 200
    assert str(first) in queue.text and str(second) in queue.text
    by_plate = client.get("/autorite/demandes", params={"q": "ef-456"}).text
    assert str(second) in by_plate and str(first) not in by_plate
    by_zone = client.get("/autorite/demandes", params={"zone": str(ZONE_IDS["PARIS-CENTRE"])}).text
    assert str(first) in by_zone and str(second) not in by_zone
    by_company = client.get("/autorite/demandes", params={"q": "exemple", "status": ""}).text
    assert str(first) in by_company and str(second) in by_company
    detail = text_of(client.get(f"/autorite/demandes/{first}").text)
    for expected in ("Transports Exemple SARL", "123456782", "AB-123-CD", "PARIS-CENTRE", "Livraison", "recevable",
                     "Historique", "brouillon → déposée"):
        assert expected in detail, expected


def test_supporting_documents_are_downloaded_from_the_application_page(client, web_world) -> None:
    app_id = submitted_application(web_world)
    pdf = b"%PDF-1.4 justificatif de test"

    async def work(session):
        document = await attach_document(
            session, application_id=app_id, filename="kbis.pdf", content_type="application/pdf", content=pdf,
            store=FileDocumentStore(web_world.settings.documents_dir), actor_id=USER_IDS["pro"],
            clock=web_world.clock)
        return document.id

    document_id = run(web_world, work)
    login(client, "reviewer")
    url = f"/autorite/demandes/{app_id}/justificatifs/{document_id}"
    assert url in client.get(f"/autorite/demandes/{app_id}").text
    response = client.get(url)
    assert response.status_code == 200 and response.content == pdf
    assert response.headers["content-type"].startswith("application/pdf")
    assert "attachment" in response.headers["content-disposition"]
    other = submitted_application(web_world, vehicles=(TRUCK,))
    assert client.get(f"/autorite/demandes/{other}/justificatifs/{document_id}").status_code == 404


def test_reviewer_approves_and_a_signed_pass_exists(client, web_world) -> None:
    app_id = submitted_application(web_world, vehicles=(VAN, EV))
    login(client, "reviewer")
    response = post_form(client, f"/autorite/demandes/{app_id}/accepter", {"reason": ""}, follow_redirects=False)
    assert response.status_code == 303, response.text
    assert application(web_world, app_id).status == "approved"
    passes = passes_of(web_world, app_id)
    assert len(passes) == 2
    assert all(p.signed_text and p.signed_text.startswith("CQ1:") and p.status == "active" for p in passes)
    page = text_of(client.get(response.headers["location"]).text)
    assert "Demande acceptée" in page and passes[0].serial in page


def test_reject_requires_a_reason(client, web_world) -> None:
    app_id = submitted_application(web_world)
    login(client, "reviewer")
    response = post_form(client, f"/autorite/demandes/{app_id}/refuser", {"reason": "  "})
    assert response.status_code == 422
    assert "un motif est obligatoire" in response.text
    assert application(web_world, app_id).status == "submitted"
    response = post_form(client, f"/autorite/demandes/{app_id}/refuser", {"reason": "Justificatif illisible"},
                         follow_redirects=False)
    assert response.status_code == 303
    app = application(web_world, app_id)
    assert (app.status, app.decision_reason) == ("rejected", "Justificatif illisible")


def test_asking_for_information_moves_it_to_needs_info(client, web_world) -> None:
    app_id = submitted_application(web_world)
    login(client, "reviewer")
    assert post_form(client, f"/autorite/demandes/{app_id}/complement", {"reason": ""}).status_code == 422
    response = post_form(client, f"/autorite/demandes/{app_id}/complement",
                         {"reason": "Merci de joindre le Kbis."}, follow_redirects=False)
    assert response.status_code == 303
    assert application(web_world, app_id).status == "needs_info"
    assert "Merci de joindre le Kbis." in client.get(f"/autorite/demandes/{app_id}").text


def test_bulk_approve_reports_each_outcome(client, web_world) -> None:
    first = submitted_application(web_world)
    second = submitted_application(web_world, vehicles=(TRUCK,))
    third = submitted_application(web_world, vehicles=(EV,))
    login(client, "admin")
    assert post_form(client, f"/autorite/demandes/{third}/refuser", {"reason": "non"},
                     follow_redirects=False).status_code == 303
    response = post_form(client, "/autorite/demandes/acceptation-groupee",
                         {"ids": [str(first), str(second), str(third), str(uuid.uuid4())]})
    assert response.status_code == 200
    page = text_of(response.text)
    assert "2 demande(s) acceptée(s), 2 en échec." in page
    assert "la demande est refusée" in page and "introuvable" in page
    assert application(web_world, first).status == "approved"
    assert application(web_world, second).status == "approved"
    assert len(passes_of(web_world, first)) == len(passes_of(web_world, second)) == 1


def test_another_authority_cannot_see_this_authoritys_rows(client, web_world) -> None:
    app_id = submitted_application(web_world)

    async def other_authority(session):
        org = await create_organisation(session, kind=OrganisationKind.AUTHORITY, code="autre13",
                                        name="Autre Ville", clock=web_world.clock)
        user = await create_user(session, email="admin@autre13.fr", display_name="Admin Autre",
                                 clock=web_world.clock, password_hash=hash_password(OTHER_PASSWORD))
        await add_membership(session, user_id=user.id, organisation_id=org.id, role=Role.AUTHORITY_ADMIN,
                             clock=web_world.clock)
        await add_membership(session, user_id=user.id, organisation_id=org.id, role=Role.REVIEWER,
                             clock=web_world.clock)

    run(web_world, other_authority)
    response = post_form(client, "/connexion", {"email": "admin@autre13.fr", "password": OTHER_PASSWORD},
                         follow_redirects=False)
    assert response.status_code == 303
    queue = client.get("/autorite/demandes", params={"status": ""})
    assert queue.status_code == 200 and str(app_id) not in queue.text
    assert client.get(f"/autorite/demandes/{app_id}").status_code == 404
    assert post_form(client, f"/autorite/demandes/{app_id}/accepter").status_code == 404
    assert client.get(f"/autorite/zones/{ZONE_IDS['PARIS-CENTRE']}").status_code == 404
    assert post_form(client, f"/autorite/zones/{ZONE_IDS['PARIS-CENTRE']}/statut",
                     {"status": "suspended"}).status_code == 404
    assert "PARIS-CENTRE" not in client.get("/autorite/zones").text
    assert application(web_world, app_id).status == "submitted"


# ---- passes, publication and the scanners' files ------------------------------------------


def test_revoke_publish_and_the_scanner_sees_it(client, web_world) -> None:
    app_id = submitted_application(web_world)
    login(client, "admin")
    assert post_form(client, f"/autorite/demandes/{app_id}/accepter", follow_redirects=False).status_code == 303
    [issued] = passes_of(web_world, app_id)

    root_response = client.get("/bundle/demo75/root.pem")
    assert root_response.status_code == 200 and b"PUBLIC KEY" in root_response.content
    assert b"PRIVATE" not in root_response.content
    root = VerifyKey.from_pem(root_response.content)
    first = client.get("/bundle/demo75.cose")
    assert first.status_code == 200 and first.headers["content-type"].startswith("application/cose")
    assert first.headers["cache-control"] == "no-cache"
    bundle1 = open_bundle(first.content, [root])
    assert bundle1.seq == 1
    verdict = verify_pass(issued.signed_text, bundle1, zone="PARIS-CENTRE", now=WEB_T0)
    assert verdict.reason is Reason.VALID, verdict
    assert client.get("/bundle/demo75.cose", headers={"If-None-Match": first.headers["etag"]}).status_code == 304

    response = post_form(client, f"/autorite/laissez-passer/{issued.id}/revoquer", {"reason": ""})
    assert response.status_code == 422  # a reason is required
    response = post_form(client, f"/autorite/laissez-passer/{issued.id}/revoquer",
                         {"reason": "Véhicule vendu"}, follow_redirects=False)
    assert response.status_code == 303
    assert "Véhicule vendu" in client.get(response.headers["location"]).text

    published = post_form(client, "/autorite/publier")
    assert published.status_code == 200
    page = text_of(published.text)
    assert "Publication n° 2 effectuée" in page and "révocations : 1" in page

    latest = client.get("/bundle/demo75.cose")
    bundle2 = open_bundle(latest.content, [root], current=bundle1)
    assert bundle2.seq == 2 and latest.headers["etag"] != first.headers["etag"]
    verdict = verify_pass(issued.signed_text, bundle2, zone="PARIS-CENTRE", now=WEB_T0)
    assert verdict.reason is Reason.REVOKED

    delta = client.get("/bundle/demo75.cose", params={"since": 1})
    assert delta.status_code == 200 and delta.headers["x-bundle-kind"] == "delta"
    assert delta.headers["x-server-time"] == str(int(WEB_T0.timestamp()))  # the application's clock
    assert len(delta.content) < len(latest.content)
    patched = open_bundle(delta.content, [root], current=bundle1)
    assert patched.seq == 2 and patched.content.revoked == bundle2.content.revoked
    assert verify_pass(issued.signed_text, patched, zone="PARIS-CENTRE", now=WEB_T0).reason is Reason.REVOKED
    assert client.get("/bundle/demo75.cose", params={"since": 2}).headers["x-bundle-kind"] == "full"
    assert client.get("/bundle/demo75.cose", params={"since": 99}).headers["x-bundle-kind"] == "full"


def test_bundle_files_are_public_and_unknown_authorities_are_404(client) -> None:
    assert client.get("/bundle/demo75.cose").status_code == 200
    assert client.get("/bundle/demo75/root.pem").status_code == 200
    assert client.get("/bundle/nowhere.cose").status_code == 404
    assert client.get("/bundle/nowhere/root.pem").status_code == 404
    assert client.get("/bundle/demo75.json").status_code == 404


def test_suspend_and_reinstate_a_pass(client, web_world) -> None:
    app_id = submitted_application(web_world)
    login(client, "reviewer")
    post_form(client, f"/autorite/demandes/{app_id}/accepter")
    [issued] = passes_of(web_world, app_id)
    assert post_form(client, f"/autorite/laissez-passer/{issued.id}/suspendre", {"reason": ""}).status_code == 422
    assert post_form(client, f"/autorite/laissez-passer/{issued.id}/suspendre", {"reason": "Contrôle en cours"},
                     follow_redirects=False).status_code == 303
    listing = client.get("/autorite/laissez-passer", params={"status": "suspended"}).text
    assert issued.serial in listing
    assert issued.serial not in client.get("/autorite/laissez-passer", params={"status": "active"}).text
    assert issued.serial in client.get("/autorite/laissez-passer", params={"q": "ab-123"}).text
    assert post_form(client, f"/autorite/laissez-passer/{issued.id}/retablir",
                     follow_redirects=False).status_code == 303
    assert passes_of(web_world, app_id)[0].status == "active"


# ---- keys, audit, checks ------------------------------------------------------------------


def test_rotate_lists_a_new_pending_key_and_withdraw_needs_confirmation(client, web_world) -> None:
    login(client, "admin")
    before = client.get("/autorite/cles")
    assert before.status_code == 200
    kids_before = set(re.findall(r"<code>([0-9a-f]{16})</code>", before.text))
    response = post_form(client, "/autorite/cles/rotation", {"alg": "Ed25519"}, follow_redirects=False)
    assert response.status_code == 303
    after = client.get(response.headers["location"])
    [new_kid] = set(re.findall(r"<code>([0-9a-f]{16})</code>", after.text)) - kids_before
    row = text_of(after.text.split(new_kid, 1)[1].split("</tr>", 1)[0])
    assert "EdDSA (Ed25519)" in row and "en attente de publication" in row
    assert "PRIVATE" not in after.text
    assert post_form(client, f"/autorite/cles/{new_kid}/retrait", {}).status_code == 422
    assert post_form(client, f"/autorite/cles/{new_kid}/retrait", {"confirm": "oui"},
                     follow_redirects=False).status_code == 303
    assert "retirée" in text_of(client.get("/autorite/cles").text.split(new_kid, 1)[1].split("</tr>", 1)[0])
    assert post_form(client, "/autorite/cles/0000000000000000/retrait", {"confirm": "oui"}).status_code == 404
    keys = (Path(web_world.settings.keys_dir) / "demo75" / "keyring.json").read_text()
    assert new_kid in keys


def test_audit_trail_shows_this_authoritys_changes(client, web_world) -> None:
    app_id = submitted_application(web_world)
    login(client, "reviewer")
    post_form(client, f"/autorite/demandes/{app_id}/refuser", {"reason": "Hors périmètre"})
    journal = client.get("/autorite/journal")
    assert journal.status_code == 200
    page = text_of(journal.text)
    assert "Iris Instructrice a refusé : demande" in page and "Hors périmètre" in page
    # Sentences and labels, never the action code or raw JSON.
    assert "reject" not in page and '{"' not in journal.text and "statut : déposée → refusée" in page
    assert str(app_id) in client.get("/autorite/journal", params={"entity": "application"}).text
    assert client.get("/autorite/journal", params={"page": 2}).status_code == 200


def test_check_records_are_listed_and_filtered(client, web_world) -> None:
    from cirqliz.issuance.passes import record_check

    async def work(session):
        for i, verdict in enumerate(("VALID", "REFUSED")):
            await record_check(session, check_id=uuid.uuid4(), agent_id=USER_IDS["agent"],
                               checked_at=WEB_T0 + timedelta(minutes=i), verdict=verdict, clock=web_world.clock,
                               serial=f"00000000000000{i:02d}", zone_id=ZONE_IDS["PARIS-CENTRE"],
                               reason_code="REVOKED" if verdict == "REFUSED" else "VALID")

    run(web_world, work)
    login(client, "reviewer")
    page = text_of(client.get("/autorite/controles").text)
    assert "Alain Agent" in page and "0000000000000000" in page and "0000000000000001" in page
    refused = text_of(client.get("/autorite/controles", params={"verdict": "REFUSED"}).text)
    assert "0000000000000001" in refused and "0000000000000000" not in refused
    # Verdicts and reasons in French, never their codes.
    assert "Refusé" in refused and "Laissez-passer révoqué par l" in refused
    assert "REVOKED" not in refused and ">REFUSED<" not in client.get("/autorite/controles").text


# ---- language -----------------------------------------------------------------------------


def test_every_authority_template_string_has_an_english_translation() -> None:
    folder = Path(__file__).parents[2] / "cirqliz" / "web" / "templates" / "autorite"
    english = translations("en")._catalog  # every msgid, even those spelt the same in English
    missing = []
    for template in sorted(folder.glob("*.html")):
        for message in re.findall(r"""_\(\s*(?:"([^"]+)"|'([^']+)')\s*\)""", template.read_text()):
            text = message[0] or message[1]
            if text not in english:
                missing.append(f"{template.name}: {text}")
    assert not missing, "\n".join(missing)


def test_pages_in_english(client, web_world) -> None:
    login(client, "admin")
    page = client.get("/autorite/zones?lang=en").text
    assert "New zone" in page and "Zones" in page
