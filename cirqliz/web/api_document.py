"""The API's OpenAPI document in French, for the developers of fleet software (/schema).

Litestar describes the routes it knows from their signatures: English reason phrases ("Document
created, URL follows"), handlers' docstrings, untyped bodies (`Any` fields), an English
validation-error schema and none of the refusals the API really gives (401, 403, 404, 422, 429).
So each /api/v1 operation's words and shapes are written here, in French, and laid over what
Litestar generated where the document is served (controllers/api.py, DocumentJsonRenderPlugin).
tests/web/test_api_document.py checks that every /api/ operation is covered and that no English
phrase is left; tests/fuzz/test_api_schemathesis.py checks the answers against these schemas.
"""

from __future__ import annotations

import copy
from typing import Any

from cirqliz.domain.applications import ApplicationStatus
from cirqliz.domain.passes import PassStatus
from cirqliz.domain.purposes import Purpose
from cirqliz.issuance.exemptions import COLUMNS, STATUSES, categories

ERROR_REF = {"$ref": "#/components/schemas/ApiError"}
_TEXT = {"type": "string"}
_NULLABLE_TEXT = {"type": ["string", "null"]}
_INSTANT = {"type": "string", "description": "Instant ISO 8601 avec décalage horaire."}
_NULLABLE_INSTANT = {"type": ["string", "null"], "description": "Instant ISO 8601, ou null."}
_TEXTS = {"type": "array", "items": _TEXT}
_PURPOSES = ", ".join(f"{int(p)} ({p.name.lower()}, {p.label_fr})" for p in Purpose)

SCHEMAS: dict[str, Any] = {
    "ApplicationRequest": {
        "type": "object",
        "required": ["zones", "vehicles", "purpose", "not_before", "expires_at"],
        "example": {"zones": ["PARIS-CENTRE"], "vehicles": ["AB-123-CD"], "purpose": 1,
                    "not_before": "2026-11-23T07:00:00+01:00", "expires_at": "2026-11-28T19:00:00+01:00",
                    "windows": ["Mo-Fr 07:00-11:00"], "comment": "Tournées de livraison du matin."},
        "properties": {
            "zones": {**_TEXTS, "description": "Codes des zones demandées, d'une même autorité, p. ex. "
                                               "[\"PARIS-CENTRE\"]."},
            "vehicles": {**_TEXTS, "description": "Plaques de véhicules enregistrés par l'entreprise, p. ex. "
                                                  "[\"AB-123-CD\"]."},
            "purpose": {"type": ["integer", "string"],
                        "description": f"Motif : son code ou son nom. Valeurs : {_PURPOSES}."},
            "not_before": {**_INSTANT, "description": "Début de validité demandé (ISO 8601 avec décalage)."},
            "expires_at": {**_INSTANT, "description": "Fin de validité demandée (ISO 8601 avec décalage), "
                                                      "après le début."},
            "windows": {"type": ["array", "null"], "items": _TEXT,
                        "description": "Facultatif : créneaux auxquels le laissez-passer est limité, "
                                       "p. ex. [\"Mo-Fr 07:00-11:00\"] (format opening_hours)."},
            "comment": {**_NULLABLE_TEXT, "description": "Facultatif : message à l'instructeur (2 000 caractères "
                                                         "au plus)."},
            "authority": {**_NULLABLE_TEXT, "description": "Facultatif : code de l'autorité, quand un même code "
                                                           "de zone existe chez plusieurs autorités."},
        },
    },
    "Pass": {
        "type": "object",
        "required": ["serial", "status", "plate", "purpose", "zones", "not_before", "expires_at", "windows",
                     "issued_at", "application_id", "qr_png"],
        "properties": {
            "serial": {**_TEXT, "description": "Numéro de série (hexadécimal)."},
            "status": {"type": "string", "enum": [s.value for s in PassStatus],
                       "description": "active (en cours), suspended (suspendu), revoked (révoqué), "
                                      "expired (expiré)."},
            "plate": {**_TEXT, "description": "Plaque du véhicule."},
            "purpose": {"type": "integer", "description": f"Code du motif : {_PURPOSES}."},
            "zones": {**_TEXTS, "description": "Codes des zones couvertes."},
            "not_before": _INSTANT, "expires_at": _INSTANT,
            "windows": {**_TEXTS, "description": "Créneaux auxquels il est limité (vide : à toute heure)."},
            "issued_at": _INSTANT,
            "application_id": {**_NULLABLE_TEXT, "description": "Demande d'origine (UUID)."},
            "qr_png": {**_TEXT, "description": "Chemin de l'image du QR code (PNG)."},
            "text": {**_NULLABLE_TEXT, "description": "Texte signé du laissez-passer (« CQ1:… »), contenu du QR "
                                                      "code ; seulement dans GET /passes/{ref}."},
        },
    },
    "PassList": {
        "type": "object",
        "required": ["passes", "count", "limit", "offset"],
        "properties": {
            "passes": {"type": "array", "items": {"$ref": "#/components/schemas/Pass"}},
            "count": {"type": "integer", "description": "Nombre de laissez-passer de cette page."},
            "limit": {"type": "integer"}, "offset": {"type": "integer"},
        },
    },
    "Application": {
        "type": "object",
        "required": ["id", "status", "status_label", "purpose", "zones", "vehicles", "not_before", "expires_at",
                     "windows", "passes"],
        "properties": {
            "id": {**_TEXT, "description": "Identifiant (UUID) : GET /applications/{id}."},
            "status": {"type": "string", "enum": [s.value for s in ApplicationStatus],
                       "description": "Code de l'état ; son libellé en français dans status_label."},
            "status_label": {**_TEXT, "description": "État en français (« en attente d'instruction »…)."},
            "purpose": {"type": "integer", "description": f"Code du motif : {_PURPOSES}."},
            "zones": _TEXTS, "vehicles": _TEXTS,
            "not_before": _INSTANT, "expires_at": _INSTANT, "windows": _TEXTS,
            "comment": _NULLABLE_TEXT,
            "created_at": _NULLABLE_INSTANT, "submitted_at": _NULLABLE_INSTANT, "decided_at": _NULLABLE_INSTANT,
            "decision_reason": {**_NULLABLE_TEXT, "description": "Motif d'un refus ou d'une demande de "
                                                                 "complément."},
            "passes": {"type": "array", "items": {"$ref": "#/components/schemas/Pass"},
                       "description": "Laissez-passer délivrés (un par véhicule), une fois la demande acceptée."},
        },
    },
    "Exemption": {
        "type": "object",
        "required": list(COLUMNS),
        "properties": {
            "plate": {**_TEXT, "description": "Immatriculation."},
            "country": {**_TEXT, "description": "Pays d'immatriculation (code ISO 3166, FR par défaut)."},
            "source": {"type": "string", "enum": ["exemption", "pass"],
                       "description": "exemption (dérogation enregistrée) ou pass (laissez-passer)."},
            "category": {"type": "string", "enum": categories(),
                         "description": "Type de dérogation, ou motif du laissez-passer."},
            "zone_code": _TEXT,
            "zone_ref": {"type": "integer", "description": "Numéro de la zone dans les laissez-passer signés."},
            "start": {**_TEXT, "description": "Début (instant UTC ISO 8601)."},
            "end": {**_TEXT, "description": "Fin, exclue (instant UTC ISO 8601)."},
            "serial": {**_TEXT, "description": "Numéro du laissez-passer (vide pour une dérogation)."},
            "status": {"type": "string", "enum": list(STATUSES),
                       "description": "active (en cours), upcoming (à venir), expired (échue)."},
        },
    },
}

# The answers every operation of the API may give besides its own (the router's guard).
_REFUSALS = {
    400: "Requête illisible, paramètre ou champ invalide (`field` le nomme).",
    401: "Jeton absent, inconnu ou révoqué (en-tête WWW-Authenticate).",
    403: "Le jeton n'a pas le droit requis.",
    429: "Trop de requêtes pour ce jeton (en-tête Retry-After).",
}
_EXEMPTION_FILTERS = {
    "zone": "Code de zone : seulement cette zone.",
    "active_on": "Jour (AAAA-MM-JJ, heure de Paris) : seulement ce qui est valable ce jour-là.",
    "category": "Type de dérogation ou motif de laissez-passer : " + ", ".join(categories()) + ".",
    "status": "État : " + ", ".join(STATUSES) + ".",
}
_EXEMPTIONS = ("Liste des dérogations à la zone à faibles émissions de l'autorité du jeton, et de ses "
               "laissez-passer, envoyée au fil de l'eau (droit `exports:read`, jeton d'une autorité). "
               "Chaque export est inscrit au journal.")


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/api/v1/applications"): {
        "description": "Dépose une demande de laissez-passer et la soumet à l'instruction (droit "
                       "`applications:write`). Un laissez-passer sera délivré par véhicule si l'autorité "
                       "l'accepte : suivez la demande avec GET /applications/{id}.",
        "request": "ApplicationRequest",
        "responses": {201: _json(_ref("Application"), "Demande déposée et soumise."),
                      422: "Les règles des zones refusent la demande (toutes les raisons dans `detail`)."},
    },
    ("get", "/api/v1/applications/{application_id}"): {
        "description": "Une demande de l'organisation du jeton, avec ses laissez-passer (droit "
                       "`applications:write`).",
        "parameters": {"application_id": "Identifiant de la demande (UUID), donné au dépôt."},
        "responses": {200: _json(_ref("Application"), "La demande."),
                      404: "Aucune demande de ce numéro dans l'organisation du jeton."},
    },
    ("get", "/api/v1/passes"): {
        "description": "Les laissez-passer de l'organisation du jeton, du plus récent au plus ancien, par "
                       "pages (droit `passes:read`).",
        "parameters": {
            "status": "État : " + ", ".join(s.value for s in PassStatus) + ".",
            "plate": "Plaque : seulement les laissez-passer de ce véhicule.",
            "zone": "Code de zone : seulement ceux qui la couvrent.",
            "valid_at": "Instant ISO 8601 : seulement ceux valables à cet instant.",
            "limit": "Taille de la page (100 par défaut).",
            "offset": "Nombre de laissez-passer à sauter (0 par défaut).",
        },
        "responses": {200: _json(_ref("PassList"), "Une page de laissez-passer.")},
    },
    ("get", "/api/v1/passes/{ref}"): {
        "description": "Un laissez-passer par son numéro de série : son texte signé, son état et sa "
                       "validité ; `<numéro>.png` donne l'image de son QR code (droit `passes:read`).",
        "parameters": {"ref": "Numéro de série, ou numéro suivi de .png pour l'image du QR code."},
        "responses": {200: {"description": "Le laissez-passer (JSON), ou l'image de son QR code (PNG).",
                            "content": {"application/json": {"schema": _ref("Pass")},
                                        "image/png": {"schema": {"type": "string", "format": "binary"}}}},
                      404: "Aucun laissez-passer de ce numéro dans l'organisation du jeton."},
    },
    ("get", "/api/v1/exemptions.csv"): {
        "description": _EXEMPTIONS + " CSV : colonnes " + ", ".join(COLUMNS) + ", codes et instants ISO 8601. "
                       "`variant=fr` donne le fichier pour tableur : UTF-8 avec BOM, « ; », en-têtes et "
                       "libellés en français, dates JJ/MM/AAAA.",
        "parameters": {**_EXEMPTION_FILTERS, "variant": "fr : fichier pour tableur en français."},
        "responses": {200: {"description": "Le fichier CSV.",
                            "content": {"text/csv": {"schema": {"type": "string"}}}}},
    },
    ("get", "/api/v1/exemptions.json"): {
        "description": _EXEMPTIONS + " JSON : un tableau d'objets, mêmes champs que le CSV.",
        "parameters": _EXEMPTION_FILTERS,
        "responses": {200: _json({"type": "array", "items": _ref("Exemption")}, "La liste.")},
    },
}


def french_api_document(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` (Litestar's document as a dict, changed in place, once) with OPERATIONS and SCHEMAS laid
    over its /api/v1 operations: words, parameters, request and answers, refusals included."""
    paths = schema.get("paths", {})
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    if "PassList" in schemas:  # laid over already (Litestar keeps the dict; it has no type of that name)
        return schema
    for name, value in SCHEMAS.items():
        schemas[name] = copy.deepcopy(value)
    for (method, path), overlay in OPERATIONS.items():
        operation = paths.get(path, {}).get(method)
        if operation is None:  # not routed in this application (or hidden): nothing to describe
            continue
        operation["description"] = overlay["description"]
        for parameter in operation.get("parameters", []):
            text = overlay.get("parameters", {}).get(parameter["name"])
            if text:
                parameter["description"] = text
        if "request" in overlay:
            operation["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": _ref(overlay["request"])}}}
        responses: dict[str, Any] = {}
        for status, answer in sorted({**_REFUSALS, **overlay["responses"]}.items()):
            responses[str(status)] = copy.deepcopy(answer) if isinstance(answer, dict) else _json(ERROR_REF, answer)
        operation["responses"] = responses
    cookie = schema["components"].get("securitySchemes", {}).get("sessionCookie")
    if cookie is not None:
        cookie["description"] = "Cookie de session des pages du site (pas de l'API)."
    if paths and all(path.startswith("/api/") for path in paths):
        schema["security"] = [{"BearerToken": []}]  # production: the document lists only the API
        schema["components"].get("securitySchemes", {}).pop("sessionCookie", None)
    return schema
