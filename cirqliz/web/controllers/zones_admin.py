"""Zones in the authority's back office (/autorite/zones, /autorite/arretes): create a zone, edit
its settings, perimeter (redrawn or uploaded), restriction schedule and access rules, change its
status, and place on the map the goods-traffic orders kept without a geometry.

Admins only (guards), every query scoped to the admin's authority: another authority's zone, rule
or order answers 404 like a missing one. Each form is one use case in a savepoint of the request's
transaction: a refusal re-renders the page with its French message (422) and stores nothing. Each
change bumps the zone's data version and is audited; it reaches the agents with the next bundle
(the publish job republishes when the published zones differ). Passes already issued keep
working (ADR 0007): nothing here revokes a pass.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, QueryParameter
from litestar.response import Redirect, Template
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.db.models import AccessRule, TrafficOrder, Zone, ZoneSchedule, window_from_json
from cirqliz.domain.errors import DomainError, NotFound
from cirqliz.domain.hours_form import describe_hours, describe_windows, french_time
from cirqliz.domain.organisations import Role
from cirqliz.domain.vehicles import CritAir, VehicleCategory
from cirqliz.domain.zones import ZONE_TRANSITIONS, TrafficOrderStatus
from cirqliz.imports.common import json_depth_error, json_too_deep
from cirqliz.issuance import authority_queries as q
from cirqliz.issuance import traffic_orders as orders
from cirqliz.issuance.zones import (
    add_access_rule,
    change_zone_geometry,
    change_zone_status,
    create_zone,
    delete_access_rule,
    set_restriction_schedule,
    update_access_rule,
    zone_rules,
)
from cirqliz.labels import ZFE_VEHICLE_CLASS_FR, ZONE_TRANSITION_FR
from cirqliz.web.controllers.authority import (
    ADMIN,
    HELPERS,
    NOTICES,
    ZONE_KIND_FR,
    _authority,
    _optional_date,
    _optional_int,
    _user,
)
from cirqliz.web.deps import DB, ClockDep
from cirqliz.web.hours_form import WEEKDAYS, hours_from_form, posted_hours_values, stored_hours_values
from cirqliz.web.rendering import page
from cirqliz.web.security import MIB, text_upload

MAX_GEOJSON_BYTES = 5 * 1024 * 1024

ZONE_ACTION_FR = ZONE_TRANSITION_FR
# Where an imported zone or rule comes from (the importers' `source`).
SOURCE_FR = {
    "zfe": "base nationale des zones à faibles émissions",
    "cerema-marchandises": "arrêtés de circulation des marchandises (Cerema)",
    "cerema": "arrêtés de circulation des marchandises (Cerema)",
    "datex2": "publication DATEX II",
    "pp-perimetres": "périmètres de sécurité (GeoJSON)",
    "ical": "calendrier iCalendar",
    "event": "événement",
}
ZFE_CLASS_FR = ZFE_VEHICLE_CLASS_FR
ZONE_NOTICES = {
    "zone_created": "Zone créée (brouillon) : ajoutez ses règles d'accès puis activez-la.",
    "zone_updated": "Zone enregistrée.",
    "zone_status": "Statut de la zone modifié. Publiez les données pour les agents.",
    "rule_added": "Règle d'accès ajoutée. Publiez les données pour les agents.",
    "rule_updated": "Règle d'accès modifiée. Publiez les données pour les agents ; les laissez-passer déjà "
                    "émis restent valables.",
    "rule_deleted": "Règle d'accès supprimée. Les laissez-passer déjà émis restent valables.",
    "schedule_updated": "Horaires de la réglementation enregistrés. Publiez les données pour les agents.",
    "perimeter_updated": "Périmètre enregistré. Publiez les données pour les agents.",
    "order_located": "Arrêté localisé : sa zone et ses règles sont créées.",
}


# ---- presentation helpers -----------------------------------------------------------------


def _number(value: float | int) -> str:
    """French number: 3 500, 3,5."""
    text = f"{value:,.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else f"{value:,}"
    return text.replace(",", " ").replace(".", ",")


def rule_limits(rule: AccessRule) -> list[str]:
    """A rule's vehicle limits in French."""
    out = []
    if rule.max_crit_air is not None:
        out.append(f"Crit'Air {rule.max_crit_air} au plus" if rule.max_crit_air
                   else "Crit'Air 0 (électrique) seulement")
    if rule.critair_from:
        out.append(f"restreint à partir de Crit'Air {rule.critair_from}")
    if rule.min_weight_kg:
        out.append(f"poids total de {_number(rule.min_weight_kg)} kg au moins")
    if rule.max_weight_kg:
        out.append(f"poids total de {_number(rule.max_weight_kg)} kg au plus")
    for value, label in ((rule.max_length_cm, "longueur"), (rule.max_width_cm, "largeur"),
                         (rule.max_height_cm, "hauteur")):
        if value:
            out.append(f"{label} de {_number(value / 100)} m au plus")
    return out


def rule_hours_fr(rule: AccessRule, lang: str = "fr") -> str:
    """When a rule admits its holders, in French (or English for the English pages)."""
    always = "at any time of the restriction" if lang == "en" else "à toute heure de la réglementation"
    if rule.opening_hours:
        return describe_hours(rule.opening_hours, always=always, lang=lang)
    return describe_windows([window_from_json(w) for w in rule.windows or ()], always=always, lang=lang)


def source_label(source: str) -> str:
    """The French name of an import source."""
    return SOURCE_FR.get(source, "fichier importé")


def order_facts(rules: Mapping[str, Any]) -> list[str]:
    """What an order (traffic_order.rules) restricts, in French."""
    out = []
    kinds = ", ".join(rules.get("vehicle_types") or ()) or "véhicules"
    out.append(("Interdit aux " if rules.get("modality") == "forbid" else "Autorisé aux ") + kinds.lower())
    tonnage, mode = rules.get("tonnage_t"), rules.get("tonnage_mode")
    if tonnage:
        prefix = {"min": "à partir de", "max": "jusqu'à"}.get(mode or "", "tonnage :")
        out.append(f"{prefix} {_number(float(tonnage))} t")
    if rules.get("usages"):
        out.append("usages : " + ", ".join(rules["usages"]))
    if rules.get("except_usages"):
        out.append("sauf " + ", ".join(rules["except_usages"]))
    for key, label in (("max_length_m", "longueur"), ("max_width_m", "largeur"), ("max_height_m", "hauteur")):
        if rules.get(key):
            out.append(f"{label} {_number(float(rules[key]))} m")
    if rules.get("motors"):
        out.append("motorisations : " + ", ".join(rules["motors"]))
    classes = rules.get("crit_air") or ()
    if classes:
        out.append("Crit'Air : " + ", ".join("non classés" if c is None else str(c) for c in classes))
    return out


def _stated(text: str | None) -> str:
    """'—' for a value the file does not give ('NC': non communiqué)."""
    value = (text or "").strip()
    return "non communiqué" if value.upper() == "NC" else (value or "—")


ZONE_HELPERS: dict[str, Any] = {
    **HELPERS,
    "hours_fr": describe_hours,
    "rule_limits": rule_limits,
    "rule_hours_fr": rule_hours_fr,
    "source_label": source_label,
    "order_facts": order_facts,
    "stated": _stated,
    "french_time": french_time,
    "ZFE_CLASSES": ZFE_CLASS_FR,
    "ORDER_STATUS": orders.STATUS_FR,
    "weekdays": WEEKDAYS,
}


def _render(request: Request, template: str, *, status_code: int = 200, **context: Any) -> Template:
    notice = ZONE_NOTICES.get(request.query_params.get("ok", "")) or NOTICES.get(request.query_params.get("ok", ""))
    return page(request, f"autorite/{template}", status_code=status_code, notice=notice, **ZONE_HELPERS, **context)


def _tiles(request: Request) -> str:
    return request.app.state.settings.tile_url


# ---- geometry from a form -----------------------------------------------------------------


def _single_feature(text: str) -> Any:
    """A FeatureCollection of one feature is accepted as that feature; anything else goes to
    validate_geometry as it is (which explains what is wrong, in French)."""
    try:
        data = json.loads(text)
    except ValueError:
        return text
    except RecursionError:
        raise json_depth_error("GeoJSON") from None
    if json_too_deep(data):  # recursive geometry code would fail on it
        raise json_depth_error("GeoJSON")
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        features = data.get("features") or []
        if len(features) != 1:
            raise DomainError(f"le fichier contient {len(features)} objets : une seule zone (un polygone ou "
                              "multipolygone) est attendue par fichier", code="geometry_feature_count")
        return features[0]
    return data


async def _geometry_text(form: Any) -> str:
    upload = form.get("geometry_file")
    if isinstance(upload, UploadFile) and upload.filename:
        content = await upload.read(MAX_GEOJSON_BYTES + 1)
        if len(content) > MAX_GEOJSON_BYTES:
            raise DomainError("fichier GeoJSON trop gros (5 Mo au plus)", code="geometry_too_large")
        if content.strip():
            return text_upload(content, what="fichier GeoJSON")
    text = str(form.get("geojson") or "").strip()
    if not text:
        raise DomainError("géométrie manquante : déposez un fichier GeoJSON, dessinez la zone sur la carte ou "
                          "collez son GeoJSON", code="geometry_missing")
    return text


async def _geometry(form: Any) -> Any:
    return _single_feature(await _geometry_text(form))


# ---- zones list and creation --------------------------------------------------------------


@get("/autorite/zones", guards=ADMIN, name="authority_zones")
async def zone_list(
    request: Request, db: DB, number: Annotated[int, QueryParameter(name="page")] = 1
) -> Template:
    """The authority's zones with their restriction schedule and rules, and the orders to place;
    one page at a time, without geometry."""
    authority = await _authority(request, db, Role.AUTHORITY_ADMIN)
    result = await q.zones_page(db, authority.id, number=number)
    zones = result.rows
    rules = await q.rules_by_zone(db, [z.id for z in zones])
    return _render(request, "zones.html", authority=authority, zones=zones, rules=rules, result=result,
                   filters={}, to_locate=await orders.orders_to_locate(db, authority.id))


def _zone_form_context(request: Request, values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {
        "values": dict(values or {"time_zone": "Europe/Paris", "permanent": "1", "kind": "limited_traffic"}),
        "tile_url": _tiles(request),
    }


@get("/autorite/zones/nouvelle", guards=ADMIN, name="authority_zone_new")
async def zone_new(request: Request, db: DB) -> Template:
    """Create a zone: upload a GeoJSON file, draw it on the map, or paste GeoJSON."""
    await _authority(request, db, Role.AUTHORITY_ADMIN)
    return _render(request, "zone_new.html", error=None, **_zone_form_context(request))


def _zone_fields(form: Any) -> dict[str, Any]:
    permanent = form.get("permanent") == "1"
    return {
        "name": str(form.get("name") or "").strip(),
        "kind": str(form.get("kind") or ""),
        "time_zone": str(form.get("time_zone") or "Europe/Paris").strip(),
        "permanent": permanent,
        "starts_on": _optional_date(form, "starts_on", "date de début"),
        "ends_on": None if permanent else _optional_date(form, "ends_on", "date de fin"),
    }


def _check_kind(kind: str) -> None:
    if kind not in ZONE_KIND_FR:
        raise DomainError(f"type de zone inconnu : {kind!r}", code="invalid_zone_kind")


@post("/autorite/zones/nouvelle", guards=ADMIN, name="authority_zone_create",
      request_max_body_size=MAX_GEOJSON_BYTES + MIB)
async def zone_create(request: Request, db: DB, clock: ClockDep) -> Response[Any]:
    """Create a draft zone; a refused geometry stores nothing and says why (422)."""
    authority = await _authority(request, db, Role.AUTHORITY_ADMIN)
    form = await request.form()
    values = {k: form.get(k) for k in ("code", "name", "kind", "time_zone", "permanent", "starts_on", "ends_on",
                                       "geojson")}
    try:
        fields = _zone_fields(form)
        _check_kind(fields["kind"])
        if not fields["name"]:
            raise DomainError("le nom de la zone est obligatoire", code="zone_name_missing")
        geometry = await _geometry(form)
        async with db.begin_nested():
            zone = await create_zone(db, authority_id=authority.id, code=str(form.get("code") or ""),
                                     geometry=geometry, clock=clock, actor_id=_user(request).id, **fields)
    except DomainError as exc:
        return _render(request, "zone_new.html", status_code=422, error=exc.message,
                       **_zone_form_context(request, values))
    except IntegrityError:
        return _render(request, "zone_new.html", status_code=409,
                       error="ce code de zone est déjà utilisé par une autre zone de l'autorité",
                       **_zone_form_context(request, values))
    return Redirect(f"/autorite/zones/{zone.id}?ok=zone_created", status_code=303)


# ---- one zone -----------------------------------------------------------------------------


def _new_rule_values() -> dict[str, Any]:
    return {"review_mode": "manual", "hours": stored_hours_values(None)}


def _posted_rule_values(form: Any) -> dict[str, Any]:
    values: dict[str, Any] = {k: form.get(k) for k in form}
    values["purposes"] = [str(p) for p in form.getall("purposes", [])]
    values["categories"] = list(form.getall("categories", []))
    values["hours"] = posted_hours_values(form)
    return values


def _stored_rule_values(rule: AccessRule) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": rule.name, "purposes": [str(p) for p in rule.purposes], "categories": list(rule.categories),
        "max_crit_air": "" if rule.max_crit_air is None else str(rule.max_crit_air),
        "review_mode": rule.review_mode, "hours": stored_hours_values(rule.opening_hours),
    }
    for name in ("max_weight_kg", "min_weight_kg", "max_length_cm", "max_width_cm", "max_height_cm",
                 "quota_days_per_year", "max_pass_days"):
        value = getattr(rule, name)
        values[name] = "" if value is None else str(value)
    return values


def _rule_choices() -> dict[str, Any]:
    return {"categories": [(c.value, c.label_fr) for c in VehicleCategory],
            "crit_air": [(int(c), c.label_fr) for c in CritAir]}


async def _zone_context(request: Request, db: AsyncSession, zone: Zone, **extra: Any) -> dict[str, Any]:
    transitions = [goal.value for source, goal in sorted(ZONE_TRANSITIONS) if source.value == zone.status]
    return {
        "zone": zone,
        "rules": await zone_rules(db, zone.id),
        "transitions": [(t, ZONE_ACTION_FR[t]) for t in transitions],
        "geometry_json": json.dumps(zone.geometry),
        "tile_url": _tiles(request),
        **_rule_choices(),
        "error": None,
        "rule_values": _new_rule_values(),
        "schedule_values": stored_hours_values(zone.restriction_hours),
        "unexpressed": zone.restriction_hours is not None and zone.restriction_windows is None,
        "periods": await _periods(db, zone.id),
        **extra,
    }


async def _periods(db: AsyncSession, zone_id: uuid.UUID) -> list[ZoneSchedule]:
    """The zone's dated periods (an event perimeter is in force only during them, ADR 0007)."""
    return list((await db.exec(select(ZoneSchedule).where(col(ZoneSchedule.zone_id) == zone_id)
                               .order_by(col(ZoneSchedule.starts_at)))).all())


async def _zone_of(request: Request, db: AsyncSession, zone_id: uuid.UUID) -> Zone:
    authority = await _authority(request, db, Role.AUTHORITY_ADMIN)
    return await q.scoped(db, Zone, zone_id, authority.id)


async def _refused(request: Request, db: AsyncSession, zone: Zone, message: str, **extra: Any) -> Template:
    await db.refresh(zone)
    return _render(request, "zone.html", status_code=422, **await _zone_context(request, db, zone, error=message,
                                                                                **extra))


def _message(exc: Exception) -> str:
    return exc.message if isinstance(exc, DomainError) else f"valeur refusée : {exc}"


@get("/autorite/zones/{zone_id:uuid}", guards=ADMIN, name="authority_zone")
async def zone_detail(request: Request, db: DB, zone_id: FromPath[uuid.UUID]) -> Template:
    """A zone: its settings, status, restriction schedule, provenance, map and access rules."""
    zone = await _zone_of(request, db, zone_id)
    return _render(request, "zone.html", **await _zone_context(request, db, zone))


@post("/autorite/zones/{zone_id:uuid}", guards=ADMIN, name="authority_zone_update")
async def zone_update(request: Request, db: DB, clock: ClockDep, zone_id: FromPath[uuid.UUID]
                      ) -> Response[Any]:
    """Change the name, kind, time zone and dates of a zone."""
    zone = await _zone_of(request, db, zone_id)
    form = await request.form()
    try:
        fields = _zone_fields(form)
        _check_kind(fields["kind"])
        async with db.begin_nested():
            await q.update_zone(db, zone_id=zone.id, clock=clock, actor_id=_user(request).id, **fields)
    except DomainError as exc:
        return await _refused(request, db, zone, exc.message)
    return Redirect(f"/autorite/zones/{zone.id}?ok=zone_updated", status_code=303)


@dataclass
class StatusForm:
    """A status change."""

    status: str = ""


@post("/autorite/zones/{zone_id:uuid}/statut", guards=ADMIN, name="authority_zone_status")
async def zone_status(
    request: Request, db: DB, clock: ClockDep, zone_id: FromPath[uuid.UUID],
    data: Annotated[StatusForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Response[Any]:
    """Activate, suspend or archive a zone."""
    zone = await _zone_of(request, db, zone_id)
    try:
        async with db.begin_nested():
            await change_zone_status(db, zone_id=zone.id, status=data.status, clock=clock,
                                     actor_id=_user(request).id)
    except (DomainError, ValueError) as exc:
        message = exc.message if isinstance(exc, DomainError) else f"statut inconnu : {data.status!r}"
        return await _refused(request, db, zone, message)
    return Redirect(f"/autorite/zones/{zone.id}?ok=zone_status", status_code=303)


@post("/autorite/zones/{zone_id:uuid}/horaires", guards=ADMIN, name="authority_zone_schedule")
async def zone_schedule(request: Request, db: DB, clock: ClockDep, zone_id: FromPath[uuid.UUID]
                        ) -> Response[Any]:
    """Set when the zone's restriction is in force (the hours form; "en permanence" clears it)."""
    zone = await _zone_of(request, db, zone_id)
    form = await request.form()
    try:
        hours = hours_from_form(form)
        async with db.begin_nested():
            await set_restriction_schedule(db, zone_id=zone.id, opening_hours=hours, clock=clock,
                                           actor_id=_user(request).id)
    except (DomainError, ValueError) as exc:
        return await _refused(request, db, zone, _message(exc), schedule_values=posted_hours_values(form))
    return Redirect(f"/autorite/zones/{zone.id}?ok=schedule_updated#reglementation", status_code=303)


# ---- perimeter ----------------------------------------------------------------------------


def _perimeter_context(request: Request, zone: Zone, **extra: Any) -> dict[str, Any]:
    return {"zone": zone, "geometry_json": json.dumps(zone.geometry), "tile_url": _tiles(request), "error": None,
            "values": {}, **extra}


@get("/autorite/zones/{zone_id:uuid}/perimetre", guards=ADMIN, name="authority_zone_perimeter_page")
async def zone_perimeter_page(request: Request, db: DB, zone_id: FromPath[uuid.UUID]) -> Template:
    """Redraw the perimeter on the map (the current one shown dashed) or upload a GeoJSON file."""
    zone = await _zone_of(request, db, zone_id)
    return _render(request, "zone_perimeter.html", **_perimeter_context(request, zone))


@post("/autorite/zones/{zone_id:uuid}/perimetre", guards=ADMIN, name="authority_zone_perimeter",
      request_max_body_size=MAX_GEOJSON_BYTES + MIB)
async def zone_perimeter(request: Request, db: DB, clock: ClockDep, zone_id: FromPath[uuid.UUID]
                         ) -> Response[Any]:
    """Replace the perimeter (checked by validate_geometry: French reasons, nothing stored if refused)."""
    zone = await _zone_of(request, db, zone_id)
    form = await request.form()
    try:
        geometry = await _geometry(form)
        async with db.begin_nested():
            await change_zone_geometry(db, zone_id=zone.id, geometry=geometry, clock=clock,
                                       actor_id=_user(request).id)
    except DomainError as exc:
        await db.refresh(zone)
        return _render(request, "zone_perimeter.html", status_code=422,
                       **_perimeter_context(request, zone, error=exc.message,
                                            values={"geojson": form.get("geojson") or ""}))
    return Redirect(f"/autorite/zones/{zone.id}?ok=perimeter_updated", status_code=303)


# ---- access rules -------------------------------------------------------------------------


def _rule_fields(form: Any) -> dict[str, Any]:
    """The rule a form describes (hours from the hours form); French errors."""
    return {
        "name": str(form.get("name") or "").strip(),
        "purposes": [int(p) for p in form.getall("purposes", []) if str(p).isdecimal()],
        "categories": [str(c) for c in form.getall("categories", [])],
        "max_crit_air": _optional_int(form, "max_crit_air", "Crit'Air maximal"),
        "max_weight_kg": _optional_int(form, "max_weight_kg", "poids maximal"),
        "min_weight_kg": _optional_int(form, "min_weight_kg", "poids minimal"),
        "max_length_cm": _optional_int(form, "max_length_cm", "longueur maximale"),
        "max_width_cm": _optional_int(form, "max_width_cm", "largeur maximale"),
        "max_height_cm": _optional_int(form, "max_height_cm", "hauteur maximale"),
        "quota_days_per_year": _optional_int(form, "quota_days_per_year", "quota annuel"),
        "max_pass_days": _optional_int(form, "max_pass_days", "durée maximale"),
        "review_mode": str(form.get("review_mode") or "manual"),
        "opening_hours": hours_from_form(form),
    }


@post("/autorite/zones/{zone_id:uuid}/regles", guards=ADMIN, name="authority_rule_add")
async def rule_add(request: Request, db: DB, clock: ClockDep, zone_id: FromPath[uuid.UUID]) -> Response[Any]:
    """Add an access rule: hours (form or opening_hours), purposes, vehicles, limits, review."""
    zone = await _zone_of(request, db, zone_id)
    form = await request.form()
    try:
        fields = _rule_fields(form)
        async with db.begin_nested():
            await add_access_rule(db, zone_id=zone.id, clock=clock, actor_id=_user(request).id, **fields)
    except (DomainError, ValueError) as exc:
        return await _refused(request, db, zone, _message(exc), rule_values=_posted_rule_values(form))
    return Redirect(f"/autorite/zones/{zone.id}?ok=rule_added#regles", status_code=303)


async def _rule_of(request: Request, db: AsyncSession, zone_id: uuid.UUID, rule_id: uuid.UUID
                   ) -> tuple[Zone, AccessRule]:
    zone = await _zone_of(request, db, zone_id)
    rule = await db.get(AccessRule, rule_id)
    if rule is None or rule.zone_id != zone.id:
        raise NotFound(f"règle d'accès introuvable : {rule_id}", code="rule_not_found")
    return zone, rule


def _rule_context(zone: Zone, rule: AccessRule, **extra: Any) -> dict[str, Any]:
    return {"zone": zone, "rule": rule, "error": None, "rule_values": _stored_rule_values(rule), **_rule_choices(),
            **extra}


@get("/autorite/zones/{zone_id:uuid}/regles/{rule_id:uuid}", guards=ADMIN, name="authority_rule")
async def rule_page(request: Request, db: DB, zone_id: FromPath[uuid.UUID],
                    rule_id: FromPath[uuid.UUID]) -> Template:
    """Edit or delete one access rule."""
    zone, rule = await _rule_of(request, db, zone_id, rule_id)
    return _render(request, "rule.html", **_rule_context(zone, rule))


@post("/autorite/zones/{zone_id:uuid}/regles/{rule_id:uuid}", guards=ADMIN, name="authority_rule_update")
async def rule_update(request: Request, db: DB, clock: ClockDep, zone_id: FromPath[uuid.UUID],
                      rule_id: FromPath[uuid.UUID]) -> Response[Any]:
    """Save a rule's new name, hours, purposes, vehicles, limits and review mode."""
    zone, rule = await _rule_of(request, db, zone_id, rule_id)
    form = await request.form()
    try:
        fields = _rule_fields(form)
        async with db.begin_nested():
            await update_access_rule(db, rule_id=rule.id, clock=clock, actor_id=_user(request).id, **fields)
    except (DomainError, ValueError) as exc:
        await db.refresh(rule)
        await db.refresh(zone)
        return _render(request, "rule.html", status_code=422,
                       **_rule_context(zone, rule, error=_message(exc), rule_values=_posted_rule_values(form)))
    return Redirect(f"/autorite/zones/{zone.id}?ok=rule_updated#regles", status_code=303)


@dataclass
class ConfirmForm:
    """A confirmed deletion."""

    confirm: str = ""


@post("/autorite/zones/{zone_id:uuid}/regles/{rule_id:uuid}/supprimer", guards=ADMIN,
      name="authority_rule_delete")
async def rule_delete(
    request: Request, db: DB, clock: ClockDep, zone_id: FromPath[uuid.UUID], rule_id: FromPath[uuid.UUID],
    data: Annotated[ConfirmForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Response[Any]:
    """Delete a rule (after confirmation); passes already issued are not revoked."""
    zone, rule = await _rule_of(request, db, zone_id, rule_id)
    if data.confirm != "oui":
        return _render(request, "rule.html", status_code=422,
                       **_rule_context(zone, rule, error="cochez la case de confirmation pour supprimer la règle"))
    async with db.begin_nested():
        await delete_access_rule(db, rule_id=rule.id, clock=clock, actor_id=_user(request).id)
    return Redirect(f"/autorite/zones/{zone.id}?ok=rule_deleted#regles", status_code=303)


# ---- orders to place on the map ------------------------------------------------------------


@get("/autorite/arretes", guards=ADMIN, name="authority_orders")
async def order_list(request: Request, db: DB) -> Template:
    """Goods-traffic orders kept without a geometry ("à localiser"), then those already placed."""
    authority = await _authority(request, db, Role.AUTHORITY_ADMIN)
    rows = await orders.authority_orders(db, authority.id)
    zones = {z.id: z for z in await q.authority_zones(db, authority.id)}
    return _render(request, "arretes.html", authority=authority,
                   to_locate=[o for o in rows if o.status == TrafficOrderStatus.TO_LOCATE.value],
                   located=[o for o in rows if o.status != TrafficOrderStatus.TO_LOCATE.value], zones=zones)


async def _order_of(request: Request, db: AsyncSession, order_id: uuid.UUID) -> TrafficOrder:
    authority = await _authority(request, db, Role.AUTHORITY_ADMIN)
    return await orders.scoped_order(db, order_id, authority.id)


async def _order_context(request: Request, db: AsyncSession, order: TrafficOrder, **extra: Any) -> dict[str, Any]:
    zone = await db.get(Zone, order.zone_id) if order.zone_id else None
    return {"order": order, "zone": zone, "tile_url": _tiles(request), "error": None, "values": {}, **extra}


@get("/autorite/arretes/{order_id:uuid}", guards=ADMIN, name="authority_order")
async def order_page(request: Request, db: DB, order_id: FromPath[uuid.UUID]) -> Template:
    """One order: what it restricts, and the map to draw its place on (or a GeoJSON file)."""
    order = await _order_of(request, db, order_id)
    return _render(request, "arrete.html", **await _order_context(request, db, order))


@post("/autorite/arretes/{order_id:uuid}", guards=ADMIN, name="authority_order_locate",
      request_max_body_size=MAX_GEOJSON_BYTES + MIB)
async def order_locate(request: Request, db: DB, clock: ClockDep, order_id: FromPath[uuid.UUID]
                       ) -> Response[Any]:
    """Give the order its geometry: its zone and rules are created (see locate_order)."""
    order = await _order_of(request, db, order_id)
    form = await request.form()
    try:
        geometry = await _geometry(form)
        async with db.begin_nested():
            zone = await orders.locate_order(db, authority_id=order.authority_id, order_id=order.id,
                                             geometry=geometry, clock=clock, actor_id=_user(request).id)
    except DomainError as exc:
        await db.refresh(order)
        return _render(request, "arrete.html", status_code=422,
                       **await _order_context(request, db, order, error=exc.message,
                                              values={"geojson": form.get("geojson") or ""}))
    return Redirect(f"/autorite/zones/{zone.id}?ok=order_located", status_code=303)


ROUTES = [
    zone_list, zone_new, zone_create, zone_detail, zone_update, zone_status, zone_schedule,
    zone_perimeter_page, zone_perimeter, rule_add, rule_page, rule_update, rule_delete,
    order_list, order_page, order_locate,
]
