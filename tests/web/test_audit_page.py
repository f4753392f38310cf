"""The authority's journal page shows the state of the audit hash chain (ADR 0006)."""

from __future__ import annotations

import html
import sqlite3
from pathlib import Path

from .conftest import login, text_of


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
