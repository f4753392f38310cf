"""Issue 17: the vehicle form makes the person choose the category and the Crit'Air class (no silent
"Non classé"), explains each category, and the fleet list and CSV import help say the same."""

from __future__ import annotations

import re
from html import unescape

from litestar.testing import TestClient
from sqlmodel import col, select

from cirqliz.db.models import Vehicle
from cirqliz.domain.vehicles import VehicleCategory

from .conftest import login, post_form
from .test_professional import VEHICLE_AB, count, run_db, visible


def _options(html: str, name: str) -> list[tuple[str, str, bool]]:
    select = re.search(rf'<select id="{name}"[^>]*>(.*?)</select>', html, re.S).group(1)
    return [(value, unescape(text).strip(), "selected" in attrs)
            for value, attrs, text in re.findall(r'<option value="([^"]*)"([^>]*)>([^<]*)</option>', select)]


def test_the_form_explains_each_category_and_defaults_to_no_choice(client: TestClient) -> None:
    login(client, "pro")
    html = client.get("/pro/vehicules/nouveau").text
    categories = _options(html, "category")
    assert categories[0][0] == "" and categories[0][2], categories[0]
    assert [text for _, text, _ in categories[1:]] == [c.explained_fr for c in VehicleCategory]
    assert "N1 — camionnette, PTAC ≤ 3,5 t" in visible(html)
    assert "règlement (UE) n° 168/2013" in visible(html)
    crit_airs = _options(html, "crit_air")
    assert crit_airs[0] == ("", "— choisir la vignette —", True)
    assert ("NC", "Non classé (trop ancien pour une vignette)", False) in crit_airs
    assert 'id="crit_air" name="crit_air" required' in html
    english = visible(client.get("/pro/vehicules/nouveau?lang=en").text)
    assert "N1 — van, GVW ≤ 3.5 t" in english and "camionnette" not in english


def test_missing_choices_get_french_errors_keep_what_was_typed_and_store_nothing(client: TestClient,
                                                                                  web_world) -> None:
    login(client, "pro")
    before = count(web_world, Vehicle)
    response = post_form(client, "/pro/vehicules/nouveau", {"plate": "XY-987-ZW", "category": "", "crit_air": "",
                                                           "energy": "diesel", "gross_weight_kg": "3400"})
    assert response.status_code == 422
    page = visible(response.text)
    assert "choisissez la catégorie du véhicule (carte grise, rubrique J)" in page
    assert "choisissez la vignette Crit'Air du véhicule, ou « non classé »" in page
    assert 'value="XY-987-ZW"' in response.text and 'value="3400"' in response.text
    assert [v for v, _, sel in _options(response.text, "energy") if sel] == ["diesel"]
    assert count(web_world, Vehicle) == before


def test_non_classe_is_chosen_explicitly_and_shown_back(client: TestClient, web_world) -> None:
    login(client, "pro")
    response = post_form(client, "/pro/vehicules/nouveau", {"plate": "XY-987-ZW", "category": "L3e",
                                                           "crit_air": "NC", "energy": "petrol"})
    assert response.status_code == 200, visible(response.text)

    async def work(session):
        return (await session.exec(select(Vehicle).where(col(Vehicle.plate) == "XY987ZW"))).one()

    row = run_db(web_world, work)
    assert row.crit_air is None and row.category == "L3e"
    listing = visible(client.get("/pro/vehicules").text)
    assert "L3e — moto à deux roues" in listing and "N1 — camionnette, PTAC ≤ 3,5 t" in listing
    edit = client.get(f"/pro/vehicules/{row.id}/modifier").text
    assert ("NC", "Non classé (trop ancien pour une vignette)", True) in _options(edit, "crit_air")
    assert any(v == "L3e" and sel for v, _, sel in _options(edit, "category"))


def test_the_edit_form_of_a_classified_vehicle_selects_its_values(client: TestClient) -> None:
    login(client, "pro")
    edit = client.get(f"/pro/vehicules/{VEHICLE_AB}/modifier").text  # N1, Crit'Air 1
    assert [v for v, _, sel in _options(edit, "category") if sel] == ["N1"]
    assert [v for v, _, sel in _options(edit, "crit_air") if sel] == ["1"]


def test_fleet_import_help_explains_categories_and_reports_missing_or_unknown_ones(client: TestClient,
                                                                                   web_world) -> None:
    login(client, "pro")
    help_page = visible(client.get("/pro/vehicules/import").text)
    assert "N3 poids lourd, PTAC > 12 t" in help_page and "L6e quadricycle léger" in help_page
    assert "rubrique J" in help_page
    before = count(web_world, Vehicle)
    csv_text = "plaque;categorie;critair\nDA-001-AA;;1\nDA-002-AA;N4;2\nDA-003-AA;n1;NC\n"
    response = post_form(client, "/pro/vehicules/import",
                         files={"fichier": ("flotte.csv", csv_text.encode(), "text/csv")})
    assert response.status_code == 422
    page = visible(response.text)
    assert "2 categorie catégorie du véhicule manquante" in page
    assert "3 categorie catégorie de véhicule inconnue : « N4 »" in page
    assert count(web_world, Vehicle) == before
