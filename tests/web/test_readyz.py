"""/readyz (issue 15): 503 naming the failing essentials (database migrated, keys, bundle), by name only."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from alembic.script import ScriptDirectory

from cirqliz.db.migrate import alembic_config, downgrade
from cirqliz.demo.seed import AUTHORITY_CODE
from cirqliz.issuance.keystore import KeyStore
from cirqliz.ops.doctor import expected_heads


def _not_ready(client, web_world, failing: list[str]) -> dict:
    response = client.get("/readyz")
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["status"] == "not_ready" and body["failing"] == failing
    assert body["detail"].startswith("Service pas prêt : ")
    assert str(web_world.root) not in response.text and "keys" not in response.text  # no path to anonymous callers
    return body


def test_ready_when_everything_is_in_place(client, shared_data) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    # the development clone has the published schemas beside it (../shared/data)
    assert response.json() == {"status": "ready", "opendata": dict.fromkeys(("zfe", "cerema", "datex2"),
                                                                            "schémas publiés")}


def test_ready_says_when_only_the_built_in_checks_validate_open_data(client, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CIRQLIZ_OPEN_DATA_DIR", str(tmp_path / "empty"))
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["opendata"] == dict.fromkeys(("zfe", "cerema", "datex2"), "contrôles intégrés")


def test_a_private_key_readable_by_others_makes_it_not_ready(client, web_world) -> None:
    key = next((Path(web_world.settings.keys_dir) / AUTHORITY_CODE / "private").glob("*.pem"))
    key.chmod(0o644)
    body = _not_ready(client, web_world, ["cles"])
    assert "clés de signature" in body["detail"]
    key.chmod(0o600)
    assert client.get("/readyz").status_code == 200


def test_missing_keys_make_it_not_ready(client, web_world) -> None:
    folder = Path(web_world.settings.keys_dir) / AUTHORITY_CODE
    folder.rename(folder.with_name("elsewhere"))
    _not_ready(client, web_world, ["cles", "paquet_de_confiance"])


def test_a_stale_bundle_makes_it_not_ready(client, web_world) -> None:
    web_world.clock.advance(timedelta(days=1, hours=2))  # republished after a day (max age 3 days / 3) + 1 h
    body = _not_ready(client, web_world, ["paquet_de_confiance"])
    assert "paquet de confiance absent ou périmé" in body["detail"]


def test_a_database_behind_the_code_makes_it_not_ready(client, web_world) -> None:
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    downgrade(web_world.settings.database_url, scripts.get_revision(expected_heads()[0]).down_revision)
    _not_ready(client, web_world, ["migrations"])


def test_polling_opens_the_bundle_once_per_seq_and_never_signs(client, web_world, monkeypatch) -> None:
    opened = []
    real = KeyStore.latest_bundle

    def counting(self):  # type: ignore[no-untyped-def]
        opened.append(self.path)
        return real(self)

    def no_signing(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("/readyz must not build or sign a bundle")

    monkeypatch.setattr(KeyStore, "latest_bundle", counting)
    monkeypatch.setattr(KeyStore, "build_bundle", no_signing)
    monkeypatch.setattr(KeyStore, "root_key", no_signing)
    for _ in range(5):
        assert client.get("/readyz").status_code == 200
    assert len(opened) == 1
