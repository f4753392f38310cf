"""Export low-emission zones as a document of the French national ZFE schema (GeoJSON).

Inputs are ZoneRecord-like objects (attributes source, source_id, code, geometry, tz, valid_from,
valid_until, windows, opening_hours, rules, extra). Per-class Crit'Air rules come from
`rules["critair"]` (as written by the ZFE importer: {"vp": {"critair_from": "V4", "opening_hours": ...}});
Crit'Air classes: arrêté du 21 juin 2016. The document written is checked like an imported one
(cirqliz.imports.zfe.zfe_violation).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any, Protocol

from cirqliz.domain.osm_hours import windows_to_opening_hours
from cirqliz.imports.common import local_day_of
from cirqliz.imports.records import ImportFileError
from cirqliz.imports.zfe import VEHICLE_CLASSES, zfe_violation


class ExportFileError(ImportFileError):
    """The zones cannot be written in the requested format (French message says why)."""

    code = "export_invalid"


class ZoneLike(Protocol):
    """What the exporters read from a zone."""

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


def zfe_feature(zone: ZoneLike) -> dict[str, Any]:
    """One GeoJSON Feature of the ZFE schema for a zone."""
    if zone.valid_from is None:
        raise ExportFileError(f"zone {zone.code} : date_debut obligatoire dans le schéma ZFE",
                              code="export_missing_start")
    extra = dict(zone.extra or {})
    geometry = extra.pop("source_geometry", None) or zone.geometry
    for note in ("geometry_buffered_from", "buffer_m"):
        extra.pop(note, None)
    props: dict[str, Any] = {
        "id": zone.source_id if zone.source == "zfe" else zone.code,
        "date_debut": local_day_of(zone.valid_from, zone.tz).isoformat(),
    }
    if zone.valid_until is not None:
        props["date_fin"] = (local_day_of(zone.valid_until, zone.tz) - timedelta(days=1)).isoformat()
    classes = (zone.rules or {}).get("critair") or {}
    default_hours = zone.opening_hours or (windows_to_opening_hours(zone.windows) if zone.windows else "24/7")
    for name in VEHICLE_CLASSES:
        rule = classes.get(name)
        if not rule:
            continue
        props[f"{name}_critair"] = rule["critair_from"]
        props[f"{name}_horaires"] = rule.get("opening_hours") or default_hours
    for key, value in extra.items():
        props.setdefault(key, value)
    return {"type": "Feature", "properties": props, "geometry": geometry}


def export_zfe(zones: Iterable[ZoneLike], *, validate: bool = True) -> dict[str, Any]:
    """A ZFE schema FeatureCollection for the zones; checked (built-in checks, and the published
    schema when installed) unless told not to."""
    document = {"type": "FeatureCollection", "features": [zfe_feature(z) for z in zones]}
    if validate:
        message = zfe_violation(document, what="export ZFE")
        if message is not None:
            raise ExportFileError(message)
    return document
