"""The fuzz tests import the package `fuzz` at the repository root (not an installed package)."""

from __future__ import annotations

import sys
from pathlib import Path

# This folder has no __init__.py on purpose (like tests/bench): the package `fuzz` is the one at the
# repository root.
REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
