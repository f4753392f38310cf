"""Issue 16: Cerema goods-traffic orders without a geometry are kept "à localiser"; the authority lists
them in French (/autorite/arretes), draws or uploads the place's geometry, and the order becomes a
zone with its rules (cirqliz.issuance.traffic_orders.locate_order)."""

from __future__ import annotations

import html
import json
import uuid
from pathlib import Path

import pytest
from litestar.testing import TestClient
from sqlmodel import col, select

from cirqliz.db.models import AccessRule, AuditRecord, TrafficOrder, Zone
from cirqliz.demo.seed import AUTHORITY_ID, USER_IDS
from cirqliz.domain.errors import DomainError, NotFound
from cirqliz.imports.cerema import import_cerema
from cirqliz.issuance.traffic_orders import locate_order, orders_to_locate
from cirqliz.issuance.zone_imports import apply_zone_records

from .conftest import login, post_form
from .conftest import text_of as raw_text_of
from .test_authority import BOWTIE, run
from .two_authorities import B_AUTHORITY_ID, add_second_authority, sign_in

CEREMA = Path(__file__).parents[2] / ".." / "shared" / "data" / "cerema-marchandises"
CARROS = CEREMA / "exemples" / "carros.csv"  # 13 rows of Carros (06033), none with a geometry
VALID = CEREMA / "exemple-valide.csv"  # two rows with hours, one the windows cannot say
STREET = {"type": "Polygon", "coordinates": [[[7.180, 43.780], [7.182, 43.780], [7.182, 43.781],
                                              [7.180, 43.781], [7.180, 43.780]]]}


def text_of(page: str) -> str:
    return html.unescape(raw_text_of(page))


def import_orders(world, path: Path = CARROS, authority_id: uuid.UUID = AUTHORITY_ID) -> None:
    """The Cerema file imported as an authority would (rows without geometry become orders)."""
    batch = import_cerema(path.read_bytes())

    async def work(session):
        await apply_zone_records(session, authority_id=authority_id, records=batch, clock=world.clock,
                                 actor_id=USER_IDS["admin"], source="cerema")

    run(world, work)


def orders(world, **where) -> list[TrafficOrder]:
    async def work(session):
        query = select(TrafficOrder).order_by(col(TrafficOrder.source_id))
        for name, value in where.items():
            query = query.where(getattr(TrafficOrder, name) == value)
        return list((await session.exec(query)).all())

    return run(world, work)


def order_named(world, name: str) -> TrafficOrder:
    [order] = [o for o in orders(world) if o.name == name]
    return order


def zone_coded(world, code: str) -> Zone | None:
    async def work(session):
        return (await session.exec(select(Zone).where(col(Zone.code) == code))).one_or_none()

    return run(world, work)


@pytest.fixture
def carros(web_world):
    if not CARROS.exists():
        pytest.skip(f"shared data missing: {CARROS}")
    import_orders(web_world)
    return web_world


def test_the_file_leaves_every_row_as_an_order_to_locate(carros) -> None:
    kept = orders(carros)
    assert len(kept) == 13 and {o.status for o in kept} == {"to_locate"}
    assert {o.insee for o in kept} == {"06033"}

    async def count(session):
        return await orders_to_locate(session, AUTHORITY_ID)

    assert run(carros, count) == 13


def test_the_zones_page_links_the_orders_and_their_page_lists_them_in_french(carros, client) -> None:
    login(client, "admin")
    zones = text_of(client.get("/autorite/zones").text)
    assert "13 arrêtés à localiser" in zones
    assert 'href="/autorite/arretes"' in client.get("/autorite/zones").text
    page = text_of(client.get("/autorite/arretes").text)
    assert page.count("Localiser sur la carte") == 13
    for expected in ("Chemin des Baraques", "code INSEE 06033", "Commune de Carros", "du 11/04/2018",
                     "n° non communiqué", "Interdit aux poids lourds", "19 t", "sauf Services publics",
                     "Horaires en permanence"):
        assert expected in page, expected
    assert "forbid" not in page and "to_locate" not in page and "NC," not in page


def test_hours_of_an_order_are_french_or_quoted_when_the_windows_cannot_say_them(web_world, client) -> None:
    if not VALID.exists():
        pytest.skip(f"shared data missing: {VALID}")
    import_orders(web_world, VALID)
    login(client, "admin")
    page = text_of(client.get("/autorite/arretes").text)
    assert "Avenue Philippe Solari" in page and "Horaires en permanence" in page  # "24/7"
    assert "jusqu'à 9 t" in page and "longueur 15 m" in page and "n° 124/6" in page and "du 14/03/2021" in page
    # The other row has its geometry: a zone at once, whose hours the windows cannot say.
    assert "Docteur Yves Bourde" not in page
    zones = text_of(client.get("/autorite/zones").text)
    assert "horaires particuliers : « Mo-Sa 11:00-06:00; Su,PH 10:00-06:00 »" in zones


def test_drawing_the_place_turns_the_order_into_a_zone_with_its_rule(carros, client) -> None:
    order = order_named(carros, "Chemin des Baraques")
    login(client, "admin")
    page = client.get(f"/autorite/arretes/{order.id}")
    assert page.status_code == 200 and 'data-mode="draw"' in page.text
    response = post_form(client, f"/autorite/arretes/{order.id}", {"geojson": json.dumps(STREET)},
                         follow_redirects=False)
    assert response.status_code == 303, response.text
    zone = zone_coded(carros, order.code)
    assert zone is not None and response.headers["location"] == f"/autorite/zones/{zone.id}?ok=order_located"
    assert (zone.authority_id, zone.status, zone.geometry) == (AUTHORITY_ID, "active", STREET)
    assert zone.name == "Chemin des Baraques" and zone.source == "cerema"

    async def zone_rules(session):
        return list((await session.exec(select(AccessRule).where(col(AccessRule.zone_id) == zone.id))).all())

    [rule] = run(carros, zone_rules)
    assert rule.source == "cerema" and rule.source_id == order.source_id
    located = order_named(carros, "Chemin des Baraques")
    assert (located.status, located.zone_id) == ("located", zone.id)

    async def audit(session):
        return list((await session.exec(select(AuditRecord).where(col(AuditRecord.entity) == "traffic_order",
                                                                  col(AuditRecord.action) == "locate"))).all())

    [record] = run(carros, audit)
    assert record.entity_id == str(order.id) and record.actor_id == USER_IDS["admin"]
    assert record.before == {"status": "to_locate"} and record.after["zone_code"] == order.code
    zone_page = text_of(client.get(response.headers["location"]).text)
    assert "Arrêté localisé" in zone_page and "arrêtés de circulation des marchandises (Cerema)" in zone_page
    # No longer to locate; listed as located, with its zone; a second attempt is refused.
    listing = text_of(client.get("/autorite/arretes").text)
    assert listing.count("Localiser sur la carte") == 12 and "Arrêtés localisés" in listing
    assert "12 arrêtés à localiser" in text_of(client.get("/autorite/zones").text)
    again = post_form(client, f"/autorite/arretes/{order.id}", {"geojson": json.dumps(STREET)})
    assert again.status_code == 422 and "déjà localisé" in text_of(again.text)
    assert order.code in text_of(client.get(f"/autorite/arretes/{order.id}").text)


def test_uploading_a_geojson_file_works_too(carros, client) -> None:
    order = order_named(carros, "Chemin de Bonvillars")
    login(client, "admin")
    feature = {"type": "Feature", "properties": {}, "geometry": STREET}
    response = client.post(f"/autorite/arretes/{order.id}", data={"_csrf_token": client.cookies["cirqliz_csrf"]},
                           files={"geometry_file": ("voie.geojson", json.dumps(feature).encode(), "application/json")},
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    assert order_named(carros, "Chemin de Bonvillars").status == "located"


@pytest.mark.parametrize(("geojson", "message"), [
    (json.dumps(BOWTIE), "le contour se recoupe"),
    ("", "géométrie manquante"),
    (json.dumps({"type": "Point", "coordinates": [7.18, 43.78]}), "un polygone ou un multipolygone est attendu"),
])
def test_a_refused_geometry_leaves_the_order_to_locate(carros, client, geojson, message) -> None:
    order = order_named(carros, "Chemin des Baraques")
    login(client, "admin")
    response = post_form(client, f"/autorite/arretes/{order.id}", {"geojson": geojson})
    assert response.status_code == 422
    assert message in text_of(response.text)
    assert order_named(carros, "Chemin des Baraques").status == "to_locate"
    assert zone_coded(carros, order.code) is None


def test_another_authoritys_order_reads_as_missing(carros) -> None:
    two = add_second_authority(carros)
    order = order_named(carros, "Chemin des Baraques")
    with TestClient(carros.app) as client:
        sign_in(client, two.b, "admin")
        assert client.get(f"/autorite/arretes/{order.id}").status_code == 404
        assert post_form(client, f"/autorite/arretes/{order.id}", {"geojson": json.dumps(STREET)}).status_code == 404
        assert "Chemin des Baraques" not in client.get("/autorite/arretes").text
    assert order_named(carros, "Chemin des Baraques").status == "to_locate"

    async def from_b(session):
        await locate_order(session, authority_id=B_AUTHORITY_ID, order_id=order.id, geometry=STREET,
                           clock=carros.clock)

    with pytest.raises(NotFound):
        run(carros, from_b)
    assert order_named(carros, "Chemin des Baraques").status == "to_locate"


def test_locating_twice_is_refused_by_the_service(carros) -> None:
    order = order_named(carros, "Chemin des Baraques")

    async def locate(session):
        return (await locate_order(session, authority_id=AUTHORITY_ID, order_id=order.id, geometry=STREET,
                                   clock=carros.clock)).code

    assert run(carros, locate) == order.code
    with pytest.raises(DomainError) as caught:
        run(carros, locate)
    assert "déjà localisé" in caught.value.message
