"""ASGI entry point for servers: `uvicorn --factory cirqliz.web.asgi:create` (settings from the environment)."""

from __future__ import annotations

from litestar import Litestar

from cirqliz.settings import Settings
from cirqliz.web.app import create_app


def create() -> Litestar:
    """The application configured from CIRQLIZ_* environment variables."""
    return create_app(Settings.from_env())
