"""Alembic: upgrade head, downgrade base, upgrade head, then no difference with the models."""

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from cirqliz.db import models  # noqa: F401  (registers the tables)
from cirqliz.db.base import metadata
from cirqliz.db.engine import create_engine
from cirqliz.db.migrate import downgrade, upgrade
from cirqliz.settings import Settings


async def _inspect(url: str, what):
    engine = create_engine(Settings(database_url=url))
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(what)
    finally:
        await engine.dispose()


def _diff(connection):
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True})
    return compare_metadata(context, metadata)


def _tables(connection):
    return set(inspect(connection).get_table_names())


def _check_names(connection):
    found = set()
    for table in inspect(connection).get_table_names():
        found |= {c["name"] for c in inspect(connection).get_check_constraints(table)}
    return found


async def test_upgrade_downgrade_upgrade_and_models_match(empty_database_url):
    url = empty_database_url
    expected = set(metadata.tables)
    # Alembic's env.py runs its own event loop: run it in a worker thread.
    await asyncio.to_thread(upgrade, url)
    assert expected <= await _inspect(url, _tables)
    await asyncio.to_thread(downgrade, url, "base")
    assert await _inspect(url, _tables) <= {"alembic_version"}
    await asyncio.to_thread(upgrade, url)
    assert expected <= await _inspect(url, _tables)
    assert await _inspect(url, _diff) == []


async def test_check_constraints_have_the_same_names_on_both_databases(database_url):
    names = await _inspect(database_url, _check_names)
    expected = {
        "ck_application_status", "ck_access_pass_status", "ck_zone_kind", "ck_zone_status",
        "ck_vehicle_category", "ck_vehicle_crit_air_range", "ck_membership_role",
        "ck_access_rule_review_mode", "ck_organisation_kind", "ck_exemption_kind",
        "ck_supporting_document_content_type", "ck_zone_temporary_has_dates",
    }
    assert expected <= names
