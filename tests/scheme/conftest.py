"""Fixtures of the pass-scheme tests: shared test data, fixed keys and a fixed clock."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, or a skip with the reason (a failure when CIRQLIZ_REQUIRE_SHARED=1, as in CI)."""
    if not SHARED.is_dir():
        if os.environ.get("CIRQLIZ_REQUIRE_SHARED") == "1":
            pytest.fail(f"{SHARED} is missing and CIRQLIZ_REQUIRE_SHARED=1")
        pytest.skip(f"{SHARED} is absent: the third-party test files live beside the clone")
    return SHARED
