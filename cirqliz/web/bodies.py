"""Reading JSON request bodies: what cannot be read is a 400 with a French message, never a 500.

Litestar decodes JSON bodies with msgspec, which raises RecursionError for deeply nested input
([[[[…]]]] 100 000 levels deep) and answers other decoding errors with its English text. The
application's Request class reads bodies through `json()` below instead.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Request
from litestar.exceptions import ClientException, SerializationException
from litestar.serialization import decode_json

from cirqliz.imports.common import MAX_JSON_DEPTH, json_too_deep

TOO_DEEP = f"Corps de requête refusé : JSON trop profondément imbriqué ({MAX_JSON_DEPTH} niveaux au plus)."


class UnreadableBody(ClientException):
    """A request body that is not JSON the application can read (400, French detail)."""


def unreadable_json(reason: str) -> UnreadableBody:
    """The 400 for a JSON body that cannot be decoded, with the decoder's reason in French."""
    return UnreadableBody(f"Corps de requête illisible : {reason}.")


def _decode_reason(exc: BaseException) -> str:
    text = str(exc)
    if "out of range" in text:
        return "nombre hors limites (trop grand ou trop petit)"
    if "truncated" in text:
        return "JSON incomplet"
    position = re.search(r"byte (\d+)", text)
    where = f" (octet {position[1]})" if position else ""
    return f"ce n'est pas du JSON valide{where}"


def decode_json_body(body: bytes) -> Any:
    """A request body decoded as the application does it (Litestar's decoder, the depth limit);
    UnreadableBody (400, French) when it cannot be read."""
    try:
        value = decode_json(body or b"null")
    except RecursionError as exc:
        raise UnreadableBody(TOO_DEEP) from exc
    except SerializationException as exc:
        raise unreadable_json(_decode_reason(exc)) from exc
    if json_too_deep(value):
        raise UnreadableBody(TOO_DEEP)
    return value


class CirqlizRequest(Request):
    """Litestar's Request whose JSON body is read with a depth limit and French errors."""

    async def json(self) -> Any:
        """The decoded JSON body; UnreadableBody (400) when it cannot be read or nests too deep."""
        return decode_json_body(await self.body())
