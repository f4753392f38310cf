"""The professional area: fleet, fleet import, applications, documents, passes, scoping."""

from __future__ import annotations

import asyncio
import io
import re
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path

import pytest
from sqlmodel import col, func, select

from cirqliz.db.engine import create_engine, create_session_factory, transaction
from cirqliz.db.models import AccessPass, Application, SupportingDocument, Vehicle
from cirqliz.demo.seed import AUTHORITY_CODE, AUTHORITY_ID, COMPANY_ID, USER_IDS, VEHICLES, ZONE_IDS
from cirqliz.issuance.applications import approve_application, request_information
from cirqliz.issuance.keystore import KeyStore
from cirqliz.issuance.publication import publish_bundle
from cirqliz.verify import verify_pass

from .conftest import login, post_form, text_of


def visible(html: str) -> str:
    """Visible text, entities decoded."""
    return unescape(text_of(html))

VEHICLE_AB = VEHICLES[0][0]  # AB-123-CD, N1, Crit'Air 1, company "pro"
VEHICLE_EF = VEHICLES[1][0]  # EF-456-GH, N2, Crit'Air 2
APP_URL = re.compile(r"/pro/demandes/([0-9a-f-]{36})")


def run_db(world, work):
    """Run `work(session)` in its own transaction on the test database."""

    async def go():
        engine = create_engine(world.settings)
        try:
            async with transaction(create_session_factory(engine)) as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def count(world, model, *where) -> int:
    async def work(session):
        return (await session.exec(select(func.count()).select_from(model).where(*where))).one()

    return run_db(world, work)


def apply(client, *, zones=("PARIS-CENTRE",), vehicles=(VEHICLE_AB,), first="2026-11-24", last="2026-12-10",
          files=None, extra=None, follow=False):
    data = {"zone_ids": [str(ZONE_IDS[z]) for z in zones], "vehicle_ids": [str(v) for v in vehicles],
            "purpose": "1", "first_day": first, "last_day": last, "action": "verifier", **(extra or {})}
    return post_form(client, "/pro/demandes/nouvelle", data, files=files, follow_redirects=follow)


def new_application(client, **kwargs) -> uuid.UUID:
    response = apply(client, **kwargs)
    assert response.status_code == 303, visible(response.text)
    return uuid.UUID(APP_URL.search(response.headers["location"]).group(1))


def submitted_application(client, **kwargs) -> uuid.UUID:
    app_id = new_application(client, **kwargs)
    response = post_form(client, f"/pro/demandes/{app_id}/deposer", follow_redirects=False)
    assert response.status_code == 303, visible(response.text)
    return app_id


def approve(world, app_id: uuid.UUID) -> AccessPass:
    async def work(session):
        passes = await approve_application(session, application_id=app_id, reviewer_id=USER_IDS["reviewer"],
                                           signer=world.app.state.signer, clock=world.clock, reason="ok")
        return passes[0]

    return run_db(world, work)


# ---- access --------------------------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in(client) -> None:
    response = client.get("/pro/vehicules", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/connexion?next=/pro/vehicules"


@pytest.mark.parametrize("who", ["reviewer", "agent"])
def test_other_profiles_are_refused(client, who) -> None:
    login(client, who)
    assert client.get("/pro").status_code == 403
    assert client.get(f"/pro/vehicules/{VEHICLE_AB}/modifier").status_code == 403


def test_dashboard_shows_counts_and_links(client) -> None:
    login(client, "pro")
    new_application(client)
    page = visible(client.get("/pro").text)
    assert "Mon espace professionnel" in page
    assert re.search(r"Véhicules 3 ", page)
    assert "Brouillon : 1" in page
    assert "Demander un laissez-passer" in page


# ---- vehicles ------------------------------------------------------------------------------


def test_register_a_vehicle_and_see_it_listed(client, web_world) -> None:
    login(client, "pro")
    response = post_form(client, "/pro/vehicules/nouveau", {
        "plate": "xy 987 zw", "category": "N1", "crit_air": "1", "energy": "diesel", "gross_weight_kg": "3500",
        "length_cm": "",
    })
    assert response.status_code == 200
    page = visible(response.text)
    assert "Véhicule enregistré" in page
    assert "XY-987-ZW" in page
    assert count(web_world, Vehicle, col(Vehicle.plate) == "XY987ZW") == 1


def test_bad_plate_gives_the_french_reason_and_stores_nothing(client, web_world) -> None:
    login(client, "pro")
    before = count(web_world, Vehicle)
    response = post_form(client, "/pro/vehicules/nouveau", {"plate": "12-AB", "category": "N1", "crit_air": "2",
                                                           "energy": "diesel"})
    assert response.status_code == 422
    assert "immatriculation française invalide" in visible(response.text)
    assert 'value="12-AB"' in response.text  # the form keeps what was typed
    assert count(web_world, Vehicle) == before


def test_duplicate_plate_and_edit(client, web_world) -> None:
    login(client, "pro")
    response = post_form(client, "/pro/vehicules/nouveau", {"plate": "AB-123-CD", "category": "N1",
                                                           "crit_air": "2"})
    assert response.status_code == 422
    assert "déjà enregistré" in visible(response.text)
    response = post_form(client, f"/pro/vehicules/{VEHICLE_AB}/modifier", {
        "plate": "AB-123-CD", "category": "N2", "crit_air": "NC", "energy": "petrol", "length_cm": "650"})
    assert response.status_code == 200 and "Véhicule modifié" in response.text

    async def work(session):
        return await session.get(Vehicle, VEHICLE_AB)

    vehicle = run_db(web_world, work)
    assert (vehicle.category, vehicle.crit_air, vehicle.energy, vehicle.length_cm) == ("N2", None, "petrol", 650)


# ---- fleet import --------------------------------------------------------------------------


def test_fleet_csv_with_one_bad_line_stores_nothing(client, web_world) -> None:
    login(client, "pro")
    before = count(web_world, Vehicle)
    csv_text = ("plaque;categorie;critair;energie;poids_kg;longueur_cm\r\n"
                "AA-001-AA;N1;1;Électrique;3500;600\r\n"  # Crit'Air 1 for an electric vehicle: refused
                "AA-002-AA;N2;2;diesel;7500;820\r\n"
                "AA-003-AA;N1;9;diesel;;\r\n")
    response = client.post("/pro/vehicules/import", data={"_csrf_token": client.cookies.get("cirqliz_csrf")},
                           files={"fichier": ("flotte.csv", csv_text.encode("cp1252"), "text/csv")})
    assert response.status_code == 422
    page = visible(response.text)
    assert "aucun véhicule n'a été enregistré" in page
    assert "2 critair un véhicule électrique ou à hydrogène relève de Crit'Air 0" in page
    assert re.search(r"4 critair classe Crit'Air illisible", page)
    assert count(web_world, Vehicle) == before


def test_good_fleet_csv_stores_every_vehicle(client, web_world) -> None:
    login(client, "pro")
    csv_text = ("\ufeffplaque,categorie,critair,energie,poids_kg,longueur_cm\n"
                "BA-001-AA,N1,0,electric,3 100,540\n"
                "BA-002-AA,n2,2,diesel,7500,\n"
                "\n"
                "D:BAB1234,L3e,,petrol,,\n")
    response = post_form(client, "/pro/vehicules/import",
                         files={"fichier": ("flotte.csv", csv_text.encode("utf-8"), "text/csv")})
    assert response.status_code == 200, visible(response.text)
    assert "3 véhicule(s) enregistré(s)" in visible(response.text)
    assert count(web_world, Vehicle, col(Vehicle.organisation_id) == COMPANY_ID) == 6
    assert count(web_world, Vehicle, col(Vehicle.plate) == "D:BAB1234") == 1


def test_fleet_csv_with_a_plate_already_in_the_fleet_stores_nothing(client, web_world) -> None:
    login(client, "pro")
    csv_text = "plaque;categorie\nCA-001-AA;N1\nAB-123-CD;N1\n"
    response = post_form(client, "/pro/vehicules/import",
                         files={"fichier": ("flotte.csv", csv_text.encode(), "text/csv")})
    assert response.status_code == 422
    assert re.search(r"3 plaque le véhicule AB123CD est déjà enregistré", visible(response.text))
    assert count(web_world, Vehicle, col(Vehicle.plate) == "CA001AA") == 0


def test_fleet_template_is_downloadable(client) -> None:
    login(client, "pro")
    response = client.get("/pro/vehicules/modele.csv")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.decode("utf-8-sig").startswith("plaque;categorie;critair;energie;poids_kg;longueur_cm")


# ---- applications --------------------------------------------------------------------------


def test_apply_check_eligibility_submit_and_follow_the_timeline(client, web_world) -> None:
    login(client, "pro")
    form = client.get("/pro/demandes/nouvelle").text
    assert "PARIS-CENTRE" in form and "lun.–sam. 7 h–13 h" in visible(form)
    assert 'id="zones-map"' in form and "/vendor/leaflet/dist/leaflet.js" in form
    response = apply(client, zones=("PARIS-CENTRE", "MARAIS-PIETON"), vehicles=(VEHICLE_AB, VEHICLE_EF),
                     extra={"w1_days": ["0", "1", "2", "3", "4"], "w1_start": "07:30", "w1_end": "10:00",
                            "comment": "Livraisons du matin"}, follow=True)
    page = visible(response.text)
    assert "Brouillon enregistré" in page
    assert "Éligible : chaque véhicule remplit les conditions" in page
    assert "lun.–ven. 7 h 30–10 h" in page
    app_id = uuid.UUID(APP_URL.search(str(response.url)).group(1))
    response = post_form(client, f"/pro/demandes/{app_id}/deposer")
    page = visible(response.text)
    assert "Demande déposée : elle est maintenant en cours d'instruction" in page
    assert re.search(r"23/11/2026 09:00 — Demande déposée Déposée par Paul Pro", page)

    listing = visible(client.get("/pro/demandes?statut=submitted").text)
    assert "PARIS-CENTRE, MARAIS-PIETON" in listing
    assert "Aucune demande" in visible(client.get("/pro/demandes?statut=approved").text)

    async def work(session):
        return await session.get(Application, app_id)

    app = run_db(web_world, work)
    assert app.status == "submitted"
    # Local days in Paris: from 24 November 00:00 to the end of 10 December (exclusive 11 December 00:00).
    assert app.not_before == datetime(2026, 11, 23, 23, 0, tzinfo=UTC)
    assert app.expires_at == datetime(2026, 12, 10, 23, 0, tzinfo=UTC)
    assert app.windows == [{"weekdays": 0b11111, "start": 450, "end": 600}]


def test_crit_air_too_high_for_the_low_emission_zone_is_explained(client, web_world) -> None:
    login(client, "pro")
    post_form(client, "/pro/vehicules/nouveau", {"plate": "GL-444-DD", "category": "N2", "crit_air": "4",
                                                 "energy": "diesel"})
    old = run_db(web_world, lambda s: _vehicle_id(s, "GL444DD"))
    app_id = new_application(client, zones=("ZFE-GRAND-PARIS",), vehicles=(old,))
    page = visible(client.get(f"/pro/demandes/{app_id}").text)
    assert "Non éligible en l'état" in page
    assert "Crit'Air 4 : la zone exige Crit'Air 2 ou mieux" in page
    response = post_form(client, f"/pro/demandes/{app_id}/deposer")
    assert response.status_code == 422
    page = visible(response.text)
    assert "n'est pas recevable" in page
    assert "GL-444-DD / ZFE-GRAND-PARIS : Crit'Air 4 : la zone exige Crit'Air 2 ou mieux" in page
    assert count(web_world, Application, col(Application.id) == app_id, col(Application.status) == "draft") == 1


def test_period_longer_than_the_zone_allows_is_explained(client) -> None:
    login(client, "pro")
    app_id = new_application(client, first="2026-11-24", last="2027-12-31")
    page = visible(client.get(f"/pro/demandes/{app_id}").text)
    assert "au plus 366 jour(s) dans cette zone" in page


def test_window_outside_zone_hours_is_explained(client) -> None:
    login(client, "pro")
    app_id = new_application(client, extra={"w1_days": ["6"], "w1_start": "08:00", "w1_end": "12:00"})
    page = visible(client.get(f"/pro/demandes/{app_id}").text)
    assert "sort des horaires de la zone" in page


def test_form_errors_are_listed_and_nothing_is_stored(client, web_world) -> None:
    login(client, "pro")
    before = count(web_world, Application)
    response = apply(client, zones=(), vehicles=(), first="2026-12-10", last="2026-12-01",
                     extra={"w1_days": ["0"], "w1_start": "", "w1_end": ""})
    assert response.status_code == 422
    page = visible(response.text)
    for message in ("choisissez au moins une zone", "choisissez au moins un véhicule",
                    "la date de fin précède la date de début", "créneau 1 : cochez au moins un jour"):
        assert message in page
    assert count(web_world, Application) == before


def test_another_company_vehicle_cannot_be_put_in_an_application(client, web_world) -> None:
    login(client, "pro")
    before = count(web_world, Application)
    other_vehicle = VEHICLES[3][0]
    response = apply(client, vehicles=(other_vehicle,))
    assert response.status_code == 422
    assert f"véhicule inconnu(e) : {other_vehicle}" in visible(response.text)
    assert count(web_world, Application) == before


# ---- documents -----------------------------------------------------------------------------


def test_documents_are_stored_and_downloadable(client, web_world) -> None:
    login(client, "pro")
    pdf = b"%PDF-1.4\n% Kbis\n"
    app_id = new_application(client, files=[("documents", ("kbis.pdf", pdf, "application/pdf")),
                                            ("documents", ("carte grise.png", b"\x89PNG\r\n\x1a\n...", "image/png"))])
    page = client.get(f"/pro/demandes/{app_id}").text
    assert "kbis.pdf" in page and "carte grise.png" in page
    doc_id = re.search(r'/pro/justificatifs/([0-9a-f-]{36})">kbis.pdf', page).group(1)
    response = client.get(f"/pro/justificatifs/{doc_id}")
    assert response.status_code == 200 and response.content == pdf
    assert response.headers["content-type"].startswith("application/pdf")


@pytest.mark.parametrize(("name", "content_type", "content", "message"), [
    ("gros.pdf", "application/pdf", b"%PDF-" + b"0" * (10 * 1024 * 1024), "fichier trop lourd"),
    ("notes.txt", "text/plain", b"hello", "type de fichier refusé : le contenu n'est ni un PDF"),
    ("faux.pdf", "application/pdf", b"MZ\x90\x00", "type de fichier refusé : le contenu n'est ni un PDF"),
    ("photo.pdf", "application/pdf", b"\x89PNG\r\n\x1a\n" + b"0" * 64,
     "le contenu du fichier (image/png) ne correspond pas au type déclaré (application/pdf)"),
])
def test_bad_document_gives_a_clear_message_and_stores_nothing(client, web_world, name, content_type, content,
                                                               message) -> None:
    login(client, "pro")
    before = count(web_world, Application)
    response = apply(client, files=[("documents", (name, content, content_type))])
    assert response.status_code == 422
    assert f"{name} : {message}" in visible(response.text)
    assert count(web_world, Application) == before
    assert count(web_world, SupportingDocument) == 0
    assert not any(Path(web_world.settings.documents_dir).rglob("*")) if Path(
        web_world.settings.documents_dir).exists() else True


def test_bad_document_added_later_stores_nothing(client, web_world) -> None:
    login(client, "pro")
    app_id = new_application(client)
    response = post_form(client, f"/pro/demandes/{app_id}/justificatifs",
                         files=[("documents", ("ok.pdf", b"%PDF-1", "application/pdf")),
                                ("documents", ("photo.gif", b"GIF89a", "image/gif"))])
    assert response.status_code == 422
    assert "photo.gif : type de fichier refusé : le contenu n'est ni un PDF, ni une image JPEG ou PNG " \
           "(type annoncé : image/gif)" in visible(response.text)
    assert count(web_world, SupportingDocument) == 0


def test_answer_the_reviewer_question_with_a_document(client, web_world) -> None:
    login(client, "pro")
    app_id = submitted_application(client)

    async def ask(session):
        await request_information(session, application_id=app_id, reviewer_id=USER_IDS["reviewer"],
                                  reason="Joindre le bon de commande.", clock=web_world.clock)

    run_db(web_world, ask)
    page = visible(client.get(f"/pro/demandes/{app_id}").text)
    assert "Question de l'instructeur Joindre le bon de commande." in page
    response = post_form(client, f"/pro/demandes/{app_id}/completer", {"comment": "Voici le bon."},
                         files=[("documents", ("bon.pdf", b"%PDF-1.7 bon", "application/pdf"))])
    page = visible(response.text)
    assert "Complément envoyé" in page
    assert "Complément demandé par l'instructeur Complément demandé par Iris Instructrice" in page
    assert "Complément fourni Déposée par Paul Pro Voici le bon." in page
    assert "bon.pdf" in page
    assert count(web_world, Application, col(Application.id) == app_id, col(Application.status) == "submitted") == 1


def test_withdraw(client, web_world) -> None:
    login(client, "pro")
    app_id = submitted_application(client)
    page = visible(post_form(client, f"/pro/demandes/{app_id}/retirer", {"reason": "plus besoin"}).text)
    assert "Demande retirée" in page and "plus besoin" in page
    assert count(web_world, Application, col(Application.id) == app_id, col(Application.status) == "withdrawn") == 1


# ---- passes --------------------------------------------------------------------------------


def _vehicle_id(session, plate):
    async def go():
        return (await session.exec(select(Vehicle.id).where(col(Vehicle.plate) == plate))).one()

    return go()


def test_pass_downloads_decode_and_verify(client, web_world) -> None:
    zxingcpp = pytest.importorskip("zxingcpp")
    from PIL import Image

    login(client, "pro")
    app_id = submitted_application(client)
    issued = approve(web_world, app_id)

    async def publish(session):
        keystore = KeyStore(Path(web_world.settings.keys_dir) / AUTHORITY_CODE, clock=web_world.clock)
        await publish_bundle(session, authority_id=AUTHORITY_ID, keystore=keystore, clock=web_world.clock)
        return keystore.latest_bundle()

    bundle = run_db(web_world, publish)

    listing = visible(client.get("/pro/laissez-passer").text)
    assert issued.serial in listing and "AB-123-CD" in listing
    detail = visible(client.get(f"/pro/laissez-passer/{issued.id}").text)
    assert issued.serial in detail and "Paris Centre" in detail and "Ville de Démo" in detail

    png = client.get(f"/pro/laissez-passer/{issued.id}.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.content)))
    assert len(results) == 1
    text = results[0].text
    assert text.startswith("CQ1:")
    assert text == issued.signed_text
    # Tuesday 24 November 2026, 10:00 in Paris: inside PARIS-CENTRE's Mo-Sa 07:00-13:00.
    verdict = verify_pass(text, bundle, zone="PARIS-CENTRE", now=datetime(2026, 11, 24, 9, 0, tzinfo=UTC))
    assert verdict.valid, verdict
    assert verdict.claims.plate == "AB123CD"

    svg = client.get(f"/pro/laissez-passer/{issued.id}.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(svg.content)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"

    printable = client.get(f"/pro/laissez-passer/{issued.id}/imprimer")
    assert printable.status_code == 200
    assert "AB-123-CD" in printable.text and issued.serial in printable.text
    assert "/static/pro/pass-print-a4.css" in printable.text and "<svg" in printable.text
    assert "/static/pro/pass-print-a5.css" in client.get(f"/pro/laissez-passer/{issued.id}/imprimer?format=A5").text
    assert "@page { size: A5" in client.get("/static/pro/pass-print-a5.css").text

    phone = client.get(f"/pro/laissez-passer/{issued.id}/telephone")
    assert phone.status_code == 200
    assert 'name="viewport"' in phone.text and "data:image/png;base64," in phone.text
    assert "AB-123-CD" in phone.text and issued.serial in phone.text
    assert "du 24/11/2026 au 10/12/2026 inclus" in visible(phone.text)

    dashboard = visible(client.get("/pro").text)
    assert "Acceptée : 1" in dashboard and "1 expirent dans les 30 jours" in dashboard


def test_renew_prefills_a_draft_from_the_pass(client, web_world) -> None:
    login(client, "pro")
    app_id = submitted_application(client, extra={"w1_days": ["0", "1"], "w1_start": "08:00", "w1_end": "11:00"})
    issued = approve(web_world, app_id)
    response = post_form(client, f"/pro/laissez-passer/{issued.id}/renouveler", follow_redirects=False)
    assert response.status_code == 303
    new_id = uuid.UUID(APP_URL.search(response.headers["location"]).group(1))
    page = visible(client.get(response.headers["location"]).text)
    assert "Demande de renouvellement préparée" in page
    assert "Renouvellement du laissez-passer" in page

    async def work(session):
        return await session.get(Application, new_id)

    renewal = run_db(web_world, work)
    assert renewal.status == "draft"
    assert renewal.not_before == issued.expires_at
    assert renewal.expires_at - renewal.not_before == issued.expires_at - issued.not_before
    assert renewal.windows == issued.windows


def test_other_company_gets_404_for_everything_of_pro(client, web_world) -> None:
    login(client, "pro")
    app_id = submitted_application(client, files=[("documents", ("kbis.pdf", b"%PDF-1", "application/pdf"))])
    doc_id = re.search(r"/pro/justificatifs/([0-9a-f-]{36})", client.get(f"/pro/demandes/{app_id}").text).group(1)
    issued = approve(web_world, app_id)
    post_form(client, "/deconnexion")

    login(client, "other_pro")
    for url in (f"/pro/vehicules/{VEHICLE_AB}/modifier", f"/pro/demandes/{app_id}", f"/pro/justificatifs/{doc_id}",
                f"/pro/laissez-passer/{issued.id}", f"/pro/laissez-passer/{issued.id}.png",
                f"/pro/laissez-passer/{issued.id}.svg", f"/pro/laissez-passer/{issued.id}/imprimer",
                f"/pro/laissez-passer/{issued.id}/telephone"):
        assert client.get(url).status_code == 404, url
    for url in (f"/pro/vehicules/{VEHICLE_AB}/modifier", f"/pro/demandes/{app_id}/retirer",
                f"/pro/demandes/{app_id}/deposer", f"/pro/laissez-passer/{issued.id}/renouveler"):
        assert post_form(client, url, {"plate": "ZZ-999-ZZ", "category": "N1"}).status_code == 404, url
    lists = "".join(client.get(url).text for url in ("/pro/vehicules", "/pro/demandes", "/pro/laissez-passer"))
    assert "AB-123-CD" not in lists and issued.serial not in lists
    assert "KL-012-MN" in lists
    assert count(web_world, Application, col(Application.id) == app_id, col(Application.status) == "approved") == 1


# ---- language ------------------------------------------------------------------------------


def test_every_french_string_of_the_area_has_an_english_translation() -> None:
    from babel.messages.pofile import read_po

    web = Path(__file__).parents[2] / "cirqliz" / "web"
    with (web / "translations" / "en" / "professional.po").open("rb") as fh:
        catalog = read_po(fh, locale="en")
    translated = {m.id for m in catalog if m.id and m.string}
    with (web / "translations" / "en" / "common.po").open("rb") as fh:
        translated |= {m.id for m in read_po(fh, locale="en") if m.id and m.string}
    wanted = set()
    for template in (web / "templates" / "pro").glob("*.html"):
        wanted |= set(re.findall(r"""_\(\s*"((?:[^"\\]|\\.)*)"\s*\)""", template.read_text(encoding="utf-8")))
        wanted |= set(re.findall(r"""_\(\s*'((?:[^'\\]|\\.)*)'\s*\)""", template.read_text(encoding="utf-8")))
    from cirqliz.web.controllers import professional as pro

    wanted |= set(pro.NOTICES.values()) | set(pro.ACTION_LABELS_FR.values()) | set(pro.PASS_STATUS_LABELS_FR.values())
    wanted |= set(pro.ENERGY_LABELS_FR.values()) | set(pro.DAYS_FR)
    wanted |= {label for _, label in pro.Helpers.categories} | {label for _, label in pro.Helpers.crit_airs}
    wanted |= {label for _, label in pro.Helpers.purposes} | {label for _, label in pro.Helpers.application_statuses}
    missing = sorted(wanted - translated)
    assert not missing, missing


def test_pages_in_english(client) -> None:
    login(client, "pro")
    page = visible(client.get("/pro/demandes/nouvelle?lang=en").text)
    assert "Apply for a pass" in page and "Check eligibility" in page
    assert "Demander un laissez-passer" not in page


def test_pages_fit_a_phone(client) -> None:
    login(client, "pro")
    html = client.get("/pro/demandes/nouvelle").text
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in html
    # Every form control has a label.
    ids = set(re.findall(r'<(?:input|select|textarea)[^>]*\sid="([^"]+)"', html))
    labelled = set(re.findall(r'<label for="([^"]+)"', html))
    assert ids and ids <= labelled, ids - labelled


def test_tile_url_comes_from_settings(client, web_world) -> None:
    login(client, "pro")
    assert f'data-tiles="{web_world.settings.tile_url}"' in client.get("/pro/demandes/nouvelle").text


def test_expiry_is_local_midnight(client, web_world) -> None:
    login(client, "pro")
    app_id = new_application(client, first="2027-03-27", last="2027-03-28")  # DST starts on 28 March 2027

    async def work(session):
        return await session.get(Application, app_id)

    app = run_db(web_world, work)
    assert app.not_before == datetime(2027, 3, 26, 23, 0, tzinfo=UTC)
    assert app.expires_at == datetime(2027, 3, 28, 22, 0, tzinfo=UTC)
    assert app.expires_at - app.not_before == timedelta(hours=47)


def test_too_big_upload_is_refused_in_french(client, web_world) -> None:
    login(client, "pro")
    before = count(web_world, Vehicle)
    big = b"plaque;categorie\n" + b"AA-001-AA;N1\n" * 200_000  # ~2.6 MB, over the CSV limit
    response = post_form(client, "/pro/vehicules/import", files={"fichier": ("flotte.csv", big, "text/csv")})
    assert response.status_code == 413
    assert "Envoi trop volumineux" in visible(response.text)
    assert count(web_world, Vehicle) == before


def test_an_application_page_lists_only_its_own_passes(client, web_world) -> None:
    login(client, "pro")
    first = approve(web_world, submitted_application(client, vehicles=(VEHICLE_AB,)))
    second_id = submitted_application(client, vehicles=(VEHICLE_EF,), first="2026-12-11", last="2026-12-20")
    second = approve(web_world, second_id)
    page = client.get(f"/pro/demandes/{second_id}").text
    assert second.serial in page and first.serial not in page
