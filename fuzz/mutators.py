"""Deterministic mutations of seed inputs: byte level (flips, truncation, splicing, tokens) and
structure aware (JSON trees, CSV cells, XML text, iCalendar lines).

Every function takes a `random.Random`, so a campaign with a fixed seed replays exactly.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import re
from collections.abc import Callable, Sequence
from random import Random
from typing import Any

INTERESTING_BYTES = (0x00, 0x01, 0x80, 0xFF, 0x17, 0x18, 0x19, 0x1A, 0x1B, 0x1F, 0x20, 0x3F, 0x40,
                     0x5F, 0x60, 0x7F, 0x9F, 0xA0, 0xBF, 0xC0, 0xD2, 0xF4, 0xF9, 0xFA, 0xFB)
MAX_SIZE = 64 * 1024


def _flip_bit(rng: Random, data: bytearray) -> None:
    if data:
        i = rng.randrange(len(data))
        data[i] ^= 1 << rng.randrange(8)


def _set_byte(rng: Random, data: bytearray) -> None:
    if data:
        data[rng.randrange(len(data))] = rng.choice(INTERESTING_BYTES) if rng.random() < 0.5 else rng.randrange(256)


def _truncate(rng: Random, data: bytearray) -> None:
    if data:
        cut = rng.randrange(len(data))
        if rng.random() < 0.5:
            del data[cut:]
        else:
            del data[:cut]


def _delete(rng: Random, data: bytearray) -> None:
    if data:
        i = rng.randrange(len(data))
        del data[i : i + rng.randint(1, 8)]


def _insert_random(rng: Random, data: bytearray) -> None:
    i = rng.randint(0, len(data))
    data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))


def _duplicate(rng: Random, data: bytearray) -> None:
    if data:
        i = rng.randrange(len(data))
        chunk = data[i : i + rng.randint(1, 32)]
        j = rng.randint(0, len(data))
        data[j:j] = chunk * rng.choice((1, 2, 8, 64))


def _arith(rng: Random, data: bytearray) -> None:
    if data:
        i = rng.randrange(len(data))
        data[i] = (data[i] + rng.choice((-1, 1, -16, 16, 35, -35))) % 256


def _swap(rng: Random, data: bytearray) -> None:
    if len(data) > 1:
        i, j = rng.randrange(len(data)), rng.randrange(len(data))
        data[i], data[j] = data[j], data[i]


BYTE_MUTATIONS: tuple[Callable[[Random, bytearray], None], ...] = (
    _flip_bit, _set_byte, _truncate, _delete, _insert_random, _duplicate, _arith, _swap,
)


def mutate_bytes(rng: Random, data: bytes, corpus: Sequence[bytes], tokens: Sequence[bytes] = ()) -> bytes:
    """One to four byte-level mutations of `data`; splicing takes material from another seed."""
    out = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
        choice = rng.random()
        if tokens and choice < 0.2:
            token = rng.choice(tokens)
            i = rng.randint(0, len(out))
            if rng.random() < 0.5:
                out[i:i] = token
            else:
                out[i : i + len(token)] = token
        elif corpus and choice < 0.3:
            other = rng.choice(corpus)
            if other:
                i, j = rng.randint(0, len(out)), rng.randrange(len(other))
                out[i:] = other[j : j + rng.randint(1, len(other))]
        else:
            rng.choice(BYTE_MUTATIONS)(rng, out)
    return bytes(out[:MAX_SIZE])


# ---- JSON ---------------------------------------------------------------------------------------

_JSON_ODDITIES: tuple[Any, ...] = (
    None, True, False, 0, -1, 1.5, 1e308, -1e308, 2**64, "", "\ud800", "x" * 300, "2024/02/30 25:00:00.000",
    "2024/03/31 02:30:00.000", "9999-12-31", "0000-01-01", "Mo-Fr 07:00-11:00", "24/7", "PH off", "Feature",
    "Polygon", "MultiPolygon", "LineString", "Point", [], {}, [[]], [0, 0], [[0, 0], [1, 1]], {"type": "Polygon"},
    [[[0, 0], [1, 0], [1, 1], [0, 0]]], [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]], float("nan"),
    [[[2.35, 48.85], [2.36, 48.85], [2.36, 48.86], [2.35, 48.85]]], [181, 91], "EL", "V5", "NC",
)


def _json_paths(node: Any, path: tuple = ()) -> list[tuple]:
    out = [path]
    if len(path) > 24:
        return out
    if isinstance(node, dict):
        for key, value in node.items():
            out.extend(_json_paths(value, (*path, key)))
    elif isinstance(node, list):
        for i, value in enumerate(node[:50]):
            out.extend(_json_paths(value, (*path, i)))
    return out


def _get(node: Any, path: tuple) -> Any:
    for key in path:
        node = node[key]
    return node


def _oddity(rng: Random) -> Any:
    # A copy: the document is mutated in place afterwards, and the shared values must stay as written
    # (a campaign replays input for input, and a value that came to contain itself would loop).
    return copy.deepcopy(rng.choice(_JSON_ODDITIES))


def mutate_json_tree(rng: Random, document: Any) -> Any:
    """Replace, delete, duplicate or retype one node of a decoded JSON document (in place)."""
    paths = _json_paths(document)
    path = rng.choice(paths)
    if not path:
        return _oddity(rng) if rng.randrange(len(_JSON_ODDITIES) + 1) else document  # the root itself
    parent, key = _get(document, path[:-1]), path[-1]
    action = rng.random()
    if action < 0.45:
        parent[key] = _oddity(rng)
    elif action < 0.6:
        del parent[key]
    elif action < 0.7 and isinstance(parent, list):
        parent.insert(key, parent[key])
    elif action < 0.8:
        value = parent[key]
        parent[key] = [value] if rng.random() < 0.5 else {"type": value}
    elif action < 0.9 and isinstance(parent[key], int | float) and not isinstance(parent[key], bool):
        number = parent[key]
        nudged = number + 1e-9 if abs(number) < 1e300 else number * 10  # huge ints have no float
        parent[key] = rng.choice((number * 1000, -number, nudged, str(number)))
    elif isinstance(parent, dict):
        parent[rng.choice(("type", "properties", "geometry", "coordinates", "features", "id", "x"))] = parent[key]
    return document


def mutate_json(rng: Random, data: bytes, corpus: Sequence[bytes], tokens: Sequence[bytes] = ()) -> bytes:
    """Mostly tree mutations of a JSON seed (kept valid JSON), sometimes raw byte mutations."""
    if rng.random() < 0.25:
        return mutate_bytes(rng, data, corpus, tokens)
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        return mutate_bytes(rng, data, corpus, tokens)
    for _ in range(rng.choice((1, 1, 2, 3))):
        document = mutate_json_tree(rng, document)
    if rng.random() < 0.03:
        document = {"type": "FeatureCollection", "features": [{"nest": _deep(rng.randint(100, 3000))}]}
    try:
        text = json.dumps(document, ensure_ascii=rng.random() < 0.5, allow_nan=True)
    except (ValueError, RecursionError):
        return data
    return text.encode("utf-8", "surrogatepass")[:MAX_SIZE]


def _deep(depth: int) -> Any:
    node: Any = 0
    for _ in range(depth):
        node = [node]
    return node


# ---- CSV ----------------------------------------------------------------------------------------

_CELL_ODDITIES = ("", " ", "0", "-1", "²", "١٢", "1e400", "nan", "inf", "2024-02-30", "9999-99-99", "AB-123-CD",
                  "Mo-Fr 07:00-11:00", "Lu-Ve 25:00-11:00", "PH off", "24/7", "POLYGON((0 0,1 0,1 1,0 0))",
                  "LINESTRING(2.35 48.85, 2.36 48.86)", "POINT(2 48)", "POLYGON((0 0,1 1,1 0,0 1,0 0))",
                  "\"", "a\nb", "x" * 300, "Interdit", "Autorise", "jusqu'à", "N1", "L3e", "V5", "\x00", "\ud800",
                  "1|2|3", "ZONE-A+ZONE-B", "1 000", "3.5", "3,5")


def mutate_csv(rng: Random, data: bytes, corpus: Sequence[bytes], tokens: Sequence[bytes] = ()) -> bytes:
    """Change cells, rows or columns of a CSV seed (delimiter kept), sometimes raw bytes."""
    if rng.random() < 0.25:
        return mutate_bytes(rng, data, corpus, tokens)
    text = data.decode("utf-8", "replace")
    first = text.splitlines()[0] if text.strip() else ""
    delimiter = ";" if first.count(";") >= first.count(",") else ","
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    if not rows:
        return mutate_bytes(rng, data, corpus, tokens)
    for _ in range(rng.choice((1, 1, 2, 3))):
        r = rng.randrange(len(rows))
        row = rows[r]
        action = rng.random()
        if action < 0.55 and row:
            c = rng.randrange(len(row))
            row[c] = rng.choice(_CELL_ODDITIES) if rng.random() < 0.7 else mutate_bytes(
                rng, row[c].encode("utf-8", "surrogatepass"), ()).decode("utf-8", "replace")
        elif action < 0.65 and row:
            del row[rng.randrange(len(row))]
        elif action < 0.75:
            row.append(rng.choice(_CELL_ODDITIES))
        elif action < 0.85:
            rows.insert(r, list(row))
        elif action < 0.9 and len(rows) > 1:
            del rows[r]
        else:
            rows.append([rng.choice(_CELL_ODDITIES) for _ in range(len(rows[0]))])
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator=rng.choice(("\r\n", "\n"))).writerows(rows)
    return out.getvalue().encode("utf-8", "surrogatepass")[:MAX_SIZE]


# ---- XML and iCalendar (line and text oriented) -------------------------------------------------

_TEXT_NODE = re.compile(rb">([^<>]+)<")
_XML_ODDITIES = (b"", b"-1", b"abc", b"2024-13-45T25:61:00", b"9999-12-31T23:59:59Z", b"0001-01-01T00:00:00",
                 b"48.8 2.3 48.9", b"1 2 3 4 5", b"nan nan nan nan", b"1e999 0 0 1e999", b"{\"type\":\"Point\"}",
                 b"{\"type\":\"LineString\",\"coordinates\":[[2.35,48.85],[2.35,48.85]]}", b"monday", b"true",
                 b"24:00:00", b"23:59:59", b"&amp;", b"]]>", b"\xff\xfe")


def mutate_xml(rng: Random, data: bytes, corpus: Sequence[bytes], tokens: Sequence[bytes] = ()) -> bytes:
    """Replace element text (stays well formed), or duplicate/drop an element line; sometimes raw bytes."""
    if rng.random() < 0.3:
        return mutate_bytes(rng, data, corpus, tokens)
    out = data
    for _ in range(rng.choice((1, 1, 2))):
        if rng.random() < 0.7:
            nodes = list(_TEXT_NODE.finditer(out))
            if nodes:
                node = rng.choice(nodes)
                value = rng.choice(_XML_ODDITIES) if rng.random() < 0.7 else mutate_bytes(rng, node.group(1), ())
                value = value.replace(b"<", b"&lt;").replace(b">", b"&gt;")
                out = out[: node.start(1)] + value + out[node.end(1) :]
        else:
            lines = out.split(b"\n")
            i = rng.randrange(len(lines))
            if rng.random() < 0.5:
                lines.insert(i, lines[i])
            else:
                del lines[i]
            out = b"\n".join(lines)
    return out[:MAX_SIZE]


_ICAL_LINES = (b"RRULE:FREQ=SECONDLY;COUNT=100000", b"RRULE:FREQ=DAILY;INTERVAL=0", b"RRULE:FREQ=WEEKLY;BYDAY=XX",
               b"RRULE:FREQ=YEARLY;BYMONTH=13", b"RRULE:FREQ=MINUTELY;UNTIL=20991231T000000Z",
               b"DTSTART:99991231T235959Z", b"DTSTART:00010101T000000", b"DTSTART;VALUE=DATE:20240230",
               b"DTEND:20200101T000000Z", b"DTSTART;TZID=Mars/Olympus:20240907T070000", b"DURATION:-P1D",
               b"DURATION:P99999999D", b"EXDATE:garbage", b"RDATE:20240907T070000Z,bad", b"GEO:91;181",
               b"GEO:abc", b"UID:", b"UID:x", b"RECURRENCE-ID:20240914T070000", b"X-CIRQLIZ-ZONE:\xc3\xa9",
               b"BEGIN:VEVENT", b"END:VEVENT", b"END:VCALENDAR", b"BEGIN:VTIMEZONE", b"LOCATION:PARIS-CENTRE",
               b" folded continuation", b"SUMMARY;LANGUAGE=fr:March\xc3\xa9", b"DTSTART:20240907T070000Z")


def mutate_lines(rng: Random, data: bytes, corpus: Sequence[bytes], tokens: Sequence[bytes] = ()) -> bytes:
    """Insert, replace, drop or duplicate content lines (iCalendar), sometimes raw bytes."""
    if rng.random() < 0.3:
        return mutate_bytes(rng, data, corpus, tokens)
    newline = b"\r\n" if b"\r\n" in data else b"\n"
    lines = data.split(newline)
    for _ in range(rng.choice((1, 1, 2, 3))):
        i = rng.randrange(len(lines))
        action = rng.random()
        if action < 0.4:
            lines.insert(i, rng.choice(_ICAL_LINES))
        elif action < 0.6:
            name, _, value = lines[i].partition(b":")
            lines[i] = name + b":" + (mutate_bytes(rng, value, ()) if value else rng.choice(_ICAL_LINES))
        elif action < 0.8:
            lines[i] = rng.choice(_ICAL_LINES)
        elif action < 0.9 and len(lines) > 1:
            del lines[i]
        else:
            lines.insert(i, lines[i])
    return newline.join(lines)[:MAX_SIZE]
