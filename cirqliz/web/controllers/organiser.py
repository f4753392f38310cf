"""Routes of the organiser area (to be written)."""

from __future__ import annotations

ROUTES: list = []
