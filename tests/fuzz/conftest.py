"""Fixtures of the fuzz tests: the repository root on sys.path (fuzz/ is not an installed package)
and the shared example files, required in CI."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# This folder has no __init__.py on purpose (like tests/bench): the package `fuzz` is the one at the
# repository root.
REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_files() -> Path:
    """../shared/data, or a skip (a failure with CIRQLIZ_REQUIRE_SHARED=1, as in CI)."""
    if not SHARED_DATA.is_dir():
        reason = f"{SHARED_DATA} is absent: the importer seeds are the published example files"
        if os.environ.get("CIRQLIZ_REQUIRE_SHARED") == "1":
            pytest.fail(f"{reason} (CIRQLIZ_REQUIRE_SHARED=1)")
        pytest.skip(reason)
    return SHARED_DATA
