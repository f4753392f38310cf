"""ASGI entry point for servers: `uvicorn --factory cirqliz.web.asgi:create` (settings from the environment)."""

from __future__ import annotations

from litestar import Litestar

from cirqliz.settings import PRODUCTION, Settings
from cirqliz.web.app import create_app


def create() -> Litestar:
    """The application configured from CIRQLIZ_* environment variables (production unless CIRQLIZ_ENV says
    otherwise: `cirqliz serve --demo` sets it to development)."""
    return create_app(Settings.from_env(default_env=PRODUCTION))
