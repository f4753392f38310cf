"""Request dependencies: one database transaction per request, the clock, the current user."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from litestar.datastructures import State
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.clock import Clock


async def provide_db(state: State) -> AsyncGenerator[AsyncSession, None]:
    """A session inside one transaction: committed when the handler returns, rolled back if it
    raises, in both cases before the response is sent."""
    async with state.session_maker() as session, session.begin():
        yield session


def provide_clock(state: State) -> Clock:
    """The application's clock (a FixedClock in tests)."""
    return state.clock
