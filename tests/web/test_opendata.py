"""Open data (public zone files), the zone import page, and exemption list exports."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date
from pathlib import Path

import pytest
from litestar.testing import TestClient
from sqlmodel import col, select

from cirqliz.db.models import AuditRecord, Organisation, Zone
from cirqliz.demo.seed import AUTHORITY_CODE, AUTHORITY_ID, COMPANY_ID, USER_IDS, ZONE_IDS
from cirqliz.imports.datex2 import parse_datex2
from cirqliz.imports.zfe import validate_zfe_document
from cirqliz.issuance.passes import grant_exemption

from .conftest import login, post_form, text_of
from .mailbox import api_token, in_db

ZONE_FILE = "exemple-valide-voie-speciale.geojson"


@pytest.fixture
def zfe_bytes(shared_data: Path) -> bytes:
    return (shared_data / "zfe" / ZONE_FILE).read_bytes()


def _zones(world) -> dict[str, Zone]:
    async def work(session):
        rows = (await session.exec(select(Zone).where(col(Zone.authority_id) == AUTHORITY_ID))).all()
        return {z.code: z for z in rows}

    return in_db(world, work)


def _exports_audit(world) -> list[AuditRecord]:
    async def work(session):
        return list((await session.exec(select(AuditRecord).where(col(AuditRecord.entity) == "export")
                                        .order_by(col(AuditRecord.at)))).all())

    return in_db(world, work)


def _exempt(world, plate: str = "AB-123-CD") -> None:
    async def work(session):
        await grant_exemption(session, zone_id=ZONE_IDS["ZFE-GRAND-PARIS"], plate=plate, kind="national",
                              starts_on=date(2026, 11, 1), ends_on=date(2026, 12, 31),
                              actor_id=USER_IDS["admin"], clock=world.clock)

    in_db(world, work)




def _preview(client: TestClient, data: bytes, fmt: str = "zfe", name: str = "zones.geojson"):
    return post_form(client, "/autorite/import", {"format": fmt},
                     files={"file": (name, data, "application/octet-stream")})


def _hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert match, f"no hidden {name}"
    return match.group(1)


# ---- public zone files ----------------------------------------------------------------------


def test_public_zone_files_need_no_login_and_validate(client: TestClient, web_world) -> None:
    response = client.get(f"/donnees/{AUTHORITY_CODE}/zones.geojson")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/geo+json")
    document = response.json()
    validate_zfe_document(document)
    # A zone made here: the schema's SIREN-ZFE-NNN id (the demo authority's SIREN, the zone's ref),
    # and its Crit'Air threshold from its rule (Crit'Air 2 at most: refused from V3 on).
    (feature,) = document["features"]
    assert feature["properties"]["id"] == "200000008-ZFE-003" and feature["properties"]["vp_critair"] == "V3"
    xml = client.get(f"/donnees/{AUTHORITY_CODE}/zones.datex2.xml")
    assert xml.status_code == 200 and "xml" in xml.headers["content-type"]
    root = parse_datex2(xml.content)  # validates against the DATEX II XSDs
    assert root is not None and b"PermitCondition" in xml.content and b"CIRQLIZ-PARIS-CENTRE" in xml.content
    assert client.get(f"/donnees/{AUTHORITY_CODE}/zones.datex2.xml").content == xml.content  # stable
    assert client.get("/donnees/nulle-part/zones.geojson").status_code == 404


def test_zfe_file_of_an_authority_without_siren_is_refused_in_french(client: TestClient, web_world) -> None:
    async def forget_siren(session):
        authority = await session.get(Organisation, AUTHORITY_ID)
        authority.siren = None
        session.add(authority)

    in_db(web_world, forget_siren)
    refused = client.get(f"/donnees/{AUTHORITY_CODE}/zones.geojson")
    assert refused.status_code == 422
    assert "export ZFE refusé" in refused.text and "ZFE-GRAND-PARIS" in refused.text and "SIREN" in refused.text
    assert client.get(f"/donnees/{AUTHORITY_CODE}/zones.datex2.xml").status_code == 200  # no SIREN needed
    login(client, "admin")
    page = text_of(client.get("/autorite/exports").text)
    assert "Ce fichier est refusé pour" in page and "export ZFE refusé : la zone ZFE-GRAND-PARIS" in page


# ---- import ---------------------------------------------------------------------------------


def test_import_preview_then_apply_then_reimport_is_unchanged(client: TestClient, web_world, zfe_bytes) -> None:
    login(client, "admin")
    assert client.get("/autorite/import").status_code == 200
    before = _zones(web_world)
    preview = _preview(client, zfe_bytes)
    assert preview.status_code == 200, preview.text
    text = text_of(preview.text)
    assert "Zones à créer : 4" in text and "ZFE-TRONROUT0000000000176896" in text
    assert _zones(web_world).keys() == before.keys()  # the preview wrote nothing
    token, digest = _hidden(preview.text, "token"), _hidden(preview.text, "sha256")
    applied = post_form(client, "/autorite/import/appliquer", {"token": token, "sha256": digest})
    assert applied.status_code == 200, applied.text
    assert "Import appliqué" in applied.text
    zones = _zones(web_world)
    assert len(zones) == len(before) + 4
    assert zones["ZFE-TRONROUT0000000000176896"].status == "active"
    # The kept file is gone: applying twice is refused.
    again = post_form(client, "/autorite/import/appliquer", {"token": token, "sha256": digest})
    assert again.status_code == 422 and "expiré" in again.text
    # Imported zones are open data at once, with the file's ids.
    ids = {f["properties"]["id"] for f in client.get(f"/donnees/{AUTHORITY_CODE}/zones.geojson").json()["features"]}
    assert "TRONROUT0000000000176896" in ids
    reimport = _preview(client, zfe_bytes)
    assert "Zones inchangées : 4" in text_of(reimport.text)
    assert 'name="token"' not in reimport.text and "Rien à changer" in reimport.text


def test_import_errors_name_row_and_field_and_change_nothing(client: TestClient, web_world, zfe_bytes) -> None:
    login(client, "admin")
    before = _zones(web_world)
    broken = _preview(client, b'{"type": "FeatureCollection", "features": [')
    assert broken.status_code == 422 and "JSON" in broken.text
    document = json.loads(zfe_bytes)
    document["features"][1]["properties"]["vp_horaires"] = "jamais"
    refused = _preview(client, json.dumps(document).encode())
    assert refused.status_code == 422
    text = text_of(refused.text)
    assert "rien ne sera enregistré" in text and "2 TRONROUT0000000000176893 vp_horaires" in text
    assert 'name="token"' not in refused.text
    assert _zones(web_world).keys() == before.keys()


def test_apply_refuses_a_changed_hash_or_unknown_token(client: TestClient, web_world, zfe_bytes) -> None:
    login(client, "admin")
    preview = _preview(client, zfe_bytes)
    token = _hidden(preview.text, "token")
    wrong = post_form(client, "/autorite/import/appliquer", {"token": token, "sha256": "0" * 64})
    assert wrong.status_code == 422
    unknown = post_form(client, "/autorite/import/appliquer", {"token": "../../etc/passwd", "sha256": "0" * 64})
    assert unknown.status_code == 422
    assert "ZFE-TRONROUT0000000000176896" not in _zones(web_world)


def test_cerema_import_through_the_page(client: TestClient, web_world, shared_data) -> None:
    login(client, "admin")
    data = (shared_data / "cerema-marchandises" / "exemple-valide.csv").read_bytes()
    preview = _preview(client, data, fmt="cerema", name="arretes.csv")
    text = text_of(preview.text)
    assert preview.status_code == 200 and "Zones à créer : 1" in text and "Arrêtés à localiser : 1" in text
    assert "Éléments du fichier : 2" in text and "Éléments ignorés : 0" in text
    # Every row is listed with its line, id and name, and what becomes of it.
    assert "ligne 2 13090:11 Avenue Philippe Solari ARR-13090-11 à localiser (nouvel arrêté)" in text
    assert "ligne 3 13022:38 Avenue du Docteur Yves Bourde ARR-13022-38 à créer" in text
    applied = post_form(client, "/autorite/import/appliquer",
                        {"token": _hidden(preview.text, "token"), "sha256": _hidden(preview.text, "sha256")})
    assert applied.status_code == 200
    assert "ARR-13022-38 créée" in text_of(applied.text)


@pytest.mark.parametrize("who", ["reviewer", "pro", "agent", "organiser"])
def test_import_is_for_authority_admins_only(client: TestClient, web_world, who) -> None:
    login(client, who)
    assert client.get("/autorite/import").status_code == 403


# ---- exemption exports ----------------------------------------------------------------------


@pytest.mark.parametrize("who", ["admin", "reviewer"])
def test_authority_staff_export_csv_json_and_every_export_is_audited(client: TestClient, web_world, who) -> None:
    _exempt(web_world)
    _exempt(web_world, "D:BAB1234")
    login(client, who)
    page = client.get("/autorite/exports")
    assert page.status_code == 200 and "ZFE-GRAND-PARIS" in page.text
    response = client.get("/autorite/exports/derogations", params={"format": "csv", "zone": "ZFE-GRAND-PARIS"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert sorted((r["plate"], r["country"], r["category"]) for r in rows) == [
        ("AB123CD", "FR", "national"), ("BAB1234", "D", "national")]
    french = client.get("/autorite/exports/derogations", params={"format": "csv-fr", "status": "active"})
    assert french.content.startswith("\ufeff".encode()) and b"Immatriculation;Pays;" in french.content
    listed = client.get("/autorite/exports/derogations", params={"format": "json", "category": "national"})
    assert [r["plate"] for r in sorted(listed.json(), key=lambda r: r["plate"])] == ["AB123CD", "BAB1234"]
    records = _exports_audit(web_world)
    assert [r.after["rows"] for r in records] == [2, 2, 2]
    assert [r.after["format"] for r in records] == ["csv", "csv-fr", "json"]
    assert records[0].after["filters"] == {"zone": "ZFE-GRAND-PARIS"}
    assert all(r.actor_id == USER_IDS[who] for r in records)


def test_bad_filter_is_422_and_not_exported(client: TestClient, web_world) -> None:
    login(client, "reviewer")
    response = client.get("/autorite/exports/derogations", params={"active_on": "demain"})
    assert response.status_code == 422 and "active_on" in response.text
    assert client.get("/autorite/exports/derogations", params={"format": "xlsx"}).status_code == 422
    assert _exports_audit(web_world) == []


@pytest.mark.parametrize("who", ["pro", "agent", "organiser"])
def test_export_refused_to_other_roles(client: TestClient, web_world, who) -> None:
    login(client, who)
    assert client.get("/autorite/exports").status_code == 403
    assert client.get("/autorite/exports/derogations").status_code == 403
    refused = _exports_audit(web_world)
    assert [r.action for r in refused] == ["export_refused"]  # plates are personal data: attempts are kept
    assert refused[0].actor_id == USER_IDS[who] and refused[0].after["status"] == 403


def test_anonymous_is_sent_to_sign_in(client: TestClient, web_world) -> None:
    response = client.get("/autorite/exports/derogations?format=csv", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/connexion")
    assert _exports_audit(web_world) == []  # nobody to record: the sign-in page comes first


def test_api_export_with_an_exports_token(client: TestClient, web_world) -> None:
    _exempt(web_world)
    token = api_token(web_world, AUTHORITY_ID, ["exports:read"])
    response = client.get("/api/v1/exemptions.csv", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["plate"] for r in rows if r["source"] == "exemption"] == ["AB123CD"]
    as_json = client.get("/api/v1/exemptions.json?status=active", headers={"Authorization": f"Bearer {token}"})
    assert as_json.status_code == 200 and isinstance(as_json.json(), list)
    records = _exports_audit(web_world)
    assert len(records) == 2 and records[0].actor_id is None and records[0].after["channel"] == "api"
    assert records[0].after["rows"] == len(rows) and "api_token_id" in records[0].after
    bad = client.get("/api/v1/exemptions.csv?active_on=x", headers={"Authorization": f"Bearer {token}"})
    assert bad.status_code == 400 and bad.json()["detail"].startswith("active_on")


def test_api_export_refusals(client: TestClient, web_world) -> None:
    assert client.get("/api/v1/exemptions.csv").status_code == 401
    login(client, "admin")  # a session cookie is not a token
    assert client.get("/api/v1/exemptions.csv").status_code == 401
    no_scope = api_token(web_world, AUTHORITY_ID, ["verify"])
    assert client.get("/api/v1/exemptions.csv", headers={"Authorization": f"Bearer {no_scope}"}).status_code == 403
    company = api_token(web_world, COMPANY_ID, ["exports:read"])
    assert client.get("/api/v1/exemptions.csv", headers={"Authorization": f"Bearer {company}"}).status_code == 403
    refused = [(r.action, r.after["status"]) for r in _exports_audit(web_world)]
    # no valid token: logged and counted, not audited (tests/web/test_export_audit.py); known tokens: audited
    assert refused == [("export_refused", 403), ("export_refused", 403)]
