"""Routes of the api area (to be written)."""

from __future__ import annotations

ROUTES: list = []
