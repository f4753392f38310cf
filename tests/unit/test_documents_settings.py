"""Supporting-document limits and settings from the environment."""

import hashlib

import pytest

from cirqliz.domain.documents import MAX_DOCUMENT_BYTES, check_document
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


@pytest.mark.parametrize("name", ["SMTP_PORT", "API_RATE_LIMIT", "HSTS_SECONDS"])
def test_a_non_numeric_setting_is_a_clear_settings_error(name):
    with pytest.raises(SettingsError, match=f"CIRQLIZ_{name} doit être un nombre entier"):
        Settings.from_env({f"CIRQLIZ_{name}": "abc"})
