"""Who may reach what: every route of the application, every role, one expected status.

`MATRIX` has one entry per (method, path template) of `app.routes` (OPTIONS and HEAD aside): the
URL to call (demo ids from cirqliz.demo.seed, or random ids for "not found") and the status
expected for each role. A route without an entry fails `test_every_route_has_an_entry`, which
lists the missing routes as ready-to-fill lines: add new routes here when you add them.

Conventions: anonymous requests to protected pages answer 303 to /connexion, the API answers 401
without a bearer token (a session cookie is not a token), a signed-in user without the role gets
403. POSTs carry a valid CSRF token and an empty form, so an allowed role reaches the handler and
gets its validation answer (400/404/422…) without changing anything important.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from cirqliz.demo.seed import AUTHORITY_CODE, USER_IDS, VEHICLES, ZONE_IDS

from .conftest import csrf_token, login
from .mailbox import outbox_web_world  # noqa: F401 (fixture `web_world`: outbox in tmp)

ROLES = ("anonymous", "pro", "other_pro", "reviewer", "admin", "agent", "organiser")
IGNORED_METHODS = {"OPTIONS", "HEAD"}

MY_VEHICLE = VEHICLES[0][0]  # Transports Exemple's AB-123-CD: "other_pro" gets 404
PARIS = ZONE_IDS["PARIS-CENTRE"]
NOWHERE = uuid.UUID("00000000-0000-4000-9000-0000000000ff")  # no row has this id
SERIAL = "00000000000000FF"
TOKEN = "jeton-inconnu.AAAA"


def everyone(status: int) -> dict[str, int]:
    """The same status for every role (public routes)."""
    return dict.fromkeys(ROLES, status)


def only(*allowed: str, ok: int = 200, anonymous: int = 303, others: int = 403, **special: int) -> dict[str, int]:
    """`ok` for the allowed roles, 303 (to /connexion) for anonymous, 403 for the other roles."""
    table = {role: others for role in ROLES}
    table["anonymous"] = anonymous
    table.update(dict.fromkeys(allowed, ok))
    table.update(special)
    return table


def api_without_token() -> dict[str, int]:
    """The API needs a bearer token whatever the session: 401 for everyone here."""
    return everyone(401)


PRO = ("pro", "other_pro")
REVIEW = ("reviewer", "admin")
SIGNED_IN = ROLES[1:]

# (method, path template) -> (URL to call, expected status per role)
MATRIX: dict[tuple[str, str], tuple[str, dict[str, int]]] = {
    # ---- public and session ----
    ("GET", "/"): ("/", everyone(200)),
    ("GET", "/mentions-legales"): ("/mentions-legales", everyone(200)),
    ("GET", "/accessibilite"): ("/accessibilite", everyone(200)),
    ("GET", "/donnees-personnelles"): ("/donnees-personnelles", everyone(200)),
    ("GET", "/contact"): ("/contact", everyone(200)),
    ("GET", "/favicon.ico"): ("/favicon.ico", everyone(200)),
    ("GET", "/connexion"): ("/connexion", everyone(200)),
    ("POST", "/connexion"): ("/connexion", everyone(400)),
    ("POST", "/deconnexion"): ("/deconnexion", only(*SIGNED_IN, ok=303)),
    ("GET", "/moi"): ("/moi", only(*SIGNED_IN, ok=303)),
    ("GET", "/moi/session"): ("/moi/session", only(*SIGNED_IN)),
    ("GET", "/healthz"): ("/healthz", everyone(200)),
    # Prometheus: loopback or CIRQLIZ_METRICS_TOKEN only; the test client is neither (tests/web/test_metrics.py).
    ("GET", "/metrics"): ("/metrics", everyone(403)),
    ("GET", "/readyz"): ("/readyz", everyone(200)),
    ("GET", "/static/{file_path:path}"): ("/static/css/app.css", everyone(200)),
    ("GET", "/vendor/{file_path:path}"): ("/vendor/swagger-ui-dist/swagger-ui.css", everyone(200)),
    ("GET", "/schema"): ("/schema", everyone(200)),
    ("GET", "/schema/openapi.json"): ("/schema/openapi.json", everyone(200)),
    ("GET", "/schema/{path:str}"): ("/schema/redoc", everyone(404)),
    # ---- accounts ----
    ("GET", "/inscription"): ("/inscription", everyone(200)),
    ("POST", "/inscription"): ("/inscription", everyone(400)),
    ("GET", "/mot-de-passe-oublie"): ("/mot-de-passe-oublie", everyone(200)),
    ("POST", "/mot-de-passe-oublie"): ("/mot-de-passe-oublie", everyone(200)),
    ("GET", "/mot-de-passe/{token:str}"): (f"/mot-de-passe/{TOKEN}", everyone(400)),
    ("POST", "/mot-de-passe/{token:str}"): (f"/mot-de-passe/{TOKEN}", everyone(400)),
    ("GET", "/invitation/{token:str}"): (f"/invitation/{TOKEN}", everyone(400)),
    ("POST", "/invitation/{token:str}"): (f"/invitation/{TOKEN}", everyone(400)),
    ("GET", "/pro/equipe"): ("/pro/equipe", only(*PRO)),
    ("POST", "/pro/equipe"): ("/pro/equipe", only(*PRO, ok=400)),
    ("GET", "/autorite/equipe"): ("/autorite/equipe", only("admin")),
    ("POST", "/autorite/equipe"): ("/autorite/equipe", only("admin", ok=400)),
    ("GET", "/pro/equipe/{user_id:uuid}/retirer"): (f"/pro/equipe/{NOWHERE}/retirer", only(*PRO, ok=404)),
    ("POST", "/pro/equipe/{user_id:uuid}/retirer"): (f"/pro/equipe/{NOWHERE}/retirer", only(*PRO, ok=404)),
    ("GET", "/autorite/equipe/{user_id:uuid}/retirer"): (f"/autorite/equipe/{NOWHERE}/retirer", only("admin", ok=404)),
    ("POST", "/autorite/equipe/{user_id:uuid}/retirer"): (
        f"/autorite/equipe/{NOWHERE}/retirer", only("admin", ok=404)),
    ("POST", "/pro/equipe/invitations/{invitation_id:uuid}/annuler"): (
        f"/pro/equipe/invitations/{NOWHERE}/annuler", only(*PRO, ok=404)),
    ("POST", "/autorite/equipe/invitations/{invitation_id:uuid}/annuler"): (
        f"/autorite/equipe/invitations/{NOWHERE}/annuler", only("admin", ok=404)),
    # ---- the authority's organisers (issue 15) ----
    ("GET", "/autorite/organisateurs"): ("/autorite/organisateurs", only("admin")),
    ("POST", "/autorite/organisateurs"): ("/autorite/organisateurs", only("admin", ok=422)),
    ("GET", "/autorite/organisateurs/{organiser_id:uuid}"): (
        f"/autorite/organisateurs/{NOWHERE}", only("admin", ok=404)),
    ("POST", "/autorite/organisateurs/{organiser_id:uuid}/invitations"): (
        f"/autorite/organisateurs/{NOWHERE}/invitations", only("admin", ok=404)),
    ("POST", "/autorite/organisateurs/{organiser_id:uuid}/invitations/{invitation_id:uuid}/annuler"): (
        f"/autorite/organisateurs/{NOWHERE}/invitations/{NOWHERE}/annuler", only("admin", ok=404)),
    ("GET", "/pro/api"): ("/pro/api", only(*PRO)),
    ("POST", "/pro/api"): ("/pro/api", only(*PRO, ok=400)),
    ("POST", "/pro/api/{token_id:uuid}/revoquer"): (f"/pro/api/{NOWHERE}/revoquer", only(*PRO, ok=404)),
    ("GET", "/dev/outbox"): ("/dev/outbox", everyone(404)),  # development and loopback only: test_security_accounts.py
    # ---- API (bearer tokens; see test_api.py for 403 and scoping) ----
    ("POST", "/api/v1/applications"): ("/api/v1/applications", api_without_token()),
    ("GET", "/api/v1/applications/{application_id:uuid}"): (f"/api/v1/applications/{NOWHERE}", api_without_token()),
    ("GET", "/api/v1/passes"): ("/api/v1/passes", api_without_token()),
    ("GET", "/api/v1/passes/{ref:str}"): (f"/api/v1/passes/{SERIAL}.png", api_without_token()),
    ("ASGI", "/api/v1/verify"): ("/api/v1/verify", api_without_token()),  # a plain ASGI handler, probed with POST
    # ---- professional area ----
    ("GET", "/pro"): ("/pro", only(*PRO)),
    ("GET", "/pro/vehicules"): ("/pro/vehicules", only(*PRO)),
    ("GET", "/pro/vehicules/nouveau"): ("/pro/vehicules/nouveau", only(*PRO)),
    ("POST", "/pro/vehicules/nouveau"): ("/pro/vehicules/nouveau", only(*PRO, ok=422)),
    ("GET", "/pro/vehicules/{vehicle_id:uuid}/modifier"): (
        f"/pro/vehicules/{MY_VEHICLE}/modifier", only(*PRO, other_pro=404)),
    ("POST", "/pro/vehicules/{vehicle_id:uuid}/modifier"): (
        f"/pro/vehicules/{MY_VEHICLE}/modifier", only(*PRO, ok=422, other_pro=404)),
    ("GET", "/pro/vehicules/import"): ("/pro/vehicules/import", only(*PRO)),
    ("POST", "/pro/vehicules/import"): ("/pro/vehicules/import", only(*PRO, ok=422)),
    ("GET", "/pro/vehicules/modele.csv"): ("/pro/vehicules/modele.csv", only(*PRO)),
    ("GET", "/pro/demandes"): ("/pro/demandes", only(*PRO)),
    ("GET", "/pro/demandes/nouvelle"): ("/pro/demandes/nouvelle", only(*PRO)),
    ("POST", "/pro/demandes/nouvelle"): ("/pro/demandes/nouvelle", only(*PRO, ok=422)),
    ("GET", "/pro/demandes/{application_id:uuid}"): (f"/pro/demandes/{NOWHERE}", only(*PRO, ok=404)),
    ("GET", "/pro/demandes/{application_id:uuid}/modifier"): (
        f"/pro/demandes/{NOWHERE}/modifier", only(*PRO, ok=404)),
    ("POST", "/pro/demandes/{application_id:uuid}/modifier"): (
        f"/pro/demandes/{NOWHERE}/modifier", only(*PRO, ok=404)),
    ("POST", "/pro/demandes/{application_id:uuid}/deposer"): (
        f"/pro/demandes/{NOWHERE}/deposer", only(*PRO, ok=404)),
    ("POST", "/pro/demandes/{application_id:uuid}/completer"): (
        f"/pro/demandes/{NOWHERE}/completer", only(*PRO, ok=404)),
    ("POST", "/pro/demandes/{application_id:uuid}/justificatifs"): (
        f"/pro/demandes/{NOWHERE}/justificatifs", only(*PRO, ok=404)),
    ("POST", "/pro/demandes/{application_id:uuid}/retirer"): (
        f"/pro/demandes/{NOWHERE}/retirer", only(*PRO, ok=404)),
    ("GET", "/pro/justificatifs/{document_id:uuid}"): (f"/pro/justificatifs/{NOWHERE}", only(*PRO, ok=404)),
    ("GET", "/pro/laissez-passer"): ("/pro/laissez-passer", only(*PRO)),
    ("GET", "/pro/laissez-passer/sw.js"): ("/pro/laissez-passer/sw.js", everyone(200)),
    ("GET", "/pro/laissez-passer/{ref:str}"): (f"/pro/laissez-passer/{SERIAL}", only(*PRO, ok=404)),
    ("GET", "/pro/laissez-passer/{ref:str}/imprimer"): (
        f"/pro/laissez-passer/{SERIAL}/imprimer", only(*PRO, ok=404)),
    ("GET", "/pro/laissez-passer/{ref:str}/telephone"): (
        f"/pro/laissez-passer/{SERIAL}/telephone", only(*PRO, ok=404)),
    ("POST", "/pro/laissez-passer/{ref:str}/renouveler"): (
        f"/pro/laissez-passer/{SERIAL}/renouveler", only(*PRO, ok=404)),
    ("GET", "/pro/laissez-passer/{ref:str}/wallet.pkpass"): (
        f"/pro/laissez-passer/{SERIAL}/wallet.pkpass", only(*PRO, ok=404)),
    ("GET", "/pro/laissez-passer/{ref:str}/google-wallet"): (
        f"/pro/laissez-passer/{SERIAL}/google-wallet", only(*PRO, ok=404)),
    # ---- authority back office ----
    ("GET", "/autorite"): ("/autorite", only(*REVIEW)),
    ("GET", "/autorite/tableau-de-bord/{file:str}"): (
        "/autorite/tableau-de-bord/demandes-par-jour.csv?periode=30", only(*REVIEW)),
    ("GET", "/autorite/zones"): ("/autorite/zones", only("admin")),
    ("GET", "/autorite/zones/nouvelle"): ("/autorite/zones/nouvelle", only("admin")),
    ("POST", "/autorite/zones/nouvelle"): ("/autorite/zones/nouvelle", only("admin", ok=422)),
    ("GET", "/autorite/zones/{zone_id:uuid}"): (f"/autorite/zones/{PARIS}", only("admin")),
    ("POST", "/autorite/zones/{zone_id:uuid}"): (f"/autorite/zones/{NOWHERE}", only("admin", ok=404)),
    ("POST", "/autorite/zones/{zone_id:uuid}/statut"): (f"/autorite/zones/{NOWHERE}/statut", only("admin", ok=404)),
    ("POST", "/autorite/zones/{zone_id:uuid}/regles"): (f"/autorite/zones/{NOWHERE}/regles", only("admin", ok=404)),
    # ---- zone maintenance and orders to place (issue 16) ----
    ("POST", "/autorite/zones/{zone_id:uuid}/horaires"): (f"/autorite/zones/{NOWHERE}/horaires", only("admin", ok=404)),
    ("GET", "/autorite/zones/{zone_id:uuid}/perimetre"): (
        f"/autorite/zones/{NOWHERE}/perimetre", only("admin", ok=404)),
    ("POST", "/autorite/zones/{zone_id:uuid}/perimetre"): (
        f"/autorite/zones/{NOWHERE}/perimetre", only("admin", ok=404)),
    ("GET", "/autorite/zones/{zone_id:uuid}/regles/{rule_id:uuid}"): (
        f"/autorite/zones/{PARIS}/regles/{NOWHERE}", only("admin", ok=404)),
    ("POST", "/autorite/zones/{zone_id:uuid}/regles/{rule_id:uuid}"): (
        f"/autorite/zones/{PARIS}/regles/{NOWHERE}", only("admin", ok=404)),
    ("POST", "/autorite/zones/{zone_id:uuid}/regles/{rule_id:uuid}/supprimer"): (
        f"/autorite/zones/{PARIS}/regles/{NOWHERE}/supprimer", only("admin", ok=404)),
    ("GET", "/autorite/arretes"): ("/autorite/arretes", only("admin")),
    ("GET", "/autorite/arretes/{order_id:uuid}"): (f"/autorite/arretes/{NOWHERE}", only("admin", ok=404)),
    ("POST", "/autorite/arretes/{order_id:uuid}"): (f"/autorite/arretes/{NOWHERE}", only("admin", ok=404)),
    ("GET", "/autorite/demandes"): ("/autorite/demandes", only(*REVIEW)),
    ("POST", "/autorite/demandes/acceptation-groupee"): (
        "/autorite/demandes/acceptation-groupee", only(*REVIEW)),
    ("GET", "/autorite/demandes/acceptation-groupee/{job_id:uuid}"): (
        f"/autorite/demandes/acceptation-groupee/{NOWHERE}", only(*REVIEW, ok=404)),
    ("GET", "/autorite/demandes/acceptation-groupee/{job_id:uuid}/etat"): (
        f"/autorite/demandes/acceptation-groupee/{NOWHERE}/etat", only(*REVIEW, ok=404)),
    ("GET", "/autorite/demandes/{application_id:uuid}"): (f"/autorite/demandes/{NOWHERE}", only(*REVIEW, ok=404)),
    ("POST", "/autorite/demandes/{application_id:uuid}/accepter"): (
        f"/autorite/demandes/{NOWHERE}/accepter", only(*REVIEW, ok=404)),
    ("POST", "/autorite/demandes/{application_id:uuid}/refuser"): (
        f"/autorite/demandes/{NOWHERE}/refuser", only(*REVIEW, ok=404)),
    ("POST", "/autorite/demandes/{application_id:uuid}/complement"): (
        f"/autorite/demandes/{NOWHERE}/complement", only(*REVIEW, ok=404)),
    ("GET", "/autorite/demandes/{application_id:uuid}/justificatifs/{document_id:uuid}"): (
        f"/autorite/demandes/{NOWHERE}/justificatifs/{NOWHERE}", only(*REVIEW, ok=404)),
    ("GET", "/autorite/laissez-passer"): ("/autorite/laissez-passer", only(*REVIEW)),
    ("GET", "/autorite/laissez-passer/{pass_id:uuid}"): (f"/autorite/laissez-passer/{NOWHERE}", only(*REVIEW, ok=404)),
    ("POST", "/autorite/laissez-passer/{pass_id:uuid}/suspendre"): (
        f"/autorite/laissez-passer/{NOWHERE}/suspendre", only(*REVIEW, ok=404)),
    ("POST", "/autorite/laissez-passer/{pass_id:uuid}/retablir"): (
        f"/autorite/laissez-passer/{NOWHERE}/retablir", only(*REVIEW, ok=404)),
    ("POST", "/autorite/laissez-passer/{pass_id:uuid}/revoquer"): (
        f"/autorite/laissez-passer/{NOWHERE}/revoquer", only(*REVIEW, ok=404)),
    ("GET", "/autorite/journal"): ("/autorite/journal", only(*REVIEW)),
    ("GET", "/autorite/controles"): ("/autorite/controles", only(*REVIEW)),
    ("GET", "/autorite/cles"): ("/autorite/cles", only("admin")),
    ("POST", "/autorite/cles/rotation"): ("/autorite/cles/rotation", only("admin", ok=303)),
    ("POST", "/autorite/cles/{kid:str}/retrait"): ("/autorite/cles/00/retrait", only("admin", ok=422)),
    ("GET", "/autorite/publier"): ("/autorite/publier", only("admin")),
    ("POST", "/autorite/publier"): ("/autorite/publier", only("admin")),
    # ---- open data, zone import, exemption exports (issue 7) ----
    ("GET", "/donnees/{authority_code:str}/zones.geojson"): (f"/donnees/{AUTHORITY_CODE}/zones.geojson", everyone(200)),
    ("GET", "/donnees/{authority_code:str}/zones.datex2.xml"): (
        f"/donnees/{AUTHORITY_CODE}/zones.datex2.xml", everyone(200)),
    ("GET", "/autorite/import"): ("/autorite/import", only("admin")),
    ("POST", "/autorite/import"): ("/autorite/import", only("admin", ok=422)),
    ("POST", "/autorite/import/appliquer"): ("/autorite/import/appliquer", only("admin", ok=422)),
    ("GET", "/autorite/exports"): ("/autorite/exports", only(*REVIEW)),
    ("GET", "/autorite/exports/derogations"): ("/autorite/exports/derogations", only(*REVIEW)),
    ("GET", "/api/v1/exemptions.csv"): ("/api/v1/exemptions.csv", api_without_token()),
    ("GET", "/api/v1/exemptions.json"): ("/api/v1/exemptions.json", api_without_token()),
    # ---- end of issue 7 ----
    # ---- public trust files ----
    ("GET", "/bundle/{name:str}"): (f"/bundle/{AUTHORITY_CODE}.cose", everyone(200)),
    ("GET", "/bundle/{code:str}/root.pem"): (f"/bundle/{AUTHORITY_CODE}/root.pem", everyone(200)),
    # ---- scanner (its JSON endpoints answer anonymous requests with 303 like pages) ----
    ("GET", "/scan"): ("/scan", only("agent")),
    ("GET", "/scan/manifest.webmanifest"): ("/scan/manifest.webmanifest", everyone(200)),
    ("GET", "/scan/sw.js"): ("/scan/sw.js", everyone(200)),
    ("GET", "/scan/api/serial/{serial:str}"): (f"/scan/api/serial/{SERIAL}", only("agent", ok=404)),
    ("POST", "/scan/api/checks"): ("/scan/api/checks", only("agent", ok=400)),
    # ---- partner authorities (issue 19) ----
    ("GET", "/autorite/partenaires"): ("/autorite/partenaires", only("admin")),
    ("POST", "/autorite/partenaires"): ("/autorite/partenaires", only("admin", ok=400)),
    ("POST", "/autorite/partenaires/{partner_id:uuid}/retrait"): (
        f"/autorite/partenaires/{NOWHERE}/retrait", only("admin", ok=404)),
    ("GET", "/scan/partenaires/{name:str}"): ("/scan/partenaires/inconnue.cose", only("agent", ok=404)),
}


# ---- organisers, events, incidents, imports and jobs (issue 6) ----
MATRIX.update({
    ("GET", "/organisateur"): ("/organisateur", only("organiser")),
    ("POST", "/organisateur/evenements"): ("/organisateur/evenements", only("organiser", ok=422)),
    ("GET", "/organisateur/evenements/{event_id:uuid}"): (
        f"/organisateur/evenements/{NOWHERE}", only("organiser", ok=404)),
    ("POST", "/organisateur/evenements/{event_id:uuid}/zones"): (
        f"/organisateur/evenements/{NOWHERE}/zones", only("organiser", ok=404)),
    ("POST", "/organisateur/evenements/{event_id:uuid}/import"): (
        f"/organisateur/evenements/{NOWHERE}/import", only("organiser", ok=404)),
    ("POST", "/organisateur/evenements/{event_id:uuid}/soumettre"): (
        f"/organisateur/evenements/{NOWHERE}/soumettre", only("organiser", ok=404)),
    ("POST", "/organisateur/evenements/{event_id:uuid}/laissez-passer"): (
        f"/organisateur/evenements/{NOWHERE}/laissez-passer", only("organiser", ok=404)),
    ("GET", "/autorite/evenements"): ("/autorite/evenements", only("admin")),
    ("GET", "/autorite/evenements/{event_id:uuid}"): (f"/autorite/evenements/{NOWHERE}", only("admin", ok=404)),
    ("POST", "/autorite/evenements/{event_id:uuid}/approuver"): (
        f"/autorite/evenements/{NOWHERE}/approuver", only("admin", ok=404)),
    ("POST", "/autorite/evenements/{event_id:uuid}/refuser"): (
        f"/autorite/evenements/{NOWHERE}/refuser", only("admin", ok=404)),
    ("GET", "/autorite/evenements/import"): ("/autorite/evenements/import", only("admin")),
    ("POST", "/autorite/evenements/import"): ("/autorite/evenements/import", only("admin", ok=422)),
    ("GET", "/autorite/incidents"): ("/autorite/incidents", only("admin")),
    ("POST", "/autorite/incidents"): ("/autorite/incidents", only("admin", ok=422)),
    ("POST", "/autorite/incidents/{closure_id:uuid}/lever"): (
        f"/autorite/incidents/{NOWHERE}/lever", only("admin", ok=404)),
    ("GET", "/autorite/taches"): ("/autorite/taches", only("admin")),
})
# ---- end of issue 6 ----
# ---- suppliers' passes (issue 17): downloads for the organiser and the authority, public phone link ----
MATRIX.update({
    ("GET", "/organisateur/evenements/{event_id:uuid}/laissez-passer.zip"): (
        f"/organisateur/evenements/{NOWHERE}/laissez-passer.zip", only("organiser", ok=404)),
    ("GET", "/organisateur/evenements/{event_id:uuid}/laissez-passer/{pass_id:uuid}/qr.png"): (
        f"/organisateur/evenements/{NOWHERE}/laissez-passer/{NOWHERE}/qr.png", only("organiser", ok=404)),
    ("GET", "/organisateur/evenements/{event_id:uuid}/laissez-passer/{pass_id:uuid}/imprimer"): (
        f"/organisateur/evenements/{NOWHERE}/laissez-passer/{NOWHERE}/imprimer", only("organiser", ok=404)),
    ("GET", "/autorite/evenements/{event_id:uuid}/laissez-passer.zip"): (
        f"/autorite/evenements/{NOWHERE}/laissez-passer.zip", only("admin", ok=404)),
    ("GET", "/autorite/evenements/{event_id:uuid}/laissez-passer/{pass_id:uuid}/qr.png"): (
        f"/autorite/evenements/{NOWHERE}/laissez-passer/{NOWHERE}/qr.png", only("admin", ok=404)),
    ("GET", "/autorite/evenements/{event_id:uuid}/laissez-passer/{pass_id:uuid}/imprimer"): (
        f"/autorite/evenements/{NOWHERE}/laissez-passer/{NOWHERE}/imprimer", only("admin", ok=404)),
    ("GET", "/laissez-passer/{token:str}"): (f"/laissez-passer/{TOKEN}", everyone(404)),
})


def app_routes(app: Litestar) -> set[tuple[str, str]]:
    """Every (method, path template) the application serves; a route without HTTP methods (websocket,
    mounted ASGI app) counts as ("WEBSOCKET"/"ASGI", path), so it cannot slip past the matrix."""
    found = set()
    for route in app.routes:
        methods = getattr(route, "methods", None)
        if not methods:
            found.add((type(route).__name__.removesuffix("Route").upper() or "ROUTE", route.path))
            continue
        for method in methods:
            if method not in IGNORED_METHODS:
                found.add((method, route.path))
    return found


def matrix_problems(app: Litestar) -> list[str]:
    """The routes of `app` without a MATRIX entry and the entries without a route, as lines to paste."""
    routes = app_routes(app)
    missing = sorted(routes - set(MATRIX), key=lambda r: (r[1], r[0]))
    stale = sorted(set(MATRIX) - routes, key=lambda r: (r[1], r[0]))
    lines = []
    if missing:
        lines.append(f"{len(missing)} route(s) without an entry in MATRIX (tests/web/test_authorisation_matrix.py):")
        lines += [f'    ("{m}", "{p}"): ("{p}", only(...)),' for m, p in missing]
    if stale:
        lines.append(f"{len(stale)} MATRIX entr(y/ies) for routes that no longer exist:")
        lines += [f'    ("{m}", "{p}")' for m, p in stale]
    return lines


def test_every_route_has_an_entry(web_world) -> None:
    lines = matrix_problems(web_world.app)
    assert not lines, "\n".join(lines)


def test_the_completeness_check_reports_a_new_route(web_world) -> None:
    """The check above can fail: routes added after the fact (any method, a new method on a known
    path, a websocket) are each reported, and only them."""
    from litestar import delete, get, websocket
    from litestar.connection import WebSocket
    from litestar.params import FromPath

    @get("/h1-route-sans-entree", sync_to_thread=False)
    def extra_page() -> str:
        return "x"

    @delete("/pro/vehicules/{vehicle_id:uuid}", sync_to_thread=False)
    def extra_delete(vehicle_id: FromPath[uuid.UUID]) -> None:
        return None

    @websocket("/h1-socket")
    async def extra_socket(socket: WebSocket) -> None:
        await socket.close()

    assert not matrix_problems(web_world.app)
    for handler in (extra_page, extra_delete, extra_socket):
        web_world.app.register(handler)
    report = "\n".join(matrix_problems(web_world.app))
    assert "3 route(s) without an entry" in report, report
    assert '("GET", "/h1-route-sans-entree")' in report
    assert '("DELETE", "/pro/vehicules/{vehicle_id:uuid}")' in report
    assert '("WEBSOCKET", "/h1-socket")' in report


def _client_for(app: Litestar, role: str) -> Iterator[TestClient]:
    with TestClient(app) as client:
        if role != "anonymous":
            login(client, role)
        yield client


def _call(client: TestClient, method: str, url: str) -> object:
    if method == "ASGI":  # a plain ASGI handler (POST /api/v1/verify): probed with the method it serves
        method = "POST"
    if method == "GET":
        return client.get(url, follow_redirects=False)
    if url.startswith("/api/"):
        return client.request(method, url, json={}, follow_redirects=False)
    return client.request(method, url, data={"_csrf_token": csrf_token(client)}, follow_redirects=False)


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_the_expected_status_everywhere(web_world, role: str) -> None:
    routes = app_routes(web_world.app)
    # Signing out last, so the other requests keep the session.
    entries = sorted((k for k in MATRIX if k in routes), key=lambda k: k == ("POST", "/deconnexion"))
    wrong = []
    for client in _client_for(web_world.app, role):
        for method, template in entries:
            url, expected = MATRIX[(method, template)]
            response = _call(client, method, url)
            status = response.status_code
            if status != expected[role]:
                wrong.append(f"{method} {url}: expected {expected[role]}, got {status}")
            elif status == 303 and role == "anonymous" and expected[role] == 303:
                location = response.headers.get("location", "")
                if not location.startswith("/connexion"):
                    wrong.append(f"{method} {url}: anonymous redirected to {location!r}, not /connexion")
    assert not wrong, f"role {role}:\n" + "\n".join(wrong)


# ---- two authorities (issue 14, item 4) ----------------------------------------------------------
# A (the demo authority) and B (tests/web/two_authorities.py) each have an admin, a reviewer, an agent
# and an organiser; the demo company applies to both. Every route with a path parameter either reaches
# an object that belongs to one side — CROSS says how to name the object of a side and what the other
# side's people get: 404 where their role passes the guard (exactly as for a missing row, so existence
# is not confirmed), 403 (or 401 on the API) otherwise — or is listed in NOT_AUTHORITY_SCOPED with the
# reason. A new route with a parameter and neither entry fails test_every_route_with_an_id_is_crossed.
# POSTs carry forms that would change something if the object were reachable.
STAFF = ("admin", "reviewer", "agent", "organiser")
A_ROUTE_WITH_AN_ID = "{"


def staff(*allowed: str, ok: int = 404, others: int = 403) -> dict[str, int]:
    """`ok` for the other side's people whose role passes the guard, `others` for the rest."""
    return {role: ok if role in allowed else others for role in STAFF}


def _agent_of(side: object) -> uuid.UUID:
    """The id of the agent of a side (a member of its authority's team)."""
    from .two_authorities import B_USER_IDS

    return USER_IDS["agent"] if side.name == "A" else B_USER_IDS["agent"]


def _square(shift: float = 0.0) -> str:
    import json

    from .two_authorities import SQUARE_B

    ring = [[x + shift, y + shift] for x, y in SQUARE_B["coordinates"][0]]
    return json.dumps({"type": "Polygon", "coordinates": [ring]})


# (method, path template) -> (URL of side X's object, form (or None), expected status per role of the other side)
CROSS: dict[tuple[str, str], tuple[object, object, dict[str, int]]] = {
    ("GET", "/autorite/demandes/acceptation-groupee/{job_id:uuid}"): (
        lambda s: f"/autorite/demandes/acceptation-groupee/{s.ids['bulk']}", None, staff(*REVIEW)),
    ("GET", "/autorite/demandes/acceptation-groupee/{job_id:uuid}/etat"): (
        lambda s: f"/autorite/demandes/acceptation-groupee/{s.ids['bulk']}/etat", None, staff(*REVIEW)),
    ("GET", "/autorite/zones/{zone_id:uuid}"): (lambda s: f"/autorite/zones/{s.zone_id}", None, staff("admin")),
    ("POST", "/autorite/zones/{zone_id:uuid}"): (
        lambda s: f"/autorite/zones/{s.zone_id}",
        lambda s: {"name": "Renommée", "kind": "pedestrian", "time_zone": "Europe/Paris", "permanent": "1"},
        staff("admin")),
    ("POST", "/autorite/zones/{zone_id:uuid}/statut"): (
        lambda s: f"/autorite/zones/{s.zone_id}/statut", lambda s: {"status": "suspended"}, staff("admin")),
    ("POST", "/autorite/zones/{zone_id:uuid}/regles"): (
        lambda s: f"/autorite/zones/{s.zone_id}/regles",
        lambda s: {"hours_mode": "osm", "opening_hours": "Mo-Fr 08:00-10:00", "purposes": "1", "name": "Intrus"},
        staff("admin")),
    # Zone maintenance and orders to place (issue 16): each names the other side's object, with a form
    # that would change it.
    ("POST", "/autorite/zones/{zone_id:uuid}/horaires"): (
        lambda s: f"/autorite/zones/{s.zone_id}/horaires",
        lambda s: {"hours_mode": "windows", "w0_days": "0", "w0_start": "08:00", "w0_end": "20:00"}, staff("admin")),
    ("GET", "/autorite/zones/{zone_id:uuid}/perimetre"): (
        lambda s: f"/autorite/zones/{s.zone_id}/perimetre", None, staff("admin")),
    ("POST", "/autorite/zones/{zone_id:uuid}/perimetre"): (
        lambda s: f"/autorite/zones/{s.zone_id}/perimetre", lambda s: {"geojson": _square(0.01)}, staff("admin")),
    ("GET", "/autorite/zones/{zone_id:uuid}/regles/{rule_id:uuid}"): (
        lambda s: f"/autorite/zones/{s.zone_id}/regles/{s.ids['rule']}", None, staff("admin")),
    ("POST", "/autorite/zones/{zone_id:uuid}/regles/{rule_id:uuid}"): (
        lambda s: f"/autorite/zones/{s.zone_id}/regles/{s.ids['rule']}",
        lambda s: {"name": "Intrus", "hours_mode": "always", "max_weight_kg": "1000"}, staff("admin")),
    ("POST", "/autorite/zones/{zone_id:uuid}/regles/{rule_id:uuid}/supprimer"): (
        lambda s: f"/autorite/zones/{s.zone_id}/regles/{s.ids['rule']}/supprimer", lambda s: {"confirm": "oui"},
        staff("admin")),
    ("GET", "/autorite/arretes/{order_id:uuid}"): (
        lambda s: f"/autorite/arretes/{s.ids['order']}", None, staff("admin")),
    ("POST", "/autorite/arretes/{order_id:uuid}"): (
        lambda s: f"/autorite/arretes/{s.ids['order']}", lambda s: {"geojson": _square()}, staff("admin")),
    ("GET", "/autorite/demandes/{application_id:uuid}"): (
        lambda s: f"/autorite/demandes/{s.ids['pending']}", None, staff(*REVIEW)),
    ("POST", "/autorite/demandes/{application_id:uuid}/accepter"): (
        lambda s: f"/autorite/demandes/{s.ids['pending']}/accepter", lambda s: {"reason": ""}, staff(*REVIEW)),
    ("POST", "/autorite/demandes/{application_id:uuid}/refuser"): (
        lambda s: f"/autorite/demandes/{s.ids['pending']}/refuser", lambda s: {"reason": "Non."}, staff(*REVIEW)),
    ("POST", "/autorite/demandes/{application_id:uuid}/complement"): (
        lambda s: f"/autorite/demandes/{s.ids['pending']}/complement", lambda s: {"reason": "Pourquoi ?"},
        staff(*REVIEW)),
    ("GET", "/autorite/demandes/{application_id:uuid}/justificatifs/{document_id:uuid}"): (
        lambda s: f"/autorite/demandes/{s.ids['pending']}/justificatifs/{s.ids['document']}", None, staff(*REVIEW)),
    ("GET", "/autorite/laissez-passer/{pass_id:uuid}"): (
        lambda s: f"/autorite/laissez-passer/{s.ids['pass_id']}", None, staff(*REVIEW)),
    ("POST", "/autorite/laissez-passer/{pass_id:uuid}/suspendre"): (
        lambda s: f"/autorite/laissez-passer/{s.ids['pass_id']}/suspendre", lambda s: {"reason": "Intrusion"},
        staff(*REVIEW)),
    ("POST", "/autorite/laissez-passer/{pass_id:uuid}/retablir"): (
        lambda s: f"/autorite/laissez-passer/{s.ids['pass_id']}/retablir", lambda s: {"reason": ""}, staff(*REVIEW)),
    ("POST", "/autorite/laissez-passer/{pass_id:uuid}/revoquer"): (
        lambda s: f"/autorite/laissez-passer/{s.ids['pass_id']}/revoquer", lambda s: {"reason": "Intrusion"},
        staff(*REVIEW)),
    ("POST", "/autorite/cles/{kid:str}/retrait"): (
        lambda s: f"/autorite/cles/{s.ids['kid']}/retrait", lambda s: {"confirm": "oui"}, staff("admin")),
    ("GET", "/autorite/evenements/{event_id:uuid}"): (
        lambda s: f"/autorite/evenements/{s.ids['event_submitted']}", None, staff("admin")),
    ("POST", "/autorite/evenements/{event_id:uuid}/approuver"): (
        lambda s: f"/autorite/evenements/{s.ids['event_submitted']}/approuver", lambda s: {"pass_quota": "3"},
        staff("admin")),
    ("POST", "/autorite/evenements/{event_id:uuid}/refuser"): (
        lambda s: f"/autorite/evenements/{s.ids['event_submitted']}/refuser", lambda s: {"reason": "Non."},
        staff("admin")),
    ("POST", "/autorite/incidents/{closure_id:uuid}/lever"): (
        lambda s: f"/autorite/incidents/{s.ids['closure']}/lever", None, staff("admin")),
    ("GET", "/organisateur/evenements/{event_id:uuid}"): (
        lambda s: f"/organisateur/evenements/{s.ids['event_draft']}", None, staff("organiser")),
    ("POST", "/organisateur/evenements/{event_id:uuid}/zones"): (
        lambda s: f"/organisateur/evenements/{s.ids['event_draft']}/zones",
        lambda s: {"name": "Intrus", "level": "red", "geojson": _square(), "starts_at": "2026-11-25T10:00",
                   "ends_at": "2026-11-25T12:00"},
        staff("organiser")),
    ("POST", "/organisateur/evenements/{event_id:uuid}/import"): (
        lambda s: f"/organisateur/evenements/{s.ids['event_draft']}/import", None, staff("organiser")),
    ("POST", "/organisateur/evenements/{event_id:uuid}/soumettre"): (
        lambda s: f"/organisateur/evenements/{s.ids['event_draft']}/soumettre", None, staff("organiser")),
    ("POST", "/organisateur/evenements/{event_id:uuid}/laissez-passer"): (
        lambda s: f"/organisateur/evenements/{s.ids['event_approved']}/laissez-passer", None, staff("organiser")),
    ("GET", "/scan/api/serial/{serial:str}"): (lambda s: f"/scan/api/serial/{s.ids['serial']}", None, staff("agent")),
    # An event's supplier passes (issue 17): another side's event reads like a missing one.
    ("GET", "/organisateur/evenements/{event_id:uuid}/laissez-passer.zip"): (
        lambda s: f"/organisateur/evenements/{s.ids['event_approved']}/laissez-passer.zip", None, staff("organiser")),
    ("GET", "/organisateur/evenements/{event_id:uuid}/laissez-passer/{pass_id:uuid}/qr.png"): (
        lambda s: f"/organisateur/evenements/{s.ids['event_approved']}/laissez-passer/{s.ids['pass_id']}/qr.png",
        None, staff("organiser")),
    ("GET", "/organisateur/evenements/{event_id:uuid}/laissez-passer/{pass_id:uuid}/imprimer"): (
        lambda s: f"/organisateur/evenements/{s.ids['event_approved']}/laissez-passer/{s.ids['pass_id']}/imprimer",
        None, staff("organiser")),
    ("GET", "/autorite/evenements/{event_id:uuid}/laissez-passer.zip"): (
        lambda s: f"/autorite/evenements/{s.ids['event_approved']}/laissez-passer.zip", None, staff("admin")),
    ("GET", "/autorite/evenements/{event_id:uuid}/laissez-passer/{pass_id:uuid}/qr.png"): (
        lambda s: f"/autorite/evenements/{s.ids['event_approved']}/laissez-passer/{s.ids['pass_id']}/qr.png",
        None, staff("admin")),
    ("GET", "/autorite/evenements/{event_id:uuid}/laissez-passer/{pass_id:uuid}/imprimer"): (
        lambda s: f"/autorite/evenements/{s.ids['event_approved']}/laissez-passer/{s.ids['pass_id']}/imprimer",
        None, staff("admin")),
    # Another authority's member or organiser reads like an unknown one (issue 15).
    ("GET", "/autorite/equipe/{user_id:uuid}/retirer"): (
        lambda s: f"/autorite/equipe/{_agent_of(s)}/retirer", None, staff("admin")),
    ("POST", "/autorite/equipe/{user_id:uuid}/retirer"): (
        lambda s: f"/autorite/equipe/{_agent_of(s)}/retirer", None, staff("admin")),
    ("GET", "/autorite/organisateurs/{organiser_id:uuid}"): (
        lambda s: f"/autorite/organisateurs/{s.organiser_id}", None, staff("admin")),
    ("POST", "/autorite/organisateurs/{organiser_id:uuid}/invitations"): (
        lambda s: f"/autorite/organisateurs/{s.organiser_id}/invitations", lambda s: {"email": "intrus@example.fr"},
        staff("admin")),
    # A pending invitation into a side's authority, and into its organiser.
    ("POST", "/autorite/equipe/invitations/{invitation_id:uuid}/annuler"): (
        lambda s: f"/autorite/equipe/invitations/{s.ids['invitation']}/annuler", None, staff("admin")),
    ("POST", "/autorite/organisateurs/{organiser_id:uuid}/invitations/{invitation_id:uuid}/annuler"): (
        lambda s: f"/autorite/organisateurs/{s.organiser_id}/invitations/{s.ids['organiser_invitation']}/annuler",
        None, staff("admin")),
    # The company's team: no authority's staff reaches it (the demo company applies to both sides).
    ("POST", "/pro/equipe/invitations/{invitation_id:uuid}/annuler"): (
        lambda s: f"/pro/equipe/invitations/{s.ids['invitation']}/annuler", None, staff()),
    ("GET", "/pro/equipe/{user_id:uuid}/retirer"): (
        lambda s: f"/pro/equipe/{USER_IDS['other_pro']}/retirer", None, staff()),
    ("POST", "/pro/equipe/{user_id:uuid}/retirer"): (
        lambda s: f"/pro/equipe/{USER_IDS['other_pro']}/retirer", None, staff()),
    # The company's own pages: no authority's staff reaches them, whichever authority the object is with.
    ("POST", "/pro/api/{token_id:uuid}/revoquer"): (lambda s: f"/pro/api/{NOWHERE}/revoquer", None, staff()),
    ("GET", "/pro/vehicules/{vehicle_id:uuid}/modifier"): (
        lambda s: f"/pro/vehicules/{MY_VEHICLE}/modifier", None, staff()),
    ("POST", "/pro/vehicules/{vehicle_id:uuid}/modifier"): (
        lambda s: f"/pro/vehicules/{MY_VEHICLE}/modifier", lambda s: {"plate": "ZZ-999-ZZ"}, staff()),
    ("GET", "/pro/demandes/{application_id:uuid}"): (lambda s: f"/pro/demandes/{s.ids['pending']}", None, staff()),
    ("GET", "/pro/demandes/{application_id:uuid}/modifier"): (
        lambda s: f"/pro/demandes/{s.ids['pending']}/modifier", None, staff()),
    ("POST", "/pro/demandes/{application_id:uuid}/modifier"): (
        lambda s: f"/pro/demandes/{s.ids['pending']}/modifier", None, staff()),
    ("POST", "/pro/demandes/{application_id:uuid}/deposer"): (
        lambda s: f"/pro/demandes/{s.ids['pending']}/deposer", None, staff()),
    ("POST", "/pro/demandes/{application_id:uuid}/completer"): (
        lambda s: f"/pro/demandes/{s.ids['pending']}/completer", lambda s: {"comment": "x"}, staff()),
    ("POST", "/pro/demandes/{application_id:uuid}/justificatifs"): (
        lambda s: f"/pro/demandes/{s.ids['pending']}/justificatifs", None, staff()),
    ("POST", "/pro/demandes/{application_id:uuid}/retirer"): (
        lambda s: f"/pro/demandes/{s.ids['pending']}/retirer", None, staff()),
    ("GET", "/pro/justificatifs/{document_id:uuid}"): (
        lambda s: f"/pro/justificatifs/{s.ids['document']}", None, staff()),
    ("GET", "/pro/laissez-passer/{ref:str}"): (lambda s: f"/pro/laissez-passer/{s.ids['serial']}", None, staff()),
    ("GET", "/pro/laissez-passer/{ref:str}/imprimer"): (
        lambda s: f"/pro/laissez-passer/{s.ids['serial']}/imprimer", None, staff()),
    ("GET", "/pro/laissez-passer/{ref:str}/telephone"): (
        lambda s: f"/pro/laissez-passer/{s.ids['serial']}/telephone", None, staff()),
    ("POST", "/pro/laissez-passer/{ref:str}/renouveler"): (
        lambda s: f"/pro/laissez-passer/{s.ids['serial']}/renouveler", None, staff()),
    ("GET", "/pro/laissez-passer/{ref:str}/wallet.pkpass"): (
        lambda s: f"/pro/laissez-passer/{s.ids['serial']}/wallet.pkpass", None, staff()),
    ("GET", "/pro/laissez-passer/{ref:str}/google-wallet"): (
        lambda s: f"/pro/laissez-passer/{s.ids['serial']}/google-wallet", None, staff()),
    # The API takes bearer tokens (one per company), never a session.
    ("GET", "/api/v1/applications/{application_id:uuid}"): (
        lambda s: f"/api/v1/applications/{s.ids['pending']}", None, staff(others=401)),
    ("GET", "/api/v1/passes/{ref:str}"): (lambda s: f"/api/v1/passes/{s.ids['serial']}", None, staff(others=401)),
    ("POST", "/autorite/partenaires/{partner_id:uuid}/retrait"): (
        lambda s: f"/autorite/partenaires/{s.ids['partner']}/retrait", lambda s: {"confirm": "oui"}, staff("admin")),
}

# Routes without a path parameter whose form names another side's object (ids, zone, organiser,
# authority): refused like an unknown one, nothing stored.
CROSS_FORMS: dict[tuple[str, str], tuple[object, object, dict[str, int]]] = {
    ("POST", "/autorite/demandes/acceptation-groupee"): (
        lambda s: "/autorite/demandes/acceptation-groupee", lambda s: {"ids": str(s.ids["pending"])},
        staff(*REVIEW, ok=200)),
    ("POST", "/autorite/incidents"): (
        lambda s: "/autorite/incidents",
        lambda s: {"zone_id": str(s.zone_id), "ends_at": "2026-11-23T18:00", "reason": "Intrusion"},
        staff("admin", ok=422)),
    ("POST", "/autorite/equipe"): (
        lambda s: "/autorite/equipe",
        lambda s: {"email": "intrus@example.fr", "role": "organiser", "organisation_id": str(s.organiser_id)},
        staff("admin", ok=400)),
    ("POST", "/organisateur/evenements"): (
        lambda s: "/organisateur/evenements",
        lambda s: {"name": "Intrusion", "authority_id": str(s.authority_id), "starts_at": "2026-12-01T08:00",
                   "ends_at": "2026-12-01T20:00"},
        staff("organiser", ok=422)),
}

NOT_AUTHORITY_SCOPED: dict[tuple[str, str], str] = {
    ("GET", "/static/{file_path:path}"): "static files",
    ("GET", "/vendor/{file_path:path}"): "static files",
    ("GET", "/schema/{path:str}"): "API documentation",
    ("GET", "/mot-de-passe/{token:str}"): "a reset link: the signed token is the secret",
    ("POST", "/mot-de-passe/{token:str}"): "a reset link: the signed token is the secret",
    ("GET", "/invitation/{token:str}"): "an invitation link: the signed token is the secret",
    ("GET", "/laissez-passer/{token:str}"): "a supplier's phone link: the signed token is the secret",
    ("POST", "/invitation/{token:str}"): "an invitation link: the signed token is the secret",
    ("GET", "/donnees/{authority_code:str}/zones.geojson"): "open data, public by design",
    ("GET", "/donnees/{authority_code:str}/zones.datex2.xml"): "open data, public by design",
    ("GET", "/bundle/{name:str}"): "trust bundles, public by design (scanners download them)",
    ("GET", "/bundle/{code:str}/root.pem"): "root public keys, public by design",
    ("GET", "/scan/partenaires/{name:str}"): (
        "a partner bundle by issuer code: only ever looked up among the partners of the agent's own authority "
        "(tests/web/test_partners.py)"),
    ("GET", "/autorite/tableau-de-bord/{file:str}"): (
        "a dashboard CSV by its name: always the caller's own authority (test_dashboard_charts.py)"),
}


def cross_problems(app: Litestar) -> list[str]:
    """Routes with a path parameter that have neither a CROSS entry nor a NOT_AUTHORITY_SCOPED reason."""
    with_ids = {r for r in app_routes(app) if A_ROUTE_WITH_AN_ID in r[1]}
    missing = sorted(with_ids - set(CROSS) - set(NOT_AUTHORITY_SCOPED), key=lambda r: (r[1], r[0]))
    stale = sorted((set(CROSS) | set(NOT_AUTHORITY_SCOPED)) - with_ids, key=lambda r: (r[1], r[0]))
    lines = []
    if missing:
        lines.append(f"{len(missing)} route(s) with an id and no CROSS entry (tests/web/test_authorisation_matrix.py):")
        lines += [f'    ("{m}", "{p}"): (lambda s: f"{p}", None, staff(...)),' for m, p in missing]
    if stale:
        lines.append(f"{len(stale)} CROSS / NOT_AUTHORITY_SCOPED entr(y/ies) for routes that no longer exist:")
        lines += [f'    ("{m}", "{p}")' for m, p in stale]
    return lines


def test_every_route_with_an_id_is_crossed(web_world) -> None:
    lines = cross_problems(web_world.app)
    assert not lines, "\n".join(lines)


def test_the_cross_check_reports_a_new_route_with_an_id(web_world) -> None:
    from litestar import post
    from litestar.params import FromPath

    @post("/autorite/h4-nouveau/{thing_id:uuid}", sync_to_thread=False)
    def extra(thing_id: FromPath[uuid.UUID]) -> None:
        return None

    assert not cross_problems(web_world.app)
    web_world.app.register(extra)
    report = "\n".join(cross_problems(web_world.app))
    assert "1 route(s) with an id and no CROSS entry" in report
    assert '("POST", "/autorite/h4-nouveau/{thing_id:uuid}")' in report


@pytest.fixture
def two_authorities(web_world):
    """web_world with a second authority and objects on both sides."""
    from cirqliz.db.models import AuthorityPartner

    from .two_authorities import add_second_authority, run

    two = add_second_authority(web_world)

    async def partners(session):  # one partner row per side (issue 19), for the CROSS removal
        from cirqliz.issuance.accounts import invite_member

        for side in (two.a, two.b):  # and pending invitations into its authority and its organiser
            for key, org_id in (("invitation", side.authority_id), ("organiser_invitation", side.organiser_id)):
                invited = await invite_member(session, organisation_id=org_id, email=f"{key}-{side.name}@example.fr",
                                              role="reviewer" if key == "invitation" else "organiser",
                                              invited_by=None, clock=web_world.clock,
                                              secret_key=web_world.settings.secret_key)
                side.ids[key] = invited.invitation.id
            row = AuthorityPartner(authority_id=side.authority_id, iss=f"partenaire-{side.name.lower()}",
                                   name=f"Partenaire {side.name}", bundle_url="https://ailleurs.example/bundle/p.cose",
                                   root_spki=b"0", fingerprint="0" * 64, added_at=web_world.clock.now())
            session.add(row)
            await session.flush()
            side.ids["partner"] = row.id

    run(web_world, partners)
    return two


def _cross_call(client: TestClient, method: str, url: str, form: dict[str, str] | None) -> object:
    if method == "GET":
        return client.get(url, follow_redirects=False, headers={"accept": "text/html"})
    return client.request(method, url, data={**(form or {}), "_csrf_token": csrf_token(client)},
                          follow_redirects=False)


@pytest.mark.parametrize("direction", ["B reaches for A", "A reaches for B"])
def test_no_authority_reaches_another_authoritys_objects(two_authorities, direction: str) -> None:
    """Every route with an id, every role of one authority, the other authority's object: 404 (or
    403/401 by role), and neither the database nor the keys change."""
    from .two_authorities import database_state, keys_state, sign_in

    two = two_authorities
    victim = two.a if direction == "B reaches for A" else two.b
    caller = two.other(victim)
    routes = app_routes(two.world.app)
    wrong = []
    for role in STAFF:
        with TestClient(two.world.app) as client:
            sign_in(client, caller, role)
            before, keys = database_state(two.world), keys_state(two.world)
            for (method, template), (url_of, form_of, expected) in {**CROSS, **CROSS_FORMS}.items():
                if (method, template) not in routes:
                    continue
                url = url_of(victim)
                response = _cross_call(client, method, url, form_of(victim) if form_of else None)
                if response.status_code != expected[role]:
                    wrong.append(f"{caller.name} {role}: {method} {url}: expected {expected[role]}, "
                                 f"got {response.status_code}")
            after = database_state(two.world)
            changed = sorted(t for t in set(before) | set(after) if before.get(t) != after.get(t))
            if changed:
                wrong.append(f"{caller.name} {role}: tables changed: {', '.join(changed)}")
            if keys_state(two.world) != keys:
                wrong.append(f"{caller.name} {role}: the keys directory changed")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("direction", ["B looks at A", "A looks at B"])
def test_no_list_page_shows_another_authoritys_objects(two_authorities, direction: str) -> None:
    """Every back-office, organiser and scanner page without an id, for every role of one side:
    nothing of the other side (organiser, zone code, pass serial, event, closure, people)."""
    from .two_authorities import sign_in

    two = two_authorities
    victim = two.a if direction == "B looks at A" else two.b
    caller = two.other(victim)
    pages = sorted(template for method, template in app_routes(two.world.app)
                   if method == "GET" and A_ROUTE_WITH_AN_ID not in template
                   and template.startswith(("/autorite", "/organisateur", "/scan")))
    leaks = []
    seen = 0
    for role in STAFF:
        with TestClient(two.world.app) as client:
            sign_in(client, caller, role)
            for template in pages:
                response = client.get(template, follow_redirects=False)
                if response.status_code != 200:
                    continue
                seen += 1
                found = [m for m in victim.markers() if m in response.text]
                if found:
                    leaks.append(f"{caller.name} {role}: {template} shows {found}")
    assert seen >= 10, "too few pages were read"
    assert not leaks, "\n".join(leaks)


def test_the_cross_forms_change_the_callers_own_objects(two_authorities) -> None:
    """The forms above are not inert: sent by the object's own authority, they do change it."""
    from .two_authorities import database_state, sign_in

    two = two_authorities
    own = {
        ("admin", "POST", "/autorite/zones/{zone_id:uuid}/statut"): 303,
        ("admin", "POST", "/autorite/zones/{zone_id:uuid}/horaires"): 303,
        ("admin", "POST", "/autorite/zones/{zone_id:uuid}/perimetre"): 303,
        ("admin", "POST", "/autorite/zones/{zone_id:uuid}/regles/{rule_id:uuid}"): 303,
        ("admin", "POST", "/autorite/zones/{zone_id:uuid}/regles/{rule_id:uuid}/supprimer"): 303,
        ("admin", "POST", "/autorite/arretes/{order_id:uuid}"): 303,
        ("admin", "POST", "/autorite/evenements/{event_id:uuid}/approuver"): 303,
        ("admin", "POST", "/autorite/incidents/{closure_id:uuid}/lever"): 303,
        ("admin", "POST", "/autorite/equipe"): 200,
        ("admin", "POST", "/autorite/organisateurs/{organiser_id:uuid}/invitations"): 200,
        ("admin", "POST", "/autorite/equipe/{user_id:uuid}/retirer"): 303,
        ("admin", "POST", "/autorite/equipe/invitations/{invitation_id:uuid}/annuler"): 303,
        ("admin", "POST", "/autorite/organisateurs/{organiser_id:uuid}/invitations/{invitation_id:uuid}/annuler"): 303,
        ("admin", "POST", "/autorite/partenaires/{partner_id:uuid}/retrait"): 303,
        ("reviewer", "POST", "/autorite/laissez-passer/{pass_id:uuid}/suspendre"): 303,
        ("organiser", "POST", "/organisateur/evenements/{event_id:uuid}/soumettre"): 303,
        ("organiser", "POST", "/organisateur/evenements"): 303,
    }
    for (role, method, template), status in own.items():
        url_of, form_of, _expected = {**CROSS, **CROSS_FORMS}[(method, template)]
        with TestClient(two.world.app) as client:
            sign_in(client, two.a, role)
            before = database_state(two.world)
            response = _cross_call(client, method, url_of(two.a), form_of(two.a) if form_of else None)
            assert response.status_code == status, (template, response.text)
            assert database_state(two.world) != before, template
