"""`cirqliz opendata fetch|status`: install the published reference files, say which validation is active."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from cirqliz.opendata.fetch import OpenDataError, fetch, from_folder, from_web
from cirqliz.opendata.files import PUBLISHED_FILES, opendata_status


def add_commands(sub: argparse._SubParsersAction) -> None:
    """The `opendata` sub-command and its actions (help texts in French, like every message)."""
    about = "schémas publiés (ZFE, Cerema, DATEX II) qui valident les données ouvertes"
    opendata = sub.add_parser("opendata", help=about, description=f"{about[0].upper()}{about[1:]}.")
    actions = opendata.add_subparsers(dest="action", required=True, metavar="{fetch,status}")
    about = "installer les schémas publiés, chacun vérifié par son empreinte SHA-256"
    get = actions.add_parser("fetch", help=about, description=f"{about[0].upper()}{about[1:]}.")
    get.add_argument("--dir", metavar="DOSSIER",
                     help="dossier d'installation (par défaut : $CIRQLIZ_OPEN_DATA_DIR, sinon var/opendata)")
    origin = get.add_mutually_exclusive_group()
    origin.add_argument("--from", dest="source", metavar="DOSSIER",
                        help="installer depuis une copie locale organisée comme le dossier (hors ligne)")
    origin.add_argument("--base-url", metavar="URL",
                        help="télécharger <URL>/<chemin> au lieu des adresses publiées (miroir)")
    about = "dire, pour chaque format, quelle validation est active et où sont les fichiers"
    status = actions.add_parser("status", help=about, description=f"{about[0].upper()}{about[1:]}.")
    status.add_argument("--dir", metavar="DOSSIER",
                        help="dossier à examiner (par défaut : celui des imports et exports)")
    status.add_argument("--json", action="store_true", help="afficher l'état en JSON")


def run(args: argparse.Namespace) -> int:
    """Run `cirqliz opendata ACTION`; 0 on success, 1 when a file is refused or cannot be obtained."""
    if args.action == "status":
        return _status(args)
    return _fetch(args)


def _install_dir(args: argparse.Namespace) -> Path:
    if args.dir:
        return Path(args.dir)
    from cirqliz.imports.common import DEFAULT_OPEN_DATA_DIR, OPEN_DATA_DIR_ENV

    return Path(os.environ.get(OPEN_DATA_DIR_ENV) or DEFAULT_OPEN_DATA_DIR)


def _fetch(args: argparse.Namespace) -> int:
    destination = _install_dir(args)
    reader = from_folder(Path(args.source)) if args.source else from_web(args.base_url)
    try:
        done = fetch(destination, reader, PUBLISHED_FILES)
    except OpenDataError as exc:
        print(f"cirqliz: {exc.message}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"cirqliz: écriture impossible dans {destination} ({exc.strerror or 'erreur'}) : "
              "rien n'est garanti d'être complet, relancer la commande", file=sys.stderr)
        return 1
    for item in done:
        print(f"{item.action:<12} {item.path}")
    print(f"{len(done)} fichier(s) publiés vérifiés (SHA-256) dans {destination}")
    from cirqliz.imports.common import open_data_dir

    if open_data_dir().resolve() != destination.resolve():
        print(f"les imports et exports lisent {open_data_dir()} : pour qu'ils utilisent ces fichiers, "
              f"CIRQLIZ_OPEN_DATA_DIR={destination}")
    return 0


def _status(args: argparse.Namespace) -> int:
    status = opendata_status(args.dir)
    if args.json:
        print(json.dumps({"folder": str(status.folder), "formats": {
            s.format: {"validation": s.validation, "missing": list(s.missing), "modified": list(s.modified)}
            for s in status.formats}}, ensure_ascii=False, indent=2))
        return 0
    for line in status.lines_fr():
        print(line)
    return 0
