"""Routes of the scanner area (to be written)."""

from __future__ import annotations

ROUTES: list = []
