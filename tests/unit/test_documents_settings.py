"""Supporting-document limits and settings from the environment."""

import hashlib

import pytest

from cirqliz.domain.documents import MAX_DOCUMENT_BYTES, DocumentQuota, check_document, size_fr
from cirqliz.domain.errors import DocumentError
from cirqliz.settings import DEFAULT_SECRET_KEY, Settings, SettingsError

PDF = b"%PDF-1.7\n" + b"x" * 100


def test_document_facts():
    facts = check_document(filename="../../Kbis société.pdf", content_type="application/pdf",
                           content=PDF)
    assert facts.filename == "Kbis société.pdf"
    assert facts.size == len(PDF)
    assert facts.sha256 == hashlib.sha256(PDF).hexdigest()


@pytest.mark.parametrize(
    ("content_type", "content", "code"),
    [
        ("application/zip", b"PK\x03\x04", "document_type"),
        ("application/pdf", b"", "document_empty"),
        ("application/pdf", b"%PDF-" + b"x" * MAX_DOCUMENT_BYTES, "document_too_large"),
        ("image/png", PDF, "document_type_mismatch"),
    ],
)
def test_document_refusals(content_type, content, code):
    with pytest.raises(DocumentError) as info:
        check_document(filename="f", content_type=content_type, content=content)
    assert info.value.code == code


def test_settings_defaults():
    settings = Settings.from_env({})
    assert settings.database_url == "sqlite+aiosqlite:///var/cirqliz.db"
    assert settings.env == "development" and settings.keys_dir == "keys"
    assert settings.is_sqlite


def test_settings_from_env():
    settings = Settings.from_env({
        "CIRQLIZ_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1/cirqliz",
        "CIRQLIZ_ENV": "production", "CIRQLIZ_SECRET_KEY": "s3cret", "CIRQLIZ_KEYS_DIR": "/k",
    })
    assert not settings.is_sqlite and settings.keys_dir == "/k"


@pytest.mark.parametrize("env", ["production", "test", "staging"])
def test_default_secret_refused_outside_development(env):
    with pytest.raises(SettingsError, match="CIRQLIZ_SECRET_KEY"):
        Settings.from_env({"CIRQLIZ_ENV": env})
    with pytest.raises(SettingsError):
        Settings(env=env, secret_key=DEFAULT_SECRET_KEY)


@pytest.mark.parametrize("name", ["SMTP_PORT", "API_RATE_LIMIT", "HSTS_SECONDS", "DOCUMENTS_MAX_PER_APPLICATION",
                                  "DOCUMENTS_MAX_BYTES_PER_ORGANISATION", "EXPORT_REFUSAL_RATE_LIMIT"])
def test_a_non_numeric_setting_is_a_clear_settings_error(name):
    with pytest.raises(SettingsError, match=f"CIRQLIZ_{name} doit être un nombre entier"):
        Settings.from_env({f"CIRQLIZ_{name}": "abc"})


def test_document_caps_from_env():
    settings = Settings.from_env({"CIRQLIZ_DOCUMENTS_MAX_PER_APPLICATION": "4",
                                  "CIRQLIZ_DOCUMENTS_MAX_BYTES_PER_ORGANISATION": "1048576",
                                  "CIRQLIZ_EXPORT_REFUSAL_RATE_LIMIT": "3"})
    assert (settings.documents_max_per_application, settings.documents_max_bytes_per_organisation,
            settings.export_refusal_rate_limit) == (4, 1048576, 3)
    defaults = Settings.from_env({})
    assert defaults.documents_max_per_application == DocumentQuota().max_per_application == 10
    assert defaults.documents_max_bytes_per_organisation == DocumentQuota().max_bytes_per_organisation


@pytest.mark.parametrize("name", ["DOCUMENTS_MAX_PER_APPLICATION", "DOCUMENTS_MAX_BYTES_PER_ORGANISATION",
                                  "EXPORT_REFUSAL_RATE_LIMIT"])
def test_a_cap_of_zero_is_refused(name):
    with pytest.raises(SettingsError, match=f"CIRQLIZ_{name} doit être un nombre entier positif"):
        Settings.from_env({f"CIRQLIZ_{name}": "0"})


def test_document_quota():
    quota = DocumentQuota(max_per_application=2, max_bytes_per_organisation=3 * 1048576)
    quota.check(application_count=1, organisation_bytes=2 * 1048576, new_bytes=1048576)  # exactly full: fine
    with pytest.raises(DocumentError, match="le maximum est 2 par demande") as info:
        quota.check(application_count=2, organisation_bytes=0, new_bytes=1)
    assert info.value.code == "documents_per_application"
    with pytest.raises(DocumentError, match="3,0 Mio utilisés sur 3,0 Mio, ce fichier en demande 20 Kio") as info:
        quota.check(application_count=0, organisation_bytes=3 * 1048576, new_bytes=20480)
    assert info.value.code == "documents_organisation_full"
    quota.check(application_count=0, organisation_bytes=3 * 1048576, new_bytes=0)  # a file already stored


def test_sizes_in_french():
    assert [size_fr(n) for n in (0, 10239, 10240, 1048576 + 524288)] == ["0 octets", "10239 octets", "10 Kio",
                                                                          "1,5 Mio"]
