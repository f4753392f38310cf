"""Layering: the pass scheme, the verifier and the domain never pull in the web or the database.

An agent's offline verifier (and the browser twin's reference) must run without litestar,
sqlmodel or sqlalchemy. Checked twice: dynamically (a fresh interpreter imports every module
and looks at sys.modules) and statically (ast over the source files).
"""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import cirqliz

PURE_PACKAGES = ("cirqliz.passcode", "cirqliz.verify", "cirqliz.domain")
FORBIDDEN = ("litestar", "sqlmodel", "sqlalchemy")
PACKAGE_ROOT = Path(cirqliz.__file__).resolve().parent


def pure_modules() -> list[str]:
    names = []
    for package in PURE_PACKAGES:
        names.append(package)
        path = PACKAGE_ROOT / package.split(".", 1)[1]
        names += [f"{package}.{m.name}" for m in pkgutil.iter_modules([str(path)])]
    return sorted(names)


def pure_files() -> list[Path]:
    return sorted(p for package in PURE_PACKAGES for p in (PACKAGE_ROOT / package.split(".", 1)[1]).rglob("*.py"))


def test_the_pure_packages_have_modules() -> None:
    modules = pure_modules()
    for expected in ("cirqliz.passcode.bundle", "cirqliz.passcode.token", "cirqliz.verify.core",
                     "cirqliz.verify.cli", "cirqliz.domain.windows", "cirqliz.domain.plates"):
        assert expected in modules


def test_importing_the_pure_packages_loads_no_web_or_database_library() -> None:
    code = (
        "import importlib, json, sys\n"
        f"for name in {pure_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    offending = [m for m in loaded if m.split(".")[0] in FORBIDDEN]
    assert not offending, offending
    assert "cirqliz.verify.core" in loaded and "cirqliz.domain.windows" in loaded


def test_the_check_would_notice_a_forbidden_import() -> None:
    """The subprocess check is not vacuous: sqlalchemy is installed and shows up when imported."""
    result = subprocess.run(
        [sys.executable, "-c", "import sys, sqlalchemy; print('sqlalchemy' in sys.modules)"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.stdout.strip() == "True"


def _imported_roots(tree: ast.AST) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            roots.add(node.args[0].value.split(".")[0])
    return roots


@pytest.mark.parametrize("path", pure_files(), ids=lambda p: str(p.relative_to(PACKAGE_ROOT)))
def test_no_source_file_imports_web_or_database_libraries(path: Path) -> None:
    roots = _imported_roots(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    assert not roots & set(FORBIDDEN), sorted(roots & set(FORBIDDEN))


def test_static_check_sees_imports() -> None:
    sample = (
        "import sqlalchemy.orm\nfrom litestar import Litestar\n"
        "import importlib\nimportlib.import_module('sqlmodel')\n"
    )
    assert _imported_roots(ast.parse(sample)) >= {"sqlalchemy", "litestar", "sqlmodel"}
