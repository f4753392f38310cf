"""The operator's safety nets: `cirqliz doctor` (every check, in French, with what to do) and the
quick checks behind /readyz (names only, no paths or secrets, cheap enough to poll every few seconds).

A check is OK, À CORRIGER (the deployment must not serve like this) or skipped/informative.
"""

from __future__ import annotations

import asyncio
import functools
import getpass
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from cirqliz.clock import Clock
from cirqliz.db.models import JobRun, Organisation
from cirqliz.domain.organisations import OrganisationKind
from cirqliz.issuance.keystore import KEYRING, KeyStore, authority_keys_folder
from cirqliz.issuance.signing import SIGNING_REFUSALS_FR
from cirqliz.jobs.jobs import REFRESH_SHARE
from cirqliz.passcode.errors import SchemeError
from cirqliz.settings import DEFAULT_SECRET_KEY, DEVELOPMENT, PRODUCTION, Settings, SettingsError

OK, FAIL, INFO = "ok", "fail", "info"
MARKS = {OK: "✓", FAIL: "✗", INFO: "–"}
SCHEDULER_WINDOW = timedelta(minutes=10)
"""The scheduler runs jobs every minute: none recorded for this long means no process runs them."""
STALE_GRACE = timedelta(hours=1)
"""A bundle is republished past max_age / REFRESH_SHARE; stale once that and this margin have passed."""
DB_TIMEOUT_S = 5.0
SMTP_TIMEOUT_S = 3.0
MIN_SECRET_LENGTH = 32
WALLET_CERT_WARNING = timedelta(days=30)
"""An Apple Pass Type ID certificate expiring sooner than this is reported (passes can no longer be signed after)."""


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the report."""

    label: str
    status: str
    detail: str

    def line(self) -> str:
        """'✓ label : detail'."""
        return f"{MARKS[self.status]} {self.label} : {self.detail}"


@dataclass
class Report:
    """Every check of a deployment."""

    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Nothing to fix."""
        return all(c.status != FAIL for c in self.checks)

    def add(self, label: str, status: str, detail: str) -> None:
        """Record one check."""
        self.checks.append(Check(label, status, detail))


def stale_after(max_age: int) -> timedelta:
    """How old a bundle of this max age may get before it counts as stale."""
    return timedelta(seconds=max_age // REFRESH_SHARE) + STALE_GRACE


def _age_fr(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    if hours < 1:
        return f"{max(0, round(hours * 60))} min"
    return f"{hours / 24:.1f} jours" if hours >= 48 else f"{hours:.1f} h"


# ---- migrations ------------------------------------------------------------------------------


@functools.cache
def expected_heads() -> tuple[str, ...]:
    """The head revision(s) of the packaged migrations."""
    from alembic.script import ScriptDirectory

    from cirqliz.db.migrate import alembic_config

    return tuple(sorted(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()))


async def current_heads(engine: AsyncEngine) -> tuple[str, ...]:
    """The revision(s) the database is at (empty when never migrated)."""
    from alembic.migration import MigrationContext

    async with engine.connect() as connection:
        heads = await connection.run_sync(lambda sync: MigrationContext.configure(sync).get_current_heads())
    return tuple(sorted(heads))


# ---- keys and bundles ------------------------------------------------------------------------


def private_key_problems(store: KeyStore) -> list[str]:
    """What is wrong with the private key files the keystore still uses (root, signing keys not
    withdrawn): missing, readable or writable by others than the owner, unreadable by this user."""
    problems = []
    kids = [store.root_kid] + [k.kid for k in store.keys if k.withdrawn_at is None]
    for kid in kids:
        file = store.path / "private" / f"{kid}.pem"
        try:
            mode = file.stat().st_mode & 0o777
        except OSError:
            problems.append(f"clé privée {kid} absente ({file})")
            continue
        if os.name == "posix" and mode & 0o077:
            problems.append(f"clé privée {file} lisible par d'autres que son propriétaire (mode {mode:04o}) : "
                            f"chmod 600 {file}, et vérifiez qui a pu la copier")
        elif not os.access(file, os.R_OK):
            problems.append(f"clé privée {file} illisible par l'utilisateur {getpass.getuser()} : donnez-la au "
                            "compte qui fait tourner CirQliz (chown)")
    return problems


def check_keys(report: Report, keys_root: str | Path, code: str) -> KeyStore | None:
    """The keys of one authority: folder, keyring, private files, and that they open and can sign."""
    label = f"clés de {code}"
    try:
        folder = authority_keys_folder(keys_root, code)
    except SchemeError:
        report.add(label, FAIL, "ce code ne peut pas servir de nom de dossier de clés")
        return None
    if not (folder / KEYRING).is_file():
        report.add(label, FAIL, f"pas de trousseau dans {folder} : CIRQLIZ_KEYS_DIR désigne-t-il le bon dossier "
                                f"(restaurez la sauvegarde des clés, ou cirqliz keys init --dir {folder} "
                                f"--issuer {code})")
        return None
    try:
        store = KeyStore(folder)
    except SchemeError as exc:
        report.add(label, FAIL, f"trousseau {folder / KEYRING} illisible ({exc.code})")
        return None
    problems = private_key_problems(store)
    if problems:
        report.add(label, FAIL, " ; ".join(problems))
        return store
    try:
        store.root_key()
        store.signing_key()
    except SchemeError as exc:
        report.add(label, FAIL, SIGNING_REFUSALS_FR.get(exc.code or "", exc.message))
        return store
    report.add(label, OK, f"{folder}, clés privées lisibles par leur seul propriétaire")
    return store


def check_bundle(report: Report, store: KeyStore | None, code: str, now: datetime) -> None:
    """The authority's last published bundle exists and is not stale."""
    label = f"paquet de confiance de {code}"
    if store is None:
        report.add(label, FAIL, "non vérifié : les clés manquent")
        return
    try:
        bundle = store.latest_bundle()
    except (SchemeError, OSError) as exc:
        report.add(label, FAIL, f"le dernier paquet ne s'ouvre pas ({type(exc).__name__}) : publiez-en un nouveau "
                                "depuis /autorite/publication")
        return
    if bundle is None:
        report.add(label, FAIL, "aucun paquet publié : publiez-en un (page Publication, ou le planificateur)")
        return
    content = bundle.content
    age = now - datetime.fromtimestamp(content.issued_at, tz=now.tzinfo)
    limit = stale_after(content.max_age)
    if age > limit:
        report.add(label, FAIL, f"n° {content.seq} publié il y a {_age_fr(age)} (au-delà de {_age_fr(limit)}) : les "
                                "agents vont le juger périmé ; le planificateur le republie, vérifiez qu'il tourne "
                                "(cirqliz worker) ou publiez depuis /autorite/publication")
        return
    report.add(label, OK, f"n° {content.seq} publié il y a {_age_fr(age)}")


# ---- the whole report ------------------------------------------------------------------------


def _settings(report: Report, environ: Mapping[str, str]) -> Settings | None:
    try:
        settings = Settings.from_env(environ, default_env=PRODUCTION)
    except SettingsError as exc:
        report.add("réglages", FAIL, str(exc))
        try:  # go on with the other checks, read as in development
            return Settings.from_env({**environ, "CIRQLIZ_ENV": DEVELOPMENT})
        except SettingsError:
            return None
    report.add("réglages", OK, f"mode {settings.env}, base {settings.database_url.split('://')[0]}, "
                               f"clés dans {settings.keys_dir}")
    if settings.env == DEVELOPMENT:
        status = FAIL if settings.secret_key == DEFAULT_SECRET_KEY else INFO
        report.add("clé secrète", status, "mode développement (CIRQLIZ_ENV=development) : en production, "
                                          "retirez-le et définissez CIRQLIZ_SECRET_KEY")
    elif len(settings.secret_key) < MIN_SECRET_LENGTH:
        report.add("clé secrète", FAIL, f"CIRQLIZ_SECRET_KEY trop courte ({len(settings.secret_key)} caractères, "
                                        f"{MIN_SECRET_LENGTH} au moins) : "
                                        "python -c \"import secrets; print(secrets.token_urlsafe(48))\"")
    else:
        report.add("clé secrète", OK, "définie, différente de la clé publique de développement")
    return settings


async def _database(report: Report, engine: AsyncEngine) -> bool:
    try:
        heads = await asyncio.wait_for(current_heads(engine), DB_TIMEOUT_S)
    except Exception as exc:  # any failure to connect is the finding itself
        report.add("base de données", FAIL, f"injoignable ({type(exc).__name__}) : vérifiez CIRQLIZ_DATABASE_URL "
                                            "et que le serveur tourne")
        return False
    expected = expected_heads()
    if heads != expected:
        found = ", ".join(heads) or "aucune migration"
        report.add("base de données", FAIL, f"pas à jour (révision {found}, attendue {', '.join(expected)}) : "
                                            "cirqliz db upgrade")
        return False
    report.add("base de données", OK, f"joignable, à jour (révision {', '.join(heads)})")
    return True


def _smtp(report: Report, settings: Settings) -> None:
    if not settings.smtp_host:
        report.add("courriel", INFO, f"pas de serveur SMTP (CIRQLIZ_SMTP_HOST vide) : les courriels sont écrits "
                                     f"dans {settings.outbox_dir} et personne ne les reçoit")
        return
    try:
        with socket.create_connection((settings.smtp_host, settings.smtp_port), timeout=SMTP_TIMEOUT_S):
            pass
    except OSError as exc:
        report.add("courriel", FAIL, f"serveur SMTP {settings.smtp_host}:{settings.smtp_port} injoignable "
                                     f"({exc.strerror or type(exc).__name__}) : vérifiez CIRQLIZ_SMTP_HOST, "
                                     "CIRQLIZ_SMTP_PORT et le pare-feu")
        return
    report.add("courriel", OK, f"serveur SMTP {settings.smtp_host}:{settings.smtp_port} joignable")


def _wallet(report: Report, settings: Settings, now: datetime) -> None:
    """Whether passes can go to the phone's wallet, and whether the Apple certificate is about to expire."""
    from cirqliz.issuance import wallet

    if not wallet.apple_configured(settings):
        report.add("Apple Wallet", INFO, "non configuré (CIRQLIZ_WALLET_APPLE_CERT vide) : pas de bouton "
                                         "« Ajouter à Apple Wallet »")
    else:
        try:
            expires = wallet.apple_certificate_expiry(settings)
        except wallet.WalletError as exc:
            report.add("Apple Wallet", FAIL, f"signature impossible : {exc.message}")
        else:
            day = expires.strftime("%d/%m/%Y")
            if expires <= now:
                report.add("Apple Wallet", FAIL, f"certificat Pass Type ID expiré le {day} : renouvelez-le "
                                                 "sur le compte développeur Apple (docs/wallet.md)")
            elif expires - now <= WALLET_CERT_WARNING:
                report.add("Apple Wallet", INFO, f"certificat Pass Type ID à renouveler : il expire le {day}, "
                                                 f"dans moins de {WALLET_CERT_WARNING.days} jours (docs/wallet.md)")
            else:
                report.add("Apple Wallet", OK, f"signature configurée, certificat valable jusqu'au {day}")
    if not wallet.google_configured(settings):
        report.add("Google Wallet", INFO, "non configuré (CIRQLIZ_WALLET_GOOGLE_ISSUER_ID vide) : pas de bouton "
                                          "« Ajouter à Google Wallet »")
        return
    try:
        account = wallet.load_google(settings)
    except wallet.WalletError as exc:
        report.add("Google Wallet", FAIL, f"signature impossible : {exc.message}")
    else:
        report.add("Google Wallet", OK, f"signature configurée (émetteur {account.issuer_id}, compte {account.email})")


def _open_data(report: Report) -> None:
    try:
        from cirqliz.opendata.files import opendata_status

        status = opendata_status()
    except Exception:  # optional files: never a reason to fail the report
        from cirqliz.imports.common import open_data_dir

        folder = open_data_dir()
        state = "présent" if folder.is_dir() else "absent : contrôles intégrés seuls"
        report.add("données ouvertes", INFO, f"dossier des schémas publiés {folder} {state}")
        return
    parts = [f"{s.format} : {s.validation}" for s in status.formats]
    hint = "" if all(s.published for s in status.formats) else " (schémas publiés : cirqliz opendata fetch)"
    report.add("données ouvertes", INFO, ", ".join(parts) + hint)


async def _scheduler(report: Report, engine: AsyncEngine, now: datetime) -> None:
    from cirqliz.db.engine import create_session_factory

    async with create_session_factory(engine, read_only=True)() as session:
        from cirqliz.jobs.jobs import JOBS_BY_NAME, last_runs

        # Scheduled jobs only (job_run also records bulk approvals, started by people).
        last = (await session.exec(select(JobRun).where(col(JobRun.name).in_(list(JOBS_BY_NAME)))
                                   .order_by(col(JobRun.started_at).desc()).limit(1))).first()
        failed = []
        if last is not None:

            latest, _recent = await last_runs(session, limit=1)
            failed = sorted(name for name, run in latest.items() if run.outcome == "failed")
    if last is None or now - last.started_at > SCHEDULER_WINDOW:
        when = "jamais" if last is None else f"pas depuis {_age_fr(now - last.started_at)}"
        report.add("tâches planifiées", FAIL, f"aucune tâche n'a tourné ({when}) : lancez « cirqliz worker » ou "
                                              "gardez CIRQLIZ_SCHEDULER_ENABLED=1 pour « cirqliz serve »")
        return
    if failed:
        report.add("tâches planifiées", FAIL, f"dernière exécution en échec : {', '.join(failed)} (détails sur "
                                              "/autorite/taches)")
        return
    report.add("tâches planifiées", OK, f"dernière exécution il y a {_age_fr(now - last.started_at)}")


async def run_doctor(environ: Mapping[str, str], *, clock: Clock) -> Report:
    """Check the deployment described by `environ` (CIRQLIZ_* variables)."""
    from cirqliz.db.engine import create_engine, create_session_factory

    report = Report()
    settings = _settings(report, environ)
    if settings is None:
        return report
    now = clock.now()
    engine = create_engine(settings)
    try:
        if await _database(report, engine):
            async with create_session_factory(engine, read_only=True)() as session:
                codes = list((await session.exec(select(Organisation.code).where(
                    col(Organisation.kind) == OrganisationKind.AUTHORITY.value)
                    .order_by(col(Organisation.code)))).all())
            if not codes:
                report.add("autorités", FAIL, "aucune autorité : cirqliz authority create CODE --name … --admin …")
            for code in codes:
                store = check_keys(report, settings.keys_dir, code)
                check_bundle(report, store, code, now)
            await _scheduler(report, engine, now)
        else:
            report.add("autorités", INFO, "non vérifiées : la base doit d'abord répondre et être à jour")
    finally:
        await engine.dispose()
    _smtp(report, settings)
    _wallet(report, settings, now)
    _open_data(report)
    return report


def print_report(report: Report) -> None:
    """One line per check, then the verdict."""
    for check in report.checks:
        print(check.line())
    problems = sum(c.status == FAIL for c in report.checks)
    print("tout est en ordre" if report.ok else f"{problems} point(s) à corriger")


# ---- /readyz ---------------------------------------------------------------------------------

READY_CHECKS_FR = {"base_de_donnees": "base de données injoignable", "migrations": "base de données pas à jour",
                   "redis": "Redis injoignable", "cles": "clés de signature manquantes ou mal protégées",
                   "paquet_de_confiance": "paquet de confiance absent ou périmé"}


def _authority_ready(keys_root: str, code: str, now: datetime, cache: dict[Any, tuple[int, int]]) -> tuple[bool, bool]:
    """(keys usable, bundle fresh) for one authority, from file metadata; a bundle is opened once per
    (folder, seq, file stamp), never signed."""
    try:
        store = KeyStore(authority_keys_folder(keys_root, code))
    except SchemeError:
        return False, False
    keys_ok = not private_key_problems(store)
    if store.last_seq == 0:
        return keys_ok, False
    try:
        stamp = (store.path / "bundles" / f"{store.last_seq}.cose").stat().st_mtime_ns
        key = (str(store.path), store.last_seq, stamp)
        if key not in cache:
            bundle = store.latest_bundle()
            if bundle is None:
                return keys_ok, False
            cache[key] = (bundle.content.issued_at, bundle.content.max_age)
        issued_at, max_age = cache[key]
    except (OSError, SchemeError):
        return keys_ok, False
    fresh = now.timestamp() - issued_at <= stale_after(max_age).total_seconds()
    return keys_ok, fresh


async def readiness_problems(engine: AsyncEngine, *, keys_root: str, now: datetime,
                             cache: dict[Any, tuple[int, int]]) -> list[str]:
    """Names of the failing essentials (READY_CHECKS_FR keys, Redis aside): database reachable and
    migrated, every authority's keys usable and its bundle not stale."""
    try:
        async with asyncio.timeout(DB_TIMEOUT_S), engine.connect() as connection:
            version = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
            codes = (await connection.execute(select(Organisation.code).where(
                col(Organisation.kind) == OrganisationKind.AUTHORITY.value))).scalars().all()
    except Exception:  # unreachable, or no alembic_version table yet
        try:
            async with asyncio.timeout(DB_TIMEOUT_S), engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:
            return ["base_de_donnees"]
        return ["migrations"]
    problems = []
    if tuple(sorted(version)) != expected_heads():
        problems.append("migrations")
    states = [_authority_ready(keys_root, code, now, cache) for code in codes]
    if not all(keys for keys, _fresh in states):
        problems.append("cles")
    if not all(fresh for _keys, fresh in states):
        problems.append("paquet_de_confiance")
    return problems
