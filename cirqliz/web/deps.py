"""Request dependencies: one database transaction per request, the clock, the current user."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import SkipValidation
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.clock import Clock
from cirqliz.issuance.signing import KeyStoreSigner


async def provide_db(state: State) -> AsyncGenerator[AsyncSession, None]:
    """A session inside one transaction: committed when the handler returns, rolled back if it
    raises, in both cases before the response is sent."""
    async with state.session_maker() as session, session.begin():
        yield session


def provide_clock(state: State) -> Clock:
    """The application's clock (a FixedClock in tests)."""
    return state.clock


def provide_signer(state: State) -> KeyStoreSigner:
    """The pass signer (keystores under settings.keys_dir, one per authority)."""
    return state.signer


# Handler parameter types: injected dependencies are marked explicitly (Litestar 3 style).
# They are our own objects, not request data: validating them would fail on the Clock protocol
# as soon as a handler also takes a typed body, so they skip validation.
DB = SkipValidation[NamedDependency[AsyncSession]]
ClockDep = SkipValidation[NamedDependency[Clock]]
SignerDep = SkipValidation[NamedDependency[KeyStoreSigner]]
