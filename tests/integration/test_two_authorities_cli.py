"""Acceptance of issue 15: two authorities created with `cirqliz authority create` on an empty,
migrated database (no demo seed). Each admin, agent and organiser comes from the command line and
the web pages; one company applies to a zone of each. Then each admin sees only its own
organisers, zones, applications, passes, checks and exemption export, and the other's objects
answer 404 at their direct URLs. (Each bundle opening only with its own root key is covered by
test_onboarding_cli.py.)"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from cli_driver import Run, run_cli
from deployment import BASE_URL, PASSWORD, Install, links_in
from litestar.testing import TestClient
from sqlmodel import col, select

from cirqliz.db.models import AccessPass, UserAccount, Vehicle
from cirqliz.domain.plates import normalise_plate
from cirqliz.issuance.passes import grant_exemption
from cirqliz.web.app import create_app

SQUARE = {"type": "Polygon", "coordinates": [[[4.83, 45.76], [4.85, 45.76], [4.85, 45.77], [4.83, 45.77],
                                              [4.83, 45.76]]]}
COMPANY = {"company_name": "Transports Commun SAS", "company_id": "732 829 320", "display_name": "Rita Commune",
           "email": "rita@transports-commun.fr", "password": PASSWORD, "password_again": PASSWORD}


@dataclass
class Side:
    """One authority created from the command line, and the distinctive things made for it."""

    code: str
    name: str
    admin: str
    agent: str
    agent_name: str
    organiser: str
    zone_code: str
    zone_name: str
    lez_code: str
    lez_name: str
    plate: str  # the company's vehicle that applies to this authority's zone
    exempted_plate: str  # an exemption in this authority's low-emission zone
    seen_plate: str  # what this authority's agent typed in the check
    ids: dict[str, Any] = field(default_factory=dict)

    def markers(self) -> list[str]:
        """Texts that only this authority's pages may show."""
        return [self.organiser, self.zone_code, self.zone_name, self.lez_code, self.lez_name, self.agent_name,
                self.plate, self.exempted_plate, self.seen_plate, self.ids["serial"],
                *(str(self.ids[k]) for k in ("organiser", "zone", "lez", "application", "pass"))]


LYON = Side("lyon", "Métropole de Lyon", "admin@lyon.fr", "agent@lyon.fr", "Léa Agente-Lyonnaise",
            "Fête des Lumières", "LYON-PRESQUILE", "Presqu’île lyonnaise", "LYON-ZFE", "ZFE lyonnaise",
            "LY-111-AN", "LZ-123-FE", "LV-555-VA")
GRENOBLE = Side("grenoble", "Grenoble-Alpes Métropole", "admin@grenoble.fr", "agent@grenoble.fr",
                "Gaston Agent-Grenoblois", "Festival Berlioz", "GRE-HYPERCENTRE", "Hypercentre grenoblois",
                "GRE-ZFE", "ZFE grenobloise", "GR-222-EN", "GZ-456-FE", "GV-666-VA")


# ---- helpers ------------------------------------------------------------------------------


def link_of(run: Run) -> str:
    assert run.rc == 0, run.err
    [link] = links_in(run)
    return link.removeprefix(BASE_URL)


def csrf(client: TestClient) -> str:
    if client.cookies.get("cirqliz_csrf") is None:
        client.get("/connexion")
    token = client.cookies.get("cirqliz_csrf")
    assert token
    return token


def post(client: TestClient, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    return client.post(url, data={**(data or {}), "_csrf_token": csrf(client)}, follow_redirects=False, **kwargs)


def redirected(response: Any) -> str:
    assert response.status_code == 303, html.unescape(re.sub(r"<[^>]+>", " ", response.text))[:800]
    return response.headers["location"]


def id_in(location: str) -> uuid.UUID:
    return uuid.UUID(re.search(r"[0-9a-f]{8}-[0-9a-f-]{27}", location).group(0))  # type: ignore[union-attr]


def accept(client: TestClient, path: str, name: str) -> str:
    """Accept an invitation (signs the person in); where they land."""
    client.cookies.clear()
    assert client.get(path).status_code == 200
    return redirected(post(client, path, {"display_name": name, "password": PASSWORD, "password_again": PASSWORD}))


def sign_in(client: TestClient, email: str) -> None:
    client.cookies.clear()
    redirected(post(client, "/connexion", {"email": email, "password": PASSWORD}))


def visible(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def zone(client: TestClient, side: Side, code: str, name: str, kind: str) -> uuid.UUID:
    """A zone drawn by the admin, given a rule and activated, through the back office."""
    zone_id = id_in(redirected(post(client, "/autorite/zones/nouvelle", {
        "code": code, "name": name, "kind": kind, "time_zone": "Europe/Paris", "permanent": "1",
        "geojson": json.dumps(SQUARE)})))
    redirected(post(client, f"/autorite/zones/{zone_id}/regles", {
        "name": f"Livraisons {side.code}", "hours_mode": "osm", "opening_hours": "Mo-Su 00:00-24:00",
        "purposes": ["1"], "max_pass_days": "60", "review_mode": "manual"}))
    redirected(post(client, f"/autorite/zones/{zone_id}/statut", {"status": "active"}))
    return zone_id


# ---- the world ----------------------------------------------------------------------------


def build_authority(client: TestClient, install: Install, capsys, side: Side) -> None:
    """CLI: the authority, its admin and agent; web: organiser, zones (published); service: exemption."""
    run = run_cli(capsys, "authority", "create", side.code, "--name", side.name, "--admin", side.admin)
    assert accept(client, link_of(run), f"Admin {side.name}") == "/autorite"
    run = run_cli(capsys, "user", "invite", "--authority", side.code, "--role", "agent", side.agent)
    assert accept(client, link_of(run), side.agent_name) == "/scan"

    sign_in(client, side.admin)
    side.ids["organiser"] = id_in(redirected(post(client, "/autorite/organisateurs", {
        "name": side.organiser, "contact_email": f"contact@{side.code}-evenements.fr", "siren": "", "code": ""})))
    side.ids["zone"] = zone(client, side, side.zone_code, side.zone_name, "limited_traffic")
    side.ids["lez"] = zone(client, side, side.lez_code, side.lez_name, "low_emission")
    published = post(client, "/autorite/publier")
    assert published.status_code == 200 and "n° 2" in visible(published.text), visible(published.text)[:800]

    async def exempt(session):  # type: ignore[no-untyped-def]
        admin = (await session.exec(select(UserAccount).where(col(UserAccount.email) == side.admin))).one()
        today = date.today()
        await grant_exemption(session, zone_id=side.ids["lez"], plate=side.exempted_plate, kind="local",
                              starts_on=today, ends_on=today + timedelta(days=30), actor_id=admin.id,
                              clock=client.app.state.clock, reason=f"Dérogation {side.code}")

    install.run(exempt)


def apply_and_approve(client: TestClient, install: Install, side: Side) -> None:
    """The company applies to this authority's zone; its admin approves; its agent checks the pass."""
    sign_in(client, COMPANY["email"])
    saved = post(client, "/pro/vehicules/nouveau", {"plate": side.plate, "category": "N1", "crit_air": "1",
                                                    "energy": "diesel", "gross_weight_kg": "3500", "length_cm": ""})
    assert saved.status_code in (200, 303), visible(saved.text)[:800]  # saved: the list, or a redirect to it

    async def vehicle(session):  # type: ignore[no-untyped-def]
        return (await session.exec(select(Vehicle.id).where(col(Vehicle.plate) == normalise_plate(side.plate)))).one()

    first = date.today() + timedelta(days=1)
    app_id = id_in(redirected(post(client, "/pro/demandes/nouvelle", {
        "zone_ids": [str(side.ids["zone"])], "vehicle_ids": [str(install.run(vehicle))], "purpose": "1",
        "first_day": first.isoformat(), "last_day": (first + timedelta(days=10)).isoformat(),
        "action": "verifier"})))
    redirected(post(client, f"/pro/demandes/{app_id}/deposer"))
    side.ids["application"] = app_id

    sign_in(client, side.admin)
    redirected(post(client, f"/autorite/demandes/{app_id}/accepter", {"reason": ""}))

    async def issued(session):  # type: ignore[no-untyped-def]
        return (await session.exec(select(AccessPass).where(col(AccessPass.application_id) == app_id))).one()

    row = install.run(issued)
    side.ids["pass"], side.ids["serial"] = row.id, row.serial

    sign_in(client, side.agent)
    check = {"id": str(uuid.uuid4()), "checked_at": int(time.time()), "verdict": "VALID", "reason": "VALID",
             "serial": row.serial, "zone": side.zone_code, "plate_seen": side.seen_plate,
             "device_id": f"tel-{side.code}"}
    uploaded = client.post("/scan/api/checks", content=json.dumps([check]), headers={
        "x-csrftoken": csrf(client), "content-type": "application/json", "accept": "application/json"})
    assert uploaded.status_code == 200 and uploaded.json()["accepted"] == [check["id"]], uploaded.text


# ---- the acceptance test ------------------------------------------------------------------


def shows_only_its_own(page: str, own: Side, other: Side, what: str, expected: list[str]) -> None:
    for marker in expected:
        assert marker in page, f"{own.code}: {what} does not show its own {marker!r}"
    leaked = [marker for marker in other.markers() if marker in page]
    assert leaked == [], f"{own.code}: {what} shows {other.code}'s {leaked}"


def test_each_authority_made_by_the_cli_sees_only_its_own_objects(install: Install, capsys) -> None:
    lyon, grenoble = replace(LYON, ids={}), replace(GRENOBLE, ids={})
    with TestClient(create_app(install.settings())) as client:
        for side in (lyon, grenoble):
            build_authority(client, install, capsys, side)
        client.cookies.clear()
        registered = post(client, "/inscription", COMPANY)
        assert registered.status_code == 200, visible(registered.text)[:800]
        for side in (lyon, grenoble):
            apply_and_approve(client, install, side)

        for own, other in ((lyon, grenoble), (grenoble, lyon)):
            sign_in(client, own.admin)
            pages = {
                "organisers": ("/autorite/organisateurs", [own.organiser]),
                "zones": ("/autorite/zones", [own.zone_code, own.zone_name, own.lez_code]),
                "applications": ("/autorite/demandes?status=", [str(own.ids["application"])]),
                "passes": ("/autorite/laissez-passer", [own.ids["serial"], own.plate]),
                "checks": ("/autorite/controles", [own.ids["serial"], own.agent_name, own.seen_plate]),
                "exports page": ("/autorite/exports", [own.zone_code, own.lez_code]),
            }
            for what, (url, expected) in pages.items():
                response = client.get(url)
                assert response.status_code == 200, (what, response.status_code)
                shows_only_its_own(html.unescape(response.text), own, other, what, expected)

            export = client.get("/autorite/exports/derogations", params={"format": "csv"})
            assert export.status_code == 200, export.text[:500]
            rows = list(csv.DictReader(io.StringIO(export.text.lstrip("\ufeff"))))
            assert {(normalise_plate(r["plate"]), r["source"], r["zone_code"]) for r in rows} == {
                (normalise_plate(own.plate), "pass", own.zone_code),
                (normalise_plate(own.exempted_plate), "exemption", own.lez_code)}
            assert {r["serial"] for r in rows if r["source"] == "pass"} == {own.ids["serial"]}

            for url in (f"/autorite/organisateurs/{other.ids['organiser']}", f"/autorite/zones/{other.ids['zone']}",
                        f"/autorite/zones/{other.ids['lez']}", f"/autorite/demandes/{other.ids['application']}",
                        f"/autorite/laissez-passer/{other.ids['pass']}"):
                response = client.get(url)
                assert response.status_code == 404, (own.code, url, response.status_code)
                # The 404 page may repeat the requested path; nothing else of the other side.
                assert not [m for m in other.markers() if m in html.unescape(response.text) and m not in url], url
            for own_url in (f"/autorite/organisateurs/{own.ids['organiser']}", f"/autorite/zones/{own.ids['zone']}",
                            f"/autorite/demandes/{own.ids['application']}",
                            f"/autorite/laissez-passer/{own.ids['pass']}"):
                assert client.get(own_url).status_code == 200, own_url
