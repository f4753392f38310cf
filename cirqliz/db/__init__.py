"""Persistence: SQLModel tables, engine and session factory, Alembic migrations."""
