"""Zones: kinds, life cycle, and geometry checks."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from typing import Any

import shapely
from shapely.geometry import mapping, shape
from shapely.validation import explain_validity

from cirqliz.domain.errors import GeometryError, TransitionError, ZoneError
from cirqliz.domain.windows import zone_info


class ZoneKind(StrEnum):
    """Kinds of restricted zones (Code de la route art. L411-2 / CGCT art. L2213-4-1 for ZFE-m)."""

    LIMITED_TRAFFIC = "limited_traffic"
    PEDESTRIAN = "pedestrian"
    LOW_EMISSION = "low_emission"
    EVENT_PERIMETER = "event_perimeter"


class ZoneStatus(StrEnum):
    """Life cycle of a zone."""

    DRAFT = "draft"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    ARCHIVED = "archived"


ZONE_TRANSITIONS: frozenset[tuple[ZoneStatus, ZoneStatus]] = frozenset(
    {
        (ZoneStatus.DRAFT, ZoneStatus.ACTIVE),
        (ZoneStatus.ACTIVE, ZoneStatus.SUSPENDED),
        (ZoneStatus.SUSPENDED, ZoneStatus.ACTIVE),
        (ZoneStatus.DRAFT, ZoneStatus.ARCHIVED),
        (ZoneStatus.ACTIVE, ZoneStatus.ARCHIVED),
        (ZoneStatus.SUSPENDED, ZoneStatus.ARCHIVED),
    }
)


def check_zone_transition(current: str, target: str) -> ZoneStatus:
    """The target status if a zone may go there from `current`, else TransitionError."""
    source, goal = ZoneStatus(current), ZoneStatus(target)
    if (source, goal) not in ZONE_TRANSITIONS:
        from cirqliz.labels import ZONE_STATUS_FR  # the table imports this module

        raise TransitionError(
            f"une zone « {ZONE_STATUS_FR[source]} » ne peut pas passer à « {ZONE_STATUS_FR[goal]} »",
            code="illegal_zone_transition",
        )
    return goal


class TrafficOrderStatus(StrEnum):
    """Whether an imported goods-traffic order without geometry has been placed on the map yet."""

    TO_LOCATE = "to_locate"
    LOCATED = "located"


class ZfeVehicleClass(StrEnum):
    """Vehicle classes of the national ZFE schema (`<class>_critair`, `<class>_horaires`;
    schema.data.gouv.fr etalab/schema-zfe, arrêté du 21 juin 2016 for the Crit'Air classes)."""

    VP = "vp"
    VUL = "vul"
    PL = "pl"
    AUTOBUS_AUTOCARS = "autobus_autocars"
    DEUX_RM = "deux_rm"


class ReviewMode(StrEnum):
    """Whether applications are approved by a person or automatically when eligible."""

    AUTOMATIC = "automatic"
    MANUAL = "manual"


ZONE_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,31}$")


def parse_zone_code(text: str) -> str:
    """A zone code: 2–32 upper-case letters, digits, '-' or '_'."""
    code = text.strip().upper()
    if not ZONE_CODE.match(code):
        raise ZoneError(
            f"code de zone invalide : {text!r} (2 à 32 lettres, chiffres, « - » ou « _ »)",
            code="invalid_zone_code",
        )
    return code


def check_time_zone(name: str) -> str:
    """The IANA time zone name if it exists (WindowError otherwise)."""
    zone_info(name)
    return name


def check_zone_dates(*, permanent: bool, starts_on: date | None, ends_on: date | None) -> None:
    """A temporary zone needs a start and an end, in order; a permanent one may have neither."""
    if permanent:
        if ends_on is not None:
            raise ZoneError("une zone permanente n'a pas de date de fin", code="permanent_with_end")
        return
    if starts_on is None or ends_on is None:
        raise ZoneError("une zone temporaire a une date de début et une date de fin",
                        code="temporary_without_dates")
    if starts_on > ends_on:
        raise ZoneError("la date de début de la zone suit sa date de fin", code="zone_dates_order")


def validate_geometry(geojson: Mapping[str, Any] | str) -> dict[str, Any]:
    """Check a GeoJSON Polygon or MultiPolygon (WGS84) and return it in 2-D.

    Raises GeometryError with the reason, e.g. a self-intersection and where it is.
    """
    if isinstance(geojson, str):
        try:
            geojson = json.loads(geojson)
        except ValueError as exc:
            raise GeometryError("géométrie illisible : ce n'est pas du JSON",
                                code="geometry_not_json") from exc
    if not isinstance(geojson, Mapping):
        raise GeometryError("géométrie illisible : un objet GeoJSON est attendu",
                            code="geometry_not_object")
    if geojson.get("type") == "Feature":
        geojson = geojson.get("geometry") or {}
        if not isinstance(geojson, Mapping):
            raise GeometryError("géométrie illisible : la Feature n'a pas d'objet « geometry »",
                                code="geometry_not_object")
    kind = geojson.get("type")
    if kind not in ("Polygon", "MultiPolygon"):
        raise GeometryError(
            f"géométrie de type {kind!r} refusée : un polygone ou un multipolygone est attendu",
            code="geometry_wrong_type",
        )
    _check_rings(geojson)
    try:
        geometry = shapely.force_2d(shape(geojson))
    except (ValueError, TypeError, AttributeError, IndexError, shapely.errors.ShapelyError) as exc:
        raise GeometryError(f"géométrie illisible : {exc}", code="geometry_unreadable") from exc
    if geometry.is_empty:
        raise GeometryError("géométrie vide", code="geometry_empty")
    if not geometry.is_valid:
        raise GeometryError(
            f"géométrie invalide : {_explain_fr(explain_validity(geometry))}",
            code="geometry_invalid",
        )
    min_x, min_y, max_x, max_y = geometry.bounds
    if not (-180 <= min_x <= max_x <= 180 and -90 <= min_y <= max_y <= 90):
        raise GeometryError(
            "coordonnées hors limites : longitude puis latitude en degrés (WGS84) attendues",
            code="geometry_out_of_bounds",
        )
    return _plain(mapping(geometry))


def _check_rings(geojson: Mapping[str, Any]) -> None:
    """GeoJSON (RFC 7946 §3.1.6) wants closed rings of four positions or more; shapely would
    close them silently."""
    coordinates = geojson.get("coordinates")
    if not isinstance(coordinates, list | tuple) or not coordinates:
        raise GeometryError("géométrie sans coordonnées", code="geometry_empty")
    polygons = [coordinates] if geojson["type"] == "Polygon" else coordinates
    if not isinstance(polygons, list | tuple):
        raise GeometryError("géométrie sans coordonnées", code="geometry_empty")
    for polygon in polygons:
        if not isinstance(polygon, list | tuple) or not polygon:
            raise GeometryError("polygone sans anneau", code="geometry_unreadable")
        for ring in polygon:
            if not isinstance(ring, list | tuple) or len(ring) < 4:
                raise GeometryError(
                    "géométrie invalide : un anneau a moins de quatre positions",
                    code="geometry_invalid",
                )
            first, last = ring[0], ring[-1]
            if not isinstance(first, list | tuple) or not isinstance(last, list | tuple):
                raise GeometryError("géométrie illisible : une position n'est pas un tableau [longitude, latitude]",
                                    code="geometry_unreadable")
            if list(first)[:2] != list(last)[:2]:
                raise GeometryError(
                    f"géométrie invalide : anneau non fermé (premier point {list(first)[:2]}, "
                    f"dernier point {list(last)[:2]})",
                    code="geometry_ring_not_closed",
                )


def _explain_fr(reason: str) -> str:
    translations = {
        "Self-intersection": "le contour se recoupe",
        "Ring Self-intersection": "un anneau se recoupe",
        "Too few points in geometry component": "trop peu de points",
        "Hole lies outside shell": "un trou est hors du contour",
        "Nested holes": "trous imbriqués",
        "Interior is disconnected": "intérieur non connexe",
        "Nested shells": "polygones imbriqués",
        "Duplicate Rings": "anneaux en double",
        "Invalid Coordinate": "coordonnée invalide",
        "Ring is not closed": "anneau non fermé",
    }
    # Longest first: "Ring Self-intersection" before "Self-intersection". The engine's English is
    # never shown: only where it happened (the point in brackets), in French.
    place = re.search(r"\[([-0-9.eE+]+)\s+([-0-9.eE+]+)", reason)
    where = f" près du point longitude {float(place[1]):.6f}, latitude {float(place[2]):.6f}" if place else ""
    for english, french in sorted(translations.items(), key=lambda item: -len(item[0])):
        if reason.startswith(english):
            return french + where
    return "contour non valide" + where


def _plain(value: Any) -> Any:
    """Tuples to lists so the GeoJSON survives a JSON column unchanged."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
