"""Issue 14, item 9: supporting documents are capped per application (count) and per organisation
(stored bytes, a file the organisation already stored counting once), with a French message that
says the cap and what to do; nothing of a refused upload is recorded."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cirqliz.db.models import Application, SupportingDocument

from .conftest import WebWorld, login, post_form
from .test_professional import apply, count, new_application, visible

PER_APPLICATION = 3
ORGANISATION_BYTES = 2500


@pytest.fixture(name="web_world")
def capped_web_world(web_world: WebWorld) -> WebWorld:
    """The demo world with small document caps."""
    settings = replace(web_world.settings, documents_max_per_application=PER_APPLICATION,
                       documents_max_bytes_per_organisation=ORGANISATION_BYTES)
    return web_world.with_settings(settings)


def pdf(tag: str, size: int = 100) -> tuple[str, bytes, str]:
    head = f"%PDF-1.4\n%{tag}\n".encode()
    return (f"{tag}.pdf", head + b"0" * (size - len(head)), "application/pdf")


def upload(client, app_id, *files):
    return post_form(client, f"/pro/demandes/{app_id}/justificatifs",
                     files=[("documents", f) for f in files], follow_redirects=False)


def test_documents_per_application_are_capped(client, web_world) -> None:
    login(client, "pro")
    app_id = new_application(client)
    assert upload(client, app_id, pdf("a"), pdf("b")).status_code == 303
    assert upload(client, app_id, pdf("c")).status_code == 303
    refused = upload(client, app_id, pdf("d"))
    assert refused.status_code == 422
    assert ("cette demande a déjà 3 justificatif(s), le maximum est 3 par demande : regroupez plusieurs "
            "pièces dans un seul PDF") in visible(refused.text)
    assert count(web_world, SupportingDocument) == PER_APPLICATION


def test_a_batch_over_the_cap_stores_nothing(client, web_world) -> None:
    login(client, "pro")
    app_id = new_application(client)
    assert upload(client, app_id, pdf("a")).status_code == 303
    refused = upload(client, app_id, pdf("b"), pdf("c"), pdf("d"))  # the third one is one too many
    assert refused.status_code == 422 and "le maximum est 3 par demande" in visible(refused.text)
    assert count(web_world, SupportingDocument) == 1


def test_stored_bytes_per_organisation_are_capped_and_a_known_file_counts_once(client, web_world) -> None:
    login(client, "pro")
    first, second = new_application(client), new_application(client)
    assert upload(client, first, pdf("a", 1000)).status_code == 303
    assert upload(client, second, pdf("a", 1000)).status_code == 303  # the same file: no new bytes
    assert upload(client, second, pdf("b", 1000)).status_code == 303  # 2000 of 2500 bytes
    refused = upload(client, second, pdf("c", 1000))
    assert refused.status_code == 422
    text = visible(refused.text)
    assert ("espace des justificatifs de votre organisation plein : 2000 octets utilisés sur 2500 octets, "
            "ce fichier en demande 1000") in text
    assert "réduisez sa taille" in text and "demandez à l'autorité de relever la limite" in text
    assert count(web_world, SupportingDocument) == 3
    assert upload(client, first, pdf("b", 1000)).status_code == 303  # already stored by the organisation


def test_new_application_with_documents_over_the_cap_creates_nothing(client, web_world) -> None:
    login(client, "pro")
    before = count(web_world, Application)
    response = apply(client, files=[("documents", pdf(tag, 1000)) for tag in "abc"])
    assert response.status_code == 422
    assert "espace des justificatifs de votre organisation plein" in visible(response.text)
    assert count(web_world, Application) == before and count(web_world, SupportingDocument) == 0
