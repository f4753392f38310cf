"""Web hardening (issue 9): security headers and CSP, upload limits and content sniffing, sessions
and CSRF, refusal of default secrets, private key files.

Other tests of the same items: tests/web/test_basics.py (CSRF on sign-in, login rate limit),
tests/web/test_api.py (per-token rate limit), tests/web/test_accounts.py (forgotten-password rate
limit), tests/web/test_scanner.py (CSRF on the scanner's check upload), tests/unit/test_documents_settings.py
(default secret refused by Settings), tests/e2e/test_csp.py (no CSP violation in Chromium).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from litestar.testing import TestClient

from cirqliz.db.models import SupportingDocument, Vehicle, Zone
from cirqliz.demo.seed import AUTHORITY_CODE
from cirqliz.issuance.keystore import KeyStore
from cirqliz.passcode.errors import KeyStoreError
from cirqliz.settings import DEFAULT_SECRET_KEY, Settings, SettingsError
from cirqliz.web.app import create_app
from cirqliz.web.security import content_security_policy, tile_origin

from .conftest import csrf_token, login, post_form
from .test_organiser import _create_event
from .test_professional import apply, count, new_application, run_db, visible

TEMPLATES = Path(__file__).parents[2] / "cirqliz" / "web" / "templates"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 40
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
HTML = b"<html><body><script>alert(document.cookie)</script></body></html>"


def csp_directives(response) -> dict[str, list[str]]:
    """The Content-Security-Policy of a response, by directive."""
    policy = response.headers["content-security-policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


# ---- 1. security headers -------------------------------------------------------------------------


@pytest.mark.parametrize(("who", "url"), [
    ("anonymous", "/"), ("anonymous", "/connexion"), ("anonymous", "/page-inconnue"), ("anonymous", "/schema"),
    ("anonymous", "/static/css/app.css"), ("pro", "/pro"), ("admin", "/autorite/zones"),
    ("organiser", "/organisateur"), ("agent", "/scan"),
])
def test_security_headers_on_every_response(client: TestClient, who: str, url: str) -> None:
    if who != "anonymous":
        login(client, who)
    response = client.get(url)
    assert response.status_code in (200, 404)
    csp = csp_directives(response)
    assert "'unsafe-inline'" not in response.headers["content-security-policy"]
    assert "'unsafe-eval'" not in response.headers["content-security-policy"]
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'", "'wasm-unsafe-eval'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["img-src"] == ["'self'", "data:", "blob:", "https://tile.openstreetmap.org"]
    assert csp["connect-src"] == ["'self'"] and csp["worker-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"] and csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'self'"] and csp["form-action"] == ["'self'"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["x-frame-options"] == "DENY"
    assert "camera=(self)" in response.headers["permissions-policy"]
    assert "geolocation=(self)" in response.headers["permissions-policy"]
    assert "strict-transport-security" not in response.headers  # off by default (development)


@pytest.mark.parametrize(("method", "url"), [
    ("POST", "/api/v1/verify"), ("GET", "/api/v1/passes"), ("GET", "/api/v1/inconnu"),
])
def test_api_answers_carry_the_rest_security_headers(client: TestClient, method: str, url: str) -> None:
    """JSON answers under /api/ (refusals included): nothing sniffed, framed, loaded or cached; the
    pages' long policy and their browser-feature headers are not sent there."""
    response = client.request(method, url, json={})
    assert response.status_code in (401, 404), response.text
    assert response.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-request-id"]
    for page_only in ("referrer-policy", "permissions-policy", "cross-origin-opener-policy", "x-frame-options"):
        assert page_only not in response.headers, page_only


def test_hsts_when_configured(web_world) -> None:
    settings = Settings.from_env({"CIRQLIZ_HSTS_SECONDS": "31536000", "CIRQLIZ_SECRET_KEY": "x" * 32,
                                  "CIRQLIZ_DATABASE_URL": web_world.settings.database_url,
                                  "CIRQLIZ_KEYS_DIR": web_world.settings.keys_dir,
                                  "CIRQLIZ_SCHEDULER_ENABLED": "0"})
    assert settings.hsts_seconds == 31536000
    with TestClient(create_app(settings)) as client:
        assert client.get("/").headers["strict-transport-security"] == "max-age=31536000"
        assert client.get("/api/v1/passes").headers["strict-transport-security"] == "max-age=31536000"
    with pytest.raises(SettingsError, match="CIRQLIZ_HSTS_SECONDS"):
        Settings(hsts_seconds=-1)


@pytest.mark.parametrize(("tile_url", "origin"), [
    ("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "https://tile.openstreetmap.org"),
    ("https://{s}.tiles.example.org:8443/{z}/{x}/{y}.png", "https://*.tiles.example.org:8443"),
    ("", ""),
    ("/tuiles/{z}/{x}/{y}.png", ""),  # tiles served by this site: 'self' covers them
])
def test_the_tile_host_is_the_only_foreign_image_source(tile_url: str, origin: str) -> None:
    assert tile_origin(tile_url) == origin
    img = next(p for p in content_security_policy(Settings(tile_url=tile_url)).split("; ") if p.startswith("img-src"))
    assert img.split()[1:] == ["'self'", "data:", "blob:", *([origin] if origin else [])]


INLINE_PATTERNS = {
    "inline <script> (no src, not a JSON data block)": re.compile(
        r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I),
    "<style> element": re.compile(r"<style\b", re.I),
    "style= attribute": re.compile(r"\sstyle\s*=", re.I),
    "on*= event handler": re.compile(r"<[^>]+\son[a-z]+\s*=", re.I),
    "javascript: URL": re.compile(r"javascript:", re.I),
}


def test_no_inline_script_style_or_handler_in_any_template() -> None:
    found = []
    for template in sorted(TEMPLATES.rglob("*.html")):
        text = template.read_text(encoding="utf-8")
        found += [f"{template.relative_to(TEMPLATES)}: {what}" for what, pattern in INLINE_PATTERNS.items()
                  if pattern.search(text)]
    assert not found, "the CSP would block these:\n" + "\n".join(found)
    # The scan finds what it looks for (so it can fail).
    assert INLINE_PATTERNS["on*= event handler"].search('<button type="button" onclick="window.print()">')
    assert INLINE_PATTERNS["inline <script> (no src, not a JSON data block)"].search("<script>alert(1)</script>")
    assert not INLINE_PATTERNS["inline <script> (no src, not a JSON data block)"].search(
        '<script src="/static/x.js" defer></script><script type="application/json" id="d">{}</script>')


def test_printable_and_phone_passes_have_no_inline_code(client: TestClient, web_world) -> None:
    from .test_professional import approve, submitted_application

    login(client, "pro")
    issued = approve(web_world, submitted_application(client))
    for url in (f"/pro/laissez-passer/{issued.id}/imprimer", f"/pro/laissez-passer/{issued.id}/imprimer?format=A5",
                f"/pro/laissez-passer/{issued.id}/telephone", "/schema"):
        page = client.get(url)
        assert page.status_code == 200, url
        bad = [what for what, pattern in INLINE_PATTERNS.items() if pattern.search(page.text)]
        assert not bad, f"{url}: {bad}"
        for asset in re.findall(r'(?:src|href)="(/(?:static|vendor)/[^"]+)"', page.text):
            assert client.get(asset).status_code == 200, asset


# ---- 2. uploads: size limits ---------------------------------------------------------------------


def _documents(web_world) -> list[Path]:
    folder = Path(web_world.settings.documents_dir)
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_oversize_documents_get_413_in_french_and_nothing_is_stored(client: TestClient, web_world) -> None:
    login(client, "pro")
    app_id = new_application(client)
    big = b"%PDF-" + b"0" * (51 * 1024 * 1024)  # over 5 documents of 10 MiB plus the form
    response = post_form(client, f"/pro/demandes/{app_id}/justificatifs",
                         files=[("documents", ("gros.pdf", big, "application/pdf"))])
    assert response.status_code == 413
    assert "Envoi trop volumineux" in visible(response.text) and "Rien n'a été enregistré" in visible(response.text)
    assert count(web_world, SupportingDocument) == 0 and not _documents(web_world)


@pytest.mark.parametrize(("who", "url", "field", "limit_mb"), [
    ("admin", "/autorite/zones/nouvelle", "geometry_file", 6),
    ("admin", "/autorite/import", "file", 21),
    ("admin", "/autorite/evenements/import", "file", 8),
    ("organiser", "/organisateur/evenements/{event}/laissez-passer", "csv_file", 6),
    ("organiser", "/organisateur/evenements/{event}/zones", "geometry_file", 6),
    ("organiser", "/organisateur/evenements/{event}/import", "perimeters_file", 6),
    ("pro", "/pro/vehicules/nouveau", "plate", 1),  # an ordinary form: the application-wide limit
    ("organiser", "/organisateur/evenements", "name", 1),
])
def test_every_upload_route_has_a_limit_with_a_french_413(client: TestClient, web_world, who: str, url: str,
                                                          field: str, limit_mb: int) -> None:
    login(client, who)
    if "{event}" in url:
        url = url.format(event=_create_event(client))
    zones, vehicles = count(web_world, Zone), count(web_world, Vehicle)
    body = b"a" * (limit_mb * 1024 * 1024 + 1)
    if field in ("plate", "name"):
        response = post_form(client, url, {field: body.decode()})
    else:
        response = post_form(client, url, {"format": "zfe"}, files={field: ("gros.txt", body, "text/plain")})
    assert response.status_code == 413, url
    message = visible(response.text)
    assert f"Envoi trop volumineux : au plus {limit_mb} Mo pour cette page. Rien n'a été enregistré." in message
    assert (count(web_world, Zone), count(web_world, Vehicle)) == (zones, vehicles)


def test_a_413_for_the_api_is_json_in_french(client: TestClient, web_world) -> None:
    from .test_api import _auth, _token

    response = client.post("/api/v1/verify", content=b"{" + b" " * (1024 * 1024 + 1) + b"}",
                           headers={"content-type": "application/json", **_auth(_token(web_world))})
    assert response.status_code == 413
    assert response.json()["code"] == "too_large" and "Envoi trop volumineux" in response.json()["detail"]


# ---- 2. uploads: content sniffing ----------------------------------------------------------------


@pytest.mark.parametrize(("name", "declared", "content", "message"), [
    ("carte.pdf", "application/pdf", HTML, "type de fichier refusé : le contenu n'est ni un PDF"),
    ("carte.pdf", "application/pdf", PNG, "le contenu du fichier (image/png) ne correspond pas au type déclaré"),
    ("carte.png", "image/png", b"GIF89a" + b"\x00" * 20, "type de fichier refusé : le contenu n'est ni un PDF"),
    ("page.html", "text/html", HTML, "type de fichier refusé : le contenu n'est ni un PDF"),
    ("outil.exe", "application/octet-stream", b"MZ\x90\x00" * 10, "type de fichier refusé"),
])
def test_documents_are_judged_by_their_bytes(client: TestClient, web_world, name, declared, content,
                                             message) -> None:
    login(client, "pro")
    response = apply(client, files=[("documents", (name, content, declared))])
    assert response.status_code == 422
    assert f"{name} : {message}" in visible(response.text)
    assert count(web_world, SupportingDocument) == 0 and not _documents(web_world)


def test_a_real_image_under_a_misleading_name_is_stored_and_served_as_what_it_is(client: TestClient,
                                                                                 web_world) -> None:
    login(client, "pro")
    app_id = new_application(client)
    response = post_form(client, f"/pro/demandes/{app_id}/justificatifs",
                         files=[("documents", ("scan.html", PNG, "application/octet-stream"))],
                         follow_redirects=False)
    assert response.status_code == 303, visible(response.text)

    async def stored(session):
        from sqlmodel import select
        return (await session.exec(select(SupportingDocument))).one()

    document = run_db(web_world, stored)
    assert document.content_type == "image/png" and document.filename == "scan.html.png"
    download = client.get(f"/pro/justificatifs/{document.id}")
    assert download.status_code == 200 and download.content == PNG
    assert download.headers["content-type"] == "image/png"
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-disposition"].startswith("attachment;")

    # Bytes changed on disk behind the application's back: never served as what the row says.
    [path] = _documents(web_world)
    path.write_bytes(HTML)
    tampered = client.get(f"/pro/justificatifs/{document.id}")
    assert tampered.headers["content-type"] == "application/octet-stream"
    assert tampered.headers["content-disposition"].startswith("attachment;")


def test_authority_download_has_the_sniffed_type(client: TestClient, web_world) -> None:
    from .test_professional import submitted_application

    login(client, "pro")
    app_id = submitted_application(client, files=[("documents", ("kbis.pdf", PDF, "application/pdf"))])
    post_form(client, "/deconnexion")
    login(client, "reviewer")
    page = client.get(f"/autorite/demandes/{app_id}")
    url = re.search(rf'/autorite/demandes/{app_id}/justificatifs/[0-9a-f-]{{36}}', page.text).group(0)
    response = client.get(url)
    assert response.status_code == 200 and response.content == PDF
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["x-content-type-options"] == "nosniff"
    [path] = _documents(web_world)
    path.write_bytes(HTML)
    assert client.get(url).headers["content-type"] == "application/octet-stream"


BINARY = b"plaque;categorie\nAB-999-ZZ;N1\n\x00\x01\x02\x03"
NOT_UTF8 = '{"type": "Feature", "properties": {"nom": "Îlot"}}'.encode("utf-16")[2:]  # no BOM: looks like text


@pytest.mark.parametrize(("who", "url", "field", "data", "content", "message"), [
    ("pro", "/pro/vehicules/import", "fichier", {}, BINARY, "fichier CSV refusé : c'est un fichier binaire"),
    ("admin", "/autorite/zones/nouvelle", "geometry_file", {"name": "Z", "kind": "pedestrian", "permanent": "1"},
     b'{"type": "Feature", "geometry": null}\x00', "fichier GeoJSON refusé : c'est un fichier binaire"),
    ("admin", "/autorite/zones/nouvelle", "geometry_file", {"name": "Z", "kind": "pedestrian", "permanent": "1"},
     '{"type": "Feature", "nom": "Îlot"}'.encode("latin-1"), "fichier GeoJSON refusé : ce n'est pas du texte UTF-8"),
    ("admin", "/autorite/import", "file", {"format": "zfe"}, NOT_UTF8, "fichier refusé : c'est un fichier binaire"),
    ("admin", "/autorite/import", "file", {"format": "cerema"}, "nom;commune\nÎlot;Lyon\n".encode("cp1252"),
     "fichier refusé : ce n'est pas du texte UTF-8"),
    ("admin", "/autorite/evenements/import", "file", {"format": "ical"}, b"BEGIN:VCALENDAR\r\n\x00\x00",
     "fichier refusé : c'est un fichier binaire"),
    ("organiser", "/organisateur/evenements/{event}/laissez-passer", "csv_file", {}, BINARY,
     "fichier CSV refusé : c'est un fichier binaire"),
    ("organiser", "/organisateur/evenements/{event}/import", "perimeters_file", {}, b"\xff\xfe{\x00}\x00",
     "fichier GeoJSON refusé"),
])
def test_text_uploads_refuse_binary_and_non_utf8_files(client: TestClient, web_world, who, url, field, data,
                                                       content, message) -> None:
    login(client, who)
    if "{event}" in url:
        url = url.format(event=_create_event(client))
    zones, vehicles = count(web_world, Zone), count(web_world, Vehicle)
    response = post_form(client, url, data, files={field: ("fichier.txt", content, "text/plain")})
    assert response.status_code == 422, visible(response.text)
    assert message in visible(response.text)
    assert (count(web_world, Zone), count(web_world, Vehicle)) == (zones, vehicles)


def test_a_cp1252_fleet_file_from_a_spreadsheet_is_still_accepted(client: TestClient, web_world) -> None:
    login(client, "pro")
    before = count(web_world, Vehicle)
    text = "plaque;categorie;critair;energie\nXY-321-ZT;N1;0;électrique\n".encode("cp1252")
    response = post_form(client, "/pro/vehicules/import", files={"fichier": ("flotte.csv", text, "text/csv")})
    assert response.status_code == 200, visible(response.text)
    assert count(web_world, Vehicle) == before + 1


# ---- 3. sessions and CSRF ------------------------------------------------------------------------


def _session(client: TestClient) -> object | None:
    """The session cookie (with its domain and path) in a client's jar."""
    found = [c for c in client.cookies.jar if c.name == "cirqliz_session" and c.value not in ("", "null")]
    return found[-1] if found else None


def _plant(client: TestClient, cookie: object) -> None:
    client.cookies.clear()
    client.cookies.set(cookie.name, cookie.value, domain=cookie.domain, path=cookie.path)


def test_sign_in_gives_a_new_session_and_sign_out_kills_it(web_world) -> None:
    with TestClient(web_world.app) as victim, TestClient(web_world.app) as attacker, \
            TestClient(web_world.app) as thief:
        # Fixation: the attacker plants a session cookie of their own in the victim's browser.
        login(attacker, "other_pro")
        planted = _session(attacker)
        assert planted is not None
        _plant(victim, planted)
        assert "Olivier Autre" in victim.get("/pro").text
        login(victim, "pro")
        signed_in = _session(victim)
        assert signed_in is not None and signed_in.value != planted.value  # a new session at sign-in...
        assert "Paul Pro" in victim.get("/pro").text
        page = attacker.get("/pro").text  # ...and the planted one does not carry the victim
        assert "Olivier Autre" in page and "Paul Pro" not in page

        # A copy of the signed-in cookie works... until the victim signs out.
        _plant(thief, signed_in)
        assert thief.get("/pro", follow_redirects=False).status_code == 200
        post_form(victim, "/deconnexion", follow_redirects=False)
        assert _session(victim) is None  # the cookie is cleared
        assert victim.get("/pro", follow_redirects=False).status_code == 303
        assert thief.get("/pro", follow_redirects=False).status_code == 303
        # Another sign-in is a new session, not the signed-out one.
        login(victim, "pro")
        assert _session(victim).value not in (signed_in.value, planted.value)
        assert victim.get("/pro", follow_redirects=False).status_code == 200
        assert attacker.get("/pro", follow_redirects=False).status_code == 200  # other sessions untouched


CSRF_FORMS = [
    ("pro", "/pro/vehicules/nouveau", {"plate": "AB-321-CD", "category": "N1"}),
    ("pro", "/pro/demandes/nouvelle", {"action": "verifier"}),
    ("pro", "/pro/equipe", {"email": "collegue@example.org"}),
    ("pro", "/pro/api", {"name": "flotte"}),
    ("admin", "/autorite/zones/nouvelle", {"name": "Z"}),
    ("admin", "/autorite/import", {"format": "zfe"}),
    ("admin", "/autorite/equipe", {"email": "collegue@example.org"}),
    ("reviewer", "/autorite/demandes/acceptation-groupee", {}),
    ("organiser", "/organisateur/evenements", {"name": "Fête"}),
    ("anonymous", "/inscription", {"email": "x@example.org"}),
    ("anonymous", "/mot-de-passe-oublie", {"email": "x@example.org"}),
    ("agent", "/deconnexion", {}),
]


@pytest.mark.parametrize(("who", "url", "data"), CSRF_FORMS, ids=[f"{w}:{u}" for w, u, _ in CSRF_FORMS])
def test_every_form_family_needs_the_csrf_token(client: TestClient, who: str, url: str, data: dict) -> None:
    if who != "anonymous":
        login(client, who)
    else:
        csrf_token(client)
    refused = client.post(url, data=data, follow_redirects=False)
    assert refused.status_code == 403, url
    forged = client.post(url, data={**data, "_csrf_token": "forged-token"}, follow_redirects=False)
    assert forged.status_code == 403, url
    accepted = post_form(client, url, data, follow_redirects=False)  # the same post with the token passes CSRF
    assert accepted.status_code != 403, url


# ---- 4. secrets and key files --------------------------------------------------------------------


def test_cirqliz_serve_refuses_to_start_in_production_with_the_default_secret(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIRQLIZ_")}
    env |= {"CIRQLIZ_ENV": "production", "CIRQLIZ_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"}
    script = Path(sys.executable).parent / "cirqliz"
    command = [str(script)] if script.exists() else [sys.executable, "-c",
                                                      "import sys; from cirqliz.cli import main; sys.exit(main())"]
    for extra in ({}, {"CIRQLIZ_SECRET_KEY": DEFAULT_SECRET_KEY}):
        result = subprocess.run([*command, "serve"], env=env | extra, capture_output=True, text=True,
                                timeout=60, check=False)
        assert result.returncode != 0
        assert "CIRQLIZ_SECRET_KEY doit être défini quand CIRQLIZ_ENV vaut 'production'" in result.stderr
        assert "Traceback" not in result.stderr and not result.stdout.strip()


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
def test_a_private_key_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    store = KeyStore.init(tmp_path / "keys", issuer="TEST")
    file = store.path / "private" / f"{store.root_kid}.pem"
    file.chmod(mode)
    with pytest.raises(KeyStoreError, match=r"lisible ou modifiable par le groupe ou les autres .*chmod 600") as info:
        store.root_key()
    assert info.value.code == "key_permissions"
    file.chmod(0o600)
    assert store.root_key()


def test_the_cli_refuses_a_group_readable_key_with_a_message(tmp_path: Path, capsys) -> None:
    from cirqliz.cli import main

    keys = tmp_path / "keys"
    assert main(["keys", "init", "--dir", str(keys), "--issuer", "TEST"]) == 0
    for file in (keys / "private").iterdir():  # keys init writes owner-only files (also tests/scheme)
        assert file.stat().st_mode & 0o777 == 0o600
        file.chmod(0o644)
    capsys.readouterr()
    assert main(["bundle", "build", "--dir", str(keys), "--out", str(tmp_path / "b.cose")]) == 1
    err = capsys.readouterr().err
    assert "lisible ou modifiable par le groupe ou les autres (mode 0644)" in err and "chmod 600" in err
    assert "Traceback" not in err and not (tmp_path / "b.cose").exists()


def test_private_keys_are_never_served(client: TestClient, web_world) -> None:
    keys = Path(web_world.settings.keys_dir)
    [private] = sorted((keys / AUTHORITY_CODE / "private").glob("*.pem"))[:1]
    kid = private.stem
    assert b"PRIVATE KEY" in private.read_bytes()
    urls = [
        f"/bundle/{AUTHORITY_CODE}/private/{kid}.pem", f"/bundle/{kid}.pem", f"/bundle/{AUTHORITY_CODE}/{kid}.pem",
        f"/bundle/..%2F{AUTHORITY_CODE}%2Fprivate%2F{kid}.pem", f"/bundle/../keys/{AUTHORITY_CODE}/private/{kid}.pem",
        f"/bundle/{AUTHORITY_CODE}%2Fprivate%2F{kid}.cose", f"/bundle/{AUTHORITY_CODE}/keyring.json",
        f"/static/../../../keys/{AUTHORITY_CODE}/private/{kid}.pem", f"/static/%2e%2e/%2e%2e/keys/{kid}.pem",
        f"/static/..%2F..%2F..%2F{private}", f"/vendor/../keys/{AUTHORITY_CODE}/private/{kid}.pem",
        f"/vendor/%2e%2e%2f%2e%2e%2f{private}", f"/keys/{AUTHORITY_CODE}/private/{kid}.pem", f"/{private}",
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 404, f"{url}: {response.status_code}"
        assert b"PRIVATE KEY" not in response.content and b"BEGIN" not in response.content, url
    # The public root key is the one key file served.
    root = client.get(f"/bundle/{AUTHORITY_CODE}/root.pem")
    assert root.status_code == 200 and b"PUBLIC KEY" in root.content and b"PRIVATE" not in root.content


def test_default_secret_is_refused_outside_development_even_through_create_app(monkeypatch) -> None:
    monkeypatch.setenv("CIRQLIZ_ENV", "production")
    monkeypatch.delenv("CIRQLIZ_SECRET_KEY", raising=False)
    with pytest.raises(SettingsError, match="CIRQLIZ_SECRET_KEY"):
        create_app()


def test_a_reviewer_reads_in_french_why_a_pass_cannot_be_signed(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from cirqliz.domain.errors import DomainError
    from cirqliz.domain.purposes import Purpose
    from cirqliz.issuance.signer import ClaimsInput
    from cirqliz.issuance.signing import KeyStoreSigner

    KeyStore.init(tmp_path / "TEST", issuer="TEST")  # its first key is pending: no bundle published yet
    now = datetime(2026, 3, 2, 8, tzinfo=UTC)
    claims = ClaimsInput(issuer="TEST", serial=b"\x01" * 8, issued_at=now, not_before=now, expires_at=now,
                         plate="AB-123-CD", zone_refs=(1,), purpose=Purpose.DELIVERY, windows=(), zone_data_version=1)
    with pytest.raises(DomainError) as refused:
        KeyStoreSigner(tmp_path).sign(claims_input=claims)
    assert refused.value.code == "no_signing_key"
    assert refused.value.message == ("signature impossible : aucune clé de signature n'est utilisable : publiez un "
                                     "paquet de confiance (cirqliz bundle build) ou créez une nouvelle clé "
                                     "(cirqliz keys rotate)")
