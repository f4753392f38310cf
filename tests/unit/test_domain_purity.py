"""The domain imports no database or web framework."""

import ast
from pathlib import Path

import cirqliz.domain

FORBIDDEN = ("sqlmodel", "sqlalchemy", "litestar", "alembic", "asyncpg", "aiosqlite", "cirqliz.db",
             "cirqliz.issuance", "cirqliz.web")


def test_domain_imports_nothing_from_persistence_or_web():
    offenders = []
    for path in Path(cirqliz.domain.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN
                          or n.startswith(FORBIDDEN)]
    assert offenders == []
