"""Fixtures of the integration tests (the shared ones are in tests/conftest.py)."""

from deployment import install  # noqa: F401  (the operator's deployment: tests/integration/deployment.py)
