"""Issue 19, the pass in the phone's wallet from the professional area: the Apple Wallet .pkpass and the
Google Wallet link, scoped to the holder's company, offered only when the deployer configured them, and
marked voided / expired when the holder downloads a pass agents refuse again."""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from litestar.testing import TestClient
from wallet_keys import ISSUER_ID, make_wallet_credentials

from .conftest import login
from .test_pro_journey_passes import _as, _authority_action, _issued
from .test_professional import visible

GOOGLE_SAVE = "https://pay.google.com/gp/v/save/"


@pytest.fixture
def wallet_world(web_world):
    """The demo world served with self-made Apple and Google wallet credentials under its keys folder."""
    keys = Path(web_world.settings.keys_dir)
    return web_world.with_settings(dataclasses.replace(web_world.settings, base_url="https://cirqliz.ville.fr",
                                                       **make_wallet_credentials(keys)))


@pytest.fixture
def wallet_client(wallet_world):
    with TestClient(wallet_world.app) as test_client:
        yield test_client


def _pass_json(response) -> dict:
    assert response.status_code == 200, visible(response.text)
    assert response.headers["content-type"] == "application/vnd.apple.pkpass"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert {"pass.json", "manifest.json", "signature", "icon.png", "logo.png"} <= set(archive.namelist())
        return json.loads(archive.read("pass.json"))


def _google_object(response) -> dict:
    assert response.status_code == 303, visible(response.text)
    token = response.headers["location"].removeprefix(GOOGLE_SAVE)
    assert token != response.headers["location"]
    claims = token.split(".")[1]
    payload = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    assert payload["origins"] == ["https://cirqliz.ville.fr"]
    [item] = payload["payload"]["genericObjects"]
    return item


def _fields(document: dict) -> dict[str, str]:
    return {f["key"]: f["value"] for group in document["generic"].values() for f in group}


def test_the_pass_page_offers_both_wallets_and_they_carry_the_pass(wallet_client, wallet_world) -> None:
    issued = _issued(wallet_client, wallet_world)
    _as(wallet_client, "pro")
    page = wallet_client.get(f"/pro/laissez-passer/{issued.id}")
    text = visible(page.text)
    assert "Ajouter à Apple Wallet" in text and "Ajouter à Google Wallet" in text
    assert f"/pro/laissez-passer/{issued.id}/wallet.pkpass" in page.text
    phone = wallet_client.get(f"/pro/laissez-passer/{issued.id}/telephone")
    assert f"/pro/laissez-passer/{issued.id}/google-wallet" in phone.text

    document = _pass_json(wallet_client.get(f"/pro/laissez-passer/{issued.id}/wallet.pkpass"))
    assert document["voided"] is False and document["serialNumber"] == issued.serial
    assert document["barcodes"][0]["message"] == issued.signed_text
    fields = _fields(document)
    assert fields["immatriculation"] == "AB-123-CD" and fields["etat"] == "Valide"
    assert "inclus" in fields["validite"] and fields["zones"]

    item = _google_object(wallet_client.get(f"/pro/laissez-passer/{issued.id}/google-wallet",
                                            follow_redirects=False))
    assert item["id"] == f"{ISSUER_ID}.{issued.serial}" and item["state"] == "ACTIVE"
    assert item["barcode"]["value"] == issued.signed_text


def test_another_company_gets_404_for_both_wallets(wallet_client, wallet_world) -> None:
    issued = _issued(wallet_client, wallet_world)
    _as(wallet_client, "other_pro")
    for route in ("wallet.pkpass", "google-wallet"):
        response = wallet_client.get(f"/pro/laissez-passer/{issued.id}/{route}", follow_redirects=False)
        assert response.status_code == 404, route
        assert issued.serial not in response.text


def test_not_configured_means_no_button_and_404(client, web_world) -> None:
    issued = _issued(client, web_world)
    login(client, "pro")
    page = visible(client.get(f"/pro/laissez-passer/{issued.id}").text)
    assert "Wallet" not in page and "Portefeuille du téléphone" not in page
    assert "Wallet" not in client.get(f"/pro/laissez-passer/{issued.id}/telephone").text
    for route in ("wallet.pkpass", "google-wallet"):
        response = client.get(f"/pro/laissez-passer/{issued.id}/{route}", follow_redirects=False)
        assert response.status_code == 404, route


def test_a_revoked_pass_downloaded_again_is_voided_and_inactive(wallet_client, wallet_world) -> None:
    issued = _issued(wallet_client, wallet_world)
    _authority_action(wallet_client, issued.id, "revoquer", "Véhicule déclaré volé.")
    _as(wallet_client, "pro")
    page = visible(wallet_client.get(f"/pro/laissez-passer/{issued.id}").text)
    assert "ajoutez-le de nouveau : il y sera marqué comme refusé" in page

    document = _pass_json(wallet_client.get(f"/pro/laissez-passer/{issued.id}/wallet.pkpass"))
    assert document["voided"] is True and "barcodes" not in document
    assert _fields(document)["etat"] == "Révoqué"
    item = _google_object(wallet_client.get(f"/pro/laissez-passer/{issued.id}/google-wallet",
                                            follow_redirects=False))
    assert item["state"] == "INACTIVE" and "barcode" not in item


def test_an_expired_pass_downloaded_again_is_marked_expired(wallet_client, wallet_world) -> None:
    issued = _issued(wallet_client, wallet_world)
    wallet_world.clock.advance(timedelta(days=40))  # past its end, still "active" in the database
    _as(wallet_client, "pro")
    document = _pass_json(wallet_client.get(f"/pro/laissez-passer/{issued.id}/wallet.pkpass"))
    assert document["voided"] is True and _fields(document)["etat"] == "Expiré"
    item = _google_object(wallet_client.get(f"/pro/laissez-passer/{issued.id}/google-wallet",
                                            follow_redirects=False))
    assert item["state"] == "EXPIRED"


def test_broken_credentials_give_a_french_503_not_a_500(wallet_client, wallet_world) -> None:
    issued = _issued(wallet_client, wallet_world)
    (Path(wallet_world.settings.keys_dir) / wallet_world.settings.wallet_apple_key).chmod(0o644)
    _as(wallet_client, "pro")
    response = wallet_client.get(f"/pro/laissez-passer/{issued.id}/wallet.pkpass")
    assert response.status_code == 503
    assert "indisponible" in visible(response.text) and "chmod" not in response.text


def test_private_keys_are_never_served(wallet_client, wallet_world) -> None:
    login(wallet_client, "pro")
    for path in ("/keys/wallet/pass.key", "/static/../keys/wallet/pass.key", "/wallet/google.json"):
        response = wallet_client.get(path)
        assert response.status_code in (400, 404), path
        assert b"PRIVATE KEY" not in response.content
