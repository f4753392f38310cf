"""Fixtures of the format adapter tests: the shared third-party files and this folder's fixtures.

`shared_data` is ../shared/data beside the clone. When it is absent the tests that need it skip
with the reason, unless CIRQLIZ_REQUIRE_SHARED=1 (CI), where they fail instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"
HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data relative to the repository root, or a skip (a failure when required)."""
    if not SHARED_DATA.is_dir():
        reason = (f"{SHARED_DATA} is absent: the third-party example files (ZFE, Cerema, DATEX II, "
                  "Préfecture de Police) live beside the clone, not in it")
        if os.environ.get("CIRQLIZ_REQUIRE_SHARED") == "1":
            pytest.fail(f"{reason} (CIRQLIZ_REQUIRE_SHARED=1)")
        pytest.skip(reason)
    return SHARED_DATA


@pytest.fixture(scope="session")
def xsd_dir(shared_data: Path) -> Path:
    """The DATEX II v3 XSDs (DiaLog flavour)."""
    return shared_data / "dialog-datex2"


@pytest.fixture
def fixtures_dir() -> Path:
    """This folder, where the .ics fixtures are."""
    return HERE
