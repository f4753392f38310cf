"""Build hook: the wheel carries the front-end files that /vendor serves (issue 15).

Leaflet, zxing-wasm and Swagger UI come from npm (`npm ci` fills node_modules, which is never
committed). Building a wheel copies exactly the files listed in cirqliz/web/vendor_files.py from
node_modules into cirqliz/web/vendor/ of the build; an sdist carries the same copy, so a wheel built
from it (where there is no node_modules) has them too. Without them the build stops and says to run
`npm ci`. An editable install (`pip install -e .`, used by ./dev) copies nothing: the application
then serves the checkout's node_modules.
Everything else is in pyproject.toml.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist
from setuptools.errors import FileError

ROOT = Path(__file__).resolve().parent
PACKAGED = Path("cirqliz", "web", "vendor")  # relative to the root of a source tree or a build


def _vendor_module() -> ModuleType:
    # Loaded by its path: importing the cirqliz package would need its dependencies, absent from an
    # isolated build environment.
    spec = importlib.util.spec_from_file_location("_cirqliz_vendor_files", ROOT / "cirqliz/web/vendor_files.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _vendor_source() -> Path:
    """node_modules of a checkout, or the copy an unpacked sdist carries; stops the build without them."""
    vendor = _vendor_module()
    candidates = [ROOT / "node_modules", ROOT / PACKAGED]
    for folder in candidates:
        if folder.is_dir() and not vendor.missing_vendor_entries(folder):
            return folder
    missing = vendor.missing_vendor_entries(ROOT / "node_modules")
    raise FileError(
        "Fichiers front-end introuvables dans node_modules (Leaflet, zxing-wasm, Swagger UI) : "
        f"{', '.join(missing)}. Lancez d'abord `npm ci` à la racine du dépôt, puis relancez la "
        "construction (`pip install .` ou `pip wheel .`)."
    )


def copy_vendor(target: Path) -> list[str]:
    """Copy the served front-end files and their packages' licences into `target`; their names."""
    vendor = _vendor_module()
    source = _vendor_source()
    names = vendor.vendor_files(source) + vendor.licence_files(source)
    if target.exists():
        shutil.rmtree(target)  # a stale file from an earlier build must not ship
    for name in names:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / name, target / name)
    return names


class BuildPyWithVendor(build_py):
    """build_py, plus the front-end files in cirqliz/web/vendor of the build (not in an editable install)."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        names = copy_vendor(Path(self.build_lib) / PACKAGED)
        print(f"cirqliz: {len(names)} fichiers front-end copiés dans {PACKAGED}")


class SdistWithVendor(sdist):
    """sdist, plus the same front-end files, so that a wheel built from it needs no node_modules."""

    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        super().make_release_tree(base_dir, files)
        copy_vendor(Path(base_dir) / PACKAGED)


setup(cmdclass={"build_py": BuildPyWithVendor, "sdist": SdistWithVendor})
