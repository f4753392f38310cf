"""Settings read from the environment; nothing is created at import time.

Processes that serve people (`cirqliz serve`, `cirqliz worker`, the ASGI entry point) run in
production unless told otherwise: development behaviour (the public default secret key, the
/dev/outbox page) only with `cirqliz serve --demo` or an explicit CIRQLIZ_ENV=development.

CIRQLIZ_TRUSTED_PROXIES: comma-separated addresses or networks (CIDR) of the reverse proxies in
front of CirQliz, e.g. `127.0.0.1` or `10.0.0.10,10.0.1.0/24`. Only for a connection coming from one
of them is `X-Forwarded-For` read (its right-most address that is not itself a trusted proxy) as
the client's address, for rate limits, the audit log and the loopback checks. Empty (default): the
header is ignored, so nobody can pick the address a limit counts.

CIRQLIZ_OPEN_DATA_DIR: folder of the published open-data schemas (ZFE, Cerema, DATEX II XSDs),
read where they are used (cirqliz.imports.common.open_data_dir), not a field here. Unset: a
development clone uses ../shared/data when it exists, an install var/opendata, filled by
`cirqliz opendata fetch`. Without the files, the built-in checks alone validate open data.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_SECRET_KEY = "dev-insecure-change-me"  # noqa: S105 (refused outside development)
DEVELOPMENT = "development"
PRODUCTION = "production"


class SettingsError(RuntimeError):
    """The environment describes a configuration that must not run."""


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> tuple[Network, ...]:
    """The networks of a comma-separated list of addresses or CIDR blocks (SettingsError when one is not)."""
    networks = []
    for item in (part.strip() for part in (text or "").split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise SettingsError(
                f"CIRQLIZ_TRUSTED_PROXIES : {item!r} n'est ni une adresse IP ni un réseau (ex. 10.0.0.0/24)"
            ) from None
    return tuple(networks)


@dataclass(frozen=True, slots=True)
class Settings:
    """Runtime configuration (environment variables prefixed CIRQLIZ_)."""

    database_url: str = "sqlite+aiosqlite:///var/cirqliz.db"
    """SQLAlchemy async URL: sqlite+aiosqlite:///path or postgresql+asyncpg://user@host/db."""
    env: str = DEVELOPMENT
    """'development', 'test' or 'production'; anything but development refuses default secrets. The dataclass
    default is development (library and test use); the serving processes default to production."""
    secret_key: str = DEFAULT_SECRET_KEY
    """Key for session cookies and CSRF tokens."""
    keys_dir: str = "keys"
    """Directory of signing keys (public keys by kid; private keys mode 0600, git-ignored)."""
    documents_dir: str = "var/documents"
    """Directory where supporting documents are stored, by content hash."""
    documents_max_per_application: int = 10
    """CIRQLIZ_DOCUMENTS_MAX_PER_APPLICATION: supporting documents one application may hold."""
    documents_max_bytes_per_organisation: int = 200 * 1024 * 1024
    """CIRQLIZ_DOCUMENTS_MAX_BYTES_PER_ORGANISATION: bytes of supporting documents one organisation may
    store over all its applications (a file it already stored counts once); default 200 MiB."""
    export_refusal_rate_limit: int = 10
    """CIRQLIZ_EXPORT_REFUSAL_RATE_LIMIT: exemption-export requests refused for want of a valid token, per
    client address and minute; past it the answer is 429 (such refusals are logged, not audited)."""
    sqlite_busy_timeout_ms: int = 5000
    """How long a SQLite connection waits for a lock before failing."""
    database_echo: bool = False
    """Log every SQL statement (debugging)."""
    base_url: str = "http://127.0.0.1:8000"
    """Public address of the service, used in e-mails and printed passes."""
    redis_url: str = ""
    """Redis for stores shared by several processes (rate limits); empty: in-process memory."""
    redis_namespace: str = "cirqliz"
    """Prefix of every Redis key (several deployments, or tests, can share one Redis)."""
    api_rate_limit: int = 120
    """API requests per token per minute (shared by every process when Redis is set)."""
    smtp_host: str = ""
    """SMTP server for e-mail; empty: mail goes to the outbox folder and page (development)."""
    smtp_port: int = 587
    """SMTP port (STARTTLS)."""
    smtp_user: str = ""
    """SMTP user name."""
    smtp_password: str = ""
    """SMTP password."""
    mail_from: str = "CirQliz <ne-pas-repondre@cirqliz.invalid>"
    """Sender of e-mails."""
    outbox_dir: str = "var/outbox"
    """Where e-mails are written when no SMTP server is set."""
    tile_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    """Map tile URL template; pages with maps also work with a plain list when tiles fail. Its origin is
    the only foreign host the Content-Security-Policy allows (img-src)."""
    hsts_seconds: int = 0
    """CIRQLIZ_HSTS_SECONDS: when > 0, every response carries `Strict-Transport-Security: max-age=N`
    (browsers then refuse plain HTTP to this host for N seconds). 0 (default) = off, for development
    over http://; in production behind HTTPS use e.g. 31536000 (one year) once HTTPS works everywhere."""
    scheduler_enabled: bool = True
    """Run the scheduler inside the web process (disable in tests, or with a separate worker)."""
    # ---- scheduled jobs and feeds (issue 6) ----
    retention_checks_days: int = 90
    """Agents' check records older than this many days are deleted by the purge job."""
    retention_rejected_applications_days: int = 365
    """Rejected applications decided longer ago than this are deleted by the purge job."""
    retention_job_runs_days: int = 30
    """Job run records older than this are deleted by the purge job."""
    expiry_reminder_days: int = 7
    """Holders of passes expiring within this many days get one reminder."""
    feeds_dir: str = ""
    """Folder of scheduled feeds: <feeds_dir>/<AUTHORITY CODE>/*.geojson|*.xml|*.ics; empty: none."""
    feed_urls: str = ""
    """Scheduled feeds fetched over HTTP, whitespace-separated CODE=URL pairs; empty: no fetch."""
    feeds_interval_minutes: int = 15
    """How often scheduled feeds are imported."""
    partner_private_addresses: bool = False
    """CIRQLIZ_PARTNER_PRIVATE_ADDRESSES: let partner bundle addresses (issue 19) be on loopback, private or
    link-local networks, e.g. an intranet between the services of one territory. Off by default: an
    authority administrator must not be able to make the server probe its own network."""
    # ---- end of scheduled jobs settings ----
    session_idle_minutes: int = 30
    """CIRQLIZ_SESSION_IDLE_MINUTES: a signed-in page session (authority, organiser, professional) left unused
    longer than this is signed out; 0 = no idle limit. The agents' scanner keeps its own rules (ADR 0011)."""
    trusted_proxies: str = ""
    """CIRQLIZ_TRUSTED_PROXIES: reverse proxies whose X-Forwarded-For is believed (see the module docstring)."""
    # ---- metrics (issue 9) ----
    metrics_enabled: bool = True
    """Serve Prometheus metrics at /metrics (no personal data: routes, statuses, job outcomes)."""
    metrics_token: str = ""
    """Bearer token required on /metrics; empty: /metrics answers only loopback clients."""
    # ---- the deployer, for the legal notice and the personal-data page (LCEN art. 6 III, RGPD art. 13) ----
    operator_name: str = ""
    """CIRQLIZ_OPERATOR_NAME: who runs this service (e.g. "Ville de Lyon"), shown in the footer and the legal notice."""
    operator_address: str = ""
    """CIRQLIZ_OPERATOR_ADDRESS: the operator's postal address (legal notice)."""
    operator_contact: str = ""
    """CIRQLIZ_OPERATOR_CONTACT: e-mail address for questions, accessibility problems and personal-data requests."""
    publication_director: str = ""
    """CIRQLIZ_PUBLICATION_DIRECTOR: the director of publication named in the legal notice."""
    host_name: str = ""
    """CIRQLIZ_HOST_NAME: the hosting provider's name and address (legal notice)."""
    # ---- passes in the phone's wallet (issue 19); files relative to keys_dir, private keys mode 0600 ----
    wallet_apple_cert: str = ""
    """CIRQLIZ_WALLET_APPLE_CERT: the Pass Type ID certificate (PEM) under the keys folder; empty: no Apple Wallet."""
    wallet_apple_key: str = ""
    """CIRQLIZ_WALLET_APPLE_KEY: its private key (PEM, unencrypted, mode 0600) under the keys folder."""
    wallet_apple_wwdr: str = ""
    """CIRQLIZ_WALLET_APPLE_WWDR: Apple's WWDR intermediate certificate (PEM or DER) under the keys folder."""
    wallet_apple_pass_type_id: str = ""
    """CIRQLIZ_WALLET_APPLE_PASS_TYPE_ID: the Pass Type ID, e.g. pass.fr.ville-exemple.cirqliz."""
    wallet_apple_team_id: str = ""
    """CIRQLIZ_WALLET_APPLE_TEAM_ID: the Apple developer team identifier (10 letters or digits)."""
    wallet_google_issuer_id: str = ""
    """CIRQLIZ_WALLET_GOOGLE_ISSUER_ID: the Google Wallet issuer number; empty: no Google Wallet."""
    wallet_google_service_account: str = ""
    """CIRQLIZ_WALLET_GOOGLE_SERVICE_ACCOUNT: the service account's JSON key (mode 0600) under the keys folder."""
    wallet_google_class_suffix: str = "laissez_passer"
    """CIRQLIZ_WALLET_GOOGLE_CLASS_SUFFIX: the generic class of the passes is <issuer>.<suffix>."""

    def __post_init__(self) -> None:
        if self.env != DEVELOPMENT and self.secret_key == DEFAULT_SECRET_KEY:
            raise SettingsError(
                f"CIRQLIZ_SECRET_KEY doit être défini quand CIRQLIZ_ENV vaut {self.env!r} : la clé par "
                "défaut est publique (python -c \"import secrets; print(secrets.token_urlsafe(48))\")"
            )
        if not self.secret_key:
            raise SettingsError("CIRQLIZ_SECRET_KEY ne doit pas être vide")
        for name in ("documents_max_per_application", "documents_max_bytes_per_organisation",
                     "export_refusal_rate_limit"):
            if getattr(self, name) < 1:
                raise SettingsError(f"CIRQLIZ_{name.upper()} doit être un nombre entier positif")
        if self.session_idle_minutes < 0:
            raise SettingsError("CIRQLIZ_SESSION_IDLE_MINUTES doit valoir 0 (désactivé) ou un nombre positif "
                                "de minutes")
        if self.hsts_seconds < 0:
            raise SettingsError("CIRQLIZ_HSTS_SECONDS doit valoir 0 (désactivé) ou un nombre positif de secondes")
        parse_networks(self.trusted_proxies)
        _check_wallet(self)

    @property
    def proxy_networks(self) -> tuple[Network, ...]:
        """CIRQLIZ_TRUSTED_PROXIES, parsed."""
        return parse_networks(self.trusted_proxies)

    @property
    def is_sqlite(self) -> bool:
        """True when the database is SQLite."""
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, default_env: str = DEVELOPMENT) -> Settings:
        """Read CIRQLIZ_* variables (defaults for the missing ones; CIRQLIZ_ENV defaults to `default_env`,
        PRODUCTION for the processes that serve)."""
        env = os.environ if environ is None else environ
        defaults = cls.__dataclass_fields__

        def get(name: str) -> str:
            if name == "env":
                return env.get("CIRQLIZ_ENV") or default_env
            return env.get(f"CIRQLIZ_{name.upper()}", defaults[name].default)

        def flag(name: str) -> bool:
            return str(get(name)).lower() in ("1", "true", "yes")

        def whole(name: str) -> int:
            value = get(name)
            try:
                return int(value)
            except (TypeError, ValueError):
                raise SettingsError(
                    f"CIRQLIZ_{name.upper()} doit être un nombre entier (reçu : {value!r})"
                ) from None
        return cls(
            database_url=get("database_url"),
            env=get("env"),
            secret_key=get("secret_key"),
            keys_dir=get("keys_dir"),
            documents_dir=get("documents_dir"),
            documents_max_per_application=whole("documents_max_per_application"),
            documents_max_bytes_per_organisation=whole("documents_max_bytes_per_organisation"),
            export_refusal_rate_limit=whole("export_refusal_rate_limit"),
            sqlite_busy_timeout_ms=whole("sqlite_busy_timeout_ms"),
            database_echo=flag("database_echo"),
            base_url=get("base_url"),
            redis_url=get("redis_url"),
            redis_namespace=get("redis_namespace"),
            api_rate_limit=whole("api_rate_limit"),
            smtp_host=get("smtp_host"),
            smtp_port=whole("smtp_port"),
            smtp_user=get("smtp_user"),
            smtp_password=get("smtp_password"),
            mail_from=get("mail_from"),
            outbox_dir=get("outbox_dir"),
            tile_url=get("tile_url"),
            hsts_seconds=whole("hsts_seconds"),
            scheduler_enabled=flag("scheduler_enabled"),
            partner_private_addresses=flag("partner_private_addresses"),
            # ---- scheduled jobs and feeds (issue 6) ----
            retention_checks_days=whole("retention_checks_days"),
            retention_rejected_applications_days=whole("retention_rejected_applications_days"),
            retention_job_runs_days=whole("retention_job_runs_days"),
            expiry_reminder_days=whole("expiry_reminder_days"),
            feeds_dir=get("feeds_dir"),
            feed_urls=get("feed_urls"),
            feeds_interval_minutes=whole("feeds_interval_minutes"),
            trusted_proxies=get("trusted_proxies"),
            session_idle_minutes=whole("session_idle_minutes"),
            metrics_enabled=flag("metrics_enabled"),
            metrics_token=get("metrics_token"),
            operator_name=get("operator_name"),
            operator_address=get("operator_address"),
            operator_contact=get("operator_contact"),
            publication_director=get("publication_director"),
            host_name=get("host_name"),
            wallet_apple_cert=get("wallet_apple_cert"),
            wallet_apple_key=get("wallet_apple_key"),
            wallet_apple_wwdr=get("wallet_apple_wwdr"),
            wallet_apple_pass_type_id=get("wallet_apple_pass_type_id"),
            wallet_apple_team_id=get("wallet_apple_team_id"),
            wallet_google_issuer_id=get("wallet_google_issuer_id"),
            wallet_google_service_account=get("wallet_google_service_account"),
            wallet_google_class_suffix=get("wallet_google_class_suffix"),
        )


APPLE_WALLET = ("wallet_apple_cert", "wallet_apple_key", "wallet_apple_wwdr", "wallet_apple_pass_type_id",
                "wallet_apple_team_id")
GOOGLE_WALLET = ("wallet_google_issuer_id", "wallet_google_service_account", "wallet_google_class_suffix")


def _check_wallet(settings: Settings) -> None:
    """Wallet settings come all together or not at all, and in the forms Apple and Google give them."""
    for group in (APPLE_WALLET, GOOGLE_WALLET):
        given = [name for name in group if getattr(settings, name)]
        missing = [f"CIRQLIZ_{name.upper()}" for name in group if not getattr(settings, name)]
        if given and missing and given != ["wallet_google_class_suffix"]:
            raise SettingsError(f"portefeuille du téléphone : il manque {', '.join(missing)}")
    if settings.wallet_apple_pass_type_id and not re.fullmatch(r"pass\.[A-Za-z0-9.-]+",
                                                               settings.wallet_apple_pass_type_id):
        raise SettingsError("CIRQLIZ_WALLET_APPLE_PASS_TYPE_ID doit commencer par « pass. » "
                            "(ex. pass.fr.ville-exemple.cirqliz)")
    if settings.wallet_apple_team_id and not re.fullmatch(r"[A-Z0-9]{10}", settings.wallet_apple_team_id):
        raise SettingsError("CIRQLIZ_WALLET_APPLE_TEAM_ID doit compter 10 lettres majuscules ou chiffres")
    if settings.wallet_google_issuer_id and not settings.wallet_google_issuer_id.isdigit():
        raise SettingsError("CIRQLIZ_WALLET_GOOGLE_ISSUER_ID doit être un nombre (l'identifiant d'émetteur)")
    if not re.fullmatch(r"[A-Za-z0-9._-]+", settings.wallet_google_class_suffix):
        raise SettingsError("CIRQLIZ_WALLET_GOOGLE_CLASS_SUFFIX : lettres, chiffres, « . », « _ » ou « - » seulement")
