"""Reading request bodies: what cannot be read is a 400 with a French message, never a 500.

Litestar decodes JSON bodies with msgspec, which raises RecursionError for deeply nested input
([[[[…]]]] 100 000 levels deep) and answers other decoding errors with its English text. The
application's Request class reads bodies through `json()` below instead.

Form text values (URL-encoded and multipart) with a control character (NUL and the other C0
characters except tab, CR and LF) are refused with a French 400 before any handler sees them:
PostgreSQL cannot store NUL, and none of them belongs in a name, an e-mail address or a note.
Litestar reads forms in two ways, both through this class: `request.form()` (the CSRF middleware,
some handlers) and the `data: Annotated[X, Body(media_type=…)]` extractor, which parses
`request.body()` (URL-encoded) or `request.stream()` (multipart) itself; `body()` and `stream()`
check what they give.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Iterable
from typing import Any

from litestar import Request
from litestar._parsers import parse_url_encoded_form_data
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.exceptions import ClientException, SerializationException
from litestar.serialization import decode_json
from multipart import MultipartSegment, ParserError, ParserLimitReached, PushMultipartParser

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
    if type(value) is dict:
        for item in value.values():
            if isinstance(item, dict | list):
                break
        else:
            return value  # one flat object (an API call's usual body): nothing nests
    if json_too_deep(value):
        raise UnreadableBody(TOO_DEEP)
    return value


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
"""C0 control characters but tab, LF and CR: never in a form's text."""
_SHOWN_NAME = re.compile(r"[\w.\-\[\]]{1,40}")


def _field_label(name: str) -> str:
    """The field's name as shown in the message: only a short, plain name (it is the sender's text)."""
    return f" « {name} »" if _SHOWN_NAME.fullmatch(name) else ""


def forbidden_character(name: str, *, filename: bool = False) -> UnreadableBody:
    """The 400 for a form field (or file name) holding a control character."""
    where = "le nom du fichier du champ" if filename else "le champ"
    return UnreadableBody(f"Données refusées : caractère non autorisé dans {where}{_field_label(name)} "
                          "(caractère de contrôle). Rien n'a été enregistré.")


def check_form_text(fields: Iterable[tuple[str, Any]]) -> None:
    """UnreadableBody (400) when a field's name, text value or file name holds a control character."""
    for name, value in fields:
        if _CONTROL.search(name):
            raise forbidden_character("")
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, str) and _CONTROL.search(item):
                raise forbidden_character(name)
            if isinstance(item, UploadFile) and _CONTROL.search(item.filename or ""):
                raise forbidden_character(name, filename=True)


class _MultipartTextCheck:
    """Follows a multipart body chunk by chunk and checks each text part (and file name) once it is
    complete; files are not kept. A body it cannot parse is left to Litestar's parser to refuse."""

    def __init__(self, boundary: bytes) -> None:
        self._parser: PushMultipartParser | None = PushMultipartParser(boundary)
        self._segment: MultipartSegment | None = None
        self._text = bytearray()

    def feed(self, chunk: bytes) -> None:
        if self._parser is None or self._parser.closed:
            return
        try:
            for part in self._parser.parse(chunk):
                if isinstance(part, MultipartSegment):
                    self._segment, self._text = part, bytearray()
                    if part.filename and _CONTROL.search(part.filename):
                        raise forbidden_character(part.name, filename=True)
                elif part:
                    if self._segment is not None and not self._segment.filename:
                        self._text.extend(part)
                elif self._segment is not None:
                    self._end_of_part(self._segment)
                    self._segment = None
        except (ParserError, ParserLimitReached):
            self._parser = None  # Litestar's own parser says so (400)

    def _end_of_part(self, segment: MultipartSegment) -> None:
        if _CONTROL.search(segment.name):
            raise forbidden_character("")
        if segment.filename:
            return
        try:
            text = self._text.decode(segment.charset or "utf-8")
        except (UnicodeDecodeError, LookupError):
            raise UnreadableBody(f"Données refusées : texte illisible dans le champ{_field_label(segment.name)} "
                                 "(UTF-8 attendu). Rien n'a été enregistré.") from None
        if _CONTROL.search(text):
            raise forbidden_character(segment.name)


class CirqlizRequest(Request):
    """Litestar's Request whose JSON body is read with a depth limit and French errors, and whose
    form text values with a control character are refused (400, French)."""

    async def json(self) -> Any:
        """The decoded JSON body; UnreadableBody (400) when it cannot be read or nests too deep."""
        # Litestar's body() as it is: the form check of body() below has nothing to do for a body
        # read as JSON (form text that is no JSON is refused by the decoder, in French too).
        return decode_json_body(await super().body())

    def _may_be(self, media_type: bytes) -> bool:
        # Whether the raw Content-Type header mentions `media_type`: the header is parsed (and the
        # body checked) only then, not for every JSON body (an API call).
        for name, value in self.scope["headers"]:
            if name == b"content-type":
                return media_type in value.lower()
        return False

    async def body(self) -> bytes:
        """The body; for a URL-encoded form, UnreadableBody (400) when a value holds a control character."""
        body = await super().body()
        if self._may_be(b"urlencoded") and self.content_type[0] == RequestEncodingType.URL_ENCODED:
            check_form_text(parse_url_encoded_form_data(body).items())
        return body

    def stream(self) -> AsyncGenerator[bytes, None]:  # type: ignore[override]
        """The body's chunks; for a multipart form, UnreadableBody (400) as soon as a text part (or a
        file name) holds a control character, before the chunk ending it is given on."""
        if not self._may_be(b"multipart"):
            return super().stream()
        content_type, options = self.content_type
        boundary = options.get("boundary")
        if content_type != RequestEncodingType.MULTI_PART or not boundary:
            # Litestar's own generator as it is: no second generator around every API or form body.
            return super().stream()
        return self._checked_stream(_MultipartTextCheck(boundary.encode("latin-1", "replace")))

    async def _checked_stream(self, check: _MultipartTextCheck) -> AsyncGenerator[bytes, None]:
        async for chunk in super().stream():
            check.feed(chunk)
            yield chunk

    async def form(self) -> Any:
        """The form (URL-encoded or multipart), its text values checked (again: the body may have been
        read before, by another Request on the same connection)."""
        form = await super().form()
        check_form_text(form.multi_items())
        return form
