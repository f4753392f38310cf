"""Issue 17: an event's supplier passes reach the suppliers, and submitted events reach the authority.

After the bulk CSV the organiser (and the authority, from its event page) gets each pass as a PNG,
a printable page and a phone link, and a ZIP of all (PNG per pass + a French CSV); suppliers with an
address in the CSV are mailed their phone link. Downloads are audited; another organiser's event
reads like a missing one; revoked passes show as revoked and offer no download. A submitted event
mails the authority's admins and the dashboard counts the events waiting.
"""

from __future__ import annotations

import csv
import html
import io
import re
import uuid
import zipfile
from datetime import timedelta

import pytest
from litestar.testing import TestClient
from PIL import Image
from sqlmodel import col, select

from cirqliz.db.models import AccessPass, AuditRecord, EventPass
from cirqliz.demo.seed import AUTHORITY_ID, DEMO_PASSWORD, USER_IDS, USERS
from cirqliz.domain.organisations import OrganisationKind, Role
from cirqliz.issuance.event_passes import link_token, pass_id_from_token
from cirqliz.issuance.organisations import add_membership, create_organisation, create_user
from cirqliz.issuance.passes import revoke_pass
from cirqliz.issuance.passwords import hash_password

from .conftest import login, post_form
from .conftest import text_of as _raw_text
from .mailbox import (
    in_db,
    link_in,
    mails_to,
    outbox,
    outbox_web_world,  # noqa: F401 (fixture `web_world`: outbox in tmp)
)
from .test_organiser import _add_zone, _create_event, _zone_code

ADMIN, REVIEWER = USERS["admin"][0], USERS["reviewer"][0]
SUPPLIER_A, SUPPLIER_B = "regie@son-lumiere.example.fr", "contact@traiteur-martin.example.fr"
OTHER_ORGANISER_EMAIL = "orga@autre-festival.example.fr"


def text_of(page: str) -> str:
    """Visible text, entities decoded."""
    return html.unescape(_raw_text(page))


def _upload(client: TestClient, event_id: str, text: str, *, send_mail: bool = True) -> object:
    data = {"_csrf_token": client.cookies.get("cirqliz_csrf")}
    if send_mail:
        data["send_mail"] = "1"
    return client.post(f"/organisateur/evenements/{event_id}/laissez-passer", data=data,
                       files={"csv_file": ("prestataires.csv", text.encode(), "text/csv")})


def _switch(client: TestClient, who: str) -> None:
    post_form(client, "/deconnexion")
    login(client, who)


def _approved_event(client: TestClient, web_world, quota: int = 5) -> tuple[str, str]:
    """An event of the demo organiser with one perimeter, submitted and approved; (event id, zone code).
    The client is left signed in as the organiser."""
    login(client, "organiser")
    event_id = _create_event(client)
    assert _add_zone(client, event_id).status_code == 303
    code = _zone_code(web_world, event_id)
    assert post_form(client, f"/organisateur/evenements/{event_id}/soumettre",
                     follow_redirects=False).status_code == 303
    _switch(client, "admin")
    assert post_form(client, f"/autorite/evenements/{event_id}/approuver", {"pass_quota": str(quota)},
                     follow_redirects=False).status_code == 303
    _switch(client, "organiser")
    return event_id, code


def _csv(code: str) -> str:
    return ("entreprise;immatriculation;zones;creneaux;email\n"
            f"Son et Lumière SARL;ab123cd;{code};Lu-Ve 07:00-11:00;{SUPPLIER_A}\n"
            f"Traiteur Martin;EF-456-GH;{code};;{SUPPLIER_B.upper()}\n"
            f"Sécurité Plus;GH-789-JK;{code};;\n")


def _passes(web_world, event_id: str) -> list[AccessPass]:
    async def work(session):
        return list((await session.exec(
            select(AccessPass).join(EventPass, col(EventPass.pass_id) == AccessPass.id)
            .where(col(EventPass.event_id) == uuid.UUID(event_id)).order_by(col(EventPass.line)))).all())
    return in_db(web_world, work)


def _audit(web_world, action: str) -> list[AuditRecord]:
    async def work(session):
        return list((await session.exec(select(AuditRecord).where(col(AuditRecord.action) == action)
                                        .order_by(col(AuditRecord.at), col(AuditRecord.seq)))).all())
    return in_db(web_world, work)


def _downloads(web_world) -> list[AuditRecord]:
    return _audit(web_world, "download")


def _decode(png: bytes) -> str:
    zxingcpp = pytest.importorskip("zxingcpp")
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(results) == 1, "exactly one QR code expected"
    return results[0].text


def _revoke(web_world, pass_id: uuid.UUID) -> None:
    async def work(session):
        await revoke_pass(session, pass_id=pass_id, actor_id=USER_IDS["admin"], reason="véhicule volé",
                          clock=web_world.clock)
    in_db(web_world, work)


def _other_organiser(web_world) -> None:
    """A second organiser attached to the demo authority, with its own signed-in person."""
    async def work(session):
        clock = web_world.clock
        org = await create_organisation(session, kind=OrganisationKind.ORGANISER, code="autre-festival",
                                        name="Autre Festival", clock=clock, authority_id=AUTHORITY_ID)
        user = await create_user(session, email=OTHER_ORGANISER_EMAIL, display_name="Olga Autre", clock=clock,
                                 password_hash=hash_password(DEMO_PASSWORD))
        await add_membership(session, user_id=user.id, organisation_id=org.id, role=Role.ORGANISER, clock=clock)
    in_db(web_world, work)


# ---- the organiser's passes ---------------------------------------------------------------------


def test_the_organiser_gets_each_pass_and_the_suppliers_their_phone_link(client, web_world) -> None:
    event_id, code = _approved_event(client, web_world)
    issued = _upload(client, event_id, _csv(code))
    assert issued.status_code == 200, issued.text
    page = text_of(issued.text)
    assert "3 laissez-passer émis" in page and "2 courriel(s) envoyé(s)" in page
    assert "AB-123-CD" in page  # plates as people write them, not the stored AB123CD
    rows = _passes(web_world, event_id)
    assert len(rows) == 3
    base = f"/organisateur/evenements/{event_id}"
    # The event page lists each pass with its downloads.
    listing = client.get(base).text
    for row in rows:
        assert f"{base}/laissez-passer/{row.id}/qr.png" in listing
        assert f"{base}/laissez-passer/{row.id}/imprimer" in listing
        assert row.serial in listing
    assert f"{base}/laissez-passer.zip" in listing and "Son et Lumière SARL" in listing

    # PNG: the pass's own signed text, as an attachment.
    png = client.get(f"{base}/laissez-passer/{rows[0].id}/qr.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert f'filename="laissez-passer-{rows[0].serial}.png"' in png.headers["content-disposition"]
    assert _decode(png.content) == rows[0].signed_text
    # Printable page: the professional's template, back link to the event.
    printable = client.get(f"{base}/laissez-passer/{rows[0].id}/imprimer?format=A5")
    assert printable.status_code == 200
    assert "<svg" in printable.text and "AB-123-CD" in printable.text and "pass-print-a5.css" in printable.text
    assert f'href="{base}#laissez-passer"' in printable.text and "/pro/laissez-passer" not in printable.text

    # The suppliers with an address got a French mail with their phone link; the third none.
    assert len(mails_to(web_world, SUPPLIER_A)) == 1 and len(mails_to(web_world, SUPPLIER_B)) == 1
    assert len(outbox(web_world)) == 2 + 1  # + the admin's "event to review"
    mail = mails_to(web_world, SUPPLIER_A)[0]
    assert "Votre laissez-passer" in mail.subject and "AB-123-CD" in mail.subject
    assert "Fête de la musique" in mail.body and rows[0].serial in mail.body and "conducteur" in mail.body
    phone_path = link_in(mail.body, "/laissez-passer/")
    assert phone_path.split("/")[-1] == link_token(web_world.settings.secret_key, rows[0].id)

    # The phone link works without an account and shows the pass (QR code as a data URI).
    with TestClient(web_world.app) as anonymous:
        phone = anonymous.get(phone_path)
        assert phone.status_code == 200, phone.text
        assert "AB-123-CD" in phone.text and rows[0].serial in phone.text
        assert "noindex" in phone.headers["x-robots-tag"] and "/pro/laissez-passer" not in phone.text
        data_uri = re.search(r'src="data:image/png;base64,([^"]+)"', phone.text).group(1)
        import base64
        assert _decode(base64.b64decode(data_uri)) == rows[0].signed_text

    # The mails are in the journal as a count; the addresses are not kept.
    (mailed,) = _audit(web_world, "mail_suppliers")
    assert mailed.after == {"count": 2} and SUPPLIER_A not in str(_audit(web_world, "bulk_issue")[0].after)

    # Every download was audited: who, which pass, which format.
    downloads = _downloads(web_world)
    assert [(d.entity, d.after["format"]) for d in downloads] == [("pass", "png"), ("pass", "print")]
    assert {d.entity_id for d in downloads} == {str(rows[0].id)}
    assert all(d.actor_id == USER_IDS["organiser"] for d in downloads)


def test_the_zip_holds_a_png_per_pass_and_a_french_csv(client, web_world) -> None:
    event_id, code = _approved_event(client, web_world)
    assert _upload(client, event_id, _csv(code), send_mail=False).status_code == 200
    assert len(outbox(web_world)) == 1  # the box unticked: only the admin's mail, none to suppliers
    rows = _passes(web_world, event_id)
    response = client.get(f"/organisateur/evenements/{event_id}/laissez-passer.zip")
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    assert 'filename="laissez-passer-fete-de-la-musique.zip"' in response.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = sorted(archive.namelist())
    assert names == sorted(["laissez-passer.csv", *(f"laissez-passer-{r.serial}.png" for r in rows)])
    for row in rows:
        assert _decode(archive.read(f"laissez-passer-{row.serial}.png")) == row.signed_text
    raw = archive.read("laissez-passer.csv").decode("utf-8")
    assert raw.startswith("\ufeff")  # French spreadsheets open it in UTF-8
    table = list(csv.reader(io.StringIO(raw.lstrip("\ufeff")), delimiter=";"))
    assert table[0] == ["Numéro", "Immatriculation", "Entreprise", "Zones", "Début", "Fin", "Statut",
                        "Lien téléphone", "Image"]
    by_serial = {line[0]: line for line in table[1:]}
    first = by_serial[rows[0].serial]
    assert first[1:4] == ["AB-123-CD", "Son et Lumière SARL", code]
    assert first[4] == "01/12/2026 08:00" and first[6] == "valide"
    token = first[7].rsplit("/", 1)[-1]
    assert pass_id_from_token(web_world.settings.secret_key, token) == rows[0].id
    assert first[8] == f"laissez-passer-{rows[0].serial}.png"
    (record,) = _downloads(web_world)
    assert record.entity == "event" and record.entity_id == event_id and record.after["count"] == 3


def test_a_bad_supplier_address_refuses_the_whole_file(client, web_world) -> None:
    event_id, code = _approved_event(client, web_world)
    text = ("entreprise;immatriculation;zones;creneaux;courriel\n"
            f"Son SARL;AB-123-CD;{code};;regie@son.example.fr\n"
            f"Lumières SAS;EF-456-GH;{code};;pas-une-adresse\n")
    refused = _upload(client, event_id, text)
    assert refused.status_code == 422
    assert "ligne 3, champ email : adresse électronique invalide : 'pas-une-adresse'" in text_of(refused.text)
    assert _passes(web_world, event_id) == [] and mails_to(web_world, "regie@son.example.fr") == []


# ---- revoked passes ------------------------------------------------------------------------------


def test_a_revoked_pass_shows_as_revoked_and_offers_no_download(client, web_world) -> None:
    event_id, code = _approved_event(client, web_world)
    assert _upload(client, event_id, _csv(code), send_mail=True).status_code == 200
    rows = _passes(web_world, event_id)
    phone_path = link_in(mails_to(web_world, SUPPLIER_A)[0].body, "/laissez-passer/")
    _revoke(web_world, rows[0].id)
    base = f"/organisateur/evenements/{event_id}"
    page = client.get(base).text
    assert "Révoqué : plus utilisable ni téléchargeable." in text_of(page)
    assert f"{base}/laissez-passer/{rows[0].id}/" not in page  # no link for the revoked one
    assert link_token(web_world.settings.secret_key, rows[0].id) not in page
    assert f"{base}/laissez-passer/{rows[1].id}/qr.png" in page  # the others keep theirs
    for suffix in ("qr.png", "imprimer"):
        refused = client.get(f"{base}/laissez-passer/{rows[0].id}/{suffix}")
        assert refused.status_code == 410 and "révoqué" in text_of(refused.text)
    with TestClient(web_world.app) as anonymous:
        gone = anonymous.get(phone_path)
        assert gone.status_code == 410 and "révoqué" in text_of(gone.text) and "data:image/png" not in gone.text
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"{base}/laissez-passer.zip").content))
    assert f"laissez-passer-{rows[0].serial}.png" not in archive.namelist()
    assert f"laissez-passer-{rows[1].serial}.png" in archive.namelist()
    table = list(csv.reader(io.StringIO(archive.read("laissez-passer.csv").decode("utf-8-sig")), delimiter=";"))
    revoked = next(line for line in table if line[0] == rows[0].serial)
    assert revoked[6] == "révoqué" and revoked[7] == "" and revoked[8] == ""
    assert [d.after["format"] for d in _downloads(web_world)] == ["zip"]  # refused downloads leave no trace
    assert _downloads(web_world)[0].after["count"] == 2


# ---- access control ------------------------------------------------------------------------------


def test_another_organiser_gets_404_for_the_event_and_its_passes(client, web_world) -> None:
    event_id, code = _approved_event(client, web_world)
    assert _upload(client, event_id, _csv(code), send_mail=False).status_code == 200
    rows = _passes(web_world, event_id)
    _other_organiser(web_world)
    with TestClient(web_world.app) as other:
        response = post_form(other, "/connexion", {"email": OTHER_ORGANISER_EMAIL, "password": DEMO_PASSWORD},
                             follow_redirects=False)
        assert response.status_code == 303
        base = f"/organisateur/evenements/{event_id}"
        for url in (base, f"{base}/laissez-passer.zip", f"{base}/laissez-passer/{rows[0].id}/qr.png",
                    f"{base}/laissez-passer/{rows[0].id}/imprimer"):
            assert other.get(url).status_code == 404, url
    # A pass of another event, under this event's URL, reads like a missing one too.
    other_event = _create_event(client)
    assert client.get(f"/organisateur/evenements/{other_event}/laissez-passer/{rows[0].id}/qr.png"
                      ).status_code == 404
    assert client.get(f"/organisateur/evenements/{other_event}/laissez-passer.zip").status_code == 404
    assert _downloads(web_world) == []


def test_a_phone_link_is_valid_only_as_made(client, web_world) -> None:
    event_id, code = _approved_event(client, web_world)
    assert _upload(client, event_id, _csv(code), send_mail=False).status_code == 200
    row = _passes(web_world, event_id)[0]
    secret = web_world.settings.secret_key
    token = link_token(secret, row.id)
    assert pass_id_from_token(secret, token) == row.id
    forged = [
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),  # MAC altered
        link_token("another-secret-key", row.id),                    # made with another key
        token.split(".")[0],                                         # MAC missing
        "x" * 300,
        link_token(secret, uuid.uuid4()),                            # no such pass
    ]
    with TestClient(web_world.app) as anonymous:
        assert anonymous.get(f"/laissez-passer/{token}").status_code == 200
        for bad in forged:
            response = anonymous.get(f"/laissez-passer/{bad}")
            assert response.status_code == 404, bad
            assert "lien de laissez-passer invalide" in text_of(response.text)
        # A professional's pass has no supplier link, even with a valid MAC.
        pro_pass = _any_professional_pass(web_world)
        assert anonymous.get(f"/laissez-passer/{link_token(secret, pro_pass)}").status_code == 404


def _any_professional_pass(web_world) -> uuid.UUID:
    from cirqliz.demo.seed import COMPANY_ID, VEHICLES, ZONE_IDS
    from cirqliz.domain.purposes import Purpose
    from cirqliz.issuance.applications import approve_application, create_application, submit_application

    async def work(session):
        now = web_world.clock.now()
        app = await create_application(
            session, organisation_id=COMPANY_ID, applicant_id=USER_IDS["pro"], zone_ids=[ZONE_IDS["PARIS-CENTRE"]],
            vehicle_ids=[VEHICLES[0][0]], purpose=Purpose.DELIVERY, not_before=now,
            expires_at=now + timedelta(days=5), clock=web_world.clock)
        await submit_application(session, application_id=app.id, actor_id=USER_IDS["pro"], clock=web_world.clock)
        (row,) = await approve_application(session, application_id=app.id, reviewer_id=USER_IDS["reviewer"],
                                           signer=web_world.app.state.signer, clock=web_world.clock)
        return row.id
    return in_db(web_world, work)


# ---- the authority's side ------------------------------------------------------------------------


def test_the_authority_downloads_the_same_from_its_event_page(client, web_world) -> None:
    event_id, code = _approved_event(client, web_world)
    assert _upload(client, event_id, _csv(code), send_mail=False).status_code == 200
    rows = _passes(web_world, event_id)
    _revoke(web_world, rows[2].id)
    _switch(client, "admin")
    base = f"/autorite/evenements/{event_id}"
    page = client.get(base)
    assert page.status_code == 200
    assert f"{base}/laissez-passer.zip" in page.text and f"{base}/laissez-passer/{rows[0].id}/qr.png" in page.text
    assert f"{base}/laissez-passer/{rows[2].id}/" not in page.text and "Révoqué" in text_of(page.text)
    assert _decode(client.get(f"{base}/laissez-passer/{rows[1].id}/qr.png").content) == rows[1].signed_text
    printable = client.get(f"{base}/laissez-passer/{rows[1].id}/imprimer")
    assert printable.status_code == 200 and "EF-456-GH" in printable.text
    assert f'href="{base}#laissez-passer"' in printable.text
    assert client.get(f"{base}/laissez-passer/{rows[2].id}/qr.png").status_code == 410
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"{base}/laissez-passer.zip").content))
    assert len([n for n in archive.namelist() if n.endswith(".png")]) == 2
    downloads = _downloads(web_world)
    assert [d.after["format"] for d in downloads] == ["png", "print", "zip"]
    assert all(d.actor_id == USER_IDS["admin"] for d in downloads)
    # The organiser's URLs stay the organiser's: the admin is not one.
    assert client.get(f"/organisateur/evenements/{event_id}/laissez-passer.zip").status_code == 403


# ---- submitted events reach the authority --------------------------------------------------------


def test_a_submitted_event_mails_the_admins_and_the_dashboard_counts_it(client, web_world) -> None:
    login(client, "admin")
    assert "Aucun événement à examiner" in text_of(client.get("/autorite").text)
    _switch(client, "organiser")
    event_id = _create_event(client)
    assert _add_zone(client, event_id).status_code == 303
    assert outbox(web_world) == []  # a draft notifies nobody
    submitted = post_form(client, f"/organisateur/evenements/{event_id}/soumettre")
    assert "administrateurs sont prévenus par courriel" in text_of(submitted.text)
    (mail,) = mails_to(web_world, ADMIN)
    assert mail.subject == "Événement à examiner : Fête de la musique"
    assert "Festival de Démo a soumis" in mail.body and "du 01/12/2026 à 8 h au 03/12/2026 à 20 h" in mail.body
    assert "1 périmètre." in mail.body
    assert link_in(mail.body, "/autorite/evenements/") == f"/autorite/evenements/{event_id}"
    assert mails_to(web_world, REVIEWER) == []  # the event pages are the admins': no dead link
    second = _create_event(client)
    _add_zone(client, second)
    post_form(client, f"/organisateur/evenements/{second}/soumettre")
    assert len(mails_to(web_world, ADMIN)) == 2

    _switch(client, "admin")
    dashboard = client.get("/autorite").text
    assert "2 événements à examiner" in text_of(dashboard)
    assert re.search(r'<a href="/autorite/evenements"[^>]*>\s*2 événements à examiner', dashboard)
    assert "2 événements à examiner" in text_of(client.get("/autorite/evenements").text)
    post_form(client, f"/autorite/evenements/{event_id}/approuver", {"pass_quota": "1"})
    assert "1 événement à examiner" in text_of(client.get("/autorite").text)
    post_form(client, f"/autorite/evenements/{second}/refuser", {"reason": "Trop tard"})
    assert "Aucun événement à examiner" in text_of(client.get("/autorite").text)
    # The reviewer's dashboard has no counter leading to pages it cannot open.
    _switch(client, "reviewer")
    assert "à examiner" not in text_of(client.get("/autorite").text)


def test_a_refused_submission_mails_nobody(client, web_world) -> None:
    login(client, "organiser")
    event_id = _create_event(client)  # no perimeter: the authority cannot get it
    refused = post_form(client, f"/organisateur/evenements/{event_id}/soumettre")
    assert refused.status_code == 422
    assert outbox(web_world) == []
