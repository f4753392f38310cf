"""Routes of the professional area (to be written)."""

from __future__ import annotations

ROUTES: list = []
