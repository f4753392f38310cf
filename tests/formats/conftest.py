"""Fixtures of the format adapter tests: the shared third-party files and this folder's fixtures.

`shared_data` (tests/conftest.py) is ../shared/data beside the clone. When it is absent the tests
that need it skip with the reason, unless CIRQLIZ_REQUIRE_SHARED=1 (CI), where they fail instead.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def xsd_dir(shared_data: Path) -> Path:
    """The DATEX II v3 XSDs (DiaLog flavour)."""
    return shared_data / "dialog-datex2"


@pytest.fixture
def fixtures_dir() -> Path:
    """This folder, where the .ics fixtures are."""
    return HERE
