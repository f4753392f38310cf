"""The files the service serves as they are: /static, /vendor and supporting documents (issue 14).

- /vendor serves the few front-end package files the pages load, never the rest of node_modules
  (third-party HTML pages such as swagger-ui-dist/index.html, lock files, sources);
- /static and /vendor refuse traversal (../, %2e%2e, encoded slashes and backslashes) and odd
  paths (NUL byte, hidden files) with a French 404, never a 500 or a file from elsewhere;
- every /vendor URL our templates and scripts load is still served;
- supporting documents go out as attachments with nosniff and a sandbox policy, whatever their bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from cirqliz.db.migrate import upgrade
from cirqliz.settings import Settings
from cirqliz.web.app import create_app
from cirqliz.web.controllers.api import VIEWER
from cirqliz.web.controllers.scanner import VENDOR_FILES
from cirqliz.web.served import vendor_file_allowed

from .conftest import login, post_form

ROOT = Path(__file__).parents[2]
WEB = ROOT / "cirqliz" / "web"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
HTML = b"<html><body><script>alert(document.cookie)</script></body></html>"


@pytest.fixture(scope="module")
def files_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The application over an empty migrated database (serving files needs no data)."""
    folder = tmp_path_factory.mktemp("served")
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{folder / 'cirqliz.db'}", env="test",
        secret_key="test-secret-key-not-for-production-0123456789", keys_dir=str(folder / "keys"),
        documents_dir=str(folder / "documents"), outbox_dir=str(folder / "outbox"), scheduler_enabled=False,
    )
    upgrade(settings.database_url)
    with TestClient(create_app(settings)) as client:
        yield client


def _vendor_urls_in_the_code() -> set[str]:
    """Every /vendor/… URL written in the templates, our scripts and the Python that builds pages."""
    found = {f"/vendor/{name}" for name in VENDOR_FILES}
    found |= {f"{VIEWER}/{name}" for name in ("swagger-ui-bundle.js", "swagger-ui.css",
                                              "swagger-ui-standalone-preset.js", "favicon-32x32.png")}
    sources = [*(WEB / "templates").rglob("*.html"), *(WEB / "static").rglob("*.js"),
               *(WEB / "controllers").glob("*.py")]
    for source in sources:
        found |= set(re.findall(r"/vendor/[\w@./-]+\.(?:js|css|wasm|png)", source.read_text(encoding="utf-8")))
    return found


def test_every_vendor_file_the_pages_load_is_served(files_client: TestClient) -> None:
    urls = _vendor_urls_in_the_code()
    assert "/vendor/leaflet/dist/leaflet.js" in urls and "/vendor/zxing-wasm/dist/es/reader/index.js" in urls
    # Leaflet's CSS loads its images by relative URL; the reader module imports ../share.js.
    urls |= {"/vendor/leaflet/dist/images/layers.png", "/vendor/leaflet/dist/images/marker-icon.png",
             "/vendor/zxing-wasm/dist/es/share.js"}
    for url in sorted(urls):
        response = files_client.get(url)
        assert response.status_code == 200, f"{url}: {response.status_code}"
        assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", [
    "swagger-ui-dist/index.html",  # a third party's page (petstore demo) from our origin
    "swagger-ui-dist/oauth2-redirect.html",
    "swagger-ui-dist/oauth2-redirect.js",
    "swagger-ui-dist/swagger-initializer.js",
    "swagger-ui-dist/package.json",
    ".package-lock.json",
    "leaflet/package.json",
    "leaflet/src/images/logo.svg",
    "leaflet/src/Leaflet.js",
    "zxing-wasm/package.json",
    "@scarf/scarf/package.json",
])
def test_vendor_serves_nothing_else_from_node_modules(files_client: TestClient, path: str) -> None:
    assert (ROOT / "node_modules" / path).is_file(), f"node_modules/{path} is not installed: the test proves nothing"
    response = files_client.get(f"/vendor/{path}")
    assert response.status_code == 404, f"/vendor/{path}: {response.status_code}"
    assert "Page introuvable." in response.text


@pytest.mark.parametrize("url", [
    "/static/../../../pyproject.toml",
    "/static/%2e%2e/%2e%2e/%2e%2e/pyproject.toml",
    "/static/..%2F..%2F..%2Fpyproject.toml",
    "/static/%2E%2E%2F%2E%2E%2F%2E%2E%2Fpyproject.toml",
    "/static/%252e%252e/%252e%252e/%252e%252e/pyproject.toml",
    "/static/..%5c..%5c..%5cpyproject.toml",
    "/static/%2Fetc%2Fpasswd",
    "/static//etc/passwd",
    "/static/css/app.css%00.html",
    "/static/css/%00app.css",
    "/static/css/.hidden",
    "/vendor/%2e%2e/pyproject.toml",
    "/vendor/leaflet/dist/%2e%2e/%2e%2e/%2e%2e/pyproject.toml",
    "/vendor/leaflet/dist/..%2F..%2F..%2Fpyproject.toml",
    "/vendor/leaflet/dist/%00leaflet.js",
    "/vendor/leaflet/dist/leaflet.js%00.html",
])
def test_no_path_leaves_the_served_folders(files_client: TestClient, url: str) -> None:
    response = files_client.get(url)
    assert response.status_code == 404, f"{url}: {response.status_code}"
    assert "Page introuvable." in response.text
    assert b"[project]" not in response.content and b"root:" not in response.content


@pytest.mark.parametrize("path", ["swagger-ui-dist/index.html", "leaflet/dist/leaflet.js\x00", "leaflet/dist/../../x",
                                  "leaflet/dist/.x/a.js", "leaflet/dist\\..\\..\\x", "leaflet", ""])
def test_the_vendor_rule_refuses_odd_paths(path: str) -> None:
    assert not vendor_file_allowed(path)


def _download_headers(response) -> None:
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["x-content-type-options"] == "nosniff"
    policy = response.headers["content-security-policy"]
    assert "sandbox" in policy and "default-src 'none'" in policy, policy


def test_documents_are_attachments_in_a_sandbox_even_when_their_bytes_are_html(client: TestClient, web_world) -> None:
    """Downloads by the company and by the reviewer: a file changed behind the application's back into
    HTML (or an SVG) still goes out as an attachment, of no type a browser runs, with no origin of ours."""
    from .test_professional import submitted_application

    login(client, "pro")
    app_id = submitted_application(client, files=[("documents", ("kbis.pdf", PDF, "application/pdf"))])
    page = client.get(f"/pro/demandes/{app_id}").text
    pro_url = re.search(r"/pro/justificatifs/[0-9a-f-]{36}", page).group(0)
    pro = client.get(pro_url)
    _download_headers(pro)
    assert pro.headers["content-type"] == "application/pdf" and pro.content == PDF
    post_form(client, "/deconnexion")
    login(client, "reviewer")
    page = client.get(f"/autorite/demandes/{app_id}").text
    authority_url = re.search(rf"/autorite/demandes/{app_id}/justificatifs/[0-9a-f-]{{36}}", page).group(0)
    _download_headers(client.get(authority_url))

    [stored] = [p for p in Path(web_world.settings.documents_dir).rglob("*") if p.is_file()]
    for hostile in (HTML, b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'):
        stored.write_bytes(hostile)
        response = client.get(authority_url)
        _download_headers(response)
        assert response.headers["content-type"] == "application/octet-stream"
    post_form(client, "/deconnexion")
    login(client, "pro")
    response = client.get(pro_url)
    _download_headers(response)
    assert response.headers["content-type"] == "application/octet-stream"


def test_a_storage_key_that_leads_out_of_the_documents_folder_serves_nothing(client: TestClient, web_world,
                                                                             tmp_path: Path) -> None:
    """Keys come from the database: a row edited to name another file is a 404 for the company and
    the reviewer alike, never that file."""
    from sqlmodel import select

    from cirqliz.db.models import SupportingDocument

    from .mailbox import in_db
    from .test_professional import submitted_application

    secret = tmp_path / "secret.pdf"
    secret.write_bytes(PDF)
    login(client, "pro")
    app_id = submitted_application(client, files=[("documents", ("kbis.pdf", PDF, "application/pdf"))])
    pro_url = re.search(r"/pro/justificatifs/[0-9a-f-]{36}", client.get(f"/pro/demandes/{app_id}").text).group(0)
    for key in ("../../secret.pdf", str(secret)):
        async def point_elsewhere(session, key=key):
            for document in (await session.exec(select(SupportingDocument))).all():
                document.storage_key = key
                session.add(document)

        in_db(web_world, point_elsewhere)
        response = client.get(pro_url)
        assert response.status_code == 404 and response.content != PDF
