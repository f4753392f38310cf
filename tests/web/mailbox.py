"""Helpers for the accounts, API and authorisation tests: an app whose outbox is in the test's
folder, reading the outbox, and running service code on the test database."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.db.engine import create_engine, create_session_factory
from cirqliz.issuance.api_tokens import create_api_token
from cirqliz.issuance.mail import Mailer, OutboxMessage

from .conftest import WebWorld

T = TypeVar("T")


@pytest.fixture(name="web_world")
def outbox_web_world(web_world: WebWorld) -> WebWorld:
    """The demo world, with e-mails written to <tmp>/outbox instead of var/outbox."""
    settings = replace(web_world.settings, outbox_dir=str(web_world.root / "outbox"))
    return web_world.with_settings(settings)


def outbox(world: WebWorld) -> list[OutboxMessage]:
    """Messages written so far, newest first."""
    return Mailer.for_settings(world.settings).outbox()


def mails_to(world: WebWorld, address: str) -> list[OutboxMessage]:
    """Messages for one address, newest first."""
    return [m for m in outbox(world) if address in m.to]


def link_in(body: str, path: str) -> str:
    """The local part (path) of the first link to `path` in a mail body."""
    match = re.search(rf"https?://[^/\s]+({re.escape(path)}[^\s]+)", body)
    assert match, f"no link to {path} in:\n{body}"
    return match.group(1)


def in_db(world: WebWorld, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work(session)` in one committed transaction on the world's database."""

    async def run() -> Any:
        engine = create_engine(world.settings)
        try:
            async with create_session_factory(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def api_token(world: WebWorld, organisation: Any, scopes: Any, name: str = "export") -> str:
    """A new API token of `organisation` with `scopes` (its secret text)."""

    async def work(session: AsyncSession) -> str:
        _, token = await create_api_token(session, organisation_id=organisation, name=name, scopes=scopes,
                                          created_by=None, clock=world.clock)
        return token

    return in_db(world, work)
