"""Routes of the accounts area (to be written)."""

from __future__ import annotations

ROUTES: list = []
