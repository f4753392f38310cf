"""Zones for a trust bundle from a JSON file (used by the CLI until zones come from the database).

Each entry: ref, code, name, kind, tz, windows (["Mo-Fr 07:00-11:00", ...]: when pass holders may
enter while the restriction is in force), optional restriction (same form: when the zone is
restricted at all, ADR 0007; absent: at all times), optional
valid_from/valid_until (ISO 8601 with offset), closures ([{start, end, reason}]) and geometry
(GeoJSON MultiPolygon coordinates, lon/lat).
"""

from __future__ import annotations

import json
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from cirqliz.domain.errors import DomainError
from cirqliz.domain.windows import parse_window, zone_info
from cirqliz.imports.common import has_lone_surrogate
from cirqliz.passcode.bundle import BundleZone, Closure, geometry_from_lonlat
from cirqliz.passcode.errors import KeyStoreError

_JSON_KINDS = {"list": "un tableau", "str": "un texte", "int": "un nombre", "float": "un nombre",
               "bool": "un booléen", "NoneType": "null"}


def _json_kind(value: Any) -> str:
    return _JSON_KINDS.get(type(value).__name__, type(value).__name__)


def _epoch(value: str | None, what: str) -> int | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError as exc:
        raise KeyStoreError(f"{what} : {value!r} n'est pas une date-heure ISO 8601", code="bad_zone_file") from exc
    if when.tzinfo is None:
        raise KeyStoreError(f"{what} : {value!r} doit indiquer son décalage UTC (ex. +01:00)", code="bad_zone_file")
    return int(when.timestamp())


def zone_from_json(item: dict[str, Any]) -> BundleZone:
    """One zone entry to a BundleZone; KeyStoreError naming the field on bad input."""
    if not isinstance(item, dict):
        raise KeyStoreError(f"chaque zone doit être un objet JSON, pas {_json_kind(item)}", code="bad_zone_file")
    try:
        for name in ("code", "name", "kind", "tz"):
            if not isinstance(item[name], str) or not item[name].strip():
                raise KeyStoreError(f"zone : le champ {name} doit être un texte non vide", code="bad_zone_file")
        code = item["code"]
        zone_info(item["tz"])
        return BundleZone(
            ref=int(item["ref"]),
            code=code,
            name=item["name"],
            kind=item["kind"],
            tz=item["tz"],
            windows=tuple(parse_window(w) for w in item.get("windows", ())),
            restriction=tuple(parse_window(w) for w in item.get("restriction", ())),
            valid_from=_epoch(item.get("valid_from"), f"zone {code}, valid_from"),
            valid_until=_epoch(item.get("valid_until"), f"zone {code}, valid_until"),
            closures=tuple(
                Closure(
                    _epoch(c["start"], f"zone {code}, fermeture") or 0,
                    _epoch(c["end"], f"zone {code}, fermeture") or 0,
                    c.get("reason", ""),
                )
                for c in item.get("closures", ())
            ),
            geometry=geometry_from_lonlat(_checked_geometry(item["geometry"], code)) if item.get("geometry") else None,
        )
    except KeyStoreError:
        raise  # already precise (and a ValueError: the last clause would blur it)
    except KeyError as exc:
        raise KeyStoreError(f"zone : le champ {exc} manque", code="bad_zone_file") from exc
    except DomainError as exc:
        raise KeyStoreError(f"zone {item.get('code')!r} : {exc.message}", code="bad_zone_file") from exc
    except (TypeError, ValueError, AttributeError, OverflowError, IndexError) as exc:
        # a field of the wrong JSON type (a number for a text, an object for a list…)
        raise KeyStoreError(f"zone {item.get('code')!r} : un champ n'a pas le bon type ou la bonne valeur",
                            code="bad_zone_file") from exc


def _checked_geometry(polygons: Any, code: str) -> Any:
    """MultiPolygon coordinates: polygons of rings of [lon, lat] numbers in WGS84 range."""
    ok = isinstance(polygons, list) and all(
        isinstance(polygon, list) and all(
            isinstance(ring, list) and all(
                isinstance(point, list) and len(point) == 2
                and all(type(v) in (int, float) for v in point)
                and -180 <= point[0] <= 180 and -90 <= point[1] <= 90
                for point in ring)
            for ring in polygon)
        for polygon in polygons)
    if not ok:
        raise KeyStoreError(f"zone {code!r} : la géométrie doit être des coordonnées MultiPolygon, "
                            "[longitude, latitude] en degrés", code="bad_zone_file")
    return polygons


def load_zones(path: str | Path | None = None) -> tuple[BundleZone, ...]:
    """Zones from a JSON file, or the packaged demo zones when `path` is None."""
    if path is None:
        text = resources.files("cirqliz.demo").joinpath("zones.json").read_text(encoding="utf-8")
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            why = "fichier introuvable" if isinstance(exc, FileNotFoundError) else (
                "accès refusé" if isinstance(exc, PermissionError) else "erreur de lecture")
            raise KeyStoreError(f"impossible de lire le fichier de zones {path} : {why}",
                                code="bad_zone_file") from exc
        except UnicodeDecodeError as exc:
            raise KeyStoreError(f"le fichier de zones {path} n'est pas un texte UTF-8", code="bad_zone_file") from exc
    return zones_from_text(text)


def zones_from_text(text: str) -> tuple[BundleZone, ...]:
    """Zones from the JSON text of a zones file; KeyStoreError naming the problem on bad input."""
    try:
        items = json.loads(text)
    except (ValueError, RecursionError) as exc:
        where = f" (ligne {exc.lineno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise KeyStoreError(f"le fichier de zones n'est pas du JSON{where}", code="bad_zone_file") from exc
    if not isinstance(items, list):
        raise KeyStoreError("le fichier de zones doit contenir un tableau JSON de zones", code="bad_zone_file")
    if has_lone_surrogate(items):
        raise KeyStoreError("le fichier de zones contient un échappement \\uD800-\\uDFFF isolé (UTF-16 mal formé)",
                            code="bad_zone_file")
    zones = tuple(zone_from_json(item) for item in items)
    refs = [z.ref for z in zones]
    codes = [z.code for z in zones]
    if len(set(refs)) != len(refs) or len(set(codes)) != len(codes):
        raise KeyStoreError("le fichier de zones répète une référence ou un code de zone", code="bad_zone_file")
    return zones
