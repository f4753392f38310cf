"""The authority's journal page shows the state of the audit hash chain (ADR 0006)."""

from __future__ import annotations

import html
import sqlite3
from pathlib import Path

from .conftest import login, post_form, text_of


def test_the_journal_says_whether_the_audit_chain_is_intact(client, web_world) -> None:
    login(client, "reviewer")
    database = Path(web_world.settings.database_url.removeprefix("sqlite+aiosqlite:///"))
    with sqlite3.connect(database) as conn:
        count = conn.execute("SELECT count(*) FROM audit_record").fetchone()[0]
    assert count > 0
    page = html.unescape(text_of(client.get("/autorite/journal").text))
    assert f"Chaîne d'audit intacte ({count} enregistrements)" in page
    assert "Audit chain intact" in text_of(client.get("/autorite/journal?lang=en").text)
    with sqlite3.connect(database) as conn:
        conn.execute("UPDATE audit_record SET entity_id = 'falsifié' WHERE seq = 3")
    page = html.unescape(text_of(client.get("/autorite/journal?lang=fr").text))
    assert "Chaîne d'audit rompue au n° 3 : le contenu de l'enregistrement a été modifié" in page


def test_the_journal_speaks_the_pages_language(client, web_world) -> None:
    from .test_authority import submitted_application

    app_id = submitted_application(web_world)
    login(client, "reviewer")
    post_form(client, f"/autorite/demandes/{app_id}/refuser", {"reason": "Hors périmètre"})
    english = html.unescape(text_of(client.get("/autorite/journal?lang=en").text))
    assert "Iris Instructrice rejected: application" in english
    assert "status: submitted → rejected" in english and "reason: Hors périmètre" in english
    assert "a refusé" not in english and "statut" not in english and "déposée" not in english
    french = html.unescape(text_of(client.get("/autorite/journal?lang=fr").text))
    assert "Iris Instructrice a refusé : demande" in french and "statut : déposée → refusée" in french
    assert "rejected" not in french


def test_records_made_at_the_same_time_are_listed_latest_first(web_world) -> None:
    from cirqliz.demo.seed import AUTHORITY_ID
    from cirqliz.issuance.authority_queries import audit_page

    from .test_authority import run

    page = run(web_world, lambda session: audit_page(session, AUTHORITY_ID, limit=50))
    stamps = [(r.at, r.seq) for r in page.rows]
    assert len({at for at, _ in stamps}) < len(stamps)  # the seed writes several records at one instant
    assert stamps == sorted(stamps, reverse=True)
