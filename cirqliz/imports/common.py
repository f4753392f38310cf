"""Helpers shared by the importers: decoding, JSON, stable codes, dates and geometry."""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import os
import re
import time as monotonic_time
import unicodedata
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import jsonschema
import shapely
from referencing import Registry, Resource
from shapely.geometry import mapping, shape

from cirqliz.domain.errors import DomainError, GeometryError
from cirqliz.domain.windows import zone_info
from cirqliz.domain.zones import parse_zone_code, validate_geometry
from cirqliz.imports.records import ImportFileError

EARTH_RADIUS_M = 6_371_008.8
DEFAULT_BUFFER_M = 10.0
_CODE_CHARS = re.compile(r"[^A-Z0-9_-]+")
MAX_JSON_DEPTH = 64
"""Nesting levels a JSON document may have (GeoJSON needs about ten; deeper is an attack, and
recursive code after the parser would fail on it)."""
IMPORT_TIME_LIMIT_S = 20.0
"""Seconds reading one imported file may take (see read_off_loop)."""
T = TypeVar("T")


async def read_off_loop(read: Callable[[float], T], *, time_limit: float | None = None) -> T:
    """Run a file reader in a worker thread, so that the event loop keeps serving other requests,
    and refuse the file (ImportFileError "import_too_complex") when reading takes longer than
    `time_limit` seconds (IMPORT_TIME_LIMIT_S by default).

    `read` receives the time.monotonic() deadline: a thread cannot be killed, so readers with a
    loop (iCalendar expansion) stop themselves there; the others are bounded by their budgets.
    """
    limit = IMPORT_TIME_LIMIT_S if time_limit is None else time_limit
    deadline = monotonic_time.monotonic() + limit
    try:
        return await asyncio.wait_for(asyncio.to_thread(read, deadline), limit + 1.0)
    except TimeoutError as exc:
        raise ImportFileError(f"fichier trop complexe : sa lecture dépasse {limit:g} s. Rien n'a été importé.",
                              code="import_too_complex") from exc


def json_depth_error(what: str) -> ImportFileError:
    """The refusal of a JSON document nested deeper than MAX_JSON_DEPTH."""
    return ImportFileError(f"{what} illisible : JSON trop profondément imbriqué ({MAX_JSON_DEPTH} niveaux au plus)",
                           code="json_too_deep")


def json_too_deep(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether a decoded JSON value nests lists and objects more than `limit` levels (without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def decode_text(data: bytes | str, *, what: str = "fichier") -> str:
    """Text of `data`: str as is, bytes as strict UTF-8 (a BOM is dropped); ImportFileError else."""
    if isinstance(data, str):
        try:
            data.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ImportFileError(f"{what} illisible : caractère invalide (substitut UTF-16 isolé) à la position "
                                  f"{exc.start}", code="import_not_utf8") from exc
        return data.removeprefix("\ufeff")
    try:
        return bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            f"{what} illisible : ce n'est pas de l'UTF-8 (octet invalide à la position {exc.start})",
            code="import_not_utf8",
        ) from exc


def load_json(data: bytes | str, *, what: str = "fichier") -> Any:
    """Parse JSON text or bytes; ImportFileError naming the line and column when it is not JSON."""
    text = decode_text(data, what=what)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFileError(
            f"{what} illisible : ce n'est pas du JSON valide (ligne {exc.lineno}, colonne {exc.colno} : "
            f"{json_error_fr(exc.msg)})",
            code="import_not_json",
        ) from exc
    except ValueError as exc:  # an integer of more than 4300 digits (Python's conversion limit)
        raise ImportFileError(f"{what} illisible : nombre trop long dans le JSON", code="import_not_json") from exc
    except RecursionError as exc:
        raise json_depth_error(what) from exc
    if json_too_deep(document):
        raise json_depth_error(what)
    if _SURROGATE_ESCAPE.search(text) and has_lone_surrogate(document):
        raise ImportFileError(f"{what} illisible : le JSON contient un caractère « \\uD800 »…« \\uDFFF » isolé "
                              "(UTF-16 mal formé)", code="import_not_json")
    return document


_JSON_ERRORS_FR = (
    ("Expecting value", "valeur attendue"),
    ("Expecting property name", "nom de propriété entre guillemets attendu"),
    ("Expecting ',' delimiter", "virgule attendue"),
    ("Expecting ':' delimiter", "deux-points attendus"),
    ("Extra data", "texte en trop après la fin du JSON"),
    ("Unterminated string", "texte entre guillemets non terminé"),
    ("Invalid control character", "caractère de contrôle interdit dans un texte"),
    ("Invalid \\escape", "séquence d'échappement invalide"),
    ("Invalid \\u", "séquence d'échappement \\u invalide"),
)


def json_error_fr(message: str) -> str:
    """French for the message of a json.JSONDecodeError (the parser's English is never shown)."""
    return next((french for english, french in _JSON_ERRORS_FR if message.startswith(english)), "syntaxe invalide")


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def has_lone_surrogate(value: Any) -> bool:
    """Whether a decoded JSON value holds a string with an unpaired surrogate (JSON's "\\ud800"
    escapes decode to one; such text cannot be stored or encoded as UTF-8)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


OPEN_DATA_DIR_ENV = "CIRQLIZ_OPEN_DATA_DIR"
DEFAULT_OPEN_DATA_DIR = Path("var") / "opendata"
_CLONE = Path(__file__).resolve().parents[2]


def open_data_dir() -> Path:
    """Folder of the published reference files (ZFE and Cerema schemas, DATEX II XSDs).

    They are third-party files, not shipped in the package, and optional: without them imports and
    exports are validated by the built-in checks alone (cirqliz.opendata). The folder is
    CIRQLIZ_OPEN_DATA_DIR when set; else ../shared/data when the code runs from a development clone
    that has it beside it; else var/opendata (relative to the working directory, like var/documents),
    where `cirqliz opendata fetch` installs them.
    """
    configured = os.environ.get(OPEN_DATA_DIR_ENV)
    if configured:
        return Path(configured)
    shared = _CLONE.parent / "shared" / "data"
    if (_CLONE / "pyproject.toml").is_file() and shared.is_dir():
        return shared
    return DEFAULT_OPEN_DATA_DIR


def reference_file(relative: str) -> Path:
    """A published reference file (e.g. 'zfe/schema.json'); ImportFileError if it is missing."""
    path = open_data_dir() / relative
    if not path.is_file():
        raise ImportFileError(
            f"fichier de référence introuvable : {path} (indiquer le dossier avec {OPEN_DATA_DIR_ENV} "
            "ou l'installer avec « cirqliz opendata fetch »)",
            code="reference_missing",
        )
    return path


def packaged_json(name: str) -> Any:
    """A JSON resource of our own shipped in cirqliz/imports/schemas/."""
    return json.loads(resources.files("cirqliz.imports").joinpath("schemas").joinpath(name).read_text("utf-8"))


@lru_cache(maxsize=1)
def geojson_registry() -> Registry:
    """Offline registry resolving the GeoJSON FeatureCollection schema the ZFE schema refers to."""
    feature_collection = packaged_json("geojson-featurecollection.json")
    return Registry().with_resource(feature_collection["$id"], Resource.from_contents(feature_collection))


_SCHEMA_TYPES_FR = {"object": "un objet", "array": "une liste", "string": "un texte", "number": "un nombre",
                    "integer": "un entier", "boolean": "un booléen", "null": "null"}


def _schema_reason(error: jsonschema.ValidationError) -> str:
    """What a JSON Schema keyword refused, in French (jsonschema's messages are English)."""
    keyword, expected = error.validator, error.validator_value
    if keyword == "required":
        missing = re.match(r"'(.{1,60})' is a required property", error.message)
        return f"propriété obligatoire absente : {missing[1]}" if missing else "propriété obligatoire absente"
    if keyword == "type":
        kinds = expected if isinstance(expected, list) else [expected]
        return "type attendu : " + " ou ".join(_SCHEMA_TYPES_FR.get(str(k), str(k)) for k in kinds)
    labels = {
        "enum": "valeur hors de la liste permise", "const": "valeur différente de celle attendue",
        "anyOf": "ne correspond à aucune des formes permises", "oneOf": "ne correspond pas à une seule des formes "
        "permises", "pattern": "format non respecté", "format": "format non respecté",
        "additionalProperties": "propriété non prévue par le schéma", "minItems": f"au moins {expected} élément(s)",
        "maxItems": f"au plus {expected} élément(s)", "minLength": f"au moins {expected} caractère(s)",
        "maxLength": f"au plus {expected} caractère(s)", "minimum": f"valeur minimale {expected}",
        "maximum": f"valeur maximale {expected}", "uniqueItems": "éléments en double",
    }
    return labels.get(str(keyword), "valeur non conforme")


def schema_error_message(error: jsonschema.ValidationError, *, what: str) -> str:
    """French message for a JSON Schema violation, naming the JSON path."""
    path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return f"{what} non conforme au schéma, à {path} : {_schema_reason(error)}"


def derive_code(prefix: str, raw: str) -> str:
    """A zone code (parse_zone_code) derived only from `prefix` and `raw`: same input, same code.

    Accents are dropped and other characters become '-'; codes longer than 32 characters keep
    their start and end with a hash of `raw`.
    """
    ascii_text = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode("ascii").upper()
    body = _CODE_CHARS.sub("-", ascii_text).strip("-_")
    code = f"{prefix}-{body}" if body else prefix
    if len(code) > 32 or not body:
        digest = hashlib.sha256(raw.encode("utf-8")).hexdigest()[:8].upper()
        code = f"{code[:23].rstrip('-_')}-{digest}"
    return parse_zone_code(code)


def local_day_start(day: date, tz: str) -> datetime:
    """Aware UTC instant of local midnight starting `day` in IANA zone `tz`."""
    return datetime.combine(day, time(0, 0), tzinfo=zone_info(tz)).astimezone(UTC)


def local_day_of(instant: datetime, tz: str) -> date:
    """Local date of an aware instant in `tz`."""
    return instant.astimezone(zone_info(tz)).date()


def inclusive_end(day: date, tz: str) -> datetime:
    """Exclusive UTC end of an inclusive last day (local midnight of the next day)."""
    return local_day_start(day + timedelta(days=1), tz)


def buffer_line_m(geometry: shapely.Geometry, metres: float) -> shapely.Geometry:
    """Buffer a WGS84 geometry by `metres` using a local equirectangular projection.

    Good to a few centimetres over the extent of a street; not for regions.
    """
    lon0, lat0 = geometry.centroid.x, geometry.centroid.y
    k = math.pi / 180 * EARTH_RADIUS_M
    cos0 = math.cos(math.radians(lat0))

    def forward(coords: Any) -> Any:
        out = coords.copy()
        out[:, 0] = (coords[:, 0] - lon0) * k * cos0
        out[:, 1] = (coords[:, 1] - lat0) * k
        return out

    def backward(coords: Any) -> Any:
        out = coords.copy()
        out[:, 0] = coords[:, 0] / (k * cos0) + lon0
        out[:, 1] = coords[:, 1] / k + lat0
        return out

    projected = shapely.transform(geometry, forward)
    return shapely.transform(projected.buffer(metres, quad_segs=4), backward)


def zone_geometry(geojson: Any, *, buffer_m: float = DEFAULT_BUFFER_M,
                  allow_lines: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    """A validated 2-D (Multi)Polygon from any GeoJSON geometry, and notes for the record's extra.

    Polygons are checked as they are (Z dropped); points and lines are buffered by `buffer_m`
    metres and the notes say so (`geometry_buffered_from`, `buffer_m`). GeometryError otherwise,
    whatever the content.
    """
    try:
        return _zone_geometry(geojson, buffer_m, allow_lines)
    except GeometryError:
        raise
    except (ValueError, TypeError, AttributeError, IndexError, KeyError, shapely.errors.ShapelyError) as exc:
        raise GeometryError(f"géométrie illisible : {str(exc)[:120]}", code="geometry_unreadable") from exc


def _zone_geometry(geojson: Any, buffer_m: float, allow_lines: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    if not isinstance(geojson, dict):
        raise GeometryError("géométrie absente ou illisible", code="geometry_missing")
    kind = geojson.get("type")
    if kind in ("Polygon", "MultiPolygon"):
        return validate_geometry(_drop_z(geojson)), {}
    if allow_lines and kind in ("LineString", "MultiLineString", "Point", "MultiPoint"):
        try:
            line = shapely.force_2d(shape(geojson))
        except (ValueError, TypeError, AttributeError, IndexError, shapely.errors.ShapelyError) as exc:
            raise GeometryError(f"géométrie illisible : {exc}", code="geometry_unreadable") from exc
        if line.is_empty or not line.is_valid:
            raise GeometryError("géométrie linéaire vide ou invalide", code="geometry_invalid")
        polygon = buffer_line_m(line, buffer_m)
        notes = {"geometry_buffered_from": kind, "buffer_m": buffer_m}
        return validate_geometry(_round(mapping(polygon))), notes
    raise GeometryError(f"géométrie de type {kind!r} non prise en charge", code="geometry_wrong_type")


def _drop_z(geojson: dict[str, Any]) -> dict[str, Any]:
    def strip(value: Any) -> Any:
        if isinstance(value, list | tuple) and value and all(isinstance(v, int | float) for v in value):
            return list(value[:2])
        if isinstance(value, list | tuple):
            return [strip(v) for v in value]
        return value

    return {"type": geojson["type"], "coordinates": strip(geojson.get("coordinates"))}


def _round(geojson: Any, digits: int = 8) -> Any:
    """Round buffered coordinates (about a millimetre) so output is short and stable."""
    if isinstance(geojson, dict):
        return {k: _round(v, digits) for k, v in geojson.items()}
    if isinstance(geojson, list | tuple):
        return [_round(v, digits) for v in geojson]
    if isinstance(geojson, float):
        return round(geojson, digits)
    return geojson


_VALIDITY_FR = (
    ("Ring Self-intersection", "un anneau se recoupe lui-même"),
    ("Self-intersection", "le contour se recoupe"),
    ("Too few points", "trop peu de points"),
    ("Hole lies outside shell", "un trou est hors du contour"),
    ("Nested holes", "trous imbriqués"),
    ("Interior is disconnected", "intérieur coupé en morceaux par un trou"),
    ("Nested shells", "une partie est contenue dans une autre"),
    ("Duplicate Rings", "anneaux en double"),
    ("Invalid Coordinate", "coordonnée invalide"),
    ("Ring is not closed", "anneau non fermé"),
)
_VALIDITY_PLACE = re.compile(r"\[\s*(-?[0-9.eE+-]+)\s+(-?[0-9.eE+-]+)\s*\]")


def explain_invalid_fr(geometry: shapely.Geometry) -> str:
    """Why the geometry engine finds `geometry` invalid, in French, with the place when it gives one
    (its own text, e.g. 'Self-intersection[2.3 48.8]', is English and never shown)."""
    try:
        reason = shapely.is_valid_reason(geometry)
    except shapely.errors.ShapelyError:
        return "géométrie invalide"
    french = next((fr for english, fr in _VALIDITY_FR if reason.startswith(english)), "géométrie invalide")
    if reason.startswith("Self-intersection") and geometry.geom_type.startswith("Multi"):
        french = "des parties se superposent ou un contour se recoupe"
    place = _VALIDITY_PLACE.search(reason)
    if place:
        try:
            lon, lat = float(place[1]), float(place[2])
        except ValueError:
            return french
        if math.isfinite(lon) and math.isfinite(lat):
            return f"{french} près de longitude {lon:.6f}, latitude {lat:.6f}"
    return french


def geometry_error_fr(exc: DomainError, geojson: Any = None) -> str:
    """The French message of a geometry refusal with no engine text in it: an invalid polygon is
    explained again from `geojson` (explain_invalid_fr), an unreadable one gets a fixed message."""
    if exc.code == "geometry_unreadable":
        return "géométrie illisible : les coordonnées ne sont pas des positions [longitude, latitude]"
    if exc.code == "geometry_invalid" and isinstance(geojson, dict) and geojson.get("type") in (
            "Polygon", "MultiPolygon"):
        try:
            geometry = shapely.force_2d(shape(_drop_z(geojson)))
        except (ValueError, TypeError, AttributeError, IndexError, KeyError, shapely.errors.ShapelyError):
            return "géométrie invalide"
        if not geometry.is_valid:
            return f"géométrie invalide : {explain_invalid_fr(geometry)}"
    message = exc.message
    if "(" in message and re.search(r"[A-Z][a-z]+[- ][a-z]|\[[-0-9.]", message):
        return message.split("(", 1)[0].rstrip()  # the engine's English in parentheses
    return message
