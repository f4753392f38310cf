"""Alembic migrations (dated file names), shipped inside the package."""
