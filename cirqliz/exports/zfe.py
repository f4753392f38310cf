"""Export low-emission zones as a document of the French national ZFE schema (GeoJSON).

Inputs are ZoneRecord-like objects (ZoneLike below). Every property of the schema is written
from the zone's fields:

- `id`: the source id of a zone imported from a ZFE file; for any other zone the schema's form
  `<SIREN>-ZFE-<NNN>` from the authority's SIREN and the zone's `ref` (stable: refs are never
  reused). A zone that needs it while the authority has no SIREN refuses the export, in French.
- `date_debut`/`date_fin`: the zone's first and last local days (`date_fin` only when it ends).
- `<class>_critair`: per vehicle class of the schema, the first Crit'Air class refused, from
  `rules["critair"]` ({"vp": {"critair_from": "V4", "opening_hours": ...}}; see
  critair_classes for how stored access rules give it). Crit'Air classes: arrêté du 21 juin 2016.
- `<class>_horaires`: the class's own hours when the source gave some, else the zone's
  restriction schedule (its opening_hours text, else its windows), else "24/7".
- `url_arrete`/`url_site_information`: the zone's `url_order`/`url_site`.
- the source's other properties (`extra`), verbatim.

The document written is checked like an imported one (cirqliz.imports.zfe.zfe_violation: the
published schema when installed, the built-in checks always) before it is returned.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any, Protocol

import shapely
from shapely.geometry import shape

from cirqliz.domain.errors import DomainError
from cirqliz.domain.osm_hours import windows_to_opening_hours
from cirqliz.imports.common import buffer_line_m, local_day_of
from cirqliz.imports.records import ImportFileError
from cirqliz.imports.zfe import CRITAIR_ORDER, MAPPED_PROPERTIES, SOURCE, VEHICLE_CLASSES, zfe_violation

URL_PROPERTIES = {"url_arrete": "url_order", "url_site_information": "url_site"}
# Notes an importer leaves in `extra` about the geometry: not properties of the source.
_GEOMETRY_NOTES = ("source_geometry", "geometry_buffered_from", "buffer_m")
_ALWAYS = "24/7"
_SAME_GEOMETRY_DEG = 1e-6  # about 10 cm


class ExportFileError(ImportFileError):
    """The zones cannot be written in the requested format (French message says why)."""

    code = "export_invalid"


class ZoneLike(Protocol):
    """What the exporters read from a zone (a ZoneRecord, or a stored zone's export view).

    `windows`/`opening_hours` are the zone's restriction schedule (ADR 0007). Optional
    attributes read when present: `ref` (the zone's number), `url_order`, `url_site`, `periods`.
    """

    source: str
    source_id: str
    code: str
    name: str
    geometry: dict[str, Any]
    tz: str
    valid_from: Any
    valid_until: Any
    windows: tuple
    opening_hours: str | None
    rules: dict[str, Any]
    extra: dict[str, Any]


class RuleLike(Protocol):
    """The access-rule fields critair_classes reads (cirqliz.db.models.AccessRule has them)."""

    vehicle_class: str
    critair_from: str | None
    max_crit_air: int | None
    categories: list[str]


def critair_classes(rules: Iterable[RuleLike]) -> dict[str, str]:
    """First Crit'Air class refused per ZFE vehicle class, from a zone's access rules.

    A rule imported from a ZFE file names its class and threshold (`vehicle_class`,
    `critair_from`): used as is. Otherwise a rule with a Crit'Air limit (`max_crit_air` m, the
    highest class admitted) covers the classes whose EU categories meet its `categories` (all
    classes when it names none) and refuses from Crit'Air m+1 on (m = 5: vehicles without a
    vignette, "NC"). When several rules cover a class, the most permissive wins: a vehicle
    admitted by any rule may enter. Rules without a Crit'Air limit (derogation passes) say
    nothing about the zone's thresholds.
    """
    imported: dict[str, str] = {}
    highest: dict[str, int] = {}
    for rule in rules:
        if rule.vehicle_class in VEHICLE_CLASSES and rule.critair_from in CRITAIR_ORDER:
            imported[rule.vehicle_class] = str(rule.critair_from)
            continue
        if rule.max_crit_air is None:
            continue
        wanted = set(rule.categories or ())
        for name, categories in VEHICLE_CLASSES.items():
            if not wanted or wanted & {c.value for c in categories}:
                highest[name] = max(highest.get(name, -1), int(rule.max_crit_air))
    found = {name: CRITAIR_ORDER[min(limit, 5) + 1] for name, limit in highest.items()}
    found.update(imported)
    return {name: found[name] for name in VEHICLE_CLASSES if name in found}


def zfe_id(zone: ZoneLike, siren: str | None) -> str:
    """The schema id of a zone: its source id when it came from a ZFE file, else `SIREN-ZFE-NNN`."""
    if zone.source == SOURCE and zone.source_id:
        return zone.source_id
    ref = getattr(zone, "ref", None)
    if not siren:
        raise ExportFileError(
            f"export ZFE refusé : la zone {zone.code} a été créée dans CirQliz et son identifiant au schéma "
            "ZFE (SIREN-ZFE-NNN) demande le numéro SIREN de l'autorité, qui n'est pas renseigné "
            "(à renseigner : « cirqliz authority siren CODE NNNNNNNNN »)", code="export_no_siren")
    if not isinstance(ref, int) or ref <= 0:
        raise ExportFileError(f"export ZFE refusé : la zone {zone.code} n'a pas de numéro (ref)",
                              code="export_no_ref")
    return f"{siren}-ZFE-{ref:03d}"


def _restriction_hours(zone: ZoneLike) -> str:
    """The zone's restriction schedule as an opening_hours text ("24/7" when always in force)."""
    if zone.opening_hours:
        return zone.opening_hours
    if not zone.windows:
        return _ALWAYS
    try:
        return windows_to_opening_hours(tuple(zone.windows))
    except DomainError as exc:
        raise ExportFileError(f"export ZFE refusé : zone {zone.code} : horaires de restriction {exc.message}",
                              code="export_hours") from exc


def _geometry(zone: ZoneLike, extra: dict[str, Any]) -> dict[str, Any]:
    """The geometry to write: the source's own (a road section's line) when the stored polygon is
    still that line buffered as on import; the stored polygon otherwise (e.g. redrawn since)."""
    source = extra.get("source_geometry")
    buffer_m = extra.get("buffer_m")
    if not (isinstance(source, dict) and isinstance(source.get("type"), str)):
        return zone.geometry
    if not extra.get("geometry_buffered_from") or buffer_m is None:
        return zone.geometry
    try:
        stored = shape(zone.geometry)
        again = buffer_line_m(shapely.force_2d(shape(source)), float(buffer_m))
        # The import rounds the buffered polygon to 8 decimals: a few millimetres apart is the same.
        same = stored.hausdorff_distance(again) <= _SAME_GEOMETRY_DEG
    except (ValueError, TypeError, AttributeError, IndexError, KeyError, shapely.errors.ShapelyError):
        same = False
    return source if same else zone.geometry


def zfe_feature(zone: ZoneLike, *, siren: str | None = None) -> dict[str, Any]:
    """One GeoJSON Feature of the ZFE schema for a zone (every property the zone can fill)."""
    if zone.valid_from is None:
        raise ExportFileError(f"export ZFE refusé : zone {zone.code} : date_debut obligatoire dans le schéma ZFE",
                              code="export_missing_start")
    extra = dict(zone.extra or {})
    props: dict[str, Any] = {
        "id": zfe_id(zone, siren),
        "date_debut": local_day_of(zone.valid_from, zone.tz).isoformat(),
    }
    if zone.valid_until is not None:
        props["date_fin"] = (local_day_of(zone.valid_until, zone.tz) - timedelta(days=1)).isoformat()
    classes = (zone.rules or {}).get("critair") or {}
    hours: str | None = None
    for name in VEHICLE_CLASSES:
        rule = classes.get(name)
        if not rule or rule.get("critair_from") is None:
            continue
        props[f"{name}_critair"] = rule["critair_from"]
        own = rule.get("opening_hours") or extra.get(f"{name}_horaires")
        if own is None:
            hours = hours if hours is not None else _restriction_hours(zone)
            own = hours
        props[f"{name}_horaires"] = own
    for prop, attribute in URL_PROPERTIES.items():
        value = getattr(zone, attribute, None) or extra.get(prop)
        if value:
            props[prop] = value
    for key, value in extra.items():
        if key not in MAPPED_PROPERTIES and key not in URL_PROPERTIES and key not in _GEOMETRY_NOTES:
            props.setdefault(key, value)
    return {"type": "Feature", "properties": props, "geometry": _geometry(zone, extra)}


def export_zfe(zones: Iterable[ZoneLike], *, siren: str | None = None, validate: bool = True) -> dict[str, Any]:
    """A ZFE schema FeatureCollection for the zones, checked (the published schema when
    installed, the built-in checks always) unless told not to; ExportFileError (French) when a
    zone cannot be written or two zones would get the same id."""
    features = [zfe_feature(z, siren=siren) for z in zones]
    seen: dict[str, int] = {}
    for index, feature in enumerate(features):
        ident = feature["properties"]["id"]
        if ident in seen:
            raise ExportFileError(f"export ZFE refusé : les entités {seen[ident] + 1} et {index + 1} auraient le "
                                  f"même identifiant {ident!r}", code="export_duplicate_id")
        seen[ident] = index
    document = {"type": "FeatureCollection", "features": features}
    if validate:
        message = zfe_violation(document, what="export ZFE")
        if message is not None:
            raise ExportFileError(message)
    return document
