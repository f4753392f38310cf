"""The `cirqliz` command. Exit codes: 0 success, 1 refused or failed, 2 usage error."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from cirqliz.clock import to_epoch
from cirqliz.domain.errors import DomainError
from cirqliz.domain.plates import normalise_plate
from cirqliz.domain.purposes import Purpose
from cirqliz.domain.windows import parse_window
from cirqliz.passcode.errors import SchemeError
from cirqliz.passcode.keys import algorithm_from_name
from cirqliz.settings import SettingsError
from cirqliz.verify import cli as verify_cli


def _keys_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dir",
        "--keys-dir",
        dest="keys_dir",
        default=os.environ.get("CIRQLIZ_KEYS_DIR", "keys"),
        help="dossier des clés (par défaut : $CIRQLIZ_KEYS_DIR ou ./keys)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = FrenchArgumentParser(
        prog="cirqliz", description="CirQliz: laissez-passer signés pour zones à accès réglementé"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    keys = sub.add_parser("keys", help="clés de l'autorité").add_subparsers(dest="action", required=True)
    init = keys.add_parser("init", help="créer la clé racine et une première clé de signature")
    _keys_dir_option(init)
    init.add_argument("--issuer", default="FR-DEMO", help="nom de l'émetteur porté par les laissez-passer (court)")
    init.add_argument("--alg", default="ES256", help="ES256 (par défaut) ou Ed25519 pour la première clé de signature")
    rotate = keys.add_parser("rotate", help="ajouter une clé de signature (utilisable une fois publiée par un paquet "
                                            "de confiance)")
    _keys_dir_option(rotate)
    rotate.add_argument("--alg", default="ES256")
    rotate.add_argument("--zones", help="références des zones que cette clé peut signer, séparées par des virgules "
                                        "(par défaut : toutes)")
    listing = keys.add_parser("list", help="lister les clés et leur état")
    _keys_dir_option(listing)
    listing.add_argument("--json", action="store_true")
    withdraw = keys.add_parser("withdraw", help="retirer une clé de signature")
    _keys_dir_option(withdraw)
    withdraw.add_argument("kid")

    bundle = sub.add_parser("bundle", help="paquets de confiance").add_subparsers(dest="action", required=True)
    build = bundle.add_parser("build", help="signer le prochain paquet de confiance")
    _keys_dir_option(build)
    build.add_argument("--out", required=True, help="où écrire le paquet (.cose)")
    build.add_argument("--zones", help="fichier JSON des zones (par défaut : les zones de démonstration)")
    build.add_argument("--revoked", help="fichier des numéros révoqués, un par ligne (hexadécimal, ou ÉMETTEUR:HEX)")
    build.add_argument("--max-age", type=int, default=3 * 86400,
                       help="secondes avant que les vérificateurs le jugent périmé")
    build.add_argument("--since", type=int, help="écrire aussi un différentiel depuis ce numéro de séquence dans "
                                                 "--delta-out")
    build.add_argument("--delta-out", help="où écrire le différentiel (avec --since)")
    show = bundle.add_parser("show", help="vérifier un paquet et afficher son contenu")
    _keys_dir_option(show)
    show.add_argument("file")
    show.add_argument("--root", action="append", help="clé publique racine épinglée (PEM)")
    show.add_argument("--json", action="store_true")

    passes = sub.add_parser("pass", help="laissez-passer (outil de développement)")
    passes = passes.add_subparsers(dest="action", required=True)
    sign = passes.add_parser("sign", help="signer directement un laissez-passer et afficher son texte")
    _keys_dir_option(sign)
    sign.add_argument("--zone", action="append", required=True, help="code de zone (répétable)")
    sign.add_argument("--plate", required=True)
    sign.add_argument("--from", dest="valid_from", required=True, help="ISO 8601 avec décalage UTC")
    sign.add_argument("--to", dest="valid_to", required=True, help="ISO 8601 avec décalage UTC")
    sign.add_argument("--window", action="append", default=[], help="ex. 'Mo-Fr 07:00-11:00' (répétable)")
    sign.add_argument("--purpose", default="DELIVERY", help="motif, nom ou code (par défaut DELIVERY)")
    sign.add_argument("--png", help="écrire aussi le QR code dans ce fichier PNG")

    db = sub.add_parser("db", help="base de données").add_subparsers(dest="action", required=True)
    db.add_parser("upgrade", help="appliquer les migrations (avant de servir, une fois par déploiement)")
    db.add_parser("downgrade", help="annuler toutes les migrations (détruit les données)")
    serve = sub.add_parser("serve", help="lancer l'application web")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="processus de travail (PostgreSQL au-delà de 1)")
    serve.add_argument("--demo", action="store_true", help="migrer, créer les données et clés de démonstration, "
                                                           "afficher les comptes")

    demo = sub.add_parser("demo", help="clés, paquet et laissez-passer de démonstration, vérifiés hors ligne")
    demo.add_argument("--dir", default="var/demo", help="où garder les clés et fichiers de démonstration")

    verify = sub.add_parser("verify", help="vérifier un laissez-passer hors ligne")
    verify_cli.add_arguments(verify)
    _add_jobs_commands(sub)
    _add_data_commands(sub)  # after the jobs commands: it extends their `import` sub-command
    _add_ops_commands(sub)
    _add_opendata_commands(sub)
    _add_onboarding_commands(sub)
    return parser


def _add_opendata_commands(sub: argparse._SubParsersAction) -> None:
    """`cirqliz opendata fetch|status` (issue 15: published schemas, cirqliz/opendata/cli.py)."""
    from cirqliz.opendata import cli as opendata_cli

    opendata_cli.add_commands(sub)


def _fail(message: str, code: int = 1) -> int:
    print(f"cirqliz: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `cirqliz` console script."""
    args = build_parser().parse_args(argv)
    if args.command == "verify":
        return verify_cli.run(args)
    try:
        return _dispatch(args)
    except verify_cli.UsageError as exc:
        return _fail(str(exc), 2)
    except (SchemeError, DomainError) as exc:
        return _fail(exc.message)
    except SettingsError as exc:  # e.g. CIRQLIZ_ENV=production without CIRQLIZ_SECRET_KEY: refuse to start
        return _fail(f"configuration refusée : {exc}")


def _dispatch(args: argparse.Namespace) -> int:
    from cirqliz.issuance.keystore import KeyStore

    if args.command == "keys":
        if args.action == "init":
            store = KeyStore.init(args.keys_dir, issuer=args.issuer, alg=algorithm_from_name(args.alg))
            print(f"clés créées dans {store.path} pour l'émetteur {store.issuer}")
            print(f"clé racine        {store.root_kid}")
            print(f"clé de signature  {store.keys[0].kid} (en attente : lancez `cirqliz bundle build` pour la publier)")
            return 0
        store = KeyStore(args.keys_dir)
        if args.action == "rotate":
            try:
                zones = [int(z) for z in args.zones.split(",")] if args.zones else None
            except ValueError:
                raise verify_cli.UsageError(f"--zones : {args.zones!r} n'est pas une liste de références séparées par "
                                            f"des virgules") from None
            entry = store.rotate(algorithm_from_name(args.alg), zones)
            print(f"nouvelle clé de signature {entry.kid} ({entry.alg}), en attente du prochain paquet de confiance")
            return 0
        if args.action == "withdraw":
            entry = store.withdraw(args.kid)
            print(f"clé {entry.kid} retirée ; construisez et publiez un paquet pour que les vérificateurs refusent "
                  f"ses laissez-passer")
            return 0
        rows = store.describe()
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            from cirqliz.labels import KEY_ROLE_FR, KEY_STATUS_FR

            for row in rows:
                seq = "" if row["published_seq"] is None else f"paquet n° {row['published_seq']}"
                role = KEY_ROLE_FR.get(row["role"], row["role"])
                status = KEY_STATUS_FR.get(row["status"], row["status"])
                print(f"{row['kid']}  {role:<10} {row['alg']:<7} {status:<10} {seq}")
        return 0

    if args.command == "bundle":
        return _bundle(args)
    if args.command == "pass":
        return _sign_pass(args)
    if args.command == "demo":
        return _demo(args)
    if args.command == "opendata":
        from cirqliz.opendata import cli as opendata_cli

        return opendata_cli.run(args)
    if args.command == "db":
        return _db(args)
    if args.command == "serve":
        return _serve(args)
    if args.command == "export" or (args.command == "import" and args.format in DATA_IMPORT_FORMATS):
        return _data_command(args)
    if args.command in ("worker", "import"):
        return _jobs_command(args)
    if args.command in ("audit", "backup", "restore"):
        return _ops_command(args)
    if args.command in ONBOARDING_COMMANDS:
        return _onboarding_command(args)
    raise verify_cli.UsageError(f"commande inconnue : {args.command}")


def _bundle(args: argparse.Namespace) -> int:
    from cirqliz.issuance.keystore import KeyStore
    from cirqliz.issuance.zonefile import load_zones
    from cirqliz.passcode.bundle import open_bundle

    if args.action == "build":
        store = KeyStore(args.keys_dir)
        revoked = []
        # Checked before building: a bundle built but not written out would still take its seq.
        if not Path(args.out).resolve().parent.is_dir():
            raise verify_cli.UsageError(f"--out : le dossier de {args.out} n'existe pas")
        if args.revoked:
            try:
                lines = Path(args.revoked).read_text().splitlines()
            except OSError as exc:
                raise verify_cli.UsageError(f"--revoked : impossible de lire {args.revoked} "
                                            f"({verify_cli.os_reason(exc)})") from None
            for number, line in enumerate(lines, 1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                iss, _, serial = line.rpartition(":")
                try:
                    cti = bytes.fromhex(serial)
                except ValueError:
                    raise verify_cli.UsageError(f"{args.revoked}, ligne {number} : {serial!r} n'est pas un numéro "
                                                f"hexadécimal") from None
                if len(cti) != 8:
                    raise verify_cli.UsageError(f"{args.revoked}, ligne {number} : un numéro a 16 chiffres "
                                                f"hexadécimaux")
                revoked.append((iss or store.issuer, cti))
        if args.since is not None and not args.delta_out:
            raise verify_cli.UsageError("--since demande --delta-out FICHIER")
        data, content = store.build_bundle(zones=load_zones(args.zones), revoked=revoked, max_age=args.max_age)
        Path(args.out).write_bytes(data)
        print(
            f"paquet n° {content.seq} : {len(content.keys)} clé(s), {len(content.zones)} zone(s), "
            f"{len(content.revoked) // 8} révocation(s), {len(data)} octets -> {args.out}"
        )
        if args.since is not None:
            delta = store.delta_since(args.since)
            Path(args.delta_out).write_bytes(delta)
            print(f"différentiel {args.since} -> {content.seq} : {len(delta)} octets -> {args.delta_out}")
        return 0

    roots = verify_cli.load_root(argparse.Namespace(root=args.root, keys_dir=args.keys_dir))
    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        raise verify_cli.UsageError(f"impossible de lire {args.file} ({verify_cli.os_reason(exc)})") from None
    bundle = open_bundle(data, roots)
    c = bundle.content
    summary = {
        "iss": c.iss,
        "seq": c.seq,
        "issued_at": c.issued_at,
        "max_age": c.max_age,
        "keys": [
            {"kid": k.kid.hex(), "alg": k.alg.label, "not_before": k.not_before, "zones": k.zones} for k in c.keys
        ],
        "withdrawn": sorted(k.hex() for k in c.withdrawn),
        "revocations": bundle.revoked_count(),
        "zones": [
            {"ref": z.ref, "code": z.code, "name": z.name, "tz": z.tz, "windows": [w.describe() for w in z.windows],
             "restriction": [w.describe() for w in z.restriction]}
            for z in c.zones
        ],
        "bytes": len(data),
    }
    if args.json:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        print(f"paquet de {c.iss}, n° {c.seq}, émis à {c.issued_at}, durée de validité {c.max_age} s, {len(data)} "
              f"octets")
        for k in summary["keys"]:
            print(f"  clé {k['kid']} {k['alg']}")
        for kid in summary["withdrawn"]:
            print(f"  retirée {kid}")
        print(f"  {summary['revocations']} révocation(s)")
        for z in summary["zones"]:
            # The restriction schedule: when a pass is needed at all (ADR 0007).
            restriction = f"  réglementée : {', '.join(z['restriction'])}" if z["restriction"] else ""
            print(f"  zone {z['ref']:>3} {z['code']:<18} {z['tz']:<14} {', '.join(z['windows'])}{restriction}")
    return 0


def _sign_pass(args: argparse.Namespace) -> int:
    from cirqliz.issuance.keystore import KeyStore
    from cirqliz.passcode.claims import PassClaims
    from cirqliz.passcode.token import sign_pass

    store = KeyStore(args.keys_dir)
    published = store.latest_bundle()
    if published is None:
        raise verify_cli.UsageError("aucun paquet de confiance construit : lancez d'abord `cirqliz bundle build --out "
                                    "FICHIER`")
    refs = []
    for code in args.zone:
        zone = published.zone(code)
        if zone is None:
            known = ", ".join(sorted(published.zones_by_code))
            raise verify_cli.UsageError(f"la zone {code!r} n'est pas dans le dernier paquet (connues : {known})")
        refs.append(zone.ref)
    try:
        purpose = int(args.purpose) if args.purpose.isdigit() else Purpose[args.purpose.upper()].value
    except KeyError:
        raise verify_cli.UsageError(
            f"motif inconnu {args.purpose!r} ({', '.join(p.name for p in Purpose)})"
        ) from None
    nbf = to_epoch(verify_cli.parse_instant(args.valid_from, "--from"))
    exp = to_epoch(verify_cli.parse_instant(args.valid_to, "--to"))
    if exp <= nbf:
        raise verify_cli.UsageError("--to doit être après --from")
    key = store.signing_key(refs)
    iat = int(store.clock.now().timestamp())
    claims = PassClaims(
        iss=store.issuer,
        iat=iat,
        nbf=nbf,
        exp=exp,
        cti=secrets.token_bytes(8),
        zones=tuple(refs),
        plate=normalise_plate(args.plate),
        purpose=purpose,
        windows=tuple(parse_window(w) for w in args.window),
        zone_data_version=published.content.zone_data_version,
    )
    text = sign_pass(claims, key)
    if args.png:
        from cirqliz.issuance.qr import qr_png

        Path(args.png).write_bytes(qr_png(text))
    print(text)
    print(f"numéro {claims.serial}  clé {key.kid.hex()}  {len(text)} caractères", file=sys.stderr)
    return 0


def _db(args: argparse.Namespace) -> int:
    from cirqliz.db import migrate
    from cirqliz.settings import Settings

    settings = Settings.from_env()
    if args.action == "upgrade":
        migrate.upgrade(settings.database_url)
        print(f"base de données à jour : {settings.database_url}")
    else:
        migrate.downgrade(settings.database_url)
        print(f"toutes les migrations annulées : {settings.database_url}")
    return 0


KEEP_ALIVE_SECONDS = 75
"""Idle keep-alive connections are closed after this long. Longer than what clients and proxies keep
them (httpx 5 s, nginx upstream 60 s): with uvicorn's 5 s, a client reusing a connection at the
moment the server closes it gets a dropped request (nginx answers 502 to a POST)."""


def uvicorn_config(*, host: str, port: int, workers: int = 1) -> Any:
    """The uvicorn configuration of `cirqliz serve`. uvicorn's own proxy_headers stays off: it would
    believe X-Forwarded-For from any local process; the application reads it only from
    CIRQLIZ_TRUSTED_PROXIES (cirqliz/web/client.py)."""
    import uvicorn

    # One access line per request, the application's JSON one (with the client's address as the
    # trusted proxies give it), not uvicorn's text line as well; no `server: uvicorn` banner.
    return uvicorn.Config("cirqliz.web.asgi:create", factory=True, host=host, port=port, workers=workers,
                          log_level="info", proxy_headers=False, timeout_keep_alive=KEEP_ALIVE_SECONDS,
                          access_log=False, server_header=False)


def listening_base_url(host: str, port: int) -> str:
    """The address of `cirqliz serve --host HOST --port PORT` as a browser on this machine reaches it
    (a wildcard host is reached through the loopback address)."""
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104 (a lookup)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _serve(args: argparse.Namespace) -> int:
    import asyncio

    import uvicorn

    from cirqliz.settings import DEVELOPMENT, PRODUCTION, Settings

    # Production unless told otherwise; written to the environment so that the application built by
    # uvicorn (cirqliz.web.asgi:create, in every worker process) reads the same mode.
    os.environ["CIRQLIZ_ENV"] = os.environ.get("CIRQLIZ_ENV") or (DEVELOPMENT if args.demo else PRODUCTION)
    # Links in mails, on phones and on /pro/api use the base address: without an explicit one, the
    # address this server listens on rather than the default port, where nobody may listen.
    os.environ["CIRQLIZ_BASE_URL"] = os.environ.get("CIRQLIZ_BASE_URL") or listening_base_url(args.host, args.port)
    settings = Settings.from_env()
    if args.demo:
        from cirqliz.clock import SystemClock
        from cirqliz.db import migrate
        from cirqliz.demo.seed import DEMO_PASSWORD, USERS, seed_demo_database
        from cirqliz.web.labels import ROLE_LABELS

        migrate.upgrade(settings.database_url)
        seq = asyncio.run(seed_demo_database(settings, clock=SystemClock())).bundle_seq
        print(f"données de démonstration prêtes (paquet de confiance n° {seq}) ; chaque compte de démonstration a le "
              f"mot de passe {DEMO_PASSWORD}")
        for name, (email, _display, _org, roles) in USERS.items():
            shown = ", ".join(ROLE_LABELS[r.value] for r in roles)
            print(f"  {email:<32} {shown:<44} ({name})")
    print(f"CirQliz sur http://{args.host}:{args.port}/  (Ctrl+C pour arrêter) ; "
          f"adresse des liens : {settings.base_url}")
    config = uvicorn_config(host=args.host, port=args.port, workers=args.workers)
    if args.workers <= 1:
        uvicorn.Server(config).run()
        return 0
    import socket
    import tempfile

    from uvicorn.supervisors import Multiprocess

    # Prometheus: each worker writes its metrics under this folder and /metrics adds them up
    # (set it yourself to keep it elsewhere; it must be empty when the server starts).
    metrics_dir = None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="cirqliz-metrics-")

    # With several workers uvicorn shares one listening socket and the accepted connections lose
    # TCP_NODELAY (each keep-alive response then waits ~40 ms for a delayed ACK); on Linux accepted
    # sockets inherit the option from the listening one.
    sock = config.bind_socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        Multiprocess(config, sockets=[sock]).run()
    finally:
        if metrics_dir:
            import shutil

            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime, timedelta

    from cirqliz.issuance.keystore import KeyStore

    base = Path(args.dir)
    keys_dir = base / "keys"
    if not (keys_dir / "keyring.json").exists():
        KeyStore.init(keys_dir, issuer="FR-DEMO")
        print(f"clés de démonstration créées dans {keys_dir}")
    bundle_file, png = base / "bundle.cose", base / "pass.png"
    _bundle(
        argparse.Namespace(
            action="build",
            keys_dir=str(keys_dir),
            out=str(bundle_file),
            zones=None,
            revoked=None,
            max_age=3 * 86400,
            since=None,
            delta_out=None,
        )
    )
    start = datetime.now(UTC).replace(microsecond=0)
    end = start + timedelta(days=30)
    sign = [
        "pass",
        "sign",
        "--dir",
        str(keys_dir),
        "--zone",
        "PARIS-CENTRE",
        "--zone",
        "MARAIS-PIETON",
        "--plate",
        "AB-123-CD",
        "--from",
        start.isoformat(),
        "--to",
        end.isoformat(),
        "--window",
        "Mo-Sa 07:00-11:00",
        "--png",
        str(png),
    ]
    print(f"\n$ cirqliz {' '.join(repr(a) if ' ' in a else a for a in sign)}")
    main(sign)
    monday = (start + timedelta(days=7 - start.weekday())).date()
    at = f"{monday}T09:30:00+01:00"
    print(
        f"\n$ cirqliz verify --image {png} --bundle {bundle_file} --zone PARIS-CENTRE --keys-dir {keys_dir} --at {at}"
    )
    main(
        [
            "verify",
            "--image",
            str(png),
            "--bundle",
            str(bundle_file),
            "--zone",
            "PARIS-CENTRE",
            "--keys-dir",
            str(keys_dir),
            "--at",
            at,
        ]
    )
    print(f"\nLe QR code est dans {png}. L'application web : `./dev run` (voir README.md).")
    return 0


# ---- open data: zone import, zone and exemption exports (issue 7) ---------------------------

DATA_IMPORT_FORMATS = ("zfe", "cerema")


def _add_data_commands(sub: argparse._SubParsersAction) -> None:
    """`cirqliz import zfe|cerema FILE --authority CODE [--dry-run]` (added to the `import`
    sub-command when it exists) and `cirqliz export zones|exemptions`; database from the
    environment, like `cirqliz db`."""
    imp = sub.choices.get("import")
    if imp is None:
        imp = sub.add_parser("import", help="importer des zones dans la base")
        imp.add_argument("format", choices=DATA_IMPORT_FORMATS)
        imp.add_argument("file")
        imp.add_argument("--authority", required=True, help="code de l'autorité")
        imp.add_argument("--dry-run", action="store_true", help="montrer ce qui changerait, sans rien écrire")
    else:
        for action in imp._actions:
            if action.dest == "format" and action.choices is not None:
                action.choices = (*action.choices, *DATA_IMPORT_FORMATS)
                action.help = f"{action.help}; zfe (ZFE schema GeoJSON) or cerema (goods-traffic orders CSV)"
    imp.add_argument("--actor", help="zfe/cerema : adresse de l'administrateur de l'autorité inscrite au journal")
    imp.add_argument("--json", action="store_true", help="zfe/cerema : afficher le rapport en JSON")
    exp = sub.add_parser("export", help="exporter les zones (données ouvertes) ou les listes de "
                                        "dérogations").add_subparsers(
        dest="action", required=True)
    zones = exp.add_parser("zones", help="les zones actives de l'autorité en données ouvertes")
    zones.add_argument("--format", choices=("geojson", "datex2"), required=True,
                       help="geojson : schéma ZFE (zones à faibles émissions) ; datex2 : TrafficRegulationPublication")
    zones.add_argument("--authority", required=True, help="code de l'autorité")
    zones.add_argument("--out", help="fichier à écrire (par défaut : la sortie standard)")
    zones.add_argument("--permit-url", help="où demander une autorisation (DATEX II whereToApplyForPermit)")
    lists = exp.add_parser("exemptions", help="véhicules dérogataires et autorisés (données personnelles : export "
                                              "journalisé)")
    lists.add_argument("--authority", required=True, help="code de l'autorité")
    lists.add_argument("--zone", help="code de zone")
    lists.add_argument("--active-on", help="seulement les lignes valables ce jour (AAAA-MM-JJ, heure de Paris)")
    lists.add_argument("--category", help="type de dérogation (national, local, day_pass) ou motif du laissez-passer "
                                          "(delivery…)")
    lists.add_argument("--status", choices=("active", "upcoming", "expired"))
    lists.add_argument("--format", choices=("csv", "csv-fr", "json"), default="csv")
    lists.add_argument("--out", help="fichier à écrire (par défaut : la sortie standard)")
    lists.add_argument("--actor", required=True, help="adresse d'un administrateur ou instructeur de l'autorité")


def _data_command(args: argparse.Namespace) -> int:
    import asyncio

    from cirqliz.settings import Settings

    data = b""
    if args.command == "import":
        try:
            data = Path(args.file).read_bytes()
        except FileNotFoundError:
            raise verify_cli.UsageError(f"fichier introuvable : {args.file}") from None
        except PermissionError:
            raise verify_cli.UsageError(f"lecture refusée (droits d'accès) : {args.file}") from None
        except IsADirectoryError:
            raise verify_cli.UsageError(f"c'est un dossier, pas un fichier : {args.file}") from None
        except OSError:
            raise verify_cli.UsageError(f"fichier illisible : {args.file}") from None
    return asyncio.run(_data_async(args, Settings.from_env(), data))


async def _data_async(args: argparse.Namespace, settings: Any, data: bytes) -> int:
    from cirqliz.clock import SystemClock
    from cirqliz.db.engine import create_engine, create_session_factory, transaction

    engine = create_engine(settings)
    maker = create_session_factory(engine)
    clock = SystemClock()
    try:
        if args.command == "import":
            return await _import_zones(args, maker, clock, data)
        if args.action == "zones":
            return await _export_zones(args, maker)
        async with transaction(maker) as session:
            authority, actor_id = await _authority_and_actor(session, args, staff_only=True)
        return await _export_exemptions(args, engine, maker, clock, authority, actor_id)
    finally:
        await engine.dispose()


async def _authority_and_actor(session: Any, args: argparse.Namespace, *, staff_only: bool) -> tuple[Any, Any]:
    from sqlmodel import col, select

    from cirqliz.db.models import Membership, UserAccount
    from cirqliz.domain.organisations import Role
    from cirqliz.issuance.zone_exports import authority_by_code

    authority = await authority_by_code(session, args.authority)
    if not getattr(args, "actor", None):
        return authority, None
    user = (await session.exec(select(UserAccount).where(col(UserAccount.email) == args.actor.strip().lower()))).first()
    roles = [Role.AUTHORITY_ADMIN.value] + ([Role.REVIEWER.value] if staff_only else [])
    member = user is not None and user.is_active and (await session.exec(select(Membership).where(
        col(Membership.user_id) == user.id, col(Membership.organisation_id) == authority.id,
        col(Membership.role).in_(roles)))).first() is not None
    if not member:
        who = "administrateur ou instructeur" if staff_only else "administrateur"
        raise DomainError(f"{args.actor} n'est pas {who} de l'autorité {authority.code}", code="actor_not_allowed")
    return authority, user.id


async def _import_zones(args: argparse.Namespace, maker: Any, clock: Any, data: bytes) -> int:
    from cirqliz.db.engine import transaction
    from cirqliz.issuance.zone_imports import ZoneImportRefused, import_zone_file

    try:
        async with transaction(maker) as session:
            authority, actor_id = await _authority_and_actor(session, args, staff_only=False)
            report = await import_zone_file(session, authority_id=authority.id, data=data, fmt=args.format,
                                            clock=clock, actor_id=actor_id, dry_run=args.dry_run)
    except ZoneImportRefused as exc:
        _print_report(exc.report, args.json)
        return _fail(exc.message)
    _print_report(report, args.json)
    if not report.ok:  # a dry run that an import would refuse
        return _fail(report.refusal_message())
    return 0


def _print_report(report: Any, as_json: bool) -> None:
    """The import report in French: a summary, one line per input item, then the remarks and
    the errors that no item line already gives."""
    if as_json:
        print(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
        return
    print(report.summary_fr())
    told = set()
    for item in report.items:
        print(f"  {item.describe(preview=report.dry_run)}")
        if item.action == "skipped":
            told.add(item.index)
    for problem in report.problems:
        if problem.severity == "error" and problem.item in told:
            continue
        print(f"  {problem.describe()}")


async def _export_zones(args: argparse.Namespace, maker: Any) -> int:
    from cirqliz.db.engine import transaction
    from cirqliz.exports.datex2 import orders_of
    from cirqliz.issuance.zone_exports import authority_by_code, zones_datex2, zones_geojson

    # A zone that cannot be written refuses the whole export (ExportFileError: French, exit 1).
    async with transaction(maker) as session:
        authority = await authority_by_code(session, args.authority)
        if args.format == "geojson":
            document = await zones_geojson(session, authority)
            count = len(document["features"])
            data = json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8") + b"\n"
        else:
            data = await zones_datex2(session, authority, permit_url=args.permit_url, validate=True)
            count = len(orders_of(data))
    if not count:
        what = "zone à faibles émissions active" if args.format == "geojson" else "zone active"
        print(f"aucune {what} pour {authority.code} : document valide sans zone", file=sys.stderr)
    if args.out:
        Path(args.out).write_bytes(data)
        print(f"zones de {authority.code} ({args.format}) : {count} zone(s) écrite(s) dans {args.out} "
              f"({len(data)} octets)", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return 0


async def _export_exemptions(args: argparse.Namespace, engine: Any, maker: Any, clock: Any, authority: Any,
                             actor_id: Any) -> int:
    from cirqliz.db.engine import create_session_factory
    from cirqliz.issuance.exemptions import ExemptionFilter, stream_export

    filters = ExemptionFilter.parse(zone=args.zone, active_on=args.active_on, category=args.category,
                                    status=args.status)
    read_maker = create_session_factory(engine, read_only=True)
    out = open(args.out, "wb") if args.out else sys.stdout.buffer
    size = 0
    try:
        async for chunk in stream_export(read_maker, maker, authority_id=authority.id, filters=filters,
                                         fmt=args.format, clock=clock, actor_id=actor_id, channel="cli"):
            out.write(chunk)
            size += len(chunk)
    finally:
        if args.out:
            out.close()
        else:
            out.flush()
    if args.out:
        print(f"dérogations de {authority.code} ({args.format}) -> {args.out}, {size} octets (export journalisé)",
              file=sys.stderr)
    return 0


# ---- end of issue 7 ---------------------------------------------------------------------------




# ---- scheduled jobs and imports (issue 6) -----------------------------------------------------


def _add_jobs_commands(sub: argparse._SubParsersAction) -> None:
    worker = sub.add_parser("worker", help="lancer seules les tâches programmées (sans serveur web)")
    worker.add_argument("--once", action="store_true", help="lancer chaque tâche une fois maintenant, afficher les "
                                                            "résultats et sortir")
    imports = sub.add_parser("import", help="importer des zones temporaires ou des activations dans la base")
    imports.add_argument("format", choices=("perimeters", "datex2", "ical"),
                         help="perimeters (Préfecture de Police GeoJSON), datex2 (DiaLog) or ical (iCalendar)")
    imports.add_argument("file", help="le fichier à importer")
    imports.add_argument("--authority", required=True, help="code de l'autorité à qui appartiennent les zones")
    imports.add_argument("--dry-run", action="store_true", help="montrer ce qui changerait, sans rien changer")


def _jobs_command(args: argparse.Namespace) -> int:
    import asyncio

    from cirqliz.clock import SystemClock
    from cirqliz.db.engine import create_engine, create_session_factory
    from cirqliz.settings import DEVELOPMENT, PRODUCTION, Settings

    # The worker sends mail and publishes like the web process: the same rule, production by default.
    settings = Settings.from_env(default_env=PRODUCTION if args.command == "worker" else DEVELOPMENT)
    clock = SystemClock()

    async def with_engine(work) -> int:  # type: ignore[no-untyped-def]
        engine = create_engine(settings)
        try:
            return await work(create_session_factory(engine))
        finally:
            await engine.dispose()

    if args.command == "import":
        try:
            data = Path(args.file).read_bytes()
        except OSError:
            return _fail(f"fichier illisible ou introuvable : {args.file}")
        return asyncio.run(with_engine(lambda maker: _import(maker, args, data, clock)))
    if args.once:
        return asyncio.run(with_engine(lambda maker: _run_jobs_once(maker, settings, clock)))
    return asyncio.run(with_engine(lambda maker: _worker(maker, settings, clock)))


async def _import(maker, args: argparse.Namespace, data: bytes, clock) -> int:  # type: ignore[no-untyped-def]
    from sqlmodel import select

    from cirqliz.db.engine import transaction
    from cirqliz.db.models import Organisation
    from cirqliz.issuance.event_imports import import_file

    async with transaction(maker) as session:
        authority = (await session.exec(select(Organisation).where(Organisation.code == args.authority))).first()
        if authority is None:
            return _fail(f"autorité inconnue : {args.authority!r}")
        report = await import_file(session, fmt=args.format, data=data, authority_id=authority.id, clock=clock,
                                   dry_run=args.dry_run)
    for item in report.items:
        print(item.describe())
    for warning in report.warnings:
        print(f"avertissement : {warning}")
    print(report.summary() + (" (rien n'a été modifié)" if args.dry_run else ""))
    if report.items and len(report.skipped) == len(report.items):
        # refused, preview or not: a script must not take "nothing could be imported" for success
        return _fail("rien n'a pu être importé : tous les éléments du fichier sont ignorés (raisons ci-dessus)")
    return 0


async def _run_jobs_once(maker, settings, clock) -> int:  # type: ignore[no-untyped-def]
    from cirqliz.issuance.signing import KeyStoreSigner
    from cirqliz.jobs.jobs import jobs_for, outcome_fr, run_job

    signer = KeyStoreSigner(settings.keys_dir, clock=clock)
    failed = 0
    for job in jobs_for(settings):
        run = await run_job(maker, job, clock=clock, settings=settings, signer=signer)
        failed += run.outcome == "failed"
        print(f"{job.name:<18} {outcome_fr(run.outcome):<8} {run.rows:>6} lignes  {run.duration_ms:>6} ms  "
              f"{run.detail or ''}")
    return 1 if failed else 0


async def _worker(maker, settings, clock) -> int:  # type: ignore[no-untyped-def]
    import asyncio
    import signal

    from cirqliz.issuance.signing import KeyStoreSigner
    from cirqliz.jobs.scheduler import JobScheduler

    scheduler = JobScheduler(maker=maker, settings=settings, clock=clock,
                             signer=KeyStoreSigner(settings.keys_dir, clock=clock))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    scheduler.start()
    print(f"cirqliz worker : {len(scheduler.jobs)} tâches programmées ({', '.join(j.name for j in scheduler.jobs)}) ; "
          "Ctrl+C pour arrêter")
    try:
        await stop.wait()
    finally:
        scheduler.shutdown()
    return 0


# ---- end of scheduled jobs and imports --------------------------------------------------------


# ---- audit chain, backups and restores (issue 9) ----------------------------------------------


def _add_ops_commands(sub: argparse._SubParsersAction) -> None:
    audit = sub.add_parser("audit", help="journal d'audit").add_subparsers(dest="action", required=True)
    audit.add_parser("verify", help="vérifier la chaîne d'empreintes du journal (code 1 si rompue)")
    backup = sub.add_parser("backup", help="sauvegarder la base (copie en ligne SQLite, ou pg_dump -Fc)")
    backup.add_argument("path", help="fichier à écrire")
    backup.add_argument("--force", action="store_true", help="remplacer un fichier existant")
    restore = sub.add_parser("restore", help="restaurer une sauvegarde SQLite (vérifiée d'abord ; l'ancien fichier "
                                             "est gardé en .bak)")
    restore.add_argument("path", help="le fichier de sauvegarde")
    restore.add_argument("--force", action="store_true", help="remplacer la base existante")


def _ops_command(args: argparse.Namespace) -> int:
    import asyncio

    from cirqliz.ops import backup as ops
    from cirqliz.settings import Settings

    settings = Settings.from_env()
    if args.command == "audit":
        return asyncio.run(_audit_verify(settings))
    sqlite_file = ops.sqlite_path(settings.database_url)
    try:
        if args.command == "backup":
            dest = Path(args.path)
            if sqlite_file is None:
                size = ops.backup_postgres(settings.database_url, dest, force=args.force)
                print(f"sauvegarde PostgreSQL (pg_dump -Fc) écrite : {dest} ({ops.describe_size(size)})")
                print(f"restauration : pg_restore --clean --if-exists --no-owner -d <base> {dest}")
                return 0
            size = ops.backup_sqlite(sqlite_file, dest, force=args.force)
            summary = asyncio.run(ops.summarise(f"sqlite+aiosqlite:///{dest}"))
            print(f"sauvegarde écrite : {dest} ({ops.describe_size(size)})")
            for line in summary.lines_fr():
                print(f"  {line}")
            if not summary.chain.intact:
                return _fail("la copie a une chaîne d'audit rompue : la base d'origine l'est aussi "
                             "(cirqliz audit verify)")
            return 0
        if sqlite_file is None:
            return _fail("restauration PostgreSQL : arrêtez l'application puis lancez "
                         f"« pg_restore --clean --if-exists --no-owner -d <base> {args.path} » "
                         "(voir docs/sauvegardes.md)")
        summary, kept = ops.restore_sqlite(Path(args.path), sqlite_file, force=args.force)
    except ops.BackupError as exc:
        return _fail(exc.message)
    print(f"base restaurée : {sqlite_file}" + (f" (l'ancienne est gardée : {kept})" if kept else ""))
    for line in summary.lines_fr():
        print(f"  {line}")
    return 0


async def _audit_verify(settings: Any) -> int:
    from sqlalchemy.exc import DBAPIError

    from cirqliz.db.engine import create_engine, create_session_factory
    from cirqliz.issuance.audit import verify_chain

    engine = create_engine(settings)
    try:
        async with create_session_factory(engine, read_only=True)() as session:
            report = await verify_chain(session)
    except DBAPIError as exc:
        return _fail(f"lecture du journal impossible ({type(exc.orig).__name__}) : base absente ou non migrée "
                     "(cirqliz db upgrade)")
    finally:
        await engine.dispose()
    if not report.intact:
        return _fail(report.message_fr())
    print(report.message_fr())
    if report.head_seq is not None:
        print(f"tête : n° {report.head_seq}, empreinte {report.head_hash}")
    return 0


# ---- end of audit chain, backups and restores -------------------------------------------------


# ---- onboarding and the operator's safety nets (issue 15) --------------------------------------
# `cirqliz authority create|list`, `cirqliz user invite|disable|list`, `cirqliz doctor`. Exit codes:
# 0 done, 1 refused by what is stored (a code taken, an unknown authority or account), 2 a value typed
# wrongly (argparse refuses it with a French message).

ONBOARDING_COMMANDS = ("authority", "user", "doctor")
INVITATION_LINK_FR = "Lien d'invitation : "
"""Start of the line that shows an invitation link when no SMTP server is configured (one line, once)."""
BASE_URL_UNSET_FR = "Adresse du site non configurée (CIRQLIZ_BASE_URL) : le lien suppose {base}."
"""Said after a link minted without CIRQLIZ_BASE_URL: only `cirqliz serve` knows its own address."""


def _typed(parse: Any) -> Any:
    """An argparse `type=` from an onboarding parser: its InvalidInput becomes an argparse error (exit 2)."""

    def convert(text: str) -> Any:
        from cirqliz.issuance.onboarding import InvalidInput

        try:
            return parse(text)
        except InvalidInput as exc:
            raise argparse.ArgumentTypeError(exc.message) from None

    convert.__name__ = parse.__name__
    return convert


def _add_onboarding_commands(sub: argparse._SubParsersAction) -> None:
    from cirqliz.issuance import onboarding as ob

    authority = sub.add_parser("authority", help="autorités : créer, lister").add_subparsers(
        dest="action", required=True, metavar="{create,list,siren}")
    create = authority.add_parser(
        "create", help="créer une autorité, ses clés, son premier paquet de confiance et inviter son administrateur",
        description="Crée l'autorité (code = émetteur des laissez-passer et dossier des clés), ses clés "
                    "sous $CIRQLIZ_KEYS_DIR/CODE, publie son premier paquet de confiance et invite son "
                    "administrateur (rôles administrateur de l'autorité et instructeur).")
    create.add_argument("code", type=_typed(ob.parse_authority_code),
                        help="code court : 2 à 32 lettres sans accent, chiffres, - ou _ (gardé en minuscules)")
    create.add_argument("--name", required=True, type=_typed(ob.parse_authority_name), metavar="NOM",
                        help="nom de l'autorité")
    create.add_argument("--siren", type=_typed(ob.parse_authority_siren), help="SIREN de la collectivité (9 chiffres)")
    create.add_argument("--timezone", default=ob.DEFAULT_TIME_ZONE, type=_typed(ob.parse_time_zone),
                        help="fuseau horaire IANA (défaut : Europe/Paris)")
    create.add_argument("--admin", required=True, type=_typed(ob.parse_email), metavar="ADRESSE",
                        help="adresse électronique du premier administrateur")
    authority.add_parser("list", help="lister les autorités")
    siren = authority.add_parser("siren", help="renseigner le SIREN d'une autorité (identifiants ZFE SIREN-ZFE-NNN)")
    siren.add_argument("code", help="code de l'autorité")
    siren.add_argument("siren", type=_typed(ob.parse_authority_siren), help="SIREN de la collectivité (9 chiffres)")

    user = sub.add_parser("user", help="comptes : inviter, annuler une invitation, désactiver, lister").add_subparsers(
        dest="action", required=True, metavar="{invite,uninvite,disable,list}")
    invite = user.add_parser("invite", help="inviter une personne dans une autorité (remplace son invitation en "
                                            "attente dans cette autorité, s'il y en a une)")
    invite.add_argument("email", type=_typed(ob.parse_email), help="adresse électronique de la personne")
    invite.add_argument("--authority", required=True, metavar="CODE", help="code de l'autorité")
    invite.add_argument("--role", required=True, choices=[r.value for r in ob.AUTHORITY_ROLES],
                        help="authority_admin (administrateur), reviewer (instructeur) ou agent (contrôle)")
    uninvite = user.add_parser("uninvite", help="annuler les invitations en attente d'une adresse dans une autorité "
                                                "(leur lien ne fonctionne plus)")
    uninvite.add_argument("email", type=_typed(ob.parse_email), help="adresse électronique invitée")
    uninvite.add_argument("--authority", required=True, metavar="CODE", help="code de l'autorité")
    disable = user.add_parser("disable", help="désactiver un compte (ses sessions se terminent aussitôt)")
    disable.add_argument("email", type=_typed(ob.parse_email), help="adresse électronique du compte")
    listing = user.add_parser("list", help="lister les comptes et leurs rôles")
    listing.add_argument("--authority", help="seulement les membres de cette autorité (et ses invitations en attente)")

    sub.add_parser("doctor", help="vérifier une installation (réglages, base, clés, paquets, courriel, tâches)",
                   description="Vérifie l'installation décrite par les variables CIRQLIZ_* et dit quoi corriger ; "
                               "code de sortie 1 si un point est à corriger.")


def _onboarding_command(args: argparse.Namespace) -> int:
    import asyncio

    from sqlalchemy.exc import DBAPIError

    from cirqliz.issuance.onboarding import InvalidInput
    from cirqliz.settings import DEVELOPMENT, PRODUCTION, Settings

    if args.command == "doctor":
        from cirqliz.clock import SystemClock
        from cirqliz.ops.doctor import print_report, run_doctor

        report = asyncio.run(run_doctor(os.environ, clock=SystemClock()))
        print_report(report)
        return 0 if report.ok else 1
    # Commands that mint links sign them with the secret key: the server's rule (production by
    # default), so a link is never signed with the public development key by mistake.
    mints = (args.command, args.action) in (("authority", "create"), ("user", "invite"))
    settings = Settings.from_env(default_env=PRODUCTION if mints else DEVELOPMENT)
    if not os.environ.get("CIRQLIZ_BASE_URL"):  # set but empty reads as unset, as for `cirqliz serve`
        settings = dataclasses.replace(settings, base_url=Settings.__dataclass_fields__["base_url"].default)
    try:
        return asyncio.run(_onboarding_async(args, settings))
    except InvalidInput as exc:
        return _fail(exc.message, 2)
    except DBAPIError as exc:
        return _fail(f"base de données injoignable ou non migrée ({type(exc.orig).__name__}) : vérifiez "
                     "CIRQLIZ_DATABASE_URL puis lancez « cirqliz db upgrade »")
    except OSError as exc:
        return _fail(f"fichier ou dossier inaccessible : {exc.filename or ''} ({exc.strerror or exc})")


async def _onboarding_async(args: argparse.Namespace, settings: Any) -> int:
    from cirqliz.clock import SystemClock
    from cirqliz.db.engine import create_engine, create_session_factory, transaction
    from cirqliz.issuance import onboarding as ob

    engine = create_engine(settings)
    maker = create_session_factory(engine)
    clock = SystemClock()
    try:
        if args.command == "authority" and args.action == "create":
            created = await ob.create_authority(
                maker, code=args.code, name=args.name, siren=args.siren, time_zone=args.timezone,
                admin_email=args.admin, keys_root=settings.keys_dir, clock=clock, secret_key=settings.secret_key)
            print(f"autorité créée : {created.name} (code {created.code}, émetteur des laissez-passer)")
            print(f"clés : {created.keys_dir} (racine {created.root_kid}, signature {created.signing_kid}) — "
                  "sauvegardez ce dossier, les clés privées n'existent nulle part ailleurs")
            print(f"paquet de confiance n° {created.bundle_seq} publié : "
                  f"{settings.base_url.rstrip('/')}/bundle/{created.code}.cose")
            _deliver_invitation(settings, created.name, created.invitation)
            return 0
        if args.command == "authority" and args.action == "siren":
            async with transaction(maker) as session:
                authority = await ob.set_authority_siren(session, code=args.code, siren=args.siren, clock=clock)
            print(f"autorité {authority.code} : SIREN {authority.siren}")
            return 0
        if args.command == "authority":
            async with transaction(maker) as session:
                rows = await ob.list_authorities(session)
            if not rows:
                print("aucune autorité : créez-en une avec « cirqliz authority create CODE --name … --admin … »")
                return 0
            print(f"{'code':<20} {'SIREN':<9}  {'fuseau':<18} {'comptes':>7} {'paquet':>6}  nom")
            for row in rows:
                print(f"{row.code:<20} {row.siren or '-':<9}  {row.time_zone or '-':<18} {row.users:>7} "
                      f"{row.last_bundle_seq:>6}  {row.name}")
            return 0
        if args.action == "invite":
            async with transaction(maker) as session:
                authority, link = await ob.invite_to_authority(
                    session, code=args.authority, email=args.email, role=args.role, clock=clock,
                    secret_key=settings.secret_key)
                name = authority.name
            if link.replaced:
                print(f"L'invitation précédente à {link.email} ({ob.roles_label_fr(link.replaced)}) a été "
                      "remplacée : son lien ne fonctionne plus.")
            _deliver_invitation(settings, name, link)
            return 0
        if args.action == "uninvite":
            async with transaction(maker) as session:
                authority, cancelled = await ob.cancel_authority_invitations(
                    session, code=args.authority, email=args.email, clock=clock)
            roles = ob.roles_label_fr(tuple(i.role for i in cancelled))
            print(f"Invitation à {args.email} annulée ({authority.code} : {roles}) : son lien ne fonctionne plus.")
            return 0
        if args.action == "disable":
            async with transaction(maker) as session:
                done = await ob.disable_account(session, email=args.email, clock=clock)
            state = "désactivé" if done.was_active else "déjà désactivé (sessions terminées à nouveau)"
            print(f"compte {done.email} {state} : il ne peut plus se connecter, ses sessions sont terminées et "
                  "les jetons d'API qu'il a créés sont révoqués (délai : 15 s au plus sur les autres processus)")
            for code in done.authorities_without_admin:
                print(f"attention : l'autorité {code} n'a plus d'administrateur actif "
                      f"(cirqliz user invite --authority {code} --role authority_admin ADRESSE)", file=sys.stderr)
            return 0
        async with transaction(maker) as session:
            people = await ob.list_users(session, args.authority)
            codes = [args.authority] if args.authority else [a.code for a in await ob.list_authorities(session)]
            pending = [(code, invitation) for code in codes
                       for invitation in await ob.authority_pending_invitations(session, code, clock.now())]
        _print_users(people, pending)
        return 0
    finally:
        await engine.dispose()


def _roles_by_organisation(pairs: Sequence[tuple[str, str]]) -> str:
    """'lyon : Administrateur de l'autorité, Instructeur' (French role labels, by organisation code)."""
    from cirqliz.labels import ROLE_FR

    rank = {role: i for i, role in enumerate(ROLE_FR)}  # the label table's order, highest role first
    grouped: dict[str, list[str]] = {}
    for code, role in pairs:
        grouped.setdefault(code, []).append(role)
    return " ; ".join(
        f"{code} : {', '.join(ROLE_FR.get(r, r) for r in sorted(roles, key=lambda r: rank.get(r, len(rank))))}"
        for code, roles in grouped.items())


def _print_users(people: Sequence[Any], pending: Sequence[tuple[str, Any]]) -> None:
    """The lines of `cirqliz user list`: accounts, then pending invitations (one line per address and
    authority, whatever the number of roles it grants), then what exists when no account is active."""
    from datetime import UTC
    from zoneinfo import ZoneInfo

    for person in people:
        roles = _roles_by_organisation(person.roles) or "aucun rôle"
        state = "actif" if person.active else "désactivé"
        print(f"{person.email:<40} {state:<10} {roles}  ({person.display_name})")
    invited: dict[tuple[str, str], list[Any]] = {}
    for code, invitation in pending:
        invited.setdefault((invitation.email, code), []).append(invitation)
    for (email, code), invitations in invited.items():
        until = min(i.expires_at for i in invitations)
        until = (until if until.tzinfo else until.replace(tzinfo=UTC)).astimezone(ZoneInfo("Europe/Paris"))
        roles = _roles_by_organisation([(code, i.role) for i in invitations])
        print(f"{email:<40} {'invité':<10} {roles}  (invitation en attente jusqu'au {until:%d/%m/%Y %H:%M})")
    if any(person.active for person in people):
        return
    if not invited:
        print("aucun compte actif ; aucune invitation en attente")
        return
    count = f"{len(invited)} invitation{'s' if len(invited) > 1 else ''} en attente"
    print(f"aucun compte actif ; {count} : {', '.join(dict.fromkeys(email for email, _code in invited))}")


def _deliver_invitation(settings: Any, organisation_name: str, link: Any) -> None:
    """Mail the invitation (outbox without SMTP); without SMTP, or when SMTP fails, print the link once."""
    from types import SimpleNamespace
    from zoneinfo import ZoneInfo

    from cirqliz.issuance.mail import Mailer
    from cirqliz.issuance.onboarding import OPERATOR_FR, roles_label_fr

    mailer = Mailer.for_settings(settings)
    message = mailer.compose("invitation", to=link.email, inviter=OPERATOR_FR,
                             organisation=SimpleNamespace(name=organisation_name),
                             role_label=roles_label_fr(link.roles), expires_at=link.expires_at,
                             link=link.url(settings.base_url))
    until = link.expires_at.astimezone(ZoneInfo("Europe/Paris")).strftime("%d/%m/%Y %H:%M")
    who = f"{link.email} ({roles_label_fr(link.roles)}, valable jusqu'au {until})"
    if mailer.uses_outbox:
        path = mailer.write_outbox(message)
        print(f"invitation de {who} : pas de serveur SMTP (CIRQLIZ_SMTP_HOST), courriel écrit dans {path.parent} ; "
              "transmettez ce lien à la personne :")
        print(f"{INVITATION_LINK_FR}{link.url(settings.base_url)}")
        _note_unset_base_url(settings)
        return
    try:
        mailer.send_smtp(message)
    except Exception as exc:  # the invitation is stored: hand the link over another way
        print(f"cirqliz: l'envoi du courriel à {link.email} a échoué ({type(exc).__name__}) : transmettez ce lien "
              "vous-même", file=sys.stderr)
        print(f"{INVITATION_LINK_FR}{link.url(settings.base_url)}")
        _note_unset_base_url(settings)
        return
    print(f"invitation envoyée par courriel à {who}")
    _note_unset_base_url(settings)  # the mailed link assumes the same address


def _note_unset_base_url(settings: Any) -> None:
    """Without CIRQLIZ_BASE_URL a command that only prints a link cannot know the site's address (the
    server's port is not known here, unlike `cirqliz serve`): say which one the link assumes, on the
    line after it (standard output, so that it stays after the link when both are piped)."""
    if not os.environ.get("CIRQLIZ_BASE_URL"):
        print(BASE_URL_UNSET_FR.format(base=settings.base_url.rstrip("/")))


class FrenchArgumentParser(argparse.ArgumentParser):
    """argparse with its usage errors and help headings in French (exit status 2 as before)."""

    _ERRORS = (
        (r"the following arguments are required: (.*)", r"arguments obligatoires manquants : \1"),
        (r"unrecognized arguments: (.*)", r"arguments non reconnus : \1"),
        (r"argument (.*?): invalid choice: (.*) \(choose from (.*)\)", r"argument \1 : choix invalide : \2 "
                                                                       r"(possibles : \3)"),
        (r"argument (.*?): invalid (\S+) value: (.*)", r"argument \1 : valeur invalide (\2) : \3"),
        (r"argument (.*?): expected one argument", r"argument \1 : une valeur est attendue"),
        (r"argument (.*?): expected at least one argument", r"argument \1 : au moins une valeur est attendue"),
        (r"argument (.*?): not allowed with argument (.*)", r"argument \1 : incompatible avec \2"),
        (r"one of the arguments (.*) is required", r"l'un de ces arguments est obligatoire : \1"),
        (r"ambiguous option: (.*) could match (.*)", r"option ambiguë : \1 peut désigner \2"),
        (r"argument (.*?): (.*)", r"argument \1 : \2"),
    )
    _HEADINGS = (("usage: ", "utilisation : "), ("positional arguments:", "arguments :"),
                 ("options:", "options :"), ("show this help message and exit", "afficher cette aide et quitter"))

    @classmethod
    def translate(cls, message: str) -> str:
        """argparse's English error message in French (unchanged when unknown)."""
        import re

        for pattern, replacement in cls._ERRORS:
            if re.fullmatch(pattern, message, flags=re.DOTALL):
                return re.sub(pattern, replacement, message, count=1, flags=re.DOTALL)
        return message

    def _french(self, text: str) -> str:
        for english, french in self._HEADINGS:
            text = text.replace(english, french)
        return text

    def format_usage(self) -> str:
        """The usage line, in French."""
        return self._french(super().format_usage())

    def format_help(self) -> str:
        """The help text, its headings in French."""
        return self._french(super().format_help())

    def error(self, message: str) -> NoReturn:
        """Print the usage and the French message, exit 2."""
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog} : erreur : {self.translate(message)}\n")


# ---- end of onboarding and the operator's safety nets ------------------------------------------


if __name__ == "__main__":
    raise SystemExit(main())
