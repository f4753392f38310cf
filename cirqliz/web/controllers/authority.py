"""Routes of the authority area (to be written)."""

from __future__ import annotations

ROUTES: list = []
